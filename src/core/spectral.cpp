// foldopt: spectral estimates with SLEPc (see include/foldopt/spectral.hpp).
//
// Method: ρ(Φ) is |λ| of the eigenvalue of largest magnitude of the Φᵀ shell (Krylov–Schur on a
//   non-Hermitian problem, one eigenpair, loose relative tolerance). Its uncertainty is the
//   residual norm ‖Φᵀv − λv‖₂ of the computed pair, a bound on the eigenvalue error for normal
//   operators (PGD's Φ is similar to a symmetric matrix on the free set).
//   The stepsize operator is symmetric: its extreme eigenvalues come from two Hermitian solves
//   (largest and smallest real) with the convergence test relative to the operator's norm, which
//   is the accuracy α = 2/(λmin + λmax) needs. λmax is raised by its residual bound (a rigorous
//   bound for Hermitian problems) so that α never exceeds 2/λmax.
// References: Y. Saad, Numerical Methods for Large Eigenvalue Problems (2011), §3.2 (residual
//   bounds); SLEPc users manual, EPS.
#include <foldopt/spectral.hpp>

#include <foldopt/error.hpp>

#include "core/util.hpp"

#include <slepceps.h>

#include <cmath>

namespace foldopt {

namespace {
using OwnedEPS = Owned<EPS, EPSDestroy>;

/// An EPS on `A` with options prefix `prefix` (options are read by the caller, after its defaults).
OwnedEPS create_eps(Mat A, const std::string& prefix, EPSProblemType type) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &comm));
  OwnedEPS eps;
  FOLDOPT_CALL(EPSCreate(comm, eps.out()));
  FOLDOPT_CALL(EPSSetOptionsPrefix(eps, prefix.c_str()));
  FOLDOPT_CALL(EPSSetOperators(eps, A, nullptr));
  FOLDOPT_CALL(EPSSetProblemType(eps, type));
  return eps;
}
}  // namespace

void RhoEstimate::predicted_lfpi(PetscReal rtol, PetscReal* low, PetscReal* high) const {
  const PetscReal lo_rho = std::max<PetscReal>(rho - error, 0), hi_rho = rho + error;
  *low = lo_rho > 0 ? std::log(rtol) / std::log(lo_rho) : 1;
  *high = hi_rho < 1 ? std::log(rtol) / std::log(hi_rho) : -1;
  if (*low < 1) *low = 1;
}

RhoEstimate estimate_rho(Mat phi_t, const std::string& prefix, const PetscInt* products) {
  RhoEstimate r;
  const double t0 = wall_time();
  const PetscInt p0 = products ? *products : 0;
  OwnedEPS eps = create_eps(phi_t, prefix, EPS_NHEP);
  FOLDOPT_CALL(EPSSetWhichEigenpairs(eps, EPS_LARGEST_MAGNITUDE));
  FOLDOPT_CALL(EPSSetDimensions(eps, 1, PETSC_DEFAULT, PETSC_DEFAULT));
  FOLDOPT_CALL(EPSSetTolerances(eps, 1e-3, 1000));  // cheap; -fold_rho_eps_tol narrows the range
  FOLDOPT_CALL(EPSSetFromOptions(eps));
  FOLDOPT_CALL(EPSSolve(eps));
  PetscInt nconv = 0, maxit;
  FOLDOPT_CALL(EPSGetConverged(eps, &nconv));
  FOLDOPT_CALL(EPSGetIterationNumber(eps, &r.iterations));
  FOLDOPT_CALL(EPSGetTolerances(eps, &r.tol, &maxit));
  if (nconv > 0) {
    PetscScalar kr, ki;
    FOLDOPT_CALL(EPSGetEigenvalue(eps, 0, &kr, &ki));
    r.rho = std::hypot(PetscRealPart(kr), PetscRealPart(ki));
    FOLDOPT_CALL(EPSComputeError(eps, 0, EPS_ERROR_ABSOLUTE, &r.error));
    r.converged = true;
  }
  r.products = products ? *products - p0 : 0;
  r.seconds = wall_time() - t0;
  return r;
}

ExtremeEigenvalues extreme_eigenvalues(Mat sym, const std::string& prefix) {
  ExtremeEigenvalues e;
  const double t0 = wall_time();
  OwnedEPS eps = create_eps(sym, prefix, EPS_HEP);
  FOLDOPT_CALL(EPSSetDimensions(eps, 1, PETSC_DEFAULT, PETSC_DEFAULT));
  FOLDOPT_CALL(EPSSetTolerances(eps, 1e-4, 10000));
  FOLDOPT_CALL(EPSSetConvergenceTest(eps, EPS_CONV_NORM));
  FOLDOPT_CALL(EPSSetFromOptions(eps));
  PetscInt maxit;
  FOLDOPT_CALL(EPSGetTolerances(eps, &e.tol, &maxit));
  for (int end = 0; end < 2; ++end) {
    FOLDOPT_CALL(EPSSetWhichEigenpairs(eps, end == 0 ? EPS_LARGEST_REAL : EPS_SMALLEST_REAL));
    FOLDOPT_CALL(EPSSolve(eps));
    PetscInt nconv = 0;
    FOLDOPT_CALL(EPSGetConverged(eps, &nconv));
    FOLDOPT_CHECK(nconv > 0, PETSC_ERR_NOT_CONVERGED,
                  "stepsize: SLEPc did not find the %s eigenvalue of the stepsize operator within %" PetscInt_FMT
                  " iterations at tolerance %g (raise -%seps_max_it or -%seps_tol)",
                  end == 0 ? "largest" : "smallest", maxit, (double)e.tol, prefix.c_str(), prefix.c_str());
    PetscScalar k;
    PetscReal err;
    FOLDOPT_CALL(EPSGetEigenvalue(eps, 0, &k, nullptr));
    FOLDOPT_CALL(EPSComputeError(eps, 0, EPS_ERROR_ABSOLUTE, &err));
    if (end == 0) {
      e.lmax = PetscRealPart(k);
      e.err_max = err;
    } else {
      e.lmin = PetscRealPart(k);
      e.err_min = err;
    }
  }
  e.seconds = wall_time() - t0;
  return e;
}

void view(const RhoEstimate& e, PetscReal rtol, PetscViewer viewer) {
  if (!e.converged) {
    PetscViewerASCIIPrintf(viewer, "rho(Phi): SLEPc did not converge (tolerance %.1e, %" PetscInt_FMT " restarts, %.3f s)\n",
                           (double)e.tol, e.iterations, e.seconds);
    return;
  }
  PetscReal lo, hi;
  e.predicted_lfpi(rtol, &lo, &hi);
  PetscViewerASCIIPrintf(viewer, "rho(Phi) = %.8f +- %.1e (EPS tolerance %.1e, %" PetscInt_FMT " products, %.3f s)\n",
                         (double)e.rho, (double)e.error, (double)e.tol, e.products, e.seconds);
  if (hi < 0)
    PetscViewerASCIIPrintf(viewer, "  LFPI to rtol %.0e: at least %.0f iterations, possibly no convergence (rho + error >= 1)\n",
                           (double)rtol, (double)std::ceil(lo));
  else
    PetscViewerASCIIPrintf(viewer, "  LFPI to rtol %.0e: predicted %.0f to %.0f iterations\n", (double)rtol,
                           (double)std::ceil(lo), (double)std::ceil(hi));
}

}  // namespace foldopt
