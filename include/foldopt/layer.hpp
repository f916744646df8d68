// foldopt: the folded layer, the user-facing object.
//
//   forward(θ)  → x*     through a ForwardSolver (warm-started from the previous state s*), which
//                        returns the map's full state s*; x* = R(s*; θ) is its readout (a map
//                        with a primal-dual state, sqp, takes s* from x* and the solver's
//                        Lagrange multipliers: UpdateMap::state_from_primal_dual)
//   backward(g) → ∂L/∂θ  per parameter block, g = ∂L/∂x*: check ‖U(s*) − s*‖, linearize the map
//                        at (s*, θ) (its stepsize rule may choose α there), optionally estimate
//                        ρ(Φ), solve (I − Φᵀ) w = (∂R/∂s)ᵀ g, return Ψᵀ w + (∂R/∂θ)ᵀ g.
//
// Options (prefix `fold_` by default; -help lists them):
//   -fold_map_type NAME            update map (default: the problem's own) and its own options
//                                  (e.g. -fold_pgd_stepsize, -fold_stepsize fixed|auto|lmax|optimal)
//   -fold_fwd_type NAME            forward solver (default: the problem's own, snes for a bare map)
//                                  and -fold_fwd_* its options
//   -fold_backward krylov|jacobian adjoint method (-fold_ksp_*, -fold_pc_*, -fold_jacobian_*)
//   -fold_backward unrolled        baseline: differentiate K unrolled steps of the map instead
//                                  (-fold_unrolled_*, see unrolled.hpp; x* is its reference)
//   -fold_rho                      estimate ρ(Φ) before each backward: -fold_rho_type lanczos
//                                  (default where the map has a stepsize operator S, Φ = I − αS
//                                  on the free set: -fold_rho_lanczos_steps K products with S,
//                                  default 40) or eps (SLEPc on Φᵀ, -fold_rho_eps_*; other maps)
//   -fold_check_fixed_point TOL    fixed-point check before every backward (default 1e-6):
//                                  ‖U(s*) − s*‖∞ / (scale · max(1, ‖s*‖∞)), scale the map's
//                                  fixed_point_scale() (α for prox-gradient maps)
//   -fold_check_fd                 finite-difference check of each gradient (costly)
//   -fold_check_minimum            refuse a fixed point where Φ has a real eigenvalue above 1 (a
//                                  saddle point or a maximum: negative curvature of the reduced
//                                  Hessian); on by default, -fold_check_minimum_steps K products
//                                  (default 20; Arnoldi on Φᵀ under -fold_check_minimum_eps_*; the
//                                  Lanczos result is kept while the free-set Hessian and α are)
//   -fold_accept_nonminimum        turn that refusal into a warning on stderr
//   -fold_release_forward          free the forward solver's work objects after each forward
//                                  (TAO's Hessian copy, KSP, PC): less memory in the backward
//   -fold_view [viewer]            report after each backward (stdout, or e.g. ascii:report.txt)
#ifndef FOLDOPT_LAYER_HPP
#define FOLDOPT_LAYER_HPP

#include <foldopt/adjoint.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/forward.hpp>
#include <foldopt/spectral.hpp>
#include <foldopt/unrolled.hpp>
#include <foldopt/update_map.hpp>

#include <memory>
#include <string>
#include <vector>

namespace foldopt {

class Problem;

class FoldedLayer {
 public:
  /// A layer for `problem` (which must outlive it); the map and forward solver are created from
  /// the registries by name at set_from_options (or given explicitly before it).
  explicit FoldedLayer(Problem& problem, const std::string& prefix = "fold_");
  /// A layer over a bare map (no Problem): the forward solver must be `snes` or a callback.
  explicit FoldedLayer(std::unique_ptr<UpdateMap> map, const std::string& prefix = "fold_");
  ~FoldedLayer();

  void set_map(std::unique_ptr<UpdateMap> map);
  void set_forward(std::unique_ptr<ForwardSolver> fwd);
  /// Shortcut for set_forward(CallbackForward(f)): f fills the map's state.
  void set_forward_callback(CallbackForward::Function f);
  /// A primal forward: f fills the user's solution x (the solution layout) and the problem
  /// recovers the state from it (Problem::recover_state, e.g. TV's dual y*).
  void set_solution_callback(CallbackForward::Function f);
  /// The map's stepsize rule before its options are read (UpdateMap::set_stepsize_rule).
  void set_stepsize_rule(StepsizeRule r) { stepsize_rule_ = r; }
  void set_fixed_point_tolerance(PetscReal tol) { fp_tol_ = tol; }
  void set_estimate_rho(bool on) { estimate_rho_ = on; }
  /// The minimum check before each backward (on by default) and its number of products.
  void set_check_minimum(bool on, PetscInt steps = 20) {
    check_minimum_ = on;
    minimum_steps_ = steps;
  }
  /// Accept a fixed point that is not a minimum, with a warning on stderr, instead of refusing it.
  void set_accept_nonminimum(bool on) { accept_nonminimum_ = on; }
  /// Free the forward solver's work objects after each forward (ForwardSolver::release_work), so
  /// that the backward reuses their memory; the next forward rebuilds them.
  void set_release_forward(bool on) { release_forward_ = on; }
  /// Read the options (once, after the code's own defaults: the command line wins).
  void set_from_options();

  /// x*(θ). The returned vector belongs to the layer and holds x* until the next forward.
  Vec forward(const ParamSet& theta);
  /// ∂L/∂θ for g = ∂L/∂x* (the solution's layout), per block of θ, at the last forward's solution.
  ParamSet backward(Vec g);

  /// Install the state s* (for a solution computed elsewhere) without a forward solve; x* is
  /// its readout.
  void set_solution(const ParamSet& theta, Vec state);
  /// x* = R(s*; θ) (the state itself for maps without a readout).
  Vec solution() const { return xsol_ ? xsol_.get() : x_.get(); }
  /// The map's state s* from the last forward.
  Vec state() const { return x_; }
  const ParamSet& theta() const { return theta_; }

  UpdateMap& map();
  ForwardSolver& forward_solver();
  AdjointSolver& adjoint() { return adjoint_; }
  /// The unrolled baseline of -fold_backward unrolled and its last result (null until chosen).
  UnrolledBaseline* unrolled() { return unrolled_.get(); }

  const ForwardReport& forward_report() const { return fwd_report_; }
  /// Resident memory of the last backward (linearization, ρ estimate and minimum check, adjoint
  /// solve, Ψᵀ; not -fold_check_fd), summed over ranks; the forward's is forward_report().memory.
  const memory::Phase& backward_memory() const { return bwd_memory_; }
  const RhoEstimate& rho_estimate() const { return rho_; }
  /// The minimum check of the last backward (`ran` false when off or not yet run).
  const MinimumCheck& minimum_check() const { return minimum_; }
  /// The eigenvalues the map's automatic stepsize rule found at the last linearization.
  const ExtremeEigenvalues& stepsize_estimate() const;
  PetscReal fixed_point_residual() const { return fp_residual_; }
  /// Estimate ρ(Φ) at the current linearization now (also done in backward under -fold_rho).
  const RhoEstimate& estimate_rho();
  /// Finite-difference checks of the last backward (also run under -fold_check_fd).
  const std::vector<FdCheck>& fd_checks() const { return fd_; }
  void view(PetscViewer viewer) const;
  /// Option prefixes that the layer's objects (its SLEPc estimates, the adjoint's preconditioner,
  /// the forward solver's and the map's inner solvers) read only during a solve: a program that
  /// checks for unused options before solving judges these at the end.
  std::vector<std::string> deferred_option_prefixes();
  /// Where -fold_view reports after each backward: its viewer, stdout when named alone, nullptr
  /// without -fold_view (a caller that prints the report itself skips it when they coincide).
  PetscViewer view_viewer() const {
    return view_ ? (view_viewer_ ? view_viewer_.get() : PETSC_VIEWER_STDOUT_(comm_)) : nullptr;
  }

 private:
  void ensure_map();
  void ensure_parts();
  void linearize();
  void update_solution();
  void check_minimum();
  ParamSet backward_unrolled(Vec g, Vec g_solution, memory::PhaseMeter& meter);

  MPI_Comm comm_;
  std::string prefix_;
  Problem* problem_ = nullptr;
  std::unique_ptr<UpdateMap> map_;
  std::unique_ptr<ForwardSolver> fwd_;
  AdjointSolver adjoint_;
  StepsizeRule stepsize_rule_ = StepsizeRule::fixed;
  PetscReal fp_tol_ = 1e-6;
  bool estimate_rho_ = false, check_fd_ = false, view_ = false, options_set_ = false;
  Owned<PetscViewer, PetscViewerDestroy> view_viewer_;  ///< -fold_view's viewer, if one was named
  bool have_solution_ = false;
  ParamSet theta_;
  OwnedVec x_, xsol_;  ///< the state s*, and x* = R(s*) when the map has a readout
  ForwardReport fwd_report_;
  memory::Phase bwd_memory_;
  RhoEstimate rho_;
  bool rho_lanczos_ = true;          // -fold_rho_type lanczos (where the map has a stepsize operator)
  PetscInt rho_lanczos_steps_ = 40;  // -fold_rho_lanczos_steps
  bool check_minimum_ = true, accept_nonminimum_ = false, release_forward_ = false;
  PetscInt minimum_steps_ = 20;
  MinimumCheck minimum_;
  // The last Lanczos minimum check and what it ran on (stepsize_operator_version, α, steps): kept
  // while they stay the same (a training loop whose free set does not move).
  MinimumCheck kept_minimum_;
  PetscObjectState kept_minimum_version_ = 0;
  PetscReal kept_minimum_alpha_ = 0;
  PetscInt kept_minimum_steps_ = 0;
  PetscReal fp_residual_ = -1;
  std::vector<FdCheck> fd_;
  std::unique_ptr<UnrolledBaseline> unrolled_;
};

}  // namespace foldopt

#endif  // FOLDOPT_LAYER_HPP
