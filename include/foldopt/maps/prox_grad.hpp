// foldopt: the proximal-gradient map, a smooth objective composed with a proximal operator.
//
//   U(s; θ) = prox_{αh}(s − α ∇f(s; θ); θ)
//
// Φ = J (I − α∇²f),   Φᵀ v = (I − α∇²f) J v              (J = ∂prox/∂z symmetric, ∇²f symmetric)
// Ψᵀ v = −α (∂∇f/∂θ)ᵀ J v + (∂prox/∂θ)ᵀ v
// at z = s* − α∇f(s*). The parts come from the problem (Problem::objective(), Problem::prox()); a
// problem without them is used through its own functions (f) and bounds (h = indicator of
// lb ≤ s ≤ ub, or 0): `pgd` on qp_box is that map.
//
// Declared capabilities: the diagonal of Φ and Φ assembled (its sparse part diag(d)(I − α∇²f)
// when J has a low-rank part U diag(c) Uᵀ, which gives Φ's low-rank part U·((I − α∇²f) U diag(c))ᵀ)
// where the objective declares an assembled Hessian; the stepsize operator (∇²f on the free set)
// where J is a 0/1 diagonal.
//
// Stepsize (options under the map's prefix, default fold_):
//   -fold_pgd_stepsize α    fixed stepsize (default 1/B with B the objective's curvature bound,
//                           e.g. ‖H‖∞ ≥ λmax(H), else 1)
//   -fold_stepsize auto     α = 1/λmax of the stepsize operator at each linearization from a
//                           few Lanczos steps (= lmax; -fold_stepsize_lanczos_steps, default 20)
//   -fold_stepsize optimal  α = 2/(λmin + λmax) of it by SLEPc (-fold_stepsize_eps_*)
// The fixed-point check divides ‖s − U(s)‖ by α (the gradient mapping).
//
// The prox: the problem's (Problem::prox(), else its bounds), or a registered one by name,
//   -fold_prox_type NAME (prox_registry(); built with the options prefix fold_prox_ and the
//   problem in its PartContext): e.g. `linear` on the qp problem is f-PGDb, the projection onto
//   {l ≤ Ax ≤ u} a folded ADMM solve. A nested prox (Prox::Capabilities::nested) has no diagonal
//   or assembled forms; the adjoint then defaults to FGMRES and the prox keeps its inner rtol
//   ≤ 0.1 × the adjoint's (set_adjoint_rtol); its report is printed nested in the map's.
#ifndef FOLDOPT_MAPS_PROX_GRAD_HPP
#define FOLDOPT_MAPS_PROX_GRAD_HPP

#include <foldopt/objective.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/prox.hpp>
#include <foldopt/update_map.hpp>

#include <memory>
#include <vector>

namespace foldopt {

class ProxGradMap : public UpdateMap {
 public:
  /// Over the parts of `problem` (which must outlive the map). `stepsize` 0: the default rule.
  explicit ProxGradMap(Problem& problem, PetscReal stepsize = 0);
  /// Over explicit parts (the map keeps references; they must outlive it).
  ProxGradMap(Problem& problem, Objective& f, Prox& h, PetscReal stepsize = 0);
  ~ProxGradMap() override;

  std::string type() const override { return "prox_grad"; }
  const Layout& layout() const override { return problem_.layout(); }
  const Layout& solution_layout() const override { return problem_.solution_layout(); }
  ParamSet create_params() const override { return problem_.params().zeros_like(); }
  void set_from_options() override;
  void view(PetscViewer viewer) const override;
  std::string describe() const override;

  void apply(Vec x, const ParamSet& theta, Vec y) override;
  void linearize(Vec x, const ParamSet& theta) override;
  void phi_t(Vec v, Vec y) override;
  void psi_t(Vec v, ParamSet& out) override;
  void psi_t_factored(Vec w, Vec jw, ParamSet& out) override;
  /// A prox of fixed data (no parameter blocks): Ψᵀw = −α(∂∇f/∂θ)ᵀ J w.
  bool gradient_from_factor() const override;

  bool has_readout() const override { return problem_.has_readout(); }
  void readout(Vec s, const ParamSet& theta, Vec x) override { problem_.readout(s, theta, x); }
  void readout_t(Vec g, Vec h) override;
  void readout_param_t(Vec g, ParamSet& out) override;

  bool has_phi() const override { return true; }
  void phi(Vec u, Vec y) override;
  bool has_psi() const override { return true; }
  void psi(const ParamSet& dtheta, Vec y) override;
  bool has_diagonal() const override;
  void get_diagonal(Vec d) override;
  /// [d_i ≠ 0] for J's diagonal part d (the free set of a box); none for a nested prox.
  bool has_structure_mask() const override { return !prox_->capabilities().nested; }
  void structure_mask(Vec m) override;
  bool can_assemble() const override;
  OwnedMat assemble_phi() override;
  /// (I − α∇²f) diag(d) (∇²f symmetric): Φ_sᵀ without a transposed copy.
  OwnedMat assemble_phi_transpose() override;
  bool has_low_rank() const override { return prox_->capabilities().low_rank; }
  void low_rank(OwnedMat* U, OwnedMat* V) override;

  bool has_symmetric_form() const override;
  bool symmetric_form_definite() const override { return f_->capabilities().convex; }
  void factor_mult(Vec v, Vec y) override;
  void smooth_mult(Vec v, Vec y) override;
  OwnedMat assemble_symmetric() override;
  bool has_symmetric_diagonal() const override;
  void symmetric_diagonal(Vec d) override;

  PetscReal stepsize() const override { return alpha_; }
  bool stepsize_is_free() const override { return true; }
  void set_stepsize(PetscReal alpha) override;
  /// α = 1/B(θ) again when α came from the objective's curvature bound B (not given, set or ruled).
  void prepare(const ParamSet& theta) override;
  OwnedMat stepsize_operator() override;
  PetscObjectState stepsize_operator_version() override;
  PetscReal fixed_point_scale() const override { return alpha_; }
  std::string default_pc_type() const override { return problem_.default_pc_type(); }
  /// FGMRES when the prox is nested (its products are inner solves, exact to their tolerance).
  std::string default_ksp_type() const override;
  void set_adjoint_rtol(PetscReal rtol) override { prox_->set_outer_rtol(rtol); }
  std::vector<std::string> deferred_option_prefixes() const override { return prox_->deferred_option_prefixes(); }
  std::string singular_reason() override;
  bool default_pc_left() const override { return problem_.default_pc_left(); }

  Objective& objective() { return *f_; }
  Prox& prox() { return *prox_; }
  Problem& problem() { return problem_; }
  /// Entries with a nonzero diagonal part of J at the current linearization (the free set of a
  /// projection), summed over the batch; -1 before the first linearization.
  PetscInt free_count() const { return nfree_; }
  /// The diagonal part d of J at the current linearization (0/1 for a box: the free set).
  Vec free_mask() const { return d_; }

 private:
  void init(PetscReal stepsize);
  void check_linearized(const char* op) const;
  /// y = (I − α∇²f) u.
  void smooth_step(Vec u, Vec y);
  void psi_t_from(Vec v, Vec jw, ParamSet& out);

  Problem& problem_;
  std::unique_ptr<Objective> own_f_;
  std::unique_ptr<Prox> own_prox_;
  Objective* f_ = nullptr;
  Prox* prox_ = nullptr;
  PetscReal alpha_ = 1;
  std::string alpha_source_;  ///< where α came from, for the report
  bool alpha_from_bound_ = false;  ///< α = 1/B(θ), renewed by prepare()
  bool linearized_ = false;
  PetscInt nfree_ = -1;
  OwnedVec x_, z_, d_, work_, work2_;
  ParamSet theta_;
  OwnedMat hess_;  ///< assembled Hessian at the linearization (where the objective declares one)
  // stepsize_operator_version(): what the operator was last cut from (the Hessian's object and
  // state, this rank's free entries) and its version number.
  PetscObjectId step_op_hess_id_ = 0;
  PetscObjectState step_op_hess_state_ = -1, step_op_version_ = 0;
  std::vector<PetscInt> step_op_free_;
  /// This rank's free entries where J is a 0/1 diagonal on every rank (else false).
  bool free_entries(std::vector<PetscInt>& idx) const;
};

}  // namespace foldopt

#endif  // FOLDOPT_MAPS_PROX_GRAD_HPP
