// foldopt: the `fista` forward solver (FISTA, or FDPG on a dual map).
//
// Method: Nesterov's momentum on any update map U with a stepsize (a proximal-gradient step):
//     x_{k+1} = U(y_k; θ),   t_{k+1} = (1 + √(1 + 4 t_k²)) / 2,
//     y_{k+1} = x_{k+1} + ((t_k − 1)/t_{k+1}) (x_{k+1} − x_k).
//   On TV's dual proximal-gradient map this is FDPG. Only the fixed point is used: the map folded
//   for the backward is the plain step (a map with momentum is never folded).
// Algorithm: adaptive restart on the gradient test (momentum reset, t = 1, y = x, when
//   ⟨y_k − x_{k+1}, x_{k+1} − x_k⟩ > 0), so that strongly convex regions converge linearly.
//   Stops when the gradient mapping at y_k, ‖y_k − U(y_k)‖∞ / (α max(1, ‖x_{k+1}‖∞)) with α the map's
//   fixed_point_scale(), is below -fold_fwd_fista_tol (default 1e-12), confirmed by the
//   fixed-point residual at the returned x itself (one more step) before returning: the layer's
//   check measures the same quantity. Non-convergence within -fold_fwd_fista_max_it is an error.
// References: A. Beck, M. Teboulle, SIAM J. Imaging Sci. 2 (2009) 183–202 (FISTA);
//   A. Beck, M. Teboulle, Oper. Res. Lett. 42 (2014) 1–6 (FDPG, the dual of TV);
//   B. O'Donoghue, E. Candès, Found. Comput. Math. 15 (2015) 715–732 (adaptive restart).
#include "forward/fista.hpp"

#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/options.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cmath>

namespace foldopt {

FistaForward::FistaForward(const ForwardContext& ctx) : ctx_(ctx) {
  FOLDOPT_CHECK(ctx.map != nullptr, PETSC_ERR_ARG_WRONG, "forward solver 'fista' needs an update map");
}

namespace {
PetscErrorCode read_fista_options(MPI_Comm comm, const char* prefix, PetscReal* tol, PetscInt* max_it, PetscBool* restart,
                                  PetscBool* monitor) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "FISTA forward solver", "FistaForward");
  PetscCall(PetscOptionsReal("-fista_tol", "Stop when ||y - U(y)||_inf / (alpha max(1, ||x||_inf)) is below this", "FistaForward",
                             *tol, tol, nullptr));
  PetscCall(PetscOptionsInt("-fista_max_it", "Largest number of iterations", "FistaForward", *max_it, max_it, nullptr));
  PetscCall(PetscOptionsBool("-fista_restart", "Adaptive (gradient) restart of the momentum", "FistaForward", *restart,
                             restart, nullptr));
  PetscCall(PetscOptionsBool("-fista_monitor", "Print the fixed-point residual of each iteration", "FistaForward", *monitor,
                             monitor, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

void FistaForward::set_from_options() {
  const char* pre = ctx_.prefix.c_str();
  options::check_real(pre, "fista_tol", 0, 1, true, true);
  options::check_int(pre, "fista_max_it", 1, PETSC_MAX_INT);
  options::check_bool(pre, "fista_restart");
  options::check_bool(pre, "fista_monitor");
  FOLDOPT_CALL(read_fista_options(ctx_.comm, pre, &tol_, &max_it_, &restart_, &monitor_));
}

ForwardReport FistaForward::solve(const ParamSet& theta, Vec x) {
  UpdateMap& U = *ctx_.map;
  FOLDOPT_CHECK(U.stepsize() > 0, PETSC_ERR_ARG_WRONG,
                "forward solver 'fista' needs a proximal-gradient map (a stepsize); update map '%s' has none", U.type().c_str());
  ForwardReport rep;
  rep.solver = "fista";
  const double t0 = wall_time();
  OwnedVec y = U.create_vec(), xn = U.create_vec(), d = U.create_vec();
  FOLDOPT_CALL(VecCopy(x, y));
  PetscReal t = 1, res = INFINITY;
  restarts_ = 0;
  auto scaled = [&](Vec a, Vec b, Vec at) {  // ‖a − b‖∞ / (α max(1, ‖at‖∞))
    FOLDOPT_CALL(VecWAXPY(d, -1.0, b, a));
    PetscReal r, xa;
    FOLDOPT_CALL(VecNorm(d, NORM_INFINITY, &r));
    FOLDOPT_CALL(VecNorm(at, NORM_INFINITY, &xa));
    return r / (U.fixed_point_scale() * std::max<PetscReal>(1, xa));
  };
  PetscInt k = 0;
  for (; k < max_it_; ++k) {
    U.apply(y, theta, xn);
    res = scaled(y, xn, xn);
    if (!std::isfinite(res)) break;
    if (res <= tol_) {
      // Confirm at the point returned: one plain step from x_{k+1}.
      U.apply(xn, theta, d);
      FOLDOPT_CALL(VecAYPX(d, -1.0, xn));
      PetscReal r, xa;
      FOLDOPT_CALL(VecNorm(d, NORM_INFINITY, &r));
      FOLDOPT_CALL(VecNorm(xn, NORM_INFINITY, &xa));
      const PetscReal confirmed = r / (U.fixed_point_scale() * std::max<PetscReal>(1, xa));
      if (confirmed <= tol_) {
        res = confirmed;
        FOLDOPT_CALL(VecCopy(xn, x));
        ++k;
        rep.converged = true;
        break;
      }
    }
    // Gradient restart test ⟨y − x_{k+1}, x_{k+1} − x_k⟩ > 0 (x holds x_k).
    PetscScalar s1, s2;
    FOLDOPT_CALL(VecWAXPY(d, -1.0, x, xn));  // d = x_{k+1} − x_k
    FOLDOPT_CALL(VecDot(y, d, &s1));
    FOLDOPT_CALL(VecDot(xn, d, &s2));
    const bool restart = restart_ && PetscRealPart(s1 - s2) > 0;
    if (restart) {
      t = 1;
      ++restarts_;
      FOLDOPT_CALL(VecCopy(xn, y));
    } else {
      const PetscReal tn = 0.5 * (1 + std::sqrt(1 + 4 * t * t));
      FOLDOPT_CALL(VecWAXPY(y, (t - 1) / tn, d, xn));  // y = x_{k+1} + ((t − 1)/t_{k+1}) d
      t = tn;
    }
    FOLDOPT_CALL(VecCopy(xn, x));
    if (monitor_)
      FOLDOPT_CALL(PetscPrintf(ctx_.comm, "  fista %" PetscInt_FMT ": fixed-point residual %.3e%s\n", k, (double)res,
                               restart ? " (restart)" : ""));
  }
  rep.iterations = k;
  rep.residual = res;
  rep.reason = rep.converged ? detail::format("CONVERGED (%" PetscInt_FMT " restarts)", restarts_)
                             : (std::isfinite(res) ? "DIVERGED_MAX_IT" : "DIVERGED_NANORINF");
  rep.seconds = wall_time() - t0;
  FOLDOPT_CHECK(rep.converged, PETSC_ERR_NOT_CONVERGED,
                "forward solver fista did not converge: %s after %" PetscInt_FMT
                " iterations, fixed-point residual %.3e (-%sfista_tol %.1e, -%sfista_max_it %" PetscInt_FMT ")",
                rep.reason.c_str(), rep.iterations, (double)res, ctx_.prefix.c_str(), (double)tol_, ctx_.prefix.c_str(),
                max_it_);
  return rep;
}

void FistaForward::view(PetscViewer viewer) const {
  PetscViewerASCIIPrintf(viewer, "forward solver: fista (tolerance %.1e, restart %s, %" PetscInt_FMT " restarts last solve)\n",
                         (double)tol_, restart_ ? "on" : "off", restarts_);
}

}  // namespace foldopt
