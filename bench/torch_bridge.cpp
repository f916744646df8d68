// bench/torch_bridge: the PyTorch bridge's overhead per call (FOLDOPT_WITH_TORCH), and the
// built-in map's Φᵀ products per second (bench/torch_bridge.py sets a Python user map against it).
//
// Method: for each n of -sizes, a generated box-QP (shift -shift: a well-conditioned H, so that
//   the solves are short and the overhead is not lost in their noise) behind foldopt::torch::Layer
//   (include/foldopt/torch.hpp). At the problem's own θ, -reps times each (first all torch calls,
//   then all direct ones, as a program would make them):
//     torch    x = layer.forward(θ tensors), then autograd backward of x with ∂L/∂x = 1 (the
//              gradients land in θ's .grad);
//     direct   the same layer's FoldedLayer: forward(θ) and backward(g) on PETSc vectors.
//   Both warm-start from the same converged state, so each call does the same solver work; the
//   overhead per call is median(torch) − median(direct) (wall time, max over ranks), also as a
//   fraction of the direct call. Then, at the same linearization, -products Φᵀ products of the
//   built-in map (pgd) timed in a loop: products per second (the reference for a user map).
// Writes <output_dir>/torch_bridge_np<P>.csv (n, torch seconds, direct seconds, overhead seconds,
//   overhead fraction, Φᵀ products per second) and prints a Markdown table.
// References: PyTorch, torch.autograd.Function (the bridge's autograd function).
//
// Run:   mpiexec -n 2 build/bench/torch_bridge [-sizes 1000,1000000] [-reps 7] [-quick]
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>
#include <foldopt/torch.hpp>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <sstream>

namespace {

using namespace foldopt;

const char help[] = "The PyTorch bridge's overhead per call and the built-in map's Phi^T products per second.\n"
                    "  -sizes N1,N2,...  problem sizes (default 1000,1000000; -quick: 1000,100000)\n"
                    "  -reps R        calls of each kind, the median is kept (default 7)\n"
                    "  -products P    Phi^T products timed (default 50)\n"
                    "  -shift s       H = Laplacian + s I (default 1)\n"
                    "  -output_dir D  where torch_bridge_np<P>.csv goes (default bench/results)\n";

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<PetscInt> parse_sizes(const std::string& text) {
  std::vector<PetscInt> out;
  std::stringstream s(text);
  for (std::string item; std::getline(s, item, ',');) {
    char* end = nullptr;
    const long long n = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || n < 4 || n > 100000000)
      throw std::invalid_argument("-sizes " + text + ": '" + item + "' is not a size from 4 to 1e8");
    out.push_back((PetscInt)n);
  }
  if (out.empty()) throw std::invalid_argument("-sizes is empty");
  return out;
}

int body(MPI_Comm comm, const bench::Args& args) {
  char sizes_text[256] = "";
  std::snprintf(sizes_text, sizeof sizes_text, "%s", args.quick ? "1000,100000" : "1000,1000000");
  PetscInt reps = 7, products = 50;
  PetscReal shift = 1;
  PetscOptionsGetString(nullptr, nullptr, "-sizes", sizes_text, sizeof sizes_text, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-reps", &reps, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-products", &products, nullptr);
  PetscOptionsGetReal(nullptr, nullptr, "-shift", &shift, nullptr);
  if (reps < 1 || products < 1 || !(shift >= 0)) throw std::invalid_argument("-reps, -products must be positive, -shift >= 0");
  const std::vector<PetscInt> sizes = parse_sizes(sizes_text);
  int size = 1;
  MPI_Comm_size(comm, &size);

  struct Row {
    PetscInt n;
    double torch_s, direct_s, torch_fwd_s, direct_fwd_s, products_per_s;
    PetscInt iterations;
  };
  std::vector<Row> rows;
  for (PetscInt n : sizes) {
    std::ostringstream opts;
    opts << "-n " << n << " -shift " << shift << " -fold_check_minimum 0";
    foldopt::torch::Layer layer("qp_box", opts.str(), comm);
    FoldedLayer& folded = layer.folded();
    std::vector<at::Tensor> theta = layer.params();
    for (auto& t : theta) t.requires_grad_(true);
    // The same θ as PETSc vectors for the direct calls: the problem's own.
    const ParamSet& theta_vec = layer.problem().params();
    at::Tensor x = layer.forward(theta);  // converge once: every later call warm-starts from x*
    OwnedVec g;
    FOLDOPT_CALL(VecDuplicate(folded.solution(), g.out()));
    FOLDOPT_CALL(VecSet(g, 1.0));
    std::vector<double> t_torch, t_direct, f_torch, f_direct;
    for (PetscInt r = 0; r < reps; ++r) {
      {
        MPI_Barrier(comm);
        const double t0 = bench::wall();
        at::Tensor y = layer.forward(theta);
        const double t1 = bench::wall();
        ::torch::autograd::backward({y}, {at::ones_like(y)});
        t_torch.push_back(bench::max_over(comm, bench::wall() - t0));
        f_torch.push_back(bench::max_over(comm, t1 - t0));
        for (auto& t : theta) t.mutable_grad() = at::Tensor();
      }
    }
    for (PetscInt r = 0; r < reps; ++r) {
      {
        MPI_Barrier(comm);
        const double t0 = bench::wall();
        folded.forward(theta_vec);
        const double t1 = bench::wall();
        ParamSet grad = folded.backward(g);
        t_direct.push_back(bench::max_over(comm, bench::wall() - t0));
        f_direct.push_back(bench::max_over(comm, t1 - t0));
      }
    }
    const PetscInt iterations = folded.adjoint().report().iterations;
    // Φᵀ products of the built-in map at the current linearization.
    UpdateMap& map = folded.map();
    OwnedVec v, y;
    FOLDOPT_CALL(VecDuplicate(folded.state(), v.out()));
    FOLDOPT_CALL(VecDuplicate(folded.state(), y.out()));
    FOLDOPT_CALL(VecSet(v, 1.0));
    map.phi_t(v, y);
    MPI_Barrier(comm);
    const double t0 = bench::wall();
    for (PetscInt p = 0; p < products; ++p) map.phi_t(p % 2 ? y : v, p % 2 ? v : y);
    const double tp = bench::max_over(comm, bench::wall() - t0);
    rows.push_back({n, median(t_torch), median(t_direct), median(f_torch), median(f_direct), (double)products / tp, iterations});
  }

  bench::Csv csv(comm, args.output_dir, "torch_bridge_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: qp_box generated, shift " + bench::num(shift) +
                      "; a call = forward (warm, at x*) + backward; median of " + bench::num(reps)},
                 {"n", "torch_seconds", "direct_seconds", "torch_forward_seconds", "direct_forward_seconds", "overhead_seconds",
                  "overhead_fraction", "adjoint_iterations", "builtin_phi_t_per_second"});
  PetscPrintf(comm, "| n | torch call (ms) | direct call (ms) | of which forward, torch / direct (ms) | overhead (ms) | overhead / direct | adjoint its | built-in Phi^T /s |\n"
                    "|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    const double over = r.torch_s - r.direct_s;
    csv.row({bench::num(r.n), bench::num(r.torch_s), bench::num(r.direct_s), bench::num(r.torch_fwd_s), bench::num(r.direct_fwd_s),
             bench::num(over), bench::num(over / r.direct_s), bench::num(r.iterations), bench::num(r.products_per_s)});
    PetscPrintf(comm, "| %" PetscInt_FMT " | %.3f | %.3f | %.3f / %.3f | %.3f | %.1f%% | %" PetscInt_FMT " | %.4g |\n", r.n,
                1e3 * r.torch_s, 1e3 * r.direct_s, 1e3 * r.torch_fwd_s, 1e3 * r.direct_fwd_s, 1e3 * over,
                100 * over / r.direct_s, r.iterations, r.products_per_s);
  }
  csv.close();
  PetscPrintf(comm, "PASS\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
