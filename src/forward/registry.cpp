// foldopt: the registry of forward solvers and the `callback` solver.
//
// Adding a forward solver is adding its file and one line in register_builtin_forward().
#include <foldopt/forward.hpp>

#include <foldopt/error.hpp>

#include "core/util.hpp"
#include "forward/bilinear_global.hpp"
#include "forward/admm.hpp"
#include "forward/closed.hpp"
#include "forward/fista.hpp"
#include "forward/ipopt/ipopt_forward.hpp"
#include "forward/snes.hpp"
#include "forward/tao.hpp"

namespace foldopt {

void ForwardSolver::view(PetscViewer viewer) const {
  PetscViewerASCIIPrintf(viewer, "forward solver: %s\n", type().c_str());
}

Multipliers ForwardSolver::multipliers() const {
  detail::throw_error(PETSC_ERR_SUP, "forward solver '" + type() + "' gives no Lagrange multipliers");
}

ForwardReport CallbackForward::solve(const ParamSet& theta, Vec x) {
  FOLDOPT_CHECK(static_cast<bool>(f_), PETSC_ERR_ORDER,
                "forward solver 'callback' has no function: give one with FoldedLayer::set_forward_callback");
  ForwardReport rep;
  rep.solver = "callback";
  rep.converged = true;
  rep.reason = "returned";
  const double t0 = wall_time();
  f_(theta, x, rep);
  rep.seconds = wall_time() - t0;
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)x, &comm));
  check_collective(comm, rep.converged, PETSC_ERR_NOT_CONVERGED, "forward callback reports failure: " + rep.reason);
  return rep;
}

namespace {
void register_builtin_forward(ForwardRegistry& r) {
  r.add("snes", [](const ForwardContext& c) { return std::unique_ptr<ForwardSolver>(new SnesForward(c)); });
  r.add("callback", [](const ForwardContext&) { return std::unique_ptr<ForwardSolver>(new CallbackForward()); });
  r.add("ipopt", [](const ForwardContext& c) { return make_ipopt_forward(c); });
  r.add("tao", [](const ForwardContext& c) { return std::unique_ptr<ForwardSolver>(new TaoForward(c)); });
  r.add("closed", [](const ForwardContext& c) { return std::unique_ptr<ForwardSolver>(new ClosedForward(c)); });
  r.add("admm", [](const ForwardContext& c) { return std::unique_ptr<ForwardSolver>(new AdmmForward(c)); });
  r.add("fista", [](const ForwardContext& c) { return std::unique_ptr<ForwardSolver>(new FistaForward(c)); });
  r.add("bilinear_global", [](const ForwardContext& c) { return std::unique_ptr<ForwardSolver>(new BilinearGlobalForward(c)); });
}
}  // namespace

ForwardRegistry& forward_registry() {
  static ForwardRegistry r = [] {
    ForwardRegistry reg;
    register_builtin_forward(reg);
    return reg;
  }();
  return r;
}

}  // namespace foldopt
