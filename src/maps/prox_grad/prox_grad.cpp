// foldopt: the proximal-gradient map (update maps `prox_grad` and `pgd`).
//
// Method:  U(s; θ) = prox_{αh}(s − α ∇f(s; θ); θ), f an Objective and h a Prox (the problem's parts,
//   or its own functions and bounds).
// Algorithm (at the linearization point s*, z = s* − α ∇f(s*), J = ∂prox/∂z at z, symmetric):
//   Φ u   = J (u − α ∇²f u)                 Φᵀ v = (J v) − α ∇²f (J v)      (∇²f symmetric)
//   Ψ dθ  = −α J (∂∇f/∂θ) dθ + (∂prox/∂θ) dθ
//   Ψᵀ v  = −α (∂∇f/∂θ)ᵀ (J v) + (∂prox/∂θ)ᵀ v
//   J = diag(d) + U diag(c) Uᵀ (the prox's declared structure):
//   diag Φ = d ∘ (1 − α diag ∇²f) + rowsum(U diag(c) ∘ W),  W = (I − α∇²f) U;
//   Φ assembled = diag(d)(I − α ∇²f) by MatScale, MatShift, MatDiagonalScale on the assembled
//   Hessian (no probing), its low-rank part U Vᵀ with V = (I − α∇²f) U diag(c); Φ_sᵀ directly as
//   (I − α∇²f) diag(d) (a column scaling: no transposed copy).
//   The stepsize operator is ∇²f restricted to the free set (MatCreateSubMatrix) where J is a 0/1
//   diagonal; there ρ(Φ) = max |1 − αλ(∇²f_FF)|, α = 2/(λmin + λmax) minimizes it (-fold_stepsize
//   optimal) and α = 1/λmax (-fold_stepsize auto|lmax) gives ρ = 1 − λmin/λmax.
//   Default α: the problem's own where it gives one (Problem::default_stepsize), else 1/B for the
//   objective's declared curvature bound B ≥ λmax(∇²f), else 1.
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §10 (proximal gradient);
//   Kotary, Dinh, Fioretto (2023), f-PGD.
#include <foldopt/maps/prox_grad.hpp>

#include <foldopt/error.hpp>

#include "core/compat.hpp"  // PetscObjectStateGet
#include "core/options.hpp"
#include "maps/prox_grad/problem_parts.hpp"

#include <cmath>
#include <sstream>
#include <vector>

namespace foldopt {

ProxGradMap::ProxGradMap(Problem& problem, PetscReal stepsize) : problem_(problem) {
  f_ = problem.objective();
  prox_ = problem.prox();
  if (!f_) {
    own_f_.reset(new detail::ProblemObjective(problem));
    f_ = own_f_.get();
  }
  if (!prox_) {
    own_prox_ = detail::bounds_prox(problem);
    prox_ = own_prox_.get();
  }
  init(stepsize);
}

ProxGradMap::ProxGradMap(Problem& problem, Objective& f, Prox& h, PetscReal stepsize)
    : problem_(problem), f_(&f), prox_(&h) {
  init(stepsize);
}

ProxGradMap::~ProxGradMap() = default;

void ProxGradMap::init(PetscReal stepsize) {
  if (stepsize > 0) {
    set_stepsize(stepsize);
    alpha_source_ = "given";
  } else if (problem_.default_stepsize() > 0) {
    alpha_ = problem_.default_stepsize();
    alpha_source_ = "the problem's default";
  } else {
    const PetscReal B = f_->curvature_bound(problem_.params());
    alpha_ = B > 0 ? 1.0 / B : 1.0;
    alpha_from_bound_ = B > 0;
    alpha_source_ = B > 0 ? detail::format("1/%.6g, the objective's curvature bound", (double)B)
                          : "1 (the objective declares no curvature bound)";
  }
  work_ = create_vec();
  work2_ = create_vec();
}

void ProxGradMap::set_stepsize(PetscReal alpha) {
  FOLDOPT_CHECK(alpha > 0 && std::isfinite(alpha), PETSC_ERR_ARG_OUTOFRANGE, "%s: stepsize %g must be positive",
                type().c_str(), (double)alpha);
  alpha_ = alpha;
  alpha_source_ = stepsize_rule_is_automatic() ? "-" + prefix_ + "stepsize " + stepsize_rule_name() : "set";
  alpha_from_bound_ = false;
  linearized_ = false;
}

void ProxGradMap::prepare(const ParamSet& theta) {
  if (!alpha_from_bound_) return;
  const PetscReal B = f_->curvature_bound(theta);  // collective, alike on every rank
  if (!(B > 0) || 1.0 / B == alpha_) return;
  alpha_ = 1.0 / B;
  alpha_source_ = detail::format("1/%.6g, the objective's curvature bound at this theta", (double)B);
  linearized_ = false;
}

namespace {
PetscErrorCode read_pgd_options(MPI_Comm comm, const char* prefix, PetscReal* alpha, PetscBool* set, char* prox, size_t len,
                                PetscBool* prox_set) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Proximal-gradient map", "ProxGradMap");
  PetscCall(PetscOptionsReal("-pgd_stepsize", "Stepsize alpha of the proximal-gradient step (default 1/B, B the objective's curvature bound)",
                             "ProxGradMap::set_stepsize", *alpha, alpha, set));
  PetscCall(PetscOptionsString("-prox_type", "Replace the problem's prox by a registered one (prox_registry(): e.g. linear, the projection onto l <= Ax <= u by a folded ADMM solve)",
                               "ProxGradMap", prox, prox, len, prox_set));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

std::string ProxGradMap::default_ksp_type() const { return prox_->capabilities().nested ? "fgmres" : ""; }

void ProxGradMap::set_from_options() {
  UpdateMap::set_from_options();
  options::check_real(prefix_.c_str(), "pgd_stepsize", 0, 1e300, true);
  options::check_string(prefix_.c_str(), "prox_type");
  PetscReal alpha = alpha_;
  PetscBool set = PETSC_FALSE, prox_set = PETSC_FALSE;
  char prox_name[64] = "";
  FOLDOPT_CALL(read_pgd_options(layout().comm, prefix_.c_str(), &alpha, &set, prox_name, sizeof prox_name, &prox_set));
  bool built = false;
  {
    // -<prefix>prox_type NAME: a registered prox replaces the problem's (built once per name).
    const std::string name = prox_name;
    if (prox_set && name != prox_->type()) {
      built = true;
      PartContext c;
      c.comm = layout().comm;
      c.problem = &problem_;
      c.layout = layout();
      c.prefix = prefix_ + "prox_";
      own_prox_ = prox_registry().create("prox", name, c);  // (configured: its options are read)
      prox_ = own_prox_.get();
      linearized_ = false;
    }
  }
  if (set) {
    FOLDOPT_CHECK(rule_ == StepsizeRule::fixed, PETSC_ERR_ARG_INCOMP,
                  "-%spgd_stepsize %g and -%sstepsize %s: give a stepsize or ask for one, not both", prefix_.c_str(),
                  (double)alpha, prefix_.c_str(), stepsize_rule_name());
    set_stepsize(alpha);
    alpha_source_ = "-" + prefix_ + "pgd_stepsize";
  }
  f_->set_from_options();
  if (!built) prox_->set_from_options();  // (a prox built above has read its options)
}

void ProxGradMap::apply(Vec x, const ParamSet& theta, Vec y) {
  f_->value_gradient(x, theta, work_);
  FOLDOPT_CALL(VecWAXPY(work2_, -alpha_, work_, x));  // z = x − α∇f
  prox_->apply(work2_, alpha_, theta, y);
}

void ProxGradMap::linearize(Vec x, const ParamSet& theta) {
  if (!x_) {
    x_ = create_vec();
    z_ = create_vec();
    d_ = create_vec();
  }
  FOLDOPT_CALL(VecCopy(x, x_));
  theta_ = theta.share();
  f_->value_gradient(x_, theta_, work_);
  FOLDOPT_CALL(VecWAXPY(z_, -alpha_, work_, x_));
  prox_->linearize(z_, alpha_, theta_);
  if (prox_->capabilities().nested) {  // J only through products: no structure
    nfree_ = prox_->free_count();
    if (f_->capabilities().hessian)
      hess_ = f_->hessian(x_, theta_);
    else
      hess_.reset();
    linearized_ = true;
    return;
  }
  OwnedMat U;
  OwnedVec c;
  prox_->jacobian_structure(d_, &U, &c);
  PetscInt nloc, local = 0;
  FOLDOPT_CALL(VecGetLocalSize(d_, &nloc));
  const PetscScalar* d;
  FOLDOPT_CALL(VecGetArrayRead(d_, &d));
  for (PetscInt i = 0; i < nloc; ++i) local += PetscRealPart(d[i]) != 0 ? 1 : 0;
  FOLDOPT_CALL(VecRestoreArrayRead(d_, &d));
  MPI_Allreduce(&local, &nfree_, 1, MPIU_INT, MPI_SUM, layout().comm);
  if (f_->capabilities().hessian)
    hess_ = f_->hessian(x_, theta_);
  else
    hess_.reset();
  linearized_ = true;
}

void ProxGradMap::check_linearized(const char* op) const {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "%s: %s before linearize()", type().c_str(), op);
}

void ProxGradMap::smooth_step(Vec u, Vec y) {
  if (hess_)
    FOLDOPT_CALL(MatMult(hess_, u, y));
  else
    f_->hessian_mult(x_, theta_, u, y);
  FOLDOPT_CALL(VecAYPX(y, -alpha_, u));  // y = u − α ∇²f u
}

void ProxGradMap::phi_t(Vec v, Vec y) {
  check_linearized("phi_t");
  prox_->jacobian_mult(v, work_);
  smooth_step(work_, y);
}

void ProxGradMap::phi(Vec u, Vec y) {
  check_linearized("phi");
  smooth_step(u, work2_);
  prox_->jacobian_mult(work2_, y);
}

void ProxGradMap::psi_t(Vec v, ParamSet& out) {
  check_linearized("psi_t");
  prox_->jacobian_mult(v, work_);
  psi_t_from(v, work_, out);
}

bool ProxGradMap::gradient_from_factor() const { return !prox_->capabilities().parameters; }

void ProxGradMap::psi_t_factored(Vec w, Vec jw, ParamSet& out) {
  check_linearized("psi_t_factored");
  FOLDOPT_CALL(VecCopy(jw, work_));
  psi_t_from(w, work_, out);
}

// out = −α (∂∇f/∂θ)ᵀ jw + (∂prox/∂θ)ᵀ v, with jw = Jᵀ v (J symmetric) in work_.
void ProxGradMap::psi_t_from(Vec v, Vec jw, ParamSet& out) {
  out.set_zero();
  f_->gradient_param_t(x_, theta_, jw, out);
  for (std::size_t b = 0; b < out.size(); ++b) FOLDOPT_CALL(VecScale(out[b].vec, -alpha_));
  prox_->param_t(v, out);
}

void ProxGradMap::psi(const ParamSet& dtheta, Vec y) {
  check_linearized("psi");
  FOLDOPT_CALL(VecZeroEntries(work2_));
  f_->gradient_param(x_, theta_, dtheta, work2_);
  FOLDOPT_CALL(VecScale(work2_, -alpha_));
  prox_->jacobian_mult(work2_, y);
  prox_->param(dtheta, y);
}

std::string ProxGradMap::singular_reason() {
  check_linearized("singular_reason");
  return problem_.singular_reason(x_, theta_);
}

void ProxGradMap::readout_t(Vec g, Vec h) {
  check_linearized("readout_t");
  problem_.readout_t(x_, theta_, g, h);
}

void ProxGradMap::readout_param_t(Vec g, ParamSet& out) {
  check_linearized("readout_param_t");
  problem_.readout_param_t(x_, theta_, g, out);
}

bool ProxGradMap::has_diagonal() const {
  const Objective::Capabilities c = f_->capabilities();
  if (prox_->capabilities().nested) return false;
  return c.hessian || (c.hessian_diagonal && !prox_->capabilities().low_rank);
}

bool ProxGradMap::can_assemble() const { return f_->capabilities().hessian && !prox_->capabilities().nested; }

void ProxGradMap::structure_mask(Vec m) {
  check_linearized("structure_mask");
  FOLDOPT_CHECK(has_structure_mask(), PETSC_ERR_SUP, "%s: a nested prox has no structure mask", type().c_str());
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(d_, &nloc));
  const PetscScalar* d;
  PetscScalar* out;
  FOLDOPT_CALL(VecGetArrayRead(d_, &d));
  FOLDOPT_CALL(VecGetArray(m, &out));
  for (PetscInt i = 0; i < nloc; ++i) out[i] = PetscRealPart(d[i]) != 0 ? 1.0 : 0.0;
  FOLDOPT_CALL(VecRestoreArray(m, &out));
  FOLDOPT_CALL(VecRestoreArrayRead(d_, &d));
}

void ProxGradMap::get_diagonal(Vec dg) {
  check_linearized("get_diagonal");
  FOLDOPT_CHECK(has_diagonal(), PETSC_ERR_SUP, "%s: objective '%s' gives no Hessian diagonal", type().c_str(),
                f_->type().c_str());
  if (hess_)
    FOLDOPT_CALL(MatGetDiagonal(hess_, work_));
  else
    f_->hessian_diagonal(x_, theta_, work_);
  FOLDOPT_CALL(VecScale(work_, -alpha_));
  FOLDOPT_CALL(VecShift(work_, 1.0));
  FOLDOPT_CALL(VecPointwiseMult(dg, d_, work_));
  if (!has_low_rank()) return;
  // + rowsum(U diag(c) ∘ V') with V' = (I − α∇²f) U: the diagonal of U diag(c) Uᵀ (I − α∇²f).
  OwnedMat U, V;
  low_rank(&U, &V);
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(U, &rstart, &rend));
  PetscScalar* out;
  FOLDOPT_CALL(VecGetArray(dg, &out));
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nu, nv;
    const PetscInt *cu, *cv;
    const PetscScalar *au, *av;
    FOLDOPT_CALL(MatGetRow(U, i, &nu, &cu, &au));
    FOLDOPT_CALL(MatGetRow(V, i, &nv, &cv, &av));
    PetscScalar sum = 0;
    for (PetscInt a = 0, b = 0; a < nu && b < nv;) {
      if (cu[a] == cv[b]) sum += au[a++] * av[b++];
      else if (cu[a] < cv[b]) ++a;
      else ++b;
    }
    FOLDOPT_CALL(MatRestoreRow(V, i, &nv, &cv, &av));
    FOLDOPT_CALL(MatRestoreRow(U, i, &nu, &cu, &au));
    out[i - rstart] += sum;
  }
  FOLDOPT_CALL(VecRestoreArray(dg, &out));
}

OwnedMat ProxGradMap::assemble_phi() {
  check_linearized("assemble_phi");
  FOLDOPT_CHECK(hess_, PETSC_ERR_SUP, "%s: objective '%s' cannot assemble its Hessian", type().c_str(), f_->type().c_str());
  OwnedMat A;
  FOLDOPT_CALL(MatDuplicate(hess_, MAT_COPY_VALUES, A.out()));
  FOLDOPT_CALL(MatScale(A, -alpha_));
  FOLDOPT_CALL(MatShift(A, 1.0));
  FOLDOPT_CALL(MatDiagonalScale(A, d_, nullptr));
  return A;
}

OwnedMat ProxGradMap::assemble_phi_transpose() {
  check_linearized("assemble_phi_transpose");
  FOLDOPT_CHECK(hess_, PETSC_ERR_SUP, "%s: objective '%s' cannot assemble its Hessian", type().c_str(), f_->type().c_str());
  OwnedMat A;
  FOLDOPT_CALL(MatDuplicate(hess_, MAT_COPY_VALUES, A.out()));
  FOLDOPT_CALL(MatScale(A, -alpha_));
  FOLDOPT_CALL(MatShift(A, 1.0));
  FOLDOPT_CALL(MatDiagonalScale(A, nullptr, d_));  // columns: (I − α∇²f) diag(d) = Φ_sᵀ
  return A;
}

void ProxGradMap::low_rank(OwnedMat* Uout, OwnedMat* Vout) {
  check_linearized("low_rank");
  FOLDOPT_CHECK(has_low_rank(), PETSC_ERR_SUP, "%s: prox '%s' has no low-rank part", type().c_str(), prox_->type().c_str());
  FOLDOPT_CHECK(hess_, PETSC_ERR_SUP, "%s: the low-rank part of Phi needs an assembled Hessian (objective '%s')",
                type().c_str(), f_->type().c_str());
  OwnedMat U;
  OwnedVec c;
  prox_->jacobian_structure(work_, &U, &c);
  FOLDOPT_CHECK(U && c, PETSC_ERR_PLIB, "prox '%s' declares a low-rank part but gave none", prox_->type().c_str());
  OwnedMat UC, M, V;
  FOLDOPT_CALL(MatDuplicate(U, MAT_COPY_VALUES, UC.out()));
  FOLDOPT_CALL(MatDiagonalScale(UC, nullptr, c));  // U diag(c)
  // V = (I − α H) U diag(c): one product with I − αH assembled (no sum of two patterns)
  FOLDOPT_CALL(MatDuplicate(hess_, MAT_COPY_VALUES, M.out()));
  FOLDOPT_CALL(MatScale(M, -alpha_));
  FOLDOPT_CALL(MatShift(M, 1.0));
  FOLDOPT_CALL(MatMatMult(M, UC, MAT_INITIAL_MATRIX, PETSC_DEFAULT, V.out()));
  *Uout = std::move(U);
  *Vout = std::move(V);
}

bool ProxGradMap::has_symmetric_form() const {
  const Prox::Capabilities c = prox_->capabilities();
  return c.factor || c.projection;
}

void ProxGradMap::factor_mult(Vec v, Vec y) {
  check_linearized("factor_mult");
  FOLDOPT_CHECK(has_symmetric_form(), PETSC_ERR_SUP, "%s: prox '%s' declares no factor K of its Jacobian", type().c_str(),
                prox_->type().c_str());
  if (prox_->capabilities().factor)
    prox_->factor_mult(v, y);
  else
    prox_->jacobian_mult(v, y);  // a projection: K = J
}

void ProxGradMap::smooth_mult(Vec v, Vec y) {
  check_linearized("smooth_mult");
  smooth_step(v, y);
}

OwnedMat ProxGradMap::assemble_symmetric() {
  check_linearized("assemble_symmetric");
  if (!hess_ || has_low_rank() || !has_symmetric_form() || prox_->capabilities().nested) return OwnedMat();
  // K = diag(√d) for a diagonal J = diag(d): I − K (I − α∇²f) K.
  OwnedVec k;
  FOLDOPT_CALL(VecDuplicate(d_, k.out()));
  FOLDOPT_CALL(VecCopy(d_, k));
  FOLDOPT_CALL(VecSqrtAbs(k));
  OwnedMat A;
  FOLDOPT_CALL(MatDuplicate(hess_, MAT_COPY_VALUES, A.out()));
  FOLDOPT_CALL(MatScale(A, -alpha_));
  FOLDOPT_CALL(MatShift(A, 1.0));
  FOLDOPT_CALL(MatDiagonalScale(A, k, k));
  FOLDOPT_CALL(MatScale(A, -1.0));
  FOLDOPT_CALL(MatShift(A, 1.0));
  FOLDOPT_CALL(MatSetOption(A, MAT_SYMMETRIC, PETSC_TRUE));
  return A;
}

// K = J = D + U C Uᵀ (a projection; U's columns with disjoint supports) and M = diag(m),
// m = 1 − α diag ∇²f: diag(J M J)_i = d_i² m_i + 2 d_i m_i (U² c)_i + (U² (c² ∘ U²ᵀ m))_i with
// U² the entrywise square of U.
bool ProxGradMap::has_symmetric_diagonal() const {
  const Objective::Capabilities c = f_->capabilities();
  return prox_->capabilities().projection && !prox_->capabilities().nested && c.diagonal && (c.hessian_diagonal || c.hessian);
}

void ProxGradMap::symmetric_diagonal(Vec out) {
  check_linearized("symmetric_diagonal");
  FOLDOPT_CHECK(has_symmetric_diagonal(), PETSC_ERR_SUP, "%s: no diagonal of the symmetric form (objective '%s', prox '%s')",
                type().c_str(), f_->type().c_str(), prox_->type().c_str());
  OwnedVec m;
  FOLDOPT_CALL(VecDuplicate(d_, m.out()));
  if (hess_)
    FOLDOPT_CALL(MatGetDiagonal(hess_, m));
  else
    f_->hessian_diagonal(x_, theta_, m);
  FOLDOPT_CALL(VecScale(m, -alpha_));
  FOLDOPT_CALL(VecShift(m, 1.0));                     // m = 1 − α diag ∇²f
  FOLDOPT_CALL(VecPointwiseMult(out, d_, d_));
  FOLDOPT_CALL(VecPointwiseMult(out, out, m));        // d² m
  // The low-rank part of J (a sum constraint's rank one) is left out on purpose: its terms add
  // Σ_F m_j/|F|² to every free entry, which for a badly scaled M (entropy: α∇²f up to 1e9) swamps
  // the entries of order one; with the sparse part's diagonal the Jacobi-scaled operator is the
  // identity plus a low-rank term, and CG converges in a few iterations.
  FOLDOPT_CALL(VecScale(out, -1.0));
  FOLDOPT_CALL(VecShift(out, 1.0));                   // diag(I − J_s M J_s), J_s = diag(d)
}

bool ProxGradMap::free_entries(std::vector<PetscInt>& idx) const {
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(d_, &rstart, &rend));
  idx.clear();
  const PetscScalar* d;
  int mask = 1;  // J a 0/1 diagonal on this rank
  FOLDOPT_CALL(VecGetArrayRead(d_, &d));
  for (PetscInt i = rstart; i < rend; ++i) {
    const PetscReal di = PetscRealPart(d[i - rstart]);
    if (di != 0 && di != 1) mask = 0;
    if (di != 0) idx.push_back(i);
  }
  FOLDOPT_CALL(VecRestoreArrayRead(d_, &d));
  int all = 0;
  MPI_Allreduce(&mask, &all, 1, MPI_INT, MPI_MIN, layout().comm);
  return all != 0;
}

OwnedMat ProxGradMap::stepsize_operator() {
  check_linearized("stepsize_operator");
  if (!hess_ || nfree_ == 0 || has_low_rank() || prox_->capabilities().nested) return OwnedMat();
  std::vector<PetscInt> idx;
  if (!free_entries(idx)) return OwnedMat();  // Φ is not I − α∇²f on a free set
  OwnedIS is;
  FOLDOPT_CALL(ISCreateGeneral(layout().comm, (PetscInt)idx.size(), idx.data(), PETSC_COPY_VALUES, is.out()));
  OwnedMat sub;
  FOLDOPT_CALL(MatCreateSubMatrix(hess_, is, is, MAT_INITIAL_MATRIX, sub.out()));
  FOLDOPT_CALL(MatSetOption(sub, MAT_SYMMETRIC, PETSC_TRUE));
  return sub;
}

PetscObjectState ProxGradMap::stepsize_operator_version() {
  check_linearized("stepsize_operator_version");
  if (!hess_ || nfree_ == 0 || has_low_rank() || prox_->capabilities().nested) return 0;
  std::vector<PetscInt> idx;
  if (!free_entries(idx)) return 0;
  // H_FF is the same while the Hessian object, its state and the free set are.
  PetscObjectId id = 0;
  PetscObjectState state = 0;
  FOLDOPT_CALL(PetscObjectGetId(reinterpret_cast<PetscObject>(hess_.get()), &id));
  FOLDOPT_CALL(PetscObjectStateGet(reinterpret_cast<PetscObject>(hess_.get()), &state));
  int same = step_op_version_ != 0 && id == step_op_hess_id_ && state == step_op_hess_state_ && idx == step_op_free_,
      all_same = 0;
  MPI_Allreduce(&same, &all_same, 1, MPI_INT, MPI_MIN, layout().comm);
  if (!all_same) {
    // Versions are unique in the process, so that no other map's number can match a kept one (a
    // layer whose map was replaced compares the new map's numbers with the old one's).
    static PetscObjectState last_version = 0;
    step_op_version_ = ++last_version;
    step_op_hess_id_ = id;
    step_op_hess_state_ = state;
    step_op_free_ = std::move(idx);
  }
  return step_op_version_;
}

std::string ProxGradMap::describe() const {
  std::ostringstream s;
  s << type() << " (stepsize " << alpha_;
  if (linearized_ && nfree_ >= 0) s << ", " << nfree_ << " of " << layout().global() << " entries free";
  s << ")";
  return s.str();
}

void ProxGradMap::view(PetscViewer viewer) const {
  PetscViewerASCIIPrintf(viewer, "  objective: %s\n", f_->describe().c_str());
  if (prox_->capabilities().nested) {  // its own report (the inner solves), nested
    PetscViewerASCIIPushTab(viewer);
    prox_->view(viewer);
    PetscViewerASCIIPopTab(viewer);
  } else {
    PetscViewerASCIIPrintf(viewer, "  prox: %s\n", prox_->describe().c_str());
  }
  PetscViewerASCIIPrintf(viewer, "  stepsize %.6g (%s)\n", (double)alpha_, alpha_source_.c_str());
  if (problem_.has_readout())
    PetscViewerASCIIPrintf(viewer, "  state of %" PetscInt_FMT " entries, solution of %" PetscInt_FMT " (readout)\n",
                           layout().global(), solution_layout().global());
}

}  // namespace foldopt
