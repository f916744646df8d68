// foldopt: forward solvers, which return x*(θ).
//
// A forward solver need not be the algorithm the update map comes from; it only has to find the
// same fixed point (the layer checks ‖U(x*) − x*‖ before every backward). Solvers are registered
// by name and chosen with -fold_fwd_type; each reads its own options under the prefix fold_fwd_.
//   tao       PETSc TAO on the Problem (default where there is one): tron for bounds, almm for
//             general constraints; a table of what each TAO type handles refuses unsuitable types
//   snes      the map's own iteration through PETSc SNES on F(x) = x − U(x; θ)
//             (nrichardson with the `basic` line search is the plain iteration; anderson, ngmres
//             accelerate it); the default for a layer over a bare map
//   closed    the problem's closed form (qp_box with diagonal H, sparsemax, topk), refused where
//             there is none
//   fista     FISTA momentum with adaptive restart on a proximal-gradient map (FDPG on TV's dual);
//             stops at a fixed-point residual of 1e-12 (-fold_fwd_fista_tol)
//   bilinear_global  the bilinear problem's global search (vertex enumeration or alternating
//             maximization, then block ascent on its smoothing; problems/bilinear.hpp)
//   ipopt     IPOPT through a separately loaded plugin (optional at build time)
//   callback  a user function
#ifndef FOLDOPT_FORWARD_HPP
#define FOLDOPT_FORWARD_HPP

#include <foldopt/memory.hpp>
#include <foldopt/params.hpp>
#include <foldopt/registry.hpp>

#include <petscviewer.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace foldopt {

class Problem;
class UpdateMap;

/// Lagrange multipliers at a solution x*, in foldopt's one sign convention: the Lagrangian is
///     L = f + y_Eᵀ c_E + y_Iᵀ c_I − z_Lᵀ (x − lb) + z_Uᵀ (x − ub),
/// with y_I ≥ 0 for c_I(x) ≤ 0 and z_L, z_U ≥ 0 (zero where a bound is infinite), so that
///     ∇f + J_Eᵀ y_E + J_Iᵀ y_I − z_L + z_U = 0   at x*.
/// `eq` and `ineq` have the constraints' layouts (Problem::create_constraint_vec), `lower` and
/// `upper` the problem's; a vector is null where the problem has no constraint of that kind.
struct Multipliers {
  OwnedVec eq, ineq, lower, upper;
};

/// What a forward solve did.
struct ForwardReport {
  std::string solver;       ///< e.g. "snes nrichardson"
  bool converged = false;
  PetscInt iterations = 0;
  std::string reason;       ///< the solver's own converged/diverged reason
  PetscReal residual = 0;   ///< the solver's final residual (its own norm)
  double seconds = 0;
  memory::Phase memory;     ///< resident memory of the forward phase (filled by FoldedLayer::forward)
};

class ForwardSolver {
 public:
  virtual ~ForwardSolver() = default;
  virtual std::string type() const = 0;
  /// Read options under the solver's prefix (called once, after the code's defaults).
  virtual void set_from_options() {}
  /// Solve for θ; `x` holds the initial guess (warm start) on entry and x* on return. A solve
  /// that fails or does not converge throws foldopt::Error with the solver's reason.
  virtual ForwardReport solve(const ParamSet& theta, Vec x) = 0;
  virtual void view(PetscViewer viewer) const;
  /// Whether solve() returns the user's solution x rather than the map's state (a primal solver
  /// for a problem with a readout): the layer then recovers the state (Problem::recover_state).
  virtual bool returns_solution() const { return false; }
  /// Whether the solver iterates on the map's state itself (snes, a state callback) rather than
  /// solving the problem in its own unknowns: a map with a primal-dual state (sqp) then takes the
  /// state from it directly instead of from x* and the multipliers.
  virtual bool solves_map_state() const { return false; }
  /// Whether the last solve also gives the Lagrange multipliers (declared: TAO almm, IPOPT), and
  /// them (new vectors; the convention of struct Multipliers). A map whose state is primal-dual
  /// (UpdateMap::has_primal_dual_state) takes its state from x* and these.
  virtual bool has_multipliers() const { return false; }
  virtual Multipliers multipliers() const;
  /// Option prefixes the solver's objects read only at set-up, during the solve (a KSP's
  /// preconditioner levels): a program checks them at the end (UpdateMap has the same).
  virtual std::vector<std::string> deferred_option_prefixes() const { return {}; }
  /// Free the work objects of the last solve (matrices, Krylov solvers, preconditioners); the
  /// next solve rebuilds them (more set-up, same result). FoldedLayer calls it after each forward
  /// under -fold_release_forward, so that the backward reuses that memory. Default: nothing.
  virtual void release_work() {}
};

/// What a forward solver is built from.
struct ForwardContext {
  MPI_Comm comm = MPI_COMM_NULL;
  Problem* problem = nullptr;  ///< may be null for a bare map
  UpdateMap* map = nullptr;
  std::string prefix = "fold_fwd_";
};

using ForwardRegistry = Registry<ForwardSolver, const ForwardContext&>;
/// The registry of forward solvers (built-ins registered on first use).
ForwardRegistry& forward_registry();

/// The `callback` forward solver: a user function that fills x (holding the previous x* on entry)
/// and the report (iterations, converged, reason). With `solution` true the function returns the
/// user's solution (e.g. a primal TV solver) and the layer recovers the map's state from it.
class CallbackForward : public ForwardSolver {
 public:
  using Function = std::function<void(const ParamSet& theta, Vec x, ForwardReport& report)>;
  explicit CallbackForward(Function f = nullptr, bool solution = false) : f_(std::move(f)), solution_(solution) {}
  std::string type() const override { return "callback"; }
  void set_function(Function f) { f_ = std::move(f); }
  ForwardReport solve(const ParamSet& theta, Vec x) override;
  bool returns_solution() const override { return solution_; }
  bool solves_map_state() const override { return !solution_; }

 private:
  Function f_;
  bool solution_;
};

}  // namespace foldopt

#endif  // FOLDOPT_FORWARD_HPP
