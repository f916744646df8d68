// LFPI is unrolling: the adjoint solver's KSPRICHARDSON iterates are those of the hand-written
// linear fixed-point iteration w_{k+1} = Φᵀ w_k + g, and Ψᵀ of the K-th iterate is the gradient
// obtained by differentiating K unrolled PGD steps (started at x*) in reverse mode. The LFPI error
// contracts asymptotically like ρ(Φ)^k with ρ from SLEPc (foldopt::estimate_rho).
//
// The unrolled reverse pass is written twice: with the map's own products (Σ_j Ψᵀ(Φᵀ)^j g), and
// independently of the engine as dense Eigen code over the gathered H, q, lb, ub (forward PGD steps
// with their own projection masks, then the reverse sweep). Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt_test::rel_diff;

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr int kMaxSteps = 50;
constexpr double kIterTol = 1e-12;


// A solved instance with LFPI as the adjoint method, linearized at x* by one backward pass.
class LfpiUnrolled : public ::testing::Test {
 protected:
  void SetUp() override {
    BoxQPGenerator gen;
    gen.n = 400;
    gen.seed = 7;
    problem_ = BoxQP::generate(PETSC_COMM_WORLD, gen);
    ScopedOptions so(Options{{"-fold_ksp_type", "richardson"}});
    layer_.reset(new FoldedLayer(*problem_));
    layer_->set_from_options();
    layer_->forward(problem_->params());
    g_ = problem_->create_vec();
    foldopt::fill_random(g_, 42);
    grad_ = layer_->backward(g_);
    ASSERT_TRUE(layer_->adjoint().report().converged);
    ASSERT_NE(layer_->adjoint().report().method.find("richardson"), std::string::npos);
  }

  // The adjoint solver's own KSP, set to run exactly `its` richardson iterations from w = 0.
  void run_ksp(PetscInt its, Vec w) {
    KSP ksp = layer_->adjoint().ksp();
    KSPType type;
    KSPGetType(ksp, &type);
    ASSERT_STREQ(type, KSPRICHARDSON);
    ASSERT_EQ(KSPSetNormType(ksp, KSP_NORM_NONE), 0);
    ASSERT_EQ(KSPSetConvergenceTest(ksp, KSPConvergedSkip, nullptr, nullptr), 0);
    ASSERT_EQ(KSPSetInitialGuessNonzero(ksp, PETSC_FALSE), 0);
    ASSERT_EQ(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, its), 0);
    Mat A = layer_->adjoint().operator_shell();
    ASSERT_EQ(KSPSetOperators(ksp, A, A), 0);
    VecZeroEntries(w);
    ASSERT_EQ(KSPSolve(ksp, g_, w), 0);
    PetscInt done = -1;
    KSPGetIterationNumber(ksp, &done);
    EXPECT_EQ(done, its);
  }

  std::unique_ptr<BoxQP> problem_;
  std::unique_ptr<FoldedLayer> layer_;
  OwnedVec g_;
  ParamSet grad_;
};

TEST_F(LfpiUnrolled, KspIteratesEqualHandWrittenLoop) {
  foldopt::UpdateMap& map = layer_->map();
  // Hand-written loop: w_0 = 0, w_{k+1} = Φᵀ w_k + g.
  std::vector<OwnedVec> hand;
  OwnedVec w = map.create_vec(), y = map.create_vec();
  VecZeroEntries(w);
  for (int k = 1; k <= kMaxSteps; ++k) {
    map.phi_t(w, y);
    VecWAXPY(w, 1.0, g_, y);
    OwnedVec c = map.create_vec();
    VecCopy(w, c);
    hand.push_back(std::move(c));
  }
  // Successive iterates really differ (the comparison below could not pass by accident).
  EXPECT_GT(rel_diff(hand[kMaxSteps - 1], hand[kMaxSteps - 2]), 1e-6);

  OwnedVec wk = map.create_vec();
  for (int K = 1; K <= kMaxSteps; ++K) {
    run_ksp(K, wk);
    EXPECT_LE(rel_diff(wk, hand[K - 1]), kIterTol) << "after K = " << K << " iterations";
  }
}

TEST_F(LfpiUnrolled, PsiOfIterateIsUnrolledGradient) {
  foldopt::UpdateMap& map = layer_->map();
  const PetscReal alpha = map.stepsize();
  ASSERT_GT(alpha, 0);

  // Dense data for the engine-independent unrolled PGD.
  const MatrixXd H = foldopt_ref::gather_dense(problem_->H());
  const VectorXd q = foldopt_ref::to_eigen(problem_->params().get("q"));
  const VectorXd lb = foldopt_ref::to_eigen(problem_->params().get("lb"));
  const VectorXd ub = foldopt_ref::to_eigen(problem_->params().get("ub"));
  const VectorXd xs = foldopt_ref::to_eigen(layer_->solution());
  const VectorXd g = foldopt_ref::to_eigen(g_);
  const Eigen::Index n = g.size();

  // Reverse mode with the map's products, accumulated step by step:
  //   acc_K = Σ_{j<K} Ψᵀ (Φᵀ)^j g  and  v_K = (Φᵀ)^K g.
  ParamSet acc = map.create_params(), term = map.create_params();
  OwnedVec v = map.create_vec(), y = map.create_vec(), wk = map.create_vec();
  VecCopy(g_, v);
  for (int K = 1; K <= kMaxSteps; ++K) {
    map.psi_t(v, term);
    acc.axpy(1.0, term);
    map.phi_t(v, y);
    VecCopy(y, v);

    // LFPI after K iterations, then Ψᵀ w_K.
    run_ksp(K, wk);
    ParamSet folded = map.create_params();
    map.psi_t(wk, folded);
    for (const char* b : {"q", "lb", "ub"})
      EXPECT_LE(rel_diff(folded.get(b), acc.get(b)), kIterTol) << "block " << b << ", K = " << K;

    if (K == 1 || K == 2 || K == 5 || K == 10 || K == 25 || K == kMaxSteps) {
      // Engine-independent: K PGD steps x_{k+1} = P(x_k − α(H x_k − q)) from x_0 = x*, then the
      // reverse sweep through the projections (masks of each step) and the gradient steps.
      std::vector<std::vector<int>> role(K, std::vector<int>(n, 0));  // 0 free, 1 lb, 2 ub
      VectorXd x = xs;
      for (int k = 0; k < K; ++k) {
        const VectorXd z = x - alpha * (H * x - q);
        for (Eigen::Index i = 0; i < n; ++i) {
          if (z[i] <= lb[i]) {
            role[k][i] = 1;
            x[i] = lb[i];
          } else if (z[i] >= ub[i]) {
            role[k][i] = 2;
            x[i] = ub[i];
          } else {
            x[i] = z[i];
          }
        }
      }
      VectorXd gq = VectorXd::Zero(n), glb = VectorXd::Zero(n), gub = VectorXd::Zero(n), a = g;
      for (int k = K - 1; k >= 0; --k) {
        VectorXd u = VectorXd::Zero(n);
        for (Eigen::Index i = 0; i < n; ++i) {
          if (role[k][i] == 1)
            glb[i] += a[i];
          else if (role[k][i] == 2)
            gub[i] += a[i];
          else
            u[i] = a[i];
        }
        gq += alpha * u;            // ∂z/∂q = α I
        a = u - alpha * (H * u);    // ∂z/∂x = I − αH (symmetric)
      }
      EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(folded.get("q")), gq), kIterTol) << "K = " << K;
      EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(folded.get("lb")), glb), kIterTol) << "K = " << K;
      EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(folded.get("ub")), gub), kIterTol) << "K = " << K;
      ASSERT_GT(gq.norm(), 0);
      ASSERT_GT(glb.norm(), 0);
      ASSERT_GT(gub.norm(), 0);
    }
  }
  // Unrolling does not converge in 50 steps here: Ψᵀ w_50 still differs from the folded gradient.
  EXPECT_GT(rel_diff(acc.get("q"), grad_.get("q")), 1e-4);
}

// Monitor: record ‖w_k − w*‖₂ / ‖w*‖₂ of every iterate.
struct ErrorLog {
  Vec wstar = nullptr;
  Vec work = nullptr;
  PetscReal wstar_norm = 0;
  std::vector<double> err;
};

PetscErrorCode record_error(KSP ksp, PetscInt it, PetscReal, void* ctx) {
  auto* log = static_cast<ErrorLog*>(ctx);
  Vec x;
  PetscCall(KSPBuildSolution(ksp, nullptr, &x));
  PetscCall(VecWAXPY(log->work, -1.0, log->wstar, x));
  PetscReal e;
  PetscCall(VecNorm(log->work, NORM_2, &e));
  if ((PetscInt)log->err.size() != it) return PETSC_ERR_PLIB;
  log->err.push_back(e / log->wstar_norm);
  return 0;
}

TEST_F(LfpiUnrolled, ErrorContractsLikeRho) {
  const foldopt::RhoEstimate& est = layer_->estimate_rho();
  ASSERT_TRUE(est.converged);
  const double rho = est.rho;
  ASSERT_GT(rho, 0.5);
  ASSERT_LT(rho, 0.99);

  // w* to near machine precision, independently of the engine: dense (I − Φᵀ) w = g with
  // Φᵀ = (I − αH) D, i.e. α H_FF w_F = g_F and w_A = g_A − α H_AF w_F.
  const double alpha = layer_->map().stepsize();
  const MatrixXd H = foldopt_ref::gather_dense(problem_->H());
  const VectorXd lb = foldopt_ref::to_eigen(problem_->params().get("lb"));
  const VectorXd ub = foldopt_ref::to_eigen(problem_->params().get("ub"));
  const VectorXd xs = foldopt_ref::to_eigen(layer_->solution());
  const VectorXd g = foldopt_ref::to_eigen(g_);
  const foldopt_ref::ActiveSet s = foldopt_ref::classify(xs, lb, ub);
  ASSERT_TRUE(s.ok);
  const VectorXd wF = Eigen::LLT<MatrixXd>(alpha * foldopt_ref::submatrix(H, s.free, s.free))
                          .solve(foldopt_ref::subvector(g, s.free));
  VectorXd wd = g;
  for (std::size_t k = 0; k < s.free.size(); ++k) wd[s.free[k]] = wF[k];
  std::vector<int> active = s.at_lb;
  active.insert(active.end(), s.at_ub.begin(), s.at_ub.end());
  const VectorXd wA = foldopt_ref::subvector(g, active) - alpha * foldopt_ref::submatrix(H, active, s.free) * wF;
  for (std::size_t k = 0; k < active.size(); ++k) wd[active[k]] = wA[k];

  OwnedVec wstar = problem_->create_vec(), work = problem_->create_vec(), w = problem_->create_vec();
  {
    PetscInt rstart, rend;
    VecGetOwnershipRange(wstar, &rstart, &rend);
    for (PetscInt i = rstart; i < rend; ++i) VecSetValue(wstar, i, wd[i], INSERT_VALUES);
    VecAssemblyBegin(wstar);
    VecAssemblyEnd(wstar);
  }
  // The engine's converged LFPI solution agrees with the dense w* (to its tolerance).
  {
    OwnedVec wl = problem_->create_vec();
    KSPSolve(layer_->adjoint().ksp(), g_, wl);  // still the converging configuration
    EXPECT_LE(rel_diff(wl, wstar), 1e-8);
  }

  ErrorLog log;
  log.wstar = wstar;
  log.work = work;
  VecNorm(wstar, NORM_2, &log.wstar_norm);
  const PetscInt iters = (PetscInt)std::ceil(std::log(1e-11) / std::log(rho));
  KSP ksp = layer_->adjoint().ksp();
  ASSERT_EQ(KSPMonitorSet(ksp, record_error, &log, nullptr), 0);
  run_ksp(iters, w);
  KSPMonitorCancel(ksp);
  // Monitored at w_0 = 0, …, w_iters.
  ASSERT_EQ((PetscInt)log.err.size(), iters + 1);
  EXPECT_DOUBLE_EQ(log.err[0], 1.0);

  // Least-squares slope of log(error) over the tail (relative error from 1e-3 down to 1e-10,
  // above rounding).
  std::vector<double> ks, ls;
  for (std::size_t k = 0; k < log.err.size(); ++k)
    if (log.err[k] < 1e-3 && log.err[k] > 1e-10) {
      ks.push_back((double)k);
      ls.push_back(std::log(log.err[k]));
    }
  ASSERT_GE(ks.size(), 20u);
  double mk = 0, ml = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) mk += ks[i], ml += ls[i];
  mk /= ks.size();
  ml /= ks.size();
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) sxy += (ks[i] - mk) * (ls[i] - ml), sxx += (ks[i] - mk) * (ks[i] - mk);
  const double slope = sxy / sxx;
  EXPECT_NEAR(slope, std::log(rho), 0.05 * std::abs(std::log(rho)))
      << "fitted rate " << std::exp(slope) << " vs rho " << rho << " over " << ks.size() << " iterations";
  // The error decreases monotonically in the tail.
  for (std::size_t i = 1; i < ks.size(); ++i) EXPECT_LT(ls[i], ls[i - 1]) << "at k = " << ks[i];
}

}  // namespace
