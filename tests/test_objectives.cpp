// Tests of the smooth objectives (src/objectives): at np 1 and 2, B = 1 and B = 3 (n = 7, so an
// instance spans both ranks at np 2), with matrices given per instance (shared by the batch) and
// block-diagonal over the batch. Every property is checked against an independent reference:
//   value and gradient       against central finite differences of the value, coordinate by
//                            coordinate, and against dense Eigen formulas;
//   Hessian products         against finite differences of the gradient, against the dense
//                            Eigen Hessian, and against hessian() and hessian_diagonal();
//   parameter products       gradient_param_t vs gradient_param (dot test, 1e-12), against
//                            finite differences of the gradient w.r.t. the block, against Eigen;
//                            they add into their block and leave every other block alone;
//   curvature_bound          ≥ λmax of the dense Hessian (Eigen eigenvalues).
// Data are drawn by global index (fill_random), the same at any number of ranks.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <Eigen/Dense>

#include <cfloat>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using foldopt::Layout;
using foldopt::Objective;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::gather_dense;
using foldopt_ref::to_eigen;

using Opts = std::vector<std::pair<std::string, std::string>>;
MPI_Comm world() { return PETSC_COMM_WORLD; }  // set by PetscInitialize, not at static init
constexpr PetscInt kN = 7;  // unknowns per instance
constexpr PetscInt kM = 5;  // rows of X per instance

Layout make_layout(PetscInt n, PetscInt B) {
  Layout l;
  l.comm = world();
  l.n = n;
  l.batch = B;
  PetscInt N = n * B;
  l.local = PETSC_DECIDE;
  PetscSplitOwnership(world(), &l.local, &N);
  return l;
}

OwnedVec make_vec(PetscInt N, PetscInt local = PETSC_DECIDE) {
  OwnedVec v;
  VecCreateMPI(world(), local, N, v.out());
  return v;
}

OwnedVec random_vec(PetscInt N, unsigned long seed, PetscInt local = PETSC_DECIDE) {
  OwnedVec v = make_vec(N, local);
  foldopt::fill_random(v, seed);
  return v;
}

/// An M×N AIJ matrix from entry(i, j) (0 where absent; `stored(i, j)` says which entries exist),
/// rows split by `local_rows`.
OwnedMat build_matrix(PetscInt M, PetscInt N, const std::function<bool(PetscInt, PetscInt)>& stored,
                      const std::function<double(PetscInt, PetscInt)>& entry, PetscInt local_rows = PETSC_DECIDE) {
  OwnedMat A;
  MatCreate(world(), A.out());
  MatSetSizes(A, local_rows, PETSC_DECIDE, M, N);
  MatSetType(A, MATAIJ);
  MatSeqAIJSetPreallocation(A, N, nullptr);
  MatMPIAIJSetPreallocation(A, N, nullptr, N, nullptr);
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt j = 0; j < N; ++j)
      if (stored(i, j)) MatSetValue(A, i, j, entry(i, j), INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

// One instance's symmetric matrix (n×n), scaled by `s`: tridiagonal plus a band at distance 3;
// diagonally dominant (so positive definite) unless `hole`: then row/column 2 stores no diagonal
// entry (the objectives must add it where they need it) and the matrix is indefinite.
bool sym_stored(PetscInt i, PetscInt j, PetscInt n, bool hole) {
  const PetscInt d = std::abs(i % n - j % n);
  if (i / n != j / n) return false;
  return (d == 0 && !(hole && i % n == 2)) || d == 1 || d == 3;
}
double sym_entry(PetscInt i, PetscInt j, PetscInt n) {
  const PetscInt a = i % n, b = j % n, k = std::min(a, b), d = std::abs(a - b);
  const double s = 1.0 + 0.5 * static_cast<double>(i / n);  // instance b gets its own scale
  if (d == 0) return s * (4.0 + 0.5 * static_cast<double>(a % 3));
  if (d == 1) return s * (-1.0 - 0.1 * static_cast<double>(k % 2));
  return s * 0.3;
}

/// The per-instance (n×n, scale 1) or block-diagonal (B·n × B·n, scales 1, 1.5, 2, ...) matrix.
OwnedMat sym_matrix(PetscInt n, PetscInt B, PetscInt local_rows = PETSC_DECIDE, bool hole = false) {
  return build_matrix(
      n * B, n * B, [n, hole](PetscInt i, PetscInt j) { return sym_stored(i, j, n, hole); },
      [n](PetscInt i, PetscInt j) { return sym_entry(i, j, n); }, local_rows);
}

bool x_stored(PetscInt i, PetscInt j, PetscInt m, PetscInt n) {
  if (i / m != j / n) return false;
  return ((i % m) + 2 * (j % n)) % 3 != 0;
}
double x_entry(PetscInt i, PetscInt j, PetscInt m, PetscInt n) {
  const double s = 1.0 + 0.25 * static_cast<double>(i / m);
  return s * (static_cast<double>(((i % m) * 7 + (j % n)) % 5) - 1.5);
}
OwnedMat x_matrix(PetscInt m, PetscInt n, PetscInt B) {
  return build_matrix(
      m * B, n * B, [m, n](PetscInt i, PetscInt j) { return x_stored(i, j, m, n); },
      [m, n](PetscInt i, PetscInt j) { return x_entry(i, j, m, n); });
}

/// kron(I_B, A).
MatrixXd kron_eye(const MatrixXd& A, PetscInt B) {
  MatrixXd K = MatrixXd::Zero(A.rows() * B, A.cols() * B);
  for (PetscInt b = 0; b < B; ++b) K.block(b * A.rows(), b * A.cols(), A.rows(), A.cols()) = A;
  return K;
}

/// The stored values of A's local rows in CSR order (a matrix-values block), split by A's rows.
OwnedVec values_of(Mat A) {
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  std::vector<PetscScalar> vals;
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    const PetscScalar* v;
    MatGetRow(A, i, &nc, nullptr, &v);
    vals.insert(vals.end(), v, v + nc);
    MatRestoreRow(A, i, &nc, nullptr, &v);
  }
  OwnedVec out = make_vec(PETSC_DETERMINE, static_cast<PetscInt>(vals.size()));
  PetscScalar* a;
  VecGetArray(out, &a);
  std::copy(vals.begin(), vals.end(), a);
  VecRestoreArray(out, &a);
  return out;
}

/// G_k = Σ_s U(s·M + i) V(s·N + j) over the nonzeros (i, j) of the dense M×N matrix A, row by
/// row (CSR order), s < S.
VectorXd outer_ref(const MatrixXd& A, const VectorXd& U, const VectorXd& V, PetscInt S) {
  std::vector<double> g;
  for (Eigen::Index i = 0; i < A.rows(); ++i)
    for (Eigen::Index j = 0; j < A.cols(); ++j)
      if (A(i, j) != 0) {
        double sum = 0;
        for (PetscInt s = 0; s < S; ++s) sum += U[s * A.rows() + i] * V[s * A.cols() + j];
        g.push_back(sum);
      }
  return Eigen::Map<VectorXd>(g.data(), static_cast<Eigen::Index>(g.size()));
}

double rel(const VectorXd& a, const VectorXd& ref) { return foldopt_ref::rel_err(a, ref); }
double rel(const MatrixXd& a, const MatrixXd& ref) {
  const double r = ref.norm();
  return r > 0 ? (a - ref).norm() / r : (a - ref).norm();
}

OwnedVec like(Vec x) {
  OwnedVec v;
  VecDuplicate(x, v.out());
  return v;
}

/// e_i (global index i) like x.
OwnedVec unit(Vec x, PetscInt i) {
  OwnedVec e = like(x);
  VecZeroEntries(e);
  PetscInt rs, re;
  VecGetOwnershipRange(e, &rs, &re);
  if (i >= rs && i < re) VecSetValue(e, i, 1.0, INSERT_VALUES);
  VecAssemblyBegin(e);
  VecAssemblyEnd(e);
  return e;
}

double dot(Vec a, Vec b) {
  PetscScalar d;
  VecDot(a, b, &d);
  return PetscRealPart(d);
}

OwnedVec random_like(Vec x, unsigned long seed) {
  OwnedVec v = like(x);
  foldopt::fill_random(v, seed);
  return v;
}

/// What a test case gives: the objective, θ, the point x, the θ blocks it depends on, and dense
/// references (computed here with Eigen from the same data, independently of the code).
struct Case {
  std::unique_ptr<Objective> f;
  ParamSet theta;
  OwnedVec x;
  std::vector<std::string> blocks;
  std::function<double(const VectorXd& x, const ParamSet& th)> value_ref;
  std::function<VectorXd(const VectorXd& x, const ParamSet& th)> grad_ref;
  std::function<MatrixXd(const VectorXd& x, const ParamSet& th)> hess_ref;
  /// (∂∇f/∂θ_block)ᵀ v
  std::function<VectorXd(const std::string& block, const VectorXd& x, const VectorXd& v)> param_t_ref;
  double fd_h = 1e-5;
};

/// Every check of the header on one case.
void check_case(Case& c) {
  Objective& f = *c.f;
  Vec x = c.x;
  PetscInt N;
  VecGetSize(x, &N);
  const VectorXd xe = to_eigen(x);
  const Objective::Capabilities caps = f.capabilities();
  SCOPED_TRACE(f.describe());

  // value and gradient: Eigen, then central differences coordinate by coordinate
  OwnedVec g = like(x);
  const double fx = f.value_gradient(x, c.theta, g);
  const VectorXd ge = to_eigen(g), gref = c.grad_ref(xe, c.theta);
  const double vref = c.value_ref(xe, c.theta);
  ASSERT_GT(gref.norm(), 0.1);  // the reference is not trivially zero
  EXPECT_NEAR(fx, vref, 1e-12 * std::max(1.0, std::abs(vref)));
  EXPECT_LT(rel(ge, gref), 1e-12);
  EXPECT_DOUBLE_EQ(f.value_gradient(x, c.theta, nullptr), fx);
  VectorXd fd(N);
  OwnedVec xp = like(x);
  for (PetscInt i = 0; i < N; ++i) {
    OwnedVec e = unit(x, i);
    VecWAXPY(xp, c.fd_h, e, x);
    const double fp = f.value_gradient(xp, c.theta, nullptr);
    VecWAXPY(xp, -c.fd_h, e, x);
    const double fm = f.value_gradient(xp, c.theta, nullptr);
    fd[i] = (fp - fm) / (2 * c.fd_h);
  }
  EXPECT_LT(rel(fd, ge), 1e-7) << "gradient vs finite differences of the value";

  // Hessian products: FD of the gradient, the dense Hessian from products, Eigen
  OwnedVec v = random_like(x, 31), hv = like(x), gp = like(x), gm = like(x);
  {
    PetscInt nl, vl;
    VecGetLocalSize(x, &nl);
    VecGetLocalSize(v, &vl);
    ASSERT_EQ(nl, vl);
  }
  f.hessian_mult(x, c.theta, v, hv);
  VecWAXPY(xp, c.fd_h, v, x);
  f.value_gradient(xp, c.theta, gp);
  VecWAXPY(xp, -c.fd_h, v, x);
  f.value_gradient(xp, c.theta, gm);
  VecAXPY(gp, -1.0, gm);
  VecScale(gp, 1.0 / (2 * c.fd_h));
  EXPECT_LT(foldopt_test::rel_diff(hv, gp), 1e-7) << "Hessian product vs finite differences of the gradient";
  MatrixXd Hd(N, N);
  for (PetscInt i = 0; i < N; ++i) {
    OwnedVec e = unit(x, i), col = like(x);
    f.hessian_mult(x, c.theta, e, col);
    Hd.col(i) = to_eigen(col);
  }
  const MatrixXd Href = c.hess_ref(xe, c.theta);
  EXPECT_LT(rel(Hd, Href), 1e-12);
  EXPECT_LT((Hd - Hd.transpose()).norm(), 1e-12 * std::max(1.0, Hd.norm()));
  if (caps.hessian) {
    OwnedMat H = f.hessian(x, c.theta);
    ASSERT_TRUE(H);
    EXPECT_LT(rel(gather_dense(H), Href), 1e-12) << "assembled Hessian";
  } else {
    EXPECT_THROW(f.hessian(x, c.theta), foldopt::Error);
  }
  if (caps.hessian_diagonal) {
    OwnedVec d = like(x);
    f.hessian_diagonal(x, c.theta, d);
    EXPECT_LT(rel(to_eigen(d), VectorXd(Href.diagonal())), 1e-12) << "Hessian diagonal";
  } else {
    OwnedVec d = like(x);
    EXPECT_THROW(f.hessian_diagonal(x, c.theta, d), foldopt::Error);
  }
  if (caps.quadratic) {  // the Hessian does not depend on x
    OwnedVec x2 = random_like(x, 77), hv2 = like(x);
    VecAbs(x2);
    VecShift(x2, 0.5);
    f.hessian_mult(x2, c.theta, v, hv2);
    EXPECT_LT(foldopt_test::rel_diff(hv2, hv), 1e-14);
  }

  // curvature bound ≥ λmax (or 0: none known)
  Eigen::SelfAdjointEigenSolver<MatrixXd> es(0.5 * (Href + Href.transpose()), Eigen::EigenvaluesOnly);
  const double lmax = es.eigenvalues().maxCoeff(), bound = f.curvature_bound(c.theta);
  EXPECT_GE(bound, 0.0);
  if (bound > 0) EXPECT_GE(bound, lmax * (1 - 1e-12)) << "curvature_bound below lambda_max";
  if (!caps.convex) {
    EXPECT_LT(es.eigenvalues().minCoeff(), 0.0) << "declared nonconvex: the test point should show it";
  } else {
    EXPECT_GT(es.eigenvalues().minCoeff(), -1e-10);
  }

  // parameter products, block by block
  for (const std::string& name : c.blocks) {
    SCOPED_TRACE("block " + name);
    ParamSet dth = c.theta.zeros_like();
    foldopt::fill_random(dth.get(name), 41);
    // y = (∂∇f/∂θ) dθ, onto a nonzero start: it adds
    OwnedVec y = random_like(x, 43), y0 = like(x);
    VecCopy(y, y0);
    f.gradient_param(x, c.theta, dth, y);
    VecAXPY(y, -1.0, y0);
    // FD of the gradient along dθ
    ParamSet thp = c.theta.copy(), thm = c.theta.copy();
    thp.axpy(c.fd_h, dth);
    thm.axpy(-c.fd_h, dth);
    f.value_gradient(x, thp, gp);
    f.value_gradient(x, thm, gm);
    VecAXPY(gp, -1.0, gm);
    VecScale(gp, 1.0 / (2 * c.fd_h));
    PetscReal ny;
    VecNorm(y, NORM_2, &ny);
    ASSERT_GT(ny, 0.1);
    EXPECT_LT(foldopt_test::rel_diff(y, gp), 1e-7) << "gradient_param vs finite differences w.r.t. the block";
    // out += (∂∇f/∂θ)ᵀ v: start from nonzero values, other blocks untouched
    ParamSet out = c.theta.zeros_like(), start = c.theta.zeros_like();
    for (std::size_t b = 0; b < out.size(); ++b) {
      foldopt::fill_random(start[b].vec, 50 + b);
      VecCopy(start[b].vec, out[b].vec);
    }
    f.gradient_param_t(x, c.theta, v, out);
    for (std::size_t b = 0; b < out.size(); ++b) {
      if (std::find(c.blocks.begin(), c.blocks.end(), out[b].name) != c.blocks.end()) continue;
      EXPECT_EQ(foldopt_test::rel_diff(out[b].vec, start[b].vec), 0.0) << "block " << out[b].name << " was changed";
    }
    VecAXPY(out.get(name), -1.0, start.get(name));
    const VectorXd pt = to_eigen(out.get(name)), ptref = c.param_t_ref(name, xe, to_eigen(v));
    ASSERT_GT(ptref.norm(), 0.1);
    EXPECT_LT(rel(pt, ptref), 1e-12) << "gradient_param_t vs Eigen";
    // dot test: <(∂∇f/∂θ) dθ, v> = <dθ, (∂∇f/∂θ)ᵀ v>
    const double lhs = dot(y, v), rhs = dot(dth.get(name), out.get(name));
    PetscReal n1, n2, n3, n4;
    VecNorm(y, NORM_2, &n1);
    VecNorm(v, NORM_2, &n2);
    VecNorm(dth.get(name), NORM_2, &n3);
    VecNorm(out.get(name), NORM_2, &n4);
    EXPECT_LT(std::abs(lhs - rhs) / std::max(n1 * n2, n3 * n4), 1e-12) << "dot test " << lhs << " vs " << rhs;
  }
}

template <typename F>
void expect_error(F&& fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing '" << part << "'";
  } catch (const foldopt::Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

/// θ with the named instance blocks (B·n entries) plus an unrelated block "other".
ParamSet instance_params(const Layout& l, const std::vector<std::pair<std::string, unsigned long>>& blocks) {
  ParamSet th;
  for (const auto& b : blocks) th.add(b.first, random_vec(l.global(), b.second, l.local));
  th.add("other", random_vec(l.global(), 99, l.local));
  return th;
}

enum class Form { shared, block_diagonal };
const char* form_name(Form f) { return f == Form::shared ? "shared" : "block-diagonal"; }

// ---- quadratic --------------------------------------------------------------------------------

Case quadratic_case(PetscInt B, Form form, bool values = false) {
  Case c;
  const Layout l = make_layout(kN, B);
  OwnedMat H = form == Form::shared ? sym_matrix(kN, 1) : sym_matrix(kN, B);
  const MatrixXd Hd = gather_dense(H), Hb = form == Form::shared ? kron_eye(Hd, B) : Hd;
  c.f = foldopt::make_quadratic(l, H, "q");
  c.theta = instance_params(l, {{"q", 11}});
  c.x = random_vec(l.global(), 12, l.local);
  c.blocks = {"q"};
  if (values) {  // (∂∇f/∂H)ᵀv = v_i x_j on the pattern, summed over instances
    c.theta.add("H.values", values_of(H), foldopt::BlockKind::matrix_values, H);
    c.blocks.push_back("H.values");
  }
  const PetscInt S = form == Form::shared ? B : 1;
  c.value_ref = [Hb](const VectorXd& x, const ParamSet& th) {
    return 0.5 * x.dot(Hb * x) - to_eigen(th.get("q")).dot(x);
  };
  c.grad_ref = [Hb](const VectorXd& x, const ParamSet& th) -> VectorXd { return Hb * x - to_eigen(th.get("q")); };
  c.hess_ref = [Hb](const VectorXd&, const ParamSet&) -> MatrixXd { return Hb; };
  c.param_t_ref = [Hd, S](const std::string& b, const VectorXd& x, const VectorXd& v) -> VectorXd {
    if (b == "H.values") return outer_ref(Hd, v, x, S);
    return -v;
  };
  return c;
}

TEST(Objectives, Quadratic) {
  for (PetscInt B : {1, 3})
    for (Form form : {Form::shared, Form::block_diagonal}) {
      if (B == 1 && form == Form::block_diagonal) continue;
      SCOPED_TRACE(::testing::Message() << "B = " << B << ", H " << form_name(form));
      for (bool values : {false, true}) {
        SCOPED_TRACE(values ? "with block H.values" : "H fixed");
        Case c = quadratic_case(B, form, values);
        EXPECT_EQ(c.f->type(), "quadratic");
        check_case(c);
      }
    }
}

TEST(Objectives, QuadraticIdentityIsSparsemaxObjective) {
  for (PetscInt B : {1, 3}) {
    Case c;
    const Layout l = make_layout(kN, B);
    c.f = foldopt::make_quadratic(l, nullptr, "theta");
    c.theta = instance_params(l, {{"theta", 13}});
    c.x = random_vec(l.global(), 14, l.local);
    c.blocks = {"theta"};
    c.value_ref = [](const VectorXd& x, const ParamSet& th) { return 0.5 * x.squaredNorm() - to_eigen(th.get("theta")).dot(x); };
    c.grad_ref = [](const VectorXd& x, const ParamSet& th) -> VectorXd { return x - to_eigen(th.get("theta")); };
    c.hess_ref = [](const VectorXd& x, const ParamSet&) -> MatrixXd { return MatrixXd::Identity(x.size(), x.size()); };
    c.param_t_ref = [](const std::string&, const VectorXd&, const VectorXd& v) -> VectorXd { return -v; };
    EXPECT_EQ(c.f->curvature_bound(c.theta), 1.0);
    check_case(c);
  }
}

TEST(Objectives, QuadraticMatrixSplitAnyWayGivesTheSameOperator) {
  // All rows on rank 0 (a split unlike x's): the objective redistributes; a matrix split like x
  // that stores its diagonal is kept as it is (a reference, no copy).
  const Layout l = make_layout(kN, 1);
  OwnedMat odd = sym_matrix(kN, 1, foldopt_test::rank() == 0 ? kN : 0);
  auto f = foldopt::make_quadratic(l, odd, "q");
  ParamSet th = instance_params(l, {{"q", 3}});
  OwnedVec x = random_vec(kN, 4, l.local);
  OwnedMat H = f->hessian(x, th);
  MatrixXd ref = gather_dense(odd);
  EXPECT_LT(rel(gather_dense(H), ref), 1e-15);
  OwnedMat full = build_matrix(
      kN, kN, [](PetscInt i, PetscInt j) { return std::abs(i - j) <= 1; },
      [](PetscInt i, PetscInt j) { return i == j ? 3.0 : -1.0; });
  auto g = foldopt::make_quadratic(l, full, "q");
  OwnedMat H2 = g->hessian(x, th);
  EXPECT_EQ(H2.get(), full.get());
  // ‖H‖∞ from the data: rows of the band sum to at most 5
  EXPECT_DOUBLE_EQ(g->curvature_bound(th), 5.0);
}

// ---- linear -----------------------------------------------------------------------------------

TEST(Objectives, Linear) {
  for (PetscInt B : {1, 3}) {
    SCOPED_TRACE(::testing::Message() << "B = " << B);
    Case c;
    const Layout l = make_layout(kN, B);
    c.f = foldopt::make_linear(l, "c");
    c.theta = instance_params(l, {{"c", 15}});
    c.x = random_vec(l.global(), 16, l.local);
    c.blocks = {"c"};
    c.value_ref = [](const VectorXd& x, const ParamSet& th) { return -to_eigen(th.get("c")).dot(x); };
    c.grad_ref = [](const VectorXd&, const ParamSet& th) -> VectorXd { return -to_eigen(th.get("c")); };
    c.hess_ref = [](const VectorXd& x, const ParamSet&) -> MatrixXd { return MatrixXd::Zero(x.size(), x.size()); };
    c.param_t_ref = [](const std::string&, const VectorXd&, const VectorXd& v) -> VectorXd { return -v; };
    EXPECT_EQ(c.f->curvature_bound(c.theta), 0.0);
    check_case(c);
  }
}

// ---- entropy ----------------------------------------------------------------------------------

TEST(Objectives, Entropy) {
  const double eps = 0.7;
  for (PetscInt B : {1, 3}) {
    SCOPED_TRACE(::testing::Message() << "B = " << B);
    Case c;
    const Layout l = make_layout(kN, B);
    c.f = foldopt::make_entropy(l, eps, "c");
    c.theta = instance_params(l, {{"c", 17}});
    c.x = random_vec(l.global(), 18, l.local);
    VecAbs(c.x);
    VecShift(c.x, 0.2);  // x in [0.2, 1.2)
    c.blocks = {"c"};
    c.fd_h = 1e-6;
    c.value_ref = [eps](const VectorXd& x, const ParamSet& th) {
      return -to_eigen(th.get("c")).dot(x) + eps * (x.array() * x.array().log()).sum();
    };
    c.grad_ref = [eps](const VectorXd& x, const ParamSet& th) -> VectorXd {
      return -to_eigen(th.get("c")).array() + eps * (1 + x.array().log());
    };
    c.hess_ref = [eps](const VectorXd& x, const ParamSet&) -> MatrixXd { return (eps / x.array()).matrix().asDiagonal(); };
    c.param_t_ref = [](const std::string&, const VectorXd&, const VectorXd& v) -> VectorXd { return -v; };
    EXPECT_EQ(c.f->curvature_bound(c.theta), 0.0);  // none: unbounded near 0
    check_case(c);
  }
}

TEST(Objectives, EntropyEntriesBelowTheFloorAreAtTheBound) {
  const double eps = 2.0;
  const Layout l = make_layout(kN, 3);
  auto f = foldopt::make_entropy(l, eps, "c");
  ParamSet th = instance_params(l, {{"c", 19}});
  OwnedVec x = random_vec(l.global(), 20, l.local);
  VecAbs(x);
  VecShift(x, 0.1);
  // entries 3 (exactly 0), 10 (a subnormal, underflowed) and 11 (negative: outside the domain)
  PetscInt rs, re;
  VecGetOwnershipRange(x, &rs, &re);
  const std::vector<std::pair<PetscInt, double>> low = {{3, 0.0}, {10, 1e-310}, {11, -1e-3}};
  for (const auto& p : low)
    if (p.first >= rs && p.first < re) VecSetValue(x, p.first, p.second, INSERT_VALUES);
  VecAssemblyBegin(x);
  VecAssemblyEnd(x);
  const VectorXd xe = to_eigen(x), ce = to_eigen(th.get("c"));
  OwnedVec g = like(x), d = like(x), hv = like(x), one = like(x);
  const double fx = f->value_gradient(x, th, g);
  EXPECT_TRUE(std::isfinite(fx));
  f->hessian_diagonal(x, th, d);
  VecSet(one, 1.0);
  f->hessian_mult(x, th, one, hv);
  const VectorXd ge = to_eigen(g), de = to_eigen(d), hve = to_eigen(hv);
  const double at_floor = 1 + std::log(DBL_MIN);
  double vref = 0;
  for (Eigen::Index i = 0; i < xe.size(); ++i) {
    const bool below = xe[i] <= DBL_MIN;
    const double lx = below ? std::log(DBL_MIN) : std::log(xe[i]);
    vref += -ce[i] * xe[i] + eps * xe[i] * lx;
    EXPECT_NEAR(ge[i], -ce[i] + eps * (below ? at_floor : 1 + lx), 1e-12 * std::max(1.0, std::abs(ge[i]))) << i;
    EXPECT_EQ(de[i], below ? 0.0 : eps / xe[i]) << i;
    EXPECT_EQ(hve[i], de[i]) << i;
  }
  EXPECT_NEAR(fx, vref, 1e-12 * std::abs(vref));
  // a stepsize times the Hessian stays finite at the floor (no inf·0 = NaN in Φᵀ)
  OwnedMat H = f->hessian(x, th);
  MatScale(H, -1e300);
  MatShift(H, 1.0);
  MatrixXd He = gather_dense(H);
  EXPECT_TRUE(He.allFinite());
  for (const auto& p : low) EXPECT_EQ(He(p.first, p.first), 1.0);
}

// ---- least squares ----------------------------------------------------------------------------

Case least_squares_case(PetscInt B, Form form, bool values = false) {
  Case c;
  const Layout l = make_layout(kN, B);
  OwnedMat X = form == Form::shared ? x_matrix(kM, kN, 1) : x_matrix(kM, kN, B);
  const MatrixXd Xd = gather_dense(X), Xb = form == Form::shared ? kron_eye(Xd, B) : Xd;
  const PetscInt S = form == Form::shared ? B : 1;
  c.f = foldopt::make_least_squares(l, X, "y");
  ParamSet th;
  th.add("y", random_vec(B * kM, 21));  // PETSc's split of B·m
  th.add("other", random_vec(l.global(), 22, l.local));
  c.theta = std::move(th);
  c.x = random_vec(l.global(), 23, l.local);
  c.blocks = {"y"};
  if (values) {
    c.theta.add("X.values", values_of(X), foldopt::BlockKind::matrix_values, X);
    c.blocks.push_back("X.values");
  }
  const VectorXd ye = to_eigen(c.theta.get("y"));
  c.value_ref = [Xb](const VectorXd& x, const ParamSet& th) { return 0.5 * (Xb * x - to_eigen(th.get("y"))).squaredNorm(); };
  c.grad_ref = [Xb](const VectorXd& x, const ParamSet& th) -> VectorXd {
    return Xb.transpose() * (Xb * x - to_eigen(th.get("y")));
  };
  c.hess_ref = [Xb](const VectorXd&, const ParamSet&) -> MatrixXd { return Xb.transpose() * Xb; };
  c.param_t_ref = [Xb, Xd, ye, S](const std::string& b, const VectorXd& x, const VectorXd& v) -> VectorXd {
    if (b == "X.values") {  // G = r vᵀ + (Xv) xᵀ on the pattern, r = Xx − y
      const VectorXd r = Xb * x - ye, xv = Xb * v;
      return outer_ref(Xd, r, v, S) + outer_ref(Xd, xv, x, S);
    }
    return -(Xb * v);
  };
  return c;
}

TEST(Objectives, LeastSquares) {
  for (PetscInt B : {1, 3})
    for (Form form : {Form::shared, Form::block_diagonal}) {
      if (B == 1 && form == Form::block_diagonal) continue;
      SCOPED_TRACE(::testing::Message() << "B = " << B << ", X " << form_name(form));
      for (bool values : {false, true}) {
        SCOPED_TRACE(values ? "with block X.values" : "X fixed");
        Case c = least_squares_case(B, form, values);
        check_case(c);
      }
      Case c = least_squares_case(B, form);
      // the bound is the product of the norms of one instance's X (Eigen, independently)
      OwnedMat X = x_matrix(kM, kN, 1);
      const MatrixXd Xd = gather_dense(X);
      if (form == Form::shared) {
        const double n1 = Xd.cwiseAbs().colwise().sum().maxCoeff(), ninf = Xd.cwiseAbs().rowwise().sum().maxCoeff();
        EXPECT_NEAR(c.f->curvature_bound(c.theta), n1 * ninf, 1e-12 * n1 * ninf);
      }
    }
}

TEST(Objectives, LayoutSplitUnlikePetscDefault) {
  // x split 17/4 at np 2 (PETSc would split 11/10): square operators follow x's split, X keeps
  // PETSc's split of B·m for its rows (the y block's).
  for (PetscInt B : {1, 3}) {
    SCOPED_TRACE(::testing::Message() << "B = " << B);
    for (int which = 0; which < 2; ++which) {
      Case c = which == 0 ? quadratic_case(B, Form::shared) : least_squares_case(B, Form::shared);
      Layout l = make_layout(kN, B);
      l.local = foldopt_test::rank() == 0 ? l.global() - 4 * (foldopt_test::comm_size() - 1) : 4;
      OwnedMat A = which == 0 ? sym_matrix(kN, 1) : x_matrix(kM, kN, 1);
      c.f = which == 0 ? foldopt::make_quadratic(l, A, "q") : foldopt::make_least_squares(l, A, "y");
      // the same values, split like the layout
      auto resplit = [&](Vec v) {
        PetscInt N;
        VecGetSize(v, &N);
        if (N != l.global()) return OwnedVec::share(v);
        const VectorXd e = to_eigen(v);
        OwnedVec w = make_vec(N, l.local);
        PetscInt rs, re;
        VecGetOwnershipRange(w, &rs, &re);
        for (PetscInt i = rs; i < re; ++i) VecSetValue(w, i, e[i], INSERT_VALUES);
        VecAssemblyBegin(w);
        VecAssemblyEnd(w);
        return w;
      };
      ParamSet th;
      for (std::size_t b = 0; b < c.theta.size(); ++b) th.add(c.theta[b].name, resplit(c.theta[b].vec));
      c.theta = std::move(th);
      c.x = resplit(c.x);
      check_case(c);
    }
  }
}

TEST(Objectives, ValuesBlocksSetTheMatrix) {
  // X.values = 2·(values of X): the gradient is that of 2X, the caller's X is unchanged, and the
  // bound follows; a block of the wrong split is refused.
  for (PetscInt B : {1, 3}) {
    const Layout l = make_layout(kN, B);
    OwnedMat X = x_matrix(kM, kN, 1);
    const MatrixXd Xd = gather_dense(X), X2 = kron_eye(2 * Xd, B);
    auto f = foldopt::make_least_squares(l, X, "y");
    ParamSet th;
    th.add("y", random_vec(B * kM, 3));
    OwnedVec vals = values_of(X);
    VecScale(vals, 2.0);
    th.add("X.values", vals, foldopt::BlockKind::matrix_values, X);
    OwnedVec x = random_vec(l.global(), 4, l.local), g = like(x);
    f->value_gradient(x, th, g);
    const VectorXd xe = to_eigen(x), ye = to_eigen(th.get("y"));
    EXPECT_LT(rel(to_eigen(g), VectorXd(X2.transpose() * (X2 * xe - ye))), 1e-12);
    EXPECT_EQ((gather_dense(X) - Xd).norm(), 0.0);
    const double n1 = Xd.cwiseAbs().colwise().sum().maxCoeff(), ninf = Xd.cwiseAbs().rowwise().sum().maxCoeff();
    EXPECT_NEAR(f->curvature_bound(th), 4 * n1 * ninf, 1e-12 * n1 * ninf);
    // changed in place (same Vec, new state): followed
    VecScale(th.get("X.values"), 0.5);
    f->value_gradient(x, th, g);
    const MatrixXd X1 = kron_eye(Xd, B);
    EXPECT_LT(rel(to_eigen(g), VectorXd(X1.transpose() * (X1 * xe - ye))), 1e-12);
    if (foldopt_test::comm_size() > 1) {
      ParamSet bad;
      bad.add("y", random_vec(B * kM, 3));
      PetscInt nnz;
      VecGetSize(vals, &nnz);
      bad.add("X.values", make_vec(nnz, foldopt_test::rank() == 0 ? nnz : 0), foldopt::BlockKind::matrix_values, X);
      expect_error([&] { f->value_gradient(x, bad, g); }, "least_squares: X: block 'X.values' keeps");
    }
  }
}

TEST(Objectives, LeastSquaresHessianStoresItsDiagonal) {
  // X with an empty column: XᵀX has a zero diagonal entry there, stored, so I − αXᵀX can be formed
  for (PetscInt B : {1, 3}) {
    const Layout l = make_layout(kN, B);
    OwnedMat X = build_matrix(
        kM, kN, [](PetscInt i, PetscInt j) { return j != 3 && (i + j) % 2 == 0; },
        [](PetscInt i, PetscInt j) { return 1.0 + static_cast<double>(i + 2 * j); });
    auto f = foldopt::make_least_squares(l, X, "y");
    ParamSet th;
    th.add("y", random_vec(B * kM, 3));
    OwnedVec x = random_vec(l.global(), 4, l.local);
    OwnedMat H = f->hessian(x, th), A;
    PetscInt rs, re;
    MatGetOwnershipRange(H, &rs, &re);
    int missing = 0;
    for (PetscInt i = rs; i < re; ++i) {
      PetscInt nc;
      const PetscInt* c;
      MatGetRow(H, i, &nc, &c, nullptr);
      if (!std::binary_search(c, c + nc, i)) ++missing;
      MatRestoreRow(H, i, &nc, &c, nullptr);
    }
    EXPECT_EQ(missing, 0);
    MatDuplicate(H, MAT_COPY_VALUES, A.out());
    MatSetOption(A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE);
    ASSERT_EQ(MatScale(A, -0.1), 0);
    ASSERT_EQ(MatShift(A, 1.0), 0);
    const MatrixXd Xb = kron_eye(gather_dense(X), B);
    const MatrixXd ref = MatrixXd::Identity(l.global(), l.global()) - 0.1 * Xb.transpose() * Xb;
    EXPECT_LT(rel(gather_dense(A), ref), 1e-14);
    EXPECT_EQ(ref(3, 3), 1.0);
  }
}

// ---- sin_quadratic ----------------------------------------------------------------------------

TEST(Objectives, SinQuadratic) {
  for (PetscInt B : {1, 3})
    for (Form form : {Form::shared, Form::block_diagonal}) {
      if (B == 1 && form == Form::block_diagonal) continue;
      SCOPED_TRACE(::testing::Message() << "B = " << B << ", Q " << form_name(form));
      Case c;
      const Layout l = make_layout(kN, B);
      OwnedMat Q = form == Form::shared ? sym_matrix(kN, 1, PETSC_DECIDE, true) : sym_matrix(kN, B, PETSC_DECIDE, true);
      const MatrixXd Qb = form == Form::shared ? kron_eye(gather_dense(Q), B) : gather_dense(Q);
      c.f = foldopt::make_sin_quadratic(l, Q, "p");
      c.theta = instance_params(l, {{"p", 25}});
      VecScale(c.theta.get("p"), 12.0);  // |p| up to 12: enough to make ∇²f indefinite
      c.x = random_vec(l.global(), 26, l.local);
      VecScale(c.x, 2.0);
      c.blocks = {"p"};
      c.value_ref = [Qb](const VectorXd& x, const ParamSet& th) {
        return 0.5 * x.dot(Qb * x) + to_eigen(th.get("p")).dot(VectorXd(x.array().sin()));
      };
      c.grad_ref = [Qb](const VectorXd& x, const ParamSet& th) -> VectorXd {
        return Qb * x + VectorXd(to_eigen(th.get("p")).array() * x.array().cos());
      };
      c.hess_ref = [Qb](const VectorXd& x, const ParamSet& th) -> MatrixXd {
        return Qb - MatrixXd(VectorXd(to_eigen(th.get("p")).array() * x.array().sin()).asDiagonal());
      };
      c.param_t_ref = [](const std::string&, const VectorXd& x, const VectorXd& v) -> VectorXd {
        return x.array().cos() * v.array();
      };
      EXPECT_FALSE(c.f->capabilities().convex);
      check_case(c);
    }
}

// ---- callback ---------------------------------------------------------------------------------

TEST(Objectives, CallbackForwardsAndDefaultsToNoParameterProducts) {
  // f = Σ cosh(xᵢ) (user functions), no parameter products
  for (PetscInt B : {1, 3}) {
    const Layout l = make_layout(kN, B);
    foldopt::ObjectiveCallbacks cb;
    cb.value_gradient = [](Vec x, const ParamSet&, Vec g) {
      PetscInt n;
      VecGetLocalSize(x, &n);
      const PetscScalar* a;
      VecGetArrayRead(x, &a);
      double s = 0;
      for (PetscInt i = 0; i < n; ++i) s += std::cosh(PetscRealPart(a[i]));
      VecRestoreArrayRead(x, &a);
      if (g) {
        VecCopy(x, g);
        PetscScalar* b;
        VecGetArray(g, &b);
        for (PetscInt i = 0; i < n; ++i) b[i] = std::sinh(PetscRealPart(b[i]));
        VecRestoreArray(g, &b);
      }
      double all = 0;
      MPI_Allreduce(&s, &all, 1, MPI_DOUBLE, MPI_SUM, world());
      return all;
    };
    cb.hessian_mult = [](Vec x, const ParamSet&, Vec v, Vec y) {
      VecCopy(x, y);
      PetscInt n;
      VecGetLocalSize(y, &n);
      PetscScalar* b;
      VecGetArray(y, &b);
      for (PetscInt i = 0; i < n; ++i) b[i] = std::cosh(PetscRealPart(b[i]));
      VecRestoreArray(y, &b);
      VecPointwiseMult(y, y, v);
    };
    cb.curvature_bound = 0;
    auto f = foldopt::make_callback(l, cb);
    EXPECT_NE(f->describe().find("no parameter products"), std::string::npos) << f->describe();
    Case c;
    c.f = std::move(f);
    c.theta = instance_params(l, {});
    c.x = random_vec(l.global(), 27, l.local);
    c.value_ref = [](const VectorXd& x, const ParamSet&) { return x.array().cosh().sum(); };
    c.grad_ref = [](const VectorXd& x, const ParamSet&) -> VectorXd { return x.array().sinh(); };
    c.hess_ref = [](const VectorXd& x, const ParamSet&) -> MatrixXd { return VectorXd(x.array().cosh()).asDiagonal(); };
    check_case(c);
    // absent parameter products add nothing
    ParamSet out = c.theta.zeros_like();
    foldopt::fill_random(out.get("other"), 5);
    OwnedVec before = like(out.get("other")), v = random_vec(l.global(), 6, l.local);
    VecCopy(out.get("other"), before);
    c.f->gradient_param_t(c.x, c.theta, v, out);
    EXPECT_EQ(foldopt_test::rel_diff(out.get("other"), before), 0.0);
    expect_error([&] { c.f->hessian(c.x, c.theta); }, "objective 'callback' does not provide an assembled Hessian");
    expect_error([&] { c.f->hessian_diagonal(c.x, c.theta, v); }, "objective 'callback' does not provide the diagonal");
  }
}

TEST(Objectives, CallbackWithParameterProducts) {
  // f = ½‖x‖² − θᵀx + Σ θᵢ² xᵢ² / 2 : ∇f = x − θ + θ²∘x, ∂∇f/∂θ = diag(−1 + 2θ∘x)
  const Layout l = make_layout(kN, 3);
  foldopt::ObjectiveCallbacks cb;
  auto J = [](Vec x, const ParamSet& th) {  // −1 + 2θ∘x
    OwnedVec d = like(x);
    VecPointwiseMult(d, th.get("t"), x);
    VecScale(d, 2.0);
    VecShift(d, -1.0);
    return d;
  };
  cb.value_gradient = [](Vec x, const ParamSet& th, Vec g) {
    OwnedVec tx = like(x);
    VecPointwiseMult(tx, th.get("t"), x);
    const double f = 0.5 * dot(x, x) - dot(th.get("t"), x) + 0.5 * dot(tx, tx);
    if (g) {
      VecPointwiseMult(g, th.get("t"), tx);
      VecAXPY(g, 1.0, x);
      VecAXPY(g, -1.0, th.get("t"));
    }
    return f;
  };
  cb.hessian_mult = [](Vec, const ParamSet& th, Vec v, Vec y) {
    VecPointwiseMult(y, th.get("t"), th.get("t"));
    VecShift(y, 1.0);
    VecPointwiseMult(y, y, v);
  };
  cb.gradient_param_t = [J](Vec x, const ParamSet& th, Vec v, ParamSet& out) {
    OwnedVec d = J(x, th);
    VecPointwiseMult(d, d, v);
    VecAXPY(out.get("t"), 1.0, d);
  };
  cb.gradient_param = [J](Vec x, const ParamSet& th, const ParamSet& dth, Vec y) {
    OwnedVec d = J(x, th);
    VecPointwiseMult(d, d, dth.get("t"));
    VecAXPY(y, 1.0, d);
  };
  cb.curvature_bound = 2.0;  // 1 + θ² ≤ 2 for |θ| ≤ 1
  Case c;
  c.f = foldopt::make_callback(l, cb);
  EXPECT_EQ(c.f->describe().find("no parameter products"), std::string::npos);
  c.theta = instance_params(l, {{"t", 28}});
  c.x = random_vec(l.global(), 29, l.local);
  c.blocks = {"t"};
  c.value_ref = [](const VectorXd& x, const ParamSet& th) {
    const VectorXd t = to_eigen(th.get("t"));
    return 0.5 * x.squaredNorm() - t.dot(x) + 0.5 * (t.array() * x.array()).matrix().squaredNorm();
  };
  c.grad_ref = [](const VectorXd& x, const ParamSet& th) -> VectorXd {
    const VectorXd t = to_eigen(th.get("t"));
    return x - t + VectorXd(t.array() * t.array() * x.array());
  };
  c.hess_ref = [](const VectorXd&, const ParamSet& th) -> MatrixXd {
    const VectorXd t = to_eigen(th.get("t"));
    return VectorXd(1 + t.array() * t.array()).asDiagonal();
  };
  const VectorXd t_e = to_eigen(c.theta.get("t"));
  c.param_t_ref = [t_e](const std::string&, const VectorXd& x, const VectorXd& v) -> VectorXd {
    return (-1 + 2 * t_e.array() * x.array()) * v.array();
  };
  check_case(c);
}

// ---- registry, options, errors ---------------------------------------------------------------

TEST(Objectives, RegistryHasEveryObjective) {
  const std::vector<std::string> names = foldopt::objective_registry().names();
  for (const char* n : {"quadratic", "linear", "entropy", "least_squares", "sin_quadratic", "callback"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  foldopt::PartContext ctx;
  ctx.comm = world();
  ctx.layout = make_layout(kN, 3);
  ctx.prefix = "fold_objective_";
  expect_error([&] { foldopt::objective_registry().create("objective", "least_squares", ctx); }, "needs the matrix X");
  expect_error([&] { foldopt::objective_registry().create("objective", "callback", ctx); }, "needs the user's functions");
  expect_error([&] { foldopt::objective_registry().create("objective", "sin_quadratic", ctx); }, "needs the matrix Q");
  expect_error([&] { foldopt::objective_registry().create("objective", "cubic", ctx); }, "unknown objective 'cubic'");
  auto lin = foldopt::objective_registry().create("objective", "linear", ctx);
  EXPECT_EQ(lin->type(), "linear");
  EXPECT_EQ(lin->options_prefix(), "fold_objective_");
  auto q = foldopt::objective_registry().create("objective", "quadratic", ctx);  // no problem: H = I
  EXPECT_NE(q->describe().find("H = I"), std::string::npos) << q->describe();
}

TEST(Objectives, EntropyEpsilonFromOptions) {
  foldopt::PartContext ctx;
  ctx.comm = world();
  ctx.layout = make_layout(kN, 1);
  ctx.prefix = "fold_objective_";
  {
    foldopt_test::ScopedOptions o(Opts{{"-fold_objective_epsilon", "0.25"}});
    auto f = foldopt::objective_registry().create("objective", "entropy", ctx);
    f->set_from_options();
    EXPECT_NE(f->describe().find("epsilon 0.25"), std::string::npos) << f->describe();
    // and it is used: ∇²f = ε/x at x = 1
    ParamSet th = instance_params(ctx.layout, {{"c", 1}});
    OwnedVec x = make_vec(kN, ctx.layout.local), d = make_vec(kN, ctx.layout.local);
    VecSet(x, 1.0);
    f->hessian_diagonal(x, th, d);
    PetscReal mx, mn;
    VecMax(d, nullptr, &mx);
    VecMin(d, nullptr, &mn);
    EXPECT_EQ(mx, 0.25);
    EXPECT_EQ(mn, 0.25);
  }
  for (const char* bad : {"-1", "0", "abc"}) {
    foldopt_test::ScopedOptions o(Opts{{"-fold_objective_epsilon", bad}});
    auto f = foldopt::objective_registry().create("objective", "entropy", ctx);
    expect_error([&] { f->set_from_options(); }, "epsilon");
  }
  expect_error([&] { foldopt::make_entropy(ctx.layout, -0.5); }, "entropy: epsilon -0.5 must be positive");
}

TEST(Objectives, QuadraticByNameFromAQuadraticProblem) {
  // H from the problem's assembled Hessian; the gradient agrees with the problem's own and with
  // Eigen on its data.
  foldopt::BoxQPGenerator gen;
  gen.n = 9;
  gen.batch = 3;
  auto qp = foldopt::BoxQP::generate(world(), gen);
  foldopt::PartContext ctx;
  ctx.comm = world();
  ctx.problem = qp.get();
  ctx.layout = qp->layout();
  auto f = foldopt::objective_registry().create("objective", "quadratic", ctx);
  OwnedVec x = qp->create_vec(), g = qp->create_vec();
  foldopt::fill_random(x, 8);
  const double fx = f->value_gradient(x, qp->params(), g);
  const MatrixXd H = gather_dense(qp->H());
  const VectorXd xe = to_eigen(x), q = to_eigen(qp->params().get("q"));
  EXPECT_NEAR(fx, 0.5 * xe.dot(H * xe) - q.dot(xe), 1e-12 * std::abs(fx));
  EXPECT_LT(rel(to_eigen(g), VectorXd(H * xe - q)), 1e-12);
  EXPECT_DOUBLE_EQ(f->curvature_bound(qp->params()), H.cwiseAbs().rowwise().sum().maxCoeff());
}

/// A problem that is not quadratic (f = Σ cosh x), for the registry's refusal.
class CoshProblem : public foldopt::Problem {
 public:
  explicit CoshProblem(const Layout& l) : layout_(l) {}
  std::string type() const override { return "cosh"; }
  const Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "pgd"; }
  PetscReal objective_gradient(Vec, const ParamSet&, Vec) override { return 0; }
  void hessian_mult(Vec, const ParamSet&, Vec, Vec) override {}
  void gradient_param_t(Vec, const ParamSet&, Vec, ParamSet&) override {}
  void gradient_param(Vec, const ParamSet&, const ParamSet&, Vec) override {}

 private:
  Layout layout_;
  ParamSet theta_;
};

TEST(Objectives, ByNameFromAProblemThatIsNotQuadratic) {
  foldopt::PartContext ctx;
  ctx.comm = world();
  ctx.layout = make_layout(kN, 1);
  CoshProblem p(ctx.layout);
  ctx.problem = &p;
  expect_error([&] { foldopt::objective_registry().create("objective", "quadratic", ctx); },
               "objective 'quadratic' by name takes H from the problem, but problem 'cosh' is not quadratic");
  expect_error([&] { foldopt::objective_registry().create("objective", "sin_quadratic", ctx); }, "needs the matrix Q");
}

TEST(Objectives, BadInputsGiveOneClearError) {
  const Layout l = make_layout(kN, 3);
  OwnedVec x = random_vec(l.global(), 1, l.local), g = like(x);
  auto f = foldopt::make_quadratic(l, sym_matrix(kN, 1), "q");
  {
    ParamSet th;
    th.add("q", random_vec(l.global() + 1, 2));
    expect_error([&] { f->value_gradient(x, th, g); }, "quadratic: block 'q' has 22 entries, expected 21");
  }
  {
    ParamSet th;
    th.add("theta", random_vec(l.global(), 2, l.local));
    expect_error([&] { f->value_gradient(x, th, g); }, "quadratic:");
  }
  {
    // the right size, split unlike x (all on the last rank)
    ParamSet th;
    const int last = foldopt_test::comm_size() - 1;
    th.add("q", random_vec(l.global(), 2, foldopt_test::rank() == last ? l.global() : 0));
    if (foldopt_test::comm_size() > 1)
      expect_error([&] { f->value_gradient(x, th, g); }, "quadratic: block 'q' keeps");
  }
  OwnedMat nonsym = build_matrix(
      kN, kN, [](PetscInt i, PetscInt j) { return j == i || j == i + 1; }, [](PetscInt, PetscInt) { return 1.0; });
  expect_error([&] { foldopt::make_quadratic(l, nonsym, "q"); }, "quadratic: H: is not symmetric");
  expect_error([&] { foldopt::make_sin_quadratic(l, nonsym, "p"); }, "sin_quadratic: Q: is not symmetric");
  OwnedMat wide = x_matrix(kM, kN + 1, 1);
  expect_error([&] { foldopt::make_least_squares(l, wide, "y"); }, "least_squares: X: has 8 columns; expected n = 7");
  OwnedMat rect = x_matrix(kM, kN, 1);
  expect_error([&] { foldopt::make_quadratic(l, rect, "q"); }, "quadratic: H: is not square: 5 x 7");
  expect_error([&] { foldopt::make_least_squares(l, nullptr, "y"); }, "least_squares: X: no matrix given");
  foldopt::ObjectiveCallbacks none;
  expect_error([&] { foldopt::make_callback(l, none); }, "value_gradient and hessian_mult are required");
}

}  // namespace
