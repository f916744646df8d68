// bench/batch: backward throughput of batched smooth top-k, B = 1 … 4096 instances of n = 100.
//
// Method: one TopK batch (generated, c uniform in [−1, 1), k = 5, ε = 0.1), its forward (closed
//   form, not timed), then the backward (FoldedLayer::backward: fixed-point check, linearization,
//   adjoint solve, Ψᵀ w; the minimum check is off for every method) by
//     coupled        -fold_batch_solve coupled: one GMRES with left Jacobi over the whole batch
//                    (the problem's defaults), re-solved until every instance meets rtol;
//     blocks         -fold_batch_solve blocks: every instance's n×n block from the assembled Φᵀ
//                    (top-k: diagonal plus rank one, solved by Woodbury in O(n)), one outer
//                    Richardson iteration;
//     blocks_products  the same with -fold_batch_block_source products: n batched Φᵀ products
//                    extract the blocks, LU per block (the route before the assembled one);
//     one-at-a-time  a B = 1 layer (its KSP and vectors reused) over the same instances in turn:
//                    forward (not timed), then backward (timed), summed.
//   Throughput = B / backward CPU seconds (instances per second; the machine of the recorded runs
//   was shared, and the wall time of many short calls counts the time other processes held the
//   core: both are written). The best of -reps repetitions of the batched backward is kept; the gradients of coupled and blocks are compared (relative
//   difference), and the one-at-a-time gradient of instance 0 against the batch's.
// Writes <output_dir>/batch_np<P>.csv: B, method, seconds (wall), cpu_seconds, instances_per_s, iterations,
//   products (of the batch vector; one-at-a-time: summed over its instances), passes, worst and
//   median instance residual, instances at or below rtol, memory peak (MiB, the phase's own),
//   relative difference to coupled; and prints a Markdown table with the ratios to one-at-a-time.
//
// Run:   build/bench/batch [-n 100] [-batches 1,4,...,4096] [-reps 3] [-quick] [-output_dir bench/results]
#include "bench_util.hpp"

#include <foldopt/layer.hpp>
#include <foldopt/problems/topk.hpp>

#include <time.h>

#include <cmath>
#include <memory>

namespace {

using namespace foldopt;

const char help[] = "Batched smooth top-k backward: coupled vs per-instance blocks vs one instance at a time.\n"
                    "  -n N             entries per instance (default 100)\n"
                    "  -batches B,...   batch sizes (default 1,4,16,64,256,1024,4096; -quick: up to 256)\n"
                    "  -reps R          repetitions of each batched backward, the best is kept (default 3)\n"
                    "  -output_dir D    where batch_np<P>.csv goes (default bench/results)\n";

/// CPU seconds of this process (CLOCK_PROCESS_CPUTIME_ID): under a loaded machine the wall time
/// of a short call includes the time other processes held the core; the CPU time does not.
double cpu() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

struct Result {
  double seconds = 0, cpu_seconds = 0;
  PetscInt iterations = 0, products = 0, passes = 0, below = 0;
  PetscReal worst = 0, median = 0;
  double peak_mib = 0;
  OwnedVec grad;
};

void set_option(const char* name, const char* value) { FOLDOPT_CALL(PetscOptionsSetValue(nullptr, name, value)); }

/// The batched backward under -fold_batch_solve `mode`: best of `reps`.
Result batched(MPI_Comm comm, TopK& p, Vec g, const char* mode, int reps, const char* source = "auto") {
  set_option("-fold_batch_solve", mode);
  set_option("-fold_batch_block_source", source);
  FoldedLayer layer(p);
  layer.set_check_minimum(false);
  layer.set_from_options();
  layer.forward(p.params());
  Result r;
  r.cpu_seconds = 1e300;
  for (int i = 0; i < reps; ++i) {
    bench::Phase ph(comm, std::string("batch ") + mode + (std::string(source) == "auto" ? "" : " " + std::string(source)));
    const double c0 = cpu();
    ParamSet grad = layer.backward(g);
    const double c = bench::max_over(comm, cpu() - c0);
    const double s = ph.seconds();
    if (c < r.cpu_seconds) {
      r.cpu_seconds = c;
      r.seconds = s;
    }
    // The first repetition allocates what the path needs (later ones reuse it).
    r.peak_mib = std::max(r.peak_mib, bench::mib(ph.memory().peak - ph.memory().start));
    if (!r.grad) FOLDOPT_CALL(VecDuplicate(grad.get("c"), r.grad.out()));
    FOLDOPT_CALL(VecCopy(grad.get("c"), r.grad));
  }
  const AdjointReport& a = layer.adjoint().report();
  r.iterations = a.iterations;
  r.products = a.products;
  r.passes = a.passes;
  r.below = a.instances_below;
  r.worst = a.instance_worst;
  r.median = a.instance_median;
  FOLDOPT_CALL(PetscOptionsClearValue(nullptr, "-fold_batch_solve"));
  FOLDOPT_CALL(PetscOptionsClearValue(nullptr, "-fold_batch_block_source"));
  return r;
}

/// Instance b of a batch vector as a vector of one instance (collective).
void extract(Vec batch, PetscInt b, PetscInt n, Vec one) {
  OwnedIS is;
  PetscInt lo, hi;
  FOLDOPT_CALL(VecGetOwnershipRange(one, &lo, &hi));
  FOLDOPT_CALL(ISCreateStride(PetscObjectComm((PetscObject)one), hi - lo, b * n + lo, 1, is.out()));
  OwnedVecScatter sc;
  FOLDOPT_CALL(VecScatterCreate(batch, is, one, nullptr, sc.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, batch, one, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, batch, one, INSERT_VALUES, SCATTER_FORWARD));
}

/// The instances one at a time through a B = 1 layer; gradient of instance 0 in `grad0`.
Result one_at_a_time(MPI_Comm comm, TopK& p, Vec g, PetscInt n, PetscInt B, PetscReal k, PetscReal eps, Vec grad0) {
  OwnedVec c1, g1;
  FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, n, c1.out()));
  FOLDOPT_CALL(VecDuplicate(c1, g1.out()));
  extract(p.params().get("c"), 0, n, c1);
  TopK one(c1, 1, k, eps);
  ParamSet theta;
  theta.add("c", c1);
  FoldedLayer layer(one);
  layer.set_check_minimum(false);
  layer.set_from_options();
  Result r;
  double total = 0, total_cpu = 0;
  PetscInt worst_below = 0;
  for (PetscInt b = 0; b < B; ++b) {
    extract(p.params().get("c"), b, n, c1);
    extract(g, b, n, g1);
    layer.forward(theta);
    MPI_Barrier(comm);
    const double t0 = bench::wall(), c0 = cpu();
    ParamSet grad = layer.backward(g1);
    total += bench::wall() - t0;
    total_cpu += cpu() - c0;
    if (b == 0) FOLDOPT_CALL(VecCopy(grad.get("c"), grad0));
    const AdjointReport& a = layer.adjoint().report();
    r.iterations += a.iterations;
    r.products += a.products;
    r.passes = std::max(r.passes, a.passes);
    r.worst = std::max(r.worst, a.instance_worst);
    worst_below += a.instances_below;
  }
  r.seconds = bench::max_over(comm, total);
  r.cpu_seconds = bench::max_over(comm, total_cpu);
  r.below = worst_below;
  return r;
}

int body(MPI_Comm comm, const bench::Args& args) {
  PetscInt n = 100, reps = 3;
  const PetscReal k = 5, eps = 0.1;
  PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-reps", &reps, nullptr);
  std::vector<PetscInt> batches = args.quick ? std::vector<PetscInt>{1, 4, 16, 64, 256}
                                             : std::vector<PetscInt>{1, 4, 16, 64, 256, 1024, 4096};
  {
    PetscInt list[64], count = 64;
    PetscBool set = PETSC_FALSE;
    PetscOptionsGetIntArray(nullptr, nullptr, "-batches", list, &count, &set);
    if (set) batches.assign(list, list + count);
  }
  if (n <= k || reps < 1 || batches.empty()) throw std::invalid_argument("need -n > 5, -reps >= 1 and -batches");
  for (PetscInt B : batches)
    if (B < 1) throw std::invalid_argument("-batches: every batch size must be positive");
  int size = 1;
  MPI_Comm_size(comm, &size);
  bench::Csv csv(comm, args.output_dir, "batch_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: smooth top-k, n = " + std::to_string(n) +
                      ", k = 5, epsilon = 0.1, c uniform in [-1, 1) (seed 3), g uniform (seed 4); rtol 1e-10; "
                      "backward = FoldedLayer::backward without the minimum check; best of " +
                      std::to_string(reps) + " for the batched methods"},
                 {"B", "method", "seconds", "cpu_seconds", "instances_per_s", "iterations", "products", "passes", "worst_instance",
                  "median_instance", "instances_below_rtol", "peak_mib", "rel_diff_to_coupled"});
  PetscPrintf(comm,
              "| B | coupled inst/s (its, passes) | blocks inst/s | blocks_products inst/s | one-at-a-time inst/s "
              "(its/instance) | coupled / one | blocks / one | blocks_products / one | blocks peak MiB |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  for (PetscInt B : batches) {
    std::unique_ptr<TopK> p = TopK::generate(comm, n, B, 3, k, eps);
    OwnedVec g = p->create_vec();
    fill_random(g, 4);
    Result co = batched(comm, *p, g, "coupled", (int)reps);
    Result bl = batched(comm, *p, g, "blocks", (int)reps);
    Result bp = batched(comm, *p, g, "blocks", (int)reps, "products");
    OwnedVec grad0;
    FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, n, grad0.out()));
    Result one = one_at_a_time(comm, *p, g, n, B, k, eps, grad0);
    OwnedVec co0;
    FOLDOPT_CALL(VecDuplicate(grad0, co0.out()));
    extract(co.grad, 0, n, co0);
    const double d_bl = bench::rel_diff(bl.grad, co.grad), d_bp = bench::rel_diff(bp.grad, co.grad),
                 d_one = bench::rel_diff(grad0, co0);
    auto row = [&](const char* method, const Result& r, double diff) {
      csv.row({bench::num(B), method, bench::num(r.seconds), bench::num(r.cpu_seconds), bench::num((double)B / r.cpu_seconds), bench::num(r.iterations),
               bench::num(r.products), bench::num(r.passes), bench::num((double)r.worst), bench::num((double)r.median),
               bench::num(r.below), bench::num(r.peak_mib), bench::num(diff)});
    };
    row("coupled", co, 0.0);
    row("blocks", bl, d_bl);
    row("blocks_products", bp, d_bp);
    row("one_at_a_time", one, d_one);
    PetscPrintf(comm,
                "| %" PetscInt_FMT " | %.4g (%" PetscInt_FMT ", %" PetscInt_FMT ") | %.4g | %.4g | %.4g (%.2f) | %.2f | %.2f | %.2f | %.1f |\n",
                B, B / co.cpu_seconds, co.iterations, co.passes, B / bl.cpu_seconds, B / bp.cpu_seconds,
                B / one.cpu_seconds, (double)one.iterations / (double)B, one.cpu_seconds / co.cpu_seconds,
                one.cpu_seconds / bl.cpu_seconds, one.cpu_seconds / bp.cpu_seconds, bl.peak_mib);
    if (d_bl > 1e-8 || d_bp > 1e-8 || d_one > 1e-8 || bl.below != B || bp.below != B || co.below != B)
      throw std::runtime_error("batch " + std::to_string(B) + ": the methods disagree (blocks " + bench::num(d_bl) +
                               ", blocks_products " + bench::num(d_bp) + ", one-at-a-time " + bench::num(d_one) +
                               ") or an instance missed rtol");
  }
  csv.close();
  PetscPrintf(comm, "PASS (target: at B = 4096 the best batched throughput >= 20x one-at-a-time)\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
