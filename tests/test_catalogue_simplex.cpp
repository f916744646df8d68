// The simplex problems of the catalogue, sparsemax and smooth top-k, against closed forms computed
// in the test on gathered data (Eigen), at np = 1 and 2, for one instance and for a batch whose
// instances span both ranks.
//   sparsemax: x* = the projection of θ onto the simplex, found here by sorting; the Jacobian
//     J = diag(s) − s sᵀ/|S| (s the support of x*), so ∂L/∂θ = J g. Every adjoint method (GMRES,
//     LFPI, BiCGStab, the symmetric form with CG, Jacobian extraction with the low-rank part by
//     Woodbury) gives it to 1e-9 relative.
//   topk: x* = min(1, exp((c − τ)/ε − 1)) with τ found here by bisection in long double; on the free
//     set F = {x < 1}, ∂x_F/∂c_F = diag(s) − s sᵀ/Σs with s = x_F/ε. The default backward (the
//     problem's α = 1/ε with left Jacobi: GMRES), the same at rtol 1e-12, BiCGStab, CG on the
//     symmetric form (the gradient from J w = K u, Jacobi from the sparse part of J: at most 15
//     iterations per instance), and Jacobian extraction (Woodbury) give ∂L/∂c = Jᵀ g to 1e-9
//     relative, on instances with entries below 1e-6 on the free set.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/layer.hpp>
#include <foldopt/problems/sparsemax.hpp>
#include <foldopt/problems/topk.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

OwnedVec random_g(const foldopt::Problem& p, unsigned long seed) {
  OwnedVec g = p.create_vec();
  foldopt::fill_random(g, seed);
  return g;
}

/// Projection of v onto the simplex by sorting (the test's own).
VectorXd simplex_projection(const VectorXd& v) {
  std::vector<double> u(v.data(), v.data() + v.size());
  std::sort(u.begin(), u.end(), std::greater<double>());
  double cum = 0, tau = 0;
  for (std::size_t j = 0; j < u.size(); ++j) {
    cum += u[j];
    const double t = (cum - 1) / static_cast<double>(j + 1);
    if (u[j] - t > 0) tau = t;
  }
  return (v.array() - tau).cwiseMax(0.0);
}

/// ∂L/∂θ = J g per instance, J = diag(s) − s sᵀ/|S|.
VectorXd sparsemax_gradient(const VectorXd& x, const VectorXd& g, int n) {
  VectorXd out = VectorXd::Zero(x.size());
  for (int b = 0; b < x.size() / n; ++b) {
    const VectorXd xs = x.segment(b * n, n), gs = g.segment(b * n, n);
    VectorXd s = (xs.array() > 0).cast<double>();
    const double S = s.sum(), sg = s.dot(gs);
    out.segment(b * n, n) = s.cwiseProduct(gs) - s * (sg / S);
  }
  return out;
}

/// Forward (against xref, relative `xtol`) and backward (block `block` against ref, 1e-9) under each
/// set of options.
void expect_every_method(foldopt::Problem& p, Vec g, const std::string& block, const VectorXd& xref, const VectorXd& ref,
                         double xtol, const std::vector<Options>& methods) {
  for (const Options& m : methods) {
    ScopedOptions so(m);
    FoldedLayer layer(p);
    layer.set_from_options();
    Vec x = layer.forward(p.params());
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(x), xref), xtol);
    ParamSet grad = layer.backward(g);
    const std::string name = m.empty() ? "default" : m[0].first + " " + m[0].second;
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get(block.c_str())), ref), 1e-9)
        << name << ": " << layer.adjoint().report().method << ", " << layer.adjoint().report().iterations << " iterations";
    EXPECT_TRUE(layer.adjoint().report().converged) << name;
  }
}

class Sparsemax : public ::testing::TestWithParam<std::pair<PetscInt, PetscInt>> {};

TEST_P(Sparsemax, ClosedFormAndEveryMethod) {
  const PetscInt n = GetParam().first, B = GetParam().second;
  std::unique_ptr<foldopt::Sparsemax> p = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, n, B, 5);
  OwnedVec g = random_g(*p, 9);
  const VectorXd theta = foldopt_ref::to_eigen(p->params().get("theta")), gv = foldopt_ref::to_eigen(g);
  VectorXd xref(theta.size());
  for (PetscInt b = 0; b < B; ++b) xref.segment(b * n, n) = simplex_projection(theta.segment(b * n, n));
  const VectorXd ref = sparsemax_gradient(xref, gv, (int)n);
  ASSERT_GT(ref.norm(), 0.1);
  ASSERT_GT((xref.array() > 0).count(), 2 * B);  // a support of more than one entry per instance

  expect_every_method(*p, g, "theta", xref, ref, 1e-14,
                      {{},
                       {{"-fold_ksp_type", "richardson"}},
                       {{"-fold_ksp_type", "bcgs"}},
                       {{"-fold_adjoint_form", "symmetric"}},
                       {{"-fold_backward", "jacobian"}}});
}

INSTANTIATE_TEST_SUITE_P(Sizes, Sparsemax, ::testing::Values(std::make_pair(50, 1), std::make_pair(40, 3)));

/// τ of one instance by bisection in long double: Σ min(1, exp((c − τ)/ε − 1)) = k.
VectorXd topk_reference(const VectorXd& c, double k, double eps) {
  auto sum = [&](long double tau) {
    long double s = 0;
    for (int i = 0; i < c.size(); ++i) s += std::min<long double>(1, std::exp((c[i] - tau) / eps - 1));
    return s;
  };
  long double lo = c.minCoeff() - eps - 1, hi = c.maxCoeff() + 1;
  for (int it = 0; it < 200; ++it) {
    const long double mid = 0.5L * (lo + hi);
    (sum(mid) > k ? lo : hi) = mid;
  }
  const long double tau = 0.5L * (lo + hi);
  VectorXd x(c.size());
  for (int i = 0; i < c.size(); ++i) x[i] = (double)std::min<long double>(1, std::exp((c[i] - tau) / eps - 1));
  return x;
}

/// ∂L/∂c = Jᵀ g with J_FF = diag(s) − s sᵀ/Σs, s = x_F/ε; zero where x = 1.
VectorXd topk_gradient(const VectorXd& x, const VectorXd& g, double eps) {
  VectorXd s = VectorXd::Zero(x.size());
  for (int i = 0; i < x.size(); ++i)
    if (x[i] < 1) s[i] = x[i] / eps;
  return s.cwiseProduct(g) - s * (s.dot(g) / s.sum());
}

class TopK : public ::testing::TestWithParam<std::pair<PetscInt, PetscInt>> {};

TEST_P(TopK, ClosedFormAndMethods) {
  const PetscInt n = GetParam().first, B = GetParam().second;
  const double k = 3, eps = 0.1;
  std::unique_ptr<foldopt::TopK> p = foldopt::TopK::generate(PETSC_COMM_WORLD, n, B, 4, k, eps);
  OwnedVec g = random_g(*p, 13);
  const VectorXd c = foldopt_ref::to_eigen(p->params().get("c")), gv = foldopt_ref::to_eigen(g);
  VectorXd xref(c.size()), ref(c.size());
  for (PetscInt b = 0; b < B; ++b) {
    xref.segment(b * n, n) = topk_reference(c.segment(b * n, n), k, eps);
    ref.segment(b * n, n) = topk_gradient(xref.segment(b * n, n), gv.segment(b * n, n), eps);
  }
  ASSERT_GT(ref.norm(), 0.1);
  ASSERT_LT(xref.minCoeff(), 1e-6);  // a badly scaled instance: small entries on the free set

  expect_every_method(*p, g, "c", xref, ref, 1e-12,
                      {{},
                       {{"-fold_ksp_rtol", "1e-12"}},
                       {{"-fold_ksp_type", "bcgs"}},
                       {{"-fold_adjoint_form", "symmetric"}, {"-fold_ksp_rtol", "1e-12"}},
                       {{"-fold_backward", "jacobian"}}});

  // The symmetric form with Jacobi from the sparse part of J: the scaled operator is the identity
  // plus a low-rank term (with the exact diagonal, CG took over 1000 iterations at n = 200).
  ScopedOptions so({{"-fold_adjoint_form", "symmetric"}, {"-fold_ksp_rtol", "1e-12"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  layer.backward(g);
  EXPECT_LE(layer.adjoint().report().iterations, 15 * B) << layer.adjoint().report().passes << " passes";
  EXPECT_GE(layer.adjoint().report().form_residual, 0);
  EXPECT_LT(layer.adjoint().report().form_residual, 1e-9);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TopK, ::testing::Values(std::make_pair(100, 1), std::make_pair(30, 4)));

// The constraints the problems expose (bounds and Σx = k) let TAO solve them: almm with its
// quasi-Newton subsolver (bqnls, to ‖∇L‖ ≤ 1e-8 on top-k's entropy; bqnkls on sparsemax's
// quadratic) finds the closed form's x, and the gradient at that x is the closed form's.
TEST(TopK, TaoSolvesTheConstrainedForm) {
  const PetscInt n = 30;
  const double k = 4, eps = 0.2;
  std::unique_ptr<foldopt::TopK> p = foldopt::TopK::generate(PETSC_COMM_WORLD, n, 1, 6, k, eps);
  OwnedVec g = random_g(*p, 3);
  const VectorXd c = foldopt_ref::to_eigen(p->params().get("c"));
  const VectorXd xref = topk_reference(c, k, eps), ref = topk_gradient(xref, foldopt_ref::to_eigen(g), eps);
  ScopedOptions so(Options{{"-fold_fwd_type", "tao"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  Vec x = layer.forward(p->params());
  EXPECT_EQ(layer.forward_report().solver.rfind("tao almm", 0), 0u) << layer.forward_report().solver;
  EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(x), xref), 1e-6);
  ParamSet grad = layer.backward(g);
  EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("c")), ref), 1e-5);
}

TEST(Sparsemax, TaoSolvesTheConstrainedForm) {
  const PetscInt n = 30, B = 2;
  std::unique_ptr<foldopt::Sparsemax> p = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, n, B, 8);
  const VectorXd theta = foldopt_ref::to_eigen(p->params().get("theta"));
  VectorXd xref(theta.size());
  for (PetscInt b = 0; b < B; ++b) xref.segment(b * n, n) = simplex_projection(theta.segment(b * n, n));
  ScopedOptions so(Options{{"-fold_fwd_type", "tao"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(layer.forward(p->params())), xref), 1e-9);
}

}  // namespace
