// bench/adjoint_methods: Φᵀ products, time and memory of adjoint methods on one box-QP, side by side.
//
// What it measures: for a generated box-QP whose reduced Hessian is badly conditioned (active set
// `block`: a large connected free region; H = 2-D Laplacian + shift), with the stepsize chosen
// by SLEPc (α = 2/(λmin + λmax) of H_FF, so ρ(Φ) = (κ−1)/(κ+1) is as small as PGD allows), it
// solves (I − Φᵀ) w = g with each method to the default relative tolerance 1e-10 and prints
// products, iterations, time, peak memory, and the ratio of LFPI's products to each method's.
// It also times the ρ(Φ) estimate. x* is the generator's exact solution (the forward pass is not
// what is measured here; any forward solver returns the same x*).
//
// Run:   mpiexec -n 2 ./bench/adjoint_methods -n 1000000 -shift 7e-4
//        (-bench_methods lfpi,gmres,... picks methods; -bench_list prints them)
#include <foldopt/foldopt.hpp>

#include <slepcsys.h>

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace foldopt;

struct Method {
  const char* name;
  const char* options;
};

const Method kMethods[] = {
    {"lfpi", "-fold_ksp_type richardson"},
    {"gmres", "-fold_ksp_type gmres"},
    {"gmres200", "-fold_ksp_type gmres -fold_ksp_gmres_restart 200"},
    {"bcgs", "-fold_ksp_type bcgs"},
    {"gcr", "-fold_ksp_type gcr -fold_ksp_gcr_restart 100"},
    {"gmres+jacobi", "-fold_ksp_type gmres -fold_pc_type jacobi"},
    {"gmres+hypre", "-fold_ksp_type gmres -fold_pc_type hypre"},
    {"gmres+gamg", "-fold_ksp_type gmres -fold_pc_type gamg"},
    {"jacobian", "-fold_backward jacobian"},
};

double peak_mib(MPI_Comm comm) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double mine = ru.ru_maxrss / 1024.0, sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
  return sum;
}

double now() {
  PetscLogDouble t;
  PetscTime(&t);
  return t;
}

struct Row {
  std::string name;
  AdjointReport r;
  double grad_diff = -1;
  double peak = 0;
  std::string error;
};

int run(MPI_Comm comm) {
  BoxQPGenerator gen;
  gen.n = 1000000;
  gen.shift = 7e-4;
  gen.pattern = "block";
  char methods[1024] = "lfpi,gmres,gmres200,bcgs,gcr,gmres+jacobi,gmres+hypre,gmres+gamg,jacobian";
  PetscInt seed = 1;
  PetscBool list = PETSC_FALSE;
  char rho_tols[256] = "1e-3,1e-5";
  PetscOptionsBegin(comm, nullptr, "Adjoint methods benchmark", "bench");
  PetscOptionsInt("-n", "unknowns", "", gen.n, &gen.n, nullptr);
  PetscOptionsReal("-shift", "H = Laplacian + shift I", "", gen.shift, &gen.shift, nullptr);
  PetscOptionsInt("-seed", "seed", "", seed, &seed, nullptr);
  PetscOptionsString("-bench_methods", "comma-separated methods", "", methods, methods, sizeof methods, nullptr);
  PetscOptionsString("-bench_rho_tols", "EPS tolerances of the rho(Phi) estimates (the first is used in error messages)", "",
                     rho_tols, rho_tols, sizeof rho_tols, nullptr);
  PetscOptionsBool("-bench_list", "list the methods and their options", "", list, &list, nullptr);
  PetscOptionsEnd();
  gen.seed = static_cast<unsigned long>(seed);
  if (list) {
    for (const Method& m : kMethods) PetscPrintf(comm, "%-14s %s\n", m.name, m.options);
    return 0;
  }
  int size;
  MPI_Comm_size(comm, &size);

  double t0 = now();
  std::unique_ptr<BoxQP> qp = BoxQP::generate(comm, gen);
  const double t_gen = now() - t0;
  PgdMap map(*qp);
  Vec xstar = qp->known_solution();
  OwnedVec g = qp->create_vec(), w = qp->create_vec(), wref = qp->create_vec();
  fill_random(g, 7);
  map.linearize(xstar, qp->params());

  // Best stepsize from SLEPc: α = 2/(λmin + λmax) of H restricted to the free set.
  t0 = now();
  OwnedMat hff = map.stepsize_operator();
  ExtremeEigenvalues ev = extreme_eigenvalues(hff, "fold_stepsize_");
  const double t_step = now() - t0;
  map.set_stepsize(2.0 / (std::max<PetscReal>(ev.lmin, 0) + ev.lmax + ev.err_max));
  map.linearize(xstar, qp->params());
  const double kappa = ev.lmax / ev.lmin;

  // ρ(Φ) estimates: the default (cheap) tolerance and tighter ones, each from scratch.
  AdjointSolver probe(comm);
  probe.set_map(map);
  std::vector<RhoEstimate> rhos;
  {
    std::stringstream ts(rho_tols);
    std::string tol;
    while (std::getline(ts, tol, ',')) {
      const PetscInt p0 = probe.products();
      PetscOptionsSetValue(nullptr, "-fold_rho_eps_tol", tol.c_str());
      rhos.push_back(estimate_rho(probe.phi_t_shell(), "fold_rho_"));
      PetscOptionsClearValue(nullptr, "-fold_rho_eps_tol");
      rhos.back().products = probe.products() - p0;
    }
  }
  const RhoEstimate rho = rhos.front();

  PetscPrintf(comm, "adjoint methods on qp_box: n = %" PetscInt_FMT ", active pattern block, shift %g, %d rank(s)\n", gen.n,
              (double)gen.shift, size);
  PetscPrintf(comm, "  free entries %" PetscInt_FMT " (%.1f%%), generation %.2f s\n", map.free_count(),
              100.0 * map.free_count() / gen.n, t_gen);
  PetscPrintf(comm, "  H_FF eigenvalues [%.4e, %.4e] (EPS tol %.0e), kappa = %.3e, %.2f s; alpha = %.6g\n", (double)ev.lmin,
              (double)ev.lmax, (double)ev.tol, kappa, t_step, (double)map.stepsize());
  PetscPrintf(comm, "  predicted rho(Phi) = (kappa-1)/(kappa+1) = %.8f\n", (kappa - 1) / (kappa + 1));
  for (const RhoEstimate& r : rhos) {
    PetscReal lo, hi;
    r.predicted_lfpi(1e-10, &lo, &hi);
    PetscPrintf(comm, "  rho(Phi) estimate %.8f +- %.1e (EPS tol %.0e): %" PetscInt_FMT " products, %.2f s; LFPI predicted %.0f..%s\n",
                (double)r.rho, (double)r.error, (double)r.tol, r.products, r.seconds, std::ceil(lo),
                hi < 0 ? "unbounded" : std::to_string((long)std::ceil(hi)).c_str());
  }

  std::vector<Row> rows;
  std::stringstream ss(methods);
  std::string item;
  bool have_ref = false;
  while (std::getline(ss, item, ',')) {
    const Method* m = nullptr;
    for (const Method& k : kMethods)
      if (item == k.name) m = &k;
    if (!m) {
      PetscPrintf(comm, "unknown method '%s' (-bench_list)\n", item.c_str());
      return 1;
    }
    Row row;
    row.name = m->name;
    PetscOptionsInsertString(nullptr, m->options);
    try {
      AdjointSolver adj(comm);
      adj.set_map(map);
      adj.set_rho(rho.rho);
      adj.set_from_options();
      VecZeroEntries(w);
      adj.solve(g, w);
      row.r = adj.report();
      if (!have_ref) {
        VecCopy(w, wref);
        have_ref = true;
        row.grad_diff = 0;
      } else {
        OwnedVec d;
        VecDuplicate(w, d.out());
        VecWAXPY(d, -1.0, wref, w);
        PetscReal nd, nr;
        VecNorm(d, NORM_2, &nd);
        VecNorm(wref, NORM_2, &nr);
        row.grad_diff = nd / nr;
      }
    } catch (const Error& e) {
      row.error = e.what();
    }
    PetscOptionsClear(nullptr);
    row.peak = peak_mib(comm);
    rows.push_back(row);
    if (row.error.empty())
      PetscPrintf(comm, "  done %-13s %8" PetscInt_FMT " products %9.2f s\n", row.name.c_str(), row.r.products, row.r.seconds);
    else
      PetscPrintf(comm, "  done %-13s error: %s\n", row.name.c_str(), row.error.c_str());
  }

  PetscInt lfpi_products = -1;
  for (const Row& r : rows)
    if (r.name == "lfpi" && r.error.empty()) lfpi_products = r.r.products;
  PetscPrintf(comm, "\n| method | iterations | Phi^T products | LFPI/method products | time (s) | setup (s) | true rel. residual | |w - w_first|/|w_first| | peak RSS so far, all ranks (MiB) |\n");
  PetscPrintf(comm, "|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    if (!r.error.empty()) {
      PetscPrintf(comm, "| %s | failed: %s | | | | | | | %.0f |\n", r.name.c_str(), r.error.c_str(), r.peak);
      continue;
    }
    char ratio[32] = "-";
    if (lfpi_products > 0 && r.r.products > 0) std::snprintf(ratio, sizeof ratio, "%.1f", (double)lfpi_products / r.r.products);
    PetscPrintf(comm, "| %s | %" PetscInt_FMT " | %" PetscInt_FMT " | %s | %.2f | %.2f | %.2e | %.1e | %.0f |\n", r.name.c_str(),
                r.r.iterations, r.r.products, ratio, r.r.seconds, r.r.setup_seconds,
                (double)(r.r.residual / r.r.rhs_norm), r.grad_diff, r.peak);
  }
  for (const RhoEstimate& r : rhos)
    PetscPrintf(comm, "rho estimate at EPS tol %.0e: %" PetscInt_FMT " products, %.2f s\n", (double)r.tol, r.products, r.seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  int code = 1;
  try {
    code = run(PETSC_COMM_WORLD);
  } catch (const std::exception& e) {
    PetscPrintf(PETSC_COMM_WORLD, "bench error: %s\n", e.what());
  }
  PetscPopErrorHandler();
  SlepcFinalize();
  return code;
}
