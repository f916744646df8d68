// foldopt: the adjoint solve (I − Φᵀ) w = g (see include/foldopt/adjoint.hpp).
//
// Method: I − Φᵀ is a MatShell over UpdateMap::phi_t; a KSP (prefix fold_) solves it. LFPI is
//   KSPRICHARDSON with scale 1 and PCNONE: w_{k+1} = w_k + (g − (I − Φᵀ) w_k) = Φᵀ w_k + g.
//   Preconditioners that need entries get the assembled I − Φᵀ = I − (Φ assembled)ᵀ as Pmat; the
//   Jacobian path factors that matrix (LU, MUMPS in parallel). A dense one (from a dense H) stays
//   dense where PETSc's preconditioner or factorization takes MATDENSE (aij_unless_dense_works),
//   else it is converted to AIJ (the report's note says which).
// Algorithm: after every solve the true residual ‖g − (I − Φᵀ) w‖₂ is computed with one more
//   product; a diverged KSP, a failed factorization, or a residual far above the tolerance is an
//   error (PETSC_ERR_NOT_CONVERGED).
//   Reuse across solves (-fold_pc_reuse): the structure's signature is the map's 0/1 structure
//   mask (UpdateMap::structure_mask; for prox-gradient maps [d_i ≠ 0] of the prox Jacobian's
//   diagonal part, the free set of a box), kept as it was at the PC's build; the entries whose
//   status changed since are counted (O(n/P) a rank, one reduction). The mask rather than diag(Φ)
//   or Φ's pattern: diag(Φ) moves with every value (θ, α) while the PC stays good, and the
//   pattern needs the assembly that reuse saves. The reused PC and its Pmat stay in the KSP
//   (KSPSetReusePreconditioner, no new KSPSetOperators); growth is judged on iterations scaled to
//   a solve from the zero guess, so a good initial guess does not pass for a good PC.
// References: Kotary, Dinh, Fioretto, "Analyzing and Enhancing the Backward-Pass Convergence of
//   Unrolled Optimization" (2023), Theorem 1 (unrolling = LFPI on the adjoint system).
#include <foldopt/adjoint.hpp>

#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/batch_solve.hpp"
#include "core/compat.hpp"
#include "core/log.hpp"
#include "core/options.hpp"
#include "core/util.hpp"

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

namespace foldopt {

const char* to_string(BackwardMethod m) {
  switch (m) {
    case BackwardMethod::krylov: return "krylov";
    case BackwardMethod::jacobian: return "jacobian";
    case BackwardMethod::unrolled: return "unrolled";
  }
  return "?";
}

// File-static callbacks of the shells: check the context, forward to the map, keep exceptions.
struct AdjointSolver::Shell {
  static AdjointSolver* self(Mat A) {
    void* ctx = nullptr;
    MatShellGetContext(A, &ctx);
    return static_cast<AdjointSolver*>(ctx);
  }
  // Call the map inside a PETSc callback: exceptions are kept for the caller, PETSc gets an error.
  // Under run_eigensolver a failed product (and every product after it) gives `out` = 0 instead.
  template <typename F>
  static PetscErrorCode call_map(Mat A, const char* what, Vec out, F&& f) {
    AdjointSolver* s = self(A);
    PetscCheck(s && s->map_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "adjoint shell has no map");
    PetscErrorCode ierr = s->quiet_products_ && s->pending_ ? compat::success
                                                            : detail::guarded(s->pending_, [&] { f(*s); });
    if (s->quiet_products_ && s->pending_) return VecZeroEntries(out);
    if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "update map '%s' failed in %s", s->map_->type().c_str(), what);
    return compat::success;
  }
  // y = Φᵀ x
  static PetscErrorCode mult_phit(Mat A, Vec x, Vec y) {
    return call_map(A, "phi_t", y, [&](AdjointSolver& s) {
      s.map_->phi_t(x, y);
      ++s.products_;
    });
  }
  // y = (I − Φᵀ) x
  static PetscErrorCode mult_a(Mat A, Vec x, Vec y) {
    PetscCall(mult_phit(A, x, y));
    PetscCall(VecAYPX(y, -1.0, x));
    return compat::success;
  }
  // y = Φ x and y = (I − Φ) x (transpose products, where the map has phi)
  static PetscErrorCode mult_t_phit(Mat A, Vec x, Vec y) {
    return call_map(A, "phi", y, [&](AdjointSolver& s) { s.map_->phi(x, y); });
  }
  static PetscErrorCode mult_t_a(Mat A, Vec x, Vec y) {
    PetscCall(mult_t_phit(A, x, y));
    PetscCall(VecAYPX(y, -1.0, x));
    return compat::success;
  }
  // diag(Φᵀ) = diag(Φ); diag(I − Φᵀ) = 1 − diag(Φ)
  static PetscErrorCode diag_phit(Mat A, Vec d) {
    return call_map(A, "get_diagonal", d, [&](AdjointSolver& s) { s.map_->get_diagonal(d); });
  }
  // y = (I − K M K) x, the symmetric form's operator
  static PetscErrorCode mult_sym(Mat A, Vec x, Vec y) {
    return call_map(A, "the symmetric form (factor_mult, smooth_mult)", y, [&](AdjointSolver& s) {
      s.map_->factor_mult(x, s.work_);
      s.map_->smooth_mult(s.work_, s.work2_);
      s.map_->factor_mult(s.work2_, y);
      ++s.products_;
    });
  }
  static PetscErrorCode mult_i_sym(Mat A, Vec x, Vec y) {
    PetscCall(mult_sym(A, x, y));
    PetscCall(VecAYPX(y, -1.0, x));
    return compat::success;
  }
  static PetscErrorCode diag_sym(Mat A, Vec d) {
    return call_map(A, "symmetric_diagonal", d, [&](AdjointSolver& s) { s.map_->symmetric_diagonal(d); });
  }
  static PetscErrorCode diag_a(Mat A, Vec d) {
    PetscCall(diag_phit(A, d));
    PetscCall(VecScale(d, -1.0));
    PetscCall(VecShift(d, 1.0));
    return compat::success;
  }
};

namespace {

// A dense I − Φᵀ (from a dense H) stays dense for the preconditioners PETSc 3.18 runs on
// MATDENSE: none, jacobi, bjacobi, hypre, and at one rank also lu, cholesky, ilu, icc, sor (with
// PETSc's own factorization). The others (gamg, asm, any parallel factorization: MUMPS,
// SuperLU_DIST and ScaLAPACK take no MATMPIDENSE) get an AIJ copy, and the note says so.
void aij_unless_dense_works(OwnedMat& A, const std::string& pc, const char* solver, MPI_Comm comm, std::string* note) {
  PetscBool dense = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)A.get(), &dense, MATSEQDENSE, MATMPIDENSE, ""));
  if (!dense) return;
  int size = 1;
  MPI_Comm_size(comm, &size);
  const bool factor = pc == PCLU || pc == PCCHOLESKY || pc == PCILU || pc == PCICC || pc == PCSOR;
  const bool own_solver = !solver || std::strcmp(solver, MATSOLVERPETSC) == 0;
  const bool works = pc == PCNONE || pc == PCJACOBI || pc == PCBJACOBI || pc == PCHYPRE || (factor && size == 1 && own_solver);
  if (works) {
    if (note) *note += " (dense)";
    return;
  }
  Mat raw = A.get();
  FOLDOPT_CALL(MatConvert(raw, MATAIJ, MAT_INPLACE_MATRIX, &raw));
  if (note)
    *note += std::string(" (dense, converted to AIJ for pc ") + pc + (solver ? std::string(" with ") + solver : "") +
             ": PETSc 3.18 runs it on AIJ only)";
}
/// x = S⁻¹ b for a small dense r×r system (row-major), by Gaussian elimination with partial
/// pivoting, the same on every rank. A singular S is an error.
std::vector<PetscScalar> dense_solve(std::vector<PetscScalar> S, std::vector<PetscScalar> b, PetscInt r) {
  for (PetscInt k = 0; k < r; ++k) {
    PetscInt p = k;
    for (PetscInt i = k + 1; i < r; ++i)
      if (PetscAbsScalar(S[i * r + k]) > PetscAbsScalar(S[p * r + k])) p = i;
    FOLDOPT_CHECK(PetscAbsScalar(S[p * r + k]) > 0, PETSC_ERR_MAT_LU_ZRPVT,
                  "Jacobian extraction: the low-rank correction (Woodbury) is singular: I - Phi^T is singular");
    if (p != k) {
      for (PetscInt j = 0; j < r; ++j) std::swap(S[k * r + j], S[p * r + j]);
      std::swap(b[k], b[p]);
    }
    for (PetscInt i = k + 1; i < r; ++i) {
      const PetscScalar f = S[i * r + k] / S[k * r + k];
      for (PetscInt j = k; j < r; ++j) S[i * r + j] -= f * S[k * r + j];
      b[i] -= f * b[k];
    }
  }
  for (PetscInt k = r - 1; k >= 0; --k) {
    for (PetscInt j = k + 1; j < r; ++j) b[k] -= S[k * r + j] * b[j];
    b[k] /= S[k * r + k];
  }
  return b;
}

PetscErrorCode read_options(MPI_Comm comm, const char* prefix, PetscInt* method, PetscInt* maxsize,
                            PetscBool* monitor, PetscInt* form) {
  static const char* const methods[] = {"krylov", "jacobian", "unrolled"};
  static const char* const forms[] = {"general", "symmetric"};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Folded backward (adjoint solve)", "AdjointSolver");
  PetscCall(PetscOptionsEList("-backward", "Adjoint method: matrix-free Krylov, Jacobian extraction and a direct solve, or the unrolled baseline (FoldedLayer, -unrolled_*)",
                              "AdjointSolver::set_backward", methods, 3, methods[*method], method, nullptr));
  PetscCall(PetscOptionsInt("-jacobian_max_size", "Largest size at which a map that cannot assemble Phi is probed column by column",
                            "AdjointSolver::set_jacobian_max_size", *maxsize, maxsize, nullptr));
  PetscCall(PetscOptionsBool("-monitor", "Print the true residual of each adjoint iteration", "AdjointSolver", *monitor,
                             monitor, nullptr));
  PetscCall(PetscOptionsEList("-adjoint_form", "The adjoint system as it is, or its symmetric form (maps with a factor K of J: CG, MINRES, SPD preconditioners)",
                              "AdjointSolver::set_form", forms, 2, forms[*form], form, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

PetscErrorCode read_reuse_options(MPI_Comm comm, const char* prefix, PetscBool* reuse, PetscReal* fraction,
                                  PetscReal* growth, PetscInt* guess) {
  static const char* const guesses[] = {"zero", "previous"};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Folded backward: reuse across solves", "AdjointSolver");
  PetscCall(PetscOptionsBool("-pc_reuse", "Keep the preconditioner (and its assembled Pmat) across backward calls while the linearization's structure changes little",
                             "AdjointSolver", *reuse, reuse, nullptr));
  PetscCall(PetscOptionsReal("-pc_reuse_fraction", "Largest fraction of entries whose status (the map's structure mask, e.g. the free set) may change before the kept preconditioner is rebuilt",
                             "AdjointSolver", *fraction, fraction, nullptr));
  PetscCall(PetscOptionsReal("-pc_reuse_max_growth", "Rebuild the kept preconditioner after a solve that needs more than this many times the iterations of the first solve after its build",
                             "AdjointSolver", *growth, growth, nullptr));
  PetscCall(PetscOptionsEList("-ksp_initial_guess", "Initial guess of the adjoint solve: zero, or the previous solve's w (the symmetric form's u) when the layout is unchanged",
                              "AdjointSolver", guesses, 2, guesses[*guess], guess, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

AdjointSolver::AdjointSolver(MPI_Comm comm, const std::string& prefix)
    : comm_(comm), prefix_(prefix), batch_(std::make_unique<BatchBlocks>(comm, prefix)) {
  report_.rtol = 1e-10;
}

AdjointSolver::~AdjointSolver() = default;

void AdjointSolver::rethrow_pending() {
  if (pending_) {
    std::exception_ptr e = pending_;
    pending_ = nullptr;
    std::rethrow_exception(e);
  }
}

void AdjointSolver::set_map(UpdateMap& map) {
  if (map_ && &map != map_) {
    a_.reset();
    phit_.reset();
    sym_.reset();
    pmat_.reset();
    work_.reset();
    work2_.reset();
    pc_built_ = false;  // reuse across solves starts over with the new map
    mask_ref_.reset();
    mask_now_.reset();
    prev_x_.reset();
  }
  map_ = &map;
  ensure_shells();
  if (ksp_) FOLDOPT_CALL(KSPSetOperators(ksp_, a_, a_));
}

void AdjointSolver::ensure_shells() {
  FOLDOPT_CHECK(map_ != nullptr, PETSC_ERR_ORDER, "adjoint solver: set_map() first");
  if (a_) return;
  const Layout& l = map_->layout();
  FOLDOPT_CALL(MatCreateShell(comm_, l.local, l.local, l.global(), l.global(), this, a_.out()));
  FOLDOPT_CALL(MatShellSetOperation(a_, MATOP_MULT, compat::matop(Shell::mult_a)));
  FOLDOPT_CALL(MatCreateShell(comm_, l.local, l.local, l.global(), l.global(), this, phit_.out()));
  FOLDOPT_CALL(MatShellSetOperation(phit_, MATOP_MULT, compat::matop(Shell::mult_phit)));
  if (map_->has_phi()) {
    FOLDOPT_CALL(MatShellSetOperation(a_, MATOP_MULT_TRANSPOSE, compat::matop(Shell::mult_t_a)));
    FOLDOPT_CALL(MatShellSetOperation(phit_, MATOP_MULT_TRANSPOSE, compat::matop(Shell::mult_t_phit)));
  }
  if (map_->has_diagonal()) {
    FOLDOPT_CALL(MatShellSetOperation(a_, MATOP_GET_DIAGONAL, compat::matop(Shell::diag_a)));
    FOLDOPT_CALL(MatShellSetOperation(phit_, MATOP_GET_DIAGONAL, compat::matop(Shell::diag_phit)));
  }
  FOLDOPT_CALL(MatCreateVecs(a_, work_.out(), nullptr));
  FOLDOPT_CALL(VecDuplicate(work_, work2_.out()));
  if (map_->has_symmetric_form()) {
    FOLDOPT_CALL(MatCreateShell(comm_, l.local, l.local, l.global(), l.global(), this, sym_.out()));
    FOLDOPT_CALL(MatShellSetOperation(sym_, MATOP_MULT, compat::matop(Shell::mult_i_sym)));
    FOLDOPT_CALL(MatSetOption(sym_, MAT_SYMMETRIC, PETSC_TRUE));
    if (map_->has_symmetric_diagonal())
      FOLDOPT_CALL(MatShellSetOperation(sym_, MATOP_GET_DIAGONAL, compat::matop(Shell::diag_sym)));
  }
}

void AdjointSolver::set_tolerances(PetscReal rtol, PetscReal atol, PetscInt max_it) {
  if (!ksp_) FOLDOPT_CALL(KSPCreate(comm_, ksp_.out()));
  FOLDOPT_CALL(KSPSetTolerances(ksp_, rtol, atol, PETSC_DEFAULT, max_it));
}

void AdjointSolver::set_from_options() {
  ensure_shells();
  if (!ksp_) {
    FOLDOPT_CALL(KSPCreate(comm_, ksp_.out()));
    FOLDOPT_CALL(KSPSetTolerances(ksp_, 1e-10, 1e-50, PETSC_DEFAULT, 100000));
  }
  FOLDOPT_CALL(KSPSetOptionsPrefix(ksp_, prefix_.c_str()));
  const std::string ksp_default = map_->default_ksp_type();
  FOLDOPT_CALL(KSPSetType(ksp_, ksp_default.empty() ? KSPGMRES : ksp_default.c_str()));
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
  const std::string pc_default = map_->default_pc_type();
  FOLDOPT_CALL(PCSetType(pc, pc_default.empty() ? PCNONE : pc_default.c_str()));
  FOLDOPT_CALL(KSPSetOperators(ksp_, a_, a_));

  PetscBool monitor = PETSC_FALSE;
  PetscInt maxsize = jacobian_max_size_;
  PetscInt method = static_cast<PetscInt>(backward_);
  PetscInt form = static_cast<PetscInt>(form_);
  // Values checked before PETSc reads them (src/core/options.hpp): an error inside an options
  // block would leave the block open (and leak), and PETSc's getters wrap integers.
  const char* pre = prefix_.c_str();
  options::check_prefixed_options(prefix_);
  options::check_choice(pre, "backward", {"krylov", "jacobian", "unrolled"});
  options::check_int(pre, "jacobian_max_size", 0, PETSC_MAX_INT);
  options::check_bool(pre, "monitor");
  options::check_choice(pre, "adjoint_form", {"general", "symmetric"});
  options::check_bool(pre, "pc_reuse");
  options::check_real(pre, "pc_reuse_fraction", 0, 1);
  options::check_real(pre, "pc_reuse_max_growth", 0, 1e300, true);
  options::check_choice(pre, "ksp_initial_guess", {"zero", "previous"});
  FOLDOPT_CALL(read_options(comm_, prefix_.c_str(), &method, &maxsize, &monitor, &form));
  batch_->set_from_options();
  {
    PetscBool reuse = pc_reuse_ ? PETSC_TRUE : PETSC_FALSE;
    PetscInt guess = guess_previous_ ? 1 : 0;
    FOLDOPT_CALL(read_reuse_options(comm_, pre, &reuse, &reuse_fraction_, &reuse_growth_, &guess));
    pc_reuse_ = reuse;
    guess_previous_ = guess == 1;
    pc_built_ = false;  // the options may have changed the preconditioner: the next solve builds it
  }
  backward_ = static_cast<BackwardMethod>(method);
  jacobian_max_size_ = maxsize;
  form_ = static_cast<AdjointForm>(form);
  if (form_ == AdjointForm::symmetric) {
    FOLDOPT_CHECK(map_->has_symmetric_form(), PETSC_ERR_SUP,
                  "-%sadjoint_form symmetric: update map '%s' declares no factor K of its Jacobian (J = K K^T): use "
                  "-%sadjoint_form general",
                  pre, map_->type().c_str(), pre);
    FOLDOPT_CHECK(backward_ == BackwardMethod::krylov, PETSC_ERR_ARG_INCOMP,
                  "-%sadjoint_form symmetric goes with -%sbackward krylov (not %s)", pre, pre, to_string(backward_));
    // CG where the operator is SPD at a minimum (a convex objective), MINRES otherwise.
    FOLDOPT_CALL(KSPSetType(ksp_, map_->symmetric_form_definite() ? KSPCG : KSPMINRES));
    FOLDOPT_CALL(KSPSetOperators(ksp_, sym_, sym_));
  }
  if (monitor) {
    PetscViewerAndFormat* vf;
    FOLDOPT_CALL(PetscViewerAndFormatCreate(PETSC_VIEWER_STDOUT_(comm_), PETSC_VIEWER_DEFAULT, &vf));
    FOLDOPT_CALL(KSPMonitorSet(ksp_, (PetscErrorCode(*)(KSP, PetscInt, PetscReal, void*))KSPMonitorTrueResidual, vf,
                               (PetscErrorCode(*)(void**))PetscViewerAndFormatDestroy));
  }
  {
    // BoomerAMG (-fold_pc_type hypre) with foldopt's defaults wherever the command line gives
    // none: HMIS coarsening, ext+i interpolation of at most 4 entries a row. PETSc's own
    // (Falgout, classical, unlimited) build a larger hierarchy, slower to set up (box-QP at
    // n = 10⁷: bench/README.md, "Scaling"); aggressive coarsening (agg_nl 1) saves more memory
    // but took 9 and 20 GMRES iterations instead of 6 and 6 (box-QP, TV at n = 10⁵), so it is
    // left an option. The values are in the options database only while KSPSetFromOptions
    // reads them.
    static const char* const hypre_defaults[][2] = {{"pc_hypre_boomeramg_coarsen_type", "HMIS"},
                                                    {"pc_hypre_boomeramg_interp_type", "ext+i"},
                                                    {"pc_hypre_boomeramg_P_max", "4"}};
    struct Inserted {
      std::vector<std::string> names;
      ~Inserted() {
        for (const std::string& n : names) PetscOptionsClearValue(nullptr, n.c_str());
      }
    } inserted;
    for (const auto& d : hypre_defaults) {
      const std::string name = "-" + prefix_ + d[0];
      PetscBool set = PETSC_FALSE;
      FOLDOPT_CALL(PetscOptionsHasName(nullptr, nullptr, name.c_str(), &set));
      if (set) continue;
      FOLDOPT_CALL(PetscOptionsSetValue(nullptr, name.c_str(), d[1]));
      inserted.names.push_back(name);
    }
    with_context("-" + prefix_ + "ksp_* / -" + prefix_ + "pc_* options", [&] { FOLDOPT_CALL(KSPSetFromOptions(ksp_)); });
  }
  // Tolerances a solve cannot meet or meets by doing nothing: refused here, not reported as a
  // breakdown (rtol 0) or a zero gradient (rtol >= 1) after the solve.
  {
    PetscReal rtol, atol, dtol;
    PetscInt max_it;
    FOLDOPT_CALL(KSPGetTolerances(ksp_, &rtol, &atol, &dtol, &max_it));
    FOLDOPT_CHECK(rtol > 0 && rtol < 1, PETSC_ERR_ARG_OUTOFRANGE,
                  "-%sksp_rtol %g: the adjoint's relative tolerance must be in (0, 1)", pre, (double)rtol);
    FOLDOPT_CHECK(atol >= 0, PETSC_ERR_ARG_OUTOFRANGE, "-%sksp_atol %g: must be nonnegative", pre, (double)atol);
    FOLDOPT_CHECK(max_it >= 1, PETSC_ERR_ARG_OUTOFRANGE, "-%sksp_max_it %" PetscInt_FMT ": must be at least 1", pre,
                  max_it);
  }
  if (form_ == AdjointForm::symmetric && !map_->symmetric_form_definite()) {
    PetscBool cg = PETSC_FALSE;
    FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)ksp_.get(), &cg, KSPCG, KSPPIPECG, KSPGROPPCG, KSPPIPECGRR, ""));
    FOLDOPT_CHECK(!cg, PETSC_ERR_ARG_INCOMP,
                  "-%sksp_type cg: the symmetric form of update map '%s' need not be definite (its objective is not "
                  "convex): use -%sksp_type minres",
                  pre, map_->type().c_str(), pre);
  }

  if (!jac_ksp_) {
    FOLDOPT_CALL(KSPCreate(comm_, jac_ksp_.out()));
    FOLDOPT_CALL(KSPSetOptionsPrefix(jac_ksp_, (prefix_ + "jacobian_").c_str()));
    FOLDOPT_CALL(KSPSetType(jac_ksp_, KSPPREONLY));
    PC jpc;
    FOLDOPT_CALL(KSPGetPC(jac_ksp_, &jpc));
    FOLDOPT_CALL(PCSetType(jpc, PCLU));
    int size = 1;
    MPI_Comm_size(comm_, &size);
    if (size > 1) FOLDOPT_CALL(PCFactorSetMatSolverType(jpc, MATSOLVERMUMPS));
  }
  // Only read the Jacobian solver's options when that path is taken, so that unused options are
  // reported rather than silently accepted.
  if (backward_ == BackwardMethod::jacobian)
    with_context("-" + prefix_ + "jacobian_* options", [&] { FOLDOPT_CALL(KSPSetFromOptions(jac_ksp_)); });
  options_set_ = true;
}

std::vector<std::string> AdjointSolver::deferred_option_prefixes() const {
  return {prefix_ + "pc_", prefix_ + "mat_", prefix_ + "sub_", prefix_ + "mg_", prefix_ + "redundant_", "mat_",
          prefix_ + "jacobian_"};
}

OwnedMat AdjointSolver::assemble_operator(std::string* how) {
  LogScope log(log_events().assemble);
  ensure_shells();
  const Layout& l = map_->layout();
  OwnedMat A;
  if (map_->can_assemble()) {
    A = map_->assemble_phi_transpose();  // one copy where the map builds Φᵀ itself
    FOLDOPT_CALL(MatScale(A, -1.0));
    FOLDOPT_CALL(MatShift(A, 1.0));
    if (how) *how = "assembled from the map's sparse Φ";
    return A;
  }
  const PetscInt N = l.global();
  if (N > jacobian_max_size_)
    detail::throw_error(PETSC_ERR_SUP,
                        detail::format("update map '%s' cannot assemble Φ, and its size %" PetscInt_FMT
                                       " exceeds -%sjacobian_max_size %" PetscInt_FMT
                                       " for extraction from products; use -%sbackward krylov",
                                       map_->type().c_str(), N, prefix_.c_str(), jacobian_max_size_,
                                       prefix_.c_str()));
  // Column j of Φᵀ is Φᵀ e_j: N products, kept as a dense-pattern AIJ so the same LU applies.
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(work_, &rstart, &rend));
  const PetscInt nloc = rend - rstart;
  FOLDOPT_CALL(MatCreateAIJ(comm_, l.local, l.local, N, N, nloc, nullptr, N - nloc, nullptr, A.out()));
  OwnedVec e, col;
  FOLDOPT_CALL(VecDuplicate(work_, e.out()));
  FOLDOPT_CALL(VecDuplicate(work_, col.out()));
  for (PetscInt j = 0; j < N; ++j) {
    FOLDOPT_CALL(VecZeroEntries(e));
    if (j >= rstart && j < rend) FOLDOPT_CALL(VecSetValue(e, j, 1.0, INSERT_VALUES));
    FOLDOPT_CALL(VecAssemblyBegin(e));
    FOLDOPT_CALL(VecAssemblyEnd(e));
    map_->phi_t(e, col);
    ++products_;
    const PetscScalar* c;
    FOLDOPT_CALL(VecGetArrayRead(col, &c));
    for (PetscInt i = rstart; i < rend; ++i) {
      const PetscScalar v = (i == j ? 1.0 : 0.0) - c[i - rstart];
      FOLDOPT_CALL(MatSetValue(A, i, j, v, INSERT_VALUES));
    }
    FOLDOPT_CALL(VecRestoreArrayRead(col, &c));
  }
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  if (how)
    *how = detail::format("extracted from %" PetscInt_FMT " Φᵀ products (map '%s' cannot assemble Φ)",
                          N, map_->type().c_str());
  return A;
}

void AdjointSolver::solve(Vec g, Vec w) {
  FOLDOPT_CHECK(map_ != nullptr, PETSC_ERR_ORDER, "adjoint solver: set_map() first");
  if (!options_set_) set_from_options();
  FOLDOPT_CHECK(backward_ != BackwardMethod::unrolled, PETSC_ERR_ARG_WRONGSTATE,
                "adjoint solver: -%sbackward unrolled is not an adjoint solve; FoldedLayer::backward runs the unrolled "
                "baseline (foldopt::UnrolledBaseline) for it, or choose -%sbackward krylov or jacobian",
                prefix_.c_str(), prefix_.c_str());
  report_ = AdjointReport();
  products_ = 0;
  jw_.reset();
  PetscReal rtol, atol, dtol;
  PetscInt maxit;
  FOLDOPT_CALL(KSPGetTolerances(ksp_, &rtol, &atol, &dtol, &maxit));
  report_.rtol = rtol;
  map_->set_adjoint_rtol(rtol);
  LogScope log(log_events().adjoint);
  FOLDOPT_CALL(VecNorm(g, NORM_2, &report_.rhs_norm));
  const double t0 = wall_time();
  if (backward_ == BackwardMethod::jacobian)
    solve_jacobian(g, w);
  else
    solve_krylov(g, w);
  report_.seconds = wall_time() - t0;
}

void AdjointSolver::solve_krylov(Vec g, Vec w) {
  const double t0 = wall_time();
  // A batch of small instances: exact per-instance solves inside one KSP (batch_solve.hpp).
  if (batch_->choose(*map_, form_ == AdjointForm::general)) {
    ensure_shells();
    const auto phi_t = [&](Vec x, Vec y) {
      map_->phi_t(x, y);
      ++products_;
    };
    if (batch_->setup(a_, map_->layout(), phi_t, ksp_)) {
      report_.batch_solve = batch_->decision();
      report_.setup_seconds = wall_time() - t0;
      report_.method = batch_->method();
      PetscBool guess = PETSC_FALSE;
      FOLDOPT_CALL(KSPGetInitialGuessNonzero(ksp_, &guess));
      OwnedVec w0;
      if (guess) FOLDOPT_CALL(VecDuplicate(w, w0.out()));
      if (guess) FOLDOPT_CALL(VecCopy(w, w0));
      try {
        solve_with(batch_->ksp(), g, w, g, w, [] {});
        return;
      } catch (const Error& e) {
        // A block nearly singular (a fixed point not unique in some state variables) leaves the
        // refinement diverging: the coupled Krylov solve instead, from the caller's w.
        if (e.code() != PETSC_ERR_NOT_CONVERGED) throw;
        batch_->fall_back("the block solves did not converge (" + report_.reason + ")");
        report_.passes = 1;
        FOLDOPT_CALL(guess ? VecCopy(w0, w) : VecZeroEntries(w));
      }
    }
  }
  report_.batch_solve = batch_->decision();
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
  PCType pctype;
  FOLDOPT_CALL(PCGetType(pc, &pctype));
  const std::string pcname = pctype ? pctype : "none";
  KSPType ksptype;
  FOLDOPT_CALL(KSPGetType(ksp_, &ksptype));
  const std::string kspname = ksptype ? ksptype : "?";
  const bool needs_nothing = pcname == PCNONE || pcname == PCSHELL;
  const bool jacobi = pcname == PCJACOBI;
  const bool symmetric = form_ == AdjointForm::symmetric;
  // -fold_pc_reuse: a PC on an assembled Pmat built at an earlier solve stays (with that Pmat).
  const bool on_shell = symmetric ? needs_nothing || (jacobi && map_->has_symmetric_diagonal())
                                  : needs_nothing || (jacobi && map_->has_diagonal() && !map_->can_assemble());
  const bool reuse = reuse_decision(on_shell ? std::string() : pcname + (symmetric ? ", symmetric" : ", general"));
  // A PC on the shell itself (Jacobi on its diagonal, a user's PCSHELL): PETSc sets it up again
  // only when the Pmat's state changed, which the shell's does not when the map relinearizes.
  if (on_shell && pcname != PCNONE) FOLDOPT_CALL(PetscObjectStateIncrease((PetscObject)(symmetric ? sym_.get() : a_.get())));
  if (!reuse && !needs_nothing) ++pc_setups_;
  report_.pc_setups = pc_setups_;
  if (reuse) {
    // the PC and its Pmat are those of the build; the Amat (the shell) is the current linearization
  } else if (symmetric && (needs_nothing || (jacobi && map_->has_symmetric_diagonal()))) {
    FOLDOPT_CALL(KSPSetOperators(ksp_, sym_, sym_));
  } else if (symmetric) {
    pmat_ = map_->assemble_symmetric();
    if (!pmat_)
      detail::throw_error(PETSC_ERR_SUP, "-" + prefix_ + "pc_type " + pcname + " needs the assembled symmetric form I − K M K, but update map '" +
                                             map_->type() + "' cannot assemble it (use -" + prefix_ + "pc_type none)");
    report_.note = "symmetric form assembled from the map's sparse parts";
    FOLDOPT_CALL(KSPSetOperators(ksp_, sym_, pmat_));
  } else if (needs_nothing || (jacobi && map_->has_diagonal() && !map_->can_assemble())) {
    FOLDOPT_CALL(KSPSetOperators(ksp_, a_, a_));
  } else if (map_->can_assemble()) {
    pmat_ = assemble_operator(&report_.note);
    aij_unless_dense_works(pmat_, pcname, nullptr, comm_, &report_.note);
    FOLDOPT_CALL(KSPSetOperators(ksp_, a_, pmat_));
  } else {
    detail::throw_error(PETSC_ERR_SUP,
                        "-" + prefix_ + "pc_type " + pcname + " needs the assembled I − Φᵀ, but update map '" +
                            map_->type() + "' cannot assemble Φ (use -" + prefix_ + "pc_type none" +
                            (map_->has_diagonal() ? " or jacobi)" : ")"));
  }
  // Right preconditioning keeps the convergence test on the true residual for the methods that
  // allow it, unless the user chose a side or the map asks for left preconditioning (a badly
  // scaled map whose residual is meaningful only after scaling, UpdateMap::default_pc_left).
  if (!needs_nothing && !side_chosen_ && map_->default_pc_left()) {
    PetscBool set = PETSC_FALSE;
    FOLDOPT_CALL(PetscOptionsHasName(nullptr, prefix_.c_str(), "-ksp_pc_side", &set));
    if (!set) FOLDOPT_CALL(KSPSetPCSide(ksp_, PC_LEFT));
    side_chosen_ = true;
  }
  if (!needs_nothing && !side_chosen_) {
    PetscBool set = PETSC_FALSE;
    FOLDOPT_CALL(PetscOptionsHasName(nullptr, prefix_.c_str(), "-ksp_pc_side", &set));
    static const char* right_ok[] = {KSPGMRES, KSPLGMRES, KSPDGMRES, KSPBCGS, KSPBCGSL, KSPIBCGS, KSPFBCGS, KSPFBCGSR, KSPTFQMR, nullptr};
    for (int i = 0; right_ok[i] && !set; ++i)
      if (kspname == right_ok[i]) FOLDOPT_CALL(KSPSetPCSide(ksp_, PC_RIGHT));
    side_chosen_ = true;
  }
  int size = 1;
  MPI_Comm_size(comm_, &size);
  const bool serial_factor = size > 1 && (pcname == PCILU || pcname == PCICC);
  with_context("adjoint set-up (" + kspname + ", pc " + pcname + ")", [&] {
    try {
      FOLDOPT_CALL(KSPSetUp(ksp_));
    } catch (const Error& e) {
      if (!serial_factor) throw;
      throw Error(e.code(), std::string(e.what()) + " (in parallel use -" + prefix_ + "pc_type bjacobi or asm with -" +
                                prefix_ + "sub_pc_type " + pcname + ")",
                  e.collective());
    }
  });
  report_.setup_seconds = wall_time() - t0;
  report_.method = "krylov " + kspname + ", pc " + pcname + (symmetric ? ", symmetric form" : "");
  if (reuse) {
    // A reused PC that fails is rebuilt at once and the solve redone (never an error a fresh PC
    // would not give); the attempt's products stay counted.
    try {
      solve_krylov_once(g, w, symmetric);
    } catch (const Error& e) {
      if (e.code() != PETSC_ERR_NOT_CONVERGED) throw;
      pc_next_ = detail::format("the preconditioner reused for %" PetscInt_FMT " solves did not converge (%s, %" PetscInt_FMT
                                " iterations): rebuilt and solved again",
                                pc_age_, report_.reason.c_str(), report_.iterations);
      FOLDOPT_CALL(VecZeroEntries(w));
      solve_krylov(g, w);
    }
    return;
  }
  solve_krylov_once(g, w, symmetric);
}

void AdjointSolver::solve_krylov_once(Vec g, Vec w, bool symmetric) {
  if (!symmetric) {
    PetscBool nonzero;
    FOLDOPT_CALL(KSPGetInitialGuessNonzero(ksp_, &nonzero));
    const bool guess = previous_guess(a_, g, w);
    if (guess) FOLDOPT_CALL(KSPSetInitialGuessNonzero(ksp_, PETSC_TRUE));
    try {
      solve_with(ksp_, g, w, g, w, [] {});
    } catch (...) {
      KSPSetInitialGuessNonzero(ksp_, nonzero);
      throw;
    }
    FOLDOPT_CALL(KSPSetInitialGuessNonzero(ksp_, nonzero));
    reuse_after_solve(w);
    return;
  }
  // (I − K M K) u = K r, then w = r + M K u; the residual judged is that of (I − Φᵀ) w = r.
  OwnedVec b, u;
  FOLDOPT_CALL(VecDuplicate(g, b.out()));
  FOLDOPT_CALL(VecDuplicate(g, u.out()));
  map_->factor_mult(g, b);
  FOLDOPT_CALL(VecZeroEntries(u));
  FOLDOPT_CALL(VecDuplicate(g, jw_.out()));
  PetscBool nonzero;
  FOLDOPT_CALL(KSPGetInitialGuessNonzero(ksp_, &nonzero));
  if (previous_guess(sym_, b, u)) FOLDOPT_CALL(KSPSetInitialGuessNonzero(ksp_, PETSC_TRUE));
  try {
    solve_with(ksp_, b, u, g, w, [&] {
      map_->factor_mult(u, jw_);
      map_->smooth_mult(jw_, w);
      FOLDOPT_CALL(VecAXPY(w, 1.0, g));
    });
  } catch (...) {
    KSPSetInitialGuessNonzero(ksp_, nonzero);
    throw;
  }
  FOLDOPT_CALL(KSPSetInitialGuessNonzero(ksp_, nonzero));
  reuse_after_solve(u);
}

bool AdjointSolver::reuse_decision(const std::string& pc_key) {
  report_.pc_reuse = pc_reuse_ && !pc_key.empty();
  report_.reuse_fraction = reuse_fraction_;
  if (!report_.pc_reuse) {
    if (pc_built_) FOLDOPT_CALL(KSPSetReusePreconditioner(ksp_, PETSC_FALSE));
    pc_built_ = false;
    return false;
  }
  const bool tracked = map_->has_structure_mask();
  if (tracked) {
    if (!mask_now_) FOLDOPT_CALL(VecDuplicate(work_, mask_now_.out()));
    map_->structure_mask(mask_now_);
  }
  std::string why;
  if (!pc_built_) {
    why = pc_setups_ ? "options read again or a new map" : "first solve";
  } else if (pc_key != pc_key_) {
    why = "preconditioner changed (" + pc_key_ + " to " + pc_key + ")";
  } else if (!pc_next_.empty()) {
    why = pc_next_;
  } else if (tracked && mask_ref_) {
    // Entries whose status changed since the build: a local count and one reduction.
    const PetscScalar *a, *b;
    PetscInt nloc, local = 0, changed = 0;
    FOLDOPT_CALL(VecGetLocalSize(mask_now_, &nloc));
    FOLDOPT_CALL(VecGetArrayRead(mask_now_, &a));
    FOLDOPT_CALL(VecGetArrayRead(mask_ref_, &b));
    for (PetscInt i = 0; i < nloc; ++i) local += PetscRealPart(a[i]) != PetscRealPart(b[i]) ? 1 : 0;
    FOLDOPT_CALL(VecRestoreArrayRead(mask_ref_, &b));
    FOLDOPT_CALL(VecRestoreArrayRead(mask_now_, &a));
    MPI_Allreduce(&local, &changed, 1, MPIU_INT, MPI_SUM, comm_);
    report_.structure_change = (PetscReal)changed / (PetscReal)std::max<PetscInt>(map_->layout().global(), 1);
    if (report_.structure_change > reuse_fraction_)
      why = detail::format("structure change %.3g%% > %.3g%% (%" PetscInt_FMT " entries changed status)",
                           100.0 * (double)report_.structure_change, 100.0 * (double)reuse_fraction_, changed);
  }
  if (why.empty()) {
    ++pc_age_;
    report_.pc_reused = true;
    report_.pc_age = pc_age_;
    FOLDOPT_CALL(KSPSetReusePreconditioner(ksp_, PETSC_TRUE));
    return true;
  }
  report_.pc_rebuild_reason = why;
  report_.pc_reused = false;  // (a retry after a reused PC failed)
  report_.pc_age = 0;
  pc_next_.clear();
  pc_built_ = true;  // by the set-up that follows
  pc_key_ = pc_key;
  pc_age_ = 0;
  pc_base_its_ = -1;
  if (tracked) {
    if (!mask_ref_) FOLDOPT_CALL(VecDuplicate(mask_now_, mask_ref_.out()));
    FOLDOPT_CALL(VecCopy(mask_now_, mask_ref_));
  } else {
    mask_ref_.reset();
  }
  FOLDOPT_CALL(KSPSetReusePreconditioner(ksp_, PETSC_FALSE));
  return false;
}

PetscReal AdjointSolver::scaled_iterations() const {
  const PetscReal r0 = report_.initial_residual >= 0 ? report_.initial_residual : 1, rtol = report_.rtol;
  if (r0 <= rtol) return -1;
  return (PetscReal)report_.iterations * std::log(1 / rtol) / std::log(r0 / rtol);
}

void AdjointSolver::reuse_after_solve(Vec x) {
  if (report_.pc_reuse) {
    const PetscReal its = scaled_iterations();
    if (its >= 0 && (pc_age_ == 0 || pc_base_its_ < 0)) {
      pc_base_its_ = std::max<PetscReal>(its, 1);
    } else if (its >= 0 && its > reuse_growth_ * pc_base_its_) {
      pc_next_ = detail::format("%.1f iterations (scaled to a zero guess) > %g x %.1f of the first solve after the build",
                                (double)its, (double)reuse_growth_, (double)pc_base_its_);
    }
    report_.pc_next = pc_next_;
  }
  if (!guess_previous_) return;
  if (!prev_x_) FOLDOPT_CALL(VecDuplicate(x, prev_x_.out()));
  FOLDOPT_CALL(VecCopy(x, prev_x_));
  prev_alpha_ = map_->stepsize();
}

bool AdjointSolver::previous_guess(Mat A, Vec b, Vec x) {
  report_.initial_guess = "zero";
  report_.initial_residual = -1;
  if (!guess_previous_ || !prev_x_) return false;
  PetscInt n0, n1, N0, N1;
  FOLDOPT_CALL(VecGetLocalSize(prev_x_, &n0));
  FOLDOPT_CALL(VecGetLocalSize(x, &n1));
  FOLDOPT_CALL(VecGetSize(prev_x_, &N0));
  FOLDOPT_CALL(VecGetSize(x, &N1));
  int same = n0 == n1, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_LAND, comm_);
  if (!all || N0 != N1) {
    prev_x_.reset();
    report_.initial_guess = "zero (the layout changed)";
    return false;
  }
  PetscReal bnorm;
  FOLDOPT_CALL(VecNorm(b, NORM_2, &bnorm));
  if (bnorm == 0) return false;  // zero is exact
  FOLDOPT_CALL(VecCopy(prev_x_, x));
  // u of the symmetric form scales like 1/α (w does not).
  const PetscReal alpha = map_->stepsize();
  if (A == sym_.get() && prev_alpha_ > 0 && alpha > 0 && alpha != prev_alpha_) FOLDOPT_CALL(VecScale(x, prev_alpha_ / alpha));
  OwnedVec r;
  FOLDOPT_CALL(VecDuplicate(b, r.out()));
  FOLDOPT_CALL(MatMult(A, x, r));
  rethrow_pending();
  FOLDOPT_CALL(VecAYPX(r, -1.0, b));
  PetscReal rnorm;
  FOLDOPT_CALL(VecNorm(r, NORM_2, &rnorm));
  const PetscReal rel = rnorm / bnorm;
  if (!(rel < 1)) {
    FOLDOPT_CALL(VecZeroEntries(x));
    report_.initial_guess = detail::format("zero (previous dropped: relative residual %.2e >= 1)", (double)rel);
    return false;
  }
  report_.initial_guess = "previous";
  report_.initial_residual = rel;
  return true;
}

PetscReal AdjointSolver::symmetric_residual(Vec b, Vec u) {
  OwnedVec res;
  FOLDOPT_CALL(VecDuplicate(b, res.out()));
  FOLDOPT_CALL(MatMult(sym_, u, res));
  rethrow_pending();
  FOLDOPT_CALL(VecAYPX(res, -1.0, b));
  report_.form_residual = worst_instance_ratio(res, b, map_->layout());
  // With a preconditioner P (Jacobi from a badly scaled M) the residual scaled by P⁻¹, as CG
  // measures it, is the accuracy of u: the unscaled one cannot go below ε‖M‖‖u‖.
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
  PetscBool none = PETSC_TRUE;
  FOLDOPT_CALL(PetscObjectTypeCompare((PetscObject)pc, PCNONE, &none));
  if (!none)
    report_.form_residual = std::min(report_.form_residual, worst_instance_ratio(preconditioned(res), preconditioned(b), map_->layout()));
  return report_.form_residual;
}

void AdjointSolver::psi_t(Vec w, ParamSet& out) {
  if (jw_)
    map_->psi_t_factored(w, jw_, out);
  else
    map_->psi_t(w, out);
}

void AdjointSolver::solve_jacobian(Vec g, Vec w) {
  const std::string singular = map_->singular_reason();
  FOLDOPT_CHECK(singular.empty(), PETSC_ERR_SUP,
                "-%sbackward jacobian: I - Phi^T is singular at this fixed point (%s), so a factorization cannot be "
                "trusted; the gradients that are unique come from -%sbackward krylov",
                prefix_.c_str(), singular.c_str(), prefix_.c_str());
  const double t0 = wall_time();
  std::string how;
  pmat_ = assemble_operator(&how);
  {
    PC jpc;
    PCType jtype;
    MatSolverType jsolver = nullptr;
    FOLDOPT_CALL(KSPGetPC(jac_ksp_, &jpc));
    FOLDOPT_CALL(PCGetType(jpc, &jtype));
    PetscBool isfactor = PETSC_FALSE;
    FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)jpc, &isfactor, PCLU, PCCHOLESKY, PCILU, PCICC, ""));
    if (isfactor) FOLDOPT_CALL(PCFactorGetMatSolverType(jpc, &jsolver));
    aij_unless_dense_works(pmat_, jtype ? jtype : PCNONE, jsolver, comm_, &how);
  }
  FOLDOPT_CALL(KSPSetOperators(jac_ksp_, pmat_, pmat_));
  with_context("Jacobian extraction: factorization of I - Phi^T", [&] { FOLDOPT_CALL(KSPSetUp(jac_ksp_)); });
  report_.setup_seconds = wall_time() - t0;
  PC pc;
  FOLDOPT_CALL(KSPGetPC(jac_ksp_, &pc));
  PCType pctype;
  FOLDOPT_CALL(PCGetType(pc, &pctype));
  std::string method = std::string("jacobian ") + (pctype ? pctype : "?");
  MatSolverType st = nullptr;
  PetscBool isfactor = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)pc, &isfactor, PCLU, PCCHOLESKY, PCILU, PCICC, ""));
  if (isfactor) FOLDOPT_CALL(PCFactorGetMatSolverType(pc, &st));
  if (st) method += std::string(" (") + st + ")";
  report_.method = method;
  report_.note = how;
  if (!map_->has_low_rank()) {
    solve_with(jac_ksp_, g, w, g, w, [] {});
    return;
  }
  // Φ = Φ_s + U Vᵀ: I − Φᵀ = A_s − V Uᵀ with A_s = I − Φ_sᵀ factored above. Woodbury:
  //   w = y + Z (I − Uᵀ Z)⁻¹ Uᵀ y,  y = A_s⁻¹ g,  Z = A_s⁻¹ V  (r solves, an r×r system on every rank).
  OwnedMat U, V;
  map_->low_rank(&U, &V);
  PetscInt r;
  FOLDOPT_CALL(MatGetSize(U, nullptr, &r));
  std::vector<OwnedVec> Z(static_cast<std::size_t>(r));
  std::vector<PetscScalar> S(static_cast<std::size_t>(r * r));
  OwnedVec col, ut;
  FOLDOPT_CALL(MatCreateVecs(U, ut.out(), col.out()));
  for (PetscInt j = 0; j < r; ++j) {
    FOLDOPT_CALL(MatGetColumnVector(V, col, j));
    FOLDOPT_CALL(VecDuplicate(col, Z[j].out()));
    FOLDOPT_CALL(KSPSolve(jac_ksp_, col, Z[j]));
    FOLDOPT_CALL(MatMultTranspose(U, Z[j], ut));
    const std::vector<PetscScalar> c = all_values(ut);
    for (PetscInt i = 0; i < r; ++i) S[i * r + j] = (i == j ? 1.0 : 0.0) - c[i];
  }
  OwnedVec y;
  FOLDOPT_CALL(VecDuplicate(g, y.out()));
  report_.note += detail::format(", plus its rank-%" PetscInt_FMT " part by Woodbury", r);
  solve_with(jac_ksp_, g, y, g, w, [&] {
    FOLDOPT_CALL(MatMultTranspose(U, y, ut));
    const std::vector<PetscScalar> t = dense_solve(S, all_values(ut), r);
    FOLDOPT_CALL(VecCopy(y, w));
    for (PetscInt j = 0; j < r; ++j) FOLDOPT_CALL(VecAXPY(w, t[j], Z[j]));
  });
}

void AdjointSolver::solve_with(KSP ksp, Vec b, Vec u, Vec g, Vec w, const std::function<void()>& recover) {
  // Convergence is judged per instance: a batch's Krylov norm sums the instances, so a small
  // instance may still be far from its own tolerance when the whole has met rtol. Such a solve
  // goes on from its w with the tolerance cut by the shortfall (at most 3 times).
  PetscReal rtol, atol, dtol;
  PetscInt maxit;
  FOLDOPT_CALL(KSPGetTolerances(ksp, &rtol, &atol, &dtol, &maxit));
  PetscBool nonzero;
  FOLDOPT_CALL(KSPGetInitialGuessNonzero(ksp, &nonzero));
  const bool batch = map_->layout().batch > 1 && backward_ == BackwardMethod::krylov;
  PetscInt iterations = 0;
  bool converged = false;
  for (int pass = 0;; ++pass) {
    const PetscErrorCode ierr = KSPSolve(ksp, b, u);
    rethrow_pending();
    if (pass > 0) {
      KSPSetTolerances(ksp, rtol, atol, dtol, maxit);
      KSPSetInitialGuessNonzero(ksp, nonzero);
    }
    FOLDOPT_CALL(ierr);
    KSPConvergedReason reason;
    FOLDOPT_CALL(KSPGetConvergedReason(ksp, &reason));
    PetscInt its;
    FOLDOPT_CALL(KSPGetIterationNumber(ksp, &its));
    iterations += its;
    report_.reason = KSPConvergedReasons[reason];
    converged = reason > 0;
    recover();
    // The symmetric form is judged on the system it solves (its u gives the gradient).
    if (form_ == AdjointForm::symmetric && backward_ == BackwardMethod::krylov) symmetric_residual(b, u);
    if (!batch || !converged || pass == 3) break;
    PetscReal worst = report_.form_residual;
    if (worst < 0) {
      true_residual(g, w);
      worst = left_preconditioned() ? worst_instance_ratio(preconditioned(work_), preconditioned(g), map_->layout())
                                    : report_.worst_instance;
    }
    if (worst <= rtol) break;
    const PetscReal cut = std::max<PetscReal>(rtol / worst, 1e-6);
    report_.passes = pass + 2;
    FOLDOPT_CALL(KSPSetTolerances(ksp, rtol * cut * 0.5, atol, dtol, maxit));
    FOLDOPT_CALL(KSPSetInitialGuessNonzero(ksp, PETSC_TRUE));
  }
  report_.iterations = iterations;
  finish(g, w, converged);
}

bool AdjointSolver::left_preconditioned() const {
  if (batch_->active() && backward_ == BackwardMethod::krylov) return true;
  if (backward_ != BackwardMethod::krylov || form_ != AdjointForm::general) return false;
  PCSide side;
  FOLDOPT_CALL(KSPGetPCSide(ksp_, &side));
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
  PetscBool none = PETSC_TRUE;
  FOLDOPT_CALL(PetscObjectTypeCompare((PetscObject)pc, PCNONE, &none));
  return side == PC_LEFT && !none;
}

OwnedVec AdjointSolver::preconditioned(Vec v) {
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
  if (batch_->active() && backward_ == BackwardMethod::krylov) pc = batch_->pc();
  OwnedVec z;
  FOLDOPT_CALL(VecDuplicate(v, z.out()));
  FOLDOPT_CALL(PCApply(pc, v, z));
  return z;
}

void AdjointSolver::true_residual(Vec g, Vec w) {
  // r = g − (I − Φᵀ) w, with one more product.
  FOLDOPT_CALL(MatMult(a_, w, work_));
  rethrow_pending();
  FOLDOPT_CALL(VecAYPX(work_, -1.0, g));
  FOLDOPT_CALL(VecNorm(work_, NORM_2, &report_.residual));
  report_.worst_instance = worst_instance_ratio(work_, g, map_->layout());
}

void AdjointSolver::finish(Vec g, Vec w, bool solver_converged) {
  true_residual(g, w);
  report_.products = products_;
  PetscReal rtol, atol, dtol;
  PetscInt maxit;
  FOLDOPT_CALL(KSPGetTolerances(ksp_, &rtol, &atol, &dtol, &maxit));
  const PetscReal target = std::max(rtol * report_.rhs_norm, atol);
  // A Krylov solve converged in its own norm may still be far from the true residual (left
  // preconditioning); a direct solve has no norm of its own. Beyond 1000× the target the
  // gradient is not trusted.
  const PetscReal slack = 1e3;
  bool residual_ok = std::isfinite(report_.residual) && report_.residual <= slack * target;
  // Left preconditioning: the solve's own norm is that of P⁻¹r. Where the operator is badly
  // scaled (‖Φ‖ ≫ 1: the entropy's α∇²f = diag(1/x)) the unscaled residual cannot go below
  // ε‖Φ‖‖w‖, while the scaled one measures the solution's accuracy: accept either.
  report_.prec_residual = -1;
  report_.instance_measure = "true residual";
  std::vector<PetscReal> ratios = instance_ratios(work_, g, map_->layout());
  if (left_preconditioned()) {
    OwnedVec z = preconditioned(work_), pg = preconditioned(g);
    PetscReal nz, npg;
    FOLDOPT_CALL(VecNorm(z, NORM_2, &nz));
    FOLDOPT_CALL(VecNorm(pg, NORM_2, &npg));
    report_.prec_residual = npg > 0 ? nz / npg : nz;
    residual_ok = residual_ok || (std::isfinite(nz) && report_.prec_residual <= slack * rtol);
    report_.instance_measure = "left-preconditioned residual";
    ratios = instance_ratios(z, pg, map_->layout());
  }
  const InstanceStats st = instance_stats(ratios, rtol);
  report_.instance_worst = st.worst;
  report_.instance_median = st.median;
  report_.instances_below = st.below;
  report_.instances = st.count;
  // The symmetric form: w = r + M K u amplifies u's rounding by ‖M‖, while a gradient that needs
  // w only through J w comes from K u (psi_t): the residual of the system solved for u decides
  // as well. (A prox with parameter blocks reads w itself: the general residual decides.)
  if (report_.form_residual >= 0 && map_->gradient_from_factor())
    residual_ok = residual_ok || (std::isfinite(report_.form_residual) && report_.form_residual <= slack * rtol);
  report_.converged = solver_converged && residual_ok;
  if (report_.converged) return;
  std::string rho = rho_ >= 0 ? detail::format("ρ(Φ) ≈ %.6g", (double)rho_) : std::string("ρ(Φ) not estimated (use -fold_rho)");
  if (rho_ >= 0 && std::abs(rho_ - 1) <= 1e-12)
    rho += " (I − Φᵀ is singular to working precision: an eigenvalue of Φ rounds to 1, e.g. a Hessian singular on "
           "the free set, or a stepsize negligible against the data's scale)";
  detail::throw_error(
      PETSC_ERR_NOT_CONVERGED,
      detail::format("adjoint solve did not converge: %s stopped after %" PetscInt_FMT " iterations (%s) with true residual "
                     "‖r‖/‖g‖ = %.3e (rtol %.1e)%s; %s",
                     report_.method.c_str(), report_.iterations, report_.reason.c_str(),
                     (double)(report_.rhs_norm > 0 ? report_.residual / report_.rhs_norm : report_.residual),
                     (double)rtol,
                     report_.form_residual >= 0
                         ? detail::format(", %.3e in the symmetric form", (double)report_.form_residual).c_str()
                         : "",
                     rho.c_str()));
}

void AdjointSolver::view(PetscViewer viewer) const {
  const AdjointReport& r = report_;
  PetscViewerASCIIPrintf(viewer, "backward: %s\n", r.method.c_str());
  if (!r.note.empty()) PetscViewerASCIIPrintf(viewer, "  operator %s\n", r.note.c_str());
  PetscViewerASCIIPrintf(viewer, "  %s in %" PetscInt_FMT " iterations, %" PetscInt_FMT " Phi^T products\n",
                         r.reason.c_str(), r.iterations, r.products);
  PetscViewerASCIIPrintf(viewer, "  true residual %.3e, relative %.3e (rtol %.1e), worst instance %.3e\n",
                         (double)r.residual, (double)(r.rhs_norm > 0 ? r.residual / r.rhs_norm : 0), (double)r.rtol,
                         (double)r.worst_instance);
  if (r.prec_residual >= 0)
    PetscViewerASCIIPrintf(viewer, "  preconditioned true residual, relative %.3e (left preconditioning)\n", (double)r.prec_residual);
  if (r.form_residual >= 0)
    PetscViewerASCIIPrintf(viewer, "  symmetric form's true residual, relative %.3e (worst instance; the gradient comes from it)\n",
                           (double)r.form_residual);
  if (r.passes > 1)
    PetscViewerASCIIPrintf(viewer, "  %" PetscInt_FMT " passes: the batch's norm met rtol before every instance did\n", r.passes);
  if (r.instances > 1 || r.batch_solve.rfind("blocks", 0) == 0)
    PetscViewerASCIIPrintf(viewer, "  batch solve: %s\n", r.batch_solve.c_str());
  if (r.instances > 1)
    PetscViewerASCIIPrintf(viewer,
                           "  instances (%s, relative): worst %.3e, median %.3e, %" PetscInt_FMT " of %" PetscInt_FMT
                           " at or below rtol\n",
                           r.instance_measure.c_str(), (double)r.instance_worst, (double)r.instance_median,
                           r.instances_below, r.instances);
  if (r.pc_reuse) {
    if (r.pc_reused)
      PetscViewerASCIIPrintf(viewer, "  preconditioner reused (built %" PetscInt_FMT " backwards ago, structure change %s), %" PetscInt_FMT " set-ups so far\n",
                             r.pc_age,
                             r.structure_change >= 0 ? detail::format("%.3g%% <= %.3g%%", 100.0 * (double)r.structure_change, 100.0 * (double)r.reuse_fraction).c_str()
                                                     : "not tracked: the map has no structure mask",
                             r.pc_setups);
    else
      PetscViewerASCIIPrintf(viewer, "  preconditioner rebuilt: %s; %" PetscInt_FMT " set-ups so far\n", r.pc_rebuild_reason.c_str(), r.pc_setups);
    if (!r.pc_next.empty()) PetscViewerASCIIPrintf(viewer, "  preconditioner to be rebuilt at the next backward: %s\n", r.pc_next.c_str());
  }
  if (r.initial_residual >= 0)
    PetscViewerASCIIPrintf(viewer, "  initial guess previous (relative residual %.3e)\n", (double)r.initial_residual);
  else if (r.initial_guess != "zero")
    PetscViewerASCIIPrintf(viewer, "  initial guess %s\n", r.initial_guess.c_str());
  PetscViewerASCIIPrintf(viewer, "  time %.3f s (setup %.3f s)\n", r.seconds, r.setup_seconds);
}

}  // namespace foldopt
