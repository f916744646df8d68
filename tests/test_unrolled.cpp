// The unrolled baseline (include/foldopt/unrolled.hpp) on a generated box-QP with PGD:
//  (a) from x₀ = x*, K unrolled steps give exactly Ψᵀ w_K with w_K the K-th LFPI iterate on
//      (I − Φᵀ) w = g (the adjoint solver's own KSP as richardson, and a hand loop) — Theorem 1;
//  (b) from a random start the backward error decays at the rate −log ρ(Φ), ρ from dense Eigen on
//      H_FF (and SLEPc's estimate_rho), once the forward iterates have identified the active set;
//  (c) a tape larger than -fold_unrolled_max_memory is refused on every rank with the figures;
//  (d) -fold_backward unrolled through FoldedLayer returns the unrolled gradient, which matches the
//      folded one and the dense KKT reference (tests/reference.hpp, plain Eigen) for K large.
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/foldopt.hpp>
#include <foldopt/unrolled.hpp>

#include <Eigen/Dense>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::AdjointSolver;
using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt::PgdMap;
using foldopt::UnrolledBaseline;
using foldopt::UnrolledResult;
using foldopt::UnrolledStart;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr double kTheorem1Tol = 1e-12;  // unrolled from x* vs LFPI, relative
constexpr double kRateTol = 0.10;       // fitted slope vs log ρ, relative

double pnorm(const ParamSet& p) { return std::sqrt(PetscRealPart(p.dot(p))); }

// ‖a − ref‖₂ / ‖ref‖₂ over all blocks.
double rel(const ParamSet& a, const ParamSet& ref) {
  ParamSet d = a.copy();
  d.axpy(-1.0, ref);
  return pnorm(d) / pnorm(ref);
}

double vec_rel(Vec a, Vec ref) {
  OwnedVec d;
  VecDuplicate(a, d.out());
  VecWAXPY(d, -1.0, ref, a);
  PetscReal nd, nr;
  VecNorm(d, NORM_2, &nd);
  VecNorm(ref, NORM_2, &nr);
  return nr > 0 ? nd / nr : nd;
}

// The whole matrix on every rank (small sizes).
Eigen::MatrixXd dense(Mat A) {
  PetscInt m, n, rstart, rend;
  MatGetSize(A, &m, &n);
  MatGetOwnershipRange(A, &rstart, &rend);
  std::vector<double> local((std::size_t)m * n, 0.0), all((std::size_t)m * n, 0.0);
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    MatGetRow(A, i, &nc, &cols, &vals);
    for (PetscInt k = 0; k < nc; ++k) local[(std::size_t)i * n + cols[k]] = PetscRealPart(vals[k]);
    MatRestoreRow(A, i, &nc, &cols, &vals);
  }
  MPI_Allreduce(local.data(), all.data(), (int)all.size(), MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD);
  Eigen::MatrixXd D(m, n);
  for (PetscInt i = 0; i < m; ++i)
    for (PetscInt j = 0; j < n; ++j) D(i, j) = all[(std::size_t)i * n + j];
  return D;
}

// Least-squares slope of log(e_k) against k over the given points.
double fit_slope(const std::vector<double>& ks, const std::vector<double>& es) {
  double mk = 0, ml = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) mk += ks[i], ml += std::log(es[i]);
  mk /= ks.size();
  ml /= ks.size();
  double sxy = 0, sxx = 0;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    sxy += (ks[i] - mk) * (std::log(es[i]) - ml);
    sxx += (ks[i] - mk) * (ks[i] - mk);
  }
  return sxy / sxx;
}

// A generated box-QP, PGD at its default stepsize linearized at the exact x*, a loss gradient g,
// and the folded gradient solved to near machine precision.
class Unrolled : public ::testing::Test {
 protected:
  void SetUp() override {
    BoxQPGenerator gen;
    gen.n = 625;
    gen.seed = 5;
    problem_ = BoxQP::generate(PETSC_COMM_WORLD, gen);
    map_.reset(new PgdMap(*problem_));
    xstar_ = problem_->known_solution();
    g_ = problem_->create_vec();
    foldopt::fill_random(g_, 42);
    map_->linearize(xstar_, problem_->params());
    adj_.reset(new AdjointSolver(PETSC_COMM_WORLD));
    adj_->set_map(*map_);
    adj_->set_tolerances(1e-14, 1e-50, 100000);
    adj_->set_from_options();
    OwnedVec w = problem_->create_vec();
    VecZeroEntries(w);
    adj_->solve(g_, w);
    folded_ = map_->create_params();
    map_->psi_t(w, folded_);
    // The independent reference: ∂L/∂θ from the KKT conditions at x*, dense Eigen.
    const foldopt_ref::VectorXd xs = foldopt_ref::to_eigen(xstar_);
    const foldopt_ref::ActiveSet set = foldopt_ref::classify(xs, foldopt_ref::to_eigen(problem_->params().get("lb")),
                                                             foldopt_ref::to_eigen(problem_->params().get("ub")));
    ASSERT_TRUE(set.ok);
    ASSERT_FALSE(set.free.empty());
    kkt_ = foldopt_ref::box_qp_gradient(foldopt_ref::gather_dense(problem_->H()), set, foldopt_ref::to_eigen(g_));
    ASSERT_GT(kkt_.q.norm(), 0);
    ASSERT_GT(kkt_.lb.norm(), 0);
    ASSERT_GT(kkt_.ub.norm(), 0);
    ASSERT_LE(rel_kkt(folded_), 1e-10);
  }

  // ‖a − KKT reference‖₂ / ‖KKT reference‖₂ over the blocks q, lb, ub.
  double rel_kkt(const ParamSet& a) const {
    double d2 = 0, r2 = 0;
    const foldopt_ref::VectorXd* refs[] = {&kkt_.q, &kkt_.lb, &kkt_.ub};
    const char* names[] = {"q", "lb", "ub"};
    for (int b = 0; b < 3; ++b) {
      const foldopt_ref::VectorXd v = foldopt_ref::to_eigen(a.get(names[b]));
      d2 += (v - *refs[b]).squaredNorm();
      r2 += refs[b]->squaredNorm();
    }
    return std::sqrt(d2 / r2);
  }

  // w_K of LFPI from w_0 = 0 through the adjoint solver's KSP: richardson (scale 1, no PC), exactly
  // K iterations (convergence test skipped) on operator_shell(); the map must be linearized at x*.
  void lfpi_ksp(PetscInt K, Vec w) {
    AdjointSolver lfpi(PETSC_COMM_WORLD);
    lfpi.set_map(*map_);
    lfpi.set_from_options();
    KSP ksp = lfpi.ksp();
    ASSERT_EQ(KSPSetType(ksp, KSPRICHARDSON), 0);
    ASSERT_EQ(KSPRichardsonSetScale(ksp, 1.0), 0);
    PC pc;
    KSPGetPC(ksp, &pc);
    ASSERT_EQ(PCSetType(pc, PCNONE), 0);
    ASSERT_EQ(KSPSetNormType(ksp, KSP_NORM_NONE), 0);
    ASSERT_EQ(KSPSetConvergenceTest(ksp, KSPConvergedSkip, nullptr, nullptr), 0);
    ASSERT_EQ(KSPSetInitialGuessNonzero(ksp, PETSC_FALSE), 0);
    ASSERT_EQ(KSPSetTolerances(ksp, PETSC_DEFAULT, PETSC_DEFAULT, PETSC_DEFAULT, K), 0);
    Mat A = lfpi.operator_shell();
    ASSERT_EQ(KSPSetOperators(ksp, A, A), 0);
    VecZeroEntries(w);
    ASSERT_EQ(KSPSolve(ksp, g_, w), 0);
    PetscInt done = -1;
    KSPGetIterationNumber(ksp, &done);
    EXPECT_EQ(done, K);
  }

  // ρ(Φ) at x* exactly: max |1 − αλ| over the eigenvalues λ of H restricted to the free set.
  double dense_rho() {
    const Eigen::MatrixXd H = dense(problem_->H());
    const std::vector<PetscScalar> d = foldopt_test::gather(map_->free_mask());
    std::vector<int> F;
    for (std::size_t i = 0; i < d.size(); ++i)
      if (PetscRealPart(d[i]) != 0) F.push_back((int)i);
    Eigen::MatrixXd HFF(F.size(), F.size());
    for (std::size_t i = 0; i < F.size(); ++i)
      for (std::size_t j = 0; j < F.size(); ++j) HFF(i, j) = H(F[i], F[j]);
    const Eigen::VectorXd lam = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(HFF, Eigen::EigenvaluesOnly).eigenvalues();
    const double a = map_->stepsize();
    return std::max(std::abs(1 - a * lam.minCoeff()), std::abs(1 - a * lam.maxCoeff()));
  }

  std::unique_ptr<BoxQP> problem_;
  std::unique_ptr<PgdMap> map_;
  std::unique_ptr<AdjointSolver> adj_;
  Vec xstar_ = nullptr;
  OwnedVec g_;
  ParamSet folded_;
  foldopt_ref::QpGradient kkt_;
};

// (a) Theorem 1: unrolling K steps at x* is K iterations of LFPI.
TEST_F(Unrolled, FromSolutionEqualsLfpi) {
  ASSERT_LT(adj_->report().residual / adj_->report().rhs_norm, 1e-12);
  const double n = (double)problem_->layout().global();
  double worst = 0;
  for (PetscInt K : {1, 5, 50}) {
    UnrolledBaseline ub(PETSC_COMM_WORLD);
    ub.set_steps(K);
    ub.set_start(UnrolledStart::solution);
    const UnrolledResult& r = ub.run(*map_, problem_->params(), g_, xstar_, &folded_);

    OwnedVec w = problem_->create_vec();
    lfpi_ksp(K, w);
    ParamSet lfpi = map_->create_params();
    map_->psi_t(w, lfpi);  // run() left the map linearized at x*

    // The same with a hand-written loop w_{k+1} = Φᵀ w_k + g.
    OwnedVec wh = problem_->create_vec(), y = problem_->create_vec();
    VecZeroEntries(wh);
    for (PetscInt k = 0; k < K; ++k) {
      map_->phi_t(wh, y);
      VecWAXPY(wh, 1.0, g_, y);
    }
    EXPECT_LE(vec_rel(w, wh), kTheorem1Tol) << "K = " << K;

    for (const char* b : {"q", "lb", "ub"}) {
      EXPECT_LE(vec_rel(r.gradient.get(b), lfpi.get(b)), kTheorem1Tol) << "block " << b << ", K = " << K;
      PetscReal nb;
      VecNorm(lfpi.get(b), NORM_2, &nb);
      EXPECT_GT(nb, 0) << "block " << b;
    }
    EXPECT_LE(rel(r.gradient, lfpi), kTheorem1Tol) << "K = " << K;
    worst = std::max(worst, rel(r.gradient, lfpi));
    EXPECT_NEAR(r.backward_error, rel(lfpi, folded_), 1e-10) << "K = " << K;

    // Bookkeeping: the forward iterates stay at x*, the tape holds K states, products as documented.
    ASSERT_EQ((PetscInt)r.forward_error.size(), K + 1);
    for (PetscReal e : r.forward_error) EXPECT_LE(e, 1e-13 * r.xstar_norm);
    EXPECT_EQ(r.steps, K);
    EXPECT_EQ(r.applies, K);
    EXPECT_EQ(r.psi_t_products, K);
    EXPECT_EQ(r.phi_t_products, K - 1);
    EXPECT_EQ(r.linearizations, K + 1);  // K reverse steps and the restore at x*
    EXPECT_DOUBLE_EQ(r.tape_bytes, K * n * sizeof(PetscScalar));
    EXPECT_TRUE(r.backward_error_history.empty());
  }
  if (foldopt_test::rank() == 0) std::printf("[ theorem 1 ] worst relative difference unrolled vs LFPI: %.2e\n", worst);
  // 50 steps are far from converged here, so the equality above is not the trivial one.
  UnrolledBaseline ub(PETSC_COMM_WORLD);
  ub.set_steps(50);
  EXPECT_GT(ub.run(*map_, problem_->params(), g_, xstar_, &folded_).backward_error, 1e-4);
}

// The backward-error history: from x* in one pass (O(K)), equal to separate runs of k steps; from a
// random start by one reverse pass per k (O(K²)), equal to separate runs too.
TEST_F(Unrolled, HistoryEqualsSeparateRuns) {
  for (UnrolledStart start : {UnrolledStart::solution, UnrolledStart::random}) {
    const PetscInt K = 40;
    UnrolledBaseline ub(PETSC_COMM_WORLD);
    ub.set_steps(K);
    ub.set_start(start);
    ub.set_seed(9);
    ub.set_history(true);
    const UnrolledResult& r = ub.run(*map_, problem_->params(), g_, xstar_, &folded_);
    ASSERT_EQ((PetscInt)r.backward_error_history.size(), K + 1);
    EXPECT_EQ(r.history_shortcut, start == UnrolledStart::solution) << r.note;
    if (start == UnrolledStart::solution) {
      EXPECT_EQ(r.phi_t_products, (K - 1) + (K - 2));
    } else {
      EXPECT_EQ(r.linearizations, K * (K + 1) / 2 + 1);  // Σ_k k reverse steps, the restore
    }
    EXPECT_DOUBLE_EQ(r.backward_error_history[0], 1.0);
    EXPECT_DOUBLE_EQ(r.backward_error_history[K], r.backward_error);
    for (PetscInt k : {1, 2, 7, 23, 39}) {
      UnrolledBaseline one(PETSC_COMM_WORLD);
      one.set_steps(k);
      one.set_start(start);
      one.set_seed(9);
      const double e = one.run(*map_, problem_->params(), g_, xstar_, &folded_).backward_error;
      EXPECT_NEAR(r.backward_error_history[k], e, 1e-10 * e) << "k = " << k << ", start " << foldopt::to_string(start);
    }
  }
}

// (b) From a random start the backward error decays like ρ(Φ)^k (Theorem 1 plus identification).
TEST_F(Unrolled, RandomStartDecaysAtRateRho) {
  const double rho = dense_rho();
  ASSERT_GT(rho, 0.5);
  ASSERT_LT(rho, 0.97);
  // SLEPc's estimate on the Φᵀ shell agrees with the dense value.
  const foldopt::RhoEstimate est = foldopt::estimate_rho(adj_->phi_t_shell());
  ASSERT_TRUE(est.converged);
  EXPECT_NEAR(est.rho, rho, 1e-3);

  // Long enough to pass 1e-10 after identification (O(K²) history: K(K+1)/2 reverse steps).
  const PetscInt K = (PetscInt)std::ceil(std::log(1e-10) / std::log(rho)) + 40;
  const unsigned long seed = 3;
  UnrolledBaseline ub(PETSC_COMM_WORLD);
  ub.set_steps(K);
  ub.set_start(UnrolledStart::random);
  ub.set_seed(seed);
  ub.set_history(true);
  const double t0 = MPI_Wtime();
  const UnrolledResult& r = ub.run(*map_, problem_->params(), g_, xstar_, &folded_);
  const double seconds = MPI_Wtime() - t0;
  ASSERT_EQ((PetscInt)r.backward_error_history.size(), K + 1);
  EXPECT_FALSE(r.history_shortcut);

  // The step after which PGD's active set (the masks of U at x_k) is that of x* for good: the same
  // forward iterates from the same start, linearized one by one.
  const std::vector<PetscScalar> dstar = foldopt_test::gather(map_->free_mask());
  OwnedVec x = problem_->create_vec(), xn = problem_->create_vec();
  foldopt::fill_random(x, seed);
  PetscInt identified = 0;
  for (PetscInt k = 0; k < K; ++k) {
    map_->linearize(x, problem_->params());
    if (foldopt_test::gather(map_->free_mask()) != dstar) identified = k + 1;
    map_->apply(x, problem_->params(), xn);
    VecCopy(xn, x);
  }
  map_->linearize(xstar_, problem_->params());
  ASSERT_LT(identified, K / 2) << "active set identified too late for a tail fit";

  // Fit over the tail: after identification, errors between 1e-3 and 1e-10 (above the reference's
  // accuracy).
  std::vector<double> ks, es, kf, ef;
  for (PetscInt k = identified; k <= K; ++k) {
    const double e = r.backward_error_history[k];
    if (e < 1e-3 && e > 1e-10) ks.push_back((double)k), es.push_back(e);
    const double f = r.forward_error[k] / r.xstar_norm;
    if (f < 1e-3 && f > 1e-12) kf.push_back((double)k), ef.push_back(f);
  }
  ASSERT_GE(ks.size(), 30u);
  const double slope = fit_slope(ks, es);
  EXPECT_NEAR(slope, std::log(rho), kRateTol * std::abs(std::log(rho)))
      << "backward rate exp(slope) = " << std::exp(slope) << " vs rho " << rho;
  EXPECT_NEAR(slope, std::log(est.rho), kRateTol * std::abs(std::log(est.rho)));
  const double fslope = kf.size() >= 10 ? fit_slope(kf, ef) : 0;
  if (foldopt_test::rank() == 0)
    std::printf("[ rate ] n = %d, alpha = %.6g, rho dense = %.8f, rho SLEPc = %.8f (log rho = %.5f); identified at k = %d; "
                "backward slope %.5f over k = %.0f..%.0f (%zu points), forward slope %.5f; K = %d with history in %.2f s\n",
                (int)problem_->layout().global(), (double)map_->stepsize(), rho, (double)est.rho, std::log(rho),
                (int)identified, slope, ks.front(), ks.back(), ks.size(), fslope, (int)K, seconds);
  // From x*, the same rate (LFPI) with no identification phase.
  UnrolledBaseline us(PETSC_COMM_WORLD);
  us.set_steps(K);
  us.set_history(true);
  const UnrolledResult& s = us.run(*map_, problem_->params(), g_, xstar_, &folded_);
  std::vector<double> ks2, es2;
  for (PetscInt k = 0; k <= K; ++k)
    if (s.backward_error_history[k] < 1e-3 && s.backward_error_history[k] > 1e-10)
      ks2.push_back((double)k), es2.push_back(s.backward_error_history[k]);
  ASSERT_GE(ks2.size(), 30u);
  EXPECT_NEAR(fit_slope(ks2, es2), std::log(rho), kRateTol * std::abs(std::log(rho)));
  // Both end converged to the folded gradient.
  EXPECT_LT(r.backward_error, 1e-9);
  EXPECT_LT(s.backward_error, 1e-9);
}

// (c) The tape limit.
TEST_F(Unrolled, TapeLargerThanLimitIsRefused) {
  {
    ScopedOptions so(Options{{"-fold_unrolled_steps", "100"}, {"-fold_unrolled_max_memory", "100K"}});
    UnrolledBaseline ub(PETSC_COMM_WORLD);
    ub.set_from_options();
    EXPECT_EQ(ub.steps(), 100);
    EXPECT_DOUBLE_EQ(ub.max_memory(), 100 * 1024.0);
    int caught = 0;
    try {
      ub.run(*map_, problem_->params(), g_, xstar_, &folded_);
    } catch (const foldopt::Error& e) {
      caught = 1;
      // 100 states of 625 doubles = 500000 bytes.
      EXPECT_NE(std::string(e.what()).find("unrolled: tape of K = 100 states needs 488 KiB > -fold_unrolled_max_memory 100 KiB"),
                std::string::npos)
          << e.what();
      EXPECT_TRUE(e.collective());
      EXPECT_EQ(e.code(), PETSC_ERR_MEM);
    }
    int all = 0;
    MPI_Allreduce(&caught, &all, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
    EXPECT_EQ(all, 1) << "every rank refuses";
    EXPECT_FALSE(ub.has_result());
  }
  {
    // The figure of the documentation: K = 10⁶ states of n = 1000 against the default 2 GiB.
    BoxQPGenerator gen;
    gen.n = 1000;
    std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
    PgdMap map(*p);
    OwnedVec g = p->create_vec();
    foldopt::fill_random(g, 1);
    UnrolledBaseline ub(PETSC_COMM_WORLD);
    ub.set_steps(1000000);
    EXPECT_DOUBLE_EQ(ub.tape_bytes(map), 8e9);
    int caught = 0;
    try {
      ub.run(map, p->params(), g, p->known_solution());
    } catch (const foldopt::Error& e) {
      caught = 1;
      EXPECT_NE(std::string(e.what()).find("unrolled: tape of K = 1000000 states needs 7.45 GiB > -fold_unrolled_max_memory 2 GiB"),
                std::string::npos)
          << e.what();
    }
    int all = 0;
    MPI_Allreduce(&caught, &all, 1, MPI_INT, MPI_MIN, PETSC_COMM_WORLD);
    EXPECT_EQ(all, 1);
    // The same tape fits under a larger limit (only checked: not run).
    ub.set_max_memory(foldopt::parse_bytes("8G", "limit"));
    EXPECT_NO_THROW(ub.check_memory(map));
  }
  // Sizes with suffixes.
  EXPECT_DOUBLE_EQ(foldopt::parse_bytes("2147483648", "x"), 2147483648.0);
  EXPECT_DOUBLE_EQ(foldopt::parse_bytes("512M", "x"), 512.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(foldopt::parse_bytes("4g", "x"), 4.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(foldopt::parse_bytes("1.5GiB", "x"), 1.5 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(foldopt::parse_bytes("64kB", "x"), 64.0 * 1024);
  for (const char* bad : {"", "12X", "abc", "-1G", "0", "1Gx"}) EXPECT_THROW(foldopt::parse_bytes(bad, "x"), foldopt::Error) << bad;
  EXPECT_EQ(foldopt::format_bytes(100), "100 B");
  EXPECT_EQ(foldopt::format_bytes(2.0 * 1024 * 1024 * 1024), "2 GiB");
  {
    ScopedOptions so(Options{{"-fold_unrolled_max_memory", "lots"}});
    UnrolledBaseline ub(PETSC_COMM_WORLD);
    EXPECT_THROW(ub.set_from_options(), foldopt::Error);
  }
}

// The solution start needs x*.
TEST_F(Unrolled, SolutionStartNeedsXstar) {
  UnrolledBaseline ub(PETSC_COMM_WORLD);
  ub.set_steps(3);
  EXPECT_THROW(ub.run(*map_, problem_->params(), g_), foldopt::Error);
  ub.set_start(UnrolledStart::zero);
  const UnrolledResult& r = ub.run(*map_, problem_->params(), g_);
  EXPECT_TRUE(r.forward_error.empty());
  EXPECT_LT(r.backward_error, 0);
  EXPECT_GT(pnorm(r.gradient), 0);
}

// (d) -fold_backward unrolled through FoldedLayer.
TEST_F(Unrolled, LayerBackwardUnrolled) {
  {
    ScopedOptions so(Options{{"-fold_backward", "unrolled"}, {"-fold_unrolled_steps", "400"}, {"-fold_view", ""}});
    FoldedLayer layer(*problem_);
    layer.set_from_options();
    ASSERT_EQ(layer.adjoint().backward(), foldopt::BackwardMethod::unrolled);
    ASSERT_NE(layer.unrolled(), nullptr);
    layer.set_solution(problem_->params(), xstar_);
    const ParamSet grad = layer.backward(g_);
    EXPECT_LE(rel(grad, folded_), 1e-8);
    EXPECT_LE(rel_kkt(grad), 1e-8);
    const UnrolledResult& r = layer.unrolled()->result();
    EXPECT_EQ(r.steps, 400);
    EXPECT_EQ(r.start, UnrolledStart::solution);
    EXPECT_DOUBLE_EQ(r.tape_bytes, 400.0 * problem_->layout().global() * sizeof(PetscScalar));
    EXPECT_LE(r.forward_error.back(), 1e-13 * r.xstar_norm);
    EXPECT_LE(r.backward_error, 1e-8);  // computed under -fold_view
    // The reported backward error is the distance to the folded gradient: check it against the
    // distance the test measures itself (to the dense reference, which the folded one matches).
    EXPECT_NEAR(r.backward_error, rel_kkt(grad), 1e-9);
    // The adjoint solver itself refuses `unrolled`.
    OwnedVec w = problem_->create_vec();
    try {
      layer.adjoint().solve(g_, w);
      ADD_FAILURE() << "AdjointSolver::solve accepted -fold_backward unrolled";
    } catch (const foldopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find("not an adjoint solve"), std::string::npos) << e.what();
    }
  }
  {
    // A random start with the layer's own forward solve: more steps (identification first).
    ScopedOptions so(Options{{"-fold_backward", "unrolled"},
                             {"-fold_unrolled_steps", "600"},
                             {"-fold_unrolled_start", "random"},
                             {"-fold_unrolled_seed", "4"}});
    FoldedLayer layer(*problem_);
    layer.set_from_options();
    layer.forward(problem_->params());
    EXPECT_LE(vec_rel(layer.solution(), xstar_), 1e-6);
    const ParamSet grad = layer.backward(g_);
    EXPECT_LE(rel(grad, folded_), 1e-8);
    EXPECT_LE(rel_kkt(grad), 1e-8);
    const UnrolledResult& r = layer.unrolled()->result();
    EXPECT_EQ(r.start, UnrolledStart::random);
    EXPECT_LT(r.backward_error, 0);  // no reference without -fold_view or history
    EXPECT_LE(r.forward_error.back(), 1e-6 * r.xstar_norm);
  }
}

}  // namespace
