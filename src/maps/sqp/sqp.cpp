// foldopt: the SQP update map (see include/foldopt/maps/sqp.hpp).
//
// Method: U(x, y; θ) = (x + d, y_E⁺, y_I⁺), where (d, y⁺) solve the QP of the SQP step
//     min_d ½ dᵀBd + gᵀd  s.t.  c_E + J_E d = 0,  h_k + G_k d ≤ 0 (k: rows of c_I, finite bounds)
//   with g = ∇f(x), B = ∇²ₓL(x, y) (or β I), the inequality rows c_I + J_I d, lb − x − d and
//   x + d − ub. On its active set A (equalities and active rows), with G_A = [J_E; G_A rows] and
//     K = [B  G_Aᵀ; G_A  0],   K [d; μ_A] = −[g; c_A],
//   the new multipliers are μ_A (0 off A); bound multipliers stay inside the step.
// Derivatives at the fixed point (d = 0; terms that multiply d, i.e. third derivatives and ∂J·d,
//   vanish there): with H_L = ∇²ₓL(x, y⁺) and P the map from μ_A to the state's multipliers,
//     Φ (δx, δy) = (δx + δd, P δμ),      K [δd; δμ] = −[H_L δx; G_A δx]      (δy does not enter)
//     Ψ δθ       = (δd, P δμ),           K [δd; δμ] = −[∂θ∇ₓL δθ; ∂θc_A δθ]
//     Φᵀ v = (v_x − H_L a − G_Aᵀ b, 0),  Ψᵀ v = −(∂θ∇ₓL)ᵀ a − (∂θc_A)ᵀ b,  K [a; b] = [v_x; Pᵀ v_y]
//   (K is symmetric). With B = H_L, K [δx; 0] = [H_L δx; G_A δx], so Φ = 0: the backward is the
//   implicit derivative of the KKT conditions. ∂θc_A: Problem::constraint_param(_t) for c_E, c_I;
//   ±1 for a bound row whose bound is a parameter block (lower_bound_block, upper_bound_block).
// Algorithm (the QP): primal-dual active set (the semismooth Newton method on the complementarity
//   min(μ, −(h + Gd)) = 0): A = {k : μ_k + h_k + G_k d > 0}, solve the equality-constrained KKT
//   system on A, repeat until A repeats; then (d, μ) satisfies the QP's KKT conditions (μ_A > 0,
//   inactive rows feasible). Started from d = 0 and the state's multipliers (bound multipliers
//   from the stationarity residual ∇f + J_Eᵀy_E + J_Iᵀy_I), it stops after one solve at a fixed
//   point. A weakly active row (μ = 0 and h = 0) counts as inactive. The KKT system is solved by
//   Eigen's partial-pivoting LU; a singular K (dependent active gradients, a singular reduced
//   Hessian) is refused. Dense data on every rank: see the header. That is the dense route; the
//   admm route (-fold_sqp_qp admm, or auto above -fold_sqp_max_size) solves the same QP by the
//   ADMM map and applies the same formulas with a sparse factored K (maps/sqp/sparse.hpp).
//   The state is split into (x, y_E, y_I) by three VecScatters: instance after instance
//   (x_b, y_E,b, y_I,b) when m_E and m_I are multiples of the batch B, else one instance.
// References: J. Nocedal, S. J. Wright, Numerical Optimization (2nd ed., 2006), §18.1–18.3 (SQP
//   and its local convergence), §16.5 (active sets); M. Hintermüller, K. Ito, K. Kunisch, "The
//   primal-dual active set strategy as a semismooth Newton method", SIAM J. Optim. 13 (2003);
//   Kotary, Dinh, Fioretto (2023), folded SQP.
#include <foldopt/maps/sqp.hpp>

#include <foldopt/error.hpp>
#include <foldopt/forward.hpp>

#include "core/options.hpp"
#include "core/util.hpp"
#include "maps/sqp/dense.hpp"
#include "maps/sqp/sparse.hpp"
#include "objectives/common.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace foldopt {

namespace {
enum class RowKind { inequality, lower, upper };
struct Row {
  RowKind kind;
  PetscInt index;  ///< the inequality's row, or the variable's index
};

/// The data of one QP of the step, dense on every rank.
struct Qp {
  Eigen::VectorXd g, cE, h;  ///< gradient, equality values, inequality-row values h_k
  Eigen::MatrixXd B, JE, G;  ///< QP Hessian, equality Jacobian, inequality rows
  std::vector<Row> rows;
};

/// The QP's solution on its active set, and the factored KKT matrix there.
struct QpSolution {
  Eigen::VectorXd d, lamE, mu;  ///< step, equality multipliers, one multiplier per inequality row
  std::vector<Eigen::Index> active;
  Eigen::MatrixXd GA;  ///< [J_E; active rows]
  Eigen::PartialPivLU<Eigen::MatrixXd> lu;
  PetscInt iterations = 0;
};

/// Polishing stops when a step moves the state by at most this (relative to max(1, ‖s‖∞)).
constexpr PetscReal kPolishTol = 1e-13;

bool finite_bound(PetscReal b) { return std::isfinite(b) && std::abs(b) < PETSC_INFINITY; }

PetscErrorCode read_sqp_options(MPI_Comm comm, const char* prefix, char* hessian, size_t len, PetscReal* scale,
                                PetscInt* max_size, PetscInt* max_it, PetscInt* polish, char* route, size_t rlen) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "SQP map", "SqpMap");
  PetscCall(PetscOptionsString("-sqp_hessian", "Hessian of the SQP step's QP: exact (the Lagrangian's) or identity (beta I)",
                               "SqpMap::set_hessian", hessian, hessian, len, nullptr));
  PetscCall(PetscOptionsReal("-sqp_hessian_scale", "beta of -sqp_hessian identity", "SqpMap::set_hessian", *scale, scale, nullptr));
  PetscCall(PetscOptionsString("-sqp_qp",
                               "The step's QP: dense (Eigen KKT on every rank), admm (sparse, distributed: the ADMM map, "
                               "derivatives by a sparse KKT solve on the active set) or auto (dense up to -sqp_max_size); "
                               "the admm route's options: -sqp_admm_* (the ADMM map's and forward's), -sqp_kkt_*",
                               "SqpMap", route, route, rlen, nullptr));
  PetscCall(PetscOptionsInt("-sqp_max_size", "Largest number of unknowns plus constraints of the dense KKT route",
                            "SqpMap", *max_size, max_size, nullptr));
  PetscCall(PetscOptionsInt("-sqp_qp_max_it", "Active-set iterations allowed for the step's QP", "SqpMap", *max_it, max_it,
                            nullptr));
  PetscCall(PetscOptionsInt("-sqp_polish", "SQP steps applied to the forward solver's x* and multipliers (0: none)",
                            "SqpMap::state_from_primal_dual", *polish, polish, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

struct SqpMap::Impl {
  Problem& p;
  PetscInt nx = 0, me = 0, mi = 0;           // global sizes
  PetscInt nxl = 0, mel = 0, mil = 0;        // local sizes
  Hessian hessian = Hessian::exact;
  PetscReal scale = 1;
  PetscInt max_size = 1000, qp_max_it = 100, polish_max = 3;
  enum class Route { dense, admm, automatic } route = Route::automatic;
  std::unique_ptr<sqp_detail::SparseStep> sparse;  // the admm route's QP and KKT solves
  OwnedVec d, lE, mI;                                // its step and multipliers
  OwnedVecScatter sx, se, si;                        // state ↔ x, y_E, y_I (instance after instance)
  OwnedVec zE, zI;                                   // zeros, for join without multipliers
  PetscInt polish_steps = 0;   // of the last state_from_primal_dual
  PetscReal polish_start = -1; // the forward's fixed-point residual before polishing
  OwnedVec x, ye, yi, g, ce, ci, lb, ub;     // work vectors in the problem's and constraints' layouts
  // The linearization.
  bool linearized = false;
  ParamSet theta;
  OwnedVec xs, lamE, muI;                    // x* and the step's multipliers, distributed
  QpSolution sol;
  Qp qp;
  Eigen::MatrixXd HL;

  explicit Impl(Problem& problem) : p(problem) {}

  /// The route of the step's QP: the admm route when chosen, or (auto) above the dense limit.
  bool sparse_route() const {
    return route == Route::admm || (route == Route::automatic && nx + me + mi > max_size);
  }
  /// The sparse route's QP Hessian B at x and the state's multipliers (in ye, yi).
  OwnedMat qp_hessian(const ParamSet& th) {
    if (hessian == Hessian::identity) {
      OwnedVec b = p.create_vec();
      FOLDOPT_CALL(VecSet(b, scale));
      return objectives_detail::diagonal_matrix(b);
    }
    OwnedMat H = p.lagrangian_hessian(x, th, me > 0 ? ye.get() : nullptr, mi > 0 ? yi.get() : nullptr);
    FOLDOPT_CHECK(static_cast<bool>(H), PETSC_ERR_SUP,
                  "update map 'sqp': problem %s gives no assembled Lagrangian Hessian (-fold_sqp_hessian exact); "
                  "use -fold_sqp_hessian identity",
                  p.type().c_str());
    return H;
  }
  /// The sparse route's step at the state in (x, ye, yi): x += d, (ye, yi) the new multipliers.
  void sparse_step(const ParamSet& th, const std::string& prefix, bool linearize) {
    if (!sparse) {
      sparse.reset(new sqp_detail::SparseStep(p, prefix));
      d = p.create_vec();
      if (me > 0) lE = p.create_constraint_vec(me);
      if (mi > 0) mI = p.create_constraint_vec(mi);
    }
    OwnedMat B = qp_hessian(th);
    sparse->solve(x, me > 0 ? ye.get() : nullptr, mi > 0 ? yi.get() : nullptr, th, B, d, lE, mI, linearize);
    if (!linearize) FOLDOPT_CALL(VecAXPY(x, 1.0, d));
    if (me > 0) FOLDOPT_CALL(VecCopy(lE, ye));
    if (mi > 0) FOLDOPT_CALL(VecCopy(mI, yi));
  }

  void check_size() const {
    const PetscInt total = nx + me + mi;
    FOLDOPT_CHECK(total <= max_size, PETSC_ERR_SUP,
                  "update map 'sqp': %" PetscInt_FMT " unknowns and %" PetscInt_FMT " constraints exceed the dense KKT "
                  "route's limit of %" PetscInt_FMT " (-fold_sqp_max_size; every rank holds the dense KKT matrix): use "
                  "-fold_sqp_qp admm or auto (the sparse route through the ADMM map)",
                  nx, me + mi, max_size);
  }

  /// The QP of the step at x with the state's multipliers (ye, yi).
  Qp build(const ParamSet& th, QpSolution& sol) {
    check_size();
    Qp q;
    p.objective_gradient(x, th, g);
    q.g = dense::all_of(g);
    Eigen::VectorXd xd = dense::all_of(x), yE, yI;
    q.JE = Eigen::MatrixXd::Zero(me, nx);
    Eigen::MatrixXd JI = Eigen::MatrixXd::Zero(mi, nx);
    Eigen::VectorXd cI;
    if (me > 0) {
      p.equality(x, th, ce);
      q.cE = dense::all_of(ce);
      OwnedMat J = p.equality_jacobian(x, th);
      FOLDOPT_CHECK(static_cast<bool>(J), PETSC_ERR_ARG_WRONG, "update map 'sqp': problem %s gives no equality Jacobian",
                    p.type().c_str());
      q.JE = dense::all_of(J.get());
      yE = dense::all_of(ye);
    } else {
      q.cE = Eigen::VectorXd();
    }
    if (mi > 0) {
      p.inequality(x, th, ci);
      cI = dense::all_of(ci);
      OwnedMat J = p.inequality_jacobian(x, th);
      FOLDOPT_CHECK(static_cast<bool>(J), PETSC_ERR_ARG_WRONG, "update map 'sqp': problem %s gives no inequality Jacobian",
                    p.type().c_str());
      JI = dense::all_of(J.get());
      yI = dense::all_of(yi);
    }
    Eigen::VectorXd lo, hi;
    if (p.has_bounds()) {
      p.bounds(th, lb, ub);
      lo = dense::all_of(lb);
      hi = dense::all_of(ub);
    }
    for (PetscInt k = 0; k < mi; ++k) q.rows.push_back({RowKind::inequality, k});
    for (PetscInt i = 0; i < lo.size(); ++i) {
      if (finite_bound(lo[i])) q.rows.push_back({RowKind::lower, i});
      if (finite_bound(hi[i])) q.rows.push_back({RowKind::upper, i});
    }
    const Eigen::Index nr = static_cast<Eigen::Index>(q.rows.size());
    q.G = Eigen::MatrixXd::Zero(nr, nx);
    q.h = Eigen::VectorXd::Zero(nr);
    for (Eigen::Index k = 0; k < nr; ++k) {
      const Row& r = q.rows[k];
      if (r.kind == RowKind::inequality) {
        q.G.row(k) = JI.row(r.index);
        q.h[k] = cI[r.index];
      } else if (r.kind == RowKind::lower) {
        q.G(k, r.index) = -1;
        q.h[k] = lo[r.index] - xd[r.index];
      } else {
        q.G(k, r.index) = 1;
        q.h[k] = xd[r.index] - hi[r.index];
      }
    }
    if (hessian == Hessian::exact) {
      OwnedMat H = p.lagrangian_hessian(x, th, me > 0 ? ye.get() : nullptr, mi > 0 ? yi.get() : nullptr);
      FOLDOPT_CHECK(static_cast<bool>(H), PETSC_ERR_SUP,
                    "update map 'sqp': problem %s gives no assembled Lagrangian Hessian (-fold_sqp_hessian exact); "
                    "use -fold_sqp_hessian identity",
                    p.type().c_str());
      q.B = dense::all_of(H.get());
    } else {
      q.B = scale * Eigen::MatrixXd::Identity(nx, nx);
    }
    // Starting multipliers of the rows: the state's for c_I, the stationarity residual's for bounds.
    Eigen::VectorXd r = q.g;
    if (me > 0) r += q.JE.transpose() * yE;
    if (mi > 0) r += JI.transpose() * yI;
    sol.mu = Eigen::VectorXd::Zero(nr);
    for (Eigen::Index k = 0; k < nr; ++k) {
      const Row& rw = q.rows[k];
      if (rw.kind == RowKind::inequality) sol.mu[k] = yI[rw.index];
      else if (rw.kind == RowKind::lower) sol.mu[k] = std::max(0.0, r[rw.index]);
      else sol.mu[k] = std::max(0.0, -r[rw.index]);
    }
    return q;
  }

  /// The KKT matrix of the QP on the active set `act`.
  void factor(const Qp& q, const std::vector<Eigen::Index>& act, const Eigen::MatrixXd& H, QpSolution& sol) {
    const Eigen::Index na = static_cast<Eigen::Index>(act.size()), mA = me + na, N = nx + mA;
    sol.GA.resize(mA, nx);
    if (me > 0) sol.GA.topRows(me) = q.JE;
    for (Eigen::Index k = 0; k < na; ++k) sol.GA.row(me + k) = q.G.row(act[k]);
    Eigen::MatrixXd K = Eigen::MatrixXd::Zero(N, N);
    K.topLeftCorner(nx, nx) = H;
    K.block(0, nx, nx, mA) = sol.GA.transpose();
    K.block(nx, 0, mA, nx) = sol.GA;
    sol.lu.compute(K);
    const double rc = sol.lu.rcond();
    check_collective(p.layout().comm, std::isfinite(rc) && rc > 1e3 * std::numeric_limits<double>::epsilon(),
                     PETSC_ERR_MAT_LU_ZRPVT,
                     detail::format("update map 'sqp': the KKT matrix of the step is singular on its active set (%ld "
                                    "equalities and active rows; reciprocal condition %.2e): dependent active constraint "
                                    "gradients or a reduced Hessian that is not definite",
                                    (long)mA, rc));
  }

  /// Solve the QP by the primal-dual active-set iteration from d = 0 and sol.mu.
  void solve(const Qp& q, QpSolution& sol) {
    const Eigen::Index nr = static_cast<Eigen::Index>(q.rows.size());
    sol.d = Eigen::VectorXd::Zero(nx);
    sol.lamE = Eigen::VectorXd::Zero(me);
    std::vector<Eigen::Index> prev;
    bool solved = false;
    for (PetscInt it = 0; it <= qp_max_it; ++it) {
      std::vector<Eigen::Index> act;
      const Eigen::VectorXd slack = q.h + q.G * sol.d;
      for (Eigen::Index k = 0; k < nr; ++k)
        if (sol.mu[k] + slack[k] > 0) act.push_back(k);
      if (solved && act == prev) {
        sol.active = act;
        sol.iterations = it;
        return;
      }
      factor(q, act, q.B, sol);
      const Eigen::Index na = static_cast<Eigen::Index>(act.size());
      Eigen::VectorXd rhs(nx + me + na);
      rhs.head(nx) = -q.g;
      if (me > 0) rhs.segment(nx, me) = -q.cE;
      for (Eigen::Index k = 0; k < na; ++k) rhs[nx + me + k] = -q.h[act[k]];
      const Eigen::VectorXd z = sol.lu.solve(rhs);
      sol.d = z.head(nx);
      sol.lamE = z.segment(nx, me);
      sol.mu.setZero();
      for (Eigen::Index k = 0; k < na; ++k) sol.mu[act[k]] = z[nx + me + k];
      prev = act;
      solved = true;
    }
    detail::throw_error(PETSC_ERR_NOT_CONVERGED,
                        detail::format("update map 'sqp': the active set of the step's QP did not settle in %" PetscInt_FMT
                                       " iterations (-fold_sqp_qp_max_it)",
                                       qp_max_it));
  }

  /// The step's multipliers of c_E and c_I as full dense vectors.
  Eigen::VectorXd inequality_multipliers(const Qp& q, const Eigen::VectorXd& mu) const {
    Eigen::VectorXd out = Eigen::VectorXd::Zero(mi);
    for (std::size_t k = 0; k < q.rows.size(); ++k)
      if (q.rows[k].kind == RowKind::inequality) out[q.rows[k].index] = mu[static_cast<Eigen::Index>(k)];
    return out;
  }

  /// [v_x; Pᵀ v_y] in the order of the KKT system on the active set.
  Eigen::VectorXd lift(const Eigen::VectorXd& vx, const Eigen::VectorXd& vE, const Eigen::VectorXd& vI) const {
    const Eigen::Index na = static_cast<Eigen::Index>(sol.active.size());
    Eigen::VectorXd w = Eigen::VectorXd::Zero(nx + me + na);
    w.head(nx) = vx;
    if (me > 0) w.segment(nx, me) = vE;
    for (Eigen::Index k = 0; k < na; ++k) {
      const Row& r = qp.rows[sol.active[k]];
      if (r.kind == RowKind::inequality) w[nx + me + k] = vI[r.index];
    }
    return w;
  }
  /// The state's multiplier parts (y_E, y_I) of a KKT solution z on the active set.
  void project(const Eigen::VectorXd& z, Eigen::VectorXd* yE, Eigen::VectorXd* yI) const {
    *yE = z.segment(nx, me);
    *yI = Eigen::VectorXd::Zero(mi);
    for (std::size_t k = 0; k < sol.active.size(); ++k) {
      const Row& r = qp.rows[sol.active[k]];
      if (r.kind == RowKind::inequality) (*yI)[r.index] = z[nx + me + static_cast<Eigen::Index>(k)];
    }
  }
};

SqpMap::SqpMap(Problem& problem) : problem_(problem), impl_(new Impl(problem)) {
  Impl& m = *impl_;
  const Layout& l = problem.layout();
  m.nx = l.global();
  m.me = problem.num_equality();
  m.mi = problem.num_inequality();
  FOLDOPT_CHECK(m.me + m.mi > 0 || problem.has_bounds(), PETSC_ERR_ARG_INCOMP,
                "update map 'sqp': problem %s has no constraints (a prox-gradient map suits it)", problem.type().c_str());
  m.x = problem.create_vec();
  m.g = problem.create_vec();
  m.lb = problem.create_vec();
  m.ub = problem.create_vec();
  m.nxl = l.local;
  if (m.me > 0) {
    m.ye = problem.create_constraint_vec(m.me);
    m.ce = problem.create_constraint_vec(m.me);
    FOLDOPT_CALL(VecGetLocalSize(m.ye, &m.mel));
  }
  if (m.mi > 0) {
    m.yi = problem.create_constraint_vec(m.mi);
    m.ci = problem.create_constraint_vec(m.mi);
    FOLDOPT_CALL(VecGetLocalSize(m.yi, &m.mil));
  }
  // A batch folds per instance when its constraint rows split evenly over the instances (taken
  // as instance after instance, as the built-in problems order them); otherwise one instance.
  const PetscInt B = l.batch;
  const PetscInt Bs = (B > 1 && m.me % B == 0 && m.mi % B == 0) ? B : 1;
  state_layout_.comm = l.comm;
  state_layout_.n = (m.nx + m.me + m.mi) / Bs;
  state_layout_.batch = Bs;
  state_layout_.local = m.nxl + m.mel + m.mil;
  const PetscInt n = m.nx / Bs, eb = m.me / Bs, ib = m.mi / Bs;
  OwnedVec s = create_vec();
  m.sx = part_scatter(s, m.x, n, state_layout_.n, 0);
  if (m.me > 0) {
    m.se = part_scatter(s, m.ye, eb, state_layout_.n, n);
    m.zE = problem.create_constraint_vec(m.me);
    FOLDOPT_CALL(VecZeroEntries(m.zE));
  }
  if (m.mi > 0) {
    m.si = part_scatter(s, m.yi, ib, state_layout_.n, n + eb);
    m.zI = problem.create_constraint_vec(m.mi);
    FOLDOPT_CALL(VecZeroEntries(m.zI));
  }
}

SqpMap::~SqpMap() = default;

void SqpMap::set_hessian(Hessian h, PetscReal scale) {
  FOLDOPT_CHECK(std::isfinite(scale) && scale > 0, PETSC_ERR_ARG_OUTOFRANGE, "update map 'sqp': Hessian scale %g must be positive",
                (double)scale);
  impl_->hessian = h;
  impl_->scale = scale;
  impl_->linearized = false;
}

void SqpMap::set_from_options() {
  UpdateMap::set_from_options();
  const char* pre = prefix_.c_str();
  options::check_choice(pre, "sqp_hessian", {"exact", "identity"});
  options::check_real(pre, "sqp_hessian_scale", 0, 1e300, true);
  options::check_int(pre, "sqp_max_size", 1, PETSC_MAX_INT);
  options::check_int(pre, "sqp_qp_max_it", 1, 1000000);
  options::check_int(pre, "sqp_polish", 0, 100);
  options::check_choice(pre, "sqp_qp", {"dense", "admm", "auto"});
  char h[64], route[16];
  std::snprintf(route, sizeof route, "%s",
                impl_->route == Impl::Route::dense ? "dense" : (impl_->route == Impl::Route::admm ? "admm" : "auto"));
  std::snprintf(h, sizeof h, "%s", impl_->hessian == Hessian::exact ? "exact" : "identity");
  PetscReal scale = impl_->scale;
  FOLDOPT_CALL(read_sqp_options(layout().comm, pre, h, sizeof h, &scale, &impl_->max_size, &impl_->qp_max_it,
                                &impl_->polish_max, route, sizeof route));
  const std::string r(route);
  impl_->route = r == "dense" ? Impl::Route::dense : (r == "admm" ? Impl::Route::admm : Impl::Route::automatic);
  set_hessian(std::string(h) == "identity" ? Hessian::identity : Hessian::exact, scale);
}

std::string SqpMap::describe() const {
  return std::string(impl_->sparse_route() ? "sqp (step QP by admm, sparse KKT on the active set, Hessian "
                                            : "sqp (dense KKT on the active set, Hessian ") +
         (impl_->hessian == Hessian::exact ? "exact" : detail::format("%g I", (double)impl_->scale)) + ")";
}

void SqpMap::view(PetscViewer viewer) const {
  const Impl& m = *impl_;
  PetscViewerASCIIPrintf(viewer,
                         "  state: %" PetscInt_FMT " unknowns, %" PetscInt_FMT " equality and %" PetscInt_FMT
                         " inequality multipliers (readout x), %" PetscInt_FMT " instance%s of %" PetscInt_FMT
                         "; dense route up to %" PetscInt_FMT " (-%ssqp_max_size)\n",
                         m.nx, m.me, m.mi, state_layout_.batch, state_layout_.batch == 1 ? "" : "s", state_layout_.n,
                         m.max_size, prefix_.c_str());
  if (m.polish_start >= 0)
    PetscViewerASCIIPrintf(viewer, "  polish: %" PetscInt_FMT " SQP step%s from the forward's point (its fixed-point residual %.3e; -%ssqp_polish %" PetscInt_FMT ")\n",
                           m.polish_steps, m.polish_steps == 1 ? "" : "s", (double)m.polish_start, prefix_.c_str(), m.polish_max);
  if (m.linearized && m.sparse_route())
    PetscViewerASCIIPrintf(viewer,
                           "  step QP by the ADMM map (-%ssqp_qp %s; options -%ssqp_admm_*): %" PetscInt_FMT
                           " of %" PetscInt_FMT " inequality rows active, %" PetscInt_FMT " ADMM iterations (%s)\n"
                           "  KKT matrix on the active set: %" PetscInt_FMT " rows, %s (-%ssqp_kkt_), %" PetscInt_FMT
                           " factorization%s\n",
                           prefix_.c_str(), m.route == Impl::Route::admm ? "admm" : "auto", prefix_.c_str(),
                           m.sparse->active_inequalities(), m.sparse->inequality_rows(), m.sparse->admm_iterations(),
                           m.sparse->admm_reason().c_str(), m.sparse->kkt_size(), m.sparse->describe().c_str(),
                           prefix_.c_str(), m.sparse->factorizations(), m.sparse->factorizations() == 1 ? "" : "s");
  else if (m.linearized)
    PetscViewerASCIIPrintf(viewer, "  step QP at the linearization: %" PetscInt_FMT " of %ld inequality rows active, %" PetscInt_FMT
                           " active-set iterations\n",
                           active_inequalities(), (long)m.qp.rows.size(), m.sol.iterations);
}

PetscInt SqpMap::active_inequalities() const {
  return impl_->sparse_route() && impl_->sparse ? impl_->sparse->active_inequalities()
                                                : static_cast<PetscInt>(impl_->sol.active.size());
}
PetscInt SqpMap::qp_iterations() const {
  return impl_->sparse_route() && impl_->sparse ? impl_->sparse->admm_iterations() : impl_->sol.iterations;
}
bool SqpMap::sparse_route() const { return impl_->sparse_route(); }

void SqpMap::split(Vec s, Vec x, Vec y_eq, Vec y_ineq) const {
  const Impl& m = *impl_;
  auto get = [&](VecScatter sc, Vec v) {
    if (!v || !sc) return;
    FOLDOPT_CALL(VecScatterBegin(sc, s, v, INSERT_VALUES, SCATTER_FORWARD));
    FOLDOPT_CALL(VecScatterEnd(sc, s, v, INSERT_VALUES, SCATTER_FORWARD));
  };
  get(m.sx, x);
  get(m.se, y_eq);
  get(m.si, y_ineq);
}

void SqpMap::join(Vec x, Vec y_eq, Vec y_ineq, Vec s) const {
  const Impl& m = *impl_;
  auto put = [&](VecScatter sc, Vec v) {
    if (!sc) return;
    FOLDOPT_CALL(VecScatterBegin(sc, v, s, INSERT_VALUES, SCATTER_REVERSE));
    FOLDOPT_CALL(VecScatterEnd(sc, v, s, INSERT_VALUES, SCATTER_REVERSE));
  };
  put(m.sx, x);
  put(m.se, y_eq ? y_eq : m.zE.get());
  put(m.si, y_ineq ? y_ineq : m.zI.get());
}

void SqpMap::apply(Vec s, const ParamSet& theta, Vec y) {
  Impl& m = *impl_;
  split(s, m.x, m.ye, m.yi);
  if (m.sparse_route()) {
    m.sparse_step(theta, prefix_, false);
    join(m.x, m.ye, m.yi, y);
    return;
  }
  QpSolution sol;  // the linearization's stays as it is
  Qp q = m.build(theta, sol);
  m.solve(q, sol);
  const Eigen::VectorXd xd = dense::all_of(m.x.get()) + sol.d;
  dense::set_local(m.x, xd);
  if (m.me > 0) dense::set_local(m.ye, sol.lamE);
  if (m.mi > 0) dense::set_local(m.yi, m.inequality_multipliers(q, sol.mu));
  join(m.x, m.ye, m.yi, y);
}

void SqpMap::linearize(Vec s, const ParamSet& theta) {
  Impl& m = *impl_;
  split(s, m.x, m.ye, m.yi);
  m.theta = theta.share();
  if (!m.xs) {
    m.xs = problem_.create_vec();
    if (m.me > 0) m.lamE = problem_.create_constraint_vec(m.me);
    if (m.mi > 0) m.muI = problem_.create_constraint_vec(m.mi);
  }
  FOLDOPT_CALL(VecCopy(m.x, m.xs));
  if (m.sparse_route()) {
    m.sparse_step(m.theta, prefix_, true);
    if (m.me > 0) FOLDOPT_CALL(VecCopy(m.ye, m.lamE));
    if (m.mi > 0) FOLDOPT_CALL(VecCopy(m.yi, m.muI));
  } else {
    m.qp = m.build(m.theta, m.sol);
    m.solve(m.qp, m.sol);
    if (m.me > 0) dense::set_local(m.lamE, m.sol.lamE);
    if (m.mi > 0) dense::set_local(m.muI, m.inequality_multipliers(m.qp, m.sol.mu));
  }
  // H_L at the step's multipliers; the KKT matrix with it (the products' K has B, see the header).
  {
    OwnedMat H = problem_.lagrangian_hessian(m.xs, m.theta, m.lamE, m.muI);
    FOLDOPT_CHECK(static_cast<bool>(H), PETSC_ERR_SUP,
                  "update map 'sqp': its derivatives need the assembled Lagrangian Hessian, which problem %s does not give",
                  problem_.type().c_str());
    if (m.sparse_route())
      m.sparse->set_lagrangian_hessian(std::move(H));
    else
      m.HL = dense::all_of(H.get());
  }
  m.linearized = true;
}

void SqpMap::phi_t(Vec v, Vec y) {
  Impl& m = *impl_;
  FOLDOPT_CHECK(m.linearized, PETSC_ERR_ORDER, "update map 'sqp': phi_t before linearize");
  OwnedVec vx = problem_.create_vec(), vE, vI;
  if (m.me > 0) vE = problem_.create_constraint_vec(m.me);
  if (m.mi > 0) vI = problem_.create_constraint_vec(m.mi);
  split(v, vx, vE, vI);
  if (m.sparse_route()) {
    m.sparse->phi_t(vx, vE, vI, m.g);
    join(m.g, nullptr, nullptr, y);
    return;
  }
  const Eigen::VectorXd dx = dense::all_of(vx.get());
  const Eigen::VectorXd w = m.lift(dx, dense::all_of(vE.get()), dense::all_of(vI.get()));
  const Eigen::VectorXd z = m.sol.lu.solve(w);
  const Eigen::VectorXd out = dx - m.HL * z.head(m.nx) - m.sol.GA.transpose() * z.tail(z.size() - m.nx);
  dense::set_local(vx, out);
  join(vx, nullptr, nullptr, y);
}

void SqpMap::phi(Vec u, Vec y) {
  Impl& m = *impl_;
  FOLDOPT_CHECK(m.linearized, PETSC_ERR_ORDER, "update map 'sqp': phi before linearize");
  OwnedVec ux = problem_.create_vec();
  split(u, ux, nullptr, nullptr);
  if (m.sparse_route()) {
    m.sparse->phi(ux, m.g, m.ye, m.yi);
    join(m.g, m.ye, m.yi, y);
    return;
  }
  const Eigen::VectorXd dx = dense::all_of(ux.get());
  const Eigen::Index mA = m.sol.GA.rows();
  Eigen::VectorXd rhs(m.nx + mA);
  rhs.head(m.nx) = -(m.HL * dx);
  rhs.tail(mA) = -(m.sol.GA * dx);
  const Eigen::VectorXd z = m.sol.lu.solve(rhs);
  Eigen::VectorXd yE, yI;
  m.project(z, &yE, &yI);
  dense::set_local(ux, dx + z.head(m.nx));
  if (m.me > 0) dense::set_local(m.ye, yE);
  if (m.mi > 0) dense::set_local(m.yi, yI);
  join(ux, m.ye, m.yi, y);
}

void SqpMap::psi(const ParamSet& dtheta, Vec y) {
  Impl& m = *impl_;
  FOLDOPT_CHECK(m.linearized, PETSC_ERR_ORDER, "update map 'sqp': psi before linearize");
  problem_.lagrangian_gradient_param(m.xs, m.theta, m.lamE, m.muI, dtheta, m.g);
  problem_.constraint_param(m.xs, m.theta, dtheta, m.ce, m.ci);
  if (m.sparse_route()) {
    const std::string lbn = problem_.lower_bound_block(), ubn = problem_.upper_bound_block();
    Vec dlo = (!lbn.empty() && dtheta.has(lbn)) ? dtheta.get(lbn) : nullptr;
    Vec dhi = (!ubn.empty() && dtheta.has(ubn)) ? dtheta.get(ubn) : nullptr;
    m.sparse->psi(m.g, m.ce, m.ci, dlo, dhi, m.x, m.ye, m.yi);
    join(m.x, m.ye, m.yi, y);
    return;
  }
  const Eigen::VectorXd Lt = dense::all_of(m.g.get()), cEt = dense::all_of(m.ce.get()), cIt = dense::all_of(m.ci.get());
  Eigen::VectorXd dlo, dhi;
  const std::string lbn = problem_.lower_bound_block(), ubn = problem_.upper_bound_block();
  if (!lbn.empty() && dtheta.has(lbn)) dlo = dense::all_of(dtheta.get(lbn));
  if (!ubn.empty() && dtheta.has(ubn)) dhi = dense::all_of(dtheta.get(ubn));
  const Eigen::Index na = static_cast<Eigen::Index>(m.sol.active.size());
  Eigen::VectorXd rhs(m.nx + m.me + na);
  rhs.head(m.nx) = -Lt;
  if (m.me > 0) rhs.segment(m.nx, m.me) = -cEt;
  for (Eigen::Index k = 0; k < na; ++k) {
    const Row& r = m.qp.rows[m.sol.active[k]];
    double ht = 0;
    if (r.kind == RowKind::inequality) ht = cIt[r.index];
    else if (r.kind == RowKind::lower && dlo.size()) ht = dlo[r.index];
    else if (r.kind == RowKind::upper && dhi.size()) ht = -dhi[r.index];
    rhs[m.nx + m.me + k] = -ht;
  }
  const Eigen::VectorXd z = m.sol.lu.solve(rhs);
  Eigen::VectorXd yE, yI;
  m.project(z, &yE, &yI);
  dense::set_local(m.x, z.head(m.nx));
  if (m.me > 0) dense::set_local(m.ye, yE);
  if (m.mi > 0) dense::set_local(m.yi, yI);
  join(m.x, m.ye, m.yi, y);
}

void SqpMap::psi_t(Vec v, ParamSet& out) {
  Impl& m = *impl_;
  FOLDOPT_CHECK(m.linearized, PETSC_ERR_ORDER, "update map 'sqp': psi_t before linearize");
  OwnedVec vx = problem_.create_vec(), vE, vI;
  if (m.me > 0) vE = problem_.create_constraint_vec(m.me);
  if (m.mi > 0) vI = problem_.create_constraint_vec(m.mi);
  split(v, vx, vE, vI);
  Eigen::VectorXd z;
  OwnedVec glo_s, ghi_s;  // the sparse route's bound parts
  if (m.sparse_route()) {
    glo_s = problem_.create_vec();
    ghi_s = problem_.create_vec();
    OwnedVec a = problem_.create_vec();
    m.sparse->psi_t(vx, vE, vI, a, vE, vI, glo_s, ghi_s);
    FOLDOPT_CALL(VecCopy(a, vx));
  } else {
    const Eigen::VectorXd w = m.lift(dense::all_of(vx.get()), dense::all_of(vE.get()), dense::all_of(vI.get()));
    z = m.sol.lu.solve(w);
    // a = z_x; b on the equalities and on the active rows.
    dense::set_local(vx, z.head(m.nx));
    Eigen::VectorXd bE, bI;
    m.project(z, &bE, &bI);
    if (m.me > 0) dense::set_local(vE, bE);
    if (m.mi > 0) dense::set_local(vI, bI);
  }
  ParamSet part = out.zeros_like();
  problem_.lagrangian_gradient_param_t(m.xs, m.theta, m.lamE, m.muI, vx, part);
  out.set_zero();
  out.axpy(-1.0, part);
  part.set_zero();
  problem_.constraint_param_t(m.xs, m.theta, vE, vI, part);
  out.axpy(-1.0, part);
  // Bound rows whose bound is a parameter block: ∂h/∂lb = 1 (lower row), ∂h/∂ub = −1 (upper row).
  const std::string lbn = problem_.lower_bound_block(), ubn = problem_.upper_bound_block();
  if (m.sparse_route()) {
    if (!lbn.empty() && out.has(lbn)) FOLDOPT_CALL(VecAXPY(out.get(lbn), 1.0, glo_s));
    if (!ubn.empty() && out.has(ubn)) FOLDOPT_CALL(VecAXPY(out.get(ubn), 1.0, ghi_s));
    return;
  }
  Eigen::VectorXd glo = Eigen::VectorXd::Zero(m.nx), ghi = Eigen::VectorXd::Zero(m.nx);
  for (std::size_t k = 0; k < m.sol.active.size(); ++k) {
    const Row& r = m.qp.rows[m.sol.active[k]];
    const double b = z[m.nx + m.me + static_cast<Eigen::Index>(k)];
    if (r.kind == RowKind::lower) glo[r.index] -= b;
    else if (r.kind == RowKind::upper) ghi[r.index] += b;
  }
  for (const auto& bb : {std::make_pair(lbn, &glo), std::make_pair(ubn, &ghi)}) {
    if (bb.first.empty() || !out.has(bb.first)) continue;
    dense::set_local(vx, *bb.second);
    FOLDOPT_CALL(VecAXPY(out.get(bb.first), 1.0, vx));
  }
}

void SqpMap::readout(Vec s, const ParamSet&, Vec x) { split(s, x, nullptr, nullptr); }

void SqpMap::readout_t(Vec g, Vec h) { join(g, nullptr, nullptr, h); }

void SqpMap::state_from_primal_dual(Vec x, const Multipliers& y, const ParamSet& theta, Vec s) {
  Impl& m = *impl_;
  FOLDOPT_CHECK((m.me == 0 || y.eq) && (m.mi == 0 || y.ineq), PETSC_ERR_ARG_WRONG,
                "update map 'sqp': the forward solver gave no multipliers for the %s constraints of problem %s",
                (m.me > 0 && !y.eq) ? "equality" : "inequality", problem_.type().c_str());
  join(x, y.eq, y.ineq, s);
  // Polish: a few SQP steps (Newton on the KKT conditions, locally quadratic) from the forward's
  // point, which an interior-point or augmented-Lagrangian solver leaves ~1e-8 off (x near, not
  // on, its active bounds; multipliers to its tolerance).
  m.polish_steps = 0;
  m.polish_start = -1;
  if (m.polish_max == 0) return;
  OwnedVec t = create_vec();
  for (PetscInt k = 0; k < m.polish_max; ++k) {
    apply(s, theta, t);
    PetscReal ns, diff;
    FOLDOPT_CALL(VecNorm(s, NORM_INFINITY, &ns));
    FOLDOPT_CALL(VecAXPY(s, -1.0, t));
    FOLDOPT_CALL(VecNorm(s, NORM_INFINITY, &diff));
    FOLDOPT_CALL(VecCopy(t, s));
    const PetscReal r = diff / std::max<PetscReal>(1, ns);
    if (k == 0) m.polish_start = r;
    ++m.polish_steps;
    if (r <= kPolishTol) break;
  }
}

}  // namespace foldopt
