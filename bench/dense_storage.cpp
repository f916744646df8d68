// bench/dense_storage: a box-QP with a dense H, stored as AIJ and as dense, side by side.
//
// Method: H (n × n) is dense and SPD: h_ij = h_ji = (2u − 1)/n off the diagonal (u uniform by
//   global index, the same at any rank count) and h_ii = 2, so its eigenvalues lie in [1, 3]
//   (Gershgorin); q uniform in [−2, 2), bounds ±0.5 (about half of x* at a bound). The matrix is
//   built once as MATDENSE (MATSEQDENSE / MATMPIDENSE) and converted to AIJ (every entry stored):
//   the same numbers in both storages, as io::read_mat gives them from a MatrixMarket array
//   (dense) or with -mat_storage aij. For each storage, in one run:
//     products  K products y = Φᵀ v with the layer's map at x* (the backward's operation), after
//               3 untimed ones, in 5 blocks of K/5: the best block's time per product,
//     forward   the fista forward from x = 0 (each iteration one product with H),
//     backward  the layer's backward with GMRES without a preconditioner on (I − Φᵀ) w = g (with
//               its checks: fixed point, the minimum check's Lanczos steps), and
//     jacobian  -fold_backward jacobian (assembled I − Φᵀ, LU: PETSc's dense LU at one rank; at
//               two ranks MUMPS, which takes AIJ only, so the dense operator is converted),
//   each a phase (PETSc log stage, wall time max over ranks, own memory peak); the ratio
//   AIJ / dense of each time is printed beside them.
// Writes <output_dir>/dense_storage_n<N>_np<P>.csv. Timings under load vary; products,
// iterations and memory do not.
//
// Run:   mpiexec -n 2 build/bench/dense_storage [-n 2000] [-products 200] [-quick] [-output_dir D]
#include "bench_util.hpp"

#include <foldopt/adjoint.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/io.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/update_map.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace foldopt;

const char help[] =
    "Box-QP with a dense H: Phi^T products, forward and backward with H stored as AIJ and as dense.\n"
    "  -n N           unknowns (default 2000; -quick: 300)\n"
    "  -products K    Phi^T products timed per storage (default 200; -quick: 50)\n"
    "  -output_dir D  where dense_storage_n<N>_np<P>.csv goes (default bench/results)\n";

// Uniform in [0, 1) from the pair (a, b) (splitmix64 finalizer of a hash of both).
double uniform(std::uint64_t a, std::uint64_t b) {
  std::uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

OwnedMat dense_spd(MPI_Comm comm, PetscInt n) {
  OwnedMat H;
  FOLDOPT_CALL(MatCreateDense(comm, PETSC_DECIDE, PETSC_DECIDE, n, n, nullptr, H.out()));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(H, &rs, &re));
  std::vector<PetscInt> cols(static_cast<std::size_t>(n));
  std::vector<PetscScalar> row(static_cast<std::size_t>(n));
  for (PetscInt j = 0; j < n; ++j) cols[static_cast<std::size_t>(j)] = j;
  for (PetscInt i = rs; i < re; ++i) {
    for (PetscInt j = 0; j < n; ++j) {
      const std::uint64_t a = static_cast<std::uint64_t>(std::min(i, j)), b = static_cast<std::uint64_t>(std::max(i, j));
      row[static_cast<std::size_t>(j)] = i == j ? 2.0 : (2.0 * uniform(a, b) - 1.0) / static_cast<double>(n);
    }
    FOLDOPT_CALL(MatSetValues(H, 1, &i, n, cols.data(), row.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY));
  return H;
}

struct Result {
  std::string storage;
  double product_s = 0, forward_s = 0, backward_s = 0, jacobian_s = 0;
  PetscInt forward_it = 0, backward_products = 0, backward_it = 0;
  double forward_mib = 0, backward_mib = 0, jacobian_mib = 0;
  std::string jacobian_note;
};

Result run(MPI_Comm comm, Mat H, const std::string& storage, PetscInt K) {
  Result r;
  r.storage = storage;
  OwnedVec q, lb, ub, g;
  FOLDOPT_CALL(MatCreateVecs(H, q.out(), nullptr));
  FOLDOPT_CALL(VecDuplicate(q, lb.out()));
  FOLDOPT_CALL(VecDuplicate(q, ub.out()));
  FOLDOPT_CALL(VecDuplicate(q, g.out()));
  fill_random(q, 11);
  FOLDOPT_CALL(VecScale(q, 2.0));  // [-2, 2) from fill_random's [-1, 1)
  FOLDOPT_CALL(VecSet(lb, -0.5));
  FOLDOPT_CALL(VecSet(ub, 0.5));
  fill_random(g, 12);
  BoxQP p(H, q, lb, ub);
  FoldedLayer layer(p);
  layer.set_from_options();
  layer.set_estimate_rho(false);
  {
    bench::Phase ph(comm, "forward_" + storage);
    layer.forward(p.params());
    r.forward_s = ph.seconds();
    r.forward_mib = bench::mib(ph.memory().peak);
  }
  r.forward_it = layer.forward_report().iterations;
  {
    bench::Phase ph(comm, "backward_" + storage);
    layer.backward(g);
    r.backward_s = ph.seconds();
    r.backward_mib = bench::mib(ph.memory().peak);
  }
  r.backward_products = layer.adjoint().report().products;
  r.backward_it = layer.adjoint().report().iterations;
  {
    OwnedVec v, y;
    FOLDOPT_CALL(VecDuplicate(g, v.out()));
    FOLDOPT_CALL(VecDuplicate(g, y.out()));
    FOLDOPT_CALL(VecCopy(g, v));
    for (int k = 0; k < 3; ++k) layer.map().phi_t(v, y);  // warm-up: caches, first-touch pages
    // Five blocks of K/5 products; the best block (the least disturbed by other load) counts.
    const PetscInt per = std::max<PetscInt>(1, K / 5);
    r.product_s = 1e300;
    for (int b = 0; b < 5; ++b) {
      bench::Phase ph(comm, "products_" + storage);
      for (PetscInt k = 0; k < per; ++k) layer.map().phi_t(v, y);
      r.product_s = std::min(r.product_s, ph.seconds() / static_cast<double>(per));
    }
  }
  {
    PetscOptionsSetValue(nullptr, "-fold_backward", "jacobian");
    FoldedLayer jl(p);
    jl.set_from_options();
    jl.set_estimate_rho(false);
    jl.forward(p.params());
    bench::Phase ph(comm, "jacobian_" + storage);
    jl.backward(g);
    r.jacobian_s = ph.seconds();
    r.jacobian_mib = bench::mib(ph.memory().peak);
    r.jacobian_note = jl.adjoint().report().method + "; " + jl.adjoint().report().note;
    PetscOptionsClearValue(nullptr, "-fold_backward");
  }
  return r;
}

int body(MPI_Comm comm, const bench::Args& args) {
  PetscInt n = args.quick ? 300 : 2000, K = args.quick ? 50 : 200;
  PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-products", &K, nullptr);
  if (n < 2 || K < 1) throw std::invalid_argument("-n must be at least 2 and -products positive");
  // fista: one product with H per iteration, the same iterations in both storages.
  PetscBool fwd_set = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsHasName(nullptr, nullptr, "-fold_fwd_type", &fwd_set));
  if (!fwd_set) FOLDOPT_CALL(PetscOptionsSetValue(nullptr, "-fold_fwd_type", "fista"));
  int size = 1;
  MPI_Comm_size(comm, &size);
  OwnedMat Hd = dense_spd(comm, n);
  OwnedMat Ha;
  FOLDOPT_CALL(MatConvert(Hd, MATAIJ, MAT_INITIAL_MATRIX, Ha.out()));
  std::vector<Result> res;
  res.push_back(run(comm, Ha, io::storage_name(Ha), K));
  res.push_back(run(comm, Hd, io::storage_name(Hd), K));

  bench::Csv csv(comm, args.output_dir, "dense_storage_n" + std::to_string(n) + "_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: box-QP, dense SPD H (h_ii = 2, |h_ij| < 1/n), q in [-2,2), bounds +-0.5, n = " +
                      std::to_string(n) + "; forward fista, backward gmres (no PC) and jacobian (LU)"},
                 {"storage", "n", "ranks", "phi_t_product_s", "forward_s", "forward_iterations", "backward_s",
                  "backward_iterations", "backward_products", "jacobian_s", "forward_peak_MiB", "backward_peak_MiB",
                  "jacobian_peak_MiB", "jacobian_method"});
  for (const Result& r : res)
    csv.row({r.storage, bench::num(n), bench::num((PetscInt)size), bench::num(r.product_s), bench::num(r.forward_s),
             bench::num(r.forward_it), bench::num(r.backward_s), bench::num(r.backward_it), bench::num(r.backward_products),
             bench::num(r.jacobian_s), bench::num(r.forward_mib), bench::num(r.backward_mib), bench::num(r.jacobian_mib),
             "\"" + r.jacobian_note + "\""});
  csv.close();
  const Result &a = res[0], &d = res[1];
  PetscPrintf(comm, "\nbox-QP, dense H, n = %" PetscInt_FMT ", %d rank%s (times under load; products and iterations exact)\n\n", n,
              size, size > 1 ? "s" : "");
  PetscPrintf(comm, "| | aij | dense | aij / dense |\n|---|---|---|---|\n");
  PetscPrintf(comm, "| Phi^T product (ms) | %.3f | %.3f | %.2f |\n", 1e3 * a.product_s, 1e3 * d.product_s, a.product_s / d.product_s);
  PetscPrintf(comm, "| forward fista (s), iterations | %.3f (%" PetscInt_FMT ") | %.3f (%" PetscInt_FMT ") | %.2f |\n", a.forward_s,
              a.forward_it, d.forward_s, d.forward_it, a.forward_s / d.forward_s);
  PetscPrintf(comm, "| backward gmres (s), Phi^T products | %.4f (%" PetscInt_FMT ") | %.4f (%" PetscInt_FMT ") | %.2f |\n",
              a.backward_s, a.backward_products, d.backward_s, d.backward_products, a.backward_s / d.backward_s);
  PetscPrintf(comm, "| backward jacobian (s) | %.3f | %.3f | %.2f |\n", a.jacobian_s, d.jacobian_s, a.jacobian_s / d.jacobian_s);
  PetscPrintf(comm, "| peak memory forward / backward / jacobian (MiB, all ranks) | %.1f / %.1f / %.1f | %.1f / %.1f / %.1f | |\n",
              a.forward_mib, a.backward_mib, a.jacobian_mib, d.forward_mib, d.backward_mib, d.jacobian_mib);
  PetscPrintf(comm, "\njacobian, aij: %s\njacobian, dense: %s\n", a.jacobian_note.c_str(), d.jacobian_note.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
