// foldopt: the sparse convex QP (problem `qp`); see include/foldopt/problems/qp.hpp.
//
// Method:    min_x ½xᵀPx + qᵀx on l ≤ Ax ≤ u, folded by the ADMM map (maps/admm.hpp). KKT
//            conditions (OSQP's signs): Px + q + Aᵀy = 0, z = Ax ∈ [l, u], y_i ≥ 0 where z_i = u_i,
//            y_i ≤ 0 where z_i = l_i, y_i = 0 where l_i < z_i < u_i. The objective's functions:
//              ∇f = Px + q,  ∇²f = P,  (∂∇f/∂q)ᵀv = v,  (∂∇f/∂P_ij)ᵀv = v_i x_j (stored nonzeros).
//            Constraints for TAO / IPOPT: c_E = S_E(Ax − l) (rows l = u), c_I = S_U(Ax − u) +
//            S_L(Ax − l) (S_L with entries −1), S the row selections of maps/admm/rows.hpp.
// Algorithm (generated instances, drawn by (seed, stream, global index)):
//   P tridiagonal: P_ii = 2.5 + u, P_{i,i+1} = P_{i+1,i} = −(0.5 + 0.5u) (strictly diagonally
//     dominant, so SPD); A: row i stores column i mod n (value 1 + u) and two drawn columns
//     (values in [−1, 1)); x*_b uniform in [−1, 1); row kinds per instance: weakly active
//     (fraction `weak`: z at a bound, y = 0), else equality 10%, two-sided 40% (a quarter active
//     at l, a quarter at u), lower-only 20%, upper-only 20% (each active 40% of the time), free
//     10%; slack sides at distance [0.5, 1.5); multipliers |y| ∈ [0.1, 1) with OSQP's signs;
//     z* = Ax* summed row by row from the draws, q = −Px* − Aᵀy*.
// References: B. Stellato et al., OSQP: an operator splitting solver for quadratic programs,
//   Math. Prog. Comp. 12 (2020) 637–672 (the form and the signs); J. Nocedal, S. Wright,
//   Numerical Optimization (2nd ed., 2006), ch. 16 (KKT conditions of QPs).
#include <foldopt/problems/qp.hpp>

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problems/composite.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "core/util.hpp"
#include "core/vec_array.hpp"
#include "maps/admm/rows.hpp"
#include "objectives/matrix_parameter.hpp"
#include "problems/common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace foldopt {

using detail::format;

struct QP::Impl {
  Impl(Mat P, Mat A, const Layout& l, const AdmmData& nm)
      : P(P, l, "qp: " + nm.P_name, true, nm.P_values), A(A, l, "qp: " + nm.A_name, false, nm.A_values) {}
  objectives_detail::MatrixParameter P, A;
  OwnedMat SE, SU, SL, JE, JI;  ///< selections and the constraint Jacobians S·A
  OwnedVec work;                ///< B·m
};

namespace {

constexpr std::uint64_t kPd = 11, kPo = 12, kAc = 13, kAv = 14;
constexpr std::uint64_t kX = 1ULL << 40, kKind = 2ULL << 40, kAct = 3ULL << 40, kGap = 4ULL << 40, kMul = 5ULL << 40,
                        kSide = 6ULL << 40, kGap2 = 7ULL << 40;

/// The columns and values of row i of the generated A (m rows, n columns; sorted, distinct):
/// column c = ⌊i·n/m⌋ with value 1 + u, and two drawn columns within c ± 5 with values in [−1, 1)
/// (a band: the KKT matrix factors with little fill, as for QPs from discretized or local models).
void a_row(std::uint64_t seed, PetscInt i, PetscInt m, PetscInt n, std::vector<PetscInt>* cols, std::vector<PetscScalar>* vals) {
  std::vector<std::pair<PetscInt, PetscScalar>> e;
  const PetscInt c0 = static_cast<PetscInt>((static_cast<long long>(i) * n) / m);
  e.emplace_back(c0, 1 + uniform01(seed, kAv, 3 * static_cast<std::uint64_t>(i)));
  for (int k = 0; k < 2; ++k) {
    const PetscInt d = static_cast<PetscInt>(uniform01(seed, kAc, 2 * static_cast<std::uint64_t>(i) + k) * 11) - 5;
    const PetscInt c = std::min<PetscInt>(n - 1, std::max<PetscInt>(0, c0 + d));
    if (std::none_of(e.begin(), e.end(), [c](const std::pair<PetscInt, PetscScalar>& p) { return p.first == c; }))
      e.emplace_back(c, 2 * uniform01(seed, kAv, 3 * static_cast<std::uint64_t>(i) + 1 + k) - 1);
  }
  std::sort(e.begin(), e.end(), [](const std::pair<PetscInt, PetscScalar>& a, const std::pair<PetscInt, PetscScalar>& b) {
    return a.first < b.first;
  });
  cols->clear();
  vals->clear();
  for (const auto& p : e) {
    cols->push_back(p.first);
    vals->push_back(p.second);
  }
}

double planted_x(std::uint64_t seed, PetscInt b, PetscInt j) {
  return 2 * uniform01(seed, kX + static_cast<std::uint64_t>(b), static_cast<std::uint64_t>(j)) - 1;
}

void check_size(Vec v, PetscInt want, const std::string& name, const std::string& against) {
  PetscInt s;
  FOLDOPT_CALL(VecGetSize(v, &s));
  FOLDOPT_CHECK(s == want, PETSC_ERR_ARG_SIZ, "qp: %s has %" PetscInt_FMT " entries, expected %" PetscInt_FMT " (%s)",
                name.c_str(), s, want, against.c_str());
}

void check_split(Vec v, PetscInt local, const std::string& name) {
  PetscInt nl;
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)v, &comm));
  FOLDOPT_CALL(VecGetLocalSize(v, &nl));
  check_collective(comm, nl == local, PETSC_ERR_ARG_SIZ,
                   format("qp: %s keeps %" PetscInt_FMT " entries on this rank, expected %" PetscInt_FMT " (PETSc's split)",
                          name.c_str(), nl, local));
}

/// Every stored entry finite; returns whether one is nonzero (collective).
bool check_matrix(Mat M, const std::string& name) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)M, &comm));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(M, &rs, &re));
  std::string bad;
  int nonzero = 0;
  for (PetscInt i = rs; i < re && bad.empty(); ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    FOLDOPT_CALL(MatGetRow(M, i, &nc, &c, &v));
    for (PetscInt k = 0; k < nc && bad.empty(); ++k) {
      if (const char* cause = detail::not_finite(PetscRealPart(v[k])))
        bad = format("qp: %s: entry (%" PetscInt_FMT ", %" PetscInt_FMT ") is %s", name.c_str(), i, c[k], cause);
      nonzero |= v[k] != 0.0;
    }
    FOLDOPT_CALL(MatRestoreRow(M, i, &nc, &c, &v));
  }
  check_collective(comm, bad.empty(), PETSC_ERR_ARG_OUTOFRANGE, bad);
  int any = 0;
  MPI_Allreduce(&nonzero, &any, 1, MPI_INT, MPI_MAX, comm);
  return any != 0;
}

Layout qp_layout(Mat P, Mat A, PetscInt batch, const AdmmData& nm) {
  FOLDOPT_CHECK(P != nullptr && A != nullptr, PETSC_ERR_ARG_NULL, "qp: needs the matrices %s and %s", nm.P_name.c_str(),
                nm.A_name.c_str());
  PetscInt M, N, Am, An;
  FOLDOPT_CALL(MatGetSize(P, &M, &N));
  FOLDOPT_CALL(MatGetSize(A, &Am, &An));
  FOLDOPT_CHECK(M == N && M > 0, PETSC_ERR_ARG_SIZ, "qp: %s must be square and nonempty: %" PetscInt_FMT " x %" PetscInt_FMT,
                nm.P_name.c_str(), M, N);
  FOLDOPT_CHECK(An == N, PETSC_ERR_ARG_SIZ, "qp: %s has %" PetscInt_FMT " columns but %s has %" PetscInt_FMT " rows",
                nm.A_name.c_str(), An, nm.P_name.c_str(), N);
  FOLDOPT_CHECK(Am > 0, PETSC_ERR_ARG_SIZ, "qp: %s has no rows (a QP without constraints: give at least one row, e.g. a free one)",
                nm.A_name.c_str());
  FOLDOPT_CHECK(batch >= 1 && (long long)Am * batch <= PETSC_MAX_INT && (long long)N * batch <= PETSC_MAX_INT,
                PETSC_ERR_ARG_OUTOFRANGE, "qp: batch %" PetscInt_FMT " out of range", batch);
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)P, &comm));
  return batch_layout(comm, N, batch);
}

}  // namespace

QP::QP(Mat P, Mat A, Vec q, Vec l, Vec u, PetscInt batch, const AdmmData& names)
    : layout_(qp_layout(P, A, batch, names)), names_(names) {
  const AdmmData& nm = names_;
  FOLDOPT_CALL(MatGetSize(A, &m_, nullptr));
  const PetscInt B = layout_.batch, n = layout_.n, Bm = B * m_;
  FOLDOPT_CHECK(check_matrix(P, nm.P_name), PETSC_ERR_ARG_WRONG, "qp: %s has no nonzero entry", nm.P_name.c_str());
  FOLDOPT_CHECK(check_matrix(A, nm.A_name), PETSC_ERR_ARG_WRONG, "qp: %s has no nonzero entry", nm.A_name.c_str());
  {
    PetscReal pn = 0;
    FOLDOPT_CALL(MatNorm(P, NORM_INFINITY, &pn));
    const bool sym = is_symmetric(P, 1e-12 * std::max<PetscReal>(pn, 1));
    FOLDOPT_CHECK(sym, PETSC_ERR_ARG_WRONG, "qp: %s is not symmetric (a QP Hessian must be)", nm.P_name.c_str());
  }
  check_size(q, B * n, nm.q_name, format("B*n = %" PetscInt_FMT " x %" PetscInt_FMT, B, n));
  check_size(l, Bm, nm.l_name, format("B*m = %" PetscInt_FMT " x %" PetscInt_FMT ", the rows of %s", B, m_, nm.A_name.c_str()));
  check_size(u, Bm, nm.u_name, format("B*m = %" PetscInt_FMT " x %" PetscInt_FMT ", the rows of %s", B, m_, nm.A_name.c_str()));
  check_split(q, layout_.local, nm.q_name);
  const PetscInt mloc = objectives_detail::default_local(layout_.comm, Bm);
  check_split(l, mloc, nm.l_name);
  check_split(u, mloc, nm.u_name);
  detail::check_entries(q, "qp: " + nm.q_name, detail::not_finite);
  detail::check_entries(l, "qp: " + nm.l_name, [](PetscReal x) -> const char* {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x) && x > 0) return "+inf (a lower bound may only be -inf)";
    return nullptr;
  });
  detail::check_entries(u, "qp: " + nm.u_name, [](PetscReal x) -> const char* {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x) && x < 0) return "-inf (an upper bound may only be +inf)";
    return nullptr;
  });
  {
    OwnedVec gap;
    FOLDOPT_CALL(VecDuplicate(u, gap.out()));
    FOLDOPT_CALL(VecWAXPY(gap, -1.0, l, u));
    detail::check_entries(gap, "qp: " + nm.l_name + " > " + nm.u_name,
                          [](PetscReal x) -> const char* { return x < 0 ? "negative (l > u)" : nullptr; });
  }
  P_ = OwnedMat::share(P);
  A_ = OwnedMat::share(A);
  FOLDOPT_CALL(MatSetOption(P_, MAT_SYMMETRIC, PETSC_TRUE));
  impl_.reset(new Impl(P_, A_, layout_, nm));
  theta_.add(nm.q, q, BlockKind::instance);
  theta_.add(nm.l, l, BlockKind::instance);
  theta_.add(nm.u, u, BlockKind::instance);
  OwnedVec pv = matrix_values::values(P_), av = matrix_values::values(A_);
  theta_.add(nm.P_values, pv, BlockKind::matrix_values, P_);
  theta_.add(nm.A_values, av, BlockKind::matrix_values, A_);
  FOLDOPT_CALL(VecDuplicate(l, impl_->work.out()));
  build_constraints();
}

QP::~QP() = default;

AdmmData QP::admm_data() const {
  AdmmData d = names_;
  d.layout = layout_;
  d.P = P_;
  d.A = A_;
  return d;
}

void QP::build_constraints() {
  Vec l = theta_.get(names_.l), u = theta_.get(names_.u);
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(l, &rs, &re));
  std::vector<admm_detail::Pick> eq, ineq;
  RowKinds k;
  {
    ReadArray ll(l), uu(u);
    for (PetscInt I = rs; I < re; ++I) {
      const PetscReal lo = ll[I - rs], hi = uu[I - rs];
      if (lo == hi) {
        eq.push_back({I, 1, 0});
        ++k.equality;
        continue;
      }
      const bool fl = std::isfinite(lo), fu = std::isfinite(hi);
      if (fu) ineq.push_back({I, 1, 0});
      if (fl) ineq.push_back({I, -1, 1});
      if (fl && fu) ++k.two_sided;
      else if (fl) ++k.lower;
      else if (fu) ++k.upper;
      else ++k.free;
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, &k, 5, MPIU_INT, MPI_SUM, layout_.comm);
  kinds_ = k;
  const PetscInt Bm = layout_.batch * m_, mloc = re - rs;
  neq_ = admm_detail::count(layout_.comm, eq);
  nineq_ = admm_detail::count(layout_.comm, ineq);
  if (neq_ > 0) impl_->SE = admm_detail::selection(layout_.comm, mloc, Bm, eq);
  if (nineq_ > 0) {
    impl_->SU = admm_detail::selection(layout_.comm, mloc, Bm, ineq, 0);
    impl_->SL = admm_detail::selection(layout_.comm, mloc, Bm, ineq, 1);
  }
  build_jacobians();
}

void QP::build_jacobians() {
  Mat Aop = impl_->A.op();
  if (neq_ > 0) FOLDOPT_CALL(MatMatMult(impl_->SE, Aop, MAT_INITIAL_MATRIX, PETSC_DEFAULT, impl_->JE.out()));
  if (nineq_ > 0) {
    OwnedMat S;
    FOLDOPT_CALL(MatDuplicate(impl_->SU, MAT_COPY_VALUES, S.out()));
    FOLDOPT_CALL(MatAXPY(S, 1.0, impl_->SL, DIFFERENT_NONZERO_PATTERN));
    FOLDOPT_CALL(MatMatMult(S, Aop, MAT_INITIAL_MATRIX, PETSC_DEFAULT, impl_->JI.out()));
  }
}

// A with θ's A.values: every user of A calls this, so that the Jacobians S·A follow a new θ
// whichever of them sees it first.
void QP::sync_A(const ParamSet& theta) {
  if (impl_->A.sync(theta)) build_jacobians();
}

OwnedVec QP::rows_of(Vec a_eq, Vec a_ineq) const {
  OwnedVec r;
  FOLDOPT_CALL(VecDuplicate(impl_->work, r.out()));
  FOLDOPT_CALL(VecZeroEntries(r));
  if (neq_ > 0 && a_eq) FOLDOPT_CALL(MatMultTransposeAdd(impl_->SE, a_eq, r, r));
  if (nineq_ > 0 && a_ineq) {
    FOLDOPT_CALL(MatMultTransposeAdd(impl_->SU, a_ineq, r, r));
    FOLDOPT_CALL(MatMultTransposeAdd(impl_->SL, a_ineq, r, r));
  }
  return r;
}

void QP::row_multipliers(const Multipliers& y, Vec rows) const {
  FOLDOPT_CALL(VecCopy(rows_of(y.eq, y.ineq), rows));
}

void QP::constraint_param_t(Vec x, const ParamSet& theta, Vec u_eq, Vec u_ineq, ParamSet& out) {
  sync_A(theta);
  // c = S(Ax − b) for every kind (S_L's picks are −1: l − Ax ≤ 0), so ∂c/∂b = −S and
  // ∂c/∂A.values is (S·dA) x: out_l −= S_Eᵀu_E + S_Lᵀu_I, out_u −= S_Uᵀu_I, out_A += outer(Sᵀu, x).
  OwnedVec t;
  FOLDOPT_CALL(VecDuplicate(impl_->work, t.out()));
  if (out.has(names_.l)) {
    FOLDOPT_CALL(VecZeroEntries(t));
    if (neq_ > 0 && u_eq) FOLDOPT_CALL(MatMultTransposeAdd(impl_->SE, u_eq, t, t));
    if (nineq_ > 0 && u_ineq) FOLDOPT_CALL(MatMultTransposeAdd(impl_->SL, u_ineq, t, t));
    FOLDOPT_CALL(VecAXPY(out.get(names_.l), -1.0, t));
  }
  if (out.has(names_.u) && nineq_ > 0 && u_ineq) {
    FOLDOPT_CALL(MatMultTranspose(impl_->SU, u_ineq, t));
    FOLDOPT_CALL(VecAXPY(out.get(names_.u), -1.0, t));
  }
  if (impl_->A.in(out)) {
    OwnedVec G = impl_->A.outer(rows_of(u_eq, u_ineq), x);
    FOLDOPT_CALL(VecAXPY(out.get(names_.A_values), 1.0, G));
  }
}

void QP::constraint_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec c_eq, Vec c_ineq) {
  sync_A(theta);
  // t = dA x − db per row, then c = S t with db the side each pick stands for.
  OwnedVec t, tl, tu;
  FOLDOPT_CALL(VecDuplicate(impl_->work, t.out()));
  FOLDOPT_CALL(VecZeroEntries(t));
  if (impl_->A.in(dtheta)) {
    OwnedMat dA = impl_->A.direction(dtheta.get(names_.A_values));
    FOLDOPT_CALL(MatMult(dA, x, t));
  }
  FOLDOPT_CALL(VecDuplicate(t, tl.out()));
  FOLDOPT_CALL(VecDuplicate(t, tu.out()));
  FOLDOPT_CALL(VecCopy(t, tl));
  FOLDOPT_CALL(VecCopy(t, tu));
  if (dtheta.has(names_.l)) FOLDOPT_CALL(VecAXPY(tl, -1.0, dtheta.get(names_.l)));
  if (dtheta.has(names_.u)) FOLDOPT_CALL(VecAXPY(tu, -1.0, dtheta.get(names_.u)));
  if (c_eq) {
    if (neq_ > 0) FOLDOPT_CALL(MatMult(impl_->SE, tl, c_eq)); else FOLDOPT_CALL(VecZeroEntries(c_eq));
  }
  if (c_ineq) {
    if (nineq_ > 0) {
      FOLDOPT_CALL(MatMult(impl_->SU, tu, c_ineq));
      FOLDOPT_CALL(MatMultAdd(impl_->SL, tl, c_ineq, c_ineq));
    } else {
      FOLDOPT_CALL(VecZeroEntries(c_ineq));
    }
  }
}

void QP::lagrangian_gradient_param_t(Vec x, const ParamSet& theta, Vec y_eq, Vec y_ineq, Vec v, ParamSet& out) {
  // ∇ₓL = Px + q + Aᵀr: the objective's part, and vᵀAᵀr = rᵀ A v on A's pattern.
  gradient_param_t(x, theta, v, out);
  sync_A(theta);
  if (impl_->A.in(out)) {
    OwnedVec G = impl_->A.outer(rows_of(y_eq, y_ineq), v);
    FOLDOPT_CALL(VecAXPY(out.get(names_.A_values), 1.0, G));
  }
}

void QP::lagrangian_gradient_param(Vec x, const ParamSet& theta, Vec y_eq, Vec y_ineq, const ParamSet& dtheta, Vec y) {
  gradient_param(x, theta, dtheta, y);
  sync_A(theta);
  if (impl_->A.in(dtheta)) {
    OwnedMat dA = impl_->A.direction(dtheta.get(names_.A_values));
    FOLDOPT_CALL(MatMultTransposeAdd(dA, rows_of(y_eq, y_ineq), y, y));
  }
}

PetscReal QP::objective_gradient(Vec x, const ParamSet& theta, Vec g) {
  impl_->P.sync(theta);
  OwnedVec px;
  FOLDOPT_CALL(VecDuplicate(x, px.out()));
  FOLDOPT_CALL(MatMult(impl_->P.op(), x, px));
  Vec q = theta.get(names_.q);
  PetscScalar xpx, qx;
  FOLDOPT_CALL(VecDot(x, px, &xpx));
  FOLDOPT_CALL(VecDot(q, x, &qx));
  if (g) FOLDOPT_CALL(VecWAXPY(g, 1.0, q, px));
  return 0.5 * PetscRealPart(xpx) + PetscRealPart(qx);
}

void QP::hessian_mult(Vec, const ParamSet& theta, Vec v, Vec y) {
  impl_->P.sync(theta);
  FOLDOPT_CALL(MatMult(impl_->P.op(), v, y));
}

OwnedMat QP::hessian(Vec, const ParamSet& theta) {
  impl_->P.sync(theta);
  return OwnedMat::share(impl_->P.op());
}

void QP::gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) {
  impl_->P.sync(theta);
  out.set_zero();
  if (out.has(names_.q)) FOLDOPT_CALL(VecCopy(v, out.get(names_.q)));
  if (impl_->P.in(out)) {
    OwnedVec G = impl_->P.outer(v, x);
    FOLDOPT_CALL(VecCopy(G, out.get(names_.P_values)));
  }
}

void QP::gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) {
  impl_->P.sync(theta);
  FOLDOPT_CALL(VecZeroEntries(y));
  if (dtheta.has(names_.q)) FOLDOPT_CALL(VecAXPY(y, 1.0, dtheta.get(names_.q)));
  if (impl_->P.in(dtheta)) {
    OwnedMat dP = impl_->P.direction(dtheta.get(names_.P_values));
    FOLDOPT_CALL(MatMultAdd(dP, x, y, y));
  }
}

void QP::constraint_values(Mat S, Vec b, Vec x, const ParamSet& theta, Vec c) {
  sync_A(theta);
  FOLDOPT_CALL(MatMult(impl_->A.op(), x, impl_->work));
  FOLDOPT_CALL(VecAXPY(impl_->work, -1.0, b));
  FOLDOPT_CALL(MatMult(S, impl_->work, c));
}

void QP::equality(Vec x, const ParamSet& theta, Vec c) {
  if (neq_ == 0) return;
  constraint_values(impl_->SE, theta.get(names_.l), x, theta, c);
}

void QP::inequality(Vec x, const ParamSet& theta, Vec c) {
  if (nineq_ == 0) return;
  // c = S_U(Ax − u) + S_L(Ax − l): each row of c has one entry in S_U or S_L, whose column is a
  // finite side (an infinite one is never picked, so its value never enters a product).
  OwnedVec cl;
  FOLDOPT_CALL(VecDuplicate(c, cl.out()));
  constraint_values(impl_->SU, theta.get(names_.u), x, theta, c);
  constraint_values(impl_->SL, theta.get(names_.l), x, theta, cl);
  FOLDOPT_CALL(VecAXPY(c, 1.0, cl));
}

OwnedMat QP::equality_jacobian(Vec, const ParamSet& theta) {
  FOLDOPT_CHECK(neq_ > 0, PETSC_ERR_ARG_WRONG, "qp: no equality rows");
  sync_A(theta);
  return OwnedMat::share(impl_->JE);
}

OwnedMat QP::inequality_jacobian(Vec, const ParamSet& theta) {
  FOLDOPT_CHECK(nineq_ > 0, PETSC_ERR_ARG_WRONG, "qp: no inequality rows");
  sync_A(theta);
  return OwnedMat::share(impl_->JI);
}

std::unique_ptr<QP> QP::generate(MPI_Comm comm, const QPGenerator& gen) {
  FOLDOPT_CHECK(gen.n >= 1, PETSC_ERR_ARG_OUTOFRANGE, "qp: -n %" PetscInt_FMT " must be positive", gen.n);
  FOLDOPT_CHECK(gen.m >= 0, PETSC_ERR_ARG_OUTOFRANGE, "qp: -m %" PetscInt_FMT " must be positive (0: n)", gen.m);
  FOLDOPT_CHECK(gen.batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "qp: -batch %" PetscInt_FMT " must be positive", gen.batch);
  FOLDOPT_CHECK(gen.weak >= 0 && gen.weak <= 1, PETSC_ERR_ARG_OUTOFRANGE, "qp: -qp_weak %g must be in [0, 1]", (double)gen.weak);
  const PetscInt n = gen.n, m = gen.m ? gen.m : gen.n, B = gen.batch;
  FOLDOPT_CHECK((long long)n * B <= PETSC_MAX_INT && (long long)m * B <= PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "qp: -n %" PetscInt_FMT " -m %" PetscInt_FMT " -batch %" PetscInt_FMT ": the sizes exceed the largest index", n, m, B);
  const std::uint64_t seed = gen.seed;
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  auto u01 = [&](std::uint64_t stream, PetscInt i) { return uniform01(seed, stream, static_cast<std::uint64_t>(i)); };
  auto p_off = [&](PetscInt i) { return -(0.5 + 0.5 * u01(kPo, i)); };  // P_{i,i+1}
  OwnedMat P, A;
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, PETSC_DECIDE, n, n, 3, nullptr, 2, nullptr, P.out()));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(P, &rs, &re));
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt c[3], k = 0;
    PetscScalar v[3];
    if (i > 0) c[k] = i - 1, v[k++] = p_off(i - 1);
    c[k] = i, v[k++] = 2.5 + u01(kPd, i);
    if (i + 1 < n) c[k] = i + 1, v[k++] = p_off(i);
    FOLDOPT_CALL(MatSetValues(P, 1, &i, k, c, v, INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, PETSC_DECIDE, m, n, 3, nullptr, 3, nullptr, A.out()));
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  std::vector<PetscInt> cols;
  std::vector<PetscScalar> vals;
  for (PetscInt i = rs; i < re; ++i) {
    a_row(seed, i, m, n, &cols, &vals);
    FOLDOPT_CALL(MatSetValues(A, 1, &i, static_cast<PetscInt>(cols.size()), cols.data(), vals.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));

  const Layout lx = batch_layout(comm, n, B);
  OwnedVec x = detail::generated_vec(lx, [&](PetscInt I) { return planted_x(seed, I / n, I % n); });
  OwnedVec px = detail::generated_vec(lx, [&](PetscInt I) {
    const PetscInt b = I / n, i = I % n;
    double s = (2.5 + u01(kPd, i)) * planted_x(seed, b, i);
    if (i > 0) s += p_off(i - 1) * planted_x(seed, b, i - 1);
    if (i + 1 < n) s += p_off(i) * planted_x(seed, b, i + 1);
    return s;
  });
  Layout lm = lx;
  lm.n = m;
  lm.local = objectives_detail::default_local(comm, m * B);
  // Row I = b·m + i: its kind, bounds and multiplier from the draws of (b, i).
  struct Row {
    PetscReal l, u, y;
  };
  auto row = [&](PetscInt I) {
    const PetscInt b = I / m, i = I % m;
    a_row(seed, i, m, n, &cols, &vals);
    double z = 0;
    for (std::size_t k = 0; k < cols.size(); ++k) z += PetscRealPart(vals[k]) * planted_x(seed, b, cols[k]);
    const std::uint64_t sb = static_cast<std::uint64_t>(b);
    const double r = u01(kKind + sb, i), a = u01(kAct + sb, i), g1 = 0.5 + u01(kGap + sb, i), g2 = 0.5 + u01(kGap2 + sb, i);
    const double mu = 0.1 + 0.9 * u01(kMul + sb, i);
    const bool side = u01(kSide + sb, i) < 0.5;
    if (r < gen.weak) return side ? Row{z, z + g1, 0} : Row{z - g1, z, 0};
    const double t = gen.weak < 1 ? (r - gen.weak) / (1 - gen.weak) : 0;  // uniform in [0, 1)
    if (t < 0.1) return Row{z, z, side ? mu : -mu};
    if (t < 0.5) {
      if (a < 0.25) return Row{z, z + g1, -mu};
      if (a < 0.5) return Row{z - g1, z, mu};
      return Row{z - g1, z + g2, 0};
    }
    if (t < 0.7) return a < 0.4 ? Row{z, inf, -mu} : Row{z - g1, inf, 0};
    if (t < 0.9) return a < 0.4 ? Row{-inf, z, mu} : Row{-inf, z + g1, 0};
    return Row{-inf, inf, 0};
  };
  OwnedVec l = detail::generated_vec(lm, [&](PetscInt I) { return row(I).l; });
  OwnedVec u = detail::generated_vec(lm, [&](PetscInt I) { return row(I).u; });
  OwnedVec y = detail::generated_vec(lm, [&](PetscInt I) { return row(I).y; });
  objectives_detail::MatrixParameter Ab(A, lx, "qp: A", false, "");
  OwnedVec q;
  FOLDOPT_CALL(VecDuplicate(x, q.out()));
  FOLDOPT_CALL(MatMultTranspose(Ab.op(), y, q));
  FOLDOPT_CALL(VecAXPY(q, 1.0, px));
  FOLDOPT_CALL(VecScale(q, -1.0));  // q = −Px* − Aᵀy*
  std::unique_ptr<QP> p(new QP(P, A, q, l, u, B));
  p->known_ = std::move(x);
  p->known_y_ = std::move(y);
  p->generated_ = true;
  p->weak_ = gen.weak;
  return p;
}

std::unique_ptr<QP> QP::load(MPI_Comm comm, const std::string& pmat, const std::string& qfile, const std::string& amat,
                             const std::string& lfile, const std::string& ufile) {
  FOLDOPT_CHECK(!qfile.empty(), PETSC_ERR_ARG_WRONG, "qp: -Pmat %s needs -q FILE", pmat.c_str());
  FOLDOPT_CHECK(!amat.empty(), PETSC_ERR_ARG_WRONG, "qp: -Pmat %s needs -Amat FILE (the constraint rows)", pmat.c_str());
  OwnedMat P = io::read_mat(comm, pmat), A = io::read_mat(comm, amat);
  PetscInt n, m;
  FOLDOPT_CALL(MatGetSize(P, &n, nullptr));
  FOLDOPT_CALL(MatGetSize(A, &m, nullptr));
  auto with_rows = [](const Error& e, const std::string& what) {
    if (e.code() != PETSC_ERR_ARG_SIZ) throw e;
    throw Error(e.code(), std::string(e.what()) + " (the rows of " + what + ")", e.collective());
  };
  PetscInt B = 1;
  OwnedVec q;
  try {
    q = io::read_batch(comm, qfile, n, &B);
  } catch (const Error& e) {
    with_rows(e, pmat);
  }
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  auto bound = [&](const std::string& f, PetscReal fill) {
    OwnedVec v;
    if (f.empty()) {
      FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, m * B, v.out()));
      FOLDOPT_CALL(VecSet(v, fill));
      return v;
    }
    PetscInt Bf = 1;
    try {
      v = io::read_batch(comm, f, m, &Bf);
    } catch (const Error& e) {
      with_rows(e, amat);
    }
    FOLDOPT_CHECK(Bf == B, PETSC_ERR_ARG_SIZ, "qp: %s holds %" PetscInt_FMT " instances but %s holds %" PetscInt_FMT, f.c_str(), Bf,
                  qfile.c_str(), B);
    return v;
  };
  OwnedVec l = bound(lfile, -inf), u = bound(ufile, inf);
  AdmmData nm;
  nm.P_name = pmat;
  nm.A_name = amat;
  nm.q_name = qfile;
  nm.l_name = lfile.empty() ? "l" : lfile;
  nm.u_name = ufile.empty() ? "u" : ufile;
  return std::unique_ptr<QP>(new QP(P, A, q, l, u, B, nm));
}

namespace {
void check_qp_options() {
  for (const char* f : {"Pmat", "q", "Amat", "l", "u"}) options::check_string(nullptr, f);
  options::check_int(nullptr, "n", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "m", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  options::check_real(nullptr, "qp_weak", 0, 1);
}

PetscErrorCode read_qp_options(MPI_Comm comm, QPGenerator* g, char* pmat, char* q, char* amat, char* l, char* u, size_t len,
                               PetscBool* gen_set) {
  PetscBool set[5] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscInt seed = static_cast<PetscInt>(g->seed);
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "qp problem: min 1/2 x'Px + q'x, l <= Ax <= u", "QP");
  PetscCall(PetscOptionsString("-Pmat", "Matrix P, n x n symmetric PSD (file); without it an instance is generated", "QP::load", pmat,
                               pmat, len, nullptr));
  PetscCall(PetscOptionsString("-q", "Vector q (n entries, or an n x B array for a batch; file)", "QP::load", q, q, len, nullptr));
  PetscCall(PetscOptionsString("-Amat", "Constraint matrix A, m x n (file)", "QP::load", amat, amat, len, nullptr));
  PetscCall(PetscOptionsString("-l", "Lower bounds of Ax (m entries or m x B; -inf allowed; default -inf)", "QP::load", l, l, len,
                               nullptr));
  PetscCall(PetscOptionsString("-u", "Upper bounds of Ax (m entries or m x B; +inf allowed; default +inf)", "QP::load", u, u, len,
                               nullptr));
  PetscCall(PetscOptionsInt("-n", "Generated instance: unknowns", "QP::generate", g->n, &g->n, &set[0]));
  PetscCall(PetscOptionsInt("-m", "Generated instance: constraint rows (default n)", "QP::generate", g->m, &g->m, &set[1]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "QP::generate", seed, &seed, &set[2]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of instances B (one P and A)", "QP::generate", g->batch, &g->batch,
                            &set[3]));
  PetscCall(PetscOptionsReal("-qp_weak", "Generated instance: fraction of weakly active rows (z at a bound, y = 0)", "QP::generate",
                             g->weak, &g->weak, &set[4]));
  PetscOptionsEnd();
  g->seed = static_cast<unsigned long>(seed);
  *gen_set = (set[0] || set[1] || set[2] || set[3] || set[4]) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<QP> QP::from_options(MPI_Comm comm) {
  QPGenerator g;
  char pmat[PETSC_MAX_PATH_LEN] = "", q[PETSC_MAX_PATH_LEN] = "", amat[PETSC_MAX_PATH_LEN] = "", l[PETSC_MAX_PATH_LEN] = "",
       u[PETSC_MAX_PATH_LEN] = "";
  PetscBool gen_set = PETSC_FALSE;
  check_qp_options();
  FOLDOPT_CALL(read_qp_options(comm, &g, pmat, q, amat, l, u, PETSC_MAX_PATH_LEN, &gen_set));
  if (pmat[0]) {
    FOLDOPT_CHECK(!gen_set, PETSC_ERR_ARG_INCOMP,
                  "qp: -Pmat reads an instance; -n, -m, -seed, -batch and -qp_weak generate one: give one or the other");
    return load(comm, pmat, q, amat, l, u);
  }
  FOLDOPT_CHECK(!q[0] && !amat[0] && !l[0] && !u[0], PETSC_ERR_ARG_WRONG, "qp: -q, -Amat, -l and -u need -Pmat FILE");
  return generate(comm, g);
}

void QP::view(PetscViewer v) const {
  MatInfo ip, ia;
  FOLDOPT_CALL(MatGetInfo(P_, MAT_GLOBAL_SUM, &ip));
  FOLDOPT_CALL(MatGetInfo(A_, MAT_GLOBAL_SUM, &ia));
  FOLDOPT_CALL(PetscViewerASCIIPrintf(v,
                                      "  P: %s %" PetscInt_FMT " x %" PetscInt_FMT ", %.0f nonzeros; A: %s %" PetscInt_FMT
                                      " x %" PetscInt_FMT ", %.0f nonzeros%s\n",
                                      io::storage_name(P_).c_str(), layout_.n, layout_.n, ip.nz_used,
                                      io::storage_name(A_).c_str(), m_, layout_.n, ia.nz_used,
                                      layout_.batch > 1 ? "; shared by the instances" : ""));
  FOLDOPT_CALL(PetscViewerASCIIPrintf(v,
                                      "  rows: %" PetscInt_FMT " equality, %" PetscInt_FMT " two-sided, %" PetscInt_FMT
                                      " lower only, %" PetscInt_FMT " upper only, %" PetscInt_FMT " free\n",
                                      kinds_.equality, kinds_.two_sided, kinds_.lower, kinds_.upper, kinds_.free));
  if (generated_)
    FOLDOPT_CALL(PetscViewerASCIIPrintf(v, "  generated (by global index): planted x* and y* (KKT), %.0f%% weakly active rows\n",
                                        100.0 * weak_));
}

}  // namespace foldopt
