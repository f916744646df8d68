// Gradients of the box-QP layer against a dense reference computed independently of the engine.
//
// For generated instances (n = 400 and 900, and a batch of 2 instances of 400), L = ⟨g, x*⟩ with a
// random g. The reference gathers H, lb, ub, x* and g to every rank, takes the active set from x*
// (the generator makes it strictly complementary), verifies the KKT conditions of x* on its own,
// and solves with Eigen: ∂L/∂q_F = H_FF⁻¹ g_F, ∂L/∂q_A = 0, ∂L/∂lb_i = (g − H_AF H_FF⁻¹ g_F)_i for
// i at its lower bound (else 0), likewise ub. Every adjoint method must reach relative error
// ≤ 1e-9 per block: LFPI (richardson), GMRES, BiCGStab, GMRES with bjacobi / gamg / hypre
// preconditioners, and Jacobian extraction (LU); the adjoint report must say converged with a
// true residual ≤ 10·rtol·‖g‖. The serial solve (PETSC_COMM_SELF on every rank) and the
// distributed one (PETSC_COMM_WORLD) must agree to 1e-9. Jacobian extraction of a map that cannot
// assemble Φ goes through Φᵀ probing (and is refused above -fold_jacobian_max_size).
// The block H.values (each stored entry of the whole, block-diagonal H its own parameter): from
// the KKT conditions on the free set, ∂L/∂H_ij = −(∂L/∂q)_i x*_j on the stored pattern, with
// ∂L/∂q from the dense solve above (n = 400 and a batch of 2 × 400), to 1e-9; and central finite
// differences of L(x*(θ)) moving the stored pair H_ij, H_ji together (and a diagonal entry alone)
// equal G_ij + G_ji (G_ii) to 1e-8 (h = 1e-4, forward solves at gatol 1e-13; one instance of 100
// and a batch of 3 × 100).
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/params.hpp>
#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::BoxQP;
using foldopt::BoxQPGenerator;
using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr double kGradTol = 1e-9;       // relative error of each gradient block
constexpr double kResidualSlack = 10;   // true residual ≤ slack · rtol · ‖g‖
constexpr unsigned long kLossSeed = 42;

BoxQPGenerator instance(PetscInt n, PetscInt batch, unsigned long seed) {
  BoxQPGenerator gen;
  gen.n = n;
  gen.batch = batch;
  gen.seed = seed;
  return gen;
}

/// The reference of one solved instance, built from gathered data only.
struct Reference {
  foldopt_ref::MatrixXd H;
  VectorXd q, lb, ub, x, g;
  foldopt_ref::ActiveSet set;
  foldopt_ref::QpGradient grad;
};

Reference make_reference(BoxQP& p, Vec x, Vec g) {
  Reference r;
  r.H = foldopt_ref::gather_dense(p.H());
  r.q = foldopt_ref::to_eigen(p.params().get("q"));
  r.lb = foldopt_ref::to_eigen(p.params().get("lb"));
  r.ub = foldopt_ref::to_eigen(p.params().get("ub"));
  r.x = foldopt_ref::to_eigen(x);
  r.g = foldopt_ref::to_eigen(g);
  r.set = foldopt_ref::classify(r.x, r.lb, r.ub);
  r.grad = foldopt_ref::box_qp_gradient(r.H, r.set, r.g);
  return r;
}

/// The reference is only meaningful at a strictly complementary solution: check the KKT conditions
/// of x* directly (μ = Hx* − q: zero on the free set, ≥ 0.1 at lower bounds, ≤ −0.1 at upper).
void expect_kkt(const Reference& r) {
  ASSERT_TRUE(r.set.ok) << "x* has entries near but not at a bound";
  ASSERT_FALSE(r.set.free.empty());
  ASSERT_FALSE(r.set.at_lb.empty());
  ASSERT_FALSE(r.set.at_ub.empty());
  const VectorXd mu = r.H * r.x - r.q;
  double free_max = 0, lb_min = 1e300, ub_max = -1e300;
  for (int i : r.set.free) free_max = std::max(free_max, std::abs(mu[i]));
  for (int i : r.set.at_lb) lb_min = std::min(lb_min, mu[i]);
  for (int i : r.set.at_ub) ub_max = std::max(ub_max, mu[i]);
  EXPECT_LE(free_max, 1e-7) << "stationarity on the free set";
  EXPECT_GE(lb_min, 0.1 - 1e-7) << "multipliers at lower bounds";
  EXPECT_LE(ub_max, -0.1 + 1e-7) << "multipliers at upper bounds";
}

void expect_gradient(const ParamSet& grad, const foldopt_ref::QpGradient& ref, double tol, const std::string& what) {
  const std::pair<const char*, const VectorXd*> blocks[] = {{"q", &ref.q}, {"lb", &ref.lb}, {"ub", &ref.ub}};
  for (const auto& b : blocks) {
    ASSERT_TRUE(grad.has(b.first)) << what;
    const VectorXd got = foldopt_ref::to_eigen(grad.get(b.first));
    ASSERT_EQ(got.size(), b.second->size());
    ASSERT_GT(b.second->norm(), 0) << what << ": reference block " << b.first << " is zero";
    EXPECT_LE(foldopt_ref::rel_err(got, *b.second), tol) << what << ": block " << b.first;
  }
}

struct Method {
  const char* name;
  Options opts;
  const char* method;  // what the adjoint report must say was used
};

const std::vector<Method>& methods() {
  static const std::vector<Method> m = {
      {"lfpi", {{"-fold_ksp_type", "richardson"}}, "krylov richardson, pc none"},
      {"gmres", {}, "krylov gmres, pc none"},
      {"bcgs", {{"-fold_ksp_type", "bcgs"}}, "krylov bcgs, pc none"},
      {"gmres_bjacobi", {{"-fold_pc_type", "bjacobi"}}, "krylov gmres, pc bjacobi"},
      {"gmres_gamg", {{"-fold_pc_type", "gamg"}}, "krylov gmres, pc gamg"},
      {"gmres_hypre", {{"-fold_pc_type", "hypre"}}, "krylov gmres, pc hypre"},
      {"jacobian", {{"-fold_backward", "jacobian"}}, "jacobian lu"},
  };
  return m;
}

struct Instance {
  const char* name;
  PetscInt n, batch;
  unsigned long seed;
  const char* pattern;
  double rtol;  // adjoint tolerance: the default 1e-10, or tighter where the conditioning needs it
};

// "block" leaves a large free region, so H_FF is badly conditioned (ρ(Φ) ≈ 0.984): at the
// default rtol 1e-10 LFPI's gradient error is ≈ 1e-9 (the residual times ‖(I − Φᵀ)⁻¹‖), so that
// instance solves to 1e-12.
const std::vector<Instance>& instances() {
  static const std::vector<Instance> i = {{"n400", 400, 1, 7, "random", 1e-10},
                                          {"n900", 900, 1, 11, "random", 1e-10},
                                          {"n400x2", 400, 2, 5, "random", 1e-10},
                                          {"block900", 900, 1, 3, "block", 1e-12}};
  return i;
}

class QpGradients : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(QpGradients, MatchDenseReference) {
  const Method& m = methods()[std::get<0>(GetParam())];
  const Instance& inst = instances()[std::get<1>(GetParam())];
  BoxQPGenerator gen = instance(inst.n, inst.batch, inst.seed);
  gen.pattern = inst.pattern;
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  Options opts = m.opts;
  char rtol[32];
  std::snprintf(rtol, sizeof rtol, "%g", inst.rtol);
  if (inst.rtol != 1e-10) opts.emplace_back("-fold_ksp_rtol", rtol);
  ScopedOptions so(opts);
  FoldedLayer layer(*p);
  layer.set_from_options();
  Vec x = layer.forward(p->params());

  // x* against the generator's known solution.
  {
    OwnedVec d;
    VecDuplicate(x, d.out());
    VecWAXPY(d, -1.0, p->known_solution(), x);
    PetscReal err;
    VecNorm(d, NORM_INFINITY, &err);
    EXPECT_LE(err, 1e-8) << "forward solution vs known solution";
  }

  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  ParamSet grad = layer.backward(g);

  const foldopt::AdjointReport& rep = layer.adjoint().report();
  EXPECT_TRUE(rep.converged) << rep.method << " " << rep.reason;
  EXPECT_NEAR(rep.rtol, inst.rtol, 1e-6 * inst.rtol);
  PetscReal gnorm;
  VecNorm(g, NORM_2, &gnorm);
  EXPECT_NEAR(rep.rhs_norm, gnorm, 1e-12 * gnorm);
  EXPECT_LE(rep.residual, kResidualSlack * inst.rtol * gnorm) << rep.method;
  EXPECT_LE(rep.worst_instance, kResidualSlack * inst.rtol * std::sqrt((double)inst.batch)) << rep.method;
  EXPECT_NE(rep.method.find(m.method), std::string::npos) << "the options did not select " << m.method << ": " << rep.method;

  const Reference ref = make_reference(*p, x, g);
  expect_kkt(ref);
  expect_gradient(grad, ref.grad, kGradTol, std::string(m.name) + " on " + inst.name + " (" + rep.method + ")");
}

INSTANTIATE_TEST_SUITE_P(AllMethods, QpGradients,
                         ::testing::Combine(::testing::Range(0, (int)methods().size()),
                                            ::testing::Range(0, (int)instances().size())),
                         [](const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
                           return std::string(methods()[std::get<0>(info.param)].name) + "_" +
                                  instances()[std::get<1>(info.param)].name;
                         });

// g = 0 (a loss that does not depend on x*): every method returns an exactly zero gradient.
TEST(QpGradientsEdge, ZeroLossGradient) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(100, 1, 7));
  for (const Method& m : methods()) {
    ScopedOptions so(m.opts);
    FoldedLayer layer(*p);
    layer.set_from_options();
    layer.forward(p->params());
    OwnedVec g = p->create_vec();
    VecZeroEntries(g);
    ParamSet grad;
    ASSERT_NO_THROW(grad = layer.backward(g)) << m.name;
    EXPECT_TRUE(layer.adjoint().report().converged) << m.name;
    EXPECT_EQ(layer.adjoint().report().residual, 0.0) << m.name;
    for (const char* b : {"q", "lb", "ub", "H.values"}) {
      PetscReal nrm = -1;
      VecNorm(grad.get(b), NORM_INFINITY, &nrm);
      EXPECT_EQ(nrm, 0.0) << m.name << ", block " << b;
    }
  }
}

// One gradient of an instance generated on `comm`, gathered (blocks q, lb, ub, H.values).
std::vector<VectorXd> gradient_on(MPI_Comm comm, const BoxQPGenerator& gen) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(comm, gen);
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  ParamSet grad = layer.backward(g);
  EXPECT_TRUE(layer.adjoint().report().converged);
  return {foldopt_ref::to_eigen(grad.get("q")), foldopt_ref::to_eigen(grad.get("lb")),
          foldopt_ref::to_eigen(grad.get("ub")), foldopt_ref::to_eigen(grad.get("H.values"))};
}

// A serial solve of its own copy on every rank and the distributed solve give the same gradient.
TEST(QpGradientsRanks, SelfAndWorldAgree) {
  for (const BoxQPGenerator& gen : {instance(400, 1, 7), instance(400, 2, 5)}) {
    const std::vector<VectorXd> self = gradient_on(PETSC_COMM_SELF, gen);
    const std::vector<VectorXd> world = gradient_on(PETSC_COMM_WORLD, gen);
    const char* names[] = {"q", "lb", "ub", "H.values"};
    for (int b = 0; b < 4; ++b) {
      ASSERT_EQ(self[b].size(), world[b].size());
      if (b < 3) ASSERT_EQ(self[b].size(), gen.n * gen.batch);
      ASSERT_GT(self[b].norm(), 0);
      EXPECT_LE(foldopt_ref::rel_err(world[b], self[b]), 1e-9) << "block " << names[b] << ", batch " << gen.batch;
    }
  }
}

// A layer over a PGD map that cannot assemble Φ, fed the known solution by a callback.
std::unique_ptr<FoldedLayer> probing_layer(BoxQP& p, bool diagonal = false) {
  std::unique_ptr<FoldedLayer> layer(
      new FoldedLayer(std::unique_ptr<foldopt::UpdateMap>(new foldopt_ref::NoAssembleMap(p, diagonal))));
  Vec known = p.known_solution();
  layer->set_forward_callback([known](const ParamSet&, Vec x, foldopt::ForwardReport& rep) {
    VecCopy(known, x);
    rep.iterations = 0;
  });
  return layer;
}

// Jacobian extraction by Φᵀ products (column by column) for a map without an assembled Φ.
TEST(QpGradientsProbing, JacobianFromProducts) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 1, 7));
  ScopedOptions so(Options{{"-fold_backward", "jacobian"}});
  std::unique_ptr<FoldedLayer> layer = probing_layer(*p);
  layer->set_from_options();
  EXPECT_FALSE(layer->map().can_assemble());
  Vec x = layer->forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  ParamSet grad = layer->backward(g);
  const foldopt::AdjointReport& rep = layer->adjoint().report();
  EXPECT_TRUE(rep.converged);
  EXPECT_NE(rep.method.find("jacobian"), std::string::npos) << rep.method;
  EXPECT_NE(rep.note.find("products"), std::string::npos) << "note: " << rep.note;
  EXPECT_NE(rep.note.find("400"), std::string::npos) << "note: " << rep.note;
  // 400 probing products plus the residual check.
  EXPECT_EQ(rep.products, 401);
  PetscReal gnorm;
  VecNorm(g, NORM_2, &gnorm);
  EXPECT_LE(rep.residual, kResidualSlack * 1e-10 * gnorm);
  const Reference ref = make_reference(*p, x, g);
  expect_kkt(ref);
  expect_gradient(grad, ref.grad, kGradTol, "jacobian by probing");
}

// Jacobi preconditioning from diag(Φ) alone, for a map that has its diagonal but no assembled Φ.
TEST(QpGradientsProbing, JacobiFromDiagonalOnly) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 1, 7));
  ScopedOptions so(Options{{"-fold_pc_type", "jacobi"}});
  std::unique_ptr<FoldedLayer> layer = probing_layer(*p, true);
  layer->set_from_options();
  Vec x = layer->forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  ParamSet grad = layer->backward(g);
  const foldopt::AdjointReport& rep = layer->adjoint().report();
  EXPECT_TRUE(rep.converged);
  EXPECT_NE(rep.method.find("jacobi"), std::string::npos) << rep.method;
  EXPECT_TRUE(rep.note.empty()) << "nothing assembled, but: " << rep.note;
  PetscReal gnorm;
  VecNorm(g, NORM_2, &gnorm);
  EXPECT_LE(rep.residual, kResidualSlack * 1e-10 * gnorm);
  const Reference ref = make_reference(*p, x, g);
  expect_gradient(grad, ref.grad, kGradTol, "gmres + jacobi from diag(Φ)");
}

TEST(QpGradientsProbing, RefusedAboveMaxSize) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, instance(400, 1, 7));
  ScopedOptions so(Options{{"-fold_backward", "jacobian"}, {"-fold_jacobian_max_size", "399"}});
  std::unique_ptr<FoldedLayer> layer = probing_layer(*p);
  layer->set_from_options();
  layer->forward(p->params());
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  bool thrown = false;
  try {
    layer->backward(g);
  } catch (const foldopt::Error& e) {
    thrown = true;
    const std::string msg = e.what();
    EXPECT_NE(msg.find("jacobian_max_size"), std::string::npos) << msg;
    EXPECT_NE(msg.find("399"), std::string::npos) << msg;
    EXPECT_NE(msg.find("400"), std::string::npos) << msg;
    EXPECT_EQ(e.code(), PETSC_ERR_SUP);
  }
  EXPECT_TRUE(thrown);
  // Every rank refused.
  int mine = thrown ? 1 : 0, all = 0, size = 1;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  EXPECT_EQ(all, size);
}

// The H.values gradient against −(∂L/∂q)_i x*_j on H's stored pattern, in global CSR order (row
// by row, columns ascending), built from the gathered dense H (the generated H stores no zero).
TEST(QpGradientsHValues, MatchOuterProductOnPattern) {
  for (const BoxQPGenerator& gen : {instance(400, 1, 7), instance(400, 2, 5)}) {
    std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
    const ParamSet& theta = p->params();
    ASSERT_EQ(theta.names(), (std::vector<std::string>{"q", "lb", "ub", "H.values"}));
    ASSERT_EQ(theta.block("H.values").kind, foldopt::BlockKind::matrix_values);
    FoldedLayer layer(*p);
    layer.set_from_options();
    Vec x = layer.forward(theta);
    OwnedVec g = p->create_vec();
    foldopt::fill_random(g, kLossSeed);
    ParamSet grad = layer.backward(g);
    ASSERT_TRUE(layer.adjoint().report().converged);
    const Reference ref = make_reference(*p, x, g);
    expect_kkt(ref);
    expect_gradient(grad, ref.grad, kGradTol, "batch " + std::to_string(gen.batch));
    ASSERT_TRUE(grad.has("H.values"));
    const VectorXd got = foldopt_ref::to_eigen(grad.get("H.values"));
    std::vector<double> want;
    const Eigen::Index N = ref.H.rows();
    for (Eigen::Index i = 0; i < N; ++i)
      for (Eigen::Index j = 0; j < N; ++j)
        if (ref.H(i, j) != 0) want.push_back(-ref.grad.q[i] * ref.x[j]);
    ASSERT_EQ((std::size_t)got.size(), want.size()) << "batch " << gen.batch << ": one value per stored entry";
    const VectorXd w = Eigen::Map<const VectorXd>(want.data(), (Eigen::Index)want.size());
    ASSERT_GT(w.norm(), 0);
    EXPECT_LE(foldopt_ref::rel_err(got, w), kGradTol) << "batch " << gen.batch;
    if (foldopt_test::rank() == 0)
      std::printf("H.values, batch %d: %d entries, relative error %.2e\n", (int)gen.batch, (int)w.size(),
                  foldopt_ref::rel_err(got, w));
    // a batch: instance b's copy of H gets instance b's gradient (the two differ)
    if (gen.batch == 2) {
      const Eigen::Index half = w.size() / 2;
      EXPECT_GT((w.head(half) - w.tail(half)).norm(), 1e-3 * w.norm());
    }
  }
}

/// The index in global CSR order of the stored entry (i, j) of the dense H, or −1.
PetscInt csr_index(const foldopt_ref::MatrixXd& H, Eigen::Index i, Eigen::Index j) {
  if (H(i, j) == 0) return -1;
  PetscInt k = 0;
  for (Eigen::Index r = 0; r < H.rows(); ++r)
    for (Eigen::Index c = 0; c < H.cols(); ++c) {
      if (H(r, c) == 0) continue;
      if (r == i && c == j) return k;
      ++k;
    }
  return -1;
}

/// L = ⟨g, x*(θ)⟩ with the values at global positions `ks` of θ's H.values moved by `h`.
double loss_at(FoldedLayer& layer, const ParamSet& theta, const std::vector<PetscInt>& ks, double h, Vec g) {
  ParamSet t = theta.copy();
  Vec v = t.get("H.values");
  PetscInt lo, hi;
  VecGetOwnershipRange(v, &lo, &hi);
  for (PetscInt k : ks)
    if (k >= lo && k < hi) VecSetValue(v, k, h, ADD_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
  Vec x = layer.forward(t);
  PetscScalar L;
  VecDot(g, x, &L);
  return PetscRealPart(L);
}

// Central differences of L moving the stored pair H_ij, H_ji together (the QP stays symmetric):
// the FD is G_ij + G_ji; a diagonal entry alone: G_ii. Pairs with both ends free, and with one
// end at a bound (G of the entry in the active row is 0, of its mirror −(∂L/∂q)_free x*_active).
// One instance of 100, and a batch of 3 × 100 with the pairs searched from row 145 (instance 1,
// whose rows the two ranks share at np = 2).
void symmetric_fd(const BoxQPGenerator& gen, int first_row) {
  std::unique_ptr<BoxQP> p = BoxQP::generate(PETSC_COMM_WORLD, gen);
  ScopedOptions so(Options{{"-fold_fwd_tao_gatol", "1e-13"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  const ParamSet& theta = p->params();
  Vec x = layer.forward(theta);
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  ParamSet grad = layer.backward(g);
  const Reference ref = make_reference(*p, x, g);
  expect_kkt(ref);
  const VectorXd G = foldopt_ref::to_eigen(grad.get("H.values"));
  auto is_free = [&](int i) { return std::find(ref.set.free.begin(), ref.set.free.end(), i) != ref.set.free.end(); };
  // the first pairs (i ≤ j) of each kind: both free; one free, one active; a free diagonal entry
  std::vector<std::pair<int, int>> pairs;
  int both = -1, one = -1, diag = -1;
  for (int i = first_row; i < (int)ref.H.rows(); ++i)
    for (int j = i; j < (int)ref.H.cols(); ++j) {
      if (ref.H(i, j) == 0) continue;
      if (i == j && diag < 0 && is_free(i)) diag = (int)pairs.size(), pairs.emplace_back(i, j);
      if (i != j && both < 0 && is_free(i) && is_free(j)) both = (int)pairs.size(), pairs.emplace_back(i, j);
      if (i != j && one < 0 && is_free(i) != is_free(j)) one = (int)pairs.size(), pairs.emplace_back(i, j);
    }
  ASSERT_TRUE(both >= 0 && one >= 0 && diag >= 0);
  const double h = 1e-4;
  for (const auto& ij : pairs) {
    const PetscInt kij = csr_index(ref.H, ij.first, ij.second), kji = csr_index(ref.H, ij.second, ij.first);
    ASSERT_GE(kij, 0);
    ASSERT_GE(kji, 0);
    std::vector<PetscInt> ks = {kij};
    double analytic = G[kij];
    if (kji != kij) {
      ks.push_back(kji);
      analytic += G[kji];
    }
    const double fd = (loss_at(layer, theta, ks, h, g) - loss_at(layer, theta, ks, -h, g)) / (2 * h);
    if (foldopt_test::rank() == 0)
      std::printf("batch %d, H(%d, %d) and H(%d, %d): FD %.10e, G_ij + G_ji %.10e, difference %.1e\n",
                  (int)gen.batch, ij.first, ij.second, ij.second, ij.first, fd, analytic, std::abs(fd - analytic));
    ASSERT_GT(std::abs(analytic), 1e-3) << "pair (" << ij.first << ", " << ij.second << ")";
    EXPECT_LE(std::abs(fd - analytic), 1e-8 * std::max(1.0, std::abs(analytic)))
        << "pair (" << ij.first << ", " << ij.second << "): FD " << fd << ", G_ij + G_ji " << analytic;
  }
}

TEST(QpGradientsHValues, SymmetricFiniteDifferences) {
  symmetric_fd(instance(100, 1, 7), 0);
  symmetric_fd(instance(100, 3, 5), 145);
}

}  // namespace
