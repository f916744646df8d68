// The fixed-point minimum check (FoldedLayer, -fold_check_minimum, on by default): a fixed point
// where Φ has a real eigenvalue above 1 (negative curvature of the reduced Hessian: a saddle point
// or a maximum) is refused with the eigenvalue and the option that accepts it, or accepted with a
// warning under -fold_accept_nonminimum. References are closed forms and dense Eigen solves:
//   * Lanczos Ritz values of diag(1..n) after n steps are 1 and n; after fewer steps they lie
//     inside [λmin, λmax] of a dense eigensolve (Rayleigh quotients);
//   * H = −I with a box, x* = 0 (TAO stops at this maximum): Φ = I − αH = (1 + α)I, refused with
//     the eigenvalue 1 + α = 2, by the Lanczos path, the Arnoldi path (a map without stepsize
//     operator) and through the ρ estimate;
//   * an indefinite H (tridiagonal minus a shift) at its saddle point x* = 0: refused, the Ritz
//     value within [λmin(H), 0) of a dense eigensolve; accepted with a warning under the option;
//     the Arnoldi path (a map without stepsize operator) finds the saddle's eigenvalue too;
//   * a convex generated QP passes, its Ritz values inside the dense spectrum of H_FF, and through
//     the Arnoldi path, whose eigenvalue matches the dense 1 − αλmin(H_FF) within its bound;
//   * -fold_view reports the check;
//   * under -fold_stepsize lmax|auto the rule's Lanczos run decides: the saddle is refused by it,
//     the convex QP passes with no products of the check's own, its Ritz values in the dense
//     spectrum, and -fold_view names the rule and both Lanczos runs;
//   * a stepsize too large for LFPI (an eigenvalue of Φ below −1, ρ > 1) is not flagged.
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/spectral.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

/// The message of the foldopt::Error `f` throws (on every rank: checked), "" if none.
std::string error_of(const std::function<void()>& f) {
  std::string msg;
  int thrown = 0;
  try {
    f();
  } catch (const foldopt::Error& e) {
    thrown = 1;
    msg = e.what();
  }
  int all = 0;
  MPI_Allreduce(&thrown, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_EQ(all, thrown ? foldopt_test::comm_size() : 0) << "thrown on some ranks only: " << msg;
  return msg;
}

double number_after(const std::string& msg, const std::string& key) {
  const std::size_t p = msg.find(key);
  if (p == std::string::npos) return std::nan("");
  return std::strtod(msg.c_str() + p + key.size(), nullptr);
}

/// n×n tridiagonal: `diag` on the diagonal, `off` beside it.
OwnedMat tridiag(PetscInt n, double diag, double off) {
  OwnedMat H;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, n, 3, nullptr, 2, nullptr, H.out());
  PetscInt rstart, rend;
  MatGetOwnershipRange(H, &rstart, &rend);
  for (PetscInt i = rstart; i < rend; ++i) {
    MatSetValue(H, i, i, diag, INSERT_VALUES);
    if (off != 0 && i > 0) MatSetValue(H, i, i - 1, off, INSERT_VALUES);
    if (off != 0 && i + 1 < n) MatSetValue(H, i, i + 1, off, INSERT_VALUES);
  }
  MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY);
  return H;
}

OwnedVec constant(PetscInt n, double v) {
  OwnedVec x;
  VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, n, x.out());
  VecSet(x, v);
  return x;
}

/// min ½xᵀHx − qᵀx on [−1, 1]ⁿ with q = 0: x = 0 is stationary (a maximum for H = −I).
std::unique_ptr<BoxQP> qp_at_zero(Mat H) {
  PetscInt n;
  MatGetSize(H, &n, nullptr);
  OwnedVec q = constant(n, 0), lb = constant(n, -1), ub = constant(n, 1);
  return std::unique_ptr<BoxQP>(new BoxQP(H, q, lb, ub));
}

OwnedVec random_g(BoxQP& p, unsigned long seed = 42) {
  OwnedVec g = p.create_vec();
  foldopt::fill_random(g, seed);
  return g;
}

double min_eigenvalue(Mat H) {
  const Eigen::MatrixXd D = foldopt_ref::gather_dense(H);
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(D, Eigen::EigenvaluesOnly).eigenvalues()[0];
}

TEST(Minimum, LanczosRitzValues) {
  // diag(1..n): after n steps the Krylov space is everything: Ritz values are the eigenvalues.
  const PetscInt n = 30;
  OwnedMat A;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, n, 1, nullptr, 0, nullptr, A.out());
  PetscInt rstart, rend;
  MatGetOwnershipRange(A, &rstart, &rend);
  for (PetscInt i = rstart; i < rend; ++i) MatSetValue(A, i, i, (double)(i + 1), INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  const foldopt::RitzValues all = foldopt::lanczos_ritz_values(A, n);
  EXPECT_NEAR(all.lmin, 1.0, 1e-8);
  EXPECT_NEAR(all.lmax, (double)n, 1e-8);
  EXPECT_LE(all.products, n);
  // Five steps: Rayleigh quotients, strictly inside [1, n], already moving out to the ends.
  const foldopt::RitzValues few = foldopt::lanczos_ritz_values(A, 5);
  EXPECT_EQ(few.products, 5);
  EXPECT_GE(few.lmin, 1.0 - 1e-12);
  EXPECT_LE(few.lmax, (double)n + 1e-12);
  EXPECT_LT(few.lmin, 8.0);
  EXPECT_GT(few.lmax, 23.0);
  // A multiple of the identity: invariant after one step, the eigenvalue exactly.
  OwnedMat I = tridiag(12, -1.0, 0);
  const foldopt::RitzValues one = foldopt::lanczos_ritz_values(I, 20);
  EXPECT_TRUE(one.invariant);
  EXPECT_EQ(one.products, 1);
  EXPECT_NEAR(one.lmin, -1.0, 1e-14);
  EXPECT_NEAR(one.lmax, -1.0, 1e-14);
}

// H = −I on a box: TAO (the default forward) stops at x = 0, the maximum.
TEST(Minimum, MaximumRefusedWithEigenvalue) {
  OwnedMat H = tridiag(10, -1.0, 0);
  std::unique_ptr<BoxQP> p = qp_at_zero(H);
  FoldedLayer layer(*p);
  layer.set_from_options();
  Vec x = layer.forward(p->params());
  PetscReal xn;
  VecNorm(x, NORM_INFINITY, &xn);
  ASSERT_EQ(xn, 0.0) << "the forward is expected to stop at the stationary point x = 0";
  const double alpha = layer.map().stepsize();
  ASSERT_NEAR(alpha, 1.0, 1e-15);  // 1/‖H‖∞
  OwnedVec g = random_g(*p);
  const std::string msg = error_of([&] { layer.backward(g); });
  ASSERT_FALSE(msg.empty()) << "a maximum was not refused";
  for (const char* n : {"not a minimum: a saddle point or a maximum", "-fold_accept_nonminimum", "'tao'", "lanczos"})
    EXPECT_NE(msg.find(n), std::string::npos) << "'" << n << "' not in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  // Φ = (1 + α) I: its eigenvalue is 2, the curvature −1.
  EXPECT_NEAR(number_after(msg, "real eigenvalue "), 1 + alpha, 1e-5) << msg;
  EXPECT_NEAR(number_after(msg, "curvature "), -1.0, 1e-3) << msg;
  EXPECT_TRUE(layer.minimum_check().nonminimum);
  EXPECT_NEAR(layer.minimum_check().lambda, 2.0, 1e-12);
  EXPECT_LE(layer.minimum_check().products, 20);
}

// The same maximum seen by the ρ estimate (its eigenvalue is real, 2 > 1).
TEST(Minimum, MaximumFoundByRhoEstimate) {
  OwnedMat H = tridiag(10, -1.0, 0);
  std::unique_ptr<BoxQP> p = qp_at_zero(H);
  ScopedOptions so(Options{{"-fold_rho", ""}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  const std::string msg = error_of([&] { layer.backward(g); });
  EXPECT_NE(msg.find("rho(Phi) estimate"), std::string::npos) << msg;
  EXPECT_NEAR(number_after(msg, "real eigenvalue "), 2.0, 1e-5) << msg;
  EXPECT_NEAR(layer.rho_estimate().re, 2.0, 1e-8);
}

// A map without a stepsize operator: the general path (Arnoldi on Φᵀ) finds the eigenvalue 2.
TEST(Minimum, MaximumFoundByArnoldi) {
  OwnedMat H = tridiag(10, -1.0, 0);
  std::unique_ptr<BoxQP> p = qp_at_zero(H);
  FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
  layer.set_forward_callback([](const ParamSet&, Vec x, foldopt::ForwardReport&) { VecZeroEntries(x); });
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  const std::string msg = error_of([&] { layer.backward(g); });
  EXPECT_NE(msg.find("arnoldi"), std::string::npos) << msg;
  EXPECT_NEAR(number_after(msg, "real eigenvalue "), 2.0, 1e-3) << msg;
}

// An indefinite H at its saddle point x = 0 (all entries free): tridiag(2, −1) − 0.05 I has three
// negative eigenvalues among 50. Refused; the Ritz value lies in [λmin, 0); accepted with a
// warning under -fold_accept_nonminimum, which then returns the gradient.
TEST(Minimum, SaddleRefusedOrAccepted) {
  const PetscInt n = 50;
  OwnedMat H = tridiag(n, 2.0 - 0.05, -1.0);
  const double lmin = min_eigenvalue(H);
  ASSERT_LT(lmin, -0.04);
  std::unique_ptr<BoxQP> p = qp_at_zero(H);
  auto saddle = [](const ParamSet&, Vec x, foldopt::ForwardReport&) { VecZeroEntries(x); };
  OwnedVec g = random_g(*p);
  {
    FoldedLayer layer(*p);
    layer.set_forward_callback(saddle);
    layer.set_from_options();
    layer.forward(p->params());
    const std::string msg = error_of([&] { layer.backward(g); });
    EXPECT_NE(msg.find("not a minimum: a saddle point or a maximum"), std::string::npos) << msg;
    const foldopt::MinimumCheck& m = layer.minimum_check();
    EXPECT_TRUE(m.nonminimum);
    EXPECT_EQ(m.size, n);
    EXPECT_GE(m.curvature, lmin - 1e-10);  // a Ritz value: never below λmin
    EXPECT_LT(m.curvature, 0.0);
    EXPECT_NEAR(m.lambda, 1 - layer.map().stepsize() * m.curvature, 1e-14);
    EXPECT_GT(m.lambda, 1.0);
  }
  {
    ScopedOptions so(Options{{"-fold_accept_nonminimum", ""}});
    FoldedLayer layer(*p);
    layer.set_forward_callback(saddle);
    layer.set_from_options();
    layer.forward(p->params());
    ParamSet grad;
    EXPECT_NO_THROW(grad = layer.backward(g));
    EXPECT_TRUE(layer.minimum_check().nonminimum);
    // The gradient of the saddle point is still the solution of the folded system: ∂L/∂q = H⁻¹g.
    const Eigen::VectorXd ref = foldopt_ref::gather_dense(H).lu().solve(foldopt_ref::to_eigen(g));
    EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("q")), ref), 1e-8);
  }
  {
    // The general path (a map without stepsize operator: Arnoldi on Φᵀ) finds it too.
    FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
    layer.set_forward_callback(saddle);
    layer.set_from_options();
    layer.forward(p->params());
    const std::string msg = error_of([&] { layer.backward(g); });
    EXPECT_NE(msg.find("not a minimum"), std::string::npos) << msg;
    const foldopt::MinimumCheck& m = layer.minimum_check();
    if (foldopt_test::rank() == 0)
      std::printf("[ saddle arnoldi ] lambda %.6f +- %.1e (dense %.6f), %d products\n", (double)m.lambda, (double)m.error,
                  1 - layer.map().stepsize() * lmin, (int)m.products);
    EXPECT_LE(m.lambda, 1 - layer.map().stepsize() * lmin + m.error);
  }
  {
    // The check switched off: no refusal, no figures.
    ScopedOptions so(Options{{"-fold_check_minimum", "0"}});
    FoldedLayer layer(*p);
    layer.set_forward_callback(saddle);
    layer.set_from_options();
    layer.forward(p->params());
    EXPECT_NO_THROW(layer.backward(g));
    EXPECT_FALSE(layer.minimum_check().ran);
  }
}

// A convex generated QP passes; the Ritz values lie inside the dense spectrum of H_FF.
TEST(Minimum, ConvexPasses) {
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 7;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  EXPECT_NO_THROW(layer.backward(g));
  const foldopt::MinimumCheck& m = layer.minimum_check();
  ASSERT_TRUE(m.ran);
  EXPECT_FALSE(m.nonminimum);
  EXPECT_EQ(m.products, 20);
  const Eigen::VectorXd xs = foldopt_ref::to_eigen(p->known_solution());
  const foldopt_ref::ActiveSet set = foldopt_ref::classify(xs, foldopt_ref::to_eigen(p->params().get("lb")),
                                                           foldopt_ref::to_eigen(p->params().get("ub")));
  ASSERT_TRUE(set.ok);
  const Eigen::VectorXd lam = foldopt_ref::free_eigenvalues(foldopt_ref::gather_dense(p->H()), set);
  EXPECT_EQ(m.size, (PetscInt)set.free.size());
  EXPECT_GE(m.curvature, lam[0] - 1e-10);
  EXPECT_LE(m.curvature_max, lam[lam.size() - 1] + 1e-10);
  EXPECT_GT(m.curvature, 0.0);
  EXPECT_LT(m.lambda, 1.0);
}

// Under the Lanczos stepsize rules (-fold_stepsize lmax, auto) the check uses the rule's own run:
// a saddle is refused by the stepsize estimate, a convex QP passes without products of its own,
// with the same Ritz values inside the dense spectrum; -fold_view names rule, method and α.
TEST(Minimum, FromTheLanczosStepsizeEstimate) {
  const PetscInt n = 50;
  OwnedMat H = tridiag(n, 2.0 - 0.05, -1.0);
  const double lmin = min_eigenvalue(H);
  std::unique_ptr<BoxQP> sp = qp_at_zero(H);
  auto saddle = [](const ParamSet&, Vec x, foldopt::ForwardReport&) { VecZeroEntries(x); };
  for (const char* rule : {"lmax", "auto"}) {
    ScopedOptions so(Options{{"-fold_stepsize", rule}});
    FoldedLayer layer(*sp);
    layer.set_forward_callback(saddle);
    layer.set_from_options();
    layer.forward(sp->params());
    OwnedVec g = random_g(*sp);
    const std::string msg = error_of([&] { layer.backward(g); });
    EXPECT_NE(msg.find("not a minimum"), std::string::npos) << msg;
    const foldopt::MinimumCheck& m = layer.minimum_check();
    EXPECT_TRUE(m.nonminimum);
    EXPECT_NE(m.method.find("the stepsize estimate (Lanczos, -fold_stepsize " + std::string(rule) + ")"), std::string::npos)
        << m.method;
    EXPECT_GE(m.curvature, lmin - 1e-10);
    EXPECT_LT(m.curvature, 0.0);
  }
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 7;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  ScopedOptions so(Options{{"-fold_stepsize", "lmax"}, {"-fold_rho", ""}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  EXPECT_NO_THROW(layer.backward(g));
  const foldopt::MinimumCheck& m = layer.minimum_check();
  ASSERT_TRUE(m.ran);
  EXPECT_FALSE(m.nonminimum);
  EXPECT_EQ(m.products, 0);  // the stepsize rule's 20 Lanczos steps serve
  EXPECT_NE(m.method.find("the stepsize estimate's"), std::string::npos) << m.method;
  const Eigen::VectorXd xs = foldopt_ref::to_eigen(p->known_solution());
  const foldopt_ref::ActiveSet set = foldopt_ref::classify(xs, foldopt_ref::to_eigen(p->params().get("lb")),
                                                           foldopt_ref::to_eigen(p->params().get("ub")));
  ASSERT_TRUE(set.ok);
  const Eigen::VectorXd lam = foldopt_ref::free_eigenvalues(foldopt_ref::gather_dense(p->H()), set);
  EXPECT_EQ(m.size, (PetscInt)set.free.size());
  EXPECT_GE(m.curvature, lam[0] - 1e-10);
  EXPECT_LE(m.curvature_max, lam[lam.size() - 1] + 1e-10);
  EXPECT_GT(m.curvature, 0.0);
  const std::string dir = foldopt_test::temp_dir("minimum_lmax_view");
  const std::string file = dir + "/report.txt";
  PetscViewer v;
  ASSERT_EQ(PetscViewerASCIIOpen(PETSC_COMM_WORLD, file.c_str(), &v), 0);
  layer.view(v);
  PetscViewerDestroy(&v);
  MPI_Barrier(PETSC_COMM_WORLD);
  std::string text;
  if (std::FILE* f = std::fopen(file.c_str(), "r")) {
    char buf[4096];
    std::size_t k;
    while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, k);
    std::fclose(f);
  }
  EXPECT_NE(text.find("stepsize lmax (1/lmax)"), std::string::npos) << text;
  EXPECT_NE(text.find("20 Lanczos steps, 20 products"), std::string::npos) << text;
  EXPECT_NE(text.find("(lanczos on the stepsize operator, 40 steps, 40 products"), std::string::npos) << text;
  EXPECT_NE(text.find("stepsize " + std::to_string(layer.map().stepsize()).substr(0, 5)), std::string::npos) << text;
}

// The general path on a convex QP: not flagged, within its product budget; when it converged,
// its eigenvalue is the dense 1 − αλmin(H_FF).
TEST(Minimum, ConvexPassesArnoldi) {
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 7;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
  layer.set_from_options();
  layer.set_solution(p->params(), p->known_solution());
  OwnedVec g = random_g(*p);
  EXPECT_NO_THROW(layer.backward(g));
  const foldopt::MinimumCheck& m = layer.minimum_check();
  ASSERT_TRUE(m.ran);
  EXPECT_NE(m.method.find("arnoldi"), std::string::npos) << m.method;
  EXPECT_FALSE(m.nonminimum);
  EXPECT_GT(m.products, 0);
  EXPECT_LE(m.products, 2 * 20 + 1);
  const Eigen::VectorXd xs = foldopt_ref::to_eigen(p->known_solution());
  const foldopt_ref::ActiveSet set = foldopt_ref::classify(xs, foldopt_ref::to_eigen(p->params().get("lb")),
                                                           foldopt_ref::to_eigen(p->params().get("ub")));
  ASSERT_TRUE(set.ok);
  const Eigen::VectorXd lam = foldopt_ref::free_eigenvalues(foldopt_ref::gather_dense(p->H()), set);
  const double ref = 1 - layer.map().stepsize() * lam[0];
  if (foldopt_test::rank() == 0)
    std::printf("[ arnoldi ] %s: lambda %.8f +- %.1e (dense %.8f), %d products\n", m.conclusive ? "converged" : "inconclusive",
                (double)m.lambda, (double)m.error, ref, (int)m.products);
  EXPECT_TRUE(m.conclusive);
  EXPECT_NEAR(m.lambda, ref, m.error + 1e-8);
}

// -fold_view reports the check: its method, products and verdict.
TEST(Minimum, ReportedByView) {
  BoxQPGenerator gen;
  gen.n = 100;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  layer.backward(g);
  const std::string dir = foldopt_test::temp_dir("minimum_view");
  const std::string file = dir + "/report.txt";
  PetscViewer v;
  ASSERT_EQ(PetscViewerASCIIOpen(PETSC_COMM_WORLD, file.c_str(), &v), 0);
  layer.view(v);
  PetscViewerDestroy(&v);
  MPI_Barrier(PETSC_COMM_WORLD);
  std::string text;
  if (std::FILE* f = std::fopen(file.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  EXPECT_NE(text.find("minimum check: lanczos on the stepsize operator"), std::string::npos) << text;
  EXPECT_NE(text.find("20 products"), std::string::npos) << text;
  EXPECT_NE(text.find("no negative curvature found"), std::string::npos) << text;
}

// A stepsize too large for LFPI: Φ has an eigenvalue below −1 (ρ > 1), which is no sign of a
// non-minimum: not flagged, and GMRES still solves the folded system.
TEST(Minimum, EigenvalueBelowMinusOneNotFlagged) {
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 7;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  const Eigen::VectorXd xs = foldopt_ref::to_eigen(p->known_solution());
  const foldopt_ref::ActiveSet set = foldopt_ref::classify(xs, foldopt_ref::to_eigen(p->params().get("lb")),
                                                           foldopt_ref::to_eigen(p->params().get("ub")));
  ASSERT_TRUE(set.ok);
  const Eigen::VectorXd lam = foldopt_ref::free_eigenvalues(foldopt_ref::gather_dense(p->H()), set);
  const double alpha = 2.5 / lam[lam.size() - 1];  // 1 − αλmax = −1.5
  ScopedOptions so(Options{{"-fold_rho", ""}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.map().set_stepsize(alpha);
  layer.set_solution(p->params(), p->known_solution());
  OwnedVec g = random_g(*p);
  EXPECT_NO_THROW(layer.backward(g));
  ASSERT_TRUE(layer.rho_estimate().converged);
  EXPECT_NEAR(layer.rho_estimate().re, 1 - alpha * lam[lam.size() - 1], 1e-2);
  EXPECT_GT(layer.rho_estimate().rho, 1.4);
  EXPECT_FALSE(foldopt::rho_shows_nonminimum(layer.rho_estimate()));
  EXPECT_TRUE(layer.minimum_check().ran);
  EXPECT_FALSE(layer.minimum_check().nonminimum);
  EXPECT_TRUE(layer.adjoint().report().converged);
}

}  // namespace
