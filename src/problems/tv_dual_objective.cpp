// foldopt: the smooth part of TV's dual (objective `tv_dual`); see tv_dual_objective.hpp.
//
// Method:   f(y; d, D) = ½‖Dᵀy − d‖²,  r = Dᵀy − d.
// Formulas: ∇f = D r;  ∇²f v = D(Dᵀv);  ∇²f assembled = D Dᵀ (Dᵀ by MatTranspose, then MatMatMult;
//           once per D: it does not depend on y or d);  diag ∇²f = Σ_j D_ij² (row sums of D∘D);
//           curvature bound ‖D‖₁‖D‖∞ ≥ ‖D‖₂² = λmax(DDᵀ) (Hölder);
//           (∂∇f/∂d)ᵀ v = −Dᵀv;  (∂∇f/∂d) dd = −D dd;
//           d(vᵀ∇f) = vᵀ dD r + vᵀ D dDᵀ y, so (∂∇f/∂D)ᵀ v = G with G_ij = v_i r_j + y_i (Dᵀv)_j on
//           D's stored nonzeros (summed over the instances), and (∂∇f/∂D) dD = dD r + D (dDᵀ y).
// Algorithm: the products run on the batch operator kron(I_B, D) (objectives/common.hpp); the
//           values block is synchronized by the Vec's id and state (MatrixParameter), and what
//           depends on D (DDᵀ, the bound) is recomputed when it changes.
// References: A. Chambolle, J. Math. Imaging Vis. 20 (2004) 89–97 (the dual of TV).
#include "problems/tv_dual_objective.hpp"

#include <foldopt/error.hpp>

#include "objectives/common.hpp"

namespace foldopt {

TvDualObjective::TvDualObjective(const Layout& state, const Layout& solution, Mat D, const std::string& values)
    : state_(state), sol_(solution), D_(D, solution, "tv: D", false, values) {
  FOLDOPT_CALL(MatCreateVecs(D_.op(), r_.out(), nullptr));
  FOLDOPT_CALL(VecDuplicate(r_, t_.out()));
  derived();
}

std::string TvDualObjective::describe() const {
  return detail::format("tv_dual 1/2 ||D^T y - d||^2 (D %" PetscInt_FMT " x %" PetscInt_FMT ", %" PetscInt_FMT " nonzeros%s)",
                        state_.n, sol_.n, D_.info().nnz, D_.block().empty() ? ", fixed" : ", values from block D.values");
}

PetscReal TvDualObjective::value_gradient(Vec y, const ParamSet& theta, Vec g) {
  residual(y, theta, r_);
  PetscReal nr;
  FOLDOPT_CALL(VecNorm(r_, NORM_2, &nr));
  if (g) FOLDOPT_CALL(MatMult(D_.op(), r_, g));
  return 0.5 * nr * nr;
}

void TvDualObjective::hessian_mult(Vec, const ParamSet& theta, Vec v, Vec out) {
  sync(theta);
  FOLDOPT_CALL(MatMultTranspose(D_.op(), v, t_));
  FOLDOPT_CALL(MatMult(D_.op(), t_, out));
}

OwnedMat TvDualObjective::hessian(Vec, const ParamSet& theta) {
  sync(theta);
  if (!ddt_) {
    OwnedMat Dt;
    FOLDOPT_CALL(MatTranspose(D_.op(), MAT_INITIAL_MATRIX, Dt.out()));
    FOLDOPT_CALL(MatMatMult(D_.op(), Dt, MAT_INITIAL_MATRIX, PETSC_DEFAULT, ddt_.out()));
    FOLDOPT_CALL(MatSetOption(ddt_, MAT_SYMMETRIC, PETSC_TRUE));
  }
  return OwnedMat::share(ddt_);
}

void TvDualObjective::hessian_diagonal(Vec, const ParamSet& theta, Vec dg) {
  sync(theta);
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(D_.op(), &rs, &re));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(dg, &a));
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    const PetscScalar* v;
    FOLDOPT_CALL(MatGetRow(D_.op(), i, &nc, nullptr, &v));
    PetscScalar s = 0;
    for (PetscInt k = 0; k < nc; ++k) s += v[k] * v[k];
    a[i - rs] = s;
    FOLDOPT_CALL(MatRestoreRow(D_.op(), i, &nc, nullptr, &v));
  }
  FOLDOPT_CALL(VecRestoreArray(dg, &a));
}

void TvDualObjective::gradient_param_t(Vec y, const ParamSet& theta, Vec v, ParamSet& out) {
  sync(theta);
  OwnedVec dtv;
  FOLDOPT_CALL(VecDuplicate(r_, dtv.out()));
  FOLDOPT_CALL(MatMultTranspose(D_.op(), v, dtv));  // Dᵀv
  if (out.has("d")) FOLDOPT_CALL(VecAXPY(out.get("d"), -1.0, dtv));
  if (D_.in(out)) {  // G = v rᵀ + y (Dᵀv)ᵀ on the pattern
    OwnedVec r;
    FOLDOPT_CALL(VecDuplicate(r_, r.out()));
    residual(y, theta, r);
    OwnedVec G1 = D_.outer(v, r), G2 = D_.outer(y, dtv);
    FOLDOPT_CALL(VecAXPBYPCZ(out.get(D_.block()), 1.0, 1.0, 1.0, G1, G2));
  }
}

void TvDualObjective::gradient_param(Vec y, const ParamSet& theta, const ParamSet& dtheta, Vec out) {
  sync(theta);
  OwnedVec s;
  FOLDOPT_CALL(VecDuplicate(out, s.out()));
  if (dtheta.has("d")) {
    FOLDOPT_CALL(MatMult(D_.op(), dtheta.get("d"), s));
    FOLDOPT_CALL(VecAXPY(out, -1.0, s));
  }
  if (D_.in(dtheta)) {  // dD r + D dDᵀ y
    OwnedMat dD = D_.direction(dtheta.get(D_.block()));
    OwnedVec r, w;
    FOLDOPT_CALL(VecDuplicate(r_, r.out()));
    FOLDOPT_CALL(VecDuplicate(r_, w.out()));
    residual(y, theta, r);
    FOLDOPT_CALL(MatMultAdd(dD, r, out, out));
    FOLDOPT_CALL(MatMultTranspose(dD, y, w));
    FOLDOPT_CALL(MatMultAdd(D_.op(), w, out, out));
  }
}

PetscReal TvDualObjective::curvature_bound(const ParamSet& theta) {
  sync(theta);
  return bound_;
}

Mat TvDualObjective::op(const ParamSet& theta) {
  sync(theta);
  return D_.op();
}

void TvDualObjective::sync(const ParamSet& theta) {
  if (!D_.sync(theta)) return;
  ddt_.reset();
  derived();
}

void TvDualObjective::derived() {
  PetscReal ninf = 0;
  FOLDOPT_CALL(MatNorm(D_.op(), NORM_INFINITY, &ninf));
  bound_ = objectives_detail::norm_one(D_.op()) * ninf;
}

void TvDualObjective::residual(Vec y, const ParamSet& theta, Vec r) {
  Vec d = objectives_detail::instance_block(theta, "d", sol_.global(), sol_.local, "tv");
  sync(theta);
  FOLDOPT_CALL(MatMultTranspose(D_.op(), y, r));
  FOLDOPT_CALL(VecAXPY(r, -1.0, d));
}

}  // namespace foldopt
