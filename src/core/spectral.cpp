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
//   Lanczos estimates (the default stepsize rule, α = 1/λmax, and ρ where Φ = I − αS on the free
//   set): K steps of plain Lanczos on S, T_K's extreme eigenvalues θ by bisection on Sturm
//   counts, their eigenvectors z by inverse iteration; the residual
//   of the Ritz pair is β_K |z_i(K)| (Saad §6.3). α = min(1/θmax, 1.9/(θmax + r_max)) lies in
//   [1/λmax, 2/λmax) once θmax has converged to λmax within r_max. ρ = max |1 − αλ| over the
//   spectrum's hull, between its value at the Ritz values and at the Ritz values widened by r.
//   The minimum check: K steps of plain Lanczos (three vectors, no reorthogonalization: the Ritz
//   values of T_K stay within the spectrum's hull up to rounding, Paige) on the symmetric operator
//   S with λ(Φ) = 1 − αλ(S); the extreme eigenvalues of the tridiagonal T_K as above. λmin(T_K) ≥
//   λmin(S), so λmin(T_K) < −margin·max|λ(T_K)| certifies negative curvature.
//   Without such an S: Krylov–Schur on Φᵀ for the largest real part, K basis vectors, at most two
//   iterations (a bounded number of products), a Ritz pair counting as converged once its
//   residual is below half its distance from 1 (inconclusive if none is).
// References: Y. Saad, Numerical Methods for Large Eigenvalue Problems (2011), §3.2 (residual
//   bounds); SLEPc users manual, EPS; C. C. Paige, Accuracy and effectiveness of the Lanczos
//   algorithm for the symmetric eigenproblem, Linear Algebra Appl. 34 (1980) (finite precision).
#include <foldopt/spectral.hpp>

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>

#include "core/util.hpp"

#include <slepceps.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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
  *high = hi_rho < 1 ? (hi_rho > 0 ? std::log(rtol) / std::log(hi_rho) : 1) : -1;  // ρ = 0: one step
  if (*low < 1) *low = 1;
  if (*high >= 0 && *high < *low) *high = *low;
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
    r.re = PetscRealPart(kr);
    r.im = PetscRealPart(ki);
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
  FOLDOPT_CALL(MatGetSize(sym, &e.size, nullptr));
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

namespace {
/// Number of eigenvalues below x of the symmetric tridiagonal matrix (diagonal a, off-diagonal b).
std::size_t sturm_count(const std::vector<PetscReal>& a, const std::vector<PetscReal>& b, PetscReal x) {
  std::size_t count = 0;
  PetscReal q = 1;
  const PetscReal tiny = std::numeric_limits<PetscReal>::min();
  for (std::size_t i = 0; i < a.size(); ++i) {
    q = a[i] - x - (i > 0 ? b[i - 1] * b[i - 1] / q : 0);
    if (q == 0) q = -tiny;  // x is an eigenvalue of the leading block: count it as below
    count += q < 0;
  }
  return count;
}

/// The k-th smallest eigenvalue (k = 1..n) of the tridiagonal matrix, by bisection in [lo, hi].
PetscReal tridiagonal_eigenvalue(const std::vector<PetscReal>& a, const std::vector<PetscReal>& b, std::size_t k,
                                 PetscReal lo, PetscReal hi) {
  for (int it = 0; it < 200 && hi - lo > 4 * PETSC_MACHINE_EPSILON * std::max(std::abs(lo), std::abs(hi)); ++it) {
    const PetscReal mid = 0.5 * (lo + hi);
    if (sturm_count(a, b, mid) >= k) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/// Last component of the unit eigenvector of the tridiagonal matrix (diagonal a, off-diagonal b)
/// for its eigenvalue `theta`: inverse iteration, (T − σI) x = y solved by Gaussian elimination
/// with partial pivoting (three bands and one fill band), σ = θ moved off by a few ulps.
PetscReal eigenvector_last(const std::vector<PetscReal>& a, const std::vector<PetscReal>& b, PetscReal theta) {
  const std::size_t n = a.size();
  if (n == 1) return 1;
  PetscReal scale = 0;
  for (std::size_t i = 0; i < n; ++i) scale = std::max({scale, std::abs(a[i]), i + 1 < n ? std::abs(b[i]) : PetscReal(0)});
  const PetscReal tiny = PETSC_MACHINE_EPSILON * std::max<PetscReal>(scale, 1e-300);
  const PetscReal sigma = theta + 8 * tiny;
  // Factor T − σI = P L U.
  std::vector<PetscReal> d(n), dl(b.begin(), b.begin() + (n - 1)), du(dl), du2(n, 0);
  std::vector<char> swapped(n, 0);
  for (std::size_t i = 0; i < n; ++i) d[i] = a[i] - sigma;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (std::abs(d[i]) >= std::abs(dl[i])) {
      if (d[i] == 0) d[i] = tiny;
      const PetscReal f = dl[i] / d[i];
      dl[i] = f;
      d[i + 1] -= f * du[i];
    } else {
      const PetscReal f = d[i] / dl[i];
      d[i] = dl[i];
      dl[i] = f;
      const PetscReal t = du[i];
      du[i] = d[i + 1];
      d[i + 1] = t - f * d[i + 1];
      if (i + 2 < n) {
        du2[i] = du[i + 1];
        du[i + 1] = -f * du[i + 1];
      }
      swapped[i] = 1;
    }
  }
  if (d[n - 1] == 0) d[n - 1] = tiny;
  std::vector<PetscReal> x(n, 1.0);
  for (int it = 0; it < 3; ++it) {
    for (std::size_t i = 0; i + 1 < n; ++i) {
      if (!swapped[i]) {
        x[i + 1] -= dl[i] * x[i];
      } else {
        const PetscReal t = x[i];
        x[i] = x[i + 1];
        x[i + 1] = t - dl[i] * x[i];
      }
    }
    x[n - 1] /= d[n - 1];
    x[n - 2] = (x[n - 2] - du[n - 2] * x[n - 1]) / d[n - 2];
    for (std::size_t i = n - 2; i-- > 0;) x[i] = (x[i] - du[i] * x[i + 1] - du2[i] * x[i + 2]) / d[i];
    PetscReal nx = 0;
    for (PetscReal v : x) nx = std::max(nx, std::abs(v));
    for (PetscReal& v : x) v /= nx;  // keep the scale (the 2-norm below)
  }
  PetscReal n2 = 0;
  for (PetscReal v : x) n2 += v * v;
  return x[n - 1] / std::sqrt(n2);
}

/// Whether re + i·im (error bound `err`) is a real eigenvalue above 1, beyond `margin`.
bool real_above_one(PetscReal re, PetscReal im, PetscReal err, PetscReal margin) {
  return re > 1 + err + margin * std::max<PetscReal>(1, std::abs(re)) && std::abs(im) <= err + margin * std::abs(re);
}

/// SLEPc convergence test of the general minimum check: the residual relative to the distance of
/// the Ritz value from 1.
PetscErrorCode decided_against_one(EPS, PetscScalar er, PetscScalar ei, PetscReal res, PetscReal* errest, void*) {
  const PetscReal d = std::hypot(PetscRealPart(er) - 1, PetscRealPart(ei));
  *errest = d > 0 ? res / d : PETSC_MAX_REAL;
  return 0;
}
}  // namespace

RitzValues lanczos_ritz_values(Mat A, PetscInt steps, unsigned long seed) {
  RitzValues r;
  PetscInt N;
  FOLDOPT_CALL(MatGetSize(A, &N, nullptr));
  steps = std::min(std::max<PetscInt>(steps, 1), N);
  // Three vectors, rotated (no copies): per step one product, one MAXPY, two split-phase
  // reductions and one AXPBY that also normalizes.
  OwnedVec bufs[3];
  FOLDOPT_CALL(MatCreateVecs(A, bufs[0].out(), bufs[1].out()));
  FOLDOPT_CALL(VecDuplicate(bufs[0], bufs[2].out()));
  Vec v = bufs[0], w = bufs[1], vprev = bufs[2];
  FOLDOPT_CALL(VecZeroEntries(vprev));
  fill_random(v, seed);
  PetscReal nv;
  FOLDOPT_CALL(VecNormalize(v, &nv));
  std::vector<PetscReal> a, b;
  PetscReal beta_prev = 0, scale = 0, beta_last = 0;
  for (PetscInt j = 0; j < steps; ++j) {
    FOLDOPT_CALL(MatMult(A, v, w));
    ++r.products;
    PetscScalar d;
    FOLDOPT_CALL(VecDot(w, v, &d));
    PetscReal alpha = PetscRealPart(d);
    PetscScalar coef[2] = {-alpha, -beta_prev};
    Vec dirs[2] = {v, vprev};
    FOLDOPT_CALL(VecMAXPY(w, beta_prev != 0 ? 2 : 1, coef, dirs));
    // Once more against v (local orthogonality) and the norm, in one reduction:
    // ‖w − d v‖² = ‖w‖² − d² for a unit v.
    PetscReal nw;
    FOLDOPT_CALL(VecDotBegin(w, v, &d));
    FOLDOPT_CALL(VecNormBegin(w, NORM_2, &nw));
    FOLDOPT_CALL(VecDotEnd(w, v, &d));
    FOLDOPT_CALL(VecNormEnd(w, NORM_2, &nw));
    alpha += PetscRealPart(d);
    a.push_back(alpha);
    scale = std::max({scale, std::abs(alpha), beta_prev});
    const PetscReal dd = PetscRealPart(d);
    const PetscReal beta = std::sqrt(std::max<PetscReal>(nw * nw - dd * dd, 0));
    r.steps = j + 1;
    if (beta <= 1e-12 * scale || !std::isfinite(beta)) {
      r.invariant = beta <= 1e-12 * scale;
      break;
    }
    if (j + 1 == steps) {
      beta_last = beta;
      break;
    }
    b.push_back(beta);
    FOLDOPT_CALL(VecAXPBY(w, -dd / beta, 1 / beta, v));  // w = (w − d v)/β, the next v
    Vec t = vprev;
    vprev = v;
    v = w;
    w = t;
    beta_prev = beta;
  }
  // Gershgorin interval of T, then bisection for its extreme eigenvalues; the residual of the
  // Ritz pair (θ, V z) is β_K |z(K)|, the last component of z (inverse iteration) times the next β.
  PetscReal lo = std::numeric_limits<PetscReal>::max(), hi = -lo;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const PetscReal off = (i > 0 ? b[i - 1] : 0) + (i < b.size() ? b[i] : 0);
    lo = std::min(lo, a[i] - off);
    hi = std::max(hi, a[i] + off);
  }
  const PetscReal pad = 1e-12 * std::max({std::abs(lo), std::abs(hi), PetscReal(1e-300)});
  r.lmin = tridiagonal_eigenvalue(a, b, 1, lo - pad, hi + pad);
  r.lmax = tridiagonal_eigenvalue(a, b, a.size(), lo - pad, hi + pad);
  if (beta_last > 0) {
    r.err_min = beta_last * std::abs(eigenvector_last(a, b, r.lmin));
    r.err_max = beta_last * std::abs(eigenvector_last(a, b, r.lmax));
  }
  return r;
}

ExtremeEigenvalues stepsize_lanczos(Mat sym, PetscInt steps) {
  ExtremeEigenvalues e;
  const double t0 = wall_time();
  const RitzValues r = lanczos_ritz_values(sym, steps);
  e.method = "lanczos";
  e.lmin = r.lmin;
  e.lmax = r.lmax;
  e.err_min = r.err_min;
  e.err_max = r.err_max;
  e.steps = r.steps;
  e.products = r.products;
  FOLDOPT_CALL(MatGetSize(sym, &e.size, nullptr));
  e.seconds = wall_time() - t0;
  return e;
}

PetscReal lmax_stepsize(const ExtremeEigenvalues& e) {
  if (!(e.lmax > 0)) return 0;
  return std::min<PetscReal>(1 / e.lmax, 1.9 / (e.lmax + e.err_max));
}

RhoEstimate estimate_rho_symmetric(Mat S, PetscReal alpha, PetscInt steps) {
  RhoEstimate est;
  const double t0 = wall_time();
  const RitzValues r = lanczos_ritz_values(S, steps);
  est.method = "lanczos";
  est.steps = r.steps;
  est.products = r.products;
  est.iterations = r.steps;
  est.converged = true;
  // |1 − αλ| is convex in λ: over the spectrum's hull its maximum sits at an end, so the Ritz
  // values (inside the hull) give a lower bound, the ends widened by the residuals an upper one.
  const PetscReal lo = std::max(std::abs(1 - alpha * r.lmin), std::abs(1 - alpha * r.lmax));
  const PetscReal at_min = std::abs(1 - alpha * (r.lmin - r.err_min)), at_max = std::abs(1 - alpha * (r.lmax + r.err_max));
  const PetscReal hi = std::max({lo, at_min, at_max});
  est.rho = 0.5 * (lo + hi);
  est.error = 0.5 * (hi - lo);
  est.re = at_min >= at_max ? 1 - alpha * r.lmin : 1 - alpha * r.lmax;
  est.im = 0;
  est.seconds = wall_time() - t0;
  return est;
}

MinimumCheck check_minimum_symmetric(Mat S, PetscReal alpha, PetscInt steps, PetscReal margin) {
  MinimumCheck m;
  const double t0 = wall_time();
  m.ran = true;
  m.method = "lanczos on the stepsize operator";
  m.margin = margin;
  FOLDOPT_CALL(MatGetSize(S, &m.size, nullptr));
  const RitzValues r = lanczos_ritz_values(S, steps);
  m.products = r.products;
  m.curvature = r.lmin;
  m.curvature_max = r.lmax;
  m.lambda = 1 - alpha * r.lmin;  // the largest eigenvalue of Φ found: a lower bound of λmax(Φ)
  m.nonminimum = r.lmin < -margin * std::max(std::abs(r.lmin), std::abs(r.lmax));
  m.seconds = wall_time() - t0;
  return m;
}

MinimumCheck check_minimum_general(Mat phi_t, PetscInt steps, const std::string& prefix, PetscReal margin) {
  MinimumCheck m;
  const double t0 = wall_time();
  m.ran = true;
  m.method = "arnoldi on Phi^T";
  m.margin = margin;
  FOLDOPT_CALL(MatGetSize(phi_t, &m.size, nullptr));
  // Φᵀ may vanish (every entry active): then it has no eigenvalue but 0, and SLEPc cannot start.
  OwnedVec v, y;
  FOLDOPT_CALL(MatCreateVecs(phi_t, v.out(), y.out()));
  fill_random(v, 17);
  FOLDOPT_CALL(MatMult(phi_t, v, y));
  PetscReal ny;
  FOLDOPT_CALL(VecNorm(y, NORM_2, &ny));
  if (ny == 0 || m.size < 3) {
    m.conclusive = ny == 0;
    m.method = ny == 0 ? "Phi^T v = 0 for a random v" : "too small for arnoldi";
  } else {
    OwnedEPS eps = create_eps(phi_t, prefix, EPS_NHEP);
    FOLDOPT_CALL(EPSSetWhichEigenpairs(eps, EPS_LARGEST_REAL));
    const PetscInt ncv = std::min(std::max<PetscInt>(steps, 3), m.size);
    FOLDOPT_CALL(EPSSetDimensions(eps, 1, ncv, PETSC_DEFAULT));
    // "Converged" means decided: the residual below half the distance to 1, which tells on which
    // side of 1 the eigenvalue lies (for a normal Φ; a loose criterion otherwise).
    FOLDOPT_CALL(EPSSetConvergenceTestFunction(eps, decided_against_one, nullptr, nullptr));
    FOLDOPT_CALL(EPSSetTolerances(eps, 0.5, 2));
    FOLDOPT_CALL(EPSSetFromOptions(eps));
    FOLDOPT_CALL(EPSSolve(eps));
    PetscInt nconv = 0;
    FOLDOPT_CALL(EPSGetConverged(eps, &nconv));
    m.conclusive = nconv > 0;
    if (nconv > 0) {
      PetscScalar kr, ki;
      FOLDOPT_CALL(EPSGetEigenvalue(eps, 0, &kr, &ki));
      FOLDOPT_CALL(EPSComputeError(eps, 0, EPS_ERROR_ABSOLUTE, &m.error));
      m.lambda = PetscRealPart(kr);
      m.nonminimum = real_above_one(m.lambda, PetscRealPart(ki), m.error, margin);
    }
  }
  m.seconds = wall_time() - t0;
  return m;
}

bool rho_shows_nonminimum(const RhoEstimate& e, PetscReal margin) {
  return e.converged && real_above_one(e.re, e.im, e.error, margin);
}

void view(const MinimumCheck& m, PetscViewer viewer) {
  if (!m.ran) return;
  if (m.method.rfind("lanczos", 0) == 0) {
    PetscViewerASCIIPrintf(viewer,
                           "minimum check: %s (%" PetscInt_FMT " unknowns), %" PetscInt_FMT
                           " products, %.3f s: Ritz values in [%.6g, %.6g], largest eigenvalue of Phi found %.8g: %s\n",
                           m.method.c_str(), m.size, m.products, m.seconds, (double)m.curvature, (double)m.curvature_max,
                           (double)m.lambda,
                           m.nonminimum ? "NOT A MINIMUM (negative curvature: a saddle point or a maximum)"
                                        : "no negative curvature found");
  } else if (!m.conclusive) {
    PetscViewerASCIIPrintf(viewer, "minimum check: %s, %" PetscInt_FMT " products, %.3f s: inconclusive (no eigenvalue converged)\n",
                           m.method.c_str(), m.products, m.seconds);
  } else {
    PetscViewerASCIIPrintf(viewer, "minimum check: %s, %" PetscInt_FMT " products, %.3f s: largest real eigenvalue of Phi %.8g +- %.1e: %s\n",
                           m.method.c_str(), m.products, m.seconds, (double)m.lambda, (double)m.error,
                           m.nonminimum ? "NOT A MINIMUM (a saddle point or a maximum)" : "not above 1");
  }
}

void view(const RhoEstimate& e, PetscReal rtol, PetscViewer viewer) {
  if (!e.converged) {
    PetscViewerASCIIPrintf(viewer, "rho(Phi): SLEPc did not converge (tolerance %.1e, %" PetscInt_FMT " restarts, %.3f s)\n",
                           (double)e.tol, e.iterations, e.seconds);
    return;
  }
  PetscReal lo, hi;
  e.predicted_lfpi(rtol, &lo, &hi);
  if (e.method == "lanczos")
    PetscViewerASCIIPrintf(viewer, "rho(Phi) = %.8f +- %.1e (lanczos on the stepsize operator, %" PetscInt_FMT " steps, %" PetscInt_FMT " products, %.3f s)\n",
                           (double)e.rho, (double)e.error, e.steps, e.products, e.seconds);
  else
    PetscViewerASCIIPrintf(viewer, "rho(Phi) = %.8f +- %.1e (eps on Phi^T, EPS tolerance %.1e, %" PetscInt_FMT " products, %.3f s)\n",
                           (double)e.rho, (double)e.error, (double)e.tol, e.products, e.seconds);
  if (hi < 0)
    PetscViewerASCIIPrintf(viewer, "  LFPI to rtol %.0e: at least %.0f iterations, possibly no convergence (rho + error >= 1)\n",
                           (double)rtol, (double)std::ceil(lo));
  else
    PetscViewerASCIIPrintf(viewer, "  LFPI to rtol %.0e: predicted %.0f to %.0f iterations\n", (double)rtol,
                           (double)std::ceil(lo), (double)std::ceil(hi));
}

}  // namespace foldopt
