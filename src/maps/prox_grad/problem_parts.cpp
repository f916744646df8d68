// foldopt: a Problem's own functions as prox-gradient parts (see problem_parts.hpp).
//
// Method:  f from Problem::objective_gradient / hessian_mult / gradient_param(_t); h the indicator
//   of the problem's bounds: the box prox (src/prox/box.cpp, its masks and products) with the
//   bounds from Problem::bounds and the products into Problem::lower_bound_block /
//   upper_bound_block.
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §6.4 (projections), §10.
#include "maps/prox_grad/problem_parts.hpp"

#include <foldopt/error.hpp>
#include <foldopt/prox/box.hpp>
#include <foldopt/prox/identity.hpp>

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

std::unique_ptr<Prox> bounds_prox(Problem& p) {
  if (!p.has_bounds()) return std::unique_ptr<Prox>(new IdentityProx(p.layout()));
  Problem* q = &p;
  return BoxProx::from_function(
      p.layout(), [q](const ParamSet& theta, Vec lb, Vec ub) { q->bounds(theta, lb, ub); }, p.lower_bound_block(),
      p.upper_bound_block(), "the bounds of problem '" + p.type() + "'");
}

}  // namespace detail
}  // namespace foldopt
