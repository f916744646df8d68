// foldopt: the SQP map's sparse route (see sparse.hpp).
//
// Method: the step's QP [J_E; J_I; I] d within [l, u] by the ADMM map and the admm forward;
//   K = [B, G_Aᵀ; G_A, 0] on the active set (G_A = S A) for the products.
// Algorithm: MatNest of the constraint blocks converted to AIJ (A) and of K's four blocks
//   (K); one KSP (preonly + LU, MUMPS) factored per linearization; no rank gathers O(n) data.
// References: B. Stellato et al., OSQP, Math. Prog. Comp. 12 (2020) 637–672; PETSc manual,
//   MATNEST, MatConvert, MATSOLVERMUMPS.
#include "maps/sqp/sparse.hpp"

#include <foldopt/error.hpp>
#include <foldopt/maps/admm.hpp>

#include "core/vec_array.hpp"
#include "forward/admm.hpp"
#include "maps/admm/linear_system.hpp"
#include "maps/admm/rows.hpp"
#include "objectives/common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace foldopt {
namespace sqp_detail {

namespace {
bool finite_bound(PetscReal b) { return std::isfinite(b) && std::abs(b) < PETSC_INFINITY; }

OwnedVec dup(Vec v) {
  OwnedVec w;
  FOLDOPT_CALL(VecDuplicate(v, w.out()));
  return w;
}

PetscInt local_size(Vec v) {
  PetscInt n;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  return n;
}

/// Rows of a multiplier |y_k| above this, relative to max(1, ‖y‖∞), are active (the ADMM map's rule).
constexpr PetscReal kActiveTol = 1e-8;
/// δ of the factored [B, G_Aᵀ; G_A, −δI] (quasi-definite where B is definite on G_A's null space).
constexpr PetscReal kRegularization = 1e-8;
}  // namespace

SparseStep::SparseStep(Problem& problem, std::string prefix) : p_(problem), prefix_(std::move(prefix)) {
  me_ = p_.num_equality();
  mi_ = p_.num_inequality();
  if (me_ > 0) mel_ = local_size(p_.create_constraint_vec(me_));
  if (mi_ > 0) mil_ = local_size(p_.create_constraint_vec(mi_));
  nxl_ = p_.layout().local;
  nbl_ = p_.has_bounds() ? nxl_ : 0;
}

void SparseStep::put_rows(Vec e, Vec i, Vec b, Vec rM) const {
  WriteArray r(rM);
  auto put = [&](Vec v, PetscInt off, PetscInt n) {
    if (n == 0) return;
    if (!v) {
      for (PetscInt k = 0; k < n; ++k) r[off + k] = 0;
      return;
    }
    ReadArray a(v);
    for (PetscInt k = 0; k < n; ++k) r[off + k] = a[k];
  };
  put(e, 0, mel_);
  put(i, mel_, mil_);
  put(b, mel_ + mil_, nbl_);
}

void SparseStep::get_rows(Vec rM, Vec e, Vec i, Vec b) const {
  ReadArray r(rM);
  auto get = [&](Vec v, PetscInt off, PetscInt n) {
    if (!v || n == 0) return;
    WriteArray a(v);
    for (PetscInt k = 0; k < n; ++k) a[k] = r[off + k];
  };
  get(e, 0, mel_);
  get(i, mel_, mil_);
  get(b, mel_ + mil_, nbl_);
}

void SparseStep::solve(Vec x, Vec ye, Vec yi, const ParamSet& theta, Mat B, Vec d, Vec lamE, Vec muI, bool linearize) {
  const Layout& L = p_.layout();
  MPI_Comm comm = L.comm;
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  // A = [J_E; J_I; I] and the stationarity residual r = ∇f + J_Eᵀy_E + J_Iᵀy_I (bound rows' start).
  OwnedVec g = p_.create_vec(), r, ce, ci, lb, ub;
  p_.objective_gradient(x, theta, g);
  r = dup(g);
  FOLDOPT_CALL(VecCopy(g, r));
  OwnedMat JE, JI, Id;
  std::vector<Mat> blocks;
  if (me_ > 0) {
    JE = p_.equality_jacobian(x, theta);
    FOLDOPT_CHECK(static_cast<bool>(JE), PETSC_ERR_ARG_WRONG, "update map 'sqp': problem %s gives no equality Jacobian",
                  p_.type().c_str());
    ce = p_.create_constraint_vec(me_);
    p_.equality(x, theta, ce);
    FOLDOPT_CALL(MatMultTransposeAdd(JE, ye, r, r));
    blocks.push_back(JE);
  }
  if (mi_ > 0) {
    JI = p_.inequality_jacobian(x, theta);
    FOLDOPT_CHECK(static_cast<bool>(JI), PETSC_ERR_ARG_WRONG, "update map 'sqp': problem %s gives no inequality Jacobian",
                  p_.type().c_str());
    ci = p_.create_constraint_vec(mi_);
    p_.inequality(x, theta, ci);
    FOLDOPT_CALL(MatMultTransposeAdd(JI, yi, r, r));
    blocks.push_back(JI);
  }
  if (nbl_ > 0) {
    OwnedVec one = p_.create_vec();
    FOLDOPT_CALL(VecSet(one, 1.0));
    Id = objectives_detail::diagonal_matrix(one);
    blocks.push_back(Id);
    lb = p_.create_vec();
    ub = p_.create_vec();
    p_.bounds(theta, lb, ub);
  }
  OwnedMat A;
  {
    OwnedMat N;
    FOLDOPT_CALL(MatCreateNest(comm, static_cast<PetscInt>(blocks.size()), nullptr, 1, nullptr, blocks.data(), N.out()));
    FOLDOPT_CALL(MatConvert(N, MATAIJ, MAT_INITIAL_MATRIX, A.out()));
  }
  OwnedVec l, u, y0;
  FOLDOPT_CALL(MatCreateVecs(A, nullptr, l.out()));
  u = dup(l);
  y0 = dup(l);
  {
    WriteArray lo(l), hi(u), yy(y0);
    if (me_ > 0) {
      ReadArray c(ce), y(ye);
      for (PetscInt k = 0; k < mel_; ++k) {
        lo[k] = hi[k] = -c[k];
        yy[k] = y[k];
      }
    }
    if (mi_ > 0) {
      ReadArray c(ci), y(yi);
      for (PetscInt k = 0; k < mil_; ++k) {
        lo[mel_ + k] = -inf;
        hi[mel_ + k] = -c[k];
        yy[mel_ + k] = y[k];
      }
    }
    if (nbl_ > 0) {
      ReadArray xl(lb), xu(ub), xx(x), rr(r);
      const PetscInt o = mel_ + mil_;
      for (PetscInt k = 0; k < nbl_; ++k) {
        const bool fl = finite_bound(xl[k]), fu = finite_bound(xu[k]);
        lo[o + k] = fl ? xl[k] - xx[k] : -inf;
        hi[o + k] = fu ? xu[k] - xx[k] : inf;
        yy[o + k] = ((rr[k] > 0 && fl) || (rr[k] < 0 && fu)) ? -rr[k] : 0.0;
      }
    }
  }
  AdmmData data;
  data.layout.comm = comm;
  data.layout.n = L.global();
  data.layout.batch = 1;
  data.layout.local = L.local;
  data.P = B;
  data.A = A;
  data.P_name = "the SQP step's Hessian";
  data.A_name = "the SQP step's rows [J_E; J_I; I]";
  data.q_name = "grad f";
  data.l_name = "the step's lower row bounds";
  data.u_name = "the step's upper row bounds";
  AdmmMap map(data);
  map.set_options_prefix(prefix_ + "sqp_");
  map.set_from_options();
  // The map's row vectors follow PETSc's default split of the rows; the same global order as A's.
  OwnedVec lz = map.create_z(), uz = map.create_z(), yz = map.create_z(), z = map.create_z(), y = dup(l);
  OwnedVecScatter rows;
  {
    PetscInt rs, re;
    FOLDOPT_CALL(VecGetOwnershipRange(l, &rs, &re));
    OwnedIS own;
    FOLDOPT_CALL(ISCreateStride(comm, re - rs, rs, 1, own.out()));
    FOLDOPT_CALL(VecScatterCreate(l, own, lz, own, rows.out()));
  }
  for (std::pair<Vec, Vec> pr : {std::make_pair(l.get(), lz.get()), std::make_pair(u.get(), uz.get()),
                                 std::make_pair(y0.get(), yz.get())}) {
    FOLDOPT_CALL(VecScatterBegin(rows, pr.first, pr.second, INSERT_VALUES, SCATTER_FORWARD));
    FOLDOPT_CALL(VecScatterEnd(rows, pr.first, pr.second, INSERT_VALUES, SCATTER_FORWARD));
  }
  ParamSet qp;
  qp.add("q", g, BlockKind::instance);
  qp.add("l", lz, BlockKind::instance);
  qp.add("u", uz, BlockKind::instance);
  OwnedVec s = map.create_vec(), dx = map.create_x();
  FOLDOPT_CALL(VecZeroEntries(dx));
  map.make_state(dx, yz, qp, s);
  {
    AdmmForward fwd(ForwardContext{comm, nullptr, &map, prefix_ + "sqp_"});
    fwd.set_from_options();
    try {
      const ForwardReport rep = fwd.solve(qp, s);
      admm_iterations_ = rep.iterations;
      admm_reason_ = rep.reason;
    } catch (const Error& e) {
      detail::throw_error(e.code(), std::string("update map 'sqp' (-") + prefix_ + "sqp_qp admm): the step's QP: " + e.what());
    }
  }
  map.split(s, dx, z, yz);
  FOLDOPT_CALL(VecScatterBegin(rows, yz, y, INSERT_VALUES, SCATTER_REVERSE));
  FOLDOPT_CALL(VecScatterEnd(rows, yz, y, INSERT_VALUES, SCATTER_REVERSE));
  FOLDOPT_CALL(VecCopy(dx, d));
  get_rows(y, lamE, muI, nullptr);
  if (!linearize) return;

  // The active set, its signed rows S, G_A = S A and K.
  PetscReal ymax = 0;
  FOLDOPT_CALL(VecNorm(y, NORM_INFINITY, &ymax));
  const PetscReal tau = kActiveTol * std::max<PetscReal>(1, ymax);
  El_ = p_.create_vec();
  Eu_ = p_.create_vec();
  std::vector<admm_detail::Pick> picks;
  PetscInt counts[2] = {0, 0};  // active inequality and bound rows, inequality and finite bound sides
  {
    PetscInt rs, re;
    FOLDOPT_CALL(VecGetOwnershipRange(y, &rs, &re));
    ReadArray yy(y), lo(l), hi(u);
    WriteArray el(El_), eu(Eu_);
    for (PetscInt k = 0; k < re - rs; ++k) {
      const PetscInt I = rs + k;
      if (k < mel_) {
        picks.push_back({I, 1, 0});
        continue;
      }
      const bool fl = std::isfinite(lo[k]), fu = std::isfinite(hi[k]);
      counts[1] += fl + fu;
      const bool at_u = fu && yy[k] > tau, at_l = !at_u && fl && yy[k] < -tau;
      if (k >= mel_ + mil_) {
        el[k - mel_ - mil_] = at_l ? 1.0 : 0.0;
        eu[k - mel_ - mil_] = at_u ? 1.0 : 0.0;
      }
      if (at_u || at_l) {
        picks.push_back({I, at_l ? -1.0 : 1.0, 0});
        ++counts[0];
      }
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPIU_INT, MPI_SUM, comm);
  active_rows_ = counts[0];
  inequality_rows_ = counts[1];
  const PetscInt k = admm_detail::count(comm, picks);
  S_.reset();
  GA_.reset();
  zc_.reset();
  OwnedMat K, Kd;  // K and its factored regularization [B, G_Aᵀ; G_A, −δI]
  if (k > 0) {
    PetscInt M, Ml;
    FOLDOPT_CALL(VecGetSize(y, &M));
    Ml = local_size(y);
    S_ = admm_detail::selection(comm, Ml, M, picks);
    FOLDOPT_CALL(MatMatMult(S_, A, MAT_INITIAL_MATRIX, PETSC_DEFAULT, GA_.out()));
    OwnedMat GAt, Z, N;
    FOLDOPT_CALL(MatTranspose(GA_, MAT_INITIAL_MATRIX, GAt.out()));
    FOLDOPT_CALL(MatCreateVecs(S_, nullptr, zc_.out()));
    FOLDOPT_CALL(VecZeroEntries(zc_));
    Z = objectives_detail::diagonal_matrix(zc_);
    Mat b[4] = {B, GAt.get(), GA_.get(), Z.get()};
    FOLDOPT_CALL(MatCreateNest(comm, 2, nullptr, 2, nullptr, b, N.out()));
    FOLDOPT_CALL(MatConvert(N, MATAIJ, MAT_INITIAL_MATRIX, K.out()));
    OwnedMat Zd, Nd;
    FOLDOPT_CALL(VecSet(zc_, -kRegularization));
    Zd = objectives_detail::diagonal_matrix(zc_);
    Mat bd[4] = {B, GAt.get(), GA_.get(), Zd.get()};
    FOLDOPT_CALL(MatCreateNest(comm, 2, nullptr, 2, nullptr, bd, Nd.out()));
    FOLDOPT_CALL(MatConvert(Nd, MATAIJ, MAT_INITIAL_MATRIX, Kd.out()));
  } else {
    FOLDOPT_CALL(MatConvert(B, MATAIJ, MAT_INITIAL_MATRIX, K.out()));
    FOLDOPT_CALL(MatConvert(B, MATAIJ, MAT_INITIAL_MATRIX, Kd.out()));
  }
  FOLDOPT_CALL(MatGetSize(K, &kkt_size_, nullptr));
  // GMRES on K preconditioned by the LU of Kd: iterative refinement to K's own solution. MUMPS
  // short of workspace (K's dense blocks, e.g. portfolio's V at n = 1200): again with 4 times
  // the margin, up to 6400%.
  for (PetscInt workspace = 100;; workspace *= 4) {
    FOLDOPT_CALL(KSPCreate(comm, ksp_.out()));
    FOLDOPT_CALL(KSPSetOptionsPrefix(ksp_, (prefix_ + "sqp_kkt_").c_str()));
    FOLDOPT_CALL(KSPSetType(ksp_, KSPGMRES));
    FOLDOPT_CALL(KSPSetTolerances(ksp_, 1e-13, 1e-300, PETSC_DEFAULT, 50));
    PC pc;
    FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
    FOLDOPT_CALL(PCSetType(pc, PCLU));
    FOLDOPT_CALL(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    FOLDOPT_CALL(KSPSetOperators(ksp_, K, Kd));
    FOLDOPT_CALL(KSPSetFromOptions(ksp_));
    if (admm_detail::factor(ksp_, workspace) || workspace >= 6400) break;
  }
  ++factorizations_;
  K_ = std::move(K);
  A_ = std::move(A);
  FOLDOPT_CALL(MatCreateVecs(K_, sol_.out(), rhs_.out()));
  rowsM_ = dup(y);
  rowsM2_ = dup(y);
  xw_ = p_.create_vec();
  xw2_ = p_.create_vec();
}

void SparseStep::kkt_solve(Vec rx, Vec rM, Vec zx, Vec t) {
  FOLDOPT_CHECK(static_cast<bool>(ksp_), PETSC_ERR_ORDER, "update map 'sqp': a product before linearize");
  if (S_) FOLDOPT_CALL(MatMult(S_, rM, zc_));
  const PetscInt kl = S_ ? local_size(zc_) : 0;
  {
    ReadArray a(rx);
    WriteArray b(rhs_);
    for (PetscInt i = 0; i < nxl_; ++i) b[i] = a[i];
    if (kl > 0) {
      ReadArray c(zc_);
      for (PetscInt j = 0; j < kl; ++j) b[nxl_ + j] = c[j];
    }
  }
  FOLDOPT_CALL(KSPSolve(ksp_, rhs_, sol_));
  KSPConvergedReason reason;
  FOLDOPT_CALL(KSPGetConvergedReason(ksp_, &reason));
  FOLDOPT_CHECK(reason >= 0, PETSC_ERR_NOT_CONVERGED,
                "update map 'sqp': the KKT matrix of the step on its active set (%" PetscInt_FMT
                " rows) could not be solved (%s): dependent active constraint gradients or a reduced Hessian that is not "
                "definite (-%ssqp_kkt_ksp_type, -%ssqp_kkt_pc_type)",
                kkt_size_, KSPConvergedReasons[reason], prefix_.c_str(), prefix_.c_str());
  {
    ReadArray s(sol_);
    WriteArray a(zx);
    for (PetscInt i = 0; i < nxl_; ++i) a[i] = s[i];
    if (kl > 0) {
      WriteArray c(zc_);
      for (PetscInt j = 0; j < kl; ++j) c[j] = s[nxl_ + j];
    }
  }
  if (S_)
    FOLDOPT_CALL(MatMultTranspose(S_, zc_, t));
  else
    FOLDOPT_CALL(VecZeroEntries(t));
}

void SparseStep::phi_t(Vec vx, Vec vE, Vec vI, Vec out_x) {
  put_rows(vE, vI, nullptr, rowsM_);
  kkt_solve(vx, rowsM_, xw_, rowsM2_);
  FOLDOPT_CALL(MatMult(HL_, xw_, out_x));
  FOLDOPT_CALL(MatMultTransposeAdd(A_, rowsM2_, out_x, out_x));
  FOLDOPT_CALL(VecAYPX(out_x, -1.0, vx));  // v_x − H_L z_x − G_Aᵀz_c
}

void SparseStep::phi(Vec dx, Vec out_x, Vec yE, Vec yI) {
  FOLDOPT_CALL(MatMult(HL_, dx, xw2_));
  FOLDOPT_CALL(VecScale(xw2_, -1.0));
  FOLDOPT_CALL(MatMult(A_, dx, rowsM_));
  FOLDOPT_CALL(VecScale(rowsM_, -1.0));
  kkt_solve(xw2_, rowsM_, xw_, rowsM2_);
  FOLDOPT_CALL(VecWAXPY(out_x, 1.0, dx, xw_));
  get_rows(rowsM2_, yE, yI, nullptr);
}

void SparseStep::psi(Vec Lt, Vec cEt, Vec cIt, Vec dlo, Vec dhi, Vec out_x, Vec yE, Vec yI) {
  // S rM must be −[c_E,θ; c_I,θ; dlo (rows at lb, signed −1); −dhi (rows at ub)].
  FOLDOPT_CALL(VecZeroEntries(xw_));
  if (dlo) FOLDOPT_CALL(VecPointwiseMult(xw_, El_, dlo));
  if (dhi) {
    FOLDOPT_CALL(VecPointwiseMult(xw2_, Eu_, dhi));
    FOLDOPT_CALL(VecAXPY(xw_, 1.0, xw2_));
  }
  put_rows(cEt, cIt, nullptr, rowsM_);
  FOLDOPT_CALL(VecScale(rowsM_, -1.0));
  if (nbl_ > 0) {
    ReadArray b(xw_);
    WriteArray r(rowsM_);
    for (PetscInt k = 0; k < nbl_; ++k) r[mel_ + mil_ + k] = b[k];
  }
  FOLDOPT_CALL(VecCopy(Lt, xw2_));
  FOLDOPT_CALL(VecScale(xw2_, -1.0));
  kkt_solve(xw2_, rowsM_, out_x, rowsM2_);
  get_rows(rowsM2_, yE, yI, nullptr);
}

void SparseStep::psi_t(Vec vx, Vec vE, Vec vI, Vec a, Vec bE, Vec bI, Vec glo, Vec ghi) {
  put_rows(vE, vI, nullptr, rowsM_);
  kkt_solve(vx, rowsM_, a, rowsM2_);
  FOLDOPT_CALL(VecZeroEntries(xw_));
  get_rows(rowsM2_, bE, bI, nbl_ > 0 ? xw_.get() : nullptr);
  if (glo) FOLDOPT_CALL(VecPointwiseMult(glo, El_, xw_));
  if (ghi) FOLDOPT_CALL(VecPointwiseMult(ghi, Eu_, xw_));
}

std::string SparseStep::describe() const { return ksp_ ? admm_detail::describe_solver(ksp_) : "not factored yet"; }

}  // namespace sqp_detail
}  // namespace foldopt
