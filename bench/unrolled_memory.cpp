// bench/unrolled_memory: unrolling K solver steps against the folded backward, memory and time
// against K, on one box-QP.
//
// Method: a generated box-QP (2-D Laplacian + shift, a third of the bounds active, x* known) is
//   solved by the layer's forward; then
//     folded    FoldedLayer::backward (GMRES on (I − Φᵀ) w = g, the default rtol 1e-10; the
//               minimum check is off: it is not part of the solve);
//     unrolled  UnrolledBaseline::run for each K of -steps (K PGD steps from x₀ = 0, their states
//               on a tape, back-propagated: the -fold_backward unrolled baseline), with its
//               relative error against the folded gradient.
//   Each is one bench::Phase: wall time and the memory the phase itself added (peak − start,
//   summed over ranks, foldopt::memory). Large allocations are mmapped (mallopt), so memory freed
//   by one phase goes back to the system and the next phase's peak is its own. The tape holds
//   K·N doubles (UnrolledResult::tape_bytes, exact); the folded backward does not depend on K
//   (it is measured once per K all the same, to show it; its workspace, the Krylov basis and
//   the adjoint's vectors, is allocated by the first call and kept: the row "folded (first
//   call)", K = 0, gives that memory).
// Writes <output_dir>/unrolled_memory_np<P>.csv (method, K, seconds, memory MiB, tape MiB,
//   products, relative gradient error) and prints a Markdown table; plot_unrolled_memory.py
//   plots memory and time against K.
// References: Kotary, Dinh, Fioretto, Folded optimization for end-to-end model-based learning
//   (2023), Theorem 1 (unrolling from x* is LFPI).
//
// Run:   mpiexec -n 2 build/bench/unrolled_memory [-n 100000] [-steps 10,30,100,300,1000] [-quick]
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>

#include <malloc.h>

#include <cmath>
#include <sstream>

namespace {

using namespace foldopt;

const char help[] = "Unrolled K steps against the folded backward on a box-QP: memory and time against K.\n"
                    "  -n N           unknowns (default 1e5; -quick: 1e4)\n"
                    "  -steps K1,K2,...  unrolled steps (default 10,30,100,300,1000)\n"
                    "  -shift s       H = Laplacian + s I (default 0.1)\n"
                    "  -output_dir D  where unrolled_memory_np<P>.csv goes (default bench/results)\n";

std::vector<PetscInt> parse_steps(const std::string& text) {
  std::vector<PetscInt> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) {
    char* end = nullptr;
    const long long k = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || k < 1 || k > 100000)
      throw std::invalid_argument("-steps " + text + ": '" + item + "' is not a step count from 1 to 100000");
    out.push_back((PetscInt)k);
  }
  if (out.empty()) throw std::invalid_argument("-steps is empty");
  return out;
}

double grad_norm(const ParamSet& g) { return std::sqrt(std::max<PetscReal>(g.dot(g), 0)); }

int body(MPI_Comm comm, const bench::Args& args) {
  mallopt(M_MMAP_THRESHOLD, 16 * 1024);  // fixed threshold: freed large blocks return to the system
  BoxQPGenerator gen;
  gen.n = args.quick ? 10000 : 100000;
  gen.shift = 0.1;
  char steps_text[256] = "10,30,100,300,1000";
  PetscOptionsGetInt(nullptr, nullptr, "-n", &gen.n, nullptr);
  PetscOptionsGetReal(nullptr, nullptr, "-shift", &gen.shift, nullptr);
  PetscOptionsGetString(nullptr, nullptr, "-steps", steps_text, sizeof steps_text, nullptr);
  if (gen.n < 4) throw std::invalid_argument("-n must be at least 4");
  const std::vector<PetscInt> steps = parse_steps(steps_text);
  int size = 1;
  MPI_Comm_size(comm, &size);

  auto qp = BoxQP::generate(comm, gen);
  FoldedLayer layer(*qp);
  layer.set_check_minimum(false);
  layer.set_from_options();
  double forward_seconds;
  {
    bench::Phase ph(comm, "Forward");
    layer.forward(qp->params());
    forward_seconds = ph.seconds();
  }
  OwnedVec g;
  FOLDOPT_CALL(VecDuplicate(layer.solution(), g.out()));
  FOLDOPT_CALL(VecSet(g, 1.0));
  // The first backward: the reference gradient, and the folded backward's workspace (the Krylov
  // basis and the adjoint's vectors, kept by the layer for the next calls) as its memory.
  double first_seconds;
  memory::Phase first_memory;
  PetscInt first_products;
  ParamSet folded;
  {
    bench::Phase ph(comm, "FoldedFirst");
    folded = layer.backward(g);
    first_seconds = ph.seconds();
    first_memory = ph.memory();
    first_products = layer.adjoint().report().products;
  }
  const double folded_norm = grad_norm(folded);

  bench::Csv csv(comm, args.output_dir, "unrolled_memory_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: qp_box generated, n = " + bench::num(gen.n) + ", shift " + bench::num(gen.shift) +
                      ", forward " + bench::num(forward_seconds) + " s",
                  "memory: peak - start of the phase, summed over ranks; tape = K N doubles"},
                 {"method", "K", "seconds", "tape_forward_seconds", "reverse_seconds", "memory_MiB", "tape_MiB", "products", "rel_error"});
  PetscPrintf(comm, "| method | K | time (s) | of which tape, reverse (s) | memory (MiB) | tape (MiB) | products | rel. error |\n"
                    "|---|---|---|---|---|---|---|---|\n");
  auto emit = [&](const char* method, PetscInt K, double sec, double fwd, double rev, double mem, double tape,
                  PetscInt products, double err) {
    csv.row({method, bench::num(K), bench::num(sec), bench::num(fwd), bench::num(rev), bench::num(mem), bench::num(tape),
             bench::num(products), bench::num(err)});
    PetscPrintf(comm, "| %s | %" PetscInt_FMT " | %.4f | %.4f, %.4f | %.1f | %.1f | %" PetscInt_FMT " | %.2e |\n", method, K, sec,
                fwd, rev, mem, tape, products, err);
  };
  emit("folded (first call)", 0, first_seconds, 0, 0, bench::mib(first_memory.peak - first_memory.start), 0, first_products, 0);
  for (PetscInt K : steps) {
    {
      bench::Phase ph(comm, "Folded");
      ParamSet grad = layer.backward(g);
      const double sec = ph.seconds();
      const memory::Phase& m = ph.memory();
      grad.axpy(-1.0, folded);
      emit("folded", K, sec, 0, 0, bench::mib(m.peak - m.start), 0, layer.adjoint().report().products, grad_norm(grad) / folded_norm);
    }
    {
      UnrolledBaseline unrolled(comm, "bench_");
      unrolled.set_steps(K);
      unrolled.set_start(UnrolledStart::zero);
      unrolled.set_max_memory(1e15);
      bench::Phase ph(comm, "Unrolled");
      const UnrolledResult& r = unrolled.run(layer.map(), layer.theta(), g, layer.state(), &folded);
      const double sec = ph.seconds();
      const memory::Phase& m = ph.memory();
      emit("unrolled", K, sec, r.forward_seconds, r.reverse_seconds, bench::mib(m.peak - m.start), bench::mib(r.tape_bytes), r.phi_t_products, r.backward_error);
    }
  }
  csv.close();
  PetscPrintf(comm, "PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
