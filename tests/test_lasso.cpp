// The lasso problem min ½‖Xβ − y‖² + λ‖β‖₁ against references computed independently of the engine.
//
// Every reference gathers X, y and the solution β to every rank and works in Eigen:
//   optimality   c = Xᵀ(y − Xβ): c_S = λ sign β_S on the support S, |c_j| < λ off it, with a margin
//                (strictly inside the kinks, where β is differentiable);
//   closed forms with A = X_SᵀX_S, u = A⁻¹g_S, r = y − Xβ, s = sign β_S (from β_S = A⁻¹(X_Sᵀy − λs)):
//                ∂L/∂y = X_S u,  ∂L/∂λ = −uᵀs,  ∂L/∂X_ij = r_i u_j − (X_S u)_i β_j (j ∈ S, else 0)
//                on X's stored nonzeros, in global CSR order;
//   central finite differences of L = ⟨g, β*(θ)⟩, re-solving the forward problem.
// Every adjoint method (GMRES, BiCGStab, LFPI, the assembled Jacobian, CG on the symmetric form)
// must match the closed forms to 1e-9 and each other to 1e-8. A batch of 3 read from an m×3
// array equals three single solves. Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problems/lasso.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::FoldedLayer;
using foldopt::Lasso;
using foldopt::LassoGenerator;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::from_eigen;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr unsigned long kLossSeed = 42;

LassoGenerator instance(PetscInt n, PetscInt batch, unsigned long seed) {
  LassoGenerator gen;
  gen.n = n;
  gen.batch = batch;
  gen.seed = seed;
  gen.density = 0.1;
  return gen;
}

using foldopt_ref::pattern_of;

/// The dense reference of one solved instance (or batch), from gathered data only.
struct Reference {
  MatrixXd X;
  VectorXd y, beta, g;
  double lambda = 0;
  PetscInt n = 0, m = 0, batch = 1;
  std::vector<std::pair<int, int>> pattern;
  // per instance: support and the closed-form gradients
  std::vector<std::vector<int>> support;
  VectorXd dy, dX;  // dy: B·m; dX: on the pattern, summed over the instances
  double dlambda = 0;
  double min_support = 1e300, min_margin = 1e300, stationarity = 0;
};

Reference make_reference(Lasso& p, Vec beta, Vec g) {
  Reference r;
  r.X = foldopt_ref::gather_dense(p.X());
  r.pattern = pattern_of(p.X());
  r.y = foldopt_ref::to_eigen(p.params().get("y"));
  r.lambda = foldopt_ref::to_eigen(p.params().get("lambda"))[0];
  r.beta = foldopt_ref::to_eigen(beta);
  r.g = foldopt_ref::to_eigen(g);
  r.n = p.layout().n;
  r.m = p.rows();
  r.batch = p.layout().batch;
  r.dy = VectorXd::Zero(r.m * r.batch);
  r.dX = VectorXd::Zero(static_cast<Eigen::Index>(r.pattern.size()));
  for (PetscInt b = 0; b < r.batch; ++b) {
    const VectorXd yb = r.y.segment(b * r.m, r.m), bb = r.beta.segment(b * r.n, r.n), gb = r.g.segment(b * r.n, r.n);
    const VectorXd res = yb - r.X * bb, c = r.X.transpose() * res;
    std::vector<int> S;
    for (int i = 0; i < r.n; ++i)
      if (bb[i] != 0) S.push_back(i);
    r.support.push_back(S);
    const int k = static_cast<int>(S.size());
    MatrixXd XS(r.m, k);
    VectorXd s(k), gS(k), bS(k);
    for (int a = 0; a < k; ++a) {
      XS.col(a) = r.X.col(S[a]);
      s[a] = bb[S[a]] > 0 ? 1 : -1;
      gS[a] = gb[S[a]];
      bS[a] = bb[S[a]];
      r.min_support = std::min(r.min_support, std::abs(bb[S[a]]));
      r.stationarity = std::max(r.stationarity, std::abs(c[S[a]] - r.lambda * s[a]));
    }
    for (int i = 0; i < r.n; ++i)
      if (bb[i] == 0) r.min_margin = std::min(r.min_margin, (r.lambda - std::abs(c[i])) / r.lambda);
    if (k == 0) continue;
    const MatrixXd A = XS.transpose() * XS;
    const VectorXd u = A.ldlt().solve(gS), Xu = XS * u;
    r.dy.segment(b * r.m, r.m) = Xu;
    r.dlambda += -u.dot(s);
    std::vector<int> where(r.n, -1);
    for (int a = 0; a < k; ++a) where[S[a]] = a;
    for (std::size_t q = 0; q < r.pattern.size(); ++q) {
      const int i = r.pattern[q].first, j = r.pattern[q].second, a = where[j];
      if (a >= 0) r.dX[q] += res[i] * u[a] - Xu[i] * bS[a];
    }
  }
  return r;
}

/// The solution is a lasso minimizer, strictly inside the kinks (where the closed forms hold).
void expect_optimal(const Reference& r) {
  for (const auto& S : r.support) ASSERT_FALSE(S.empty()) << "every instance has a nonzero solution";
  EXPECT_LE(r.stationarity, 1e-9 * std::max(1.0, r.lambda)) << "X_S'(y - X b) = lambda sign b_S";
  EXPECT_GE(r.min_margin, 1e-3) << "|X_j'(y - X b)| < lambda off the support, by a margin";
  EXPECT_GE(r.min_support, 1e-6) << "support entries away from 0";
}

struct Method {
  const char* name;
  Options opts;
  const char* method;  // what the adjoint report must say was used
};

const std::vector<Method>& methods() {
  static const std::vector<Method> m = {
      {"gmres", {}, "krylov gmres"},
      {"bcgs", {{"-fold_ksp_type", "bcgs"}}, "krylov bcgs"},
      // LFPI contracts by ρ(Φ) ≈ 0.98 here: its error is the residual times ‖(I − Φᵀ)⁻¹‖, so it solves to 1e-12.
      {"lfpi", {{"-fold_ksp_type", "richardson"}, {"-fold_ksp_rtol", "1e-12"}}, "krylov richardson"},
      {"jacobian", {{"-fold_backward", "jacobian"}}, "jacobian"},
      {"symmetric_cg", {{"-fold_adjoint_form", "symmetric"}, {"-fold_ksp_type", "cg"}}, "cg"},
  };
  return m;
}

void expect_close(const VectorXd& got, const VectorXd& ref, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  ASSERT_GT(ref.norm(), 0) << what << ": the reference is zero";
  EXPECT_LE(foldopt_ref::rel_err(got, ref), tol) << what;
}

void expect_gradient(const ParamSet& grad, const Reference& r, double tol, const std::string& what) {
  expect_close(foldopt_ref::to_eigen(grad.get("y")), r.dy, tol, what + ": dL/dy");
  expect_close(foldopt_ref::to_eigen(grad.get("lambda")), VectorXd::Constant(1, r.dlambda), tol, what + ": dL/dlambda");
  expect_close(foldopt_ref::to_eigen(grad.get("X.values")), r.dX, tol, what + ": dL/dX.values");
}

// Forward at the default solver reaches the layer's fixed-point check at 1e-10; the solution
// satisfies the lasso optimality conditions; every method's gradient matches the closed forms and
// the others'.
TEST(Lasso, ForwardAndClosedFormGradients) {
  for (const LassoGenerator& gen : {instance(50, 1, 3), instance(120, 1, 8), instance(60, 2, 5)}) {
    std::unique_ptr<Lasso> p = Lasso::generate(PETSC_COMM_WORLD, gen);
    OwnedVec g = p->create_vec();
    foldopt::fill_random(g, kLossSeed);
    std::vector<std::vector<VectorXd>> all;
    for (const Method& m : methods()) {
      const std::string what = std::string(m.name) + " on n=" + std::to_string(gen.n) + " B=" + std::to_string(gen.batch);
      ScopedOptions so(m.opts);
      FoldedLayer layer(*p);
      layer.set_fixed_point_tolerance(1e-10);
      layer.set_from_options();
      Vec beta = layer.forward(p->params());
      EXPECT_EQ(layer.forward_report().solver, "fista") << "the default forward";
      ParamSet grad;
      ASSERT_NO_THROW(grad = layer.backward(g)) << what;
      EXPECT_GE(layer.fixed_point_residual(), 0);
      EXPECT_LE(layer.fixed_point_residual(), 1e-10) << what;
      const foldopt::AdjointReport& rep = layer.adjoint().report();
      EXPECT_TRUE(rep.converged) << what << ": " << rep.reason;
      EXPECT_NE(rep.method.find(m.method), std::string::npos) << what << ": " << rep.method;
      const Reference ref = make_reference(*p, beta, g);
      expect_optimal(ref);
      expect_gradient(grad, ref, 1e-9, what + " (" + rep.method + ")");
      const double err = std::max({foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("y")), ref.dy),
                                   foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("lambda")), VectorXd::Constant(1, ref.dlambda)),
                                   foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("X.values")), ref.dX)});
      if (foldopt_test::rank() == 0)
        std::printf("  %s: support %zu, margin %.3g, min |b_S| %.3g, fista %d it, fixed point %.1e, %s %d it, "
                    "closed-form error %.1e\n",
                    what.c_str(), ref.support[0].size(), ref.min_margin, ref.min_support,
                    (int)layer.forward_report().iterations, (double)layer.fixed_point_residual(), rep.method.c_str(),
                    (int)rep.iterations, err);
      all.push_back({foldopt_ref::to_eigen(grad.get("y")), foldopt_ref::to_eigen(grad.get("lambda")),
                     foldopt_ref::to_eigen(grad.get("X.values"))});
    }
    for (std::size_t k = 1; k < all.size(); ++k)
      for (int b = 0; b < 3; ++b)
        EXPECT_LE(foldopt_ref::rel_err(all[k][b], all[0][b]), 1e-8) << methods()[k].name << " vs gmres, block " << b;
  }
}

/// L = ⟨g, β*(θ)⟩ with a fresh forward solve.
double loss(FoldedLayer& layer, const ParamSet& theta, Vec g) {
  Vec beta = layer.forward(theta);
  PetscScalar d;
  VecDot(beta, g, &d);
  return PetscRealPart(d);
}

// Central differences of L along random directions of each block, against the layer's gradient;
// the X.values gradient also against the dense closed form (checked above in another test, here
// on its own instance).
TEST(Lasso, FiniteDifferences) {
  std::unique_ptr<Lasso> p = Lasso::generate(PETSC_COMM_WORLD, instance(40, 1, 11));
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  FoldedLayer layer(*p);
  layer.set_from_options();
  Vec beta = layer.forward(p->params());
  const Reference ref = make_reference(*p, beta, g);
  expect_optimal(ref);
  const ParamSet grad = layer.backward(g);
  expect_close(foldopt_ref::to_eigen(grad.get("X.values")), ref.dX, 1e-9, "dL/dX.values vs the closed form");

  FoldedLayer probe(*p);
  probe.set_from_options();
  const double eps = 1e-4;
  for (const char* block : {"X.values", "y", "lambda"}) {
    for (unsigned long dir = 1; dir <= 2; ++dir) {
      OwnedVec d;
      VecDuplicate(p->params().get(block), d.out());
      foldopt::fill_random(d, 100 + dir);
      ParamSet plus = p->params().copy(), minus = p->params().copy();
      VecAXPY(plus.get(block), eps, d);
      VecAXPY(minus.get(block), -eps, d);
      const double fd = (loss(probe, plus, g) - loss(probe, minus, g)) / (2 * eps);
      PetscScalar an;
      VecDot(grad.get(block), d, &an);
      ASSERT_GT(std::abs(fd), 1e-3) << block << ": a direction the loss does not see";
      EXPECT_NEAR(PetscRealPart(an), fd, 1e-6 * std::max(1.0, std::abs(fd))) << block << ", direction " << dir;
    }
  }
}

// A batch of 3 right-hand sides read from an m×3 array gives the three single solves' gradients
// per instance (y) and their sum for the shared blocks (lambda, X.values).
TEST(Lasso, BatchFromArrayEqualsSingles) {
  const std::string dir = foldopt_test::temp_dir("lasso_batch");
  ASSERT_FALSE(dir.empty());
  std::unique_ptr<Lasso> gen = Lasso::generate(PETSC_COMM_WORLD, instance(45, 3, 17));
  const double lambda = gen->lambda();
  const PetscInt m = gen->rows(), n = gen->layout().n;
  const std::string xfile = dir + "/X.mtx", yfile = dir + "/Y.mtx";
  {
    foldopt::io::OutputSet out(PETSC_COMM_WORLD);
    out.add(xfile, gen->X());
    out.add_batch(yfile, gen->params().get("y"), m);
    out.commit();
  }
  std::unique_ptr<Lasso> p = Lasso::load(PETSC_COMM_WORLD, xfile, yfile, lambda);
  ASSERT_EQ(p->layout().batch, 3);
  ASSERT_EQ(p->layout().n, n);
  const VectorXd Y = foldopt_ref::to_eigen(p->params().get("y"));
  EXPECT_LE(foldopt_ref::rel_err(Y, foldopt_ref::to_eigen(gen->params().get("y"))), 1e-15) << "y read back";
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  const VectorXd G = foldopt_ref::to_eigen(g);

  FoldedLayer layer(*p);
  layer.set_from_options();
  const VectorXd beta = foldopt_ref::to_eigen(layer.forward(p->params()));
  const ParamSet grad = layer.backward(g);
  const VectorXd dy = foldopt_ref::to_eigen(grad.get("y")), dX = foldopt_ref::to_eigen(grad.get("X.values"));
  const double dl = foldopt_ref::to_eigen(grad.get("lambda"))[0];

  double dl_sum = 0;
  VectorXd dX_sum = VectorXd::Zero(dX.size());
  for (PetscInt b = 0; b < 3; ++b) {
    OwnedVec yb = from_eigen(Y.segment(b * m, m)), gb = from_eigen(G.segment(b * n, n));
    Lasso single(p->X(), yb, 1, lambda);
    FoldedLayer sl(single);
    sl.set_from_options();
    const VectorXd bb = foldopt_ref::to_eigen(sl.forward(single.params()));
    const ParamSet gs = sl.backward(gb);
    const VectorXd dyb = foldopt_ref::to_eigen(gs.get("y"));
    ASSERT_GT(dyb.norm(), 0);
    EXPECT_LE(foldopt_ref::rel_err(beta.segment(b * n, n), bb), 1e-9) << "solution of instance " << b;
    EXPECT_LE(foldopt_ref::rel_err(dy.segment(b * m, m), dyb), 1e-8) << "dL/dy of instance " << b;
    dl_sum += foldopt_ref::to_eigen(gs.get("lambda"))[0];
    dX_sum += foldopt_ref::to_eigen(gs.get("X.values"));
  }
  ASSERT_GT(std::abs(dl_sum), 0);
  EXPECT_NEAR(dl, dl_sum, 1e-8 * std::abs(dl_sum)) << "dL/dlambda is the sum over the instances";
  expect_close(dX, dX_sum, 1e-8, "dL/dX.values is the sum over the instances");
}

// Generated data are the same at any number of ranks: the instance built on PETSC_COMM_SELF (every
// rank alone) equals the distributed one. The default λ is 0.1 min_b ‖Xᵀy_b‖∞ (checked in Eigen).
TEST(Lasso, GeneratedByGlobalIndex) {
  const LassoGenerator gen = instance(70, 2, 9);
  std::unique_ptr<Lasso> world = Lasso::generate(PETSC_COMM_WORLD, gen);
  std::unique_ptr<Lasso> self = Lasso::generate(PETSC_COMM_SELF, gen);
  const MatrixXd Xw = foldopt_ref::gather_dense(world->X()), Xs = foldopt_ref::gather_dense(self->X());
  ASSERT_EQ(Xw.rows(), 140);
  ASSERT_EQ(Xw.cols(), 70);
  EXPECT_EQ((Xw - Xs).norm(), 0.0);
  const VectorXd yw = foldopt_ref::to_eigen(world->params().get("y")), ys = foldopt_ref::to_eigen(self->params().get("y"));
  ASSERT_EQ(yw.size(), 280);
  EXPECT_EQ((yw - ys).norm(), 0.0) << "y is the same to the last bit";
  const VectorXd vw = foldopt_ref::to_eigen(world->params().get("X.values"));
  const std::vector<std::pair<int, int>> pat = pattern_of(world->X());
  ASSERT_EQ(vw.size(), static_cast<Eigen::Index>(pat.size()));
  for (std::size_t k = 0; k < pat.size(); ++k)
    EXPECT_EQ(vw[k], Xw(pat[k].first, pat[k].second)) << "X.values holds X's stored entries in CSR order, entry " << k;
  double lmax = 1e300;
  for (int b = 0; b < 2; ++b) lmax = std::min(lmax, (Xw.transpose() * yw.segment(b * 140, 140)).cwiseAbs().maxCoeff());
  ASSERT_GT(lmax, 0);
  EXPECT_NEAR(world->lambda(), 0.1 * lmax, 1e-13 * lmax);
  EXPECT_NEAR(foldopt_ref::to_eigen(world->params().get("lambda"))[0], world->lambda(), 0.0);
  EXPECT_EQ(self->lambda(), world->lambda());
  // Every column of X has an entry (m ≥ n) and the planted β* has a support.
  for (int j = 0; j < 70; ++j) EXPECT_GT(Xw.col(j).norm(), 0) << "column " << j;
  EXPECT_GT(foldopt_ref::to_eigen(world->planted()).cwiseAbs().maxCoeff(), 0.99);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// What `foldopt -problem lasso -n 50 -seed 3 -grad_out DIR/g.mtx` does, through the library: the
// registry builds the problem from the options, the layer solves and differentiates, one file per
// gradient block is written and reads back.
TEST(Lasso, CommandLinePath) {
  const std::string dir = foldopt_test::temp_dir("lasso_cli");
  ASSERT_FALSE(dir.empty());
  ScopedOptions so({{"-n", "50"}, {"-seed", "3"}});
  std::unique_ptr<foldopt::Problem> p = foldopt::problem_registry().create("problem", "lasso", PETSC_COMM_WORLD);
  ASSERT_EQ(p->type(), "lasso");
  ASSERT_EQ(p->layout().n, 50);
  EXPECT_EQ(p->default_forward(), "fista");
  EXPECT_EQ(p->default_map(), "prox_grad");
  ASSERT_EQ(p->data_matrices().size(), 1u);
  EXPECT_EQ(p->data_matrices()[0].first, "X");
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  const ParamSet grad = layer.backward(g);
  ASSERT_EQ(grad.names(), (std::vector<std::string>{"y", "lambda", "X.values"}));
  // Every rank agrees whether a gradient block's norm is cached: otherwise VecNorm reduces on some
  // ranks only (the program printing the norms hangs).
  for (std::size_t b = 0; b < grad.size(); ++b) {
    PetscBool cached = PETSC_FALSE;
    PetscReal value = 0;
    VecNormAvailable(grad[b].vec, NORM_2, &cached, &value);
    int mine = cached ? 1 : 0, lo = 0, hi = 0;
    MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
    MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
    ASSERT_EQ(lo, hi) << "the cached norm of gradient block " << grad[b].name << " differs between ranks";
  }
  for (std::size_t b = 0; b < grad.size(); ++b) {
    PetscReal nrm = -1;
    VecNorm(grad[b].vec, NORM_2, &nrm);
    EXPECT_NEAR(nrm, foldopt_ref::to_eigen(grad[b].vec).norm(), 1e-12 * nrm) << grad[b].name;
  }
  const std::string out = dir + "/g.mtx";
  {
    foldopt::io::OutputSet set(PETSC_COMM_WORLD);
    // An instance block's length is its own: y has m = 100 entries per instance (one instance).
    for (std::size_t b = 0; b < grad.size(); ++b) set.add_block(foldopt::io::block_path(out, grad[b].name), grad[b], 1);
    set.commit();
  }
  for (const char* b : {"y", "lambda", "X.values"}) EXPECT_TRUE(file_exists(dir + "/g." + b + ".mtx")) << b;
  OwnedVec lam = foldopt::io::read_vec(PETSC_COMM_WORLD, dir + "/g.lambda.mtx");
  const double got = foldopt_ref::to_eigen(lam)[0], want = foldopt_ref::to_eigen(grad.get("lambda"))[0];
  ASSERT_NE(want, 0.0);
  EXPECT_NEAR(got, want, 1e-14 * std::abs(want));
  PetscInt batch = 0;
  OwnedVec dy = foldopt::io::read_batch(PETSC_COMM_WORLD, dir + "/g.y.mtx", 100, &batch);
  EXPECT_EQ(batch, 1);
  EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(dy), foldopt_ref::to_eigen(grad.get("y"))), 1e-15);
  EXPECT_NO_THROW(p->view(PETSC_VIEWER_STDOUT_WORLD));
}

// Bad input: one clear error naming the input and the problem.
TEST(Lasso, Validation) {
  std::unique_ptr<Lasso> p = Lasso::generate(PETSC_COMM_WORLD, instance(20, 1, 2));
  auto message = [](auto f) {
    try {
      f();
    } catch (const foldopt::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  {  // y with the wrong number of rows
    OwnedVec y = from_eigen(VectorXd::Ones(39));
    const std::string msg = message([&] { Lasso bad(p->X(), y, 1, 0.1, "X.mtx", "y.mtx"); });
    EXPECT_NE(msg.find("y.mtx has 39 entries but X.mtx has 40 rows"), std::string::npos) << msg;
  }
  {  // a NaN in y
    VectorXd a = VectorXd::Ones(40);
    a[33] = std::nan("");
    OwnedVec y = from_eigen(a);
    const std::string msg = message([&] { Lasso bad(p->X(), y, 1, 0.1, "X", "y.mtx"); });
    EXPECT_NE(msg.find("y.mtx: entry 33 is NaN"), std::string::npos) << msg;
  }
  {  // λ negative or not finite
    OwnedVec y = from_eigen(VectorXd::Ones(40));
    for (double l : {-1.0, std::nan(""), (double)INFINITY}) {
      const std::string msg = message([&] { Lasso bad(p->X(), y, 1, l); });
      EXPECT_NE(msg.find("lambda"), std::string::npos) << msg;
      EXPECT_NE(msg.find("must be finite and >= 0"), std::string::npos) << msg;
    }
  }
  {  // a NaN in X; X = 0
    foldopt::OwnedMat X;
    MatDuplicate(p->X(), MAT_COPY_VALUES, X.out());
    PetscInt rstart, rend;
    MatGetOwnershipRange(X, &rstart, &rend);
    if (rstart <= 7 && 7 < rend) MatSetValue(X, 7, 7, std::nan(""), INSERT_VALUES);  // (i, i mod n) is always stored
    MatAssemblyBegin(X, MAT_FINAL_ASSEMBLY);
    MatAssemblyEnd(X, MAT_FINAL_ASSEMBLY);
    OwnedVec y = from_eigen(VectorXd::Ones(40));
    std::string msg = message([&] { Lasso bad(X, y, 1, 0.1, "X.mtx"); });
    EXPECT_NE(msg.find("X.mtx: entry (7, 7) is NaN"), std::string::npos) << msg;
    MatZeroEntries(X);
    msg = message([&] { Lasso bad(X, y, 1, 0.1, "X.mtx"); });
    EXPECT_NE(msg.find("X.mtx has no nonzero entry"), std::string::npos) << msg;
  }
  {  // -lambda on the command line
    ScopedOptions so({{"-n", "20"}, {"-lambda", "-0.5"}});
    const std::string msg = message([&] { Lasso::from_options(PETSC_COMM_WORLD); });
    EXPECT_NE(msg.find("-lambda"), std::string::npos) << msg;
  }
  {  // -y without -Xmat; -Xmat with generator options
    ScopedOptions so(Options{{"-y", "y.mtx"}});
    EXPECT_NE(message([&] { Lasso::from_options(PETSC_COMM_WORLD); }).find("-y needs -Xmat"), std::string::npos);
  }
  {
    ScopedOptions so({{"-Xmat", "X.mtx"}, {"-n", "5"}});
    EXPECT_NE(message([&] { Lasso::from_options(PETSC_COMM_WORLD); }).find("give one or the other"), std::string::npos);
  }
  {  // a y file whose rows are not X's
    const std::string dir = foldopt_test::temp_dir("lasso_bad");
    ASSERT_FALSE(dir.empty());
    OwnedVec y = from_eigen(VectorXd::Ones(30));
    {
      foldopt::io::OutputSet out(PETSC_COMM_WORLD);
      out.add(dir + "/X.mtx", p->X());
      out.add(dir + "/y.mtx", y.get());
      out.commit();
    }
    const std::string msg = message([&] { Lasso::load(PETSC_COMM_WORLD, dir + "/X.mtx", dir + "/y.mtx"); });
    EXPECT_NE(msg.find(dir + "/y.mtx"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the rows of " + dir + "/X.mtx"), std::string::npos) << msg;
  }
}

}  // namespace
