// foldopt: projected gradient descent on a bound-constrained problem.
//
//   U(x; θ) = P_[lb,ub](x − α ∇ₓf(x; θ))
//
// Φ = D (I − α ∇²f),  Φᵀ v = (I − α ∇²f)(D v)            (∇²f symmetric)
// Ψᵀ v = −α (∂∇f/∂θ)ᵀ (D v)  +  E_lb v (into the lb block) + E_ub v (into the ub block)
// with z = x* − α∇f(x*) and the diagonal 0/1 masks D (free: lb < z < ub), E_lb (z ≤ lb) and
// E_ub (z ≥ ub, unless z ≤ lb). At a tie z = lb or z = ub the projection's generalized
// derivative is taken with respect to the bound (the entry counts as active); with lb = ub the
// entry belongs to lb.
#ifndef FOLDOPT_MAPS_PGD_HPP
#define FOLDOPT_MAPS_PGD_HPP

#include <foldopt/problem.hpp>
#include <foldopt/update_map.hpp>

namespace foldopt {

class PgdMap : public UpdateMap {
 public:
  /// PGD on `problem` (which must have bounds or be unconstrained, and outlive the map). The
  /// default stepsize is 1/‖∇²f‖∞ where the Hessian can be assembled (a bound on λmax), else 1.
  explicit PgdMap(Problem& problem, PetscReal stepsize = 0);

  std::string type() const override { return "pgd"; }
  const Layout& layout() const override { return problem_.layout(); }
  ParamSet create_params() const override { return problem_.params().zeros_like(); }
  void apply(Vec x, const ParamSet& theta, Vec y) override;
  void linearize(Vec x, const ParamSet& theta) override;
  void phi_t(Vec v, Vec y) override;
  void psi_t(Vec v, ParamSet& out) override;

  bool has_phi() const override { return true; }
  void phi(Vec u, Vec y) override;
  bool has_psi() const override { return true; }
  void psi(const ParamSet& dtheta, Vec y) override;
  bool has_diagonal() const override;
  void get_diagonal(Vec d) override;
  bool can_assemble() const override;
  OwnedMat assemble_phi() override;

  PetscReal stepsize() const override { return alpha_; }
  bool stepsize_is_free() const override { return true; }
  void set_stepsize(PetscReal alpha) override;
  OwnedMat stepsize_operator() override;
  std::string describe() const override;

  /// Number of free entries (D = 1) at the current linearization.
  PetscInt free_count() const { return nfree_; }
  /// The 0/1 masks at the current linearization.
  Vec free_mask() const { return d_; }

 private:
  void project(Vec z, Vec lb, Vec ub, Vec y) const;
  void check_linearized(const char* op) const;

  Problem& problem_;
  PetscReal alpha_;
  bool linearized_ = false;
  PetscInt nfree_ = 0;
  OwnedVec x_, lb_, ub_, d_, elb_, eub_, work_, work2_;
  ParamSet theta_;
  OwnedMat hess_;  ///< assembled Hessian at the linearization (if the problem has one)
};

}  // namespace foldopt

#endif  // FOLDOPT_MAPS_PGD_HPP
