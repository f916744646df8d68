// The map protocol and the proximal-gradient composition.
//   * Every objective × prox pairing the catalogue uses (and a few more) composed by ProxGradMap,
//     linearized at a random point of a batch of 2 instances spanning the ranks: the dot-product
//     tests ⟨Φu, v⟩ = ⟨u, Φᵀv⟩ and ⟨Ψdθ, v⟩ = ⟨dθ, Ψᵀv⟩ hold to 1e-12 (each part's own products
//     are tested in test_prox and test_objectives; this checks the composition's formulas).
//   * Gradients of the composed layer (forward fista) against central finite differences of
//     L = ⟨g, x*(θ)⟩, block by block.
//   * fista on qp_box finds the generator's x* (fixed-point residual ≤ 1e-10) and gives TAO's gradient.
//   * The symmetric adjoint form (CG, MINRES) gives the general form's gradient on qp_box; it is
//     refused for a map without a factor and CG is refused for a nonconvex objective.
//   * -fold_pgd_stepsize sets α, and the gradient does not depend on α.
//   * Ridge, ½‖Xβ − y‖² + ½μ‖β‖² as least squares on [X; √μ I] with the identity prox: ∂L/∂y =
//     [X; √μ I](XᵀX + μI)⁻¹ g against a dense Eigen solve, from GMRES, LFPI, CG on the symmetric
//     form and Jacobian extraction.
//   * A readout x = d∘s + e: (I − Φᵀ)w = (∂R/∂s)ᵀg and ∂L/∂θ = Ψᵀw + (∂R/∂θ)ᵀg against the closed form.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/maps/prox_grad.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/problems/composite.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/prox/ball.hpp>
#include <foldopt/prox/box.hpp>
#include <foldopt/prox/identity.hpp>
#include <foldopt/prox/l1.hpp>
#include <foldopt/prox/linear_constraint.hpp>
#include <foldopt/prox/nonnegative.hpp>
#include <foldopt/prox/simplex.hpp>

#include "core/random.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::BlockKind;
using foldopt::FoldedLayer;
using foldopt::Layout;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr PetscInt kN = 12, kB = 2;

/// A composite problem assembled in the test from given parts and blocks.
class Combo : public foldopt::CompositeProblem {
 public:
  explicit Combo(const Layout& l) : CompositeProblem("combo", l) {}
  void parts(std::unique_ptr<foldopt::Objective> f, std::unique_ptr<foldopt::Prox> h) { set_parts(std::move(f), std::move(h)); }
  ParamSet& theta() { return theta_; }
  std::string default_forward() const override { return "fista"; }
};

Layout test_layout() { return foldopt::batch_layout(PETSC_COMM_WORLD, kN, kB); }

/// Entries lo + (hi − lo)·u by global index.
OwnedVec uniform(const Layout& l, PetscInt size, double lo, double hi, unsigned long seed) {
  OwnedVec v;
  VecCreateMPI(l.comm, size == l.global() ? l.local : PETSC_DECIDE, size, v.out());
  PetscInt rs, re;
  VecGetOwnershipRange(v, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) VecSetValue(v, i, lo + (hi - lo) * foldopt::uniform01(seed, 5, (std::uint64_t)i), INSERT_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
  return v;
}

OwnedVec scalar(double value) {
  OwnedVec v;
  VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, 1, v.out());
  VecSet(v, value);
  return v;
}

/// A symmetric tridiagonal n×n matrix (diag `d`, off-diagonal `o`), shared by the instances.
OwnedMat tridiagonal(PetscInt n, double d, double o) {
  OwnedMat A;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, n, 3, nullptr, 2, nullptr, A.out());
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) {
    if (i > 0) MatSetValue(A, i, i - 1, o, INSERT_VALUES);
    MatSetValue(A, i, i, d, INSERT_VALUES);
    if (i + 1 < n) MatSetValue(A, i, i + 1, o, INSERT_VALUES);
  }
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

/// A sparse m×n matrix with 3 entries per row from (seed, global index).
OwnedMat sparse(PetscInt m, PetscInt n, unsigned long seed) {
  OwnedMat A;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, m, n, 3, nullptr, 3, nullptr, A.out());
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt k = 0; k < 3; ++k) {
      const PetscInt j = (i * 5 + k * 7) % n;
      MatSetValue(A, i, j, 0.5 + foldopt::uniform01(seed, 9 + k, (std::uint64_t)i), INSERT_VALUES);
    }
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

/// The pairings: name → a problem with its blocks.
using Maker = std::function<std::unique_ptr<Combo>()>;
std::vector<std::pair<std::string, Maker>> pairings() {
  std::vector<std::pair<std::string, Maker>> out;
  const Layout l = test_layout();
  auto quadratic = [l](Combo& p) {
    OwnedMat H = tridiagonal(kN, 4, -1);
    p.theta().add("q", uniform(l, l.global(), -2, 2, 3), BlockKind::instance);
    return foldopt::make_quadratic(l, H, "q");
  };
  out.push_back({"quadratic x box", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   auto f = quadratic(*p);
                   p->theta().add("lb", uniform(l, l.global(), -0.3, -0.05, 4), BlockKind::instance);
                   p->theta().add("ub", uniform(l, l.global(), 0.05, 0.3, 5), BlockKind::instance);
                   p->parts(std::move(f), foldopt::BoxProx::from_blocks(l, "lb", "ub"));
                   return p;
                 }});
  out.push_back({"entropy x capped simplex", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   p->theta().add("c", uniform(l, l.global(), -1, 1, 6), BlockKind::instance);
                   p->parts(foldopt::make_entropy(l, 0.5, "c"), std::unique_ptr<foldopt::Prox>(new foldopt::CappedSimplexProx(l, 3)));
                   return p;
                 }});
  out.push_back({"least squares x l1", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   OwnedMat X = sparse(2 * kN, kN, 7);
                   p->theta().add("y", uniform(l, 2 * kN * kB, -1, 1, 8), BlockKind::instance);
                   p->theta().add("lambda", scalar(0.3), BlockKind::scalar);
                   p->theta().add("X.values", foldopt::matrix_values::values(X), BlockKind::matrix_values, X);
                   p->parts(foldopt::make_least_squares(l, X, "y", "X.values"),
                            std::unique_ptr<foldopt::Prox>(new foldopt::L1Prox(l, "lambda")));
                   return p;
                 }});
  out.push_back({"linear x simplex", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   p->theta().add("c", uniform(l, l.global(), -1, 1, 9), BlockKind::instance);
                   p->parts(foldopt::make_linear(l, "c"), std::unique_ptr<foldopt::Prox>(new foldopt::SimplexProx(l)));
                   return p;
                 }});
  out.push_back({"sin quadratic x ball", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   OwnedMat Q = tridiagonal(kN, 3, -1);
                   p->theta().add("p", uniform(l, l.global(), -1, 1, 10), BlockKind::instance);
                   p->parts(foldopt::make_sin_quadratic(l, Q, "p"), std::unique_ptr<foldopt::Prox>(new foldopt::BallProx(l, 0.5)));
                   return p;
                 }});
  out.push_back({"quadratic x group l1", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   auto f = quadratic(*p);
                   p->theta().add("lambda", scalar(0.2), BlockKind::scalar);
                   p->parts(std::move(f), std::unique_ptr<foldopt::Prox>(new foldopt::GroupL1Prox(l, 3, "lambda")));
                   return p;
                 }});
  for (const bool eq : {false, true})
    out.push_back({eq ? "quadratic x hyperplane" : "quadratic x halfspace", [=] {
                     std::unique_ptr<Combo> p(new Combo(l));
                     auto f = quadratic(*p);
                     OwnedVec a = uniform(l, l.global(), 0.5, 1.5, 11);
                     const std::vector<PetscReal> b(kB, eq ? 0.3 : -0.5);
                     std::unique_ptr<foldopt::Prox> h(eq ? static_cast<foldopt::Prox*>(new foldopt::HyperplaneProx(l, a, b))
                                                         : new foldopt::HalfspaceProx(l, a, b));
                     p->parts(std::move(f), std::move(h));
                     return p;
                   }});
  out.push_back({"quadratic x nonnegative", [=] {
                   std::unique_ptr<Combo> p(new Combo(l));
                   auto f = quadratic(*p);
                   p->parts(std::move(f), std::unique_ptr<foldopt::Prox>(new foldopt::NonnegativeProx(l)));
                   return p;
                 }});
  return out;
}

TEST(Protocol, ComposedDotProducts) {
  for (const auto& pr : pairings()) {
    std::unique_ptr<Combo> p = pr.second();
    foldopt::ProxGradMap map(*p, 0.1);
    OwnedVec x = uniform(test_layout(), test_layout().global(), 0.05, 0.95, 12);  // inside the entropy's domain
    map.linearize(x, p->params());
    EXPECT_LT(foldopt::dot_test_phi(map).relative, 1e-12) << pr.first;
    EXPECT_LT(foldopt::dot_test_psi(map).relative, 1e-12) << pr.first;
  }
}

TEST(Protocol, ComposedGradientsAgainstFiniteDifferences) {
  // The strongly convex pairings, solved by fista to 1e-13.
  ScopedOptions so(Options{{"-fold_fwd_fista_tol", "1e-13"}});
  for (const auto& pr : pairings()) {
    if (pr.first.find("quadratic x") != 0 && pr.first != "least squares x l1") continue;
    std::unique_ptr<Combo> p = pr.second();
    FoldedLayer layer(*p);
    layer.set_from_options();
    layer.forward(p->params());
    OwnedVec g = uniform(test_layout(), test_layout().global(), -1, 1, 13);
    ParamSet grad = layer.backward(g);
    const std::vector<foldopt::FdCheck> fd = foldopt::check_fd(layer, p->params(), g, grad, 1e-6);
    for (const auto& c : fd) {
      EXPECT_GT(std::abs(c.fd), 1e-6) << pr.first << " " << c.block;  // the direction moves x*
      EXPECT_LT(c.relative, 1e-5) << pr.first << " " << c.block << ": folded " << c.folded << ", fd " << c.fd;
    }
  }
}

std::unique_ptr<foldopt::BoxQP> qp(PetscInt n = 400) {
  foldopt::BoxQPGenerator gen;
  gen.n = n;
  gen.seed = 11;
  return foldopt::BoxQP::generate(PETSC_COMM_WORLD, gen);
}

/// Forward and backward under options `o`; the layer is kept in `layer` for its reports.
ParamSet solve(foldopt::Problem& p, Vec g, const Options& o, std::unique_ptr<FoldedLayer>& layer) {
  ScopedOptions so(o);
  layer.reset(new FoldedLayer(p));
  layer->set_from_options();
  layer->forward(p.params());
  return layer->backward(g);
}

double block_diff(const ParamSet& a, const ParamSet& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, foldopt_test::rel_diff(a[i].vec, b[i].vec));
  return worst;
}

TEST(Protocol, FistaForward) {
  std::unique_ptr<foldopt::BoxQP> p = qp();
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 3);
  std::unique_ptr<FoldedLayer> layer;
  const ParamSet ref = solve(*p, g, {}, layer);  // tao
  const ParamSet got = solve(*p, g, {{"-fold_fwd_type", "fista"}}, layer);
  EXPECT_LE(layer->fixed_point_residual(), 1e-10);
  EXPECT_LT(foldopt_test::rel_diff(layer->solution(), p->known_solution()), 1e-10);
  EXPECT_LT(block_diff(got, ref), 1e-9);
}

TEST(Protocol, SymmetricForm) {
  std::unique_ptr<foldopt::BoxQP> p = qp();
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 4);
  std::unique_ptr<FoldedLayer> layer;
  const ParamSet ref = solve(*p, g, {}, layer);
  for (const Options& o : std::vector<Options>{{{"-fold_adjoint_form", "symmetric"}},
                                               {{"-fold_adjoint_form", "symmetric"}, {"-fold_ksp_type", "minres"}},
                                               {{"-fold_adjoint_form", "symmetric"}, {"-fold_pc_type", "jacobi"}}}) {
    const ParamSet got = solve(*p, g, o, layer);
    EXPECT_LT(block_diff(got, ref), 1e-9) << o.back().second;
    EXPECT_NE(layer->adjoint().report().method.find("symmetric form"), std::string::npos);
    EXPECT_LE(layer->adjoint().report().residual, 1e3 * 1e-10 * layer->adjoint().report().rhs_norm);
  }
  // A map without a factor: refused.
  {
    ScopedOptions so(Options{{"-fold_adjoint_form", "symmetric"}});
    FoldedLayer l2(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(*p)));
    try {
      l2.set_from_options();
      ADD_FAILURE() << "the symmetric form was accepted for a map without a factor";
    } catch (const foldopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find("declares no factor"), std::string::npos) << e.what();
    }
  }
  // A nonconvex objective: CG refused, MINRES the default.
  {
    std::unique_ptr<Combo> nc;
    for (auto& pr : pairings())
      if (pr.first == "sin quadratic x ball") nc = pr.second();
    ScopedOptions so(Options{{"-fold_adjoint_form", "symmetric"}, {"-fold_ksp_type", "cg"}});
    FoldedLayer l3(*nc);
    try {
      l3.set_from_options();
      ADD_FAILURE() << "CG was accepted for a nonconvex objective";
    } catch (const foldopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find("minres"), std::string::npos) << e.what();
    }
  }
}

TEST(Protocol, StepsizeOptionAndIndependence) {
  std::unique_ptr<foldopt::BoxQP> p = qp();
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 5);
  std::unique_ptr<FoldedLayer> layer;
  const ParamSet ref = solve(*p, g, {}, layer);
  const double alpha0 = layer->map().stepsize();
  const ParamSet got = solve(*p, g, {{"-fold_pgd_stepsize", "0.01"}}, layer);
  EXPECT_DOUBLE_EQ(layer->map().stepsize(), 0.01);
  EXPECT_NE(alpha0, 0.01);
  EXPECT_LT(block_diff(got, ref), 1e-9);
  const ParamSet sym = solve(*p, g, {{"-fold_pgd_stepsize", "1e-4"}, {"-fold_adjoint_form", "symmetric"}}, layer);
  EXPECT_LT(block_diff(sym, ref), 1e-8);
}

TEST(Protocol, RidgeClosedForm) {
  // One instance, n = 12 unknowns, X 24 × 12 stacked over √μ I (μ = 0.5).
  const Layout l = foldopt::batch_layout(PETSC_COMM_WORLD, kN, 1);
  const PetscInt m = 2 * kN;
  const double mu = 0.5;
  OwnedMat X;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, m + kN, kN, 4, nullptr, 4, nullptr, X.out());
  PetscInt rs, re;
  MatGetOwnershipRange(X, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) {
    if (i < m) {
      for (PetscInt k = 0; k < 3; ++k)
        MatSetValue(X, i, (i * 5 + k * 7) % kN, 0.5 + foldopt::uniform01(31, 9 + k, (std::uint64_t)i), INSERT_VALUES);
    } else {
      MatSetValue(X, i, i - m, std::sqrt(mu), INSERT_VALUES);
    }
  }
  MatAssemblyBegin(X, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(X, MAT_FINAL_ASSEMBLY);
  std::unique_ptr<Combo> p(new Combo(l));
  OwnedVec y = uniform(l, m + kN, -1, 1, 32);
  {  // the stacked target is [y; 0]
    PetscInt ys, ye;
    VecGetOwnershipRange(y, &ys, &ye);
    for (PetscInt i = std::max(ys, m); i < ye; ++i) VecSetValue(y, i, 0.0, INSERT_VALUES);
    VecAssemblyBegin(y);
    VecAssemblyEnd(y);
  }
  p->theta().add("y", y, BlockKind::instance);
  p->parts(foldopt::make_least_squares(l, X, "y", ""), std::unique_ptr<foldopt::Prox>(new foldopt::IdentityProx(l)));
  OwnedVec g = uniform(l, l.global(), -1, 1, 33);
  const foldopt_ref::MatrixXd A = foldopt_ref::gather_dense(X);
  const foldopt_ref::VectorXd gv = foldopt_ref::to_eigen(g), yv = foldopt_ref::to_eigen(y);
  const foldopt_ref::MatrixXd N = A.transpose() * A;  // XᵀX + μI
  const foldopt_ref::VectorXd beta = N.ldlt().solve(A.transpose() * yv), ref = A * N.ldlt().solve(gv);
  ASSERT_GT(ref.norm(), 0.1);
  std::unique_ptr<FoldedLayer> layer;
  for (const Options& o : std::vector<Options>{{},
                                               {{"-fold_ksp_type", "richardson"}, {"-fold_ksp_rtol", "1e-13"}},
                                               {{"-fold_adjoint_form", "symmetric"}},
                                               {{"-fold_backward", "jacobian"}}}) {
    ScopedOptions so(Options{{"-fold_fwd_fista_tol", "1e-14"}});
    const ParamSet grad = solve(*p, g, o, layer);
    const std::string name = o.empty() ? "gmres" : o[0].second;
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(layer->solution()), beta), 1e-10) << name;
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("y")), ref), 1e-9) << name;
  }
}

/// qp_box seen through the Problem functions alone (no parts): `pgd` then composes the problem's
/// own objective with the box prox over Problem::bounds (src/maps/prox_grad/problem_parts.hpp).
class PlainQp : public foldopt::Problem {
 public:
  explicit PlainQp(foldopt::BoxQP& qp) : qp_(qp) {
    for (const char* b : {"q", "lb", "ub"}) theta_.add(b, qp.params().get(b), BlockKind::instance);
  }
  std::string type() const override { return "plain_qp"; }
  const Layout& layout() const override { return qp_.layout(); }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "pgd"; }
  PetscReal objective_gradient(Vec x, const ParamSet& t, Vec g) override { return qp_.objective_gradient(x, t, g); }
  void hessian_mult(Vec x, const ParamSet& t, Vec v, Vec y) override { qp_.hessian_mult(x, t, v, y); }
  bool has_hessian() const override { return true; }
  OwnedMat hessian(Vec x, const ParamSet& t) override { return qp_.hessian(x, t); }
  bool is_quadratic() const override { return true; }
  void gradient_param_t(Vec x, const ParamSet& t, Vec v, ParamSet& out) override { qp_.gradient_param_t(x, t, v, out); }
  void gradient_param(Vec x, const ParamSet& t, const ParamSet& d, Vec y) override { qp_.gradient_param(x, t, d, y); }
  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& t, Vec lb, Vec ub) override { qp_.bounds(t, lb, ub); }
  std::string lower_bound_block() const override { return "lb"; }
  std::string upper_bound_block() const override { return "ub"; }

 private:
  foldopt::BoxQP& qp_;
  ParamSet theta_;
};

// A Problem without parts gets the same gradient through `pgd` as qp_box with its own parts (whose
// gradients test_qp_gradients checks against a dense reference), block by block.
TEST(Protocol, ProblemWithoutParts) {
  std::unique_ptr<foldopt::BoxQP> p = qp();
  PlainQp plain(*p);
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, 6);
  std::unique_ptr<FoldedLayer> layer;
  const ParamSet ref = solve(*p, g, {}, layer);
  const ParamSet got = solve(plain, g, {}, layer);
  EXPECT_NE(layer->map().describe().find("pgd"), std::string::npos);
  for (const char* b : {"q", "lb", "ub"}) {
    double nrm = 0;
    VecNorm(ref.get(b), NORM_2, &nrm);
    ASSERT_GT(nrm, 0.1) << b;
    EXPECT_LT(foldopt_test::rel_diff(got.get(b), ref.get(b)), 1e-10) << b;
  }
}

/// min ½‖s − q‖² on [−½, ½] with the readout x = d∘s + e (d fixed, e a block).
class ReadoutProblem : public foldopt::CompositeProblem {
 public:
  ReadoutProblem() : CompositeProblem("readout", test_layout()) {
    theta_.add("q", uniform(layout_, layout_.global(), -1, 1, 21), BlockKind::instance);
    theta_.add("e", uniform(layout_, layout_.global(), -1, 1, 22), BlockKind::instance);
    d_ = uniform(layout_, layout_.global(), 1, 2, 23);
    set_parts(foldopt::make_quadratic(layout_, nullptr, "q"), foldopt::BoxProx::from_numbers(layout_, -0.5, 0.5));
  }
  std::string default_forward() const override { return "fista"; }
  bool has_readout() const override { return true; }
  void readout(Vec s, const ParamSet& theta, Vec x) override {
    VecPointwiseMult(x, d_, s);
    VecAXPY(x, 1.0, theta.get("e"));
  }
  void readout_t(Vec, const ParamSet&, Vec g, Vec h) override { VecPointwiseMult(h, d_, g); }
  void readout_param_t(Vec, const ParamSet&, Vec g, ParamSet& out) override { VecAXPY(out.get("e"), 1.0, g); }
  Vec d() const { return d_; }

 private:
  OwnedVec d_;
};

TEST(Protocol, Readout) {
  ReadoutProblem p;
  OwnedVec g = uniform(test_layout(), test_layout().global(), -1, 1, 24);
  FoldedLayer layer(p);
  layer.set_from_options();
  Vec x = layer.forward(p.params());
  ParamSet grad = layer.backward(g);
  const foldopt_ref::VectorXd q = foldopt_ref::to_eigen(p.params().get("q")), e = foldopt_ref::to_eigen(p.params().get("e")),
                              d = foldopt_ref::to_eigen(p.d()), gv = foldopt_ref::to_eigen(g);
  const foldopt_ref::VectorXd s = q.cwiseMax(-0.5).cwiseMin(0.5);
  EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(x), d.cwiseProduct(s) + e), 1e-12);
  foldopt_ref::VectorXd dq = d.cwiseProduct(gv);
  for (int i = 0; i < q.size(); ++i)
    if (std::abs(q[i]) >= 0.5) dq[i] = 0;
  ASSERT_GT(dq.norm(), 0.1);
  EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("q")), dq), 1e-10);
  EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("e")), gv), 1e-14);
}

}  // namespace
