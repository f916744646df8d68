// foldopt: the SQP update map (`-fold_map_type sqp`), one step of sequential quadratic
// programming on the primal-dual state of a smooth constrained problem
//
//   min_x f(x; θ)  s.t.  c_E(x; θ) = 0,  c_I(x; θ) ≤ 0,  lb(θ) ≤ x ≤ ub(θ)
//
// State s = (x, y_E, y_I) (the multipliers in the convention of struct Multipliers, forward.hpp);
// U(s; θ) = (x + d, y_E⁺, y_I⁺) where d and the new multipliers solve the QP
//   min_d ½ dᵀ B d + ∇f(x)ᵀ d  s.t.  c_E + J_E d = 0,  c_I + J_I d ≤ 0,  lb ≤ x + d ≤ ub
// with B = ∇²ₓL(x, y) (-fold_sqp_hessian exact, the default) or β I (identity). The readout is x.
// With the exact Hessian, Φ = 0 at a nondegenerate solution (strict complementarity, linearly
// independent active gradients): the adjoint is w = (∂R/∂s)ᵀ g and ∂L/∂θ = Ψᵀ w — the implicit
// derivative of the KKT conditions. Another B gives the same fixed point and gradient with Φ ≠ 0.
//
// Routes of the step's QP (-fold_sqp_qp dense|admm|auto, default auto: dense up to
// -fold_sqp_max_size unknowns plus constraints, default 1000, admm above).
// Dense route, for small instances: the QP is solved on every rank by a dense Eigen KKT solve on
// its active set, so the map gathers x, the constraint values, Jacobians and B onto every rank
// (O(N²) data for N unknowns: allowed for this route alone; refused above -fold_sqp_max_size).
// Sparse route (admm): the QP l ≤ [J_E; J_I; I] d ≤ u as sparse distributed PETSc matrices,
// solved by an owned ADMM map and the admm forward (polished; options -fold_sqp_admm_*); Φ and
// Ψ through a sparse KKT solve on the QP's active set (MUMPS LU, -fold_sqp_kkt_*, factored once
// per linearization). At the fixed point the step IS that KKT system, so this is exact, where
// the ADMM map's own folded derivative would be an inner adjoint solve exact only to its
// tolerance (and slowed by ADMM's contraction). The QP Hessian must be positive semidefinite
// for ADMM (a convex step QP): so it is for convex problems at their multipliers.
//
// Forward: a solver of the problem that gives the multipliers (ipopt, tao almm); the layer takes
// the state from x* and them (UpdateMap::state_from_primal_dual), which the map then polishes by
// up to -fold_sqp_polish SQP steps (default 3; locally quadratic: on the generated portfolio,
// IPOPT's fixed-point residual ~1e-9 becomes ~1e-15 in 2 steps).
// The minimum check of the layer (Φ's eigenvalues) cannot tell a minimum from a saddle point here:
// with the exact Hessian Φ = 0 at every nondegenerate KKT point. A batch's state is instance after
// instance (x_b, y_E,b, y_I,b) when the constraint rows split evenly over the B instances (taken
// as instance after instance, as the built-in problems order them: portfolio's row b is instance
// b's), so the adjoint judges every instance as for the other maps; otherwise (rows coupling the
// instances) one instance of N + m_E + m_I entries, judged on the whole. Per-instance judgement is
// never looser than the whole's (max_b ‖r_b‖/‖g_b‖ ≤ rtol implies ‖r‖/‖g‖ ≤ rtol).
// Options (prefix fold_): -sqp_qp dense|admm|auto, -sqp_hessian exact|identity, -sqp_hessian_scale β (1), -sqp_max_size N
// (1000), -sqp_qp_max_it K (100: active-set iterations of the QP), -sqp_polish K (3).
#ifndef FOLDOPT_MAPS_SQP_HPP
#define FOLDOPT_MAPS_SQP_HPP

#include <foldopt/problem.hpp>
#include <foldopt/update_map.hpp>

#include <memory>
#include <string>
#include <vector>

namespace foldopt {

class SqpMap : public UpdateMap {
 public:
  explicit SqpMap(Problem& problem);
  ~SqpMap() override;

  std::string type() const override { return "sqp"; }
  /// The state: instance after instance (x_b, y_E,b, y_I,b), n + m_E/B + m_I/B entries each, when
  /// the B instances' constraint rows split evenly (m_E and m_I multiples of B, rows taken as
  /// instance after instance); otherwise one instance of N + m_E + m_I entries.
  const Layout& layout() const override { return state_layout_; }
  const Layout& solution_layout() const override { return problem_.layout(); }
  ParamSet create_params() const override { return problem_.params().zeros_like(); }
  void set_from_options() override;
  void view(PetscViewer viewer) const override;
  std::string describe() const override;
  /// The admm route reads its ADMM map's, forward's and KKT solve's options when it first solves.
  std::vector<std::string> deferred_option_prefixes() const override {
    return {prefix_ + "sqp_admm_", prefix_ + "sqp_kkt_"};
  }

  void apply(Vec s, const ParamSet& theta, Vec y) override;
  void linearize(Vec s, const ParamSet& theta) override;
  void phi_t(Vec v, Vec y) override;
  void psi_t(Vec v, ParamSet& out) override;
  bool has_phi() const override { return true; }
  void phi(Vec u, Vec y) override;
  bool has_psi() const override { return true; }
  void psi(const ParamSet& dtheta, Vec y) override;

  bool has_readout() const override { return true; }
  void readout(Vec s, const ParamSet& theta, Vec x) override;
  void readout_t(Vec g, Vec h) override;
  void readout_param_t(Vec, ParamSet&) override {}

  bool has_primal_dual_state() const override { return true; }
  void state_from_primal_dual(Vec x, const Multipliers& y, const ParamSet& theta, Vec s) override;

  /// The Hessian of the QP: the Lagrangian's (exact) or β I.
  enum class Hessian { exact, identity };
  void set_hessian(Hessian h, PetscReal scale = 1);
  /// Active inequality rows (constraints and bounds) and QP iterations at the last linearization.
  PetscInt active_inequalities() const;
  /// (dense route: active-set iterations; admm route: ADMM iterations of the last QP)
  PetscInt qp_iterations() const;
  /// Whether the step's QP goes the sparse (admm) route (-fold_sqp_qp, the instance's size).
  bool sparse_route() const;

  /// Split s into its parts (x in the problem's layout, y_E and y_I in the constraints'); a part
  /// may be null. join() is the inverse.
  void split(Vec s, Vec x, Vec y_eq, Vec y_ineq) const;
  void join(Vec x, Vec y_eq, Vec y_ineq, Vec s) const;

 private:
  struct Impl;
  Problem& problem_;
  Layout state_layout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace foldopt

#endif  // FOLDOPT_MAPS_SQP_HPP
