// foldopt: the least-squares objective (`least_squares`), e.g. lasso's smooth part.
//
// Method:   f(x; y) = ½ ‖Xx − y‖²,  X sparse m×n fixed data, y the parameter block (B·m entries).
// Formulas: r = Xx − y;  ∇f = Xᵀr;  ∇²f v = Xᵀ(Xv);  ∇²f assembled = XᵀX (MatTransposeMatMult,
//           once: it does not depend on x or y);  diag ∇²f = Σᵢ X_ij² (column sums of X∘X);
//           (∂∇f/∂y)ᵀ v = −Xv (into y, B·m entries);  (∂∇f/∂y) dy = −Xᵀdy.
//           curvature_bound = ‖X‖₁‖X‖∞ ≥ ‖X‖₂² = λmax(XᵀX) (‖X‖₂² ≤ ‖X‖₁‖X‖∞, Hölder).
// Batches:  X is one instance's (m×n, applied to each instance: y_b has m entries) or
//           block-diagonal over the batch (B·m × B·n); kept as the block-diagonal operator.
// Not provided: a block `X.values` (G = r vᵀ + (Xv) xᵀ on the pattern of X), which needs the
//           matrix-values module (matrix_values::outer_on_pattern) to land first.
// References: Å. Björck, Numerical Methods for Least Squares Problems (SIAM 1996).
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>

#include "objectives/common.hpp"

namespace foldopt {

namespace {

class LeastSquaresObjective : public Objective {
 public:
  LeastSquaresObjective(const Layout& l, Mat X, const std::string& y) : layout_(l), y_(y) {
    objectives_detail::check_layout(l, "least_squares");
    objectives_detail::BatchOperator op = objectives_detail::batch_operator(X, l, "least_squares: X", false);
    X_ = std::move(op.A);
    m_ = op.m;
    shared_ = op.shared;
    nnz_ = op.nnz;
    FOLDOPT_CALL(MatCreateVecs(X_, nullptr, r_.out()));
    FOLDOPT_CALL(MatGetLocalSize(X_, &rows_local_, nullptr));
    PetscReal ninf = 0;
    FOLDOPT_CALL(MatNorm(X_, NORM_INFINITY, &ninf));
    bound_ = objectives_detail::norm_one(X_) * ninf;
  }

  std::string type() const override { return "least_squares"; }
  Capabilities capabilities() const override { return {true, true, true, true}; }
  std::string describe() const override {
    return detail::format("least_squares (X %" PetscInt_FMT " x %" PetscInt_FMT " per instance, %" PetscInt_FMT
                          " nonzeros%s, y block '%s')",
                          m_, layout_.n, nnz_, shared_ && layout_.batch > 1 ? ", shared by the batch" : "", y_.c_str());
  }

  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override {
    Vec y = objectives_detail::instance_block(theta, y_, layout_.batch * m_, rows_local_, "least_squares");
    FOLDOPT_CALL(MatMult(X_, x, r_));
    FOLDOPT_CALL(VecAXPY(r_, -1.0, y));
    PetscReal nr;
    FOLDOPT_CALL(VecNorm(r_, NORM_2, &nr));
    if (g) FOLDOPT_CALL(MatMultTranspose(X_, r_, g));
    return 0.5 * nr * nr;
  }
  void hessian_mult(Vec, const ParamSet&, Vec v, Vec y) override {
    FOLDOPT_CALL(MatMult(X_, v, r_));
    FOLDOPT_CALL(MatMultTranspose(X_, r_, y));
  }
  OwnedMat hessian(Vec, const ParamSet&) override {
    if (!xtx_) {
      FOLDOPT_CALL(MatTransposeMatMult(X_, X_, MAT_INITIAL_MATRIX, PETSC_DEFAULT, xtx_.out()));
      FOLDOPT_CALL(MatSetOption(xtx_, MAT_SYMMETRIC, PETSC_TRUE));
    }
    return OwnedMat::share(xtx_);
  }
  void hessian_diagonal(Vec, const ParamSet&, Vec d) override {
    if (!diag_) diag_ = objectives_detail::column_sums(X_, 2);
    FOLDOPT_CALL(VecCopy(diag_, d));
  }
  void gradient_param_t(Vec, const ParamSet&, Vec v, ParamSet& out) override {
    if (!out.has(y_)) return;
    FOLDOPT_CALL(MatMult(X_, v, r_));
    FOLDOPT_CALL(VecAXPY(out.get(y_), -1.0, r_));
  }
  void gradient_param(Vec, const ParamSet&, const ParamSet& dtheta, Vec y) override {
    if (!dtheta.has(y_)) return;
    OwnedVec t;
    FOLDOPT_CALL(VecDuplicate(y, t.out()));
    FOLDOPT_CALL(MatMultTranspose(X_, dtheta.get(y_), t));
    FOLDOPT_CALL(VecAXPY(y, -1.0, t));
  }
  PetscReal curvature_bound(const ParamSet&) override { return bound_; }

 private:
  Layout layout_;
  std::string y_;
  OwnedMat X_, xtx_;
  OwnedVec r_, diag_;
  PetscInt m_ = 0, nnz_ = 0, rows_local_ = 0;
  bool shared_ = true;
  PetscReal bound_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_least_squares(const Layout& layout, Mat X, const std::string& y) {
  return std::unique_ptr<Objective>(new LeastSquaresObjective(layout, X, y));
}

namespace objectives_detail {
std::unique_ptr<Objective> create_least_squares(const PartContext&) {
  FOLDOPT_CHECK(false, PETSC_ERR_ARG_WRONG,
                "objective 'least_squares' needs the matrix X: build it with foldopt::make_least_squares(layout, X, \"y\") "
                "(a problem such as lasso does)");
  return nullptr;
}
}  // namespace objectives_detail
}  // namespace foldopt
