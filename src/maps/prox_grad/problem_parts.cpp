// foldopt: a Problem's own functions as prox-gradient parts (see problem_parts.hpp).
//
// Method:  f from Problem::objective_gradient / hessian_mult / gradient_param(_t); h the indicator
//   of the problem's bounds, prox = projection P(z) = min(max(z, lb), ub).
// Algorithm (BoundsProx::linearize at z): masks D = [lb < z < ub], E_lb = [z ≤ lb],
//   E_ub = [z ≥ ub and not z ≤ lb]; J v = D v; (∂P/∂θ)ᵀ v = E_lb v into the lower-bound block and
//   E_ub v into the upper-bound block (Problem::lower_bound_block / upper_bound_block).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §6.4 (projections), §10.
#include "maps/prox_grad/problem_parts.hpp"

#include <foldopt/error.hpp>

namespace foldopt {
namespace detail {

Objective::Capabilities ProblemObjective::capabilities() const {
  Capabilities c;
  c.hessian = p_.has_hessian();
  c.hessian_diagonal = c.hessian;
  c.quadratic = p_.is_quadratic();
  return c;
}

OwnedMat ProblemObjective::hessian(Vec x, const ParamSet& theta) {
  OwnedMat H = p_.hessian(x, theta);
  FOLDOPT_CHECK(H, PETSC_ERR_SUP, "problem '%s' declares an assembled Hessian but gave none", p_.type().c_str());
  return H;
}

void ProblemObjective::hessian_diagonal(Vec x, const ParamSet& theta, Vec d) {
  OwnedMat H = hessian(x, theta);
  FOLDOPT_CALL(MatGetDiagonal(H, d));
}

void ProblemObjective::gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) {
  ParamSet t = out.zeros_like();
  p_.gradient_param_t(x, theta, v, t);
  out.axpy(1.0, t);
}

void ProblemObjective::gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) {
  OwnedVec t;
  FOLDOPT_CALL(VecDuplicate(y, t.out()));
  p_.gradient_param(x, theta, dtheta, t);
  FOLDOPT_CALL(VecAXPY(y, 1.0, t));
}

PetscReal ProblemObjective::curvature_bound(const ParamSet& theta) {
  // ‖∇²f‖∞ ≥ λmax for a quadratic (its Hessian is the same everywhere; read from the data, not
  // probed at a point). Other problems declare nothing: stepsize 1 unless the user sets one.
  if (!p_.is_quadratic() || !p_.has_hessian()) return 0;
  OwnedVec x = p_.create_vec();
  FOLDOPT_CALL(VecZeroEntries(x));
  OwnedMat H = hessian(x, theta);
  PetscReal nrm = 0;
  FOLDOPT_CALL(MatNorm(H, NORM_INFINITY, &nrm));
  return nrm;
}

BoundsProx::BoundsProx(Problem& p) : p_(p) {
  if (p_.has_bounds()) {
    lb_ = p_.create_vec();
    ub_ = p_.create_vec();
  }
  d_ = p_.create_vec();
  elb_ = p_.create_vec();
  eub_ = p_.create_vec();
  work_ = p_.create_vec();
}

Prox::Capabilities BoundsProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.factor = true;
  return c;
}

std::string BoundsProx::describe() const {
  return p_.has_bounds() ? "projection onto the bounds of problem '" + p_.type() + "'" : "identity (no bounds)";
}

void BoundsProx::apply(Vec z, PetscReal, const ParamSet& theta, Vec y) {
  if (!p_.has_bounds()) {
    if (y != z) FOLDOPT_CALL(VecCopy(z, y));
    return;
  }
  p_.bounds(theta, lb_, ub_);
  FOLDOPT_CALL(VecPointwiseMax(y, z, lb_));
  FOLDOPT_CALL(VecPointwiseMin(y, y, ub_));
}

void BoundsProx::linearize(Vec z, PetscReal, const ParamSet& theta) {
  const bool bounded = p_.has_bounds();
  if (bounded) p_.bounds(theta, lb_, ub_);
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(z, &nloc));
  const PetscScalar *zz, *lo = nullptr, *hi = nullptr;
  PetscScalar *d, *el, *eu;
  FOLDOPT_CALL(VecGetArrayRead(z, &zz));
  if (bounded) {
    FOLDOPT_CALL(VecGetArrayRead(lb_, &lo));
    FOLDOPT_CALL(VecGetArrayRead(ub_, &hi));
  }
  FOLDOPT_CALL(VecGetArray(d_, &d));
  FOLDOPT_CALL(VecGetArray(elb_, &el));
  FOLDOPT_CALL(VecGetArray(eub_, &eu));
  PetscInt nfree = 0;
  for (PetscInt i = 0; i < nloc; ++i) {
    const PetscReal zi = PetscRealPart(zz[i]);
    const bool at_lb = lo && zi <= PetscRealPart(lo[i]);
    const bool at_ub = !at_lb && hi && zi >= PetscRealPart(hi[i]);
    el[i] = at_lb ? 1.0 : 0.0;
    eu[i] = at_ub ? 1.0 : 0.0;
    d[i] = (at_lb || at_ub) ? 0.0 : 1.0;
    nfree += (at_lb || at_ub) ? 0 : 1;
  }
  FOLDOPT_CALL(VecRestoreArrayRead(z, &zz));
  if (bounded) {
    FOLDOPT_CALL(VecRestoreArrayRead(lb_, &lo));
    FOLDOPT_CALL(VecRestoreArrayRead(ub_, &hi));
  }
  FOLDOPT_CALL(VecRestoreArray(d_, &d));
  FOLDOPT_CALL(VecRestoreArray(elb_, &el));
  FOLDOPT_CALL(VecRestoreArray(eub_, &eu));
  MPI_Allreduce(&nfree, &nfree_, 1, MPIU_INT, MPI_SUM, p_.layout().comm);
}

void BoundsProx::jacobian_mult(Vec v, Vec y) { FOLDOPT_CALL(VecPointwiseMult(y, d_, v)); }

void BoundsProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CALL(VecCopy(d_, d));
  if (U) U->reset();
  if (c) c->reset();
}

void BoundsProx::param_t(Vec v, ParamSet& out) {
  const std::string lb = p_.lower_bound_block(), ub = p_.upper_bound_block();
  if (!lb.empty() && out.has(lb)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, elb_, v));
    FOLDOPT_CALL(VecAXPY(out.get(lb), 1.0, work_));
  }
  if (!ub.empty() && out.has(ub)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, eub_, v));
    FOLDOPT_CALL(VecAXPY(out.get(ub), 1.0, work_));
  }
}

void BoundsProx::param(const ParamSet& dtheta, Vec y) {
  const std::string lb = p_.lower_bound_block(), ub = p_.upper_bound_block();
  if (!lb.empty() && dtheta.has(lb)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, elb_, dtheta.get(lb)));
    FOLDOPT_CALL(VecAXPY(y, 1.0, work_));
  }
  if (!ub.empty() && dtheta.has(ub)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, eub_, dtheta.get(ub)));
    FOLDOPT_CALL(VecAXPY(y, 1.0, work_));
  }
}

}  // namespace detail
}  // namespace foldopt
