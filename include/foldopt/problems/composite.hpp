// foldopt: a problem in composite form min_x f(x; θ) + h(x; θ), from its two parts.
//
// The base of the catalogue problems (sparsemax, topk, lasso, tv): it owns an Objective f and a
// Prox h (objective.hpp, prox.hpp), the layout and the parameter blocks θ, answers the Problem
// functions from f (forward solvers such as TAO use them), and names `prox_grad` as its map. A
// concrete problem adds its generator and file loader, its default forward solver, its report
// lines, and where it has them its constraints for TAO or IPOPT (Problem::bounds, equality) and a
// closed form.
#ifndef FOLDOPT_PROBLEMS_COMPOSITE_HPP
#define FOLDOPT_PROBLEMS_COMPOSITE_HPP

#include <foldopt/objective.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/prox.hpp>

#include <memory>
#include <string>

namespace foldopt {

class CompositeProblem : public Problem {
 public:
  std::string type() const override { return type_; }
  const Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "prox_grad"; }
  Objective* objective() override { return f_.get(); }
  Prox* prox() override { return h_.get(); }
  Vec known_solution() const override { return known_; }

 protected:
  CompositeProblem(const std::string& type, const Layout& layout) : type_(type), layout_(layout) {}
  /// Take the parts (their options prefixes are set to fold_objective_ and fold_prox_, so that
  /// -fold_prox_* and -fold_objective_* reach them).
  void set_parts(std::unique_ptr<Objective> f, std::unique_ptr<Prox> h);

  std::string type_;
  Layout layout_;
  ParamSet theta_;
  std::unique_ptr<Objective> f_;
  std::unique_ptr<Prox> h_;
  OwnedVec known_;  ///< a solution known in closed form (generated instances), or null
};

/// A composite problem constrained to lo ≤ x ≤ hi and Σᵢ x_bi = k per instance (the simplex
/// problems): the constraints are given to the forward solvers that take them (TAO almm, IPOPT).
class SumConstrainedProblem : public CompositeProblem {
 public:
  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& theta, Vec lb, Vec ub) override;
  PetscInt num_equality() const override { return layout_.batch; }
  void equality(Vec x, const ParamSet& theta, Vec c) override;
  OwnedMat equality_jacobian(Vec x, const ParamSet& theta) override;

 protected:
  SumConstrainedProblem(const std::string& type, PetscReal lo, PetscReal hi, PetscReal sum)
      : CompositeProblem(type, Layout()), lo_(lo), hi_(hi), sum_(sum) {}
  PetscReal lo_, hi_, sum_;
};

/// The layout of B instances of n unknowns with PETSc's split of B·n (every rank alike).
Layout batch_layout(MPI_Comm comm, PetscInt n, PetscInt batch);

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_COMPOSITE_HPP
