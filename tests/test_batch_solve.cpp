// Batched adjoint solves that converge per instance (-fold_batch_solve, src/core/batch_solve.cpp),
// at np = 1 and 2, on batches whose instances sit on one rank each:
//   topk (n = 20, B = 12, instance b's costs scaled by 0.3 (b + 1): from nearly uniform to
//     entries below 1e-6 on the free set, i.e. rows of I − Φᵀ from 1 to 1e6 and more): ∂L/∂c = Jᵀ g
//     with J_FF = diag(s) − s sᵀ/Σs, s = x_F/ε (closed form at the layer's x*), and every instance
//     equals the same instance solved alone (B = 1, the coupled default);
//   sparsemax (n = 16, B = 8, α = 0.5 so that Φ = ½J ≠ 0): ∂L/∂θ = J g, J = diag(s) − s sᵀ/|S|;
//   qp_box (n = 16, B = 8, a different active set per instance): ∂L/∂q_F = H_FF⁻¹ g_F by a dense
//     Eigen solve of each instance's reduced system (tests/reference.hpp).
// The blocks path takes one outer iteration, and every instance's relative residual is ≤ rtol (all
// instances counted below rtol), with its blocks from the assembled Φᵀ (the default: no product;
// top-k and sparsemax by Woodbury, diagonal plus rank one, qp_box dense) and from n Φᵀ products
// (-fold_batch_block_source products). An instance spanning two ranks
// (n = 15, B = 3 at np = 2), or a singular I − Φᵀ (a 2-D TV dual that is not unique), falls back
// to the coupled solve with the reason in the report; auto
// picks blocks for small n only; bad option values are refused with one error naming them.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/problems/sparsemax.hpp>
#include <foldopt/problems/topk.hpp>
#include <foldopt/problems/tv.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::FoldedLayer;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr double kRtol = 1e-10;

OwnedVec random_vec(const foldopt::Problem& p, unsigned long seed) {
  OwnedVec g = p.create_vec();
  foldopt::fill_random(g, seed);
  return g;
}

/// The blocks path's report: one outer iteration, every instance at or below rtol; the blocks
/// from n products (plus the residual checks), or from the assembled Φᵀ (no product for them):
/// `woodbury` of the B instances by Woodbury (diagonal plus low rank), the others dense.
void expect_blocks_report(const foldopt::AdjointReport& r, PetscInt n, PetscInt B, const std::string& source,
                          PetscInt woodbury) {
  EXPECT_EQ(r.batch_solve.rfind("blocks", 0), 0u) << r.batch_solve;
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.iterations, 1) << r.method;
  EXPECT_EQ(r.passes, 1);
  if (source == "products") {
    EXPECT_GE(r.products, n);
    EXPECT_LE(r.products, n + 4);
    EXPECT_NE(r.batch_solve.find("extracted with " + std::to_string(n) + " batched products"), std::string::npos)
        << r.batch_solve;
  } else {
    EXPECT_LE(r.products, 4);
    const std::string want = "from the assembled Phi^T: " + std::to_string(woodbury) + " by Woodbury";
    EXPECT_NE(r.batch_solve.find(want), std::string::npos) << r.batch_solve;
    EXPECT_NE(r.batch_solve.find(std::to_string(B - woodbury) + " dense LU"), std::string::npos) << r.batch_solve;
  }
  EXPECT_EQ(r.instances, B);
  EXPECT_EQ(r.instances_below, B) << "worst " << r.instance_worst;
  EXPECT_LE(r.instance_worst, kRtol);
  EXPECT_LE(r.instance_median, r.instance_worst);
}

/// Top-k's gradient Jᵀ g at x (closed form), instance by instance.
VectorXd topk_jacobian_t(const VectorXd& x, const VectorXd& g, PetscInt n, double eps) {
  VectorXd out(x.size());
  for (Eigen::Index b = 0; b < x.size() / n; ++b) {
    VectorXd s = VectorXd::Zero(n);
    for (PetscInt i = 0; i < n; ++i)
      if (x[b * n + i] < 1) s[i] = x[b * n + i] / eps;
    const VectorXd gs = g.segment(b * n, n);
    out.segment(b * n, n) = s.cwiseProduct(gs) - s * (s.dot(gs) / s.sum());
  }
  return out;
}

TEST(BatchSolve, TopKBlocksMatchClosedFormAndSingleInstances) {
  const PetscInt n = 20, B = 12;
  const double k = 3, eps = 0.1;
  std::unique_ptr<foldopt::TopK> base = foldopt::TopK::generate(PETSC_COMM_WORLD, n, B, 11, k, eps);
  VectorXd c = foldopt_ref::to_eigen(base->params().get("c"));
  for (PetscInt b = 0; b < B; ++b) c.segment(b * n, n) *= 0.3 * (b + 1);  // conditioning grows with b
  OwnedVec cv = foldopt_ref::from_eigen(c);
  foldopt::TopK p(cv, B, k, eps);
  OwnedVec g = random_vec(p, 5);
  const VectorXd gv = foldopt_ref::to_eigen(g);

  for (const std::string source : {"auto", "products"}) {
    SCOPED_TRACE("-fold_batch_block_source " + source);
    ScopedOptions so(Options{{"-fold_batch_solve", "blocks"}, {"-fold_batch_block_source", source}});
    FoldedLayer layer(p);
    layer.set_from_options();
    const VectorXd x = foldopt_ref::to_eigen(layer.forward(p.params()));
    ASSERT_LT(x.segment((B - 1) * n, n).minCoeff(), 1e-6);  // the last instance is badly scaled
    ASSERT_GT(x.segment(0, n).minCoeff(), 1e-3);           // the first is not
    const ParamSet grad = layer.backward(g);
    const VectorXd got = foldopt_ref::to_eigen(grad.get("c"));
    const VectorXd ref = topk_jacobian_t(x, gv, n, eps);
    ASSERT_GT(ref.norm(), 0.1);
    for (PetscInt b = 0; b < B; ++b)
      EXPECT_LT(foldopt_ref::rel_err(got.segment(b * n, n), ref.segment(b * n, n)), 1e-9) << "instance " << b;
    expect_blocks_report(layer.adjoint().report(), n, B, source, B);

    // The same instances alone (B = 1, the coupled default: GMRES with left Jacobi).
    for (PetscInt b : {PetscInt(0), PetscInt(5), B - 1}) {
      OwnedVec cb = foldopt_ref::from_eigen(c.segment(b * n, n));
      foldopt::TopK one(cb, 1, k, eps);
      OwnedVec gb = foldopt_ref::from_eigen(gv.segment(b * n, n));
      ScopedOptions coupled(Options{{"-fold_batch_solve", "coupled"}});
      FoldedLayer alone(one);
      alone.set_from_options();
      alone.forward(one.params());
      const VectorXd single = foldopt_ref::to_eigen(alone.backward(gb).get("c"));
      EXPECT_LT(foldopt_ref::rel_err(got.segment(b * n, n), single), 1e-9) << "instance " << b;
      EXPECT_EQ(alone.adjoint().report().batch_solve.rfind("coupled", 0), 0u);
    }
  }
}

TEST(BatchSolve, SparsemaxBlocksMatchClosedForm) {
  const PetscInt n = 16, B = 8;
  std::unique_ptr<foldopt::Sparsemax> p = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, n, B, 3);
  OwnedVec g = random_vec(*p, 8);
  const VectorXd gv = foldopt_ref::to_eigen(g);
  for (const std::string source : {"auto", "products"}) {
    SCOPED_TRACE("-fold_batch_block_source " + source);
    ScopedOptions so(Options{
        {"-fold_batch_solve", "blocks"}, {"-fold_pgd_stepsize", "0.5"}, {"-fold_batch_block_source", source}});
    FoldedLayer layer(*p);
    layer.set_from_options();
    const VectorXd x = foldopt_ref::to_eigen(layer.forward(p->params()));
    const VectorXd got = foldopt_ref::to_eigen(layer.backward(g).get("theta"));
    VectorXd ref(x.size());
    for (PetscInt b = 0; b < B; ++b) {
      const VectorXd s = (x.segment(b * n, n).array() > 0).cast<double>();
      ASSERT_GE(s.sum(), 2) << "instance " << b;  // a support of more than one entry: J ≠ 0
      const VectorXd gs = gv.segment(b * n, n);
      ref.segment(b * n, n) = s.cwiseProduct(gs) - s * (s.dot(gs) / s.sum());
    }
    ASSERT_GT(ref.norm(), 0.1);
    for (PetscInt b = 0; b < B; ++b)
      EXPECT_LT(foldopt_ref::rel_err(got.segment(b * n, n), ref.segment(b * n, n)), 1e-9) << "instance " << b;
    expect_blocks_report(layer.adjoint().report(), n, B, source, B);
  }
}

TEST(BatchSolve, BoxQpBlocksMatchReducedSystems) {
  foldopt::BoxQPGenerator gen;
  gen.n = 16;
  gen.batch = 8;
  gen.seed = 7;
  std::unique_ptr<foldopt::BoxQP> p = foldopt::BoxQP::generate(PETSC_COMM_WORLD, gen);
  OwnedVec g = random_vec(*p, 4);
  for (const std::string source : {"auto", "products"}) {
    SCOPED_TRACE("-fold_batch_block_source " + source);
    ScopedOptions so(Options{{"-fold_batch_solve", "blocks"}, {"-fold_batch_block_source", source}});
    FoldedLayer layer(*p);
    layer.set_from_options();
    const VectorXd x = foldopt_ref::to_eigen(layer.forward(p->params()));
    const VectorXd got = foldopt_ref::to_eigen(layer.backward(g).get("q"));
    // The block-diagonal H's reduced systems, one per instance, by a dense Eigen solve.
    const foldopt_ref::MatrixXd H = foldopt_ref::gather_dense(p->H());
    const VectorXd lb = foldopt_ref::to_eigen(p->params().get("lb")), ub = foldopt_ref::to_eigen(p->params().get("ub"));
    const VectorXd gv = foldopt_ref::to_eigen(g);
    const PetscInt n = gen.n;
    std::vector<std::size_t> free_sizes;
    for (PetscInt b = 0; b < gen.batch; ++b) {
      const foldopt_ref::ActiveSet set = foldopt_ref::classify(x.segment(b * n, n), lb.segment(b * n, n), ub.segment(b * n, n));
      ASSERT_TRUE(set.ok) << "instance " << b << " is not strictly complementary";
      free_sizes.push_back(set.free.size());
      const VectorXd ref = foldopt_ref::box_qp_gradient(H.block(b * n, b * n, n, n), set, gv.segment(b * n, n)).q;
      ASSERT_GT(ref.norm(), 0.01) << "instance " << b;
      EXPECT_LT(foldopt_ref::rel_err(got.segment(b * n, n), ref), 1e-9) << "instance " << b;
    }
    // The instances differ (their free sets, hence their reduced Hessians).
    EXPECT_NE(*std::min_element(free_sizes.begin(), free_sizes.end()),
              *std::max_element(free_sizes.begin(), free_sizes.end()));
    // qp_box's H is not diagonal: every block dense, from the assembled Φᵀ.
    expect_blocks_report(layer.adjoint().report(), n, gen.batch, source, 0);
  }
}

// n = 15, B = 3: at np = 2 instance 1 has entries on both ranks (23 + 22): blocks are refused with
// the reason, and the coupled solve still converges per instance.
TEST(BatchSolve, InstanceSpanningRanksFallsBackToCoupled) {
  const PetscInt n = 15, B = 3;
  std::unique_ptr<foldopt::Sparsemax> p = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, n, B, 2);
  OwnedVec g = random_vec(*p, 1);
  ScopedOptions so(Options{{"-fold_batch_solve", "blocks"}, {"-fold_pgd_stepsize", "0.5"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  layer.backward(g);
  const foldopt::AdjointReport& r = layer.adjoint().report();
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.instances, B);
  EXPECT_EQ(r.instances_below, B);
  if (foldopt_test::comm_size() == 2) {
    EXPECT_EQ(r.batch_solve.rfind("coupled", 0), 0u) << r.batch_solve;
    EXPECT_NE(r.batch_solve.find("instance 1 "), std::string::npos) << r.batch_solve;
    EXPECT_NE(r.batch_solve.find("spans two ranks"), std::string::npos) << r.batch_solve;
    EXPECT_NE(r.method.find("gmres"), std::string::npos) << r.method;
  } else {
    EXPECT_EQ(r.batch_solve.rfind("blocks", 0), 0u) << r.batch_solve;
    EXPECT_EQ(r.iterations, 1);
  }
}

// A 2-D TV dual whose free rows are dependent (12 free rows of D on a 3×3 grid, 9 columns): I − Φᵀ
// is singular, the map says so, and the batch is solved coupled (GMRES on the consistent system).
TEST(BatchSolve, SingularInstancesFallBackToCoupled) {
  foldopt::TvGenerator gen;
  gen.m1 = gen.m2 = 3;
  gen.batch = 2;
  gen.lambda = 2;
  std::unique_ptr<foldopt::TvProblem> p = foldopt::TvProblem::generate(PETSC_COMM_WORLD, gen, true);
  ScopedOptions so(Options{{"-fold_batch_solve", "blocks"}});
  FoldedLayer layer(*p);
  layer.set_from_options();
  layer.forward(p->params());
  OwnedVec g;  // ∂L/∂x on the solution's layout (the state is the dual y)
  VecDuplicate(layer.solution(), g.out());
  foldopt::fill_random(g, 3);
  layer.backward(g);
  const foldopt::AdjointReport& r = layer.adjoint().report();
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.batch_solve.rfind("coupled: -fold_batch_solve blocks refused: I - Phi^T is singular", 0), 0u) << r.batch_solve;
  EXPECT_EQ(r.instances_below, 2);
}

// auto: blocks for B > 1 and n ≤ -fold_batch_block_max_size, coupled for one instance, for larger n,
// and when the user names the Krylov method; -fold_view prints the decision and the instances.
TEST(BatchSolve, AutoChoosesBySize) {
  const PetscInt n = 16, B = 4;
  std::unique_ptr<foldopt::Sparsemax> p = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, n, B, 6);
  OwnedVec g = random_vec(*p, 2);
  auto decision = [&](std::vector<std::pair<std::string, std::string>> opts) {
    opts.push_back({"-fold_pgd_stepsize", "0.5"});
    ScopedOptions so(opts);
    FoldedLayer layer(*p);
    layer.set_from_options();
    layer.forward(p->params());
    layer.backward(g);
    EXPECT_TRUE(layer.adjoint().report().converged);
    return layer.adjoint().report().batch_solve;
  };
  EXPECT_EQ(decision({}).rfind("blocks (auto)", 0), 0u);
  EXPECT_EQ(decision({{"-fold_batch_block_max_size", "15"}}).rfind("coupled (auto: n = 16 > ", 0), 0u);
  EXPECT_EQ(decision({{"-fold_ksp_type", "bcgs"}}).rfind("coupled (auto: -fold_ksp_type", 0), 0u);
  EXPECT_EQ(decision({{"-fold_batch_solve", "coupled"}}).rfind("coupled (-fold_batch_solve coupled)", 0), 0u);

  std::unique_ptr<foldopt::Sparsemax> one = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, n, 1, 6);
  OwnedVec g1 = random_vec(*one, 2);
  ScopedOptions so(Options{{"-fold_pgd_stepsize", "0.5"}});
  FoldedLayer layer(*one);
  layer.set_from_options();
  layer.forward(one->params());
  layer.backward(g1);
  EXPECT_EQ(layer.adjoint().report().batch_solve, "coupled (one instance)");

  const std::string dir = foldopt_test::temp_dir("batch_view"), file = dir + "/view.txt";
  {
    ScopedOptions so2(Options{{"-fold_pgd_stepsize", "0.5"}});
    FoldedLayer batch(*p);
    batch.set_from_options();
    batch.forward(p->params());
    batch.backward(g);
    PetscViewer v;
    PetscViewerASCIIOpen(PETSC_COMM_WORLD, file.c_str(), &v);
    batch.adjoint().view(v);
    PetscViewerDestroy(&v);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  std::ifstream in(file);
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  MPI_Barrier(PETSC_COMM_WORLD);
  if (foldopt_test::rank() == 0) std::filesystem::remove_all(dir);
  EXPECT_NE(out.find("batch solve: blocks (auto)"), std::string::npos) << out;
  EXPECT_NE(out.find("of 4 at or below rtol"), std::string::npos) << out;
}

TEST(BatchSolve, BadOptionsRefused) {
  std::unique_ptr<foldopt::Sparsemax> p = foldopt::Sparsemax::generate(PETSC_COMM_WORLD, 8, 2, 1);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"-fold_batch_solve", "diagonal"}, {"-fold_batch_solve", ""}, {"-fold_batch_block_max_size", "0"},
      {"-fold_batch_block_max_size", "4294967360"}, {"-fold_batch_block_max_size", "8x"},
      {"-fold_batch_block_source", "assembled"}, {"-fold_batch_block_source", ""}};
  for (const auto& o : bad) {
    ScopedOptions so(Options{o});
    FoldedLayer layer(*p);
    try {
      layer.set_from_options();
      layer.forward(p->params());
      OwnedVec g = random_vec(*p, 1);
      layer.backward(g);
      ADD_FAILURE() << o.first << " " << o.second << " was accepted";
    } catch (const foldopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find(o.first), std::string::npos) << e.what();
    }
  }
}

}  // namespace
