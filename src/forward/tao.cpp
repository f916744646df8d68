// foldopt: the `tao` forward solver.
//
// Method: minimize the problem's objective f(x; θ) with PETSc TAO, giving it the objective and
//   gradient, the variable bounds lb(θ) ≤ x ≤ ub(θ) of a bounded problem, the equality and
//   inequality constraints with their assembled Jacobians for general constraints, and for Newton
//   types the Hessian: the problem's assembled ∇²f (∇² of the Lagrangian with constraints), or a
//   MatShell over hessian_mult when it has none (its submatrices are virtual, so the bounded Newton
//   types can restrict it to the free variables).
// Algorithm: the type is -fold_fwd_tao_type, checked against a table of what each type handles
//   (TAO cannot be asked): bounds, equality and inequality constraints, the Hessian it needs,
//   quadratic objectives only; an unsuitable type is refused at set-up. Default: almm with general
//   constraints, else tron (every Problem gives Hessian products, so a Newton type always applies;
//   on the generated qp_box tron takes 4-5 iterations to ‖g‖ < 1e-12, 2 from a warm start, and
//   0.2 s at n = 90000, where bnls takes 0.7 s and bqnls 0.6 s with ‖x − x*‖∞ ≈ 9e-8, 200-1000
//   iterations and no gain from a warm start). Default tolerances, per type in the table: gatol
//   1e-10 for Newton, interior-point and augmented-Lagrangian types; gatol 1e-8 or ‖g‖ ≤ 1e-11·|f|
//   (grtol) for quasi-Newton and first-order types, whose line searches stall near there; gttol 0,
//   catol 1e-10; at most 10⁴ iterations (almm 100 outer ones, pdipm its own 200). On the
//   generated qp_box (n = 900) every bounded type then gives ‖x − x*‖∞ ≤ 4e-9 and a fixed-point
//   residual ≤ 4e-10. gpcg's inner KSP gets rtol 1e-12; almm's subsolver is bqnkls on quadratic
//   objectives (its default bqnls stalls above 1e-10 and then spends its 1000 iterations on every
//   subproblem), bqnls to gatol 1e-8 on others (bqnkls fails on them in PETSc 3.18); pdipm
//   factors its KKT matrix with MUMPS (preonly, cholesky). The solve starts from the x given (the
//   previous x*). TAO's inequality convention is h(x) ≥ 0, so h = −c_I with Jacobian −J_I, and
//   the Lagrangian f + y_Eᵀc_E − y_hᵀh of pdipm is f + y_Eᵀc_E + y_hᵀc_I: the problem's
//   lagrangian_hessian receives TAO's dual variables unchanged. TAO's own copies of the bounds
//   (almm's subsolver; pdipm's classification of which bounds are finite) are refreshed when θ
//   changes them. A diverged TAO (reason ≤ 0) is an error carrying TAO's reason.
// Multipliers (almm, pdipm): pdipm's dual variables as they are; almm's own where PETSc keeps
//   them current, least-squares ones at x* otherwise; bound multipliers from the stationarity
//   residual; in foldopt's convention (struct Multipliers); see the section at the end.
// References: PETSc 3.18 manual pages TAOBQNLS, TAOBNLS, TAOBLMVM, TAOTRON, TAOGPCG, TAOBQPIP,
//   TAOALMM, TAOPDIPM, TAOIPM, TAOOWLQN, TAOBMRM, TaoSetInequalityConstraintsRoutine,
//   TaoGetDualVariables; the PETSc 3.18 sources of those types (docs/src/tao); Munson et al., TAO
//   Users Manual, ANL/MCS-TM-322.
#include "forward/tao.hpp"

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/spectral.hpp>

#include "core/compat.hpp"
#include "core/util.hpp"

#include <cmath>
#include <utility>

namespace foldopt {

namespace {
using H = TaoTypeInfo::Hessian;
constexpr PetscReal kCatol = 1e-10;
constexpr PetscInt kMaxIt = 10000;
constexpr PetscInt kAlmmMaxIt = 100;
}  // namespace

const std::vector<TaoTypeInfo>& tao_type_table() {
  // Sources: the PETSc 3.18 manual pages of each type and its implementation (docs/src/tao).
  // gatol: reached on the generated qp_box (n = 900) by every type given it; the quasi-Newton
  // and first-order types stop on line-search failures near 1e-8 (their line searches compare
  // objective values, which stop changing relative to |f| first: at n = 90000, bqnls stalls at
  // ‖g‖ ≈ 3e-8), hence also grtol 1e-11 for them (‖g‖ ≤ 1e-11·|f|); the Newton ones reach 1e-10
  // in a few iterations. bqpip's "gradient norm" is √(duality gap + dual infeasibility), so its
  // 1e-5 is the others' 1e-10.
  //  name       usable bounds eq    ineq   needs-c Hessian        quad   gatol  grtol  note
  static const std::vector<TaoTypeInfo> t = {
      // bound-constrained (also fine without bounds)
      {"bqnls",    true,  true,  false, false, false, H::none,      false, 1e-8,  1e-11, "bounded quasi-Newton line search"},
      {"blmvm",    true,  true,  false, false, false, H::none,      false, 1e-8,  1e-11, "bounded limited-memory variable metric"},
      {"bnls",     true,  true,  false, false, false, H::operator_, false, 1e-10, 0,     "bounded Newton line search"},
      {"bntr",     true,  true,  false, false, false, H::operator_, false, 1e-10, 0,     "bounded Newton trust region"},
      {"bntl",     true,  true,  false, false, false, H::operator_, false, 1e-10, 0,     "bounded Newton trust region with line search"},
      {"bqnkls",   true,  true,  false, false, false, H::none,      false, 1e-8,  1e-11, "bounded quasi-Newton-Krylov line search"},
      {"bqnktr",   true,  true,  false, false, false, H::none,      false, 1e-8,  1e-11, "bounded quasi-Newton-Krylov trust region"},
      {"bqnktl",   true,  true,  false, false, false, H::none,      false, 1e-8,  1e-11, "bounded quasi-Newton-Krylov trust region with line search"},
      {"bncg",     true,  true,  false, false, false, H::none,      false, 1e-8,  1e-11, "bounded nonlinear conjugate gradients"},
      {"tron",     true,  true,  false, false, false, H::operator_, false, 1e-10, 0,     "active-set Newton trust region"},
      {"gpcg",     true,  true,  false, false, false, H::assembled, true,  1e-10, 0,     "gradient projection CG for bound-constrained QPs"},
      {"bqpip",    true,  true,  false, false, false, H::assembled, true,  1e-5,  0,     "interior point for bound-constrained QPs"},
      // general constraints (and bounds)
      {"almm",     true,  true,  true,  true,  true,  H::none,      false, 1e-10, 0,     "augmented Lagrangian (quasi-Newton subsolver, bqnkls)"},
      {"pdipm",    true,  true,  true,  true,  true,  H::assembled, false, 1e-10, 0,     
       "primal-dual interior point; variables with only an upper bound are refused (PETSc 3.18 counts them as "
       "lower-bounded)"},
      // unconstrained
      {"lmvm",     true,  false, false, false, false, H::none,      false, 1e-8,  1e-11, "limited-memory variable metric"},
      {"cg",       true,  false, false, false, false, H::none,      false, 1e-8,  1e-11, "nonlinear conjugate gradients"},
      {"nls",      true,  false, false, false, false, H::operator_, false, 1e-10, 0,     "Newton line search"},
      {"ntr",      true,  false, false, false, false, H::operator_, false, 1e-10, 0,     "Newton trust region"},
      {"ntl",      true,  false, false, false, false, H::operator_, false, 1e-10, 0,     "Newton trust region with line search"},
      {"nm",       true,  false, false, false, false, H::none,      false, 1e-8,  1e-11, "Nelder-Mead (derivative-free, for a few unknowns)"},
      // other kinds of problems
      {"owlqn",    false, false, false, false, false, H::none, false, 0,     0,     "it minimizes f(x) + lambda ||x||_1, not f"},
      {"bmrm",     false, false, false, false, false, H::none, false, 0,     0,     "it minimizes f(x) + lambda/2 ||x||^2 (regularized risk), not f"},
      {"pounders", false, false, false, false, false, H::none, false, 0,     0,     "it solves least-squares problems (a residual vector)"},
      {"brgn",     false, false, false, false, false, H::none, false, 0,     0,     "it solves least-squares problems (a residual vector)"},
      {"lcl",      false, false, false, false, false, H::none, false, 0,     0,     "it solves PDE-constrained problems split into state and design"},
      {"admm",     false, false, false, false, false, H::none, false, 0,     0,     "it solves problems split into misfit and regularizer"},
      {"ipm",      false, false, false, false, false, H::none, false, 0,     0,     "PETSc 3.18 calls it a placeholder not to be used yet (TAOIPM)"},
      {"ssils",    false, false, false, false, false, H::none, false, 0,     0,     "it solves complementarity problems"},
      {"ssfls",    false, false, false, false, false, H::none, false, 0,     0,     "it solves complementarity problems"},
      {"asils",    false, false, false, false, false, H::none, false, 0,     0,     "it solves complementarity problems"},
      {"asfls",    false, false, false, false, false, H::none, false, 0,     0,     "it solves complementarity problems"},
      {"shell",    false, false, false, false, false, H::none, false, 0,     0,     "it is a user-written solver"},
      {"python",   false, false, false, false, false, H::none, false, 0,     0,     "it is a user-written solver"},
  };
  return t;
}

const TaoTypeInfo* tao_type_info(const std::string& name) {
  for (const TaoTypeInfo& i : tao_type_table())
    if (name == i.name) return &i;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------

namespace {
/// How the nonzero pattern of `a` relates to that of `b`: 0 the same, 1 contained in it, 2 neither
/// (also for different sizes or row splits). Collective.
int pattern_relation(Mat a, Mat b) {
  PetscInt ra0, ra1, rb0, rb1, Ma, Na, Mb, Nb;
  FOLDOPT_CALL(MatGetSize(a, &Ma, &Na));
  FOLDOPT_CALL(MatGetSize(b, &Mb, &Nb));
  FOLDOPT_CALL(MatGetOwnershipRange(a, &ra0, &ra1));
  FOLDOPT_CALL(MatGetOwnershipRange(b, &rb0, &rb1));
  int rel = (Ma != Mb || Na != Nb || ra0 != rb0 || ra1 != rb1) ? 2 : 0;
  for (PetscInt i = ra0; i < ra1 && rel < 2; ++i) {
    PetscInt na, nb;
    const PetscInt *ca, *cb;
    FOLDOPT_CALL(MatGetRow(a, i, &na, &ca, nullptr));
    FOLDOPT_CALL(MatGetRow(b, i, &nb, &cb, nullptr));
    PetscInt k = 0;  // walk b's sorted columns looking for each of a's
    for (PetscInt j = 0; j < na && rel < 2; ++j) {
      while (k < nb && cb[k] < ca[j]) ++k;
      if (k == nb || cb[k] != ca[j]) rel = 2;
    }
    if (rel == 0 && na != nb) rel = 1;
    FOLDOPT_CALL(MatRestoreRow(b, i, &nb, &cb, nullptr));
    FOLDOPT_CALL(MatRestoreRow(a, i, &na, &ca, nullptr));
  }
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)a, &comm));
  int worst = 0;
  MPI_Allreduce(&rel, &worst, 1, MPI_INT, MPI_MAX, comm);
  return worst;
}
}  // namespace

void TaoForward::MatCopySlot::assign(Mat m, PetscReal scale) {
  PetscObjectState nz;
  FOLDOPT_CALL(MatGetNonzeroState(m, &nz));
  if (!dst) {
    FOLDOPT_CALL(MatDuplicate(m, MAT_COPY_VALUES, dst.out()));
  } else {
    // Keep dst's pattern whenever possible: a copy with a different pattern replaces dst's
    // internals, which pdipm (transposes it reuses) and the KKT matrix built from it do not allow.
    const int rel = (m == src.get() && nz == src_nonzero) ? relation : pattern_relation(m, dst);
    const MatStructure str = rel == 0 ? SAME_NONZERO_PATTERN : (rel == 1 ? SUBSET_NONZERO_PATTERN : DIFFERENT_NONZERO_PATTERN);
    FOLDOPT_CALL(MatCopy(m, dst, str));
    relation = rel == 2 ? pattern_relation(m, dst) : rel;  // after a different-pattern copy dst ⊇ m
  }
  if (scale != 1) FOLDOPT_CALL(MatScale(dst, scale));
  src = OwnedMat::share(m);
  src_nonzero = nz;
}

TaoForward::TaoForward(const ForwardContext& ctx) : ctx_(ctx) {
  FOLDOPT_CHECK(ctx.problem != nullptr, PETSC_ERR_ARG_WRONG,
                "forward solver 'tao' needs a Problem (objective and gradient); a layer over a bare map can use "
                "'snes' or a callback");
}

std::string TaoForward::default_tao_type() const {
  const Problem& p = *ctx_.problem;
  return (p.num_equality() > 0 || p.num_inequality() > 0) ? "almm" : "tron";
}

std::string TaoForward::tao_type() const { return tao_type_.empty() ? default_tao_type() : tao_type_; }

void TaoForward::validate(const std::string& name) const {
  const Problem& p = *ctx_.problem;
  const TaoTypeInfo* info = tao_type_info(name);
  const PetscInt me = p.num_equality(), mi = p.num_inequality();
  // The types that could solve this problem, for the error messages.
  std::string usable;
  for (const TaoTypeInfo& i : tao_type_table()) {
    if (!i.usable || (p.has_bounds() && !i.bounds) || (me > 0 && !i.equality) || (mi > 0 && !i.inequality) ||
        (i.quadratic_only && !p.is_quadratic()) || (i.needs_constraints && me == 0 && mi == 0) ||
        std::string(i.name) == "nm")
      continue;
    usable += (usable.empty() ? "" : ", ") + std::string(i.name);
  }
  const std::string head = "forward solver tao: type '" + name + "'";
  FOLDOPT_CHECK(info != nullptr, PETSC_ERR_ARG_UNKNOWN_TYPE,
                "%s is not a TAO type foldopt knows (-%stao_type); for problem %s use %s", head.c_str(),
                ctx_.prefix.c_str(), p.type().c_str(), usable.c_str());
  FOLDOPT_CHECK(info->usable, PETSC_ERR_ARG_INCOMP, "%s cannot solve problem %s: %s; use %s", head.c_str(),
                p.type().c_str(), info->note, usable.c_str());
  FOLDOPT_CHECK(!p.has_bounds() || info->bounds, PETSC_ERR_ARG_INCOMP,
                "%s does not handle bound constraints (problem %s has bounds); use %s", head.c_str(), p.type().c_str(),
                usable.c_str());
  FOLDOPT_CHECK(me == 0 || info->equality, PETSC_ERR_ARG_INCOMP,
                "%s does not handle equality constraints (problem %s has %" PetscInt_FMT "); use %s", head.c_str(),
                p.type().c_str(), me, usable.c_str());
  FOLDOPT_CHECK(mi == 0 || info->inequality, PETSC_ERR_ARG_INCOMP,
                "%s does not handle inequality constraints (problem %s has %" PetscInt_FMT "); use %s", head.c_str(),
                p.type().c_str(), mi, usable.c_str());
  FOLDOPT_CHECK(!info->needs_constraints || me > 0 || mi > 0, PETSC_ERR_ARG_INCOMP,
                "%s needs general constraints (problem %s has none); use %s", head.c_str(), p.type().c_str(),
                usable.c_str());
  FOLDOPT_CHECK(!info->quadratic_only || p.is_quadratic(), PETSC_ERR_ARG_INCOMP,
                "%s handles only quadratic objectives (problem %s does not say its objective is quadratic); use %s",
                head.c_str(), p.type().c_str(), usable.c_str());
}

void TaoForward::create(const std::string& name) {
  validate(name);
  tao_type_ = name;
  tao_.reset();
  configured_ = solved_ = false;
  H_ = MatCopySlot();
  Je_ = MatCopySlot();
  Ji_ = MatCopySlot();
  Hshell_.reset();
  ce_.reset();
  ci_.reset();
  bound_pattern_.clear();
  FOLDOPT_CALL(TaoCreate(ctx_.comm, tao_.out()));
  FOLDOPT_CALL(TaoSetOptionsPrefix(tao_, ctx_.prefix.c_str()));
  FOLDOPT_CALL(TaoSetType(tao_, name.c_str()));
  // After the type: a type's constructor may set its own tolerances.
  FOLDOPT_CALL(TaoSetTolerances(tao_, tao_type_info(name)->gatol, tao_type_info(name)->grtol, 0.0));
  FOLDOPT_CALL(TaoSetConstraintTolerances(tao_, kCatol, 0.0));
  // The bounded Newton types default to 50 iterations, too few for 1e-10 from a cold start; almm
  // counts outer iterations (each a subsolve of up to 1000), pdipm KKT factorizations (its 200).
  if (name != TAOPDIPM) FOLDOPT_CALL(TaoSetMaximumIterations(tao_, name == TAOALMM ? kAlmmMaxIt : kMaxIt));
  if (name == TAOGPCG) {
    // gpcg's line search compares objective values, which stop changing (relative to |f|) long
    // before ‖g‖ reaches its gatol: its Newton steps on the free variables must be accurate.
    KSP ksp;
    FOLDOPT_CALL(TaoGetKSP(tao_, &ksp));
    FOLDOPT_CALL(KSPSetTolerances(ksp, 1e-12, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT));
  }
  if (name == TAOALMM) {
    // almm gives its subsolver ‖∇L‖ ≤ gatol from the first subproblem on (PHR formulation): its
    // default bqnls stalls near 1e-8 and then runs to its 1000 iterations on every subproblem,
    // bqnkls reaches 1e-10 on quadratics (-fold_fwd_tao_almm_subsolver_tao_type chooses another).
    // On other objectives bqnkls fails: PETSc 3.18's BNK cannot resize its reduced Hessian when
    // the active set changes ("Cannot change local size of Amat", top-k at n = 200), or runs to
    // its iteration limit (n = 30); there bqnls to the quasi-Newton gatol 1e-8 (top-k: 15-22
    // outer iterations at n = 30 to 1000, a fixed-point residual ≈ 1e-8).
    Tao sub;
    FOLDOPT_CALL(TaoALMMGetSubsolver(tao_, &sub));
    const bool quadratic = !ctx_.problem || ctx_.problem->is_quadratic();
    FOLDOPT_CALL(TaoSetType(sub, quadratic ? TAOBQNKLS : TAOBQNLS));
    if (!quadratic) FOLDOPT_CALL(TaoSetTolerances(tao_, tao_type_info(TAOBQNLS)->gatol, 0.0, 0.0));
  }
  if (name == TAOPDIPM) {
    // Its KKT matrix is symmetric indefinite: a direct LDLᵀ factorization (MUMPS) with inertia.
    KSP ksp;
    PC pc;
    FOLDOPT_CALL(TaoGetKSP(tao_, &ksp));
    FOLDOPT_CALL(KSPSetType(ksp, KSPPREONLY));
    FOLDOPT_CALL(KSPGetPC(ksp, &pc));
    FOLDOPT_CALL(PCSetType(pc, PCCHOLESKY));
    FOLDOPT_CALL(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
  }
}

void TaoForward::release_work() {
  if (!tao_ || !options_read_ || has_multipliers()) return;
  create(tao_type_);
  FOLDOPT_CALL(TaoSetFromOptions(tao_));
}

void TaoForward::set_from_options() {
  char name[256] = "";
  PetscBool set = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsGetString(nullptr, ctx_.prefix.c_str(), "-tao_type", name, sizeof name, &set));
  create(set ? std::string(name) : default_tao_type());
  FOLDOPT_CALL(TaoSetFromOptions(tao_));
  options_read_ = true;
  TaoType t;
  FOLDOPT_CALL(TaoGetType(tao_, &t));
  if (tao_type_ != t) {  // cannot happen through -tao_type, which was read above; be safe
    validate(t);
    tao_type_ = t;
  }
}

// ---------------------------------------------------------------------------------------------
// Callbacks (PETSc calls them: no exception escapes, see detail::guarded)

PetscErrorCode TaoForward::objective_gradient(Tao, Vec x, PetscReal* f, Vec g, void* ctx) {
  auto* self = static_cast<TaoForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  PetscErrorCode ierr =
      detail::guarded(self->pending_, [&] { *f = self->ctx_.problem->objective_gradient(x, *self->theta_, g); });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in objective_gradient", self->ctx_.problem->type().c_str());
  return compat::success;
}

PetscErrorCode TaoForward::hessian(Tao tao, Vec x, Mat Hm, Mat, void* ctx) {
  auto* self = static_cast<TaoForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  if (self->Hshell_ && Hm == self->Hshell_.get()) {  // matrix-free: remember the point of the products
    PetscCall(VecCopy(x, self->xh_));
    return compat::success;
  }
  PetscErrorCode ierr = detail::guarded(self->pending_, [&] {
    Problem& p = *self->ctx_.problem;
    OwnedMat M;
    if (p.num_equality() > 0 || p.num_inequality() > 0) {
      Vec ye = nullptr, yi = nullptr;
      FOLDOPT_CALL(TaoGetDualVariables(tao, &ye, &yi));
      M = p.lagrangian_hessian(x, *self->theta_, p.num_equality() > 0 ? ye : nullptr, p.num_inequality() > 0 ? yi : nullptr);
    } else {
      M = p.hessian(x, *self->theta_);
    }
    FOLDOPT_CHECK(static_cast<bool>(M), PETSC_ERR_ARG_WRONGSTATE,
                  "problem '%s' returned no assembled Hessian after returning one at set-up", p.type().c_str());
    self->H_.assign(M, 1.0);
  });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in its Hessian", self->ctx_.problem->type().c_str());
  return compat::success;
}

PetscErrorCode TaoForward::equality(Tao, Vec x, Vec c, void* ctx) {
  auto* self = static_cast<TaoForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  PetscErrorCode ierr = detail::guarded(self->pending_, [&] { self->ctx_.problem->equality(x, *self->theta_, c); });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in equality", self->ctx_.problem->type().c_str());
  return compat::success;
}

PetscErrorCode TaoForward::inequality(Tao, Vec x, Vec c, void* ctx) {
  auto* self = static_cast<TaoForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  PetscErrorCode ierr = detail::guarded(self->pending_, [&] { self->ctx_.problem->inequality(x, *self->theta_, c); });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in inequality", self->ctx_.problem->type().c_str());
  PetscCall(VecScale(c, -1.0));  // TAO: h(x) = −c_I(x) ≥ 0
  return compat::success;
}

PetscErrorCode TaoForward::equality_jacobian(Tao, Vec x, Mat, Mat, void* ctx) {
  auto* self = static_cast<TaoForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  PetscErrorCode ierr = detail::guarded(self->pending_, [&] {
    OwnedMat J = self->ctx_.problem->equality_jacobian(x, *self->theta_);
    FOLDOPT_CHECK(static_cast<bool>(J), PETSC_ERR_ARG_WRONGSTATE, "problem '%s' returned no equality Jacobian",
                  self->ctx_.problem->type().c_str());
    self->Je_.assign(J, 1.0);
  });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in equality_jacobian", self->ctx_.problem->type().c_str());
  return compat::success;
}

PetscErrorCode TaoForward::inequality_jacobian(Tao, Vec x, Mat, Mat, void* ctx) {
  auto* self = static_cast<TaoForward*>(ctx);
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  PetscErrorCode ierr = detail::guarded(self->pending_, [&] {
    OwnedMat J = self->ctx_.problem->inequality_jacobian(x, *self->theta_);
    FOLDOPT_CHECK(static_cast<bool>(J), PETSC_ERR_ARG_WRONGSTATE, "problem '%s' returned no inequality Jacobian",
                  self->ctx_.problem->type().c_str());
    self->Ji_.assign(J, -1.0);  // of h = −c_I
  });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in inequality_jacobian", self->ctx_.problem->type().c_str());
  return compat::success;
}

PetscErrorCode TaoForward::shell_mult(Mat Hm, Vec v, Vec y) {
  TaoForward* self = nullptr;
  PetscCall(MatShellGetContext(Hm, &self));
  PetscCheck(self && self->theta_, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "tao forward: no parameters");
  PetscErrorCode ierr =
      detail::guarded(self->pending_, [&] { self->ctx_.problem->hessian_mult(self->xh_, *self->theta_, v, y); });
  if (ierr) SETERRQ(PETSC_COMM_SELF, ierr, "problem '%s' failed in hessian_mult", self->ctx_.problem->type().c_str());
  return compat::success;
}

PetscErrorCode TaoForward::shell_submatrix(Mat Hm, IS rows, IS cols, MatReuse reuse, Mat* sub) {
  if (reuse == MAT_INITIAL_MATRIX) PetscCall(MatCreateSubMatrixVirtual(Hm, rows, cols, sub));
  else PetscCall(MatSubMatrixVirtualUpdate(*sub, Hm, rows, cols));
  return compat::success;
}

// ---------------------------------------------------------------------------------------------

void TaoForward::update_bounds() {
  Problem& p = *ctx_.problem;
  // pdipm of PETSc 3.18 reads the bounds whether or not there are any: give it infinite ones.
  if (!p.has_bounds() && tao_type_ != TAOPDIPM) return;
  if (!lb_) {
    lb_ = p.create_vec();
    ub_ = p.create_vec();
  }
  if (p.has_bounds()) {
    p.bounds(*theta_, lb_, ub_);
  } else {
    FOLDOPT_CALL(VecSet(lb_, PETSC_NINFINITY));
    FOLDOPT_CALL(VecSet(ub_, PETSC_INFINITY));
  }
  // TAO's "no bound" is ±PETSC_INFINITY; some types subtract bounds, so no IEEE infinities.
  PetscInt n;
  PetscScalar *l, *u;
  FOLDOPT_CALL(VecGetLocalSize(lb_, &n));
  FOLDOPT_CALL(VecGetArray(lb_, &l));
  FOLDOPT_CALL(VecGetArray(ub_, &u));
  std::vector<char> pattern(static_cast<std::size_t>(n));
  bool upper_only = false;
  for (PetscInt i = 0; i < n; ++i) {
    if (PetscRealPart(l[i]) <= PETSC_NINFINITY) l[i] = PETSC_NINFINITY;
    if (PetscRealPart(u[i]) >= PETSC_INFINITY) u[i] = PETSC_INFINITY;
    const bool lo = PetscRealPart(l[i]) > PETSC_NINFINITY, hi = PetscRealPart(u[i]) < PETSC_INFINITY;
    pattern[i] = static_cast<char>(lo + 2 * hi + 4 * (lo && hi && l[i] == u[i]));
    upper_only = upper_only || (hi && !lo);
  }
  FOLDOPT_CALL(VecRestoreArray(lb_, &l));
  FOLDOPT_CALL(VecRestoreArray(ub_, &u));
  if (tao_type_ != TAOPDIPM) return;
  check_collective(ctx_.comm, !upper_only, PETSC_ERR_SUP,
                   "forward solver tao: type 'pdipm' of PETSc 3.18 mishandles variables with an upper bound and no "
                   "lower bound (problem " + p.type() + " has some); use almm");
  // pdipm sorts the variables by which bounds are finite once, at set-up: redo it if θ changed that.
  int changed = configured_ && pattern != bound_pattern_, any = 0;
  MPI_Allreduce(&changed, &any, 1, MPI_INT, MPI_MAX, ctx_.comm);
  if (any) {
    create(tao_type_);
    if (options_read_) FOLDOPT_CALL(TaoSetFromOptions(tao_));
  }
  bound_pattern_ = std::move(pattern);
}

void TaoForward::refresh_almm_bounds() {
  // almm copies the bounds into its subsolver at set-up only; copy the new ones there.
  if (tao_type_ != TAOALMM || !solved_ || !lb_) return;
  Tao sub;
  Vec pl, pu;
  FOLDOPT_CALL(TaoALMMGetSubsolver(tao_, &sub));
  FOLDOPT_CALL(TaoGetVariableBounds(sub, &pl, &pu));
  if (!pl || !pu) return;
  if (ctx_.problem->num_inequality() > 0) {  // subsolver variables [x; slacks]
    IS xis, sis;
    FOLDOPT_CALL(TaoALMMGetPrimalIS(tao_, &xis, &sis));
    for (std::pair<Vec, Vec> b : {std::make_pair(pl, lb_.get()), std::make_pair(pu, ub_.get())}) {
      Vec part;
      FOLDOPT_CALL(VecGetSubVector(b.first, xis, &part));
      FOLDOPT_CALL(VecCopy(b.second, part));
      FOLDOPT_CALL(VecRestoreSubVector(b.first, xis, &part));
    }
  } else {
    FOLDOPT_CALL(VecCopy(lb_, pl));
    FOLDOPT_CALL(VecCopy(ub_, pu));
  }
}

void TaoForward::configure(Vec x) {
  Problem& p = *ctx_.problem;
  const TaoTypeInfo& info = *tao_type_info(tao_type_);
  const PetscInt me = p.num_equality(), mi = p.num_inequality();
  FOLDOPT_CALL(TaoSetObjectiveAndGradient(tao_, nullptr, objective_gradient, this));
  if (lb_) FOLDOPT_CALL(TaoSetVariableBounds(tao_, lb_, ub_));
  if (me > 0) {
    ce_ = p.create_constraint_vec(me);
    FOLDOPT_CALL(TaoSetEqualityConstraintsRoutine(tao_, ce_, equality, this));
    OwnedMat J = p.equality_jacobian(x, *theta_);
    FOLDOPT_CHECK(static_cast<bool>(J), PETSC_ERR_ARG_WRONG, "forward solver tao: problem %s gives no equality Jacobian",
                  p.type().c_str());
    Je_.assign(J, 1.0);
    FOLDOPT_CALL(TaoSetJacobianEqualityRoutine(tao_, Je_.dst, Je_.dst, equality_jacobian, this));
  }
  if (mi > 0) {
    ci_ = p.create_constraint_vec(mi);
    FOLDOPT_CALL(TaoSetInequalityConstraintsRoutine(tao_, ci_, inequality, this));
    OwnedMat J = p.inequality_jacobian(x, *theta_);
    FOLDOPT_CHECK(static_cast<bool>(J), PETSC_ERR_ARG_WRONG,
                  "forward solver tao: problem %s gives no inequality Jacobian", p.type().c_str());
    Ji_.assign(J, -1.0);
    FOLDOPT_CALL(TaoSetJacobianInequalityRoutine(tao_, Ji_.dst, Ji_.dst, inequality_jacobian, this));
  }
  if (info.hessian != H::none) {
    OwnedMat M;
    if (me > 0 || mi > 0) {
      OwnedVec ye, yi;  // zero multipliers: only the pattern and a first value are needed here
      if (me > 0) {
        FOLDOPT_CALL(VecDuplicate(ce_, ye.out()));
        FOLDOPT_CALL(VecZeroEntries(ye));
      }
      if (mi > 0) {
        FOLDOPT_CALL(VecDuplicate(ci_, yi.out()));
        FOLDOPT_CALL(VecZeroEntries(yi));
      }
      M = p.lagrangian_hessian(x, *theta_, ye, yi);
      FOLDOPT_CHECK(static_cast<bool>(M), PETSC_ERR_ARG_INCOMP,
                    "forward solver tao: type '%s' needs the assembled Hessian of the Lagrangian, which problem %s "
                    "does not give; use almm",
                    tao_type_.c_str(), p.type().c_str());
    } else {
      M = p.hessian(x, *theta_);
      FOLDOPT_CHECK(M || info.hessian != H::assembled, PETSC_ERR_ARG_INCOMP,
                    "forward solver tao: type '%s' needs an assembled Hessian, which problem %s does not give; use "
                    "bnls, bntr or tron (matrix-free Hessian) or bqnls",
                    tao_type_.c_str(), p.type().c_str());
    }
    if (M) {
      H_.assign(M, 1.0);
      FOLDOPT_CALL(TaoSetHessian(tao_, H_.dst, H_.dst, hessian, this));
    } else {
      const Layout& l = p.layout();
      FOLDOPT_CALL(MatCreateShell(ctx_.comm, l.local, l.local, l.global(), l.global(), this, Hshell_.out()));
      FOLDOPT_CALL(MatShellSetOperation(Hshell_, MATOP_MULT, compat::matop(shell_mult)));
      FOLDOPT_CALL(MatShellSetOperation(Hshell_, MATOP_MULT_TRANSPOSE, compat::matop(shell_mult)));
      FOLDOPT_CALL(MatShellSetOperation(Hshell_, MATOP_CREATE_SUBMATRIX, compat::matop(shell_submatrix)));
      FOLDOPT_CALL(MatSetOption(Hshell_, MAT_SYMMETRIC, PETSC_TRUE));
      FOLDOPT_CALL(VecDuplicate(x, xh_.out()));
      FOLDOPT_CALL(VecCopy(x, xh_));
      FOLDOPT_CALL(TaoSetHessian(tao_, Hshell_, Hshell_, hessian, this));
      // A MatShell cannot be factored: unless the preconditioner was chosen by options or is the
      // type's own LMVM one (bounded Newton types), use none instead of PETSc's default ILU.
      KSP ksp = nullptr;
      FOLDOPT_CALL(TaoGetKSP(tao_, &ksp));
      PetscBool pc_given = PETSC_FALSE;
      FOLDOPT_CALL(PetscOptionsHasName(nullptr, ctx_.prefix.c_str(), "-pc_type", &pc_given));
      if (ksp && !pc_given) {
        PC pc;
        PetscBool lmvm = PETSC_FALSE;
        FOLDOPT_CALL(KSPGetPC(ksp, &pc));
        FOLDOPT_CALL(PetscObjectTypeCompare((PetscObject)pc, PCLMVM, &lmvm));
        if (!lmvm) FOLDOPT_CALL(PCSetType(pc, PCNONE));
      }
    }
  }
  configured_ = true;
}

namespace {
/// The likely cause of a failed TAO solve, for its message (collective; "" if none is found):
/// an objective or gradient that overflowed, or negative curvature of the Hessian at the last
/// iterate (a few Lanczos steps on the assembled Hessian: a Ritz value below zero certifies it),
/// which without finite bounds means the problem is unbounded below.
std::string failure_cause(Problem& p, const ParamSet& theta, Vec x, Vec lb, Vec ub, const std::string& what) {
  std::string cause;
  if (what.find("Inf or NaN") != std::string::npos)
    cause = "; the objective or gradient of problem " + p.type() +
            " overflowed at an iterate (data too large for double precision, or a problem unbounded below)";
  OwnedMat H = p.hessian(x, theta);
  if (!H) return cause;
  const RitzValues r = lanczos_ritz_values(H, 20);
  const PetscReal scale = std::max(std::abs(r.lmin), std::abs(r.lmax));
  bool bounded = false;
  if (p.has_bounds() && lb && ub) {
    PetscReal lmax, umin;
    FOLDOPT_CALL(VecMax(lb, nullptr, &lmax));
    FOLDOPT_CALL(VecMin(ub, nullptr, &umin));
    bounded = lmax > PETSC_NINFINITY || umin < PETSC_INFINITY;
  }
  // The smallest Ritz value is an upper bound of the smallest eigenvalue.
  if (!bounded && r.lmin >= -1e-8 * scale && r.lmin <= 1e-10 * scale)
    return cause + detail::format("; the Hessian of problem %s is singular or nearly (an eigenvalue <= %.3g) and there "
                                  "is no finite bound: the problem may be unbounded below along that direction",
                                  p.type().c_str(), (double)r.lmin);
  if (!(r.lmin < -1e-8 * scale)) return cause;
  cause += detail::format("; problem %s is not convex: its Hessian has negative curvature (a Ritz value %.3g)%s",
                          p.type().c_str(), (double)r.lmin,
                          bounded ? ", so a minimum may not exist or not be found from this start"
                                  : " and no finite bound: it is unbounded below (no minimum exists)");
  return cause;
}
}  // namespace

void TaoForward::rethrow() {
  if (pending_) {
    std::exception_ptr e = pending_;
    pending_ = nullptr;
    std::rethrow_exception(e);
  }
}

ForwardReport TaoForward::solve(const ParamSet& theta, Vec x) {
  check_problem_layout(x, *ctx_.problem, "forward solver 'tao'");
  if (!tao_) create(tao_type());
  ForwardReport rep;
  const double t0 = wall_time();
  struct Reset {  // θ is only valid during this call
    const ParamSet*& p;
    ~Reset() { p = nullptr; }
  } reset{theta_};
  theta_ = &theta;
  last_theta_ = theta.share();  // for multipliers()
  update_bounds();
  if (!configured_) configure(x);
  refresh_almm_bounds();
  FOLDOPT_CALL(TaoSetSolution(tao_, x));
  const PetscErrorCode ierr = TaoSolve(tao_);
  rethrow();
  // TAO's own errors (its line searches': "dx * (stp-stx) >= 0.0", "generated Inf or NaN") become
  // one message naming the solver and the likely cause, the same on every rank.
  int failed = ierr != 0, any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, ctx_.comm);
  if (any) {
    std::string what = "failed on another rank";
    if (ierr) {
      try {
        FOLDOPT_CALL(ierr);
      } catch (const Error& e) {
        what = e.what();
      }
    }
    const std::string cause = failure_cause(*ctx_.problem, theta, x, lb_, ub_, what);
    check_collective(ctx_.comm, ierr == 0, ierr ? ierr : PETSC_ERR_LIB,
                     "forward solver tao " + tao_type_ + " failed: TAO: " + what + cause);
  }
  solved_ = true;
  TaoConvergedReason reason;
  PetscReal f, gnorm, cnorm, xdiff;
  FOLDOPT_CALL(TaoGetSolutionStatus(tao_, &rep.iterations, &f, &gnorm, &cnorm, &xdiff, &reason));
  rep.solver = "tao " + tao_type_;
  rep.reason = TaoConvergedReasons[reason];
  rep.residual = gnorm;
  rep.converged = reason > 0;
  rep.seconds = wall_time() - t0;
  if (rep.converged) return rep;
  const Problem& p = *ctx_.problem;
  std::string norms = detail::format("gradient norm %.3e", (double)gnorm);
  if (p.num_equality() > 0 || p.num_inequality() > 0) norms += detail::format(", constraint norm %.3e", (double)cnorm);
  std::string hint;
  const TaoTypeInfo* info = tao_type_info(tao_type_);
  if (info && info->hessian == H::none && tao_type_ != TAOALMM &&
      (reason == TAO_DIVERGED_LS_FAILURE || reason == TAO_DIVERGED_MAXITS))
    hint = " (quasi-Newton and first-order line searches stall when f stops changing in floating point: a Newton "
           "type such as tron or bnls reaches tighter gradients, or raise -" + ctx_.prefix + "tao_gatol)";
  hint += failure_cause(*ctx_.problem, theta, x, lb_, ub_, "");
  detail::throw_error(PETSC_ERR_NOT_CONVERGED,
                      detail::format("forward solver %s did not converge: %s after %" PetscInt_FMT " iterations, %s%s",
                                     rep.solver.c_str(), rep.reason.c_str(), rep.iterations, norms.c_str(), hint.c_str()));
  return rep;
}

void TaoForward::view(PetscViewer viewer) const {
  if (tao_) TaoView(tao_, viewer);
  else PetscViewerASCIIPrintf(viewer, "forward solver: tao (%s, not set up)\n", tao_type().c_str());
}

// ---------------------------------------------------------------------------------------------
// Lagrange multipliers (almm). almm's own multipliers Y (TaoALMMGetMultipliers) belong to its
// formulation, for TAO's h = −c_I ≥ 0:
//   classic  L = f + Y_Eᵀc_E + Y_Iᵀ(h − s), s ≥ 0 slacks:  y_E = Y_E, y_I = −Y_I;
//   phr      L = f + (μ/2)(‖c_E + Y_E/μ‖² + ‖max(0, c_I + Y_I/μ)‖²):  y_E = Y_E, y_I = Y_I
// (after almm's last multiplier update, Y_E + μc_E → Y_E and so on, so that ∇f + J_Eᵀy_E +
// J_Iᵀy_I is its subproblem's gradient). With both kinds of constraints PETSc 3.18 returns its
// concatenated copy Y = (Y_E, Y_I), which TaoSolve_ALMM never refreshes (its updates go to Y_E
// and Y_I): there the multipliers are the least-squares ones at x* instead, from the normal
// equations of stationarity on the free variables F (no bound within kActive) and the active
// inequalities A (c_I ≥ −kActive; the others get 0):
//   [J_E; J_A]_F [J_E; J_A]_Fᵀ (y_E, y_A) = −[J_E; J_A]_F ∇f_F      (a direct solve; m is small)
// exact at a KKT point with linearly independent active gradients. almm gives no bound
// multipliers: with the residual r = ∇f + J_Eᵀy_E + J_Iᵀy_I at x*, z_L = max(r, 0) on variables
// whose nearer finite bound is the lower one, z_U = max(−r, 0) on those whose nearer finite bound
// is the upper one, 0 elsewhere.

namespace {
constexpr PetscReal kActive = 1e-8;

/// The least-squares multipliers above (collective); ye, yi are filled.
void least_squares_multipliers(Problem& p, const ParamSet& theta, Vec x, Vec lb, Vec ub, Vec ye, Vec yi) {
  OwnedVec g = p.create_vec(), D = p.create_vec(), ci = p.create_constraint_vec(p.num_inequality());
  p.objective_gradient(x, theta, g);
  p.inequality(x, theta, ci);
  {
    PetscInt n;
    const PetscScalar *xx, *l = nullptr, *u = nullptr;
    PetscScalar* d;
    FOLDOPT_CALL(VecGetLocalSize(x, &n));
    FOLDOPT_CALL(VecGetArrayRead(x, &xx));
    if (lb) FOLDOPT_CALL(VecGetArrayRead(lb, &l));
    if (ub) FOLDOPT_CALL(VecGetArrayRead(ub, &u));
    FOLDOPT_CALL(VecGetArray(D, &d));
    for (PetscInt i = 0; i < n; ++i) {
      const bool at_lo = l && std::isfinite(PetscRealPart(l[i])) && PetscRealPart(xx[i] - l[i]) <= kActive;
      const bool at_hi = u && std::isfinite(PetscRealPart(u[i])) && PetscRealPart(u[i] - xx[i]) <= kActive;
      d[i] = (at_lo || at_hi) ? 0.0 : 1.0;
    }
    FOLDOPT_CALL(VecRestoreArray(D, &d));
    if (ub) FOLDOPT_CALL(VecRestoreArrayRead(ub, &u));
    if (lb) FOLDOPT_CALL(VecRestoreArrayRead(lb, &l));
    FOLDOPT_CALL(VecRestoreArrayRead(x, &xx));
  }
  OwnedMat JE = p.equality_jacobian(x, theta), JI = p.inequality_jacobian(x, theta);
  OwnedMat JED, JID;
  FOLDOPT_CALL(MatDuplicate(JE, MAT_COPY_VALUES, JED.out()));
  FOLDOPT_CALL(MatDuplicate(JI, MAT_COPY_VALUES, JID.out()));
  FOLDOPT_CALL(MatDiagonalScale(JED, nullptr, D));
  FOLDOPT_CALL(MatDiagonalScale(JID, nullptr, D));
  // Inactive inequality rows: zero in J, one on the diagonal of the normal matrix (y = 0 there).
  OwnedVec inactive;
  FOLDOPT_CALL(VecDuplicate(ci, inactive.out()));
  std::vector<PetscInt> rows;
  {
    PetscInt rs, re;
    FOLDOPT_CALL(VecGetOwnershipRange(ci, &rs, &re));
    const PetscScalar* c;
    PetscScalar* in;
    FOLDOPT_CALL(VecGetArrayRead(ci, &c));
    FOLDOPT_CALL(VecGetArray(inactive, &in));
    for (PetscInt k = rs; k < re; ++k) {
      const bool act = PetscRealPart(c[k - rs]) >= -kActive;
      in[k - rs] = act ? 0.0 : 1.0;
      if (!act) rows.push_back(k);
    }
    FOLDOPT_CALL(VecRestoreArray(inactive, &in));
    FOLDOPT_CALL(VecRestoreArrayRead(ci, &c));
  }
  FOLDOPT_CALL(MatZeroRows(JID, (PetscInt)rows.size(), rows.data(), 0.0, nullptr, nullptr));
  OwnedMat A11, A12, A21, A22;
  FOLDOPT_CALL(MatMatTransposeMult(JED, JED, MAT_INITIAL_MATRIX, PETSC_DEFAULT, A11.out()));
  FOLDOPT_CALL(MatMatTransposeMult(JED, JID, MAT_INITIAL_MATRIX, PETSC_DEFAULT, A12.out()));
  FOLDOPT_CALL(MatMatTransposeMult(JID, JED, MAT_INITIAL_MATRIX, PETSC_DEFAULT, A21.out()));
  FOLDOPT_CALL(MatMatTransposeMult(JID, JID, MAT_INITIAL_MATRIX, PETSC_DEFAULT, A22.out()));
  // (a zeroed row's diagonal need not be in the product's pattern: at np 2 it is not)
  FOLDOPT_CALL(MatSetOption(A22, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_FALSE));
  FOLDOPT_CALL(MatDiagonalSet(A22, inactive, ADD_VALUES));
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)x, &comm));
  Mat blocks[4] = {A11, A12, A21, A22};
  OwnedMat nest, A;
  FOLDOPT_CALL(MatCreateNest(comm, 2, nullptr, 2, nullptr, blocks, nest.out()));
  FOLDOPT_CALL(MatConvert(nest, MATAIJ, MAT_INITIAL_MATRIX, A.out()));
  // Right-hand side and solution: on each rank its y_E entries, then its y_I entries (the nest's).
  OwnedVec rE, rI, rhs, sol;
  FOLDOPT_CALL(MatCreateVecs(A, &*sol.out(), &*rhs.out()));
  FOLDOPT_CALL(VecDuplicate(ye, rE.out()));
  FOLDOPT_CALL(VecDuplicate(yi, rI.out()));
  FOLDOPT_CALL(MatMult(JED, g, rE));
  FOLDOPT_CALL(MatMult(JID, g, rI));
  auto join = [&](Vec a, Vec b, Vec out, PetscReal scale) {
    PetscInt na, nb;
    const PetscScalar *pa, *pb;
    PetscScalar* po;
    FOLDOPT_CALL(VecGetLocalSize(a, &na));
    FOLDOPT_CALL(VecGetLocalSize(b, &nb));
    FOLDOPT_CALL(VecGetArrayRead(a, &pa));
    FOLDOPT_CALL(VecGetArrayRead(b, &pb));
    FOLDOPT_CALL(VecGetArray(out, &po));
    for (PetscInt i = 0; i < na; ++i) po[i] = scale * pa[i];
    for (PetscInt i = 0; i < nb; ++i) po[na + i] = scale * pb[i];
    FOLDOPT_CALL(VecRestoreArray(out, &po));
    FOLDOPT_CALL(VecRestoreArrayRead(b, &pb));
    FOLDOPT_CALL(VecRestoreArrayRead(a, &pa));
  };
  join(rE, rI, rhs, -1.0);
  OwnedKSP ksp;
  PC pc;
  int size = 1;
  MPI_Comm_size(comm, &size);
  FOLDOPT_CALL(KSPCreate(comm, ksp.out()));
  FOLDOPT_CALL(KSPSetOperators(ksp, A, A));
  FOLDOPT_CALL(KSPSetType(ksp, KSPPREONLY));
  FOLDOPT_CALL(KSPGetPC(ksp, &pc));
  FOLDOPT_CALL(PCSetType(pc, PCLU));
  if (size > 1) FOLDOPT_CALL(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
  FOLDOPT_CALL(KSPSolve(ksp, rhs, sol));
  KSPConvergedReason reason;
  FOLDOPT_CALL(KSPGetConvergedReason(ksp, &reason));
  FOLDOPT_CHECK(reason >= 0, PETSC_ERR_NOT_CONVERGED,
                "forward solver tao: the least-squares multipliers at x* failed (%s): dependent active constraint gradients?",
                KSPConvergedReasons[reason]);
  PetscInt nE;
  const PetscScalar* ps;
  PetscScalar *pe, *pi;
  FOLDOPT_CALL(VecGetLocalSize(ye, &nE));
  PetscInt nI;
  FOLDOPT_CALL(VecGetLocalSize(yi, &nI));
  FOLDOPT_CALL(VecGetArrayRead(sol, &ps));
  FOLDOPT_CALL(VecGetArray(ye, &pe));
  FOLDOPT_CALL(VecGetArray(yi, &pi));
  for (PetscInt i = 0; i < nE; ++i) pe[i] = ps[i];
  for (PetscInt i = 0; i < nI; ++i) pi[i] = ps[nE + i];
  FOLDOPT_CALL(VecRestoreArray(yi, &pi));
  FOLDOPT_CALL(VecRestoreArray(ye, &pe));
  FOLDOPT_CALL(VecRestoreArrayRead(sol, &ps));
}
}  // namespace

bool TaoForward::has_multipliers() const { return tao_type() == TAOALMM || tao_type() == TAOPDIPM; }

Multipliers TaoForward::multipliers() const {
  FOLDOPT_CHECK(has_multipliers(), PETSC_ERR_SUP,
                "forward solver tao: type '%s' gives no Lagrange multipliers (almm and pdipm do)", tao_type().c_str());
  FOLDOPT_CHECK(solved_ && tao_, PETSC_ERR_ORDER, "forward solver tao: multipliers before a solve");
  Problem& p = *ctx_.problem;
  const PetscInt me = p.num_equality(), mi = p.num_inequality();
  Multipliers y;
  Vec x = nullptr;
  FOLDOPT_CALL(TaoGetSolution(tao_, &x));
  const ParamSet& theta = last_theta_;  // the last solve's θ
  OwnedVec r = p.create_vec(), lb, ub;
  if (p.has_bounds()) {
    lb = p.create_vec();
    ub = p.create_vec();
    p.bounds(theta, lb, ub);
  }
  if (tao_type() == TAOPDIPM) {
    // pdipm's stationarity is ∇f + J_Eᵀ DE − (∇h)ᵀ DI with h = −c_I: DE and DI are y_E and y_I
    // as they are (its bound multipliers stay inside it: z below, as for almm).
    Vec DE = nullptr, DI = nullptr;
    FOLDOPT_CALL(TaoGetDualVariables(tao_, &DE, &DI));
    if (me > 0) {
      y.eq = p.create_constraint_vec(me);
      FOLDOPT_CALL(VecCopy(DE, y.eq));
    }
    if (mi > 0) {
      y.ineq = p.create_constraint_vec(mi);
      FOLDOPT_CALL(VecCopy(DI, y.ineq));
    }
  } else if (me > 0 && mi > 0) {  // almm's Y is stale (see above)
    y.eq = p.create_constraint_vec(me);
    y.ineq = p.create_constraint_vec(mi);
    least_squares_multipliers(p, theta, x, lb, ub, y.eq, y.ineq);
  } else if (me > 0 || mi > 0) {
    Vec Y = nullptr;
    FOLDOPT_CALL(TaoALMMGetMultipliers(tao_, &Y));
    TaoALMMType form;
    FOLDOPT_CALL(TaoALMMGetType(tao_, &form));
    OwnedVec& out = me > 0 ? y.eq : y.ineq;
    out = p.create_constraint_vec(me > 0 ? me : mi);
    FOLDOPT_CALL(VecCopy(Y, out));
    if (mi > 0 && form == TAO_ALMM_CLASSIC) FOLDOPT_CALL(VecScale(out, -1.0));
  }
  if (!p.has_bounds()) return y;
  p.objective_gradient(x, theta, r);
  if (me > 0) {
    OwnedMat J = p.equality_jacobian(x, theta);
    FOLDOPT_CALL(MatMultTransposeAdd(J, y.eq, r, r));
  }
  if (mi > 0) {
    OwnedMat J = p.inequality_jacobian(x, theta);
    FOLDOPT_CALL(MatMultTransposeAdd(J, y.ineq, r, r));
  }
  y.lower = p.create_vec();
  y.upper = p.create_vec();
  PetscInt n;
  const PetscScalar *rr, *xx, *l, *u;
  PetscScalar *zl, *zu;
  FOLDOPT_CALL(VecGetLocalSize(r, &n));
  FOLDOPT_CALL(VecGetArrayRead(r, &rr));
  FOLDOPT_CALL(VecGetArrayRead(x, &xx));
  FOLDOPT_CALL(VecGetArrayRead(lb, &l));
  FOLDOPT_CALL(VecGetArrayRead(ub, &u));
  FOLDOPT_CALL(VecGetArray(y.lower, &zl));
  FOLDOPT_CALL(VecGetArray(y.upper, &zu));
  for (PetscInt i = 0; i < n; ++i) {
    const PetscReal li = PetscRealPart(l[i]), ui = PetscRealPart(u[i]), xi = PetscRealPart(xx[i]);
    const bool lo = std::isfinite(li) && li > PETSC_NINFINITY, hi = std::isfinite(ui) && ui < PETSC_INFINITY;
    const bool at_lower = lo && (!hi || xi - li <= ui - xi);
    zl[i] = at_lower ? std::max<PetscReal>(0, PetscRealPart(rr[i])) : 0;
    zu[i] = (hi && !at_lower) ? std::max<PetscReal>(0, -PetscRealPart(rr[i])) : 0;
  }
  FOLDOPT_CALL(VecRestoreArrayRead(r, &rr));
  FOLDOPT_CALL(VecRestoreArrayRead(x, &xx));
  FOLDOPT_CALL(VecRestoreArrayRead(lb, &l));
  FOLDOPT_CALL(VecRestoreArrayRead(ub, &u));
  FOLDOPT_CALL(VecRestoreArray(y.lower, &zl));
  FOLDOPT_CALL(VecRestoreArray(y.upper, &zu));
  return y;
}

}  // namespace foldopt
