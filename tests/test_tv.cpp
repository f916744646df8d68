// Tests of the `tv` problem (total-variation denoising through its dual), at np 1 and 2.
//
// References, all independent of the code under test:
//  * x*: the exact solution for the active set read off the computed dual (free rows F: |y_i| < λ,
//    the others y_i = ±λ): x = P b with b = d − λ D_Aᵀ s_A and P the orthogonal projector onto
//    null(D_F) (dense SVD in Eigen), certified by the KKT conditions (|y_F| ≤ λ with x = d − Dᵀy,
//    D_F x = 0, s_A ∘ (D x)_A ≥ 0).
//  * gradients of L = ⟨g, x*⟩ for d and λ in closed form on that active set: ∂L/∂d = P g,
//    ∂L/∂λ = −(P g)ᵀ D_Aᵀ s_A; and central finite differences of L along random directions
//    (d, λ, D.values) with re-solved forwards.
#include <foldopt/foldopt.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problems/tv.hpp>

#include "reference.hpp"
#include "test_util.hpp"

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

using namespace foldopt;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_ref::gather_dense;
using foldopt_ref::to_eigen;
using foldopt_test::ScopedOptions;

namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

TvGenerator gen_1d(PetscInt n, unsigned long seed, PetscReal lambda) {
  TvGenerator g;
  g.n = n;
  g.seed = seed;
  g.lambda = lambda;
  return g;
}

/// A deterministic test signal by global index (the same at any number of ranks).
OwnedVec signal(PetscInt n, PetscInt batch, double phase) {
  OwnedVec d;
  const Layout l = batch_layout(PETSC_COMM_WORLD, n, batch);
  VecCreateMPI(PETSC_COMM_WORLD, l.local, n * batch, d.out());
  PetscInt rs, re;
  VecGetOwnershipRange(d, &rs, &re);
  for (PetscInt I = rs; I < re; ++I) {
    const PetscInt b = I / n, i = I % n;
    const double level = (i * 4 / n) % 2 ? 0.8 : -0.3 + 0.2 * b;
    const double noise = 0.15 * std::sin(1.7 * i + phase + 2.3 * b) * std::cos(0.31 * i * i + b);
    VecSetValue(d, I, level + noise, INSERT_VALUES);
  }
  VecAssemblyBegin(d);
  VecAssemblyEnd(d);
  return d;
}

/// The exact solution and the closed-form gradients of one instance, from the active set of y.
struct Reference {
  VectorXd x, grad_d;
  double grad_lambda = 0;
  double kkt = 0;  ///< largest violation of the KKT conditions of the computed (x, y)
  int free = 0;
};

Reference reference(const MatrixXd& D, const VectorXd& d, double lambda, const VectorXd& y, const VectorXd& x_ours,
                    const VectorXd& g) {
  const Eigen::Index m = D.rows(), n = D.cols();
  std::vector<int> F, A;
  for (Eigen::Index i = 0; i < m; ++i) (std::abs(y[i]) < lambda ? F : A).push_back(static_cast<int>(i));
  MatrixXd DF(F.size(), n), DA(A.size(), n);
  VectorXd sA(A.size());
  for (std::size_t k = 0; k < F.size(); ++k) DF.row(k) = D.row(F[k]);
  for (std::size_t k = 0; k < A.size(); ++k) {
    DA.row(k) = D.row(A[k]);
    sA[k] = y[A[k]] > 0 ? 1.0 : -1.0;
  }
  MatrixXd P = MatrixXd::Identity(n, n);
  if (!F.empty()) {
    Eigen::JacobiSVD<MatrixXd> svd(DF, Eigen::ComputeThinV);
    const double tol = 1e-10 * std::max(1.0, svd.singularValues().maxCoeff());
    for (Eigen::Index k = 0; k < svd.singularValues().size(); ++k)
      if (svd.singularValues()[k] > tol) P -= svd.matrixV().col(k) * svd.matrixV().col(k).transpose();
  }
  Reference r;
  r.free = static_cast<int>(F.size());
  const VectorXd b = A.empty() ? d : VectorXd(d - lambda * DA.transpose() * sA);
  r.x = P * b;
  r.grad_d = P * g;
  r.grad_lambda = A.empty() ? 0.0 : -(r.grad_d.dot(DA.transpose() * sA));
  // KKT of the computed pair: x = d − Dᵀy, |y| ≤ λ, (Dx)_F = 0, s_A (Dx)_A ≥ 0.
  const VectorXd Dx = D * x_ours;
  r.kkt = (x_ours - (d - D.transpose() * y)).lpNorm<Eigen::Infinity>();
  for (Eigen::Index i = 0; i < m; ++i) {
    r.kkt = std::max(r.kkt, std::abs(y[i]) - lambda);
    if (std::abs(y[i]) < lambda)
      r.kkt = std::max(r.kkt, std::abs(Dx[i]));
    else
      r.kkt = std::max(r.kkt, -(y[i] > 0 ? Dx[i] : -Dx[i]));
  }
  return r;
}

double rel(const VectorXd& a, const VectorXd& b) { return (a - b).norm() / std::max(1e-300, b.norm()); }

double scalar(Vec v) {
  PetscScalar s;
  VecSum(v, &s);
  return PetscRealPart(s);
}

/// L(θ) = ⟨g, x*(θ)⟩ through a forward solve of the layer.
double loss(FoldedLayer& layer, const ParamSet& theta, Vec g) {
  Vec x = layer.forward(theta);
  PetscScalar v;
  VecDot(x, g, &v);
  return PetscRealPart(v);
}

/// Central difference of L along `dir` (zero outside the block it perturbs) against ⟨grad, dir⟩.
void expect_fd(FoldedLayer& layer, const ParamSet& theta, const ParamSet& dir, Vec g, const ParamSet& grad, double h,
               double tol, const std::string& what) {
  ParamSet tp = theta.copy(), tm = theta.copy();
  tp.axpy(h, dir);
  tm.axpy(-h, dir);
  const double fd = (loss(layer, tp, g) - loss(layer, tm, g)) / (2 * h);
  const double an = PetscRealPart(grad.dot(dir));
  EXPECT_NEAR(an, fd, tol * std::max(1.0, std::abs(fd))) << what << ": analytic " << an << " vs finite difference " << fd;
  layer.forward(theta);  // back to θ
}

/// A direction that is random in block `name` and zero elsewhere.
ParamSet direction(const ParamSet& theta, const std::string& name, unsigned long seed) {
  ParamSet dir = theta.zeros_like();
  for (std::size_t b = 0; b < dir.size(); ++b)
    if (dir[b].name == name) {
      if (dir[b].kind == BlockKind::scalar)
        VecSet(dir[b].vec, 1.0);
      else
        fill_random(dir[b].vec, seed);
    }
  return dir;
}

struct Solved {
  Reference ref;
  double fp = 0;
};

/// Forward and backward, then the dense reference of instance 0 (B = 1).
Solved solve_and_reference(TvProblem& p, FoldedLayer& layer, Vec g, ParamSet* grad) {
  Vec x = layer.forward(p.params());
  *grad = layer.backward(g);
  Solved s;
  s.fp = layer.fixed_point_residual();
  const MatrixXd D = gather_dense(p.D());
  s.ref = reference(D, to_eigen(p.params().get("d")), scalar(p.params().get("lambda")), to_eigen(layer.state()), to_eigen(x),
                    to_eigen(g));
  return s;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// 1-D: x* exact, d and λ gradients against the closed form and FD, D.values against FD.
TEST(Tv1D, SolutionAndGradients) {
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen_1d(40, 3, 0.15));
  FoldedLayer layer(*p);
  layer.set_from_options();
  EXPECT_EQ(layer.forward_solver().type(), "fista");
  OwnedVec g;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, 40, g.out());
  fill_random(g, 21);
  ParamSet grad;
  const Solved s = solve_and_reference(*p, layer, g, &grad);
  EXPECT_LE(s.fp, 1e-10) << "the default forward (fista) reaches the fixed point";
  EXPECT_LE(s.ref.kkt, 1e-10);
  EXPECT_GT(s.ref.free, 3);
  EXPECT_LT(s.ref.free, 39) << "the instance has both free and active rows";
  EXPECT_GT(s.ref.grad_d.norm(), 0.1) << "the reference gradient is not trivial";
  EXPECT_GT(std::abs(s.ref.grad_lambda), 1e-3) << "the reference gradient is not trivial";
  EXPECT_LE(rel(to_eigen(layer.solution()), s.ref.x), 1e-10);
  EXPECT_LE(rel(to_eigen(grad.get("d")), s.ref.grad_d), 1e-9);
  EXPECT_NEAR(scalar(grad.get("lambda")), s.ref.grad_lambda, 1e-9 * std::max(1.0, std::abs(s.ref.grad_lambda)));
  {  // the scalar block's state changed on every rank: no stale cached norm (collective VecNorm)
    PetscReal nrm;
    VecNorm(grad.get("lambda"), NORM_2, &nrm);
    EXPECT_NEAR(nrm, std::abs(s.ref.grad_lambda), 1e-9 * std::max(1.0, std::abs(s.ref.grad_lambda)));
  }
  expect_fd(layer, p->params(), direction(p->params(), "d", 5), g, grad, 1e-5, 1e-6, "d");
  expect_fd(layer, p->params(), direction(p->params(), "lambda", 0), g, grad, 1e-5, 1e-6, "lambda");
  expect_fd(layer, p->params(), direction(p->params(), "D.values", 6), g, grad, 1e-4, 1e-6, "D.values");
}

// A learned D (θ's D.values three times the problem's): the stepsize follows the curvature bound of
// the D in θ at each forward, α = 1/(‖D‖₁‖D‖∞) (computed here from the dense D), FISTA reaches the
// fixed point, and the gradients match the dense reference for that D; the problem's own θ then
// gives back the first α.
TEST(Tv1D, StepsizeFollowsLearnedD) {
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen_1d(40, 3, 0.15));
  FoldedLayer layer(*p);
  layer.set_from_options();
  OwnedVec g;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, 40, g.out());
  fill_random(g, 21);
  auto bound = [](const MatrixXd& D) {
    return D.cwiseAbs().colwise().sum().maxCoeff() * D.cwiseAbs().rowwise().sum().maxCoeff();
  };
  const MatrixXd D0 = gather_dense(p->D());
  layer.forward(p->params());
  EXPECT_NEAR(layer.map().stepsize(), 1 / bound(D0), 1e-14);
  ParamSet theta = p->params().copy();
  VecScale(theta.get("D.values"), 3.0);
  Vec x = layer.forward(theta);
  EXPECT_NEAR(layer.map().stepsize(), 1 / bound(3 * D0), 1e-14);
  ParamSet grad = layer.backward(g);
  EXPECT_LE(layer.fixed_point_residual(), 1e-10);
  const Reference ref = reference(3 * D0, to_eigen(theta.get("d")), scalar(theta.get("lambda")), to_eigen(layer.state()),
                                  to_eigen(x), to_eigen(g));
  EXPECT_LE(ref.kkt, 1e-10);
  EXPECT_LE(rel(to_eigen(layer.solution()), ref.x), 1e-10);
  EXPECT_LE(rel(to_eigen(grad.get("d")), ref.grad_d), 1e-9);
  layer.forward(p->params());
  EXPECT_NEAR(layer.map().stepsize(), 1 / bound(D0), 1e-14);
}

// The library's own checks on a map with a readout: -fold_check_fd and the warm-start study
// restore the state (not the solution, which has another length).
TEST(Tv1D, CheckFdAndWarmStarts) {
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen_1d(30, 5, 0.2));
  OwnedVec g;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, 30, g.out());
  fill_random(g, 3);
  ScopedOptions so(Options{{"-fold_check_fd", ""}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  ParamSet grad;
  ASSERT_NO_THROW(grad = layer.backward(g));
  ASSERT_EQ(layer.fd_checks().size(), 3u);
  for (const FdCheck& c : layer.fd_checks()) EXPECT_LE(c.relative, 1e-4) << c.block << ": " << c.folded << " vs " << c.fd;
  WarmStartStudy st;
  ASSERT_NO_THROW(st = warm_start_study(layer, p->params(), 2, 1e-3));
  ASSERT_EQ(st.warm.size(), 2u);
  EXPECT_LT(st.warm[0], st.cold[0]) << "a warm start from the dual state saves iterations";
}

// The dual objective's products: Ψ-type dot products (∂∇f/∂θ and its transpose) to 1e-12, ∇f and
// ∂∇f/∂θ against central differences, the assembled Hessian and its diagonal against products;
// the readout's transposed products against its own forward differences (R is affine in y, d).
TEST(TvDual, ProductsAndDifferences) {
  TvGenerator gen;
  gen.m1 = 4;
  gen.m2 = 5;
  gen.batch = 2;
  gen.seed = 7;
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen);
  Objective& f = *p->objective();
  const ParamSet& theta = p->params();
  OwnedVec y = p->create_vec(), v = p->create_vec(), gy = p->create_vec(), hv = p->create_vec();
  fill_random(y, 1);
  fill_random(v, 2);
  ParamSet dt = theta.zeros_like();
  fill_random(dt.get("d"), 3);
  fill_random(dt.get("D.values"), 4);
  // ⟨v, (∂∇f/∂θ) dθ⟩ = ⟨(∂∇f/∂θ)ᵀ v, dθ⟩
  ParamSet jt = theta.zeros_like();
  f.gradient_param_t(y, theta, v, jt);
  OwnedVec jd = p->create_vec();
  VecZeroEntries(jd);
  f.gradient_param(y, theta, dt, jd);
  PetscScalar lhs;
  VecDot(v, jd, &lhs);
  const PetscScalar rhs = jt.dot(dt);
  EXPECT_NEAR(PetscRealPart(lhs), PetscRealPart(rhs), 1e-12 * std::max(1.0, std::abs(PetscRealPart(lhs))));
  // (∂∇f/∂θ) dθ against a central difference of ∇f (∇f is quadratic in θ jointly: exact up to h²)
  const double h = 1e-6;
  ParamSet tp = theta.copy(), tm = theta.copy();
  tp.axpy(h, dt);
  tm.axpy(-h, dt);
  OwnedVec gp = p->create_vec(), gm = p->create_vec();
  f.value_gradient(y, tp, gp);
  f.value_gradient(y, tm, gm);
  VecAXPY(gp, -1.0, gm);
  VecScale(gp, 1.0 / (2 * h));
  EXPECT_LE(rel(to_eigen(jd), to_eigen(gp)), 1e-8);
  // ∇f against a central difference of f along v
  const double fp = [&] { OwnedVec t = p->create_vec(); VecWAXPY(t, h, v, y); return (double)f.value_gradient(t, theta, nullptr); }();
  const double fm = [&] { OwnedVec t = p->create_vec(); VecWAXPY(t, -h, v, y); return (double)f.value_gradient(t, theta, nullptr); }();
  f.value_gradient(y, theta, gy);
  PetscScalar gv;
  VecDot(gy, v, &gv);
  EXPECT_NEAR(PetscRealPart(gv), (fp - fm) / (2 * h), 1e-6 * std::max(1.0, std::abs(PetscRealPart(gv))));
  // assembled Hessian and diagonal against the product
  OwnedMat H = f.hessian(y, theta);
  OwnedVec hv2 = p->create_vec(), dg = p->create_vec(), dg2 = p->create_vec();
  f.hessian_mult(y, theta, v, hv);
  MatMult(H, v, hv2);
  EXPECT_LE(rel(to_eigen(hv2), to_eigen(hv)), 1e-14);
  f.hessian_diagonal(y, theta, dg);
  MatGetDiagonal(H, dg2);
  EXPECT_LE(rel(to_eigen(dg), to_eigen(dg2)), 1e-14);
  // curvature bound above λmax(DDᵀ) (Rayleigh quotient of v)
  PetscScalar vhv, vv;
  VecDot(v, hv, &vhv);
  VecDot(v, v, &vv);
  EXPECT_GE(f.curvature_bound(theta), PetscRealPart(vhv / vv));
  // readout: ⟨g, R(y + u) − R(y)⟩ = ⟨(∂R/∂y)ᵀ g, u⟩ and ⟨g, R(θ + dθ) − R(θ)⟩ (d and D.values)
  OwnedVec g, x0, x1;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, p->solution_layout().global(), g.out());
  VecDuplicate(g, x0.out());
  VecDuplicate(g, x1.out());
  fill_random(g, 5);
  p->readout(y, theta, x0);
  OwnedVec yu = p->create_vec(), rt = p->create_vec();
  VecWAXPY(yu, 1.0, v, y);
  p->readout(yu, theta, x1);
  VecAXPY(x1, -1.0, x0);
  p->readout_t(y, theta, g, rt);
  PetscScalar a, b;
  VecDot(g, x1, &a);
  VecDot(rt, v, &b);
  EXPECT_NEAR(PetscRealPart(a), PetscRealPart(b), 1e-12 * std::max(1.0, std::abs(PetscRealPart(a))));
  // (∂R/∂θ)ᵀ g by central differences in θ (R is bilinear in (y, D) and affine in d)
  ParamSet rp = theta.zeros_like();
  p->readout_param_t(y, theta, g, rp);
  p->readout(y, tp, x0);
  p->readout(y, tm, x1);
  VecAXPY(x0, -1.0, x1);
  VecDot(g, x0, &a);
  EXPECT_NEAR(PetscRealPart(a) / (2 * h), PetscRealPart(rp.dot(dt)), 1e-7 * std::max(1.0, std::abs(PetscRealPart(a) / (2 * h))));
}

// The same gradient from GMRES, BiCGStab, CG on the symmetric form and the Jacobian path.
TEST(Tv1D, MethodsAgree) {
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen_1d(30, 8, 0.2));
  OwnedVec g;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, 30, g.out());
  fill_random(g, 4);
  const std::vector<std::pair<std::string, Options>> methods = {
      {"gmres", {}},
      {"lfpi", {{"-fold_ksp_type", "richardson"}, {"-fold_ksp_max_it", "100000"}}},
      {"bcgs", {{"-fold_ksp_type", "bcgs"}}},
      {"symmetric cg", {{"-fold_adjoint_form", "symmetric"}, {"-fold_ksp_type", "cg"}}},
      {"jacobian", {{"-fold_backward", "jacobian"}}}};
  VectorXd dD0;
  for (const auto& m : methods) {
    ScopedOptions so(m.second);
    FoldedLayer layer(*p);
    layer.set_from_options();
    ParamSet grad;
    const Solved s = solve_and_reference(*p, layer, g, &grad);
    EXPECT_LE(s.ref.kkt, 1e-10) << m.first;
    EXPECT_LE(rel(to_eigen(grad.get("d")), s.ref.grad_d), 1e-8) << m.first << " (" << layer.adjoint().report().method << ")";
    EXPECT_NEAR(scalar(grad.get("lambda")), s.ref.grad_lambda, 1e-8 * std::max(1.0, std::abs(s.ref.grad_lambda))) << m.first;
    const VectorXd dD = to_eigen(grad.get("D.values"));
    if (dD0.size() == 0)
      dD0 = dD;
    else
      EXPECT_LE(rel(dD, dD0), 1e-8) << m.first << " vs gmres for D.values";
    if (m.first == "jacobian") EXPECT_NE(layer.adjoint().report().method.find("jacobian"), std::string::npos);
    if (m.first == "symmetric cg")
      EXPECT_NE(layer.adjoint().report().method.find("symmetric form"), std::string::npos);
  }
}

// TAO (tron) solves the dual through the problem's bounds [-lambda, lambda]: the same x*.
TEST(Tv1D, TaoTronForward) {
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen_1d(40, 3, 0.15));
  OwnedVec lb = p->create_vec(), ub = p->create_vec();
  p->bounds(p->params(), lb, ub);
  PetscReal lo, hi;
  VecMin(lb, nullptr, &lo);
  VecMax(ub, nullptr, &hi);
  EXPECT_EQ(lo, -0.15);
  EXPECT_EQ(hi, 0.15);
  FoldedLayer fista(*p);
  fista.set_from_options();
  fista.forward(p->params());
  ScopedOptions so(Options{{"-fold_fwd_type", "tao"}, {"-fold_fwd_tao_type", "tron"}});
  FoldedLayer tao(*p);
  tao.set_from_options();
  tao.forward(p->params());
  EXPECT_EQ(tao.forward_solver().type(), "tao");
  EXPECT_LE(rel(to_eigen(tao.solution()), to_eigen(fista.solution())), 1e-9);
}

// A primal forward (a callback returning x*, here the dense reference solution): the problem
// recovers y* from it, and the gradients are those of the dual forward.
TEST(Tv1D, PrimalForwardRecoversTheDual) {
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen_1d(40, 3, 0.15));
  OwnedVec g;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, p->solution_layout().global(), g.out());
  fill_random(g, 21);
  FoldedLayer dual(*p);
  dual.set_from_options();
  ParamSet ref;
  const Solved s = solve_and_reference(*p, dual, g, &ref);
  ASSERT_LT(s.ref.kkt, 1e-10);
  const VectorXd xref = s.ref.x;  // the dense reference's x*, not the layer's
  FoldedLayer primal(*p);
  primal.set_solution_callback([&](const ParamSet&, Vec x, ForwardReport& rep) {
    PetscInt rs, re;
    VecGetOwnershipRange(x, &rs, &re);
    for (PetscInt i = rs; i < re; ++i) VecSetValue(x, i, xref[i], INSERT_VALUES);
    VecAssemblyBegin(x);
    VecAssemblyEnd(x);
    rep.reason = "reference primal solution";
  });
  primal.set_from_options();
  primal.forward(p->params());
  EXPECT_LT(rel(to_eigen(primal.state()), to_eigen(dual.state())), 1e-8);
  EXPECT_LT(rel(to_eigen(primal.solution()), xref), 1e-12);
  const ParamSet grad = primal.backward(g);
  EXPECT_LE(primal.fixed_point_residual(), 1e-8);
  for (std::size_t b = 0; b < grad.size(); ++b) EXPECT_LT(rel(to_eigen(grad[b].vec), to_eigen(ref[b].vec)), 1e-7) << grad[b].name;
}

// 2-D: the dual is not unique; d and λ gradients still match FD (GMRES); the Jacobian path and
// the D.values gradient are refused with the reason.
TEST(Tv2D, UniqueGradientsAndRefusals) {
  TvGenerator gen;
  gen.m1 = 6;
  gen.m2 = 7;
  gen.seed = 2;
  gen.lambda = 0.2;
  std::unique_ptr<TvProblem> p = TvProblem::generate(PETSC_COMM_WORLD, gen, /*fixed_D=*/true);
  EXPECT_FALSE(p->params().has("D.values"));
  OwnedVec g;
  VecCreateMPI(PETSC_COMM_WORLD, p->solution_layout().local, 42, g.out());
  fill_random(g, 9);
  {
    FoldedLayer layer(*p);
    layer.set_from_options();
    ParamSet grad;
    const Solved s = solve_and_reference(*p, layer, g, &grad);
    EXPECT_LE(s.fp, 1e-10);
    EXPECT_LE(s.ref.kkt, 1e-10);
    EXPECT_LE(rel(to_eigen(layer.solution()), s.ref.x), 1e-9);
    EXPECT_GT(s.ref.grad_d.norm(), 0.1) << "the reference gradient is not trivial";
    EXPECT_GT(std::abs(s.ref.grad_lambda), 1e-3) << "the reference gradient is not trivial";
    EXPECT_FALSE(p->uniqueness(layer.state(), p->params()).empty()) << "the 2-D dual is expected non-unique here";
    EXPECT_LE(rel(to_eigen(grad.get("d")), s.ref.grad_d), 1e-8);
    EXPECT_NEAR(scalar(grad.get("lambda")), s.ref.grad_lambda, 1e-8 * std::max(1.0, std::abs(s.ref.grad_lambda)));
    expect_fd(layer, p->params(), direction(p->params(), "d", 5), g, grad, 1e-5, 1e-6, "d (2-D)");
    expect_fd(layer, p->params(), direction(p->params(), "lambda", 0), g, grad, 1e-5, 1e-6, "lambda (2-D)");
  }
  {
    ScopedOptions so(Options{{"-fold_backward", "jacobian"}});
    FoldedLayer layer(*p);
    layer.set_from_options();
    layer.forward(p->params());
    const std::string msg = error_of([&] { layer.backward(g); });
    EXPECT_NE(msg.find("dual solution y* is not unique"), std::string::npos) << msg;
    EXPECT_NE(msg.find("-fold_backward jacobian: I - Phi^T is singular"), std::string::npos) << msg;
  }
  {
    std::unique_ptr<TvProblem> q = TvProblem::generate(PETSC_COMM_WORLD, gen);
    FoldedLayer layer(*q);
    layer.set_from_options();
    layer.forward(q->params());
    const std::string msg = error_of([&] { layer.backward(g); });
    EXPECT_NE(msg.find("gradient for D.values is not unique"), std::string::npos) << msg;
  }
}

// The uniqueness check itself on a 3x3 image (12 edges): the four edges of one square free (a
// cycle: dependent rows, with fewer free rows than columns, so the eigenvalue test decides) and
// three of them (a tree: independent).
TEST(TvUniqueness, CycleAndTree) {
  OwnedMat D = TvProblem::difference_2d(PETSC_COMM_WORLD, 3, 3);
  OwnedVec d = signal(9, 1, 0.0);
  TvProblem p(D, d, 1.0, 1);
  // edges of the top-left square: horizontal (0,0)-(0,1) = row 0, (1,0)-(1,1) = row 2;
  // vertical (0,0)-(1,0) = row 6, (0,1)-(1,1) = row 7
  auto state = [&](const std::vector<PetscInt>& free) {
    OwnedVec y = p.create_vec();
    VecSet(y, 1.0);
    for (PetscInt i : free) VecSetValue(y, i, 0.5, INSERT_VALUES);
    VecAssemblyBegin(y);
    VecAssemblyEnd(y);
    return y;
  };
  OwnedVec cycle = state({0, 2, 6, 7}), tree = state({0, 2, 6});
  const std::string why = p.uniqueness(cycle, p.params());
  EXPECT_NE(why.find("linearly dependent"), std::string::npos) << why;
  EXPECT_NE(why.find("smallest eigenvalue"), std::string::npos) << why;
  EXPECT_EQ(p.uniqueness(tree, p.params()), "");
}

// A batch of two instances equals the two single solves (x, d per instance; λ and D.values summed).
TEST(TvBatch, EqualsSingleSolves) {
  const PetscInt n = 24;
  OwnedMat D = TvProblem::difference_1d(PETSC_COMM_WORLD, n);
  OwnedVec db = signal(n, 2, 0.4);
  TvProblem batch(D, db, 0.12, 2, true);
  OwnedVec gb;
  VecDuplicate(db, gb.out());
  fill_random(gb, 13);
  FoldedLayer lb(batch);
  lb.set_from_options();
  lb.forward(batch.params());
  ParamSet grad_b = lb.backward(gb);
  EXPECT_LE(lb.fixed_point_residual(), 1e-10);
  const VectorXd xb = to_eigen(lb.solution()), gdb = to_eigen(grad_b.get("d")), gall = to_eigen(gb), dall = to_eigen(db);
  double lam_sum = 0;
  VectorXd dD_sum;
  for (PetscInt b = 0; b < 2; ++b) {
    const Layout l = batch_layout(PETSC_COMM_WORLD, n, 1);
    OwnedVec d1, g1;
    VecCreateMPI(PETSC_COMM_WORLD, l.local, n, d1.out());
    VecDuplicate(d1, g1.out());
    PetscInt rs, re;
    VecGetOwnershipRange(d1, &rs, &re);
    for (PetscInt i = rs; i < re; ++i) {
      VecSetValue(d1, i, dall[b * n + i], INSERT_VALUES);
      VecSetValue(g1, i, gall[b * n + i], INSERT_VALUES);
    }
    for (Vec v : {d1.get(), g1.get()}) {
      VecAssemblyBegin(v);
      VecAssemblyEnd(v);
    }
    TvProblem single(D, d1, 0.12, 1, true);
    FoldedLayer l1(single);
    l1.set_from_options();
    l1.forward(single.params());
    ParamSet grad1 = l1.backward(g1);
    EXPECT_LE(rel(xb.segment(b * n, n), to_eigen(l1.solution())), 1e-10) << "instance " << b;
    EXPECT_LE(rel(gdb.segment(b * n, n), to_eigen(grad1.get("d"))), 1e-9) << "instance " << b;
    lam_sum += scalar(grad1.get("lambda"));
    const VectorXd dD = to_eigen(grad1.get("D.values"));
    dD_sum = b == 0 ? dD : VectorXd(dD_sum + dD);
  }
  EXPECT_NEAR(scalar(grad_b.get("lambda")), lam_sum, 1e-9 * std::max(1.0, std::abs(lam_sum)));
  EXPECT_LE(rel(to_eigen(grad_b.get("D.values")), dD_sum), 1e-9);
}

// -Dmat and -d from files (written here), through the problem registry's options; the D of a file
// is not known to have full row rank, so the D.values gradient goes through the uniqueness check.
TEST(TvFiles, DmatFromFile) {
  const PetscInt n = 30;
  OwnedMat D = TvProblem::difference_1d(PETSC_COMM_WORLD, n);
  OwnedVec d = signal(n, 1, 1.1);
  const std::string dir = foldopt_test::temp_dir("tv");
  ASSERT_FALSE(dir.empty());
  io::write_mat(dir + "/D.mtx", D);
  io::write_vec(dir + "/d.mtx", d);
  std::unique_ptr<Problem> pf;
  {
    ScopedOptions so({{"-Dmat", dir + "/D.mtx"}, {"-d", dir + "/d.mtx"}, {"-lambda", "0.25"}});
    pf = problem_registry().create("problem", "tv", PETSC_COMM_WORLD);
  }
  TvProblem pd(D, d, 0.25, 1, true);
  ASSERT_TRUE(pf->has_readout());
  EXPECT_EQ(pf->solution_layout().global(), n);
  EXPECT_EQ(pf->layout().global(), n - 1);
  OwnedVec g;
  VecDuplicate(d, g.out());
  fill_random(g, 17);
  FoldedLayer lf(*pf), ld(pd);
  lf.set_from_options();
  ld.set_from_options();
  lf.forward(pf->params());
  ld.forward(pd.params());
  ParamSet gf = lf.backward(g), gd = ld.backward(g);
  EXPECT_LE(rel(to_eigen(lf.solution()), to_eigen(ld.solution())), 1e-10);
  EXPECT_LE(rel(to_eigen(gf.get("d")), to_eigen(gd.get("d"))), 1e-9);
  EXPECT_LE(rel(to_eigen(gf.get("D.values")), to_eigen(gd.get("D.values"))), 1e-9);
  EXPECT_EQ(static_cast<TvProblem*>(pf.get())->uniqueness(lf.state(), pf->params()), "");
}

// Bad input: one clear error naming the input.
TEST(TvErrors, BadInput) {
  OwnedMat D = TvProblem::difference_1d(PETSC_COMM_WORLD, 10);
  OwnedVec d = signal(12, 1, 0.0);
  std::string msg = error_of([&] { TvProblem p(D, d, 0.1, 1); });
  EXPECT_NE(msg.find("tv: d has 12 entries but D has 10 columns"), std::string::npos) << msg;
  OwnedVec d10 = signal(10, 1, 0.0);
  msg = error_of([&] { TvProblem p(D, d10, -1.0, 1); });
  EXPECT_NE(msg.find("-lambda -1 must be"), std::string::npos) << msg;
  {
    ScopedOptions so(Options{{"-Dmat", "/nonexistent/D.mtx"}});
    msg = error_of([&] { problem_registry().create("problem", "tv", PETSC_COMM_WORLD); });
    EXPECT_NE(msg.find("-Dmat /nonexistent/D.mtx needs -d FILE"), std::string::npos) << msg;
  }
  {
    ScopedOptions so(Options{{"-tv_grid", "4"}});
    msg = error_of([&] { problem_registry().create("problem", "tv", PETSC_COMM_WORLD); });
    EXPECT_NE(msg.find("-tv_grid takes two positive sides"), std::string::npos) << msg;
  }
}
