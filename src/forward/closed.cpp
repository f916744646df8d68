// foldopt: the `closed` forward solver.
//
// Method: x* from the problem's own closed-form solution, Problem::closed_form(θ, x, why) (e.g.
//   qp_box with a diagonal H: x* = clamp(q ./ diag H, lb, ub)); no iterations.
// Algorithm: at set-up the problem is asked for its closed form at its own parameters, so a problem
//   without one is refused before any forward; a solve for which the problem declines is an error
//   naming what is missing. The report has 0 iterations, reason "closed form" and residual 0.
// References: none (the closed forms are the problems' own; see each problem's header).
#include "forward/closed.hpp"

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include "core/util.hpp"

namespace foldopt {

ClosedForward::ClosedForward(const ForwardContext& ctx) : ctx_(ctx) {
  FOLDOPT_CHECK(ctx.problem != nullptr, PETSC_ERR_ARG_WRONG,
                "forward solver 'closed' needs a Problem with a closed-form solution; a layer over a bare map can use "
                "'snes' or a callback");
}

void ClosedForward::set_from_options() {
  OwnedVec x = ctx_.problem->create_vec();
  std::string why;
  const bool ok = ctx_.problem->closed_form(ctx_.problem->params(), x, &why);
  FOLDOPT_CHECK(ok, PETSC_ERR_ARG_INCOMP, "forward solver 'closed': %s", why.c_str());
}

ForwardReport ClosedForward::solve(const ParamSet& theta, Vec x) {
  ForwardReport rep;
  const double t0 = wall_time();
  std::string why;
  const bool ok = ctx_.problem->closed_form(theta, x, &why);
  FOLDOPT_CHECK(ok, PETSC_ERR_ARG_INCOMP, "forward solver 'closed': %s", why.c_str());
  rep.solver = "closed " + ctx_.problem->type();
  rep.converged = true;
  rep.iterations = 0;
  rep.reason = "closed form";
  rep.residual = 0;
  rep.seconds = wall_time() - t0;
  return rep;
}

}  // namespace foldopt
