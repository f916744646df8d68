// The cheap spectral work of a prox-gradient map (-fold_stepsize auto|lmax|optimal, -fold_rho_type
// lanczos|eps) on generated box-QPs and a lasso, against dense Eigen eigensolves of the free-set
// Hessian H_FF (the free set from the known solution, or from the support of x* for the lasso):
//   * lmax (and auto, the default automatic rule, which is the same) picks α ∈ [1/λmax, 2/λmax)
//     of Eigen's λmax;
//   * LFPI (richardson, no preconditioner) converges at α_lmax in at most 2× (+ 3) the iterations
//     it takes at the optimal α = 2/(λmin + λmax), both counted, and the optimal rule's α is
//     2/(λmin + λmax) of Eigen to 1e-3 (also in test_checks.cpp);
//   * the Lanczos ρ range [rho − error, rho + error] contains the dense ρ(Φ) = max|1 − αλ(H_FF)|,
//     its lower end is below it, and a map without a stepsize operator falls back to SLEPc (eps);
//   * the Ritz residuals: after n steps on diag(1..n) the extreme Ritz pairs are exact (residual
//     ≈ 0); after few steps θmax + err_max bounds the dense λmax;
//   * bad values are refused: -fold_stepsize bogus, -fold_stepsize_lanczos_steps 0,
//     -fold_rho_type bogus, -fold_rho_lanczos_steps 0.
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/problems/lasso.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/spectral.hpp>

#include <cmath>
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
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

std::unique_ptr<BoxQP> make_problem(PetscInt n = 400, unsigned long seed = 7) {
  BoxQPGenerator gen;
  gen.n = n;
  gen.seed = seed;
  return BoxQP::generate(PETSC_COMM_WORLD, gen);
}

/// Eigenvalues (ascending) of H_FF for the free set of the box-QP's known solution.
VectorXd free_spectrum(BoxQP& p) {
  const MatrixXd H = foldopt_ref::gather_dense(p.H());
  const foldopt_ref::ActiveSet set =
      foldopt_ref::classify(foldopt_ref::to_eigen(p.known_solution()), foldopt_ref::to_eigen(p.params().get("lb")),
                            foldopt_ref::to_eigen(p.params().get("ub")));
  EXPECT_TRUE(set.ok);
  return foldopt_ref::free_eigenvalues(H, set);
}

OwnedVec random_g(foldopt::Problem& p, unsigned long seed = 42) {
  OwnedVec g = p.create_vec();
  foldopt::fill_random(g, seed);
  return g;
}

/// A layer on `p` under `opts`, after one forward and one backward.
struct LayerRun {
  std::unique_ptr<FoldedLayer> layer;
  double alpha = 0;
  PetscInt iterations = 0;
  bool converged = false;
};
LayerRun run_layer(foldopt::Problem& p, const Options& opts) {
  ScopedOptions so(opts);
  LayerRun r;
  r.layer.reset(new FoldedLayer(p));
  r.layer->set_from_options();
  r.layer->forward(p.params());
  OwnedVec g = random_g(p);
  r.layer->backward(g);
  r.alpha = r.layer->map().stepsize();
  r.iterations = r.layer->adjoint().report().iterations;
  r.converged = r.layer->adjoint().report().converged;
  return r;
}

double dense_rho(const VectorXd& lam, double alpha) {
  return std::max(std::abs(1 - alpha * lam[0]), std::abs(1 - alpha * lam[lam.size() - 1]));
}

TEST(Stepsize, LmaxWithinOneToTwoOverLambdaMax) {
  for (unsigned long seed : {7ul, 3ul}) {
    std::unique_ptr<BoxQP> p = make_problem(400, seed);
    const VectorXd lam = free_spectrum(*p);
    const double lmax = lam[lam.size() - 1];
    for (const char* rule : {"lmax", "auto"}) {
      LayerRun r = run_layer(*p, {{"-fold_stepsize", rule}});
      EXPECT_GE(r.alpha, 1 / lmax * (1 - 1e-12)) << rule << " seed " << seed;
      EXPECT_LT(r.alpha, 2 / lmax) << rule << " seed " << seed;
      const foldopt::ExtremeEigenvalues& se = r.layer->stepsize_estimate();
      EXPECT_EQ(se.method, "lanczos");
      EXPECT_EQ(se.steps, 20);
      EXPECT_EQ(se.products, 20);
      // The Ritz values lie inside the spectrum; θmax + residual bounds λmax here.
      EXPECT_LE(se.lmax, lmax * (1 + 1e-12));
      EXPECT_GE(se.lmin, lam[0] * (1 - 1e-12));
      EXPECT_GE(se.lmax + se.err_max, lmax * (1 - 1e-12));
    }
  }
  // Fewer steps: still a stepsize below 2/λmax.
  std::unique_ptr<BoxQP> p = make_problem(400, 7);
  const VectorXd lam = free_spectrum(*p);
  LayerRun r = run_layer(*p, {{"-fold_stepsize", "lmax"}, {"-fold_stepsize_lanczos_steps", "3"}});
  EXPECT_EQ(r.layer->stepsize_estimate().steps, 3);
  EXPECT_LT(r.alpha, 2 / lam[lam.size() - 1]);
  EXPECT_GT(r.alpha, 0);
}

/// FoldStepsize events (the rule's Lanczos runs) PETSc logged under `stage` so far.
int stepsize_events(PetscLogStage stage) { return foldopt_test::event_count("FoldStepsize", stage); }

// The rule's estimate is kept while H_FF is unchanged (the same H, values and free set: a second
// backward at the same θ runs no Lanczos and keeps α), and renewed when H's values change: with
// H and q both doubled x* and the free set stay, λ(H_FF) doubles, and α lies in [1/λmax, 2/λmax)
// of the doubled dense spectrum.
TEST(Stepsize, KeptWhileOperatorUnchanged) {
  std::unique_ptr<BoxQP> p = make_problem(400, 7);
  const VectorXd lam = free_spectrum(*p);
  const double lmax = lam[lam.size() - 1];
  ScopedOptions so(Options{{"-fold_stepsize", "lmax"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  PetscLogStage stage;
  PetscLogDefaultBegin();  // event counts
  PetscLogStageRegister("stepsize kept", &stage);
  OwnedVec g = random_g(*p);
  auto run = [&](const foldopt::ParamSet& theta) {
    layer.forward(theta);
    PetscLogStagePush(stage);
    layer.backward(g);
    PetscLogStagePop();
    return layer.map().stepsize();
  };
  const double a1 = run(p->params());
  EXPECT_EQ(stepsize_events(stage), 1);
  EXPECT_GE(a1, 1 / lmax * (1 - 1e-12));
  EXPECT_LT(a1, 2 / lmax);
  const double a2 = run(p->params());
  EXPECT_EQ(stepsize_events(stage), 1) << "the same operator: no second Lanczos run";
  EXPECT_EQ(a2, a1);
  foldopt::ParamSet theta = p->params().copy();
  ASSERT_TRUE(theta.has("H.values"));
  VecScale(theta.get("H.values"), 2.0);
  VecScale(theta.get("q"), 2.0);
  const double a3 = run(theta);
  EXPECT_EQ(stepsize_events(stage), 2) << "new values of H: a new estimate";
  EXPECT_GE(a3, 1 / (2 * lmax) * (1 - 1e-12));
  EXPECT_LT(a3, 2 / (2 * lmax));
  EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(layer.solution()), foldopt_ref::to_eigen(p->known_solution())), 1e-8);
}

// The minimum check under the fixed rule (its own Lanczos run on H_FF) is kept for a second
// backward at the same θ (no products), and runs again when H's values change: with H and q
// doubled (x* and the free set unchanged) its curvature range doubles, against Eigen's.
TEST(Stepsize, MinimumCheckKeptWhileOperatorUnchanged) {
  std::unique_ptr<BoxQP> p = make_problem(400, 7);
  const VectorXd lam = free_spectrum(*p);
  FoldedLayer layer(*p);
  layer.set_from_options();
  OwnedVec g = random_g(*p);
  layer.forward(p->params());
  layer.backward(g);
  const foldopt::MinimumCheck first = layer.minimum_check();
  ASSERT_TRUE(first.ran);
  EXPECT_GT(first.products, 0);
  EXPECT_EQ(first.method.find("kept"), std::string::npos);
  EXPECT_GE(first.curvature, lam[0] * (1 - 1e-12));
  EXPECT_LE(first.curvature_max, lam[lam.size() - 1] * (1 + 1e-12));
  layer.forward(p->params());
  layer.backward(g);
  EXPECT_NE(layer.minimum_check().method.find("kept"), std::string::npos) << layer.minimum_check().method;
  EXPECT_EQ(layer.minimum_check().products, 0);
  EXPECT_EQ(layer.minimum_check().curvature, first.curvature);
  foldopt::ParamSet theta = p->params().copy();
  VecScale(theta.get("H.values"), 2.0);
  VecScale(theta.get("q"), 2.0);
  layer.forward(theta);
  layer.backward(g);
  const foldopt::MinimumCheck third = layer.minimum_check();
  EXPECT_EQ(third.method.find("kept"), std::string::npos);
  EXPECT_GT(third.products, 0);
  EXPECT_GE(third.curvature, 2 * lam[0] * (1 - 1e-12));
  EXPECT_LE(third.curvature_max, 2 * lam[lam.size() - 1] * (1 + 1e-12));
  EXPECT_NEAR(third.curvature, 2 * first.curvature, 1e-10 * std::abs(first.curvature));
}

TEST(Stepsize, LfpiAtLmaxWithinTwiceOptimal) {
  std::unique_ptr<BoxQP> p = make_problem(400, 7);
  const VectorXd lam = free_spectrum(*p);
  const double lmin = lam[0], lmax = lam[lam.size() - 1];
  const Options lfpi = {{"-fold_ksp_type", "richardson"}, {"-fold_pc_type", "none"}, {"-fold_ksp_rtol", "1e-8"},
                        {"-fold_ksp_max_it", "5000"}};
  Options a = lfpi, b = lfpi;
  a.push_back({"-fold_stepsize", "lmax"});
  b.push_back({"-fold_stepsize", "optimal"});
  LayerRun at_lmax = run_layer(*p, a), at_opt = run_layer(*p, b);
  ASSERT_TRUE(at_lmax.converged);
  ASSERT_TRUE(at_opt.converged);
  EXPECT_NEAR(at_opt.alpha, 2 / (lmin + lmax), 1e-3 * 2 / (lmin + lmax));
  EXPECT_GT(at_opt.iterations, 5);
  EXPECT_LE(at_lmax.iterations, 2 * at_opt.iterations + 3)
      << "LFPI at alpha " << at_lmax.alpha << ": " << at_lmax.iterations << " iterations, at the optimal " << at_opt.alpha
      << ": " << at_opt.iterations;
  // The larger ρ at α_lmax costs iterations (the count is not a constant).
  EXPECT_GT(at_lmax.iterations, at_opt.iterations);
  EXPECT_LT(dense_rho(lam, at_lmax.alpha), 1);
  if (foldopt_test::rank() == 0)
    std::printf("  LFPI: alpha_lmax %.6g -> %d iterations, alpha_opt %.6g -> %d iterations (kappa %.3g)\n",
                at_lmax.alpha, (int)at_lmax.iterations, at_opt.alpha, (int)at_opt.iterations, lmax / lmin);
}

TEST(Stepsize, LanczosRhoRangeContainsDense) {
  for (unsigned long seed : {7ul, 3ul}) {
    std::unique_ptr<BoxQP> p = make_problem(400, seed);
    const VectorXd lam = free_spectrum(*p);
    for (const Options& o : {Options{}, Options{{"-fold_stepsize", "lmax"}}, Options{{"-fold_rho_lanczos_steps", "80"}}}) {
      LayerRun r = run_layer(*p, o);
      ScopedOptions so(o);
      const foldopt::RhoEstimate& e = r.layer->estimate_rho();
      EXPECT_EQ(e.method, "lanczos");
      ASSERT_TRUE(e.converged);
      const double ref = dense_rho(lam, r.alpha);
      EXPECT_LE(e.rho - e.error, ref + 1e-12) << "lower end, seed " << seed;
      EXPECT_GE(e.rho + e.error, ref - 1e-12) << "upper end, seed " << seed;
      EXPECT_GT(e.products, 0);
      EXPECT_LT(e.error, 0.5 * (1 - ref) + 1e-3) << "a useful range";
    }
  }
}

TEST(Stepsize, LassoLmaxAndRho) {
  foldopt::LassoGenerator gen;
  gen.n = 120;
  gen.seed = 8;
  std::unique_ptr<foldopt::Lasso> p = foldopt::Lasso::generate(PETSC_COMM_WORLD, gen);
  LayerRun r = run_layer(*p, {{"-fold_stepsize", "lmax"}, {"-fold_check_fixed_point", "1e-6"}});
  if (r.layer->stepsize_estimate().method.empty()) GTEST_SKIP() << "the lasso's map declares no stepsize operator";
  // Dense reference: the Hessian on the support of x* (the l1 prox's free set).
  Vec x = r.layer->solution();
  const VectorXd xs = foldopt_ref::to_eigen(x);
  OwnedMat H = p->hessian(x, p->params());
  ASSERT_TRUE(H);
  const MatrixXd Hd = foldopt_ref::gather_dense(H);
  std::vector<Eigen::Index> sup;
  for (Eigen::Index i = 0; i < xs.size(); ++i)
    if (xs[i] != 0) sup.push_back(i);
  ASSERT_GT(sup.size(), 1u);
  MatrixXd Hf((Eigen::Index)sup.size(), (Eigen::Index)sup.size());
  for (std::size_t i = 0; i < sup.size(); ++i)
    for (std::size_t j = 0; j < sup.size(); ++j) Hf((Eigen::Index)i, (Eigen::Index)j) = Hd(sup[i], sup[j]);
  const VectorXd lam = Eigen::SelfAdjointEigenSolver<MatrixXd>(Hf, Eigen::EigenvaluesOnly).eigenvalues();
  const double lmax = lam[lam.size() - 1];
  EXPECT_GE(r.alpha, 1 / lmax * (1 - 1e-12));
  EXPECT_LT(r.alpha, 2 / lmax);
  const foldopt::RhoEstimate& e = r.layer->estimate_rho();
  EXPECT_EQ(e.method, "lanczos");
  const double ref = dense_rho(lam, r.alpha);
  EXPECT_LE(e.rho - e.error, ref + 1e-12);
  EXPECT_GE(e.rho + e.error, ref - 1e-12);
}

TEST(Stepsize, RhoFallsBackToEpsWithoutStepsizeOperator) {
  std::unique_ptr<BoxQP> p = make_problem(100, 7);
  const VectorXd lam = free_spectrum(*p);
  FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = random_g(*p);
  layer.backward(g);
  const foldopt::RhoEstimate& e = layer.estimate_rho();
  EXPECT_EQ(e.method, "eps");
  ASSERT_TRUE(e.converged);
  EXPECT_LE(std::abs(e.rho - dense_rho(lam, layer.map().stepsize())), e.error + 1e-12);
}

TEST(Stepsize, RitzResiduals) {
  const PetscInt n = 60;
  OwnedMat A;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, n, 1, nullptr, 0, nullptr, A.out());
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) MatSetValue(A, i, i, (double)(i + 1), INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  const foldopt::RitzValues all = foldopt::lanczos_ritz_values(A, n);
  EXPECT_NEAR(all.lmin, 1, 1e-8);
  EXPECT_NEAR(all.lmax, n, 1e-8 * n);
  EXPECT_LE(all.err_max, 1e-6 * n);
  const foldopt::RitzValues few = foldopt::lanczos_ritz_values(A, 8);
  EXPECT_LE(few.lmax, n * (1 + 1e-12));
  EXPECT_GT(few.err_max, 0);
  // The residual bound: some eigenvalue k of diag(1..n) lies within err of each extreme Ritz value.
  const double kmax = std::min<double>(n, std::round(few.lmax)), kmin = std::max(1.0, std::round(few.lmin));
  EXPECT_LE(std::abs(few.lmax - kmax), few.err_max + 0.5);
  EXPECT_LE(std::abs(few.lmin - kmin), few.err_min + 0.5);
  EXPECT_GE(few.lmax + few.err_max, n * (1 - 1e-12));
}

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

TEST(Stepsize, BadValuesRefused) {
  std::unique_ptr<BoxQP> p = make_problem(16);
  const std::vector<std::pair<Options, std::vector<std::string>>> cases = {
      {{{"-fold_stepsize", "bogus"}}, {"-fold_stepsize", "bogus"}},
      {{{"-fold_stepsize_lanczos_steps", "0"}}, {"-fold_stepsize_lanczos_steps", "0"}},
      {{{"-fold_rho_type", "bogus"}}, {"-fold_rho_type", "bogus"}},
      {{{"-fold_rho_lanczos_steps", "0"}}, {"-fold_rho_lanczos_steps", "0"}},
  };
  for (const auto& c : cases) {
    ScopedOptions so(c.first);
    FoldedLayer layer(*p);
    const std::string msg = error_of([&] { layer.set_from_options(); });
    ASSERT_FALSE(msg.empty()) << c.first[0].first << " " << c.first[0].second << " accepted";
    for (const std::string& needle : c.second) EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
  // A map without a free stepsize: a bogus rule is named as such, lmax as not applicable.
  {
    ScopedOptions so(Options{{"-fold_stepsize", "lmax"}});
    FoldedLayer layer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
    const std::string msg = error_of([&] { layer.set_from_options(); });
    EXPECT_NE(msg.find("no free stepsize"), std::string::npos) << msg;
  }
}

}  // namespace
