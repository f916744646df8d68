// foldopt: the adjoint solve (I − Φᵀ) w = g.
//
// The operator is a MatShell over UpdateMap::phi_t; the solve is a KSP with the prefix `fold_`
// (default relative tolerance 1e-10, no preconditioner). `-fold_ksp_type richardson` (scale 1) is
// linear fixed-point iteration (LFPI), i.e. what unrolling computes; gmres, bcgs, fgmres, lgmres,
// gcr and every other KSP are one option away. Preconditioners (-fold_pc_type ilu, gamg, hypre,
// bjacobi, asm, …) act on the assembled I − Φᵀ where the map can assemble Φ; Jacobi can also use
// the diagonal of Φ alone.
//
// -fold_backward jacobian assembles I − Φᵀ and solves it directly with a second KSP (prefix
// `fold_jacobian_`, default preonly + LU, MUMPS in parallel). A map that cannot assemble Φ is
// probed column by column with Φᵀ products below -fold_jacobian_max_size (default 4096) only,
// and the report says so.
//
// A batch (B > 1 instances) is solved per instance under -fold_batch_solve blocks (auto for small
// n): exact n×n block solves (from the map's assembled Φᵀ, else n batched Φᵀ products) inside one
// outer KSP (src/core/batch_solve.hpp),
// else coupled by the KSP above; the report gives per-instance convergence either way.
// Reuse across solves (training loops: θ moves a little, the linearization's structure barely):
// -fold_pc_reuse keeps the preconditioner and the assembled Pmat it was built from
// (KSPSetReusePreconditioner, the old Pmat kept) while the fraction of entries whose status in the
// map's structure mask (UpdateMap::structure_mask: the free set of a box) changed since that build
// is at most -fold_pc_reuse_fraction F (default 0.01). A map without a mask is judged by the
// growth bound alone. -fold_pc_reuse_max_growth G (default 2): a solve with a reused PC that needs
// more than G times the iterations of the first solve after the build (iterations scaled to a
// full solve from the zero guess: × log(1/rtol)/log(r0/rtol)) keeps its (converged) result and the
// PC is rebuilt at the next solve; a reused PC that fails to converge is rebuilt at once and that
// solve redone. The convergence test stays the true residual: a stale PC costs iterations, never
// accuracy. Jacobi on the operator's own diagonal (and pc none) has nothing to reuse.
// -fold_ksp_initial_guess previous starts from the w of the previous solve (symmetric form: its u,
// scaled by α_prev/α) when the layout is unchanged; a guess whose relative residual is not below 1
// is dropped for zero. Krylov path only (-fold_backward krylov).
//
// A solve that does not converge throws foldopt::Error(PETSC_ERR_NOT_CONVERGED) naming the method,
// the residual reached and ρ(Φ) when known: never a silent wrong gradient.
#ifndef FOLDOPT_ADJOINT_HPP
#define FOLDOPT_ADJOINT_HPP

#include <foldopt/handle.hpp>
#include <foldopt/params.hpp>

#include <petscviewer.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace foldopt {

class UpdateMap;
class BatchBlocks;

/// `unrolled` is not an adjoint solve: FoldedLayer::backward then differentiates K unrolled steps
/// of the map (foldopt::UnrolledBaseline, include/foldopt/unrolled.hpp); solve() refuses it.
enum class BackwardMethod { krylov, jacobian, unrolled };

/// The adjoint system as it is, (I − Φᵀ) w = r, or its symmetric form (UpdateMap::has_symmetric_form):
/// (I − K M K) u = K r, w = r + M K u, solved by CG (MINRES where the map does not declare the
/// form definite); u scales like 1/α, w and the gradient do not depend on α. -fold_adjoint_form.
enum class AdjointForm { general, symmetric };

struct AdjointReport {
  std::string method;          ///< e.g. "krylov gmres, pc none" or "jacobian lu (mumps)"
  bool converged = false;
  PetscInt iterations = 0;     ///< KSP iterations (1 for a direct solve)
  std::string reason;          ///< KSPConvergedReason
  PetscReal rhs_norm = 0;      ///< ‖g‖₂
  PetscReal residual = 0;      ///< true residual ‖g − (I − Φᵀ) w‖₂
  PetscReal worst_instance = 0;///< max over batch instances of ‖r_b‖₂ / ‖g_b‖₂
  PetscReal prec_residual = -1;///< left preconditioning: ‖P⁻¹r‖₂ / ‖P⁻¹g‖₂ of the true residual (else −1)
  PetscReal form_residual = -1;///< symmetric form: worst instance's ‖K r − (I − K M K) u‖/‖K r‖ (else −1)
  PetscInt products = 0;       ///< Φᵀ products (solve and residual check)
  PetscInt passes = 1;         ///< KSP solves until every instance met rtol (a batch)
  std::string batch_solve;     ///< a batch: coupled or blocks (-fold_batch_solve) and why
  PetscReal instance_worst = 0;  ///< per instance, of the residual convergence is judged on
  PetscReal instance_median = 0; ///<   (instance_measure): worst and median relative residual,
  PetscInt instances_below = 0;  ///<   instances at or below rtol, and their number
  PetscInt instances = 0;
  std::string instance_measure;  ///< "true residual" or "left-preconditioned residual"
  PetscReal rtol = 0;
  double setup_seconds = 0;    ///< assembling Φ / preconditioner / factorization
  double seconds = 0;          ///< the whole solve
  std::string note;            ///< e.g. why a fallback was taken
  // -fold_pc_reuse and -fold_ksp_initial_guess (see the head of this file)
  bool pc_reuse = false;             ///< -fold_pc_reuse on and a preconditioner with set-up work
  bool pc_reused = false;            ///< this solve used a PC built at an earlier solve
  PetscInt pc_age = 0;               ///< solves since that PC was built (0: built in this one)
  PetscReal structure_change = -1;   ///< fraction of entries whose status changed since the build (−1: not tracked)
  PetscReal reuse_fraction = 0;      ///< F of -fold_pc_reuse_fraction
  std::string pc_rebuild_reason;     ///< why the PC was (re)built in this solve ("" when reused or off)
  std::string pc_next;               ///< a rebuild already decided for the next solve, and why
  PetscInt pc_setups = 0;            ///< preconditioner set-ups by this solver so far
  std::string initial_guess = "zero";///< "zero" or "previous" (the guess used)
  PetscReal initial_residual = -1;   ///< relative residual of a previous guess (−1: zero guess)
};

class AdjointSolver {
 public:
  explicit AdjointSolver(MPI_Comm comm, const std::string& prefix = "fold_");
  ~AdjointSolver();
  AdjointSolver(const AdjointSolver&) = delete;
  AdjointSolver& operator=(const AdjointSolver&) = delete;

  /// The map whose linearization is solved; must outlive the solver.
  void set_map(UpdateMap& map);
  void set_backward(BackwardMethod m) { backward_ = m; }
  void set_form(AdjointForm f) { form_ = f; }
  AdjointForm form() const { return form_; }
  BackwardMethod backward() const { return backward_; }
  void set_tolerances(PetscReal rtol, PetscReal atol, PetscInt max_it);
  void set_jacobian_max_size(PetscInt n) { jacobian_max_size_ = n; }
  /// ρ(Φ) when an estimate is known (quoted in errors).
  void set_rho(PetscReal rho) { rho_ = rho; }
  /// Reads -<prefix>backward, -<prefix>jacobian_max_size, -<prefix>monitor, -<prefix>batch_solve,
  /// -<prefix>batch_block_max_size and the KSP options.
  void set_from_options();

  /// Option prefixes read only at set-up, in the first solve: the preconditioner's levels and
  /// sub-solvers, the Jacobian path's factorization.
  std::vector<std::string> deferred_option_prefixes() const;

  /// Solve (I − Φᵀ) w = g at the map's current linearization; w is the initial guess on entry
  /// only when the KSP is told to use a nonzero guess. Throws on non-convergence.
  void solve(Vec g, Vec w);
  const AdjointReport& report() const { return report_; }
  /// out = Ψᵀ w for the w of the last solve: in the symmetric form through
  /// UpdateMap::psi_t_factored with J w = K u from the solve, else UpdateMap::psi_t.
  void psi_t(Vec w, ParamSet& out);
  void view(PetscViewer viewer) const;

  KSP ksp() const { return ksp_; }
  /// The MatShell of I − Φᵀ and of Φᵀ (for EPS, tests and user code).
  Mat operator_shell() const { return a_; }
  Mat phi_t_shell() const { return phit_; }
  /// Φᵀ products made through the shells so far.
  PetscInt products() const { return products_; }

  /// I − Φᵀ assembled from the map (new reference): transpose of the assembled Φ when the map
  /// can assemble, otherwise (size ≤ the limit) columns from Φᵀ products. `how` says which.
  OwnedMat assemble_operator(std::string* how = nullptr);

  /// Rethrow (and clear) an exception a map raised inside a product PETSc called through the
  /// shells (e.g. by a SLEPc solve on phi_t_shell()); nothing when there is none.
  void rethrow_pending();

  /// Run `f`, an eigensolver (SLEPc) on phi_t_shell(), with products that do not fail inside
  /// it: SLEPc cannot free a solver whose product failed midway (its work matrices stay checked
  /// out), so while `f` runs a map's exception is kept and the product returns zero (the Krylov
  /// space breaks down and the solve ends); the exception is rethrown once `f` returns.
  template <typename F>
  void run_eigensolver(F&& f) {
    quiet_products_ = true;
    try {
      f();
    } catch (...) {
      quiet_products_ = false;
      rethrow_pending();
      throw;
    }
    quiet_products_ = false;
    rethrow_pending();
  }

 private:
  struct Shell;
  void ensure_shells();
  void solve_krylov(Vec g, Vec w);
  /// The solve after the set-up: initial guess, solve_with, then reuse_after_solve.
  void solve_krylov_once(Vec g, Vec w, bool symmetric);
  void solve_jacobian(Vec g, Vec w);
  /// KSPSolve of b into u (rethrowing a callback's exception), `recover` w from u, until every
  /// instance of a batch meets rtol on (I − Φᵀ) w = g; record reason and iterations, then finish.
  void solve_with(KSP ksp, Vec b, Vec u, Vec g, Vec w, const std::function<void()>& recover);
  void finish(Vec g, Vec w, bool solver_converged);
  /// report_.residual and worst_instance of w (the residual left in work_).
  void true_residual(Vec g, Vec w);
  /// Whether the Krylov solve is left-preconditioned (its norm is that of P⁻¹r), and P⁻¹v.
  bool left_preconditioned() const;
  /// report_.form_residual of u in the symmetric form (K r = b); returns it.
  PetscReal symmetric_residual(Vec b, Vec u);
  OwnedVec preconditioned(Vec v);
  /// -fold_pc_reuse: whether the PC built at an earlier solve may serve this one (else the
  /// reason for a rebuild in report_.pc_rebuild_reason); `pc_key` (PC type and form) is empty
  /// for a PC without set-up work (none, Jacobi on the shell's diagonal).
  bool reuse_decision(const std::string& pc_key);
  /// After a solve: the base iteration count, the growth test, the previous w (or u) kept.
  void reuse_after_solve(Vec x);
  /// -fold_ksp_initial_guess previous: the previous w (or u) into `x` when it applies; the
  /// relative residual of the guess against `b` under operator `A`. Returns whether it is used.
  bool previous_guess(Mat A, Vec b, Vec x);
  /// Iterations scaled to a full solve from the zero guess (−1 when the guess met rtol).
  PetscReal scaled_iterations() const;

  MPI_Comm comm_;
  std::string prefix_;
  UpdateMap* map_ = nullptr;
  BackwardMethod backward_ = BackwardMethod::krylov;
  PetscInt jacobian_max_size_ = 4096;
  PetscReal rho_ = -1;
  PetscInt products_ = 0;
  AdjointForm form_ = AdjointForm::general;
  OwnedMat a_, phit_, sym_, pmat_;
  OwnedKSP ksp_, jac_ksp_;
  OwnedVec work_, work2_;
  OwnedVec jw_;        ///< K u of the last symmetric-form solve (J w without the recovery), else null
  AdjointReport report_;
  std::exception_ptr pending_;  ///< exception raised inside a PETSc callback
  bool options_set_ = false, side_chosen_ = false;
  bool quiet_products_ = false;  ///< inside run_eigensolver
  std::unique_ptr<BatchBlocks> batch_;  ///< per-instance solves of a batch (src/core/batch_solve.hpp)
  // Reuse across solves (-fold_pc_reuse*, -fold_ksp_initial_guess)
  bool pc_reuse_ = false, guess_previous_ = false;
  PetscReal reuse_fraction_ = 0.01, reuse_growth_ = 2;
  bool pc_built_ = false;        ///< a PC built at an earlier solve is in the KSP
  std::string pc_key_;           ///< its type and form (a change forces a rebuild)
  PetscInt pc_age_ = 0, pc_setups_ = 0;
  PetscReal pc_base_its_ = -1;   ///< scaled iterations of the first solve after the build
  std::string pc_next_;          ///< rebuild decided for the next solve (the reason), else ""
  OwnedVec mask_ref_, mask_now_; ///< structure mask at the build, and now
  OwnedVec prev_x_;              ///< w (general form) or u (symmetric) of the last solve
  PetscReal prev_alpha_ = 0;     ///< the map's stepsize at that solve (u scales like 1/α)
};

const char* to_string(BackwardMethod m);

}  // namespace foldopt

#endif  // FOLDOPT_ADJOINT_HPP
