// The `qp` problem through the ADMM map and forward, against references computed independently
// of the engine.
//
// Dense KKT reference (Eigen, everything gathered to every rank), per instance b: the active set S
// from the solution (equality rows, and rows with |y_i| > 1e-7 at the bound their sign names; a
// weakly active row, z at a bound with y = 0, is left out: the map's documented choice), the
// equality-constrained QP's KKT matrix K = [P, A_Sᵀ; A_S, 0], and with K [λx; λy] = [g; 0]:
//   ∂L/∂q = −λx,  ∂L/∂b_i = λy_i (b_i = l_i or u_i, the bound row i is held at; an equality row's
//   derivative goes to u when y_i > 0, else to l),  ∂L/∂P_ij = −λx_i x_j,
//   ∂L/∂A_ij = −(y_i λx_j + λy_i x_j)   (stored nonzeros, summed over the instances).
// Also: the same x from the dense KKT solve on the planted active set, central finite differences
// of L = ⟨g, x*(θ)⟩ with re-solves (P moved symmetrically, equality rows' l and u together),
// dot-product tests of Φ/Φᵀ and Ψ/Ψᵀ, GMRES = the assembled-Jacobian path = the reduced form,
// infeasible and unbounded QPs refused with that word, a batch of 2. Runs at np=1 and np=2.
#include "qp_reference.hpp"
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/admm.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problems/qp.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::FoldedLayer;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt::QP;
using foldopt::QPGenerator;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr unsigned long kLossSeed = 42;

QPGenerator instance(PetscInt n, PetscInt m, PetscInt batch, unsigned long seed, double weak) {
  QPGenerator g;
  g.n = n;
  g.m = m;
  g.batch = batch;
  g.seed = seed;
  g.weak = weak;
  return g;
}

using qp_ref::make_reference;
using qp_ref::Reference;

/// The multipliers y of the layer's state.
VectorXd multipliers(FoldedLayer& layer) {
  auto& map = dynamic_cast<foldopt::AdmmMap&>(layer.map());
  OwnedVec y = map.create_z();
  map.split(layer.state(), nullptr, nullptr, y);
  return foldopt_ref::to_eigen(y);
}

void expect_close(const VectorXd& got, const VectorXd& ref, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  ASSERT_GT(ref.norm(), 0) << what << ": the reference is zero";
  EXPECT_LE(foldopt_ref::rel_err(got, ref), tol) << what;
}

void expect_gradient(const ParamSet& grad, const Reference& r, double tol, const std::string& what) {
  expect_close(foldopt_ref::to_eigen(grad.get("q")), r.dq, tol, what + ": dL/dq");
  expect_close(foldopt_ref::to_eigen(grad.get("l")), r.dl, tol, what + ": dL/dl");
  expect_close(foldopt_ref::to_eigen(grad.get("u")), r.du, tol, what + ": dL/du");
  expect_close(foldopt_ref::to_eigen(grad.get("P.values")), r.dP, tol, what + ": dL/dP.values");
  expect_close(foldopt_ref::to_eigen(grad.get("A.values")), r.dA, tol, what + ": dL/dA.values");
}

struct Method {
  const char* name;
  Options opts;
};

// Every gradient block against the dense KKT reference, with equality, two-sided, one-sided, free
// and weakly active rows; the default forward reaches the fixed point to 1e-10 and the planted x*;
// GMRES, the assembled-Jacobian path and the reduced linear system agree.
TEST(Admm, GradientsAgainstDenseKkt) {
  for (const QPGenerator& gen : {instance(40, 40, 1, 3, 0.1), instance(20, 28, 2, 7, 0.05)}) {
    std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, gen);
    const QP::RowKinds& k = p->row_kinds();
    ASSERT_GT(k.equality, 0);
    ASSERT_GT(k.two_sided, 0);
    ASSERT_GT(k.lower, 0);
    ASSERT_GT(k.upper, 0);
    ASSERT_GT(k.free, 0);
    OwnedVec g = p->create_vec();
    foldopt::fill_random(g, kLossSeed);
    const VectorXd ge = foldopt_ref::to_eigen(g);
    std::vector<std::vector<VectorXd>> all;
    const std::vector<Method> methods = {{"gmres", {}},
                                         {"jacobian", {{"-fold_backward", "jacobian"}}},
                                         {"reduced", {{"-fold_admm_kkt", "reduced"}}}};
    for (const Method& m : methods) {
      const std::string what = std::string(m.name) + " on n=" + std::to_string(gen.n) + " B=" + std::to_string(gen.batch);
      ScopedOptions so(m.opts);
      FoldedLayer layer(*p);
      layer.set_fixed_point_tolerance(1e-10);
      layer.set_check_minimum(false);  // (convex: not what is tested here; it costs Arnoldi products)
      layer.set_from_options();
      Vec x = layer.forward(p->params());
      EXPECT_EQ(layer.forward_report().solver, "admm");
      ParamSet grad;
      ASSERT_NO_THROW(grad = layer.backward(g)) << what;
      EXPECT_LE(layer.fixed_point_residual(), 1e-10) << what;
      EXPECT_TRUE(layer.adjoint().report().converged) << what;
      const VectorXd xe = foldopt_ref::to_eigen(x), ye = multipliers(layer);
      EXPECT_LE((xe - foldopt_ref::to_eigen(p->known_solution())).lpNorm<Eigen::Infinity>(), 1e-9) << what << ": the planted x*";
      EXPECT_LE((ye - foldopt_ref::to_eigen(p->known_multipliers())).lpNorm<Eigen::Infinity>(), 1e-8) << what << ": the planted y*";
      const Reference ref = make_reference(*p, xe, ye, ge);
      EXPECT_LE(ref.stationarity, 1e-9) << what;
      EXPECT_LE(ref.feasibility, 1e-9) << what;
      EXPECT_LE(ref.complementarity, 1e-9) << what;
      EXPECT_FALSE(ref.weak.empty()) << what << ": the instance has weakly active rows";
      expect_gradient(grad, ref, 1e-8, what);
      // The documented choice on weakly active rows: inactive, so their bound gradients are 0 ...
      const VectorXd dl = foldopt_ref::to_eigen(grad.get("l")), du = foldopt_ref::to_eigen(grad.get("u"));
      for (int I : ref.weak) {
        EXPECT_EQ(dl[I], 0.0) << what << ": weakly active row " << I;
        EXPECT_EQ(du[I], 0.0) << what << ": weakly active row " << I;
      }
      // ... and the other choice (held at the bound) gives a different gradient.
      const Reference other = make_reference(*p, xe, ye, ge, true);
      EXPECT_GT(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("q")), other.dq), 1e-6) << what;
      if (foldopt_test::rank() == 0)
        std::printf("  %s: %d weakly active, forward %d it (%s), fixed point %.1e, backward %d it\n", what.c_str(),
                    (int)ref.weak.size(), (int)layer.forward_report().iterations, layer.forward_report().reason.c_str(),
                    (double)layer.fixed_point_residual(), (int)layer.adjoint().report().iterations);
      all.push_back({foldopt_ref::to_eigen(grad.get("q")), dl, du, foldopt_ref::to_eigen(grad.get("P.values")),
                     foldopt_ref::to_eigen(grad.get("A.values"))});
    }
    for (std::size_t a = 1; a < all.size(); ++a)
      for (int b = 0; b < 5; ++b)
        EXPECT_LE(foldopt_ref::rel_err(all[a][b], all[0][b]), 1e-8) << methods[a].name << " vs gmres, block " << b;
  }
}

// The forward's x against the dense KKT solve of the equality-constrained QP on the planted
// active set (rows with y* ≠ 0 and the equality rows held at their bounds).
TEST(Admm, ForwardMatchesDenseKktSolution) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(50, 35, 1, 5, 0));
  const MatrixXd P = foldopt_ref::gather_dense(p->P()), A = foldopt_ref::gather_dense(p->A());
  const VectorXd q = foldopt_ref::to_eigen(p->params().get("q")), l = foldopt_ref::to_eigen(p->params().get("l")),
                 u = foldopt_ref::to_eigen(p->params().get("u")), ys = foldopt_ref::to_eigen(p->known_multipliers());
  const int n = static_cast<int>(P.rows());
  std::vector<int> S;
  std::vector<double> b;
  for (int i = 0; i < A.rows(); ++i)
    if (l[i] == u[i] || ys[i] != 0) {
      S.push_back(i);
      b.push_back(ys[i] > 0 ? u[i] : l[i]);
    }
  const int k = static_cast<int>(S.size());
  ASSERT_GT(k, 0);
  MatrixXd K = MatrixXd::Zero(n + k, n + k);
  K.topLeftCorner(n, n) = P;
  VectorXd rhs(n + k);
  rhs.head(n) = -q;
  for (int a = 0; a < k; ++a) {
    K.block(n + a, 0, 1, n) = A.row(S[a]);
    K.block(0, n + a, n, 1) = A.row(S[a]).transpose();
    rhs[n + a] = b[a];
  }
  const VectorXd sol = K.fullPivLu().solve(rhs);
  FoldedLayer layer(*p);
  layer.set_from_options();
  Vec x = layer.forward(p->params());
  EXPECT_LE(layer.forward_report().residual, 1e-10);
  EXPECT_LE(foldopt::fixed_point_residual(layer.map(), layer.state(), p->params()), 1e-10);
  EXPECT_LE((foldopt_ref::to_eigen(x) - sol.head(n)).lpNorm<Eigen::Infinity>(), 1e-9);
  EXPECT_LE((multipliers(layer) - ys).lpNorm<Eigen::Infinity>(), 1e-8);
  // the planted primal-dual pair (x*, y*) as a state (how a forward with multipliers builds it)
  auto& map = dynamic_cast<foldopt::AdmmMap&>(layer.map());
  OwnedVec s = map.create_vec();
  map.make_state(p->known_solution(), p->known_multipliers(), p->params(), s);
  EXPECT_LE(foldopt::fixed_point_residual(map, s, p->params()), 1e-12);
  VecSet(s, 0.0);
  EXPECT_GT(foldopt::fixed_point_residual(map, s, p->params()), 1e-3) << "the residual sees a state that is not the fixed point";
}

// Dot-product tests of Φ/Φᵀ and Ψ/Ψᵀ at the fixed point, both linear-system forms.
TEST(Admm, DotProducts) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(30, 40, 2, 9, 0.1));
  for (const char* form : {"full", "reduced"}) {
    ScopedOptions so(Options{{"-fold_admm_kkt", form}});
    FoldedLayer layer(*p);
    layer.set_from_options();
    layer.forward(p->params());
    layer.map().linearize(layer.state(), p->params());
    for (unsigned long seed : {1ul, 5ul}) {
      const foldopt::DotTest a = foldopt::dot_test_phi(layer.map(), seed), b = foldopt::dot_test_psi(layer.map(), seed + 1);
      EXPECT_GT(std::abs(a.lhs), 1e-3) << form;
      EXPECT_GT(std::abs(b.lhs), 1e-3) << form;
      EXPECT_LE(a.relative, 1e-12) << form << ": Phi";
      EXPECT_LE(b.relative, 1e-12) << form << ": Psi";
    }
  }
}

double loss(FoldedLayer& layer, const ParamSet& theta, Vec g) {
  Vec x = layer.forward(theta);
  PetscScalar d;
  VecDot(x, g, &d);
  return PetscRealPart(d);
}

// Central differences of L along random directions: P moved symmetrically, A freely, q, and the
// finite bounds (an equality row's l and u together; no weakly active rows in this instance).
TEST(Admm, FiniteDifferences) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(30, 30, 1, 13, 0));
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  const ParamSet grad = layer.backward(g);
  FoldedLayer probe(*p);
  probe.set_from_options();
  const double eps = 1e-5;
  for (const char* block : {"P.values", "A.values", "q", "bounds"}) {
    ParamSet d = p->params().zeros_like();
    const std::string b = block;
    if (b == "P.values") {
      OwnedVec v;
      VecDuplicate(p->params().get(block), v.out());
      foldopt::fill_random(v, 101);
      OwnedMat D = foldopt::matrix_values::with_values(p->P(), v), Dt;
      MatTranspose(D, MAT_INITIAL_MATRIX, Dt.out());
      MatAXPY(D, 1.0, Dt, SAME_NONZERO_PATTERN);
      OwnedVec sym = foldopt::matrix_values::values(D);
      VecCopy(sym, d.get(block));
    } else if (b == "bounds") {
      foldopt::fill_random(d.get("l"), 102);
      VecCopy(d.get("l"), d.get("u"));
      foldopt::fill_random(d.get("u"), 103);
      // equality rows move together; infinite bounds stay
      OwnedVec lo, hi;
      const std::vector<PetscScalar> L = foldopt_test::gather(p->params().get("l")), U = foldopt_test::gather(p->params().get("u"));
      PetscInt rs, re;
      VecGetOwnershipRange(d.get("l"), &rs, &re);
      PetscScalar *dl, *du;
      VecGetArray(d.get("l"), &dl);
      VecGetArray(d.get("u"), &du);
      for (PetscInt I = rs; I < re; ++I) {
        if (L[I] == U[I]) du[I - rs] = dl[I - rs];
        if (!std::isfinite(PetscRealPart(L[I]))) dl[I - rs] = 0;
        if (!std::isfinite(PetscRealPart(U[I]))) du[I - rs] = 0;
      }
      VecRestoreArray(d.get("l"), &dl);
      VecRestoreArray(d.get("u"), &du);
    } else {
      foldopt::fill_random(d.get(block), 104);
    }
    ParamSet plus = p->params().copy(), minus = p->params().copy();
    plus.axpy(eps, d);
    minus.axpy(-eps, d);
    const double fd = (loss(probe, plus, g) - loss(probe, minus, g)) / (2 * eps);
    const double an = PetscRealPart(grad.dot(d));
    ASSERT_GT(std::abs(fd), 1e-3) << block << ": a direction the loss does not see";
    EXPECT_NEAR(an, fd, 1e-6 * std::max(1.0, std::abs(fd))) << block;
    if (foldopt_test::rank() == 0) std::printf("  %s: folded %.10e, fd %.10e\n", block, an, fd);
  }
}

/// A QP on two unknowns from dense data, split as PETSc splits it.
std::unique_ptr<QP> tiny(const std::vector<double>& Pd, const std::vector<double>& Ad, const std::vector<double>& q,
                         const std::vector<double>& l, const std::vector<double>& u, const std::string& tag) {
  const PetscInt n = static_cast<PetscInt>(q.size()), m = static_cast<PetscInt>(l.size());
  OwnedMat P, A;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, n, n, nullptr, n, nullptr, P.out());
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, m, n, n, nullptr, n, nullptr, A.out());
  PetscInt rs, re;
  MatGetOwnershipRange(P, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt j = 0; j < n; ++j) MatSetValue(P, i, j, Pd[i * n + j], INSERT_VALUES);
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt j = 0; j < n; ++j)
      if (Ad[i * n + j] != 0) MatSetValue(A, i, j, Ad[i * n + j], INSERT_VALUES);
  for (Mat M : {P.get(), A.get()}) {
    MatAssemblyBegin(M, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(M, MAT_FINAL_ASSEMBLY);
  }
  auto vec = [](const std::vector<double>& v) {
    OwnedVec out;
    VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, static_cast<PetscInt>(v.size()), out.out());
    PetscInt s, e;
    VecGetOwnershipRange(out, &s, &e);
    for (PetscInt i = s; i < e; ++i) VecSetValue(out, i, v[i], INSERT_VALUES);
    VecAssemblyBegin(out);
    VecAssemblyEnd(out);
    return out;
  };
  OwnedVec qv = vec(q), lv = vec(l), uv = vec(u);
  foldopt::AdmmData names;
  names.P_name = "P_" + tag;
  names.A_name = "A_" + tag;
  names.q_name = "q_" + tag;
  names.l_name = "l_" + tag;
  names.u_name = "u_" + tag;
  return std::unique_ptr<QP>(new QP(P, A, qv, lv, uv, 1, names));
}

std::string forward_error(QP& p) {
  FoldedLayer layer(p);
  layer.set_from_options();
  try {
    layer.forward(p.params());
  } catch (const foldopt::Error& e) {
    return e.what();
  }
  return "";
}

// x1 ≥ 1 and x1 + 0·x2 ≤ 0: primal infeasible; min ½x1² − x2 with x2 free: unbounded below.
TEST(Admm, InfeasibleAndUnboundedRefused) {
  const double inf = std::numeric_limits<double>::infinity();
  std::unique_ptr<QP> infeasible = tiny({1, 0, 0, 1}, {1, 0, 1, 0, 0, 1}, {0.3, -0.2}, {1, -inf, -1}, {inf, 0, 1}, "infeasible");
  const std::string e1 = forward_error(*infeasible);
  EXPECT_NE(e1.find("infeasible"), std::string::npos) << e1;
  EXPECT_NE(e1.find("A_infeasible"), std::string::npos) << e1;
  std::unique_ptr<QP> unbounded = tiny({1, 0, 0, 0}, {1, 0}, {0.5, -1}, {-1}, {1}, "unbounded");
  const std::string e2 = forward_error(*unbounded);
  EXPECT_NE(e2.find("unbounded"), std::string::npos) << e2;
  EXPECT_NE(e2.find("q_unbounded"), std::string::npos) << e2;
  // the same data made feasible and bounded solves
  std::unique_ptr<QP> fine = tiny({1, 0, 0, 1}, {1, 0, 1, 0, 0, 1}, {0.3, -0.2}, {1, -inf, -1}, {inf, 2, 1}, "fine");
  EXPECT_EQ(forward_error(*fine), "");
}

// The constraints through Problem (for TAO and IPOPT): c_E = A_E x − l_E, c_I = (A x − u) on
// finite u, (l − A x) on finite l, against dense evaluations.
TEST(Admm, ProblemConstraints) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(20, 25, 2, 4, 0));
  const MatrixXd A = foldopt_ref::gather_dense(p->A());
  const VectorXd l = foldopt_ref::to_eigen(p->params().get("l")), u = foldopt_ref::to_eigen(p->params().get("u"));
  OwnedVec x = p->create_vec();
  foldopt::fill_random(x, 7);
  const VectorXd xe = foldopt_ref::to_eigen(x);
  const int n = 20, m = 25;
  std::vector<double> ce, ci;
  for (int b = 0; b < 2; ++b) {
    const VectorXd z = A * xe.segment(b * n, n);
    for (int i = 0; i < m; ++i) {
      const int I = b * m + i;
      if (l[I] == u[I]) {
        ce.push_back(z[i] - l[I]);
        continue;
      }
      if (std::isfinite(u[I])) ci.push_back(z[i] - u[I]);
      if (std::isfinite(l[I])) ci.push_back(l[I] - z[i]);
    }
  }
  ASSERT_EQ(p->num_equality(), static_cast<PetscInt>(ce.size()));
  ASSERT_EQ(p->num_inequality(), static_cast<PetscInt>(ci.size()));
  OwnedVec c = p->create_constraint_vec(p->num_equality()), d = p->create_constraint_vec(p->num_inequality());
  p->equality(x, p->params(), c);
  p->inequality(x, p->params(), d);
  const VectorXd cg = foldopt_ref::to_eigen(c), dg = foldopt_ref::to_eigen(d);
  for (std::size_t i = 0; i < ce.size(); ++i) EXPECT_NEAR(cg[i], ce[i], 1e-13);
  for (std::size_t i = 0; i < ci.size(); ++i) EXPECT_NEAR(dg[i], ci[i], 1e-13);
  // Jacobians: J x reproduces the values up to the constant bounds
  OwnedMat JE = p->equality_jacobian(x, p->params()), JI = p->inequality_jacobian(x, p->params());
  OwnedVec jx = p->create_constraint_vec(p->num_equality()), jy = p->create_constraint_vec(p->num_inequality()), x0 = p->create_vec();
  VecZeroEntries(x0);
  OwnedVec c0 = p->create_constraint_vec(p->num_equality()), d0 = p->create_constraint_vec(p->num_inequality());
  p->equality(x0, p->params(), c0);
  p->inequality(x0, p->params(), d0);
  MatMult(JE, x, jx);
  MatMult(JI, x, jy);
  VecAXPY(jx, 1.0, c0);
  VecAXPY(jy, 1.0, d0);
  EXPECT_LE(foldopt_test::rel_diff(jx, c), 1e-13);
  EXPECT_LE(foldopt_test::rel_diff(jy, d), 1e-13);
}

}  // namespace

namespace {

// TAO (almm, pdipm) solves the problem's own formulation (x only, constraints through Problem)
// to the planted x* (IPOPT: tests/test_qp_ipopt.cpp); as the admm map's forward see
// TaoForwardGivesTheMapState.
TEST(Admm, ProblemForwardsFindTheSameX) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(15, 15, 1, 21, 0));
  const VectorXd xs = foldopt_ref::to_eigen(p->known_solution());
  std::vector<std::pair<std::string, Options>> solvers = {
      {"tao", {{"-qpfwd_tao_type", "almm"}, {"-qpfwd_tao_gatol", "1e-10"}, {"-qpfwd_tao_catol", "1e-10"}}},
      {"tao", {{"-qpfwd_tao_type", "pdipm"}, {"-qpfwd_tao_gatol", "1e-10"}, {"-qpfwd_tao_catol", "1e-10"}}}};
  for (const auto& s : solvers) {
    ScopedOptions so(s.second);
    foldopt::ForwardContext ctx{PETSC_COMM_WORLD, p.get(), nullptr, "qpfwd_"};
    std::unique_ptr<foldopt::ForwardSolver> f;
    try {
      f = foldopt::forward_registry().create("forward solver", s.first, ctx);
      f->set_from_options();
    } catch (const foldopt::Error& e) {
      ADD_FAILURE() << s.first << ": " << e.what();
      continue;
    }
    OwnedVec x = p->create_vec();
    VecZeroEntries(x);
    std::string err;
    try {
      f->solve(p->params(), x);
    } catch (const foldopt::Error& e) {
      err = e.what();
    }
    EXPECT_EQ(err, "") << s.first;
    const std::string type = s.second.empty() ? s.first : s.second[0].second;
    EXPECT_LE((foldopt_ref::to_eigen(x) - xs).lpNorm<Eigen::Infinity>(), 1e-6) << type;
  }
}

// TAO almm and pdipm as the admm map's forward: x* and their multipliers (foldopt's convention,
// converted to OSQP's signs) make the map's state; the gradient is the dense KKT reference's.
TEST(Admm, TaoForwardGivesTheMapState) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(15, 15, 1, 21, 0));
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  const Reference ref = make_reference(*p, foldopt_ref::to_eigen(p->known_solution()),
                                       foldopt_ref::to_eigen(p->known_multipliers()), foldopt_ref::to_eigen(g));
  for (const char* type : {"almm", "pdipm"}) {
    const std::string what = std::string("tao ") + type;
    ScopedOptions so(Options{{"-fold_fwd_type", "tao"}, {"-fold_fwd_tao_type", type}});
    FoldedLayer layer(*p);
    layer.set_check_minimum(false);
    layer.set_from_options();
    layer.forward(p->params());
    EXPECT_EQ(layer.forward_report().solver.rfind(what, 0), 0u) << layer.forward_report().solver;
    EXPECT_LE(layer.fixed_point_residual(), 1e-8) << what;
    EXPECT_LE((multipliers(layer) - foldopt_ref::to_eigen(p->known_multipliers())).lpNorm<Eigen::Infinity>(), 1e-6) << what;
    ParamSet grad;
    ASSERT_NO_THROW(grad = layer.backward(g)) << what;
    expect_gradient(grad, ref, 1e-8, what + " forward");
  }
}

// The sqp map on qp (its constraints' θ-derivatives from the problem: l, u and A.values) gives
// the admm map's gradient; an equality row's derivative is reported on l through sqp (the
// constraint A_E x − l_E = 0), split by the multiplier's sign through admm: their sum agrees.
TEST(Admm, SqpMapGivesTheSameGradient) {
  std::unique_ptr<QP> p = QP::generate(PETSC_COMM_WORLD, instance(20, 28, 1, 7, 0));
  ASSERT_GT(p->row_kinds().equality, 0);
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  std::vector<ParamSet> grads;
  for (const Options& o : {Options{}, Options{{"-fold_map_type", "sqp"}, {"-fold_fwd_type", "tao"}}}) {
    ScopedOptions so(o);
    FoldedLayer layer(*p);
    layer.set_check_minimum(false);
    layer.set_from_options();
    layer.forward(p->params());
    grads.push_back(layer.backward(g).copy());
  }
  for (const char* b : {"q", "P.values", "A.values"})
    EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grads[1].get(b)), foldopt_ref::to_eigen(grads[0].get(b))), 1e-8) << b;
  const VectorXd l = foldopt_ref::to_eigen(p->params().get("l")), u = foldopt_ref::to_eigen(p->params().get("u"));
  const VectorXd la = foldopt_ref::to_eigen(grads[0].get("l")), ua = foldopt_ref::to_eigen(grads[0].get("u"));
  const VectorXd ls = foldopt_ref::to_eigen(grads[1].get("l")), us = foldopt_ref::to_eigen(grads[1].get("u"));
  ASSERT_GT(la.norm() + ua.norm(), 0.1);
  const double scale = la.norm() + ua.norm();
  for (int i = 0; i < l.size(); ++i) {
    if (l[i] == u[i]) {
      EXPECT_NEAR(ls[i] + us[i], la[i] + ua[i], 1e-8 * scale) << "equality row " << i;
      EXPECT_EQ(us[i], 0.0) << "equality row " << i << ": sqp reports it on l";
    } else {
      EXPECT_NEAR(ls[i], la[i], 1e-8 * scale) << "row " << i;
      EXPECT_NEAR(us[i], ua[i], 1e-8 * scale) << "row " << i;
    }
  }
}

}  // namespace


namespace {

std::string build_error(const std::vector<double>& Pd, const std::vector<double>& Ad, const std::vector<double>& q,
                        const std::vector<double>& l, const std::vector<double>& u) {
  try {
    tiny(Pd, Ad, q, l, u, "bad");
  } catch (const foldopt::Error& e) {
    return e.what();
  }
  return "";
}

// Bad data gets one error naming the input and the problem.
TEST(Admm, Validation) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  const std::vector<double> P = {2, 0, 0, 2}, A = {1, 1}, q = {1, 1};
  EXPECT_EQ(build_error(P, A, q, {0}, {1}), "");
  std::string e = build_error(P, A, q, {2}, {1});
  EXPECT_NE(e.find("l_bad > u_bad"), std::string::npos) << e;
  e = build_error(P, A, q, {inf}, {inf});
  EXPECT_NE(e.find("l_bad: entry 0 is +inf"), std::string::npos) << e;
  e = build_error(P, A, q, {-inf}, {-inf});
  EXPECT_NE(e.find("u_bad: entry 0 is -inf"), std::string::npos) << e;
  e = build_error(P, A, {1, nan}, {0}, {1});
  EXPECT_NE(e.find("q_bad: entry 1 is NaN"), std::string::npos) << e;
  e = build_error({2, 1, 0, 2}, A, q, {0}, {1});
  EXPECT_NE(e.find("P_bad is not symmetric"), std::string::npos) << e;
  e = build_error(P, A, q, {0}, {1, 1});
  EXPECT_NE(e.find("u_bad has 2 entries, expected 1"), std::string::npos) << e;
}

}  // namespace
