// foldopt: the projection onto {l ≤ Ax ≤ u} by a folded ADMM solve (prox `linear`, f-PGDb).
//
// Method:    prox_lin(z) = argmin ½‖x − z‖² s.t. l ≤ Ax ≤ u, the QP of the ADMM map with P = I
//            and q = −z (inner θ: q, l, u, P.values = 1, A.values), solved by the admm forward
//            on the map's state s = (x, z, y) (warm start: the previous projection's state;
//            polished to a fixed-point residual ≤ 1e-12 by default, ρ = 1 fixed by default:
//            P = I is balanced with it); the projection is x.
// Algorithm: at the projection's fixed point s*, with the ADMM map's Φ, Ψ and readout R = (I 0 0):
//              Jᵀ v = (∂x*/∂z)ᵀ v = −(∂x*/∂q)ᵀ v = −(Ψᵀ w)_q,   (I − Φᵀ) w = Rᵀ v = (v, 0, 0)
//            (J = Jᵀ: the Jacobian of a Euclidean projection is symmetric, 0 ⪯ J ⪯ I; on a
//            nondegenerate active set S, J = I − A_Sᵀ(A_S A_Sᵀ)⁻¹A_S, an orthogonal projector:
//            K = J), and from the same w
//              (∂prox/∂θ_b)ᵀ v = (Ψᵀ w)_b   for b = l, u, A.values.
//            The forward products: ∂prox/∂θ dθ = R (I − Φ)⁻¹ Ψ dθ_in with dθ_in = (0, dl, du, 0,
//            dA), by the inner KSP's transpose solve (its operator's transpose is I − Φ). The
//            inner solve meets its rtol only: each product is exact to it, so the outer adjoint
//            defaults to FGMRES (ProxGradMap::default_ksp_type) and the inner rtol to 0.1 × the
//            outer's (set_outer_rtol, unless -<inner>ksp_rtol is given). A product's gradient
//            w is kept for the same Vec (id and state) at the same linearization, so that
//            Ψᵀ v of a prox-gradient map (J v, then (∂prox/∂θ)ᵀ v) costs one inner solve.
// References: B. Stellato et al., OSQP, Math. Prog. Comp. 12 (2020) 637–672 (the splitting);
//            Kotary, Dinh, Fioretto, Folded optimization for end-to-end model-based learning
//            (2023), f-PGDb; A. Beck, First-Order Methods in Optimization (SIAM 2017), §6.4.
#include <foldopt/prox/linear.hpp>

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/maps/admm.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problem.hpp>

#include "core/compat.hpp"  // PetscObjectStateGet
#include "core/options.hpp"
#include "core/util.hpp"
#include "forward/admm.hpp"
#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace foldopt {

namespace {

PetscInt local_size(Vec v) {
  PetscInt n;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  return n;
}

/// Copy `from` into `to` (same global size), refusing a different split with one clear error.
void copy_checked(Vec from, Vec to, const char* what) {
  PetscInt gf, gt;
  FOLDOPT_CALL(VecGetSize(from, &gf));
  FOLDOPT_CALL(VecGetSize(to, &gt));
  FOLDOPT_CHECK(gf == gt, PETSC_ERR_ARG_SIZ, "linear prox: %s has %" PetscInt_FMT " entries, expected %" PetscInt_FMT, what,
                gf, gt);
  const int same = local_size(from) == local_size(to) ? 1 : 0;
  int all = 0;
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)to, &comm));
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, comm);
  FOLDOPT_CHECK(all == 1, PETSC_ERR_ARG_SIZ, "linear prox: %s is split across the ranks unlike the inner QP's vectors", what);
  FOLDOPT_CALL(VecCopy(from, to));
}

}  // namespace

LinearProx::LinearProx(const Data& data) : data_(data) {
  const Layout& lay = data_.layout;
  FOLDOPT_CHECK(lay.n > 0 && lay.batch > 0, PETSC_ERR_ARG_OUTOFRANGE, "linear prox: the layout has no entries");
  FOLDOPT_CHECK(data_.A != nullptr, PETSC_ERR_ARG_NULL, "linear prox: needs the constraint matrix A");
  PetscInt m, n;
  FOLDOPT_CALL(MatGetSize(data_.A, &m, &n));
  FOLDOPT_CHECK(n == lay.n, PETSC_ERR_ARG_SIZ,
                "linear prox: A has %" PetscInt_FMT " columns for instances of %" PetscInt_FMT " unknowns", n, lay.n);
  FOLDOPT_CHECK(m > 0, PETSC_ERR_ARG_SIZ, "linear prox: A has no rows");
  FOLDOPT_CALL(PetscObjectReference((PetscObject)data_.A));
  A_ = OwnedMat(data_.A);
  // P = I (one instance), its values fixed at 1.
  FOLDOPT_CALL(MatCreateAIJ(lay.comm, PETSC_DECIDE, PETSC_DECIDE, lay.n, lay.n, 1, nullptr, 0, nullptr, I_.out()));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(I_, &rs, &re));
  for (PetscInt i = rs; i < re; ++i) FOLDOPT_CALL(MatSetValue(I_, i, i, 1.0, INSERT_VALUES));
  FOLDOPT_CALL(MatAssemblyBegin(I_, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(I_, MAT_FINAL_ASSEMBLY));
  AdmmData d;
  d.layout = lay;
  d.P = I_;
  d.A = A_;
  d.P_name = "I (the projection's P)";
  d.A_name = "A (the linear prox's constraints)";
  d.q_name = "-z";
  map_.reset(new AdmmMap(d));
  map_->set_rho(1.0);
  theta_in_ = map_->create_params();
  FOLDOPT_CALL(VecSet(theta_in_.get("P.values"), 1.0));
  {
    OwnedVec av = matrix_values::values(A_);
    copy_checked(av, theta_in_.get("A.values"), "A's values");
  }
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  FOLDOPT_CALL(VecDuplicate(theta_in_.get("l"), l_.out()));
  FOLDOPT_CALL(VecDuplicate(theta_in_.get("u"), u_.out()));
  FOLDOPT_CALL(VecSet(l_, -inf));
  FOLDOPT_CALL(VecSet(u_, inf));
  if (data_.l) copy_checked(data_.l, l_, "the lower bound l");
  if (data_.u) copy_checked(data_.u, u_, "the upper bound u");
  data_.l = data_.u = nullptr;  // (copied)
  copy_checked(l_, theta_in_.get("l"), "the lower bound l");
  copy_checked(u_, theta_in_.get("u"), "the upper bound u");
  s_ = map_->create_vec();
  FOLDOPT_CALL(VecZeroEntries(s_));
  FOLDOPT_CALL(VecDuplicate(s_, r_.out()));
  FOLDOPT_CALL(VecDuplicate(s_, w_.out()));
  xin_ = map_->create_x();
  zin_ = map_->create_z();
  grad_ = theta_in_.zeros_like();
  dtheta_in_ = theta_in_.zeros_like();
}

LinearProx::~LinearProx() = default;

Prox::Capabilities LinearProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.nested = true;
  return c;
}

void LinearProx::ensure() {
  if (fwd_) return;
  // The inner objects' prefix: the map's prefix (the prox's without `prox_`) + inner_.
  std::string base = prefix_;
  if (base.size() >= 5 && base.compare(base.size() - 5, 5, "prox_") == 0) base.resize(base.size() - 5);
  inner_prefix_ = base + "inner_";
  map_->set_options_prefix(inner_prefix_);
  ForwardContext c{data_.layout.comm, nullptr, map_.get(), inner_prefix_ + "fwd_"};
  std::unique_ptr<AdmmForward> f(new AdmmForward(c));
  f->set_tolerance(1e-12);
  // ρ fixed at 1 (set in the constructor): P = I is balanced with it, and OSQP's rule would drive
  // ρ to its floor where no row is active (r_prim = 0), where the fixed-point check (scaled by
  // min(1, ρ)) then cannot go below the rounding of y / ρ.
  f->set_adaptive_rho(false);
  fwd_ = std::move(f);
  adj_.reset(new AdjointSolver(data_.layout.comm, inner_prefix_));
  adj_->set_map(*map_);
}

AdjointSolver& LinearProx::inner_adjoint() {
  ensure();
  return *adj_;
}

void LinearProx::set_from_options() {
  fwd_.reset();
  adj_.reset();
  ensure();
  map_->set_from_options();
  fwd_->set_from_options();
  adj_->set_from_options();
  PetscBool given = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsHasName(nullptr, inner_prefix_.c_str(), "-ksp_rtol", &given));
  rtol_given_ = given == PETSC_TRUE;
  set_outer_rtol(outer_rtol_);
  linearized_ = false;
  have_grad_ = false;
}

void LinearProx::set_outer_rtol(PetscReal rtol) {
  outer_rtol_ = rtol;
  ensure();
  if (!adj_->ksp()) adj_->set_from_options();
  if (!rtol_given_) FOLDOPT_CALL(KSPSetTolerances(adj_->ksp(), 0.1 * rtol, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT));
}

std::vector<std::string> LinearProx::deferred_option_prefixes() const {
  std::vector<std::string> out = map_->deferred_option_prefixes();
  if (adj_) {
    const std::vector<std::string> a = adj_->deferred_option_prefixes();
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

PetscReal LinearProx::inner_rtol() const {
  if (!adj_ || !adj_->ksp()) return 0.1 * outer_rtol_;
  PetscReal rtol, atol, dtol;
  PetscInt maxit;
  FOLDOPT_CALL(KSPGetTolerances(adj_->ksp(), &rtol, &atol, &dtol, &maxit));
  return rtol;
}

std::string LinearProx::describe() const {
  std::ostringstream s;
  s << "linear: projection onto {l <= Ax <= u}, " << map_->rows() << " rows per instance of " << data_.layout.n << " (A, l, u "
    << data_.source << "), by a folded ADMM solve";
  return s.str();
}

void LinearProx::view(PetscViewer viewer) const {
  PetscBool ascii = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(viewer), PETSCVIEWERASCII, &ascii));
  if (!ascii) return;
  FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "prox: %s\n", describe().c_str()));
  FOLDOPT_CALL(PetscViewerASCIIPushTab(viewer));
  FOLDOPT_CALL(PetscViewerASCIIPrintf(
      viewer, "inner forward (admm, -%sfwd_admm_*): %" PetscInt_FMT " projections, %" PetscInt_FMT " iterations in all; last: %s, fixed-point residual %.1e\n",
      inner_prefix_.c_str(), projections_, fwd_iterations_, fwd_report_.reason.c_str(), (double)fwd_report_.residual));
  FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "inner map: %s (-%sadmm_*)\n", map_->describe().c_str(), inner_prefix_.c_str()));
  map_->view(viewer);
  FOLDOPT_CALL(PetscViewerASCIIPrintf(
      viewer, "inner adjoint (-%s*): %" PetscInt_FMT " solves (one per Jacobian product), %" PetscInt_FMT
              " iterations in all, rtol %.1e (%s), worst relative residual %.1e\n",
      inner_prefix_.c_str(), solves_, inner_iterations_, (double)inner_rtol(),
      rtol_given_ ? ("-" + inner_prefix_ + "ksp_rtol").c_str() : "0.1 x the outer adjoint's", (double)worst_residual_));
  if (adj_ && solves_ > 0) {
    FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "last inner solve:\n"));
    FOLDOPT_CALL(PetscViewerASCIIPushTab(viewer));
    adj_->view(viewer);
    FOLDOPT_CALL(PetscViewerASCIIPopTab(viewer));
  }
  FOLDOPT_CALL(PetscViewerASCIIPopTab(viewer));
}

void LinearProx::sync(const ParamSet& theta) {
  // l and u: θ's blocks where it has them, else the fixed ones (cheap copies: no refactoring).
  Vec l = !data_.l_block.empty() && theta.has(data_.l_block) ? theta.get(data_.l_block) : l_.get();
  Vec u = !data_.u_block.empty() && theta.has(data_.u_block) ? theta.get(data_.u_block) : u_.get();
  copy_checked(l, theta_in_.get("l"), "the lower bound l");
  copy_checked(u, theta_in_.get("u"), "the upper bound u");
  // A's values: copied only when θ's block changed (a copy is a new state: the map refactors).
  if (!data_.A_block.empty() && theta.has(data_.A_block)) {
    Vec a = theta.get(data_.A_block);
    PetscObjectId id;
    PetscObjectState st;
    FOLDOPT_CALL(PetscObjectGetId((PetscObject)a, &id));
    FOLDOPT_CALL(PetscObjectStateGet((PetscObject)a, &st));
    if (id != a_id_ || st != a_state_) {
      copy_checked(a, theta_in_.get("A.values"), ("the block " + data_.A_block).c_str());
      a_id_ = id;
      a_state_ = st;
    }
  }
}

void LinearProx::apply(Vec z, PetscReal, const ParamSet& theta, Vec y) {
  prox_detail::check_size(z, data_.layout, "linear prox", "z");
  ensure();
  sync(theta);
  Vec q = theta_in_.get("q");
  copy_checked(z, q, "z");
  FOLDOPT_CALL(VecScale(q, -1.0));
  fwd_report_ = fwd_->solve(theta_in_, s_);  // warm start: the previous projection's state
  ++projections_;
  fwd_iterations_ += fwd_report_.iterations;
  map_->readout(s_, theta_in_, xin_);
  copy_checked(xin_, y, "the projection");
}

void LinearProx::linearize(Vec z, PetscReal alpha, const ParamSet& theta) {
  apply(z, alpha, theta, xin_);
  map_->linearize(s_, theta_in_);
  linearized_ = true;
  ++epoch_;
}

const ParamSet& LinearProx::inner_gradient(Vec v) {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "linear prox: a Jacobian product before linearize");
  PetscObjectId id;
  PetscObjectState st;
  FOLDOPT_CALL(PetscObjectGetId((PetscObject)v, &id));
  FOLDOPT_CALL(PetscObjectStateGet((PetscObject)v, &st));
  if (have_grad_ && id == grad_id_ && st == grad_state_ && epoch_ == grad_epoch_) return grad_;
  copy_checked(v, xin_, "v");
  FOLDOPT_CALL(VecZeroEntries(zin_));
  map_->join(xin_, zin_, zin_, r_);  // Rᵀ v = (v, 0, 0)
  adj_->solve(r_, w_);
  adj_->psi_t(w_, grad_);
  const AdjointReport& rep = adj_->report();
  ++solves_;
  inner_iterations_ += rep.iterations;
  if (rep.rhs_norm > 0) worst_residual_ = std::max(worst_residual_, rep.residual / rep.rhs_norm);
  have_grad_ = true;
  grad_id_ = id;
  grad_state_ = st;
  grad_epoch_ = epoch_;
  return grad_;
}

void LinearProx::jacobian_mult(Vec v, Vec y) {
  const ParamSet& g = inner_gradient(v);
  copy_checked(g.get("q"), y, "J v");
  FOLDOPT_CALL(VecScale(y, -1.0));  // J v = Jᵀ v = −(∂x*/∂q)ᵀ v
}

void LinearProx::jacobian_structure(Vec, OwnedMat*, OwnedVec*) {
  detail::throw_error(PETSC_ERR_SUP,
                      "linear prox: its Jacobian is known only through products (each an inner adjoint solve), not as "
                      "diag(d) + U diag(c) U^T");
}

void LinearProx::param_t(Vec v, ParamSet& out) {
  const bool l = !data_.l_block.empty() && out.has(data_.l_block), u = !data_.u_block.empty() && out.has(data_.u_block),
             a = !data_.A_block.empty() && out.has(data_.A_block);
  if (!l && !u && !a) return;
  const ParamSet& g = inner_gradient(v);
  if (l) FOLDOPT_CALL(VecAXPY(out.get(data_.l_block), 1.0, g.get("l")));
  if (u) FOLDOPT_CALL(VecAXPY(out.get(data_.u_block), 1.0, g.get("u")));
  if (a) FOLDOPT_CALL(VecAXPY(out.get(data_.A_block), 1.0, g.get("A.values")));
}

void LinearProx::param(const ParamSet& dtheta, Vec y) {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "linear prox: param before linearize");
  const bool l = !data_.l_block.empty() && dtheta.has(data_.l_block),
             u = !data_.u_block.empty() && dtheta.has(data_.u_block),
             a = !data_.A_block.empty() && dtheta.has(data_.A_block);
  if (!l && !u && !a) return;
  dtheta_in_.set_zero();
  if (l) copy_checked(dtheta.get(data_.l_block), dtheta_in_.get("l"), "dl");
  if (u) copy_checked(dtheta.get(data_.u_block), dtheta_in_.get("u"), "du");
  if (a) copy_checked(dtheta.get(data_.A_block), dtheta_in_.get("A.values"), "dA");
  map_->psi(dtheta_in_, r_);
  // (I − Φ) ds = Ψ dθ_in: the transpose solve of the inner KSP (its operator is I − Φᵀ).
  KSP ksp = adj_->ksp();
  FOLDOPT_CALL(KSPSolveTranspose(ksp, r_, w_));
  adj_->rethrow_pending();
  KSPConvergedReason reason;
  FOLDOPT_CALL(KSPGetConvergedReason(ksp, &reason));
  FOLDOPT_CHECK(reason > 0, PETSC_ERR_NOT_CONVERGED,
                "linear prox: the inner forward-mode solve (I - Phi) ds = Psi dtheta did not converge (%s)",
                KSPConvergedReasons[reason]);
  ++solves_;
  map_->split(w_, xin_, nullptr, nullptr);
  OwnedVec t;
  FOLDOPT_CALL(VecDuplicate(y, t.out()));
  copy_checked(xin_, t, "d prox");
  FOLDOPT_CALL(VecAXPY(y, 1.0, t));
}

namespace {

PetscErrorCode read_linear_files(MPI_Comm comm, const char* prefix, char* A, char* l, char* u, size_t len, PetscBool* has_a) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Linear-constraint projection (prox linear) without a QP problem", "LinearProx");
  PetscCall(PetscOptionsString("-Amat", "Constraint matrix A (m x n, shared by the batch): MatrixMarket or PETSc binary", "LinearProx", A, A, len, has_a));
  PetscCall(PetscOptionsString("-l", "Lower bounds l (m rows, one column per instance or one for all; absent: -inf)", "LinearProx", l, l, len, nullptr));
  PetscCall(PetscOptionsString("-u", "Upper bounds u (as l; absent: +inf)", "LinearProx", u, u, len, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/// B·m bounds from a file of m rows with B columns (or one column for every instance).
OwnedVec read_bounds(MPI_Comm comm, const std::string& path, PetscInt m, PetscInt batch, Vec like) {
  PetscInt b = 0;
  OwnedVec v = io::read_batch(comm, path, m, &b);
  FOLDOPT_CHECK(b == batch || b == 1, PETSC_ERR_ARG_SIZ,
                "linear prox: %s has %" PetscInt_FMT " columns for %" PetscInt_FMT " instances (give one per instance, or one)",
                path.c_str(), b, batch);
  OwnedVec out;
  FOLDOPT_CALL(VecDuplicate(like, out.out()));
  // out[k·m + i] = v[(b == 1 ? 0 : k)·m + i], by a scatter (no rank gathers the bounds).
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(out, &rs, &re));
  std::vector<PetscInt> from(static_cast<std::size_t>(re - rs));
  for (PetscInt J = rs; J < re; ++J) from[J - rs] = b == 1 ? J % m : J;
  OwnedIS isf, ist;
  FOLDOPT_CALL(ISCreateGeneral(comm, re - rs, from.data(), PETSC_COPY_VALUES, isf.out()));
  FOLDOPT_CALL(ISCreateStride(comm, re - rs, rs, 1, ist.out()));
  OwnedVecScatter sc;
  FOLDOPT_CALL(VecScatterCreate(v, isf, out, ist, sc.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, v, out, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, v, out, INSERT_VALUES, SCATTER_FORWARD));
  return out;
}

}  // namespace

std::unique_ptr<Prox> make_linear_prox(const PartContext& ctx) {
  LinearProx::Data d;
  d.layout = prox_detail::layout_of(ctx);
  const auto* src = ctx.problem ? dynamic_cast<const AdmmSource*>(ctx.problem) : nullptr;
  OwnedMat A;
  OwnedVec l, u;
  if (src) {
    const AdmmData a = src->admm_data();
    d.A = a.A;
    const ParamSet& theta = ctx.problem->params();
    if (theta.has(a.l)) d.l = theta.get(a.l);
    if (theta.has(a.u)) d.u = theta.get(a.u);
    d.l_block = a.l;
    d.u_block = a.u;
    d.A_block = a.A_values;
    d.source = "from problem " + ctx.problem->type();
  } else {
    const MPI_Comm comm = prox_detail::comm_of(d.layout);
    const char* pre = ctx.prefix.c_str();
    options::check_string(pre, "Amat");
    options::check_string(pre, "l");
    options::check_string(pre, "u");
    char af[PETSC_MAX_PATH_LEN] = "", lf[PETSC_MAX_PATH_LEN] = "", uf[PETSC_MAX_PATH_LEN] = "";
    PetscBool has_a = PETSC_FALSE;
    FOLDOPT_CALL(read_linear_files(comm, pre, af, lf, uf, sizeof af, &has_a));
    FOLDOPT_CHECK(has_a && af[0], PETSC_ERR_ARG_WRONG,
                  "prox linear: the problem%s%s is not a QP (l <= Ax <= u): give the constraints by -%sAmat FILE "
                  "(and -%sl FILE, -%su FILE)",
                  ctx.problem ? " " : "", ctx.problem ? ctx.problem->type().c_str() : "", pre, pre, pre);
    A = io::read_mat(comm, af);
    PetscInt m, n;
    FOLDOPT_CALL(MatGetSize(A, &m, &n));
    FOLDOPT_CHECK(n == d.layout.n, PETSC_ERR_ARG_SIZ,
                  "prox linear: -%sAmat %s has %" PetscInt_FMT " columns for instances of %" PetscInt_FMT " unknowns", pre,
                  af, n, d.layout.n);
    OwnedVec like;
    FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, m * d.layout.batch, like.out()));
    if (lf[0]) l = read_bounds(comm, lf, m, d.layout.batch, like);
    if (uf[0]) u = read_bounds(comm, uf, m, d.layout.batch, like);
    d.A = A;
    d.l = l;
    d.u = u;
    d.source = std::string("from -") + pre + "Amat";
  }
  return configured(std::unique_ptr<Prox>(new LinearProx(d)), ctx);
}

}  // namespace foldopt
