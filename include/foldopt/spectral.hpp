// foldopt: spectral estimates with SLEPc.
//
// Two distinct uses, each with its own EPS and options prefix:
//  * ρ(Φ), the spectral radius of the map's Jacobian, from an EPS on the Φᵀ shell (eigenvalues of
//    Φᵀ are those of Φ), prefix `fold_rho_`. Cheap by default (Krylov–Schur, tolerance 1e-3;
//    -fold_rho_eps_tol 1e-5 narrows the range at several times the cost). It predicts the
//    iterations of LFPI, k = log(rtol)/log ρ, given as a range from the estimate's residual bound.
//    Where the map has a stepsize operator S (Φ = I − αS on the free set), ρ comes cheaper from
//    K Lanczos steps on S (-fold_rho_type lanczos, the default there: estimate_rho_symmetric):
//    ρ = max(|1 − αλmin(S)|, |1 − αλmax(S)|) between the Ritz values' value and the Ritz
//    values widened by their residuals.
//  * the extreme eigenvalues of the symmetric operator that governs a map's stepsize (PGD on a
//    quadratic: the Hessian restricted to the free set), prefix `fold_stepsize_`: either K
//    Lanczos steps (stepsize_lanczos: α = 1/λmax, the default rule) or two SLEPc solves
//    (extreme_eigenvalues: α = 2/(λmin + λmax), which minimizes ρ(Φ) = max |1 − αλ|).
//  * whether a fixed point is a minimum (check_minimum_*): a real eigenvalue of Φ above 1 means
//    negative curvature of the reduced Hessian (a saddle point or a maximum). For a map whose Φ
//    is 1 − α·(a symmetric operator S) on its free set (PGD: S = ∇²f restricted to the free set,
//    the stepsize operator), a few Lanczos steps on S give Ritz values; the smallest is an upper
//    bound of λmin(S), so a Ritz value below −margin certifies the non-minimum. Otherwise a
//    bounded Arnoldi run on Φᵀ (largest real part, loose tolerance), and the ρ estimate's own
//    eigenvalue when it is real and above 1. An eigenvalue below −1 only means α is too large for
//    LFPI: it is not a sign of a non-minimum and is not flagged.
#ifndef FOLDOPT_SPECTRAL_HPP
#define FOLDOPT_SPECTRAL_HPP

#include <foldopt/handle.hpp>

#include <petscviewer.h>

#include <string>

namespace foldopt {

struct RhoEstimate {
  bool converged = false;
  PetscReal rho = 0;        ///< |λ| of the eigenvalue of largest magnitude found
  PetscReal re = 0, im = 0; ///< that eigenvalue λ itself (real and imaginary parts)
  PetscReal error = 0;      ///< residual bound ‖Φᵀv − λv‖₂ (‖v‖₂ = 1) on |λ|
  PetscReal tol = 0;        ///< EPS tolerance used
  PetscInt iterations = 0;  ///< EPS restarts
  PetscInt products = 0;    ///< Φᵀ products spent (Lanczos: products with the stepsize operator)
  double seconds = 0;
  std::string method = "eps";  ///< "eps" (Krylov–Schur on Φᵀ) or "lanczos" (on the stepsize operator)
  PetscInt steps = 0;          ///< Lanczos steps (method "lanczos")
  /// LFPI iterations to reduce the residual by `rtol` predicted from ρ ∓ error; `high` < 0 means
  /// unbounded (ρ + error ≥ 1: LFPI may not converge).
  void predicted_lfpi(PetscReal rtol, PetscReal* low, PetscReal* high) const;
};

struct ExtremeEigenvalues {
  PetscReal lmin = 0, lmax = 0;      ///< smallest and largest eigenvalue (Lanczos: Ritz values)
  PetscReal err_min = 0, err_max = 0;///< residual bounds
  PetscReal tol = 0;                 ///< EPS tolerance (0 for Lanczos)
  double seconds = 0;
  std::string method;                ///< "" (none computed), "eps" or "lanczos"
  PetscInt steps = 0;                ///< Lanczos steps
  PetscInt products = 0;             ///< products with the operator (Lanczos)
  PetscInt size = 0;                 ///< size of the operator
};

/// Extreme Ritz values of a symmetric operator after `steps` Lanczos steps (no reorthogonalization)
/// from a random start vector (fill_random, the same at any number of ranks). Each Ritz value is
/// a Rayleigh quotient: lmin ≥ λmin and lmax ≤ λmax up to rounding (≈ eps·‖A‖). The residual
/// ‖A V y − θ V y‖₂ = β_K |y_K| of each extreme Ritz pair (θ, y) bounds its distance to the
/// nearest eigenvalue; once θ has converged to the extreme eigenvalue (as it does first) θ + err_max
/// bounds λmax from above and θ − err_min λmin from below.
struct RitzValues {
  PetscReal lmin = 0, lmax = 0;
  PetscReal err_min = 0, err_max = 0;  ///< residual norms of the extreme Ritz pairs (0 if invariant)
  PetscInt steps = 0;      ///< Lanczos steps taken (fewer than asked when a subspace is invariant)
  PetscInt products = 0;   ///< products with the operator
  bool invariant = false;  ///< the Krylov space became invariant: the Ritz values are eigenvalues
};
RitzValues lanczos_ritz_values(Mat sym, PetscInt steps, unsigned long seed = 17);

/// The outcome of the fixed-point minimum check (FoldedLayer, -fold_check_minimum).
struct MinimumCheck {
  bool ran = false;
  bool nonminimum = false;   ///< a real eigenvalue of Φ above 1 + margin was found (certified)
  bool conclusive = true;    ///< false when the general (Arnoldi) path found no converged eigenvalue
  std::string method;        ///< how: "lanczos on the stepsize operator", "arnoldi on Phi^T", ...
  PetscReal lambda = 0;      ///< largest real eigenvalue of Φ found (a lower bound on the Lanczos path)
  PetscReal curvature = 0;   ///< Lanczos path: smallest Ritz value of the stepsize operator S
  PetscReal curvature_max = 0;  ///< Lanczos path: largest Ritz value of S
  PetscReal error = 0;       ///< residual bound on lambda (Arnoldi / ρ paths)
  PetscReal margin = 0;      ///< relative margin of the decision
  PetscInt size = 0;         ///< size of the operator examined
  PetscInt products = 0;
  double seconds = 0;
};

/// Lanczos path: S is the symmetric operator whose spectrum gives Φ's on its free set,
/// λ(Φ) = 1 − α λ(S). Flags λmin(S) < 0 when a Ritz value lies below −margin·max|Ritz|.
MinimumCheck check_minimum_symmetric(Mat S, PetscReal alpha, PetscInt steps, PetscReal margin = 1e-8);
/// General path: Arnoldi (Krylov–Schur, EPS_LARGEST_REAL, `steps` basis vectors, at most two
/// iterations; converged when the residual is below half the distance from 1) on the Φᵀ shell; options under `prefix` (fold_check_minimum_eps_*).
/// Flags a converged real eigenvalue λ > 1 + error + margin. The products are the caller's to
/// count (`products` stays 0).
MinimumCheck check_minimum_general(Mat phi_t, PetscInt steps, const std::string& prefix, PetscReal margin = 1e-8);
/// Whether a ρ estimate already certifies a non-minimum (its eigenvalue real and above 1 + error).
bool rho_shows_nonminimum(const RhoEstimate& e, PetscReal margin = 1e-8);

void view(const MinimumCheck& m, PetscViewer viewer);

/// ρ of the operator `phi_t` (a Φᵀ shell) by SLEPc; options under `prefix` (default fold_rho_).
/// `products` is the operator's product counter read before and after (may be null).
RhoEstimate estimate_rho(Mat phi_t, const std::string& prefix = "fold_rho_",
                         const PetscInt* products = nullptr);

/// Extreme eigenvalues of a symmetric operator by SLEPc; options under `prefix`.
ExtremeEigenvalues extreme_eigenvalues(Mat sym, const std::string& prefix = "fold_stepsize_");
/// The same from `steps` Lanczos steps (lanczos_ritz_values): Ritz values and residual norms.
ExtremeEigenvalues stepsize_lanczos(Mat sym, PetscInt steps);
/// α = 1/λmax from Lanczos estimates: 1/lmax, but at most 1.9/(lmax + err_max), so that α stays
/// below 2/λmax whenever lmax + err_max bounds λmax (the default stepsize rule); 0 if lmax ≤ 0.
PetscReal lmax_stepsize(const ExtremeEigenvalues& e);

/// ρ(Φ) for Φ = I − αS on the free set (S symmetric, the stepsize operator) from `steps` Lanczos
/// steps on S: rho ± error spans [max |1 − αθ|, max |1 − α(θ ∓ err)|] over the extreme Ritz
/// values θ (the lower end is a bound; the upper one once the Ritz values have converged to the
/// extreme eigenvalues). re is the eigenvalue 1 − αθ of Φ at the end that gives the upper end.
RhoEstimate estimate_rho_symmetric(Mat S, PetscReal alpha, PetscInt steps);

void view(const RhoEstimate& e, PetscReal rtol, PetscViewer viewer);

}  // namespace foldopt

#endif  // FOLDOPT_SPECTRAL_HPP
