// foldopt: the update map U(s; θ), one step of an iterative solver.
//
// A fixed point s* = U(s*; θ) solves the optimization problem. The map iterates on a *state* s,
// which need not be the user's solution: TV denoising folds its dual iteration (s = y, one entry
// per row of D) while the solution is x = d − Dᵀy; ADMM carries (x, z, y). The solution is a
// *readout* x = R(s; θ) (the identity by default). The backward pass needs products with the
// Jacobians Φ = ∂U/∂s and Ψ = ∂U/∂θ at (s*, θ), taken after linearize(s*, θ); with g = ∂L/∂x:
//     (I − Φᵀ) w = (∂R/∂s)ᵀ g,   ∂L/∂θ = Ψᵀ w + (∂R/∂θ)ᵀ g.
// Users implement UpdateMap for their own solver step; the library wraps it in MatShells.
// Required: apply, linearize, phi_t, psi_t. Optional, *declared* by the has_* functions (never
// found out by evaluating the map somewhere): the forward products phi and psi (dot-product tests,
// forward mode), the diagonal of Φ (Jacobi preconditioning), Φ assembled as a sparse matrix with
// PETSc matrix operations (preconditioners, Jacobian extraction), a readout.
//
// Maps are configured objects like PETSc's: built from a MapContext (communicator, problem,
// options prefix), then set_from_options() reads the map's own options (e.g. -fold_pgd_stepsize),
// and view() prints its report lines. A map whose products Φᵀv themselves need an inner solve (a
// projection that is a QP) owns an inner AdjointSolver with the prefix `<prefix>inner_`.
#ifndef FOLDOPT_UPDATE_MAP_HPP
#define FOLDOPT_UPDATE_MAP_HPP

#include <foldopt/params.hpp>
#include <foldopt/registry.hpp>
#include <foldopt/spectral.hpp>

#include <petscviewer.h>

#include <string>
#include <vector>

namespace foldopt {

/// How a map with a free stepsize sets it (-fold_stepsize): keep it (its default or the user's),
/// or choose it at each linearization from its stepsize operator S: `lmax` α = 1/λmax(S) from a
/// few Lanczos steps (-fold_stepsize_lanczos_steps), `optimal` α = 2/(λmin + λmax) from two SLEPc
/// solves (-fold_stepsize_eps_*). `automatic` (-fold_stepsize auto) is the default automatic
/// rule, which is lmax: LFPI then needs at most about twice the iterations of the optimal α, and
/// a preconditioned backward does not depend on α.
enum class StepsizeRule { fixed, automatic, optimal, lmax };

struct Multipliers;

class UpdateMap {
 public:
  virtual ~UpdateMap() = default;

  /// Registered name (e.g. "pgd").
  virtual std::string type() const = 0;
  /// Layout of the state s (B instances of n entries).
  virtual const Layout& layout() const = 0;
  /// A new vector with the layout of the state.
  OwnedVec create_vec() const;
  /// Layout of the solution x = R(s; θ) (the state's without a readout).
  virtual const Layout& solution_layout() const { return layout(); }
  OwnedVec create_solution_vec() const;

  /// Options prefix (default fold_) under which set_from_options reads the map's own options.
  void set_options_prefix(const std::string& prefix) { prefix_ = prefix; }
  const std::string& options_prefix() const { return prefix_; }
  /// Read the map's own options (once, after the code's defaults: the command line wins). The
  /// base reads -<prefix>stepsize fixed|auto for a map with a free stepsize; a map that
  /// overrides this calls it. (-<prefix>stepsize fixed|auto|lmax|optimal and
  /// -<prefix>stepsize_lanczos_steps.)
  virtual void set_from_options();
  /// Report lines for -fold_view beyond describe() (which the layer prints first); default none.
  virtual void view(PetscViewer viewer) const;
  /// Option prefixes the map's objects read only when they are set up (after the run has
  /// started: e.g. an inner KSP's preconditioner): the executable judges them at the end.
  virtual std::vector<std::string> deferred_option_prefixes() const { return {}; }
  /// Parameter blocks with the names and layouts this map differentiates into, all zero.
  virtual ParamSet create_params() const = 0;

  /// y = U(x; θ).
  virtual void apply(Vec x, const ParamSet& theta, Vec y) = 0;
  /// Fix the point (x*, θ) at which phi/phi_t/psi/psi_t act (keeps what the products need).
  virtual void linearize(Vec x, const ParamSet& theta) = 0;
  /// y = Φᵀ v.
  virtual void phi_t(Vec v, Vec y) = 0;
  /// out_b = (∂U/∂θ_b)ᵀ v for every block b of `out` (overwrites).
  virtual void psi_t(Vec v, ParamSet& out) = 0;

  /// Readout x = R(s; θ) and its transposed products at the linearization. Without one
  /// (has_readout() false) R is the identity and the layer never calls these.
  virtual bool has_readout() const { return false; }
  virtual void readout(Vec s, const ParamSet& theta, Vec x);
  /// h = (∂R/∂s)ᵀ g (h has the state's layout, g the solution's).
  virtual void readout_t(Vec g, Vec h);
  /// out_b += (∂R/∂θ_b)ᵀ g.
  virtual void readout_param_t(Vec g, ParamSet& out);

  /// A map whose state is primal-dual (SQP: s = (x, y_E, y_I)) rather than the problem's unknowns:
  /// its forward solvers solve the problem (TAO almm, IPOPT) and give x* and the Lagrange
  /// multipliers (ForwardSolver::multipliers, the sign convention of struct Multipliers), from
  /// which the layer asks the map for its state. The map's readout is then x = R(s), the problem's
  /// unknowns (solution_layout() is the problem's layout).
  virtual bool has_primal_dual_state() const { return false; }
  /// s from x* (the problem's layout) and the multipliers at x*.
  virtual void state_from_primal_dual(Vec x, const Multipliers& y, const ParamSet& theta, Vec s);

  virtual bool has_phi() const { return false; }
  /// y = Φ u.
  virtual void phi(Vec u, Vec y);
  virtual bool has_psi() const { return false; }
  /// y = Σ_b (∂U/∂θ_b) dθ_b.
  virtual void psi(const ParamSet& dtheta, Vec y);
  virtual bool has_diagonal() const { return false; }
  /// d = diag(Φ).
  virtual void get_diagonal(Vec d);
  /// A per-entry 0/1 status of the linearization's structure, declared by has_structure_mask:
  /// 1 where the entry takes part in Φ (the free set of a projection, the support of
  /// soft-thresholding: where J's diagonal part is nonzero), 0 elsewhere. The adjoint keeps its
  /// preconditioner while few entries change status (-fold_pc_reuse, adjoint.hpp).
  virtual bool has_structure_mask() const { return false; }
  virtual void structure_mask(Vec m);
  virtual bool can_assemble() const { return false; }
  /// Φ as a sparse matrix (new reference), built with matrix operations, never by probing; with
  /// has_low_rank(), its sparse part Φ_s, Φ = Φ_s + U Vᵀ.
  virtual OwnedMat assemble_phi();
  /// Φᵀ (its sparse part Φ_sᵀ with has_low_rank()) as a sparse matrix, new reference. The
  /// default transposes assemble_phi() (two copies at once); a map that builds Φᵀ directly
  /// overrides it (prox-gradient maps: (I − α∇²f) diag(d), one copy).
  virtual OwnedMat assemble_phi_transpose();
  /// Whether Φ = Φ_s + U Vᵀ with a low-rank part (a simplex projection's Jacobian, say), and the
  /// factors (N×r, new references). A preconditioner uses the sparse part; a direct solve adds
  /// the low-rank part by Woodbury.
  virtual bool has_low_rank() const { return false; }
  virtual void low_rank(OwnedMat* U, OwnedMat* V);

  /// The symmetric form of the adjoint system, for maps with Φᵀ = M K Kᵀ, M symmetric and K
  /// symmetric (prox-gradient: M = I − α∇²f and J = K Kᵀ, K = J for projections): with
  /// r = (∂R/∂s)ᵀ g, (I − K M K) u = K r and w = r + M K u solve (I − Φᵀ) w = r. The operator is
  /// SPD iff the reduced Hessian is positive definite on range K; symmetric_form_definite()
  /// declares that it is wherever the fixed point is a minimum (a convex objective).
  virtual bool has_symmetric_form() const { return false; }
  virtual bool symmetric_form_definite() const { return false; }
  /// y = K v and y = M v at the linearization.
  virtual void factor_mult(Vec v, Vec y);
  virtual void smooth_mult(Vec v, Vec y);
  /// I − K M K assembled (new reference) where the map can (K diagonal, M assembled), else null.
  virtual OwnedMat assemble_symmetric() { return OwnedMat(); }
  /// Ψᵀ w after a solve in the symmetric form, given also jw = K u = K Kᵀ w = J w as the solve
  /// produced it (Kᵀ w = u). A map whose Ψᵀ needs w only through J w (prox-gradient:
  /// −α (∂∇f/∂θ)ᵀ J w) uses jw, which does not carry the recovery's rounding amplified by ‖M‖
  /// (α∇²f up to 1e9 for the entropy). Default: psi_t(w, out).
  virtual void psi_t_factored(Vec w, Vec jw, ParamSet& out) {
    (void)jw;
    psi_t(w, out);
  }
  /// Whether psi_t_factored needs w only through jw (no part of Ψᵀ reads w itself): the
  /// symmetric form's solve may then be judged on the system solved for u alone.
  virtual bool gradient_from_factor() const { return false; }
  /// The diagonal Jacobi uses on the symmetric form, declared by has_symmetric_diagonal: that of
  /// I − K_s M K_s for the sparse part K_s of K (a low-rank part is left out: see ProxGradMap).
  virtual bool has_symmetric_diagonal() const { return false; }
  virtual void symmetric_diagonal(Vec d);

  /// Called by FoldedLayer::forward before each forward, with the θ it solves for: a map whose
  /// stepsize follows from θ (a prox-gradient map's 1/B, B the objective's curvature bound, when
  /// no stepsize was given) updates it here, so that a learned operator (TV's D.values) cannot
  /// leave α above 2/L. Default: nothing.
  virtual void prepare(const ParamSet& theta) { (void)theta; }
  /// The stepsize inside U (0 if the map has none), and whether it may be changed.
  virtual PetscReal stepsize() const { return 0; }
  virtual bool stepsize_is_free() const { return false; }
  virtual void set_stepsize(PetscReal alpha);
  /// The symmetric operator whose extreme eigenvalues govern the stepsize at the current
  /// linearization (PGD on a quadratic: the Hessian restricted to the free set); the best
  /// stepsize is then 2/(λmin + λmax). Null if the map has none.
  virtual OwnedMat stepsize_operator() { return OwnedMat(); }
  /// A number that stays the same exactly while stepsize_operator() would return the same
  /// operator (at the current linearization; collective, the same decision on every rank), unique
  /// in the process (no two maps share one), or 0 if the map cannot tell: adapt_stepsize and the
  /// layer's minimum check then keep their estimates without extracting the operator again.
  virtual PetscObjectState stepsize_operator_version() { return 0; }
  /// The stepsize rule and, under an automatic one, the eigenvalues it found at the last linearization.
  void set_stepsize_rule(StepsizeRule r);
  StepsizeRule stepsize_rule() const { return rule_; }
  /// Whether the rule chooses α (every rule but fixed).
  bool stepsize_rule_is_automatic() const { return rule_ != StepsizeRule::fixed; }
  /// The rule's option name: fixed, auto, optimal, lmax.
  const char* stepsize_rule_name() const;
  /// Lanczos steps of the lmax rule (-<prefix>stepsize_lanczos_steps, default 20).
  void set_stepsize_lanczos_steps(PetscInt k);
  PetscInt stepsize_lanczos_steps() const { return lanczos_steps_; }
  const ExtremeEigenvalues& stepsize_eigenvalues() const { return step_eigs_; }
  /// Apply the rule at the current linearization on stepsize_operator(): lmax (and automatic)
  /// α = lmax_stepsize of Lanczos estimates, optimal α = 2/(λmin + λmax) by SLEPc (options
  /// -<prefix>stepsize_eps_*); set with set_stepsize; returns whether α changed (the caller then
  /// linearizes again). Refuses an operator without a positive eigenvalue (not a minimum). An
  /// operator of the same stepsize_operator_version() (nonzero), under the same rule and steps as
  /// at the last call, keeps that call's estimate and α (a training loop whose free set stays put).
  bool adapt_stepsize();
  /// Why I − Φ is singular at the linearization (a fixed point not unique in some state variables),
  /// or "": -fold_backward jacobian refuses to factor a singular operator and says why.
  virtual std::string singular_reason() { return ""; }
  /// The preconditioner of the adjoint solve when none is given (-fold_pc_type): "" for none;
  /// and whether it goes on the left (unless -fold_ksp_pc_side says otherwise).
  virtual std::string default_pc_type() const { return ""; }
  /// The adjoint's Krylov method when none is given (-fold_ksp_type): "" for GMRES. A map whose
  /// products are themselves inner solves (exact only to an inner tolerance) asks for FGMRES.
  virtual std::string default_ksp_type() const { return ""; }
  /// Told by the adjoint solver, before each solve, the relative tolerance it solves to: a map
  /// with nested (inner) solves keeps their tolerance below it (default: nothing to do).
  virtual void set_adjoint_rtol(PetscReal rtol) { (void)rtol; }
  virtual bool default_pc_left() const { return false; }
  /// The scale of the fixed-point residual: ‖s − U(s)‖ is divided by it before the check. A
  /// prox-gradient map returns α, since s − U(s) = α G_α(s) (the gradient mapping) and a tiny α
  /// would pass any s; other maps 1.
  virtual PetscReal fixed_point_scale() const { return 1; }

  /// Text for -fold_view.
  virtual std::string describe() const { return type(); }

 protected:
  std::string prefix_ = "fold_";
  StepsizeRule rule_ = StepsizeRule::fixed;
  PetscInt lanczos_steps_ = 20;
  ExtremeEigenvalues step_eigs_;

 private:
  // What step_eigs_ was computed on (adapt_stepsize keeps it for the same operator).
  PetscObjectState step_op_version_ = 0;
  StepsizeRule step_rule_ = StepsizeRule::fixed;
  PetscInt step_steps_ = 0;
};

class Problem;
/// What a map is built from (as ForwardContext for forward solvers).
struct MapContext {
  MPI_Comm comm = MPI_COMM_NULL;
  Problem* problem = nullptr;
  std::string prefix = "fold_";
};
using MapRegistry = Registry<UpdateMap, const MapContext&>;
/// The registry of update maps (built-ins registered on first use; -fold_map_type NAME picks one).
MapRegistry& map_registry();

}  // namespace foldopt

#endif  // FOLDOPT_UPDATE_MAP_HPP
