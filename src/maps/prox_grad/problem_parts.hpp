// foldopt: a Problem's own functions seen as the parts of a prox-gradient map (private).
//
//   ProblemObjective  f = the Problem's objective, gradient, Hessian and parameter products
//   bounds_prox       h = indicator of lb(θ) ≤ x ≤ ub(θ) from Problem::bounds: the box prox
//                     (prox/box.hpp) with the problem's bounds and bound blocks; h = 0 without
//                     bounds (the identity prox).
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

#include <memory>

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

/// h for a Problem without parts: the projection onto its bounds (BoxProx::from_function over
/// Problem::bounds, products into its bound blocks), or the identity without bounds.
std::unique_ptr<Prox> bounds_prox(Problem& p);

}  // namespace detail
}  // namespace foldopt

#endif
