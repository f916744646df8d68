// foldopt: the `admm` forward solver, OSQP's iteration on the ADMM map's state (x, z, y).
//
// Method: s ← U(s; θ) with the map's own step (maps/admm.hpp), every `check` iterations:
//   * the fixed-point residual ‖U(s) − s‖∞ / (scale · max(1, ‖s‖∞)) (the layer's check, scale
//     the map's fixed_point_scale()); below -fold_fwd_admm_tol (default 1e-10) the solve stops;
//   * OSQP's residuals r_p = ‖Ax − z‖∞, r_d = ‖Px + q + Aᵀy‖∞ and their scales
//     e_p = max(‖Ax‖∞, ‖z‖∞), e_d = max(‖Px‖∞, ‖Aᵀy‖∞, ‖q‖∞);
//   * ρ ← ρ √((r_p/e_p)/(r_d/e_d)) when that changes ρ by more than a factor 5 (the map refactors);
//   * polishing once r_p ≤ 1e-3 max(1, e_p) and r_d ≤ 1e-3 max(1, e_d), whenever the guessed
//     active set changes: rows with z − l < −y at l, u − z < y at u, equalities by the sign of y;
//     the equality-constrained QP [P, A_Sᵀ; A_S, 0][x; y_S] = [−q; b_S] is solved with the
//     regularized matrix [P + δI, A_Sᵀ; A_S, −δI] (δ = 1e-8) and iterative refinement against
//     the exact one; the polished state (x, Π(Ax), Sᵀy_S) is kept if its fixed-point residual is
//     smaller;
//   * OSQP's certificates on δx = x_k − x_{k−1}, δy = y_k − y_{k−1}, per instance, with
//     ε = -fold_fwd_admm_certificate_tol: primal infeasible when ‖Aᵀδy‖∞ ≤ ε‖δy‖∞ and
//     uᵀmax(δy, 0) + lᵀmin(δy, 0) < −ε‖δy‖∞ (no infinite bound meets a nonzero part of δy);
//     unbounded (dual infeasible) when ‖Pδx‖∞ ≤ ε‖δx‖∞, qᵀδx < −ε‖δx‖∞ and (Aδx)_i ≤ ε‖δx‖∞
//     where u_i < ∞, ≥ −ε‖δx‖∞ where l_i > −∞. Either is refused with an error saying so.
//   The map keeps the last ρ (the backward's: the fixed point is the same for every ρ, and a ρ
//   that balances the residuals also conditions I − Φ better than a fixed one); on an error the
//   map's ρ is restored.
// References: B. Stellato et al., OSQP, Math. Prog. Comp. 12 (2020) 637–672 (§3.4 the
//   certificates, §5.2 polishing, §5.3 the ρ rule); G. Banjac et al., J. Optim. Theory Appl. 183
//   (2019) 490–519 (infeasibility detection in ADMM).
#include "forward/admm.hpp"

#include <foldopt/batch.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/maps/admm.hpp>
#include <foldopt/problem.hpp>

#include "core/options.hpp"
#include "core/util.hpp"
#include "core/vec_array.hpp"
#include "maps/admm/linear_system.hpp"
#include "maps/admm/rows.hpp"
#include "objectives/common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace foldopt {

AdmmForward::AdmmForward(const ForwardContext& ctx) : ctx_(ctx) {
  if (dynamic_cast<AdmmMap*>(ctx.map) != nullptr) return;
  // Another map over a QP (f-PGDb: prox_grad with the linear prox) whose state is x: the forward
  // solves the QP with the problem's own ADMM map and returns x.
  const bool qp = ctx.problem != nullptr && dynamic_cast<const AdmmSource*>(ctx.problem) != nullptr;
  const bool state_is_x = qp && ctx.map != nullptr && !ctx.map->has_readout() &&
                          ctx.map->layout().n == ctx.problem->layout().n && ctx.map->layout().batch == ctx.problem->layout().batch;
  FOLDOPT_CHECK(state_is_x, PETSC_ERR_ARG_WRONG,
                "forward solver 'admm' iterates the ADMM map (-fold_map_type admm), or solves a QP (problem qp) for a map "
                "whose state is its unknowns x; the map is '%s'%s",
                ctx.map ? ctx.map->type().c_str() : "none", qp ? "" : " and the problem is not a QP");
  std::string prefix = ctx.prefix;  // fold_fwd_ -> fold_ (the map's options)
  if (prefix.size() >= 4 && prefix.compare(prefix.size() - 4, 4, "fwd_") == 0) prefix.resize(prefix.size() - 4);
  own_map_ = AdmmMap::create(MapContext{ctx.comm, ctx.problem, prefix});
  own_state_ = own_map_->create_vec();
  FOLDOPT_CALL(VecZeroEntries(own_state_));
}

AdmmForward::~AdmmForward() = default;

std::vector<std::string> AdmmForward::deferred_option_prefixes() const {
  return own_map_ ? own_map_->deferred_option_prefixes() : std::vector<std::string>();
}

namespace {
PetscErrorCode read_admm_forward_options(MPI_Comm comm, const char* prefix, PetscReal* tol, PetscInt* max_it, PetscBool* polish,
                                         PetscBool* monitor, PetscBool* adaptive, PetscReal* cert, PetscInt* check) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "ADMM forward solver (OSQP's iteration)", "AdmmForward");
  PetscCall(PetscOptionsReal("-admm_tol", "Stop when the fixed-point residual ||U(s) - s||_inf / (scale max(1, ||s||_inf)) is below this",
                             "AdmmForward", *tol, tol, nullptr));
  PetscCall(PetscOptionsInt("-admm_max_it", "Largest number of ADMM iterations", "AdmmForward", *max_it, max_it, nullptr));
  PetscCall(PetscOptionsBool("-admm_polish", "Polish: solve the equality-constrained QP on the guessed active set", "AdmmForward",
                             *polish, polish, nullptr));
  PetscCall(PetscOptionsBool("-admm_monitor", "Print the residuals at every check", "AdmmForward", *monitor, monitor, nullptr));
  PetscCall(PetscOptionsBool("-admm_adaptive_rho", "OSQP's rule for rho (refactoring when it changes)", "AdmmForward", *adaptive,
                             adaptive, nullptr));
  PetscCall(PetscOptionsReal("-admm_certificate_tol", "Tolerance eps of the infeasibility and unboundedness certificates",
                             "AdmmForward", *cert, cert, nullptr));
  PetscCall(PetscOptionsInt("-admm_check_every", "Iterations between checks of the residuals", "AdmmForward", *check, check, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

PetscReal norm_inf(Vec v) {
  PetscReal r;
  FOLDOPT_CALL(VecNorm(v, NORM_INFINITY, &r));
  return r;
}

OwnedVec dup(Vec v) {
  OwnedVec w;
  FOLDOPT_CALL(VecDuplicate(v, w.out()));
  return w;
}
}  // namespace

void AdmmForward::set_from_options() {
  if (own_map_) own_map_->set_from_options();
  const char* pre = ctx_.prefix.c_str();
  options::check_real(pre, "admm_tol", 0, 1, true, true);
  options::check_int(pre, "admm_max_it", 1, PETSC_MAX_INT);
  options::check_bool(pre, "admm_polish");
  options::check_bool(pre, "admm_monitor");
  options::check_bool(pre, "admm_adaptive_rho");
  options::check_real(pre, "admm_certificate_tol", 0, 1, true, true);
  options::check_int(pre, "admm_check_every", 1, 100000);
  FOLDOPT_CALL(read_admm_forward_options(ctx_.comm, pre, &tol_, &max_it_, &polish_, &monitor_, &adaptive_rho_, &cert_tol_,
                                         &check_every_));
}

void AdmmForward::view(PetscViewer viewer) const {
  PetscViewerASCIIPrintf(viewer,
                         "  admm forward: tol %.1e, rho %g at the end (%" PetscInt_FMT " updates), polish %s (%" PetscInt_FMT
                         " tries, %" PetscInt_FMT " accepted)\n",
                         (double)tol_, (double)last_rho_, rho_updates_, polish_ ? "on" : "off", polish_tries_, polish_accepted_);
}

void AdmmForward::certificates(AdmmMap& map, const ParamSet& theta, Vec s, Vec s_prev) {
  const AdmmData& d = map.data();
  const PetscInt n = d.layout.n, m = map.rows(), B = d.layout.batch;
  Mat P = map.P_op(theta), A = map.A_op(theta);
  OwnedVec x = map.create_x(), xp = map.create_x(), y = map.create_z(), yp = map.create_z();
  map.split(s, x, nullptr, y);
  map.split(s_prev, xp, nullptr, yp);
  FOLDOPT_CALL(VecAXPY(x, -1.0, xp));  // δx
  FOLDOPT_CALL(VecAXPY(y, -1.0, yp));  // δy
  const PetscReal eps = cert_tol_, tiny = 1e-300;
  // primal infeasibility
  const std::vector<PetscReal> ndy = batch::max_abs(y, m);
  OwnedVec aty = map.create_x();
  FOLDOPT_CALL(MatMultTranspose(A, y, aty));
  const std::vector<PetscReal> naty = batch::max_abs(aty, n);
  OwnedVec w = map.create_z(), bad = map.create_z();
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rs, &re));
  {
    ReadArray dy(y), lo(theta.get(d.l)), hi(theta.get(d.u));
    WriteArray ww(w), bb(bad);
    for (PetscInt I = rs; I < re; ++I) {
      const PetscInt i = I - rs;
      const PetscReal t = eps * ndy[I / m], pos = std::max<PetscReal>(dy[i], 0), neg = std::min<PetscReal>(dy[i], 0);
      PetscReal v = 0, b = 0;
      if (std::isfinite(hi[i])) v += hi[i] * pos;
      else if (pos > t) b = 1;
      if (std::isfinite(lo[i])) v += lo[i] * neg;
      else if (neg < -t) b = 1;
      ww[i] = v;
      bb[i] = b;
    }
  }
  const std::vector<PetscReal> support = batch::sums(w, m), nbad = batch::sums(bad, m);
  for (PetscInt b = 0; b < B; ++b)
    FOLDOPT_CHECK(!(ndy[b] > tiny && naty[b] <= eps * ndy[b] && nbad[b] == 0 && support[b] < -eps * ndy[b]), PETSC_ERR_NOT_CONVERGED,
                  "forward solver admm: the QP is primal infeasible (instance %" PetscInt_FMT
                  "): OSQP's certificate dy with ||A'dy||_inf <= %g ||dy||_inf and u'max(dy, 0) + l'min(dy, 0) < 0 shows that no x "
                  "satisfies %s <= %s x <= %s",
                  b, (double)eps, d.l_name.c_str(), d.A_name.c_str(), d.u_name.c_str());
  // dual infeasibility (unbounded below)
  const std::vector<PetscReal> ndx = batch::max_abs(x, n);
  OwnedVec pdx = map.create_x(), adx = map.create_z();
  FOLDOPT_CALL(MatMult(P, x, pdx));
  FOLDOPT_CALL(MatMult(A, x, adx));
  const std::vector<PetscReal> npdx = batch::max_abs(pdx, n), qdx = batch::dots(theta.get(d.q), x, n);
  {
    ReadArray ad(adx), lo(theta.get(d.l)), hi(theta.get(d.u));
    WriteArray bb(bad);
    for (PetscInt I = rs; I < re; ++I) {
      const PetscInt i = I - rs;
      const PetscReal t = eps * ndx[I / m];
      bb[i] = ((std::isfinite(hi[i]) && ad[i] > t) || (std::isfinite(lo[i]) && ad[i] < -t)) ? 1 : 0;
    }
  }
  const std::vector<PetscReal> nviol = batch::sums(bad, m);
  for (PetscInt b = 0; b < B; ++b)
    FOLDOPT_CHECK(!(ndx[b] > tiny && npdx[b] <= eps * ndx[b] && qdx[b] < -eps * ndx[b] && nviol[b] == 0), PETSC_ERR_NOT_CONVERGED,
                  "forward solver admm: the QP is unbounded below (dual infeasible, instance %" PetscInt_FMT
                  "): OSQP's certificate dx with ||P dx||_inf <= %g ||dx||_inf, q'dx < 0 and A dx in the recession cone of the "
                  "bounds (inputs %s, %s, %s)",
                  b, (double)eps, d.P_name.c_str(), d.q_name.c_str(), d.A_name.c_str());
}

bool AdmmForward::polish(AdmmMap& map, const ParamSet& theta, Vec s, Vec out) {
  const AdmmData& d = map.data();
  MPI_Comm comm = ctx_.comm;
  Mat P = map.P_op(theta), A = map.A_op(theta);
  OwnedVec x = map.create_x(), z = map.create_z(), y = map.create_z();
  map.split(s, x, z, y);
  Vec l = theta.get(d.l), u = theta.get(d.u);
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(z, &rs, &re));
  std::vector<admm_detail::Pick> picks;
  std::vector<PetscInt> guess;
  OwnedVec bound = map.create_z();
  {
    ReadArray zz(z), yy(y), lo(l), hi(u);
    WriteArray bb(bound);
    for (PetscInt I = rs; I < re; ++I) {
      const PetscInt i = I - rs;
      int side = 0;  // 1 at l, 2 at u
      if (lo[i] == hi[i]) side = yy[i] > 0 ? 2 : 1;
      else if (std::isfinite(lo[i]) && zz[i] - lo[i] < -yy[i]) side = 1;
      else if (std::isfinite(hi[i]) && hi[i] - zz[i] < yy[i]) side = 2;
      bb[i] = side == 1 ? lo[i] : (side == 2 ? hi[i] : 0.0);
      if (side) {
        picks.push_back({I, 1, side});
        guess.push_back(side == 1 ? I : -1 - I);
      }
    }
  }
  int same = guess == last_guess_ ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_MIN, comm);
  if (same) return false;
  last_guess_ = guess;
  ++polish_tries_;
  const PetscReal delta = 1e-8;
  const PetscInt k = admm_detail::count(comm, picks);
  PetscInt Bm, mloc;
  FOLDOPT_CALL(VecGetSize(z, &Bm));
  FOLDOPT_CALL(VecGetLocalSize(z, &mloc));
  OwnedMat S, AS, K0, Kd;
  OwnedVec bS;
  if (k > 0) {
    S = admm_detail::selection(comm, mloc, Bm, picks);
    FOLDOPT_CALL(MatMatMult(S, A, MAT_INITIAL_MATRIX, PETSC_DEFAULT, AS.out()));
    FOLDOPT_CALL(MatCreateVecs(S, nullptr, bS.out()));
    FOLDOPT_CALL(MatMult(S, bound, bS));
    OwnedMat ASt, Pd, Z, mD;
    FOLDOPT_CALL(MatTranspose(AS, MAT_INITIAL_MATRIX, ASt.out()));
    FOLDOPT_CALL(MatDuplicate(P, MAT_COPY_VALUES, Pd.out()));
    FOLDOPT_CALL(MatShift(Pd, delta));
    OwnedVec dz = dup(bS);
    FOLDOPT_CALL(VecSet(dz, 0.0));
    Z = objectives_detail::diagonal_matrix(dz);
    FOLDOPT_CALL(VecSet(dz, -delta));
    mD = objectives_detail::diagonal_matrix(dz);
    OwnedMat N0, Nd;
    Mat b0[4] = {P, ASt.get(), AS.get(), Z.get()}, bd[4] = {Pd.get(), ASt.get(), AS.get(), mD.get()};
    FOLDOPT_CALL(MatCreateNest(comm, 2, nullptr, 2, nullptr, b0, N0.out()));
    FOLDOPT_CALL(MatCreateNest(comm, 2, nullptr, 2, nullptr, bd, Nd.out()));
    FOLDOPT_CALL(MatConvert(N0, MATAIJ, MAT_INITIAL_MATRIX, K0.out()));
    FOLDOPT_CALL(MatConvert(Nd, MATAIJ, MAT_INITIAL_MATRIX, Kd.out()));
  } else {
    FOLDOPT_CALL(MatDuplicate(P, MAT_COPY_VALUES, K0.out()));
    FOLDOPT_CALL(MatDuplicate(P, MAT_COPY_VALUES, Kd.out()));
    FOLDOPT_CALL(MatShift(Kd, delta));
  }
  OwnedVec sol, rhs;
  FOLDOPT_CALL(MatCreateVecs(Kd, sol.out(), rhs.out()));
  PetscInt nxl;
  FOLDOPT_CALL(VecGetLocalSize(x, &nxl));
  {
    ReadArray q(theta.get(d.q));
    WriteArray r(rhs);
    for (PetscInt i = 0; i < nxl; ++i) r[i] = -q[i];
    if (k > 0) {
      ReadArray b(bS);
      PetscInt nb;
      FOLDOPT_CALL(VecGetLocalSize(bS, &nb));
      for (PetscInt i = 0; i < nb; ++i) r[nxl + i] = b[i];
    }
  }
  OwnedKSP ksp;
  int size = 1;
  MPI_Comm_size(comm, &size);
  for (PetscInt workspace = 100;; workspace *= 4) {  // MUMPS short of workspace: a larger margin
    FOLDOPT_CALL(KSPCreate(comm, ksp.out()));
    FOLDOPT_CALL(KSPSetType(ksp, KSPPREONLY));
    PC pc;
    FOLDOPT_CALL(KSPGetPC(ksp, &pc));
    FOLDOPT_CALL(PCSetType(pc, PCLU));
    if (size > 1) FOLDOPT_CALL(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    FOLDOPT_CALL(KSPSetOperators(ksp, Kd, Kd));
    if (admm_detail::factor(ksp, workspace) || workspace >= 6400) break;
  }
  KSPConvergedReason reason;
  OwnedVec res = dup(rhs), corr = dup(rhs);
  FOLDOPT_CALL(KSPSolve(ksp, rhs, sol));
  FOLDOPT_CALL(KSPGetConvergedReason(ksp, &reason));
  if (reason < 0) {
    if (monitor_)
      PetscPrintf(comm, "  admm polish: %" PetscInt_FMT " active rows, the solve failed: %s\n", k, KSPConvergedReasons[reason]);
    return false;  // a singular guess: nothing to accept
  }
  const PetscReal scale = 1 + norm_inf(rhs);
  for (int it = 0; it < 25; ++it) {
    FOLDOPT_CALL(MatMult(K0, sol, res));
    FOLDOPT_CALL(VecAYPX(res, -1.0, rhs));
    if (norm_inf(res) <= 1e-15 * scale) break;
    FOLDOPT_CALL(KSPSolve(ksp, res, corr));
    FOLDOPT_CALL(VecAXPY(sol, 1.0, corr));
  }
  if (monitor_) {
    FOLDOPT_CALL(MatMult(K0, sol, res));
    FOLDOPT_CALL(VecAYPX(res, -1.0, rhs));
    PetscPrintf(comm, "  admm polish: %" PetscInt_FMT " active rows, KKT residual %.3e\n", k, (double)norm_inf(res));
  }
  OwnedVec ys = k > 0 ? dup(bS) : OwnedVec();
  {
    ReadArray ss(sol);
    WriteArray xx(x);
    for (PetscInt i = 0; i < nxl; ++i) xx[i] = ss[i];
    if (k > 0) {
      WriteArray yy(ys);
      PetscInt nb;
      FOLDOPT_CALL(VecGetLocalSize(ys, &nb));
      for (PetscInt i = 0; i < nb; ++i) yy[i] = ss[nxl + i];
    }
  }
  if (k > 0)
    FOLDOPT_CALL(MatMultTranspose(S, ys, y));
  else
    FOLDOPT_CALL(VecZeroEntries(y));
  FOLDOPT_CALL(MatMult(A, x, z));
  FOLDOPT_CALL(VecPointwiseMax(z, z, l));
  FOLDOPT_CALL(VecPointwiseMin(z, z, u));
  map.join(x, z, y, out);
  return true;
}

ForwardReport AdmmForward::solve(const ParamSet& theta, Vec s) {
  if (!own_map_) return solve_state(*dynamic_cast<AdmmMap*>(ctx_.map), theta, s);
  AdmmMap& map = *static_cast<AdmmMap*>(own_map_.get());
  ForwardReport rep = solve_state(map, theta, own_state_);
  map.readout(own_state_, theta, s);
  rep.reason += " (the QP's ADMM state, x returned)";
  return rep;
}

ForwardReport AdmmForward::solve_state(AdmmMap& map, const ParamSet& theta, Vec s) {
  const double t0 = wall_time();
  ForwardReport rep;
  rep.solver = "admm";
  const PetscReal rho0 = map.rho();
  rho_updates_ = polish_tries_ = polish_accepted_ = 0;
  last_guess_.clear();
  const AdmmData& d = map.data();
  Mat P = map.P_op(theta), A = map.A_op(theta);
  OwnedVec prev = dup(s), diff = dup(s), pol = dup(s), x = map.create_x(), z = map.create_z(), y = map.create_z();
  OwnedVec ax = map.create_z(), px = map.create_x(), aty = map.create_x();
  bool adaptive = adaptive_rho_ == PETSC_TRUE, done = false, polished = false;
  PetscReal fp = std::numeric_limits<PetscReal>::infinity();
  PetscInt k = 0;
  try {
    for (k = 1; k <= max_it_ && !done; ++k) {
      FOLDOPT_CALL(VecCopy(s, prev));
      map.apply(prev, theta, s);
      if (k % check_every_ != 0 && k != max_it_) continue;
      FOLDOPT_CALL(VecWAXPY(diff, -1.0, s, prev));  // s_prev − U(s_prev), s_prev kept exactly
      fp = norm_inf(diff) / (map.fixed_point_scale() * std::max<PetscReal>(1, norm_inf(prev)));
      map.split(s, x, z, y);
      FOLDOPT_CALL(MatMult(A, x, ax));
      FOLDOPT_CALL(MatMult(P, x, px));
      FOLDOPT_CALL(MatMultTranspose(A, y, aty));
      const PetscReal e_p = std::max(norm_inf(ax), norm_inf(z));
      const PetscReal e_d = std::max({norm_inf(px), norm_inf(aty), norm_inf(theta.get(d.q))});
      FOLDOPT_CALL(VecAXPY(ax, -1.0, z));
      FOLDOPT_CALL(VecAXPY(px, 1.0, aty));
      FOLDOPT_CALL(VecAXPY(px, 1.0, theta.get(d.q)));
      const PetscReal r_p = norm_inf(ax), r_d = norm_inf(px);
      if (monitor_)
        PetscPrintf(ctx_.comm, "  admm %6" PetscInt_FMT ": fixed-point residual %.3e, r_prim %.3e, r_dual %.3e, rho %g\n", k,
                    (double)fp, (double)r_p, (double)r_d, (double)map.rho());
      if (fp <= tol_) {
        FOLDOPT_CALL(VecCopy(prev, s));
        done = true;
      } else {
        certificates(map, theta, s, prev);
        if (polish_ && r_p <= polish_start_ * std::max<PetscReal>(1, e_p) && r_d <= polish_start_ * std::max<PetscReal>(1, e_d) &&
            polish(map, theta, s, pol)) {
          const PetscReal fpp = fixed_point_residual(map, pol, theta);
          if (monitor_) PetscPrintf(ctx_.comm, "  admm %6" PetscInt_FMT ": polished, fixed-point residual %.3e%s\n", k, (double)fpp, fpp < fp ? " (accepted)" : "");
          if (fpp < fp) {
            FOLDOPT_CALL(VecCopy(pol, s));
            ++polish_accepted_;
            fp = fpp;
            if (fp <= tol_) done = polished = true;
          }
        }
        if (!done && adaptive) {
          const PetscReal num = r_p / std::max<PetscReal>(e_p, 1e-300), den = r_d / std::max<PetscReal>(e_d, 1e-300);
          if (num > 0 && den > 0) {
            const PetscReal rho = std::min<PetscReal>(1e6, std::max<PetscReal>(1e-6, map.rho() * std::sqrt(num / den)));
            if (rho > 5 * map.rho() || rho < map.rho() / 5) {
              map.set_rho(rho);
              ++rho_updates_;
            }
          }
        }
      }
    }
  } catch (...) {
    map.set_rho(rho0);
    throw;
  }
  last_rho_ = map.rho();
  rep.iterations = k - 1;
  rep.residual = fp;
  rep.converged = done;
  rep.reason = done ? (polished ? "CONVERGED_POLISHED" : "CONVERGED_FIXED_POINT") : "DIVERGED_MAX_IT";
  rep.reason += detail::format(" (rho %g -> %g, %" PetscInt_FMT " polish%s tried, %" PetscInt_FMT " accepted)", (double)rho0,
                               (double)last_rho_, polish_tries_, polish_tries_ == 1 ? "" : "es", polish_accepted_);
  rep.seconds = wall_time() - t0;
  if (!done) map.set_rho(rho0);  // an error leaves the map as it was (the header's promise)
  FOLDOPT_CHECK(done, PETSC_ERR_NOT_CONVERGED,
                "forward solver admm: no fixed point within %" PetscInt_FMT " iterations (-%sadmm_max_it): fixed-point residual %.3e > "
                "%.1e (-%sadmm_tol)",
                max_it_, ctx_.prefix.c_str(), (double)fp, (double)tol_, ctx_.prefix.c_str());
  return rep;
}

}  // namespace foldopt
