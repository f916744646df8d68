// The engine's checks and spectral estimates on the PGD map of a generated box-QP, against
// independent references:
//   * dot-product tests ⟨Φu, v⟩ = ⟨u, Φᵀv⟩ and ⟨Ψd, v⟩ = ⟨d, Ψᵀv⟩ hold to 1e-12 (and do detect a
//     map whose Φᵀ is not the transpose of its Φ);
//   * the fixed-point residual is ≤ 1e-12 at the known solution and > 1e-3 at a perturbed point;
//   * the folded gradient matches the dense KKT reference; central finite differences the test
//     computes by its own forward solves (eps 1e-4) agree with it to 1e-5 per block, and check_fd
//     agrees too and reports a gradient scaled by 1.01 as 1% off;
//   * the assembled Φ is D(I − αH) (dense Eigen), applies like map.phi to 1e-13, and its diagonal
//     is get_diagonal;
//   * ρ(Φ) from SLEPc matches max|1 − αλ(H_FF)| from a dense Eigen eigensolve within the
//     reported error, and -fold_stepsize optimal picks α = 2/(λmin + λmax) of H_FF to 1e-3, where
//     ρ(Φ) = (κ − 1)/(κ + 1).
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <cmath>
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
using foldopt::PgdMap;
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

// Dense data and the active set of the known solution.
struct Dense {
  MatrixXd H;
  VectorXd q, lb, ub, x;
  foldopt_ref::ActiveSet set;
};

Dense dense_of(BoxQP& p) {
  Dense d;
  d.H = foldopt_ref::gather_dense(p.H());
  d.q = foldopt_ref::to_eigen(p.params().get("q"));
  d.lb = foldopt_ref::to_eigen(p.params().get("lb"));
  d.ub = foldopt_ref::to_eigen(p.params().get("ub"));
  d.x = foldopt_ref::to_eigen(p.known_solution());
  d.set = foldopt_ref::classify(d.x, d.lb, d.ub);
  return d;
}

TEST(Checks, DotTests) {
  std::unique_ptr<BoxQP> p = make_problem();
  PgdMap map(*p);
  map.linearize(p->known_solution(), p->params());
  ASSERT_GT(map.free_count(), 0);
  ASSERT_LT(map.free_count(), 400);
  for (unsigned long seed : {1ul, 5ul, 99ul}) {
    const foldopt::DotTest phi = foldopt::dot_test_phi(map, seed);
    EXPECT_GT(std::abs(phi.lhs), 1e-3);
    EXPECT_LE(phi.relative, 1e-12) << "seed " << seed << ": " << phi.lhs << " vs " << phi.rhs;
    const foldopt::DotTest psi = foldopt::dot_test_psi(map, seed + 1);
    EXPECT_GT(std::abs(psi.lhs), 1e-3);
    EXPECT_LE(psi.relative, 1e-12) << "seed " << seed << ": " << psi.lhs << " vs " << psi.rhs;
  }
}

// A map whose Φᵀ forgets the mask D (Φᵀv = (I − αH)v): the dot-product test must notice.
class WrongTransposeMap : public foldopt_ref::NoAssembleMap {
 public:
  WrongTransposeMap(BoxQP& p) : NoAssembleMap(p), p_(p) {}
  void phi_t(Vec v, Vec y) override {
    p_.hessian_mult(nullptr, p_.params(), v, y);
    VecAYPX(y, -stepsize(), v);
  }

 private:
  BoxQP& p_;
};

TEST(Checks, DotTestDetectsWrongTranspose) {
  std::unique_ptr<BoxQP> p = make_problem();
  WrongTransposeMap map(*p);
  map.linearize(p->known_solution(), p->params());
  EXPECT_GT(foldopt::dot_test_phi(map).relative, 1e-3);
}

TEST(Checks, FixedPointResidual) {
  std::unique_ptr<BoxQP> p = make_problem();
  PgdMap map(*p);
  EXPECT_LE(foldopt::fixed_point_residual(map, p->known_solution(), p->params()), 1e-12);
  OwnedVec x = p->create_vec(), d = p->create_vec();
  foldopt::fill_random(d, 3);
  VecWAXPY(x, 0.05, d, p->known_solution());
  const PetscReal r = foldopt::fixed_point_residual(map, x, p->params());
  EXPECT_GT(r, 1e-3);

  // Against the definition, in dense Eigen: ‖P(x − α(Hx − q)) − x‖∞ / (α max(1, ‖x‖∞)) (the
  // gradient mapping: a smaller α does not make the check weaker).
  const Dense dn = dense_of(*p);
  const VectorXd xv = foldopt_ref::to_eigen(x);
  const VectorXd u = (xv - map.stepsize() * (dn.H * xv - dn.q)).cwiseMax(dn.lb).cwiseMin(dn.ub);
  const double ref = (u - xv).lpNorm<Eigen::Infinity>() / (map.stepsize() * std::max(1.0, xv.lpNorm<Eigen::Infinity>()));
  EXPECT_NEAR(r, ref, 1e-12 * ref);
  // The same point with a stepsize 1000 times smaller: ‖x − U(x)‖ shrinks with α, the check does not.
  map.set_stepsize(map.stepsize() * 1e-3);
  const VectorXd u2 = (xv - map.stepsize() * (dn.H * xv - dn.q)).cwiseMax(dn.lb).cwiseMin(dn.ub);
  const double ref2 = (u2 - xv).lpNorm<Eigen::Infinity>() / (map.stepsize() * std::max(1.0, xv.lpNorm<Eigen::Infinity>()));
  EXPECT_GT(ref2, 1e-3);
  EXPECT_NEAR(foldopt::fixed_point_residual(map, x, p->params()), ref2, 1e-9 * ref2);
}

// A direction in block `name` of θ: random entries where θ is finite, zero elsewhere (infinite
// bounds do not move). Built by the test, independently of check_fd's own directions.
ParamSet test_direction(const ParamSet& theta, const std::string& name, unsigned long seed) {
  ParamSet d = theta.zeros_like();
  Vec v = d.get(name);
  foldopt::fill_random(v, seed);
  PetscInt n;
  VecGetLocalSize(v, &n);
  PetscScalar* dv;
  const PetscScalar* tv;
  VecGetArray(v, &dv);
  VecGetArrayRead(theta.get(name), &tv);
  for (PetscInt i = 0; i < n; ++i)
    if (!std::isfinite(PetscRealPart(tv[i]))) dv[i] = 0;
  VecRestoreArray(v, &dv);
  VecRestoreArrayRead(theta.get(name), &tv);
  return d;
}

TEST(Checks, FiniteDifferences) {
  std::unique_ptr<BoxQP> p = make_problem();
  // The forward solves behind the differences must be accurate well beyond eps·1e-5.
  ScopedOptions so(Options{{"-fold_fwd_snes_atol", "1e-13"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 42);
  ParamSet grad = layer.backward(g);
  OwnedVec xsave = p->create_vec();
  VecCopy(layer.solution(), xsave);

  // The independent reference: the dense KKT gradient (Eigen), asserted nonzero in every block.
  const Dense dn = dense_of(*p);
  ASSERT_TRUE(dn.set.ok);
  const foldopt_ref::QpGradient kkt = foldopt_ref::box_qp_gradient(dn.H, dn.set, foldopt_ref::to_eigen(g));
  const char* names[] = {"q", "lb", "ub"};
  const VectorXd* refs[] = {&kkt.q, &kkt.lb, &kkt.ub};
  for (int b = 0; b < 3; ++b) {
    ASSERT_GT(refs[b]->norm(), 0) << names[b];
    EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get(names[b])), *refs[b]), 1e-8) << names[b];
  }

  // The test's own central differences, by its own forward solves, along its own directions:
  // (L(θ + εd) − L(θ − εd)) / 2ε with L = ⟨g, x*⟩ against ⟨∂L/∂θ, d⟩ (folded and KKT).
  const PetscReal eps = 1e-4;
  for (int b = 0; b < 3; ++b) {
    const ParamSet d = test_direction(p->params(), names[b], 100 + b);
    PetscReal loss[2];
    for (int s = 0; s < 2; ++s) {
      ParamSet t = p->params().copy();
      t.axpy(s == 0 ? eps : -eps, d);
      Vec x = layer.forward(t);
      PetscScalar l;
      VecDot(g, x, &l);
      loss[s] = PetscRealPart(l);
    }
    const double fd = (loss[0] - loss[1]) / (2 * eps);
    PetscScalar gd;
    VecDot(grad.get(names[b]), d.get(names[b]), &gd);
    const double ref = refs[b]->dot(foldopt_ref::to_eigen(d.get(names[b])));
    EXPECT_GT(std::abs(ref), 1e-2) << names[b];
    EXPECT_NEAR(fd, ref, 1e-5 * std::abs(ref)) << names[b];
    EXPECT_NEAR(PetscRealPart(gd), ref, 1e-8 * std::abs(ref)) << names[b];
  }
  layer.set_solution(p->params(), xsave);

  // check_fd's own figures: its differences agree with the folded gradient, and it notices a
  // gradient that is wrong by a known factor (1.01 in one block: relative difference 0.01).
  // (qp_box's fourth block H.values: a random, not symmetric, direction; the fixed point of the
  // map with ∇f = Hx − q is differentiable in every stored entry, and the snes forward solves it)
  const std::vector<foldopt::FdCheck> fd = foldopt::check_fd(layer, p->params(), g, grad, 1e-4);
  ASSERT_EQ(fd.size(), 4u);
  const char* names4[] = {"q", "lb", "ub", "H.values"};
  for (int b = 0; b < 4; ++b) {
    EXPECT_EQ(fd[b].block, names4[b]);
    EXPECT_DOUBLE_EQ(fd[b].eps, 1e-4);
    EXPECT_GT(std::abs(fd[b].fd), 1e-2) << names4[b];
    EXPECT_LE(fd[b].relative, 1e-5) << names4[b] << ": folded " << fd[b].folded << ", fd " << fd[b].fd;
  }
  ParamSet wrong = grad.copy();
  VecScale(wrong.get("lb"), 1.01);
  const std::vector<foldopt::FdCheck> fdw = foldopt::check_fd(layer, p->params(), g, wrong, 1e-4);
  ASSERT_EQ(fdw.size(), 4u);
  EXPECT_LE(fdw[0].relative, 1e-5);
  EXPECT_NEAR(fdw[1].relative, 0.01, 2e-5);
  EXPECT_LE(fdw[2].relative, 1e-5);
  EXPECT_LE(fdw[3].relative, 1e-5);
  // The layer's solution is restored.
  OwnedVec d = p->create_vec();
  VecWAXPY(d, -1.0, xsave, layer.solution());
  PetscReal dnrm;
  VecNorm(d, NORM_INFINITY, &dnrm);
  EXPECT_EQ(dnrm, 0.0);
}

TEST(Checks, FiniteDifferencesThroughOption) {
  std::unique_ptr<BoxQP> p = make_problem(225, 3);
  ScopedOptions so(Options{{"-fold_check_fd", ""}, {"-fold_fwd_snes_atol", "1e-13"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 8);
  ParamSet grad = layer.backward(g);
  // Default eps 1e-6, forward to atol 1e-13: agreement about 1e-6 (rounding / eps), asserted 1e-5.
  ASSERT_EQ(layer.fd_checks().size(), 4u);
  const char* names[] = {"q", "lb", "ub", "H.values"};
  for (int b = 0; b < 4; ++b) {
    const foldopt::FdCheck& c = layer.fd_checks()[b];
    EXPECT_EQ(c.block, names[b]);
    EXPECT_GT(std::abs(c.fd), 1e-2) << c.block;
    EXPECT_LE(c.relative, 1e-5) << c.block << ": folded " << c.folded << ", fd " << c.fd;
  }
  // The checks leave the layer at the caller's θ (the same vectors) and x*: a second backward
  // gives the same gradient.
  ASSERT_EQ(layer.theta().size(), 4u);
  for (const char* b : names) EXPECT_EQ(layer.theta().get(b), p->params().get(b)) << b;
  ParamSet again = layer.backward(g);
  for (const char* b : names)
    EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(again.get(b)), foldopt_ref::to_eigen(grad.get(b))), 1e-12) << b;
}

TEST(Checks, AssembledPhi) {
  std::unique_ptr<BoxQP> p = make_problem();
  PgdMap map(*p);
  ASSERT_TRUE(map.can_assemble());
  ASSERT_TRUE(map.has_diagonal());
  map.linearize(p->known_solution(), p->params());
  OwnedMat phi = map.assemble_phi();

  OwnedVec u = p->create_vec(), y1 = p->create_vec(), y2 = p->create_vec();
  for (unsigned long seed : {11ul, 12ul}) {
    foldopt::fill_random(u, seed);
    MatMult(phi, u, y1);
    map.phi(u, y2);
    VecAXPY(y1, -1.0, y2);
    PetscReal e, n2;
    VecNorm(y1, NORM_2, &e);
    VecNorm(y2, NORM_2, &n2);
    ASSERT_GT(n2, 0);
    EXPECT_LE(e / n2, 1e-13);
  }

  OwnedVec d1 = p->create_vec(), d2 = p->create_vec();
  map.get_diagonal(d1);
  MatGetDiagonal(phi, d2);
  const VectorXd e1 = foldopt_ref::to_eigen(d1), e2 = foldopt_ref::to_eigen(d2);
  EXPECT_LE((e1 - e2).lpNorm<Eigen::Infinity>(), 1e-15);

  // Independently: Φ = D (I − αH) with D the free set of x*.
  const Dense dn = dense_of(*p);
  ASSERT_TRUE(dn.set.ok);
  MatrixXd ref = MatrixXd::Identity(400, 400) - map.stepsize() * dn.H;
  for (std::size_t i = 0; i < dn.set.role.size(); ++i)
    if (dn.set.role[i] != 0) ref.row((Eigen::Index)i).setZero();
  const MatrixXd got = foldopt_ref::gather_dense(phi);
  EXPECT_LE((got - ref).lpNorm<Eigen::Infinity>(), 1e-15);
  EXPECT_LE((e1 - ref.diagonal()).lpNorm<Eigen::Infinity>(), 1e-15);
  EXPECT_EQ(map.free_count(), (PetscInt)dn.set.free.size());
}

TEST(Checks, RhoMatchesDenseEigenvalues) {
  std::unique_ptr<BoxQP> p = make_problem();
  ScopedOptions eps(Options{{"-fold_rho_type", "eps"}});  // SLEPc on Φᵀ (Lanczos: test_stepsize.cpp)
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 42);
  layer.backward(g);
  const foldopt::RhoEstimate est = layer.estimate_rho();
  ASSERT_TRUE(est.converged);
  EXPECT_GT(est.products, 0);

  const Dense dn = dense_of(*p);
  ASSERT_TRUE(dn.set.ok);
  const VectorXd lam = foldopt_ref::free_eigenvalues(dn.H, dn.set);
  const double alpha = layer.map().stepsize();
  const double ref = std::max(std::abs(1 - alpha * lam[0]), std::abs(1 - alpha * lam[lam.size() - 1]));
  ASSERT_GT(ref, 0.5);
  EXPECT_LE(std::abs(est.rho - ref), est.error + 1e-12) << "rho " << est.rho << " vs dense " << ref;
  // The default tolerance is loose (cheap): the residual bound meets SLEPc's relative criterion.
  EXPECT_LE(est.error, 1.001 * est.tol * est.rho);

  // A tight tolerance narrows the bound, and the estimate stays within it.
  ScopedOptions so(Options{{"-fold_rho_eps_tol", "1e-8"}});
  const foldopt::RhoEstimate tight = layer.estimate_rho();
  ASSERT_TRUE(tight.converged);
  EXPECT_LE(tight.error, 1e-7);
  EXPECT_LE(std::abs(tight.rho - ref), tight.error + 1e-12) << "rho " << tight.rho << " vs dense " << ref;
}

TEST(Checks, OptimalStepsize) {
  std::unique_ptr<BoxQP> p = make_problem();
  ScopedOptions so(Options{{"-fold_stepsize", "optimal"}, {"-fold_rho_type", "eps"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  const double alpha0 = layer.map().stepsize();
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 42);
  layer.backward(g);
  EXPECT_TRUE(layer.adjoint().report().converged);

  const Dense dn = dense_of(*p);
  ASSERT_TRUE(dn.set.ok);
  const VectorXd lam = foldopt_ref::free_eigenvalues(dn.H, dn.set);
  const double lmin = lam[0], lmax = lam[lam.size() - 1], kappa = lmax / lmin;
  const double alpha_ref = 2 / (lmin + lmax);
  const double alpha = layer.map().stepsize();
  EXPECT_NE(alpha, alpha0);
  EXPECT_NEAR(alpha, alpha_ref, 1e-3 * alpha_ref) << "alpha " << alpha << " vs 2/(lmin+lmax) " << alpha_ref;
  const foldopt::ExtremeEigenvalues& se = layer.stepsize_estimate();
  EXPECT_NEAR(se.lmin, lmin, 1e-3 * lmin);
  EXPECT_NEAR(se.lmax, lmax, 1e-3 * lmax);

  const foldopt::RhoEstimate est = layer.estimate_rho();
  ASSERT_TRUE(est.converged);
  const double rho_opt = (kappa - 1) / (kappa + 1);
  EXPECT_NEAR(est.rho, rho_opt, 1e-3 * rho_opt) << "rho " << est.rho << " vs (k-1)/(k+1) " << rho_opt;
  // Exactly max|1 − αλ| at the α chosen.
  const double rho_alpha = std::max(std::abs(1 - alpha * lmin), std::abs(1 - alpha * lmax));
  EXPECT_LE(std::abs(est.rho - rho_alpha), est.error + 1e-12);
  // The optimal stepsize contracts faster than the default 1/‖H‖∞.
  const double rho_default = std::max(std::abs(1 - alpha0 * lmin), std::abs(1 - alpha0 * lmax));
  EXPECT_LT(est.rho, rho_default);
}

}  // namespace

// The warm-start study's nearby θ_k move the vector blocks and leave the matrix values fixed (an
// independent move of each stored H_ij would make H unsymmetric: a dense 40×40 box-QP read from a
// file then stalled TAO tron at every warm start). The forward here records each θ_k it is given.
TEST(Checks, WarmStartStudyKeepsMatrixValues) {
  BoxQPGenerator gen;
  gen.n = 25;
  std::unique_ptr<BoxQP> qp = BoxQP::generate(PETSC_COMM_WORLD, gen);
  FoldedLayer layer(*qp);
  std::vector<ParamSet> seen;
  Vec xstar = qp->known_solution();
  layer.set_forward_callback([&](const ParamSet& theta, Vec x, foldopt::ForwardReport& report) {
    seen.push_back(theta.copy());
    VecCopy(xstar, x);
    report.converged = true;
    report.iterations = 1;
  });
  layer.set_from_options();
  layer.forward(qp->params());
  seen.clear();
  foldopt::WarmStartStudy st = foldopt::warm_start_study(layer, qp->params(), 2, 1e-3);
  ASSERT_EQ(st.cold.size(), 2u);
  ASSERT_EQ(seen.size(), 4u);  // two steps, cold and warm
  const ParamSet& theta = qp->params();
  for (const ParamSet& tk : seen) {
    const std::vector<double> h0 = foldopt_test::gather(theta.get("H.values")), h = foldopt_test::gather(tk.get("H.values"));
    const std::vector<double> q0 = foldopt_test::gather(theta.get("q")), q = foldopt_test::gather(tk.get("q"));
    EXPECT_EQ(h, h0) << "the matrix values moved";
    double moved = 0;
    for (std::size_t i = 0; i < q.size(); ++i) moved = std::max(moved, std::abs(q[i] - q0[i]));
    EXPECT_GT(moved, 1e-5) << "q did not move";
    EXPECT_LE(moved, 2 * 1e-3 * 1.0 + 1e-15) << "q moved by more than k·δ·max|d|";
  }
}
