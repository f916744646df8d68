// foldopt: spectral estimates with SLEPc.
//
// Two distinct uses, each with its own EPS and options prefix:
//  * ρ(Φ), the spectral radius of the map's Jacobian, from an EPS on the Φᵀ shell (eigenvalues of
//    Φᵀ are those of Φ), prefix `fold_rho_`. Cheap by default (Krylov–Schur, tolerance 1e-3;
//    -fold_rho_eps_tol 1e-5 narrows the range at several times the cost). It predicts the
//    iterations of LFPI, k = log(rtol)/log ρ, given as a range from the estimate's residual bound.
//  * the extreme eigenvalues of the symmetric operator that governs a map's stepsize (PGD on a
//    quadratic: the Hessian restricted to the free set), prefix `fold_stepsize_`, which gives the
//    stepsize α = 2/(λmin + λmax) that minimizes ρ(Φ) = max |1 − αλ|.
#ifndef FOLDOPT_SPECTRAL_HPP
#define FOLDOPT_SPECTRAL_HPP

#include <foldopt/handle.hpp>

#include <petscviewer.h>

#include <string>

namespace foldopt {

struct RhoEstimate {
  bool converged = false;
  PetscReal rho = 0;        ///< |λ| of the eigenvalue of largest magnitude found
  PetscReal error = 0;      ///< residual bound ‖Φᵀv − λv‖₂ (‖v‖₂ = 1) on |λ|
  PetscReal tol = 0;        ///< EPS tolerance used
  PetscInt iterations = 0;  ///< EPS restarts
  PetscInt products = 0;    ///< Φᵀ products spent
  double seconds = 0;
  /// LFPI iterations to reduce the residual by `rtol` predicted from ρ ∓ error; `high` < 0 means
  /// unbounded (ρ + error ≥ 1: LFPI may not converge).
  void predicted_lfpi(PetscReal rtol, PetscReal* low, PetscReal* high) const;
};

struct ExtremeEigenvalues {
  PetscReal lmin = 0, lmax = 0;      ///< smallest and largest eigenvalue
  PetscReal err_min = 0, err_max = 0;///< residual bounds
  PetscReal tol = 0;
  double seconds = 0;
};

/// ρ of the operator `phi_t` (a Φᵀ shell) by SLEPc; options under `prefix` (default fold_rho_).
/// `products` is the operator's product counter read before and after (may be null).
RhoEstimate estimate_rho(Mat phi_t, const std::string& prefix = "fold_rho_",
                         const PetscInt* products = nullptr);

/// Extreme eigenvalues of a symmetric operator by SLEPc; options under `prefix`.
ExtremeEigenvalues extreme_eigenvalues(Mat sym, const std::string& prefix = "fold_stepsize_");

void view(const RhoEstimate& e, PetscReal rtol, PetscViewer viewer);

}  // namespace foldopt

#endif  // FOLDOPT_SPECTRAL_HPP
