// foldopt: total-variation denoising through its dual (problem `tv`)
//
//   primal:  min_x ½‖x − d‖² + λ‖Dx‖₁                 (x: n entries, D sparse m×n)
//   dual:    min_y ½‖Dᵀy − d‖²  s.t.  ‖y‖∞ ≤ λ        (the state y: one entry per row of D)
//   readout: x = d − Dᵀy
//
// The problem is the dual in composite form: f(y) = ½‖Dᵀy − d‖² (TvDualObjective,
// src/problems/tv_dual_objective.cpp) and h the indicator of [−λ, λ]^m (BoxProx::symmetric); its default map is
// prox_grad and its default forward solver fista (FDPG). Its layout is the state's (B·m), its
// solution_layout B·n; bounds() gives [−λ, λ] so that TAO (tron) solves the dual too.
//
// Parameter blocks: `d` (per instance, B·n entries split like x), `lambda` (a scalar), and
// `D.values` (D's stored nonzeros in global CSR order, pattern D, shared by the batch; absent with
// -tv_fixed_D, when D is fixed data).
//
// Uniqueness. With F the free rows of the dual (|y_i| < λ, the box projection's 0/1 mask J),
// null(I − Φ) = null(Dᵀ) ∩ range J. It is {0} iff the rows of D in F are linearly independent,
// i.e. iff S = D_F D_Fᵀ is nonsingular: always for the 1-D first-difference operator (full row
// rank), generally not for the 2-D one (a cycle of free edges of the grid). When it is not {0} the
// dual solution y* is not unique, I − Φ is singular but the adjoint system is consistent: the
// gradients for `d` and `lambda` are still unique (Krylov), the `D.values` gradient is not (it
// depends on y* itself), and the Jacobian path has nothing to factor. The problem checks this
// (uniqueness()): a backward that asks for `D.values` is refused with the reason before the
// adjoint solve (readout_t), and -fold_backward jacobian through singular_reason(), which the
// adjoint solver asks before it factors.
#ifndef FOLDOPT_PROBLEMS_TV_HPP
#define FOLDOPT_PROBLEMS_TV_HPP

#include <foldopt/forward.hpp>
#include <foldopt/problems/composite.hpp>

#include <memory>
#include <string>

namespace foldopt {

/// How a tv instance is generated (options -n, -tv_grid m1,m2, -seed, -batch, -lambda): a
/// piecewise-constant signal (1-D: about 5 segments; 2-D: about 3×3 blocks) with values in
/// [−1, 1) plus noise uniform in [−0.1, 0.1), drawn by global index.
struct TvGenerator {
  PetscInt n = 100;       ///< 1-D signal length (when m1 = 0)
  PetscInt m1 = 0, m2 = 0;///< 2-D image of m1 rows and m2 columns (n = m1·m2)
  PetscInt batch = 1;
  unsigned long seed = 1;
  PetscReal lambda = 0.2;
};

class TvDualObjective;

class TvProblem : public CompositeProblem {
 public:
  /// From data: D (m×n, AIJ, rows split as PETSc splits m), d (B·n entries split as PETSc splits
  /// B·n), λ ≥ 0. `full_row_rank`: D is known to have independent rows (the uniqueness check is
  /// then skipped); `fixed_D`: no D.values block. Throws (collectively) on invalid input.
  TvProblem(Mat D, Vec d, PetscReal lambda, PetscInt batch, bool full_row_rank = false, bool fixed_D = false);
  ~TvProblem() override;

  static std::unique_ptr<TvProblem> generate(MPI_Comm comm, const TvGenerator& gen, bool fixed_D = false);
  /// -d FILE (n entries or n×B), -lambda, -Dmat FILE (optional), -tv_grid m1,m2 (without -Dmat).
  static std::unique_ptr<TvProblem> from_options(MPI_Comm comm);

  /// The first-difference operators: 1-D ((n−1)×n, rows (i, i) = −1, (i, i+1) = 1) and 2-D on an
  /// m1×m2 image stored row by row (pixel p = r·m2 + c): first the horizontal differences
  /// x(r, c+1) − x(r, c), row by row, then the vertical ones x(r+1, c) − x(r, c).
  static OwnedMat difference_1d(MPI_Comm comm, PetscInt n);
  static OwnedMat difference_2d(MPI_Comm comm, PetscInt m1, PetscInt m2);

  std::string default_forward() const override { return "fista"; }
  void view(PetscViewer viewer) const override;
  std::vector<std::pair<std::string, Mat>> data_matrices() const override { return {{"D", D_.get()}}; }

  bool has_readout() const override { return true; }
  const Layout& solution_layout() const override { return solution_layout_; }
  void readout(Vec y, const ParamSet& theta, Vec x) override;
  void readout_t(Vec y, const ParamSet& theta, Vec g, Vec h) override;
  std::string singular_reason(Vec y, const ParamSet& theta) override;
  /// y* from a primal solution x*: the y in [−λ, λ] with Dᵀy = d − x* (unique where the dual is),
  /// as the minimizer of ½‖Dᵀy − (d − x*)‖² on the box, by TAO tron (options -fold_recover_tao_*).
  bool recover_state(Vec x, const ParamSet& theta, Vec y, std::string* why) override;
  void readout_param_t(Vec y, const ParamSet& theta, Vec g, ParamSet& out) override;

  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& theta, Vec lb, Vec ub) override;

  /// Whether null(Dᵀ) ∩ range J = {0} at the dual point y (J: the free rows |y_i| < λ): empty
  /// when it is (the dual solution is unique there), else the reason. Collective; every rank
  /// gets the same answer. A D known to have full row rank is not examined.
  std::string uniqueness(Vec y, const ParamSet& theta);
  /// The options prefix of the layer whose -<prefix>backward the problem consults (default fold_).

  Mat D() const { return D_; }
  PetscInt rows() const { return m_; }
  PetscInt columns() const { return n_; }

 private:
  TvDualObjective& dual();
  PetscReal lambda_of(const ParamSet& theta) const;
  /// The uniqueness test proper (uncached).
  std::string examine_free_rows(Vec y, PetscReal lambda, Mat op);

  /// The point of the last uniqueness() answer: y and D's batch operator by id and state, λ.
  struct UniquenessKey {
    PetscObjectId y_id = 0, op_id = 0;
    PetscObjectState y_state = -1, op_state = -1;
    PetscReal lambda = -1;
    bool operator==(const UniquenessKey& o) const {
      return y_id == o.y_id && op_id == o.op_id && y_state == o.y_state && op_state == o.op_state && lambda == o.lambda;
    }
  };
  UniquenessKey unique_key_;
  bool unique_valid_ = false;
  std::string unique_reason_;

  Layout solution_layout_;
  OwnedMat D_;
  PetscInt m_ = 0, n_ = 0;
  bool full_row_rank_ = false, fixed_D_ = false;
  std::string origin_ = "given";
  std::unique_ptr<ForwardSolver> recover_;  ///< TAO on the shifted dual (recover_state)
};

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_TV_HPP
