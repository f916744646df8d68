// foldopt: a Problem's own functions seen as the parts of a prox-gradient map (private).
//
//   ProblemObjective  f = the Problem's objective, gradient, Hessian and parameter products
//   BoundsProx        h = indicator of lb(θ) ≤ x ≤ ub(θ) from Problem::bounds (h = 0 without
//                     bounds): P(z) = clamp(z, lb, ub), J = D = [lb < z < ub] (0/1 diagonal; a tie
//                     counts as active), (∂P/∂lb)ᵀ v = E_lb v, (∂P/∂ub)ᵀ v = E_ub v into the
//                     problem's bound blocks, E_lb = [z ≤ lb], E_ub = [z ≥ ub, not z ≤ lb].
// They let `pgd` run on any Problem, including a user's that knows nothing of the parts.
//
// Method: the Problem's functions passed through as an Objective; the projection onto the bounds as
//   a Prox (clamp, 0/1 masks).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §6.4 (projections onto
//   boxes).
#ifndef FOLDOPT_SRC_MAPS_PROX_GRAD_PROBLEM_PARTS_HPP
#define FOLDOPT_SRC_MAPS_PROX_GRAD_PROBLEM_PARTS_HPP

#include <foldopt/objective.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/prox.hpp>

namespace foldopt {
namespace detail {

class ProblemObjective : public Objective {
 public:
  explicit ProblemObjective(Problem& p) : p_(p) {}
  std::string type() const override { return "problem"; }
  Capabilities capabilities() const override;
  std::string describe() const override { return "objective of problem '" + p_.type() + "'"; }
  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override { return p_.objective_gradient(x, theta, g); }
  void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) override { p_.hessian_mult(x, theta, v, y); }
  OwnedMat hessian(Vec x, const ParamSet& theta) override;
  void hessian_diagonal(Vec x, const ParamSet& theta, Vec d) override;
  void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) override;
  void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) override;
  PetscReal curvature_bound(const ParamSet& theta) override;

 private:
  Problem& p_;
};

class BoundsProx : public Prox {
 public:
  explicit BoundsProx(Problem& p);
  std::string type() const override { return p_.has_bounds() ? "bounds" : "identity"; }
  Capabilities capabilities() const override;
  std::string describe() const override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override { jacobian_mult(v, y); }
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  PetscInt free_count() const override { return nfree_; }

 private:
  Problem& p_;
  OwnedVec lb_, ub_, d_, elb_, eub_, work_;
  PetscInt nfree_ = -1;
};

}  // namespace detail
}  // namespace foldopt

#endif
