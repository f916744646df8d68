// foldopt: a nonconvex test objective (`sin_quadratic`).
//
// Method:   f(x; p) = ½ xᵀQx + pᵀ sin x,  Q sparse symmetric fixed data, p the parameter block.
// Formulas: ∇f = Qx + p∘cos x;  ∇²f = Q − diag(p∘sin x) (assembled: a copy of Q, whose diagonal
//           is stored, plus that diagonal);  diag ∇²f = diag Q − p∘sin x;
//           (∂∇f/∂p)ᵀ v = cos x ∘ v;  (∂∇f/∂p) dp = cos x ∘ dp.
//           curvature_bound = ‖Q‖∞ + ‖p‖∞ ≥ λmax(Q) + max|pᵢ sin xᵢ| ≥ λmax(∇²f) (Weyl).
//           convex = false (for p ≠ 0, ∇²f is indefinite where sin x has the sign of p and
//           |p| exceeds λmin(Q)).
// Batches:  Q one instance's (n×n) or block-diagonal over the batch.
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include "objectives/common.hpp"

#include <cmath>

namespace foldopt {

namespace {

class SinQuadraticObjective : public Objective {
 public:
  SinQuadraticObjective(const Layout& l, Mat Q, const std::string& p) : layout_(l), p_(p) {
    objectives_detail::check_layout(l, "sin_quadratic");
    objectives_detail::BatchOperator op = objectives_detail::batch_operator(Q, l, "sin_quadratic: Q", true);
    Q_ = std::move(op.A);
    // on the given matrix when it is square by its split (cheaper than on the batch operator)
    objectives_detail::check_symmetric(objectives_detail::symmetric_split(Q) ? Q : Q_, "sin_quadratic: Q");
    nnz_ = op.nnz;
    FOLDOPT_CALL(MatNorm(Q_, NORM_INFINITY, &qnorm_));
    FOLDOPT_CALL(MatCreateVecs(Q_, work_.out(), nullptr));
  }
  std::string type() const override { return "sin_quadratic"; }
  Capabilities capabilities() const override { return {true, true, false, false}; }
  std::string describe() const override {
    return detail::format("sin_quadratic (Q %" PetscInt_FMT " nonzeros, p block '%s', nonconvex)", nnz_, p_.c_str());
  }

  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override {
    Vec p = block(theta);
    FOLDOPT_CALL(MatMult(Q_, x, work_));
    PetscScalar xqx;
    FOLDOPT_CALL(VecDot(x, work_, &xqx));
    if (g) FOLDOPT_CALL(VecCopy(work_, g));
    PetscInt nl;
    FOLDOPT_CALL(VecGetLocalSize(x, &nl));
    const PetscScalar *xa, *pa;
    PetscScalar* ga = nullptr;
    FOLDOPT_CALL(VecGetArrayRead(x, &xa));
    FOLDOPT_CALL(VecGetArrayRead(p, &pa));
    if (g) FOLDOPT_CALL(VecGetArray(g, &ga));
    PetscReal local = 0;
    for (PetscInt i = 0; i < nl; ++i) {
      const PetscReal xi = PetscRealPart(xa[i]), pi = PetscRealPart(pa[i]);
      local += pi * std::sin(xi);
      if (ga) ga[i] += pi * std::cos(xi);
    }
    if (g) FOLDOPT_CALL(VecRestoreArray(g, &ga));
    FOLDOPT_CALL(VecRestoreArrayRead(p, &pa));
    FOLDOPT_CALL(VecRestoreArrayRead(x, &xa));
    PetscReal sum = 0;
    MPI_Allreduce(&local, &sum, 1, MPIU_REAL, MPIU_SUM, layout_.comm);
    return 0.5 * PetscRealPart(xqx) + sum;
  }

  void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) override {
    OwnedVec d = curvature_term(x, theta);  // p∘sin x
    FOLDOPT_CALL(MatMult(Q_, v, y));
    FOLDOPT_CALL(VecPointwiseMult(d, d, v));
    FOLDOPT_CALL(VecAXPY(y, -1.0, d));
  }
  OwnedMat hessian(Vec x, const ParamSet& theta) override {
    OwnedVec d = curvature_term(x, theta);
    FOLDOPT_CALL(VecScale(d, -1.0));
    OwnedMat H;
    FOLDOPT_CALL(MatDuplicate(Q_, MAT_COPY_VALUES, H.out()));
    FOLDOPT_CALL(MatDiagonalSet(H, d, ADD_VALUES));  // the diagonal is stored (batch_operator)
    FOLDOPT_CALL(MatSetOption(H, MAT_SYMMETRIC, PETSC_TRUE));
    return H;
  }
  void hessian_diagonal(Vec x, const ParamSet& theta, Vec d) override {
    OwnedVec s = curvature_term(x, theta);
    FOLDOPT_CALL(MatGetDiagonal(Q_, d));
    FOLDOPT_CALL(VecAXPY(d, -1.0, s));
  }
  void gradient_param_t(Vec x, const ParamSet&, Vec v, ParamSet& out) override {
    if (!out.has(p_)) return;
    OwnedVec c = cos_of(x);
    FOLDOPT_CALL(VecPointwiseMult(c, c, v));
    FOLDOPT_CALL(VecAXPY(out.get(p_), 1.0, c));
  }
  void gradient_param(Vec x, const ParamSet&, const ParamSet& dtheta, Vec y) override {
    if (!dtheta.has(p_)) return;
    OwnedVec c = cos_of(x);
    FOLDOPT_CALL(VecPointwiseMult(c, c, dtheta.get(p_)));
    FOLDOPT_CALL(VecAXPY(y, 1.0, c));
  }
  PetscReal curvature_bound(const ParamSet& theta) override {
    PetscReal pn = 0;
    FOLDOPT_CALL(VecNorm(block(theta), NORM_INFINITY, &pn));
    return qnorm_ + pn;
  }

 private:
  Vec block(const ParamSet& theta) const {
    return objectives_detail::instance_block(theta, p_, layout_.global(), layout_.local, "sin_quadratic");
  }
  /// f(xᵢ) entry by entry, into a new vector like x.
  template <typename F>
  static OwnedVec map_entries(Vec x, Vec p, F f) {
    OwnedVec out;
    FOLDOPT_CALL(VecDuplicate(x, out.out()));
    PetscInt nl;
    FOLDOPT_CALL(VecGetLocalSize(x, &nl));
    const PetscScalar *xa, *pa = nullptr;
    PetscScalar* oa;
    FOLDOPT_CALL(VecGetArrayRead(x, &xa));
    if (p) FOLDOPT_CALL(VecGetArrayRead(p, &pa));
    FOLDOPT_CALL(VecGetArray(out, &oa));
    for (PetscInt i = 0; i < nl; ++i) oa[i] = f(PetscRealPart(xa[i])) * (pa ? PetscRealPart(pa[i]) : 1.0);
    FOLDOPT_CALL(VecRestoreArray(out, &oa));
    if (p) FOLDOPT_CALL(VecRestoreArrayRead(p, &pa));
    FOLDOPT_CALL(VecRestoreArrayRead(x, &xa));
    return out;
  }
  OwnedVec curvature_term(Vec x, const ParamSet& theta) const {
    return map_entries(x, block(theta), [](PetscReal t) { return std::sin(t); });
  }
  static OwnedVec cos_of(Vec x) {
    return map_entries(x, nullptr, [](PetscReal t) { return std::cos(t); });
  }

  Layout layout_;
  std::string p_;
  OwnedMat Q_;
  OwnedVec work_;
  PetscInt nnz_ = 0;
  PetscReal qnorm_ = 0;
};

}  // namespace

std::unique_ptr<Objective> make_sin_quadratic(const Layout& layout, Mat Q, const std::string& p) {
  return std::unique_ptr<Objective>(new SinQuadraticObjective(layout, Q, p));
}

namespace objectives_detail {
/// By name: Q from the context's problem when it declares itself quadratic; otherwise refused.
std::unique_ptr<Objective> create_sin_quadratic(const PartContext& ctx) {
  FOLDOPT_CHECK(ctx.problem && ctx.problem->is_quadratic(), PETSC_ERR_ARG_WRONG,
                "objective 'sin_quadratic' needs the matrix Q: build it with foldopt::make_sin_quadratic(layout, Q, \"p\"), "
                "or by name with a quadratic problem, whose Hessian is taken as Q");
  OwnedVec x0 = ctx.problem->create_vec();
  FOLDOPT_CALL(VecZeroEntries(x0));
  OwnedMat Q = ctx.problem->hessian(x0, ctx.problem->params());
  FOLDOPT_CHECK(Q, PETSC_ERR_SUP, "objective 'sin_quadratic': problem '%s' gives no assembled Hessian",
                ctx.problem->type().c_str());
  auto f = make_sin_quadratic(ctx.layout, Q, "p");
  f->set_options_prefix(ctx.prefix);
  return f;
}
}  // namespace objectives_detail
}  // namespace foldopt
