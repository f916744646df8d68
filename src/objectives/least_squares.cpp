// foldopt: the least-squares objective (`least_squares`), e.g. lasso's smooth part.
//
// Method:   f(x; y) = ½ ‖Xx − y‖²,  X sparse m×n fixed data, y the parameter block (B·m entries).
// Formulas: r = Xx − y;  ∇f = Xᵀr;  ∇²f v = Xᵀ(Xv);  ∇²f assembled = XᵀX (MatTransposeMatMult,
//           once: it does not depend on x or y; its diagonal stored);  diag ∇²f = Σᵢ X_ij² (column sums of X∘X);
//           (∂∇f/∂y)ᵀ v = −Xv (into y, B·m entries);  (∂∇f/∂y) dy = −Xᵀdy.
//           curvature_bound = ‖X‖₁‖X‖∞ ≥ ‖X‖₂² = λmax(XᵀX) (‖X‖₂² ≤ ‖X‖₁‖X‖∞, Hölder).
// Batches:  X is one instance's (m×n, applied to each instance: y_b has m entries) or
//           block-diagonal over the batch (B·m × B·n); kept as the block-diagonal operator.
// Values:   when θ holds the block `X.values` (X's stored nonzeros, matrix_parameter.hpp), X takes
//           its values from it, and with d∇f = dXᵀ r + Xᵀ(dX x):
//           (∂∇f/∂X)ᵀ v = G,  G_ij = r_i v_j + (Xv)_i x_j over the stored nonzeros (i, j), summed
//           over the instances when X is shared by the batch;  (∂∇f/∂X) dX = dXᵀ r + Xᵀ(dX x).
// References: Å. Björck, Numerical Methods for Least Squares Problems (SIAM 1996).
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>

#include "objectives/common.hpp"
#include "objectives/matrix_parameter.hpp"

namespace foldopt {

namespace {

class LeastSquaresObjective : public Objective {
 public:
  LeastSquaresObjective(const Layout& l, Mat X, const std::string& y, const std::string& values)
      : layout_(l), y_(y), X_((objectives_detail::check_layout(l, "least_squares"), X), l, "least_squares: X", false, values) {
    m_ = X_.info().m;
    shared_ = X_.info().shared;
    nnz_ = X_.info().nnz;
    FOLDOPT_CALL(MatCreateVecs(X_.op(), nullptr, r_.out()));
    FOLDOPT_CALL(MatGetLocalSize(X_.op(), &rows_local_, nullptr));
    derived();
  }

  std::string type() const override { return "least_squares"; }
  Capabilities capabilities() const override { return {true, true, true, true}; }
  std::string describe() const override {
    return detail::format("least_squares (X %" PetscInt_FMT " x %" PetscInt_FMT " per instance, %" PetscInt_FMT
                          " nonzeros%s, y block '%s'%s)",
                          m_, layout_.n, nnz_, shared_ && layout_.batch > 1 ? ", shared by the batch" : "", y_.c_str(),
                          X_.block().empty() ? "" : (", values from block '" + X_.block() + "' when given").c_str());
  }

  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override {
    residual(x, theta, r_);
    PetscReal nr;
    FOLDOPT_CALL(VecNorm(r_, NORM_2, &nr));
    if (g) FOLDOPT_CALL(MatMultTranspose(X_.op(), r_, g));
    return 0.5 * nr * nr;
  }
  void hessian_mult(Vec, const ParamSet& theta, Vec v, Vec y) override {
    sync(theta);
    FOLDOPT_CALL(MatMult(X_.op(), v, r_));
    FOLDOPT_CALL(MatMultTranspose(X_.op(), r_, y));
  }
  OwnedMat hessian(Vec, const ParamSet& theta) override {
    sync(theta);
    if (!xtx_) {
      OwnedMat P;
      FOLDOPT_CALL(MatTransposeMatMult(X_.op(), X_.op(), MAT_INITIAL_MATRIX, PETSC_DEFAULT, P.out()));
      // the diagonal stored (explicit zeros for empty columns of X), so a map can shift it
      xtx_ = std::move(objectives_detail::batch_operator(P, layout_, "least_squares: X'X", true).A);
      FOLDOPT_CALL(MatSetOption(xtx_, MAT_SYMMETRIC, PETSC_TRUE));
    }
    return OwnedMat::share(xtx_);
  }
  void hessian_diagonal(Vec, const ParamSet& theta, Vec d) override {
    sync(theta);
    if (!diag_) diag_ = objectives_detail::column_sums(X_.op(), 2);
    FOLDOPT_CALL(VecCopy(diag_, d));
  }
  void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) override {
    sync(theta);
    OwnedVec xv;
    FOLDOPT_CALL(VecDuplicate(r_, xv.out()));
    FOLDOPT_CALL(MatMult(X_.op(), v, xv));
    if (out.has(y_)) FOLDOPT_CALL(VecAXPY(out.get(y_), -1.0, xv));
    if (X_.in(out)) {  // G = r vᵀ + (Xv) xᵀ on the pattern
      OwnedVec r;
      FOLDOPT_CALL(VecDuplicate(r_, r.out()));
      residual(x, theta, r);
      OwnedVec G1 = X_.outer(r, v), G2 = X_.outer(xv, x);
      FOLDOPT_CALL(VecAXPBYPCZ(out.get(X_.block()), 1.0, 1.0, 1.0, G1, G2));
    }
  }
  void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) override {
    sync(theta);
    OwnedVec t;
    FOLDOPT_CALL(VecDuplicate(y, t.out()));
    if (dtheta.has(y_)) {
      FOLDOPT_CALL(MatMultTranspose(X_.op(), dtheta.get(y_), t));
      FOLDOPT_CALL(VecAXPY(y, -1.0, t));
    }
    if (X_.in(dtheta)) {  // dXᵀ r + Xᵀ (dX x)
      OwnedMat dX = X_.direction(dtheta.get(X_.block()));
      OwnedVec r, dxx;
      FOLDOPT_CALL(VecDuplicate(r_, r.out()));
      FOLDOPT_CALL(VecDuplicate(r_, dxx.out()));
      residual(x, theta, r);
      FOLDOPT_CALL(MatMultTransposeAdd(dX, r, y, y));
      FOLDOPT_CALL(MatMult(dX, x, dxx));
      FOLDOPT_CALL(MatMultTransposeAdd(X_.op(), dxx, y, y));
    }
  }
  PetscReal curvature_bound(const ParamSet& theta) override {
    sync(theta);
    return bound_;
  }

 private:
  /// X's values from θ's block, when it has one; what depends on them is recomputed.
  void sync(const ParamSet& theta) {
    if (!X_.sync(theta)) return;
    xtx_.reset();
    diag_.reset();
    derived();
  }
  void derived() {
    PetscReal ninf = 0;
    FOLDOPT_CALL(MatNorm(X_.op(), NORM_INFINITY, &ninf));
    bound_ = objectives_detail::norm_one(X_.op()) * ninf;
  }
  /// r = Xx − y.
  void residual(Vec x, const ParamSet& theta, Vec r) {
    Vec y = objectives_detail::instance_block(theta, y_, layout_.batch * m_, rows_local_, "least_squares");
    sync(theta);
    FOLDOPT_CALL(MatMult(X_.op(), x, r));
    FOLDOPT_CALL(VecAXPY(r, -1.0, y));
  }

  Layout layout_;
  std::string y_;
  objectives_detail::MatrixParameter X_;
  OwnedMat xtx_;
  OwnedVec r_, diag_;
  PetscInt m_ = 0, nnz_ = 0, rows_local_ = 0;
  bool shared_ = true;
  PetscReal bound_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_least_squares(const Layout& layout, Mat X, const std::string& y,
                                              const std::string& values) {
  return std::unique_ptr<Objective>(new LeastSquaresObjective(layout, X, y, values));
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
