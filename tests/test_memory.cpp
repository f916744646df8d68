// foldopt::memory, per-phase peak resident memory, against what the test itself allocates:
//   * a phase that allocates and touches 200 MB per rank has a peak ≥ start + 200 MB summed over
//     the ranks, and the resident set while it holds the block is ≥ 200 MB above the start;
//   * a later phase that allocates nothing (the block freed) has a peak far below that (< start +
//     64 MB per rank): the peak is the phase's own, not the running maximum;
//   * nesting: a parent phase that allocated 200 MB before a child phase reset the peak still
//     reports ≥ start + 200 MB; the child, which allocated nothing, reports its own small peak; a
//     block the child allocates counts in both; finish() twice returns the same reading;
//   * the FoldedLayer's forward and backward phases are measured (a small box-QP), each peak
//     at least its start.
// And the memory cuts of the large runs leave the results as they were:
//   * the PGD map's Φᵀ assembled without a transposed copy equals the dense (D(I − αH))ᵀ of Eigen,
//     D the 0/1 free set of the generated x* (entries strictly inside their bounds);
//   * -fold_release_forward (TAO's work objects freed after each forward) and foldopt's
//     BoomerAMG defaults give gradients equal to the dense KKT reference (to 1e-8) and a second
//     forward after the release converges to the same x*.
// Where the kernel refuses the reset (no /proc/self/clear_refs) the own-peak checks are skipped
// (visibly). Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/layer.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/memory.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <sys/mman.h>

#include <cstring>
#include <memory>

namespace {

using namespace foldopt;
using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double MB = 1e6;
constexpr std::size_t kBlock = 200 * 1000 * 1000;  // 200 MB

/// Allocate and touch `bytes` (every page written), returned to the system by release(). The
/// pages are mapped directly: malloc may keep freed blocks (Open MPI turns off its trimming).
struct Block {
  char* p = nullptr;
  std::size_t bytes = 0;
};
Block touch(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Block();
  std::memset(p, 1, bytes);
  return Block{static_cast<char*>(p), bytes};
}
void release(Block b) {
  if (b.p) munmap(b.p, b.bytes);
}

int size() { return foldopt_test::comm_size(); }

TEST(Memory, PhaseWithAllocationCountsIt) {
  const MPI_Comm comm = PETSC_COMM_WORLD;
  memory::PhaseMeter meter(comm);
  Block p = touch(kBlock);
  ASSERT_NE(p.p, nullptr);
  const double held = memory::current_bytes(comm);
  const memory::Phase ph = meter.finish();
  release(p);
  EXPECT_TRUE(ph.measured);
  EXPECT_GE(held, ph.start + 0.99 * kBlock * size());
  EXPECT_GE(ph.peak, ph.start + 0.99 * kBlock * size());
  // The block is unmapped: resident memory fell back by most of it.
  EXPECT_LT(memory::current_bytes(comm), held - 0.9 * kBlock * size());
}

TEST(Memory, LaterPhaseHasItsOwnPeak) {
  const MPI_Comm comm = PETSC_COMM_WORLD;
  double first_peak = 0;
  {
    memory::PhaseMeter meter(comm);
    Block p = touch(kBlock);
    ASSERT_NE(p.p, nullptr);
    first_peak = meter.finish().peak;
    release(p);
  }
  memory::PhaseMeter meter(comm);
  volatile double s = 0;
  for (int i = 0; i < 1000; ++i) s = s + i;  // work without allocation
  const memory::Phase ph = meter.finish();
  if (!ph.own_peak) GTEST_SKIP() << "the kernel refused the peak reset (/proc/self/clear_refs)";
  EXPECT_GE(ph.peak, ph.start * 0.999);
  EXPECT_LT(ph.peak, ph.start + 64 * MB * size());
  EXPECT_LT(ph.peak, first_peak - 0.5 * kBlock * size());
}

TEST(Memory, NestedPhasesKeepTheirOwnPeaks) {
  const MPI_Comm comm = PETSC_COMM_WORLD;
  memory::PhaseMeter parent(comm);
  Block p = touch(kBlock);
  ASSERT_NE(p.p, nullptr);
  release(p);
  memory::Phase child_phase, inner_phase;
  {
    memory::PhaseMeter child(comm);  // resets the process-wide peak
    child_phase = child.finish();
    EXPECT_EQ(child.finish().peak, child_phase.peak);  // a second call: the same reading
  }
  {
    memory::PhaseMeter inner(comm);
    Block q = touch(kBlock / 2);
    ASSERT_NE(q.p, nullptr);
    release(q);
    inner_phase = inner.finish();
  }
  const memory::Phase ph = parent.finish();
  if (!ph.own_peak) GTEST_SKIP() << "the kernel refused the peak reset (/proc/self/clear_refs)";
  EXPECT_GE(ph.peak, ph.start + 0.99 * kBlock * size());  // the child's reset did not wipe it
  EXPECT_LT(child_phase.peak, child_phase.start + 64 * MB * size());
  EXPECT_GE(inner_phase.peak, inner_phase.start + 0.99 * (kBlock / 2) * size());
  EXPECT_LT(inner_phase.peak, ph.peak);
}

TEST(Memory, LayerReportsForwardAndBackwardPhases) {
  const MPI_Comm comm = PETSC_COMM_WORLD;
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 3;
  std::unique_ptr<BoxQP> qp = BoxQP::generate(comm, gen);
  FoldedLayer layer(*qp);
  layer.set_from_options();
  layer.forward(qp->params());
  OwnedVec g = qp->create_vec();
  fill_random(g, 5);
  layer.backward(g);
  const memory::Phase& f = layer.forward_report().memory;
  const memory::Phase& b = layer.backward_memory();
  EXPECT_TRUE(f.measured);
  EXPECT_TRUE(b.measured);
  EXPECT_GT(f.start, 1 * MB * size());  // a running MPI + PETSc process
  EXPECT_GE(f.peak, f.start * 0.999);
  EXPECT_GE(b.peak, b.start * 0.999);
}

TEST(MemoryCuts, PhiTransposeWithoutCopyIsTheTranspose) {
  BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 11;
  std::unique_ptr<BoxQP> qp = BoxQP::generate(PETSC_COMM_WORLD, gen);
  PgdMap map(*qp);
  map.linearize(qp->known_solution(), qp->params());
  OwnedMat At = map.assemble_phi_transpose();
  const MatrixXd H = foldopt_ref::gather_dense(qp->data_matrices()[0].second);
  const VectorXd x = foldopt_ref::to_eigen(qp->known_solution());
  const VectorXd lb = foldopt_ref::to_eigen(qp->params().get("lb")), ub = foldopt_ref::to_eigen(qp->params().get("ub"));
  const Eigen::Index n = x.size();
  VectorXd d(n);
  for (Eigen::Index i = 0; i < n; ++i) d[i] = (lb[i] < x[i] && x[i] < ub[i]) ? 1.0 : 0.0;
  ASSERT_GT(d.sum(), 0.3 * n);
  ASSERT_LT(d.sum(), 0.9 * n);
  const MatrixXd phi = d.asDiagonal() * (MatrixXd::Identity(n, n) - map.stepsize() * H);
  const MatrixXd got = foldopt_ref::gather_dense(At);
  EXPECT_LE((got - phi.transpose()).norm(), 1e-14 * phi.norm());
  EXPECT_GT((got - phi).norm(), 1e-3 * phi.norm());  // Φ is not symmetric: the test can tell
}

TEST(MemoryCuts, ReleasedForwardAndAmgDefaultsKeepTheGradient) {
  BoxQPGenerator gen;
  gen.n = 900;
  gen.seed = 5;
  std::unique_ptr<BoxQP> qp = BoxQP::generate(PETSC_COMM_WORLD, gen);
  foldopt_test::ScopedOptions opts({{"-fold_release_forward", ""}, {"-fold_pc_type", "hypre"}});
  FoldedLayer layer(*qp);
  layer.set_from_options();
  Vec x = layer.forward(qp->params());
  OwnedVec g = qp->create_vec();
  fill_random(g, 9);
  ParamSet grad = layer.backward(g);
  const MatrixXd H = foldopt_ref::gather_dense(qp->data_matrices()[0].second);
  const VectorXd xe = foldopt_ref::to_eigen(x);
  const foldopt_ref::ActiveSet set = foldopt_ref::classify(xe, foldopt_ref::to_eigen(qp->params().get("lb")),
                                                           foldopt_ref::to_eigen(qp->params().get("ub")));
  ASSERT_TRUE(set.ok);
  const foldopt_ref::QpGradient ref = foldopt_ref::box_qp_gradient(H, set, foldopt_ref::to_eigen(g));
  EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("q")), ref.q), 1e-8);
  EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("lb")), ref.lb), 1e-8);
  EXPECT_LE(foldopt_ref::rel_err(foldopt_ref::to_eigen(grad.get("ub")), ref.ub), 1e-8);
  // The forward after the release rebuilds TAO (from a cold start) and finds the same x*.
  OwnedVec zero = qp->create_vec();
  VecZeroEntries(zero);
  layer.set_solution(qp->params(), zero);
  const VectorXd again = foldopt_ref::to_eigen(layer.forward(qp->params()));
  EXPECT_TRUE(layer.forward_report().converged);
  EXPECT_LE((again - xe).lpNorm<Eigen::Infinity>(), 1e-8);
  EXPECT_LE((again - foldopt_ref::to_eigen(qp->known_solution())).lpNorm<Eigen::Infinity>(), 1e-8);
}

}  // namespace
