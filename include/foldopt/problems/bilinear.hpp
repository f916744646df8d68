// foldopt: the nonconvex bilinear problem (problem `bilinear`)
//
//   max_{x, y}  cᵀx + xᵀQy + dᵀy − μ φ(x, y)   s.t.  0 ≤ x, y ≤ 1,  Σx = p,  Σy = q   (per instance)
//
// with x, y ∈ ℝᵐ, Q m×m shared by the batch (fixed data, -Qmat), the parameter blocks `c` and `d`
// (per instance) and p, q integers (0 < p, q < m; -sum_x, -sum_y). The smoothing φ
// (-bilinear_smoothing, -bilinear_mu μ) is
//   none       φ = 0                          (the LP-like problem: solutions are vertices, where the
//                                              Jacobian is 0 almost everywhere)
//   quadratic  φ = ½(‖x‖² + ‖y‖²)             (the default, μ = 1)
//   entropic   φ = Σ xᵢ log xᵢ + Σ yᵢ log yᵢ
// and the forward solves the same smoothed problem the backward folds, so the fixed-point check
// holds. Composite form: the state s = (x, y) per instance (2m entries, x first), f = −(cᵀx + xᵀQy
// + dᵀy) + μ φ and h the indicator of the product of the two capped simplices (prox
// `capped_simplex_product` with sums p, q); the backward folds projected gradient (prox_grad) at
// the solution. -x_out, -dLdx are 2m×B arrays (x over y); the gradient blocks c, d m×B arrays.
//
// The default forward `bilinear_global` (src/forward/bilinear_global.cpp) finds a global vertex
// and, for μ > 0, ascends from it:
//   * enumeration (when the smaller side has at most -bilinear_enum_max vertices C(m, p) or
//     C(m, q)): every vertex of one side, the other side its best response (a top-q selection of
//     Qᵀx + d, or top-p of c + Qy). For μ = 0 this is the exact global maximum.
//   * alternating maximization (above that size): -bilinear_starts random vertices, each improved
//     by best responses until neither side changes; the best partial optimum found (no global
//     guarantee).
//   * μ > 0: from the -bilinear_local_starts best vertices, exact block ascent (each side's smoothed
//     best response in closed form, per instance), then FISTA on the map if the fixed-point
//     residual is not yet below -fold_fwd_bilinear_tol; the best result is kept. Bound: at every
//     vertex φ takes its largest value φ_max (quadratic: (p + q)/2; entropic: 0) and on the
//     feasible set φ ≥ φ_min (quadratic: (p² + q²)/(2m); entropic: −p log(m/p) − q log(m/q)), so
//     with v* the best vertex and F_μ the smoothed objective
//         F_μ* − F_μ(v*) ≤ μ (φ_max − φ_min) =: μΔ,
//     and the ascent only increases F_μ: after enumeration the smoothed value returned is within
//     μΔ of the smoothed global maximum (reported as `bound`).
// The search works on gathered data: every rank holds Q (dense, m ≤ 4096) and every instance's
// c, d, and computes the same result; instances are searched independently.
// Generated instances (-n m, -batch B, -seed S; identical at any number of ranks): c, d uniform in
// [−1, 1), Q with about 30% nonzeros uniform in [−1, 1); p = q = 3 unless given.
#ifndef FOLDOPT_PROBLEMS_BILINEAR_HPP
#define FOLDOPT_PROBLEMS_BILINEAR_HPP

#include <foldopt/problems/composite.hpp>

#include <memory>

namespace foldopt {

enum class BilinearSmoothing { none, quadratic, entropic };
const char* to_string(BilinearSmoothing s);

/// The knobs of the global forward (read from -bilinear_* options by from_options).
struct BilinearSearch {
  PetscInt starts = 64;        ///< random starts of alternating maximization
  double enum_max = 1e6;       ///< largest number of vertices enumerated
  PetscInt local_starts = 3;   ///< best vertices the smoothed ascent starts from
  unsigned long seed = 1;      ///< of the random starts
};

class Bilinear : public CompositeProblem {
 public:
  /// Q m×m (a new reference is taken), c and d B·m entries (PETSc's split), 0 < p, q < m.
  Bilinear(Mat Q, Vec c, Vec d, PetscInt batch, PetscInt p, PetscInt q, BilinearSmoothing smoothing, PetscReal mu,
           const BilinearSearch& search = BilinearSearch());
  static std::unique_ptr<Bilinear> generate(MPI_Comm comm, PetscInt m, PetscInt batch, unsigned long seed, PetscInt p,
                                            PetscInt q, BilinearSmoothing smoothing, PetscReal mu,
                                            const BilinearSearch& search = BilinearSearch());
  static std::unique_ptr<Bilinear> from_options(MPI_Comm comm);

  std::string default_forward() const override { return "bilinear_global"; }
  /// Entropic smoothing: α = 1/μ (α∇²φ = diag(1/s) ⪰ I, as topk) with left Jacobi; else the
  /// curvature bound's 1/(‖A‖∞ + μ).
  PetscReal default_stepsize() const override;
  std::string default_pc_type() const override;
  bool default_pc_left() const override;
  void view(PetscViewer viewer) const override;
  std::vector<std::pair<std::string, Mat>> data_matrices() const override { return {{"Q", Q_}}; }

  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& theta, Vec lb, Vec ub) override;
  /// Σx_b = p and Σy_b = q: 2B rows (x of instance b is row 2b).
  PetscInt num_equality() const override { return 2 * layout_.batch; }
  void equality(Vec s, const ParamSet& theta, Vec c) override;
  OwnedMat equality_jacobian(Vec s, const ParamSet& theta) override;

  Mat Q() const { return Q_; }
  PetscInt size() const { return layout_.n / 2; }  ///< m
  PetscInt sum_x() const { return p_; }
  PetscInt sum_y() const { return q_; }
  BilinearSmoothing smoothing() const { return smoothing_; }
  PetscReal mu() const { return mu_; }
  const BilinearSearch& search() const { return search_; }
  /// Δ = φ_max − φ_min of the smoothing on the feasible set (0 without smoothing): μΔ bounds how
  /// far the best vertex's smoothed value lies below the smoothed maximum.
  PetscReal smoothing_range() const;
  /// φ_min, the smallest value of φ on one instance's feasible set (0 without smoothing).
  PetscReal smoothing_min() const;

 private:
  OwnedMat Q_;
  PetscInt p_, q_;
  BilinearSmoothing smoothing_;
  PetscReal mu_;
  BilinearSearch search_;
  bool generated_ = false;
};

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_BILINEAR_HPP
