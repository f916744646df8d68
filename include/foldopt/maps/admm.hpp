// foldopt: the ADMM map for sparse convex QPs (update map `admm`)
//
//   min_x ½xᵀPx + qᵀx   subject to  l ≤ Ax ≤ u      (l = u: an equality; ±inf: an absent side)
//
// One step of OSQP's splitting on the state s = (x, z, y) of each instance (n + m + m entries,
// instance after instance), with the penalty ρ > 0, the regularization σ > 0 and the relaxation
// α ∈ (0, 2) (-fold_admm_rho, -fold_admm_sigma, -fold_admm_alpha):
//   K x̃ = σx − q + Aᵀ(ρz − y),  K = P + σI + ρAᵀA,   z̃ = Ax̃
//   x⁺ = αx̃ + (1 − α)x,   v = αz̃ + (1 − α)z + y/ρ,   z⁺ = Π_[l,u](v),   y⁺ = ρ(v − z⁺)
// (the admm forward starts from -fold_admm_rho, adapts ρ by OSQP's rule and leaves its last ρ in
// the map for the backward: the fixed point is the same for every ρ, and a balanced ρ conditions
// I − Φ better). Its fixed points are the KKT points (Px + q + Aᵀy = 0, z = Ax ∈ [l, u], y ⟂ the box: y ≥ 0
// where z = u, y ≤ 0 where z = l), the same for every ρ; the readout is x. The linear system is
// solved in the quasi-definite KKT form [P + σI, Aᵀ; A, −ρ⁻¹I] (default; no fill from AᵀA) or in
// the reduced form K (-fold_admm_kkt reduced), by a KSP with prefix fold_admm_ (preonly + LU,
// Cholesky for the reduced form at one rank, MUMPS in parallel), factored once per (ρ, σ, P, A)
// and reused by every product. Gradient blocks: q, l, u (per instance), P.values and A.values
// (stored nonzeros, matrix_values.hpp; P and A are shared by the batch).
//
// At a fixed point the projection's Jacobian is the 0/1 diagonal D of inactive rows (1 where
// l < v < u). Rows are classified by their multiplier: active at u when y > τ, at l when y < −τ,
// τ = -fold_admm_active_tol · max(1, ‖y‖∞); an equality row (l = u) is always active, at u when
// y > 0, else at l. A weakly active row (z at a bound, |y| ≤ τ) is treated as inactive (D = 1):
// the derivative of the solution for perturbations that keep the bound slack, ∂L/∂l = ∂L/∂u = 0
// there (the multiplier is zero, as the value function's derivative −y says). Gradient entries
// at infinite bounds are 0.
//
// A problem is folded by this map when it is an AdmmSource (the `qp` problem); the map can also
// be built from the data directly (AdmmData), e.g. by a projection onto {l ≤ Ax ≤ u}
// (P = I, q = −v).
#ifndef FOLDOPT_MAPS_ADMM_HPP
#define FOLDOPT_MAPS_ADMM_HPP

#include <foldopt/forward.hpp>
#include <foldopt/update_map.hpp>

#include <memory>
#include <string>

namespace foldopt {

/// What the ADMM map needs of a QP: the layout of x, one instance's P (n×n, symmetric PSD) and
/// A (m×n), both shared by the batch, and the names of the θ blocks and of the inputs (errors).
struct AdmmData {
  Layout layout;
  Mat P = nullptr, A = nullptr;
  std::string q = "q", l = "l", u = "u", P_values = "P.values", A_values = "A.values";
  std::string P_name = "P", A_name = "A", q_name = "q", l_name = "l", u_name = "u";
};

/// A problem that the ADMM map can fold (its θ holds the blocks AdmmData names).
class AdmmSource {
 public:
  virtual ~AdmmSource() = default;
  virtual AdmmData admm_data() const = 0;
  /// OSQP's y (one entry per row of the batch's A) from multipliers in foldopt's convention
  /// (struct Multipliers: the problem's equality and inequality rows, y_I ≥ 0).
  virtual void row_multipliers(const Multipliers& y, Vec rows) const = 0;
};

namespace admm_detail {
class LinearSystem;
}

class AdmmMap : public UpdateMap {
 public:
  explicit AdmmMap(const AdmmData& data);
  ~AdmmMap() override;
  /// The registry's factory: the context's problem must be an AdmmSource (refused otherwise).
  static std::unique_ptr<UpdateMap> create(const MapContext& ctx);

  std::string type() const override { return "admm"; }
  const Layout& layout() const override { return state_layout_; }
  const Layout& solution_layout() const override { return data_.layout; }
  void set_from_options() override;
  void view(PetscViewer viewer) const override;
  std::string describe() const override;
  std::vector<std::string> deferred_option_prefixes() const override { return {prefix_ + "admm_"}; }
  ParamSet create_params() const override;

  void apply(Vec s, const ParamSet& theta, Vec out) override;
  void linearize(Vec s, const ParamSet& theta) override;
  void phi_t(Vec v, Vec out) override;
  void psi_t(Vec v, ParamSet& out) override;
  bool has_phi() const override { return true; }
  void phi(Vec u, Vec out) override;
  bool has_psi() const override { return true; }
  void psi(const ParamSet& dtheta, Vec out) override;

  bool has_readout() const override { return true; }
  void readout(Vec s, const ParamSet& theta, Vec x) override;
  void readout_t(Vec g, Vec h) override;
  void readout_param_t(Vec g, ParamSet& out) override;

  /// α·min(1, ρ): the relaxation α scales every step of s − U(s), and ρ its y part
  /// (y − y⁺ = −ρ × the primal residual), so a small α or ρ would let a non-fixed point pass.
  PetscReal fixed_point_scale() const override;

  // For the forward solver and for owners of the map.
  const AdmmData& data() const { return data_; }
  PetscInt rows() const { return m_; }
  PetscReal rho() const { return rho_; }
  PetscReal sigma() const { return sigma_; }
  PetscReal relaxation() const { return alpha_; }
  /// Change ρ (the next product refactors).
  void set_rho(PetscReal rho);
  /// Factorizations done so far (ρ changes, new θ values).
  PetscInt factorizations() const;
  /// New vectors for x (B·n, like the solution) and for z, y (B·m, PETSc's split).
  OwnedVec create_x() const;
  OwnedVec create_z() const;
  /// s → (x, z, y) and back (any of the parts may be null in split).
  void split(Vec s, Vec x, Vec z, Vec y) const;
  void join(Vec x, Vec z, Vec y, Vec s) const;
  /// The state (x, Π_[l,u](Ax), y) of a primal-dual solution (x, y), y with OSQP's signs (y ≥ 0
  /// where Ax = u, y ≤ 0 where Ax = l): for forwards that return multipliers (TAO, IPOPT).
  void make_state(Vec x, Vec y, const ParamSet& theta, Vec s);
  /// Built from a problem (create), the map takes its state from forwards on the problem that
  /// return multipliers (TAO almm/pdipm, IPOPT): x*, z = Π(Ax*), y converted to OSQP's signs.
  bool has_primal_dual_state() const override { return source_ != nullptr; }
  void state_from_primal_dual(Vec x, const Multipliers& y, const ParamSet& theta, Vec s) override;
  /// The batch operators kron(I_B, P) and kron(I_B, A) with θ's values (references owned by the map).
  Mat P_op(const ParamSet& theta);
  Mat A_op(const ParamSet& theta);

 private:
  struct Impl;
  void sync(const ParamSet& theta);
  void solve(Vec r, Vec x, bool transpose);

  AdmmData data_;
  const AdmmSource* source_ = nullptr;  ///< the problem it was built from (create), else null
  Layout state_layout_;
  PetscInt m_ = 0;
  PetscReal rho_ = 0.1, sigma_ = 1e-6, alpha_ = 1.6, active_tol_ = 1e-8;
  bool reduced_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace foldopt

#endif  // FOLDOPT_MAPS_ADMM_HPP
