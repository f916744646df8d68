// foldopt: mean-variance portfolio selection (problem `portfolio`)
//
//   x*(c, γ) = argmax_x cᵀx   subject to  xᵀVx ≤ γ,  Σᵢ xᵢ = 1,  x ≥ 0      (per instance)
//
// with the parameter blocks `c` (expected returns, one vector per instance) and `gamma` (the risk
// budget, a scalar shared by the batch; its gradient is the sum over the instances, written as a
// 1×1 file); V (the covariance, SPD, shared by the batch) is data. As a Problem: f = −cᵀx (the
// `linear` objective), c_E = Σx − 1 and c_I = xᵀVx − γ per instance, bounds 0 ≤ x, and the
// Lagrangian Hessian 2 y_I V per instance (block diagonal over the batch); ∂c_I/∂γ = −1. The
// default map is `sqp` (the SQP step on (x, y_E, y_I)), the default forward `ipopt` where it is
// built, else `tao` (almm); both give the multipliers the map's state needs.
// Generated instances (-n N -batch B -seed S, the same at any number of ranks): c uniform in
// [0, 1), V = F Fᵀ + diag(d) with r = 3 factors F uniform in [−0.5, 0.5) and d uniform in [0.05,
// 0.25) (SPD), and γ = min over the instances of x₀ᵀVx₀ + (V_jj − x₀ᵀVx₀)/4 with x₀ = 1/n and j the
// instance's best return: x₀ is strictly feasible and the vertex e_j, the optimum without the risk
// constraint, is not, so the risk constraint is active at x* (otherwise every gradient would be 0).
// Files: -c FILE (n entries, or an n×B array), -Vmat FILE (n×n, symmetric), -gamma G (> 0; needed
// with files, optional with a generated instance, whose γ it replaces).
#ifndef FOLDOPT_PROBLEMS_PORTFOLIO_HPP
#define FOLDOPT_PROBLEMS_PORTFOLIO_HPP

#include <foldopt/objective.hpp>
#include <foldopt/problem.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace foldopt {

class Portfolio : public Problem {
 public:
  /// From V (n×n, symmetric; a new reference is taken), c (B·n entries) and γ > 0.
  Portfolio(Mat V, Vec c, PetscInt batch, PetscReal gamma, bool generated = false);
  static std::unique_ptr<Portfolio> generate(MPI_Comm comm, PetscInt n, PetscInt batch, unsigned long seed);
  static std::unique_ptr<Portfolio> from_options(MPI_Comm comm);

  std::string type() const override { return "portfolio"; }
  const Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "sqp"; }
  /// ipopt where it is built in, else tao (almm).
  std::string default_forward() const override;
  void view(PetscViewer viewer) const override;
  std::vector<std::pair<std::string, Mat>> data_matrices() const override { return {{"V", V_.get()}}; }
  Objective* objective() override { return f_.get(); }

  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& theta, Vec lb, Vec ub) override;
  PetscInt num_equality() const override { return layout_.batch; }
  PetscInt num_inequality() const override { return layout_.batch; }
  void equality(Vec x, const ParamSet& theta, Vec c) override;
  void inequality(Vec x, const ParamSet& theta, Vec c) override;
  OwnedMat equality_jacobian(Vec x, const ParamSet& theta) override;
  OwnedMat inequality_jacobian(Vec x, const ParamSet& theta) override;
  OwnedMat lagrangian_hessian(Vec x, const ParamSet& theta, Vec y_eq, Vec y_ineq) override;
  void constraint_param_t(Vec x, const ParamSet& theta, Vec u_eq, Vec u_ineq, ParamSet& out) override;
  void constraint_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec c_eq, Vec c_ineq) override;

  Mat V() const { return V_; }
  PetscReal gamma() const;

 private:
  Layout layout_;
  ParamSet theta_;
  OwnedMat V_, Vbig_;  ///< V, and V on every instance's block (block diagonal, x's layout)
  OwnedVec w_;         ///< work: Vbig x
  std::unique_ptr<Objective> f_;
  bool generated_;
};

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_PORTFOLIO_HPP
