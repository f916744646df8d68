// foldopt: the quadratic objective (`quadratic`).
//
// Method:   f(x; q) = ½ xᵀHx − qᵀx,  H sparse symmetric fixed data (H = I when none is given),
//           q the parameter block (per instance).
// Formulas: ∇f = Hx − q;  ∇²f = H (assembled: H itself; diagonal: diag H);
//           (∂∇f/∂q)ᵀ v = −v;  (∂∇f/∂q) dq = −dq.
//           curvature_bound = ‖H‖∞ ≥ λmax(H) (every eigenvalue is bounded by an induced norm).
// Batches:  H is one instance's (n×n, applied to each) or block-diagonal over the batch; the
//           objective keeps the block-diagonal operator (common.hpp).
// Values:   when θ holds the block `H.values` (H's stored nonzeros, matrix_parameter.hpp), H takes
//           its values from it; each stored entry is its own parameter (a symmetric change moves
//           both H_ij and H_ji; H from θ is not re-checked for symmetry), and with ∇f = Hx − q:
//           (∂∇f/∂H)ᵀ v = v_i x_j over the stored nonzeros (i, j), summed over the instances
//           when H is shared by the batch;  (∂∇f/∂H) dH = dH x.
// References: J. Nocedal, S. Wright, Numerical Optimization (2nd ed., Springer 2006), ch. 16.
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include "objectives/common.hpp"
#include "objectives/matrix_parameter.hpp"

#include <memory>

namespace foldopt {

namespace {

class QuadraticObjective : public Objective {
 public:
  QuadraticObjective(const Layout& l, Mat H, const std::string& q, bool convex, const std::string& values)
      : layout_(l), q_(q), convex_(convex) {
    objectives_detail::check_layout(l, "quadratic");
    if (H) {
      H_.reset(new objectives_detail::MatrixParameter(H, l, "quadratic: H", true, values));
      // on the given matrix when it is square by its split (cheaper than on the batch operator)
      objectives_detail::check_symmetric(objectives_detail::symmetric_split(H) ? H : H_->op(), "quadratic: H");
      shared_ = H_->info().shared;
      nnz_ = H_->info().nnz;
      FOLDOPT_CALL(MatSetOption(H_->op(), MAT_SYMMETRIC, PETSC_TRUE));
      FOLDOPT_CALL(MatNorm(H_->op(), NORM_INFINITY, &bound_));
    } else {
      bound_ = 1;
    }
  }

  std::string type() const override { return "quadratic"; }
  Capabilities capabilities() const override { return {true, true, true, convex_, !H_}; }
  std::string describe() const override {
    if (!H_) return "quadratic (H = I, q block '" + q_ + "')";
    return detail::format("quadratic (H %" PetscInt_FMT " nonzeros%s, q block '%s'%s%s)", nnz_,
                          shared_ && layout_.batch > 1 ? ", shared by the batch" : "", q_.c_str(),
                          H_->block().empty() ? "" : (", values from block '" + H_->block() + "' when given").c_str(),
                          convex_ ? "" : ", declared nonconvex");
  }

  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override {
    Vec q = objectives_detail::instance_block(theta, q_, layout_.global(), layout_.local, "quadratic");
    sync(theta);
    OwnedVec hx;
    FOLDOPT_CALL(VecDuplicate(x, hx.out()));
    apply(x, hx);
    PetscScalar xhx, qx;
    FOLDOPT_CALL(VecDot(x, hx, &xhx));
    FOLDOPT_CALL(VecDot(q, x, &qx));
    if (g) FOLDOPT_CALL(VecWAXPY(g, -1.0, q, hx));
    return PetscRealPart(0.5 * xhx - qx);
  }

  void hessian_mult(Vec, const ParamSet& theta, Vec v, Vec y) override {
    sync(theta);
    apply(v, y);
  }

  OwnedMat hessian(Vec x, const ParamSet& theta) override {
    sync(theta);
    if (H_) return OwnedMat::share(H_->op());
    if (!identity_) {
      OwnedVec one;
      FOLDOPT_CALL(VecDuplicate(x, one.out()));
      FOLDOPT_CALL(VecSet(one, 1.0));
      identity_ = objectives_detail::diagonal_matrix(one);
    }
    return OwnedMat::share(identity_);
  }

  void hessian_diagonal(Vec, const ParamSet& theta, Vec d) override {
    sync(theta);
    if (H_)
      FOLDOPT_CALL(MatGetDiagonal(H_->op(), d));
    else
      FOLDOPT_CALL(VecSet(d, 1.0));
  }

  void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) override {
    if (out.has(q_)) FOLDOPT_CALL(VecAXPY(out.get(q_), -1.0, v));
    if (H_ && H_->in(out)) {
      sync(theta);
      OwnedVec G = H_->outer(v, x);
      FOLDOPT_CALL(VecAXPY(out.get(H_->block()), 1.0, G));
    }
  }

  void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) override {
    if (dtheta.has(q_)) FOLDOPT_CALL(VecAXPY(y, -1.0, dtheta.get(q_)));
    if (H_ && H_->in(dtheta)) {
      sync(theta);
      OwnedMat dH = H_->direction(dtheta.get(H_->block()));
      FOLDOPT_CALL(MatMultAdd(dH, x, y, y));
    }
  }

  PetscReal curvature_bound(const ParamSet& theta) override {
    sync(theta);
    return bound_;
  }

 private:
  /// H's values from θ's block, when it has one (the bound follows them).
  void sync(const ParamSet& theta) {
    if (H_ && H_->sync(theta)) FOLDOPT_CALL(MatNorm(H_->op(), NORM_INFINITY, &bound_));
  }
  void apply(Vec v, Vec y) const {
    if (H_)
      FOLDOPT_CALL(MatMult(H_->op(), v, y));
    else
      FOLDOPT_CALL(VecCopy(v, y));
  }

  Layout layout_;
  std::string q_;
  bool convex_;
  std::unique_ptr<objectives_detail::MatrixParameter> H_;
  OwnedMat identity_;
  bool shared_ = true;
  PetscInt nnz_ = 0;
  PetscReal bound_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_quadratic(const Layout& layout, Mat H, const std::string& q, bool convex,
                                          const std::string& values) {
  return std::unique_ptr<Objective>(new QuadraticObjective(layout, H, q, convex, values));
}

namespace objectives_detail {

/// By name: H from the context's problem, which must declare itself quadratic (its assembled
/// Hessian, the same at every x); without a problem H = I. q is the block `q`.
std::unique_ptr<Objective> create_quadratic(const PartContext& ctx) {
  OwnedMat H;
  if (ctx.problem) {
    FOLDOPT_CHECK(ctx.problem->is_quadratic(), PETSC_ERR_ARG_WRONG,
                  "objective 'quadratic' by name takes H from the problem, but problem '%s' is not quadratic "
                  "(build the objective with foldopt::make_quadratic(layout, H, \"q\"))",
                  ctx.problem->type().c_str());
    OwnedVec x0 = ctx.problem->create_vec();
    FOLDOPT_CALL(VecZeroEntries(x0));
    H = ctx.problem->hessian(x0, ctx.problem->params());
    FOLDOPT_CHECK(H, PETSC_ERR_SUP, "objective 'quadratic': problem '%s' is quadratic but gives no assembled Hessian",
                  ctx.problem->type().c_str());
  }
  auto f = make_quadratic(ctx.layout, H, "q");
  f->set_options_prefix(ctx.prefix);
  return f;
}

}  // namespace objectives_detail
}  // namespace foldopt
