// bench/spectral: the cost of the spectral work against the preconditioned backward it serves, and
// the paper's stepsize observation (ρ(Φ) and LFPI / GMRES iterations against α).
//
// Method: (a) a generated box-QP (2-D Laplacian + shift, active pattern `block`, as
//   bench/adjoint_methods), linearized at its exact solution x* by the PGD map. Timed phases (log
//   stage, wall time, own memory peak; bench_util.hpp), each from scratch (the free-set Hessian
//   S = H_FF extracted in each): stepsize lmax (K Lanczos steps on S, α = 1/λmax, the default
//   automatic rule), stepsize optimal (two SLEPc solves, α = 2/(λmin + λmax)), ρ lanczos (K'
//   Lanczos steps on S at α_lmax), ρ eps (SLEPc Krylov–Schur on Φᵀ, the default ncv 16 and ncv 10),
//   and the backward they serve:
//   GMRES + BoomerAMG on I − Φᵀ at α_lmax, with Ψᵀ w (the PC set-up included). Products with S
//   are counted by a shell around it, Φᵀ products by the adjoint solver. Each spectral phase is
//   stated as a fraction of the backward (target ≤ 25 %).
//   (b) on a moderate instance (n = 2500): α = c/λmax for c in (0, 2): ρ(Φ) = max |1 − αλ| from
//   λmin, λmax of S (SLEPc, tight), the Lanczos ρ range, and the iterations of LFPI (richardson,
//   no PC) and GMRES(30) to rtol 1e-8 (LFPI capped at -sweep_max_it).
// Writes <output_dir>/spectral_cost_n<N>_np<P>.csv and spectral_sweep_n<M>_np<P>.csv.
//
// Run:   mpiexec -n 2 build/bench/spectral [-n 1000000] [-shift 7e-4] [-sweep_n 2500] [-quick]
//        [-output_dir bench/results]; plot: python3 bench/plot_spectral.py bench/results
#include "bench_util.hpp"

#include <foldopt/foldopt.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace {

using namespace foldopt;

const char help[] =
    "Spectral work (stepsize rules, rho estimates) against the preconditioned backward; rho and iterations against alpha.\n"
    "  -n N              unknowns of the cost instance (default 1e6; -quick: 1e4)\n"
    "  -shift S          H = Laplacian + S I (default 7e-4)\n"
    "  -lanczos_steps K  Lanczos steps of the lmax stepsize (default 20)\n"
    "  -rho_steps K      Lanczos steps of the rho estimate (default 40)\n"
    "  -sweep_n M        unknowns of the stepsize sweep (default 2500; -quick: 400; 0: no sweep)\n"
    "  -sweep_shift S    its shift (default 1e-2)\n"
    "  -sweep_max_it I   LFPI iteration cap in the sweep (default 20000)\n"
    "  -output_dir D     where the CSV files go (default bench/results)\n";

/// A shell around a matrix that counts its products.
struct Counted {
  Mat inner = nullptr;
  PetscInt products = 0;
};
PetscErrorCode counted_mult(Mat A, Vec x, Vec y) {
  Counted* c;
  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(A, &c));
  ++c->products;
  PetscCall(MatMult(c->inner, x, y));
  PetscFunctionReturn(0);
}
PetscErrorCode counted_norm(Mat A, NormType t, PetscReal* v) {
  Counted* c;
  PetscFunctionBeginUser;
  PetscCall(MatShellGetContext(A, &c));
  PetscCall(MatNorm(c->inner, t, v));
  PetscFunctionReturn(0);
}
OwnedMat counting_shell(Mat S, Counted* c) {
  c->inner = S;
  c->products = 0;
  PetscInt m, n, M, N;
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)S, &comm));
  FOLDOPT_CALL(MatGetLocalSize(S, &m, &n));
  FOLDOPT_CALL(MatGetSize(S, &M, &N));
  OwnedMat shell;
  FOLDOPT_CALL(MatCreateShell(comm, m, n, M, N, c, shell.out()));
  FOLDOPT_CALL(MatShellSetOperation(shell, MATOP_MULT, (void (*)(void))counted_mult));
  FOLDOPT_CALL(MatShellSetOperation(shell, MATOP_NORM, (void (*)(void))counted_norm));  // EPS's norm test
  FOLDOPT_CALL(MatSetOption(shell, MAT_SYMMETRIC, PETSC_TRUE));
  return shell;
}

struct Measured {
  std::string name;
  double seconds = 0, peak_mib = 0, value = 0, error = 0;
  PetscInt products = 0;
};

std::unique_ptr<BoxQP> instance(MPI_Comm comm, PetscInt n, PetscReal shift) {
  BoxQPGenerator gen;
  gen.n = n;
  gen.shift = shift;
  gen.pattern = "block";
  gen.seed = 1;
  return BoxQP::generate(comm, gen);
}

/// Adjoint solve (I − Φᵀ) w = g with the options under `prefix` (set by the caller, once), then
/// Ψᵀ w; the solver's report.
AdjointReport backward(MPI_Comm comm, UpdateMap& map, Vec g, const std::string& prefix, ParamSet* grad) {
  AdjointSolver adj(comm, prefix);
  adj.set_map(map);
  adj.set_from_options();
  OwnedVec w = map.create_vec();
  FOLDOPT_CALL(VecZeroEntries(w));
  adj.solve(g, w);
  if (grad) adj.psi_t(w, *grad);
  return adj.report();
}

int cost(MPI_Comm comm, const bench::Args& args, PetscInt n, PetscReal shift, PetscInt lsteps, PetscInt rsteps,
         int size) {
  std::unique_ptr<BoxQP> qp = instance(comm, n, shift);
  PgdMap map(*qp);
  Vec xstar = qp->known_solution();
  map.linearize(xstar, qp->params());
  OwnedVec g = qp->create_vec();
  fill_random(g, 7);
  std::vector<Measured> rows;
  auto finish = [&](Measured m, bench::Phase& ph) {
    m.seconds = ph.seconds();
    m.peak_mib = bench::mib(ph.memory().peak);
    rows.push_back(m);
  };
  PetscReal alpha_lmax = 0, alpha_opt = 0;
  {
    bench::Phase ph(comm, "stepsize_lmax");
    OwnedMat S = map.stepsize_operator();
    Counted c;
    OwnedMat sh = counting_shell(S, &c);
    const ExtremeEigenvalues e = stepsize_lanczos(sh, lsteps);
    alpha_lmax = lmax_stepsize(e);
    Measured m{"stepsize lmax"};
    m.products = c.products;
    m.value = alpha_lmax;
    m.error = e.err_max;
    finish(m, ph);
  }
  {
    bench::Phase ph(comm, "stepsize_optimal");
    OwnedMat S = map.stepsize_operator();
    Counted c;
    OwnedMat sh = counting_shell(S, &c);
    const ExtremeEigenvalues e = extreme_eigenvalues(sh, "fold_stepsize_");
    alpha_opt = 2.0 / (std::max<PetscReal>(e.lmin, 0) + e.lmax + e.err_max);
    Measured m{"stepsize optimal"};
    m.products = c.products;
    m.value = alpha_opt;
    m.error = e.err_max;
    finish(m, ph);
  }
  map.set_stepsize(alpha_lmax);
  map.linearize(xstar, qp->params());
  {
    bench::Phase ph(comm, "rho_lanczos");
    OwnedMat S = map.stepsize_operator();
    Counted c;
    OwnedMat sh = counting_shell(S, &c);
    const RhoEstimate r = estimate_rho_symmetric(sh, alpha_lmax, rsteps);
    Measured m{"rho lanczos"};
    m.products = c.products;
    m.value = r.rho;
    m.error = r.error;
    finish(m, ph);
  }
  for (const char* pre : {"fold_rho_", "bench_rho_ncv10_"}) {
    bench::Phase ph(comm, std::string(pre) == "fold_rho_" ? "rho_eps" : "rho_eps_ncv10");
    AdjointSolver probe(comm);
    probe.set_map(map);
    const PetscInt p0 = probe.products();
    const RhoEstimate r = estimate_rho(probe.phi_t_shell(), pre);
    Measured m{std::string(pre) == "fold_rho_" ? "rho eps" : "rho eps ncv 10"};
    m.products = probe.products() - p0;
    m.value = r.rho;
    m.error = r.error;
    finish(m, ph);
  }
  PetscInt its = 0;
  {
    bench::Phase ph(comm, "backward_gmres_hypre");
    ParamSet grad = map.create_params();
    const AdjointReport rep = backward(comm, map, g, "bench_amg_", &grad);
    if (!rep.converged) throw std::runtime_error("the backward (GMRES + BoomerAMG) did not converge: " + rep.reason);
    its = rep.iterations;
    Measured m{"backward gmres+hypre"};
    m.products = rep.products;
    m.value = (double)rep.iterations;
    finish(m, ph);
  }
  const double tb = rows.back().seconds;
  bench::Csv csv(comm, args.output_dir, "spectral_cost_n" + std::to_string((long long)n) + "_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: qp_box n " + std::to_string((long long)n) + ", pattern block, shift " + bench::num(shift) +
                      ", free " + std::to_string((long long)map.free_count()) + "; alpha_lmax " + bench::num(alpha_lmax) +
                      ", alpha_opt " + bench::num(alpha_opt) + "; backward " + std::to_string((long long)its) +
                      " GMRES+BoomerAMG iterations at alpha_lmax",
                  "value: alpha (stepsize), rho (rho), iterations (backward); error: residual bound or range half-width; "
                  "products: with S = H_FF (lmax, optimal, rho lanczos) or Phi^T (rho eps, backward)"},
                 {"phase", "seconds", "products", "fraction_of_backward", "value", "error", "peak_MiB"});
  PetscPrintf(comm, "\nspectral work on qp_box n = %" PetscInt_FMT " (free %" PetscInt_FMT ", shift %g, %d rank(s)):\n\n", n,
              map.free_count(), (double)shift, size);
  PetscPrintf(comm, "| phase | seconds | products | / backward | value | +- | peak MiB | target <= 25%% |\n|---|---|---|---|---|---|---|---|\n");
  for (const Measured& m : rows) {
    const double f = m.seconds / tb;
    csv.row({m.name, bench::num(m.seconds), bench::num(m.products), bench::num(f), bench::num(m.value), bench::num(m.error),
             bench::num(m.peak_mib)});
    const bool is_backward = m.name.rfind("backward", 0) == 0;
    PetscPrintf(comm, "| %s | %.4f | %" PetscInt_FMT " | %.1f%% | %.6g | %.1e | %.1f | %s |\n", m.name.c_str(), m.seconds,
                m.products, 100 * f, m.value, m.error, m.peak_mib, is_backward ? "" : (f <= 0.25 ? "met" : "not met"));
  }
  csv.close();
  return 0;
}

int sweep(MPI_Comm comm, const bench::Args& args, PetscInt n, PetscReal shift, PetscInt max_it, int size) {
  std::unique_ptr<BoxQP> qp = instance(comm, n, shift);
  PgdMap map(*qp);
  Vec xstar = qp->known_solution();
  map.linearize(xstar, qp->params());
  OwnedVec g = qp->create_vec();
  fill_random(g, 7);
  OwnedMat S = map.stepsize_operator();
  const ExtremeEigenvalues e = extreme_eigenvalues(S, "bench_sweep_");  // -bench_sweep_eps_tol 1e-10
  const double lmin = e.lmin, lmax = e.lmax;
  bench::Csv csv(comm, args.output_dir, "spectral_sweep_n" + std::to_string((long long)n) + "_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "instance: qp_box n " + std::to_string((long long)n) + ", pattern block, shift " + bench::num(shift) +
                      ", free " + std::to_string((long long)map.free_count()) + ", lambda(H_FF) in [" + bench::num(lmin) + ", " +
                      bench::num(lmax) + "]",
                  "alpha = c / lambda_max; rho = max|1 - alpha lambda|; LFPI (richardson, no PC) and GMRES(30) to rtol 1e-8; "
                  "lfpi_converged 0: capped at " + std::to_string((long long)max_it) + " iterations"},
                 {"c", "alpha", "rho", "rho_lanczos", "rho_lanczos_error", "lfpi_iterations", "lfpi_converged",
                  "gmres_iterations"});
  PetscPrintf(comm, "\nstepsize sweep on qp_box n = %" PetscInt_FMT " (lambda(H_FF) in [%.4g, %.4g], kappa %.1f):\n\n", n, lmin,
              lmax, lmax / lmin);
  PetscPrintf(comm, "| c = alpha lmax | alpha | rho(Phi) | rho lanczos | LFPI its | GMRES its |\n|---|---|---|---|---|---|\n");
  const double cs[] = {0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0, 1.1, 1.2, 1.4, 1.6, 1.8, 1.9, 1.95, 1.99};
  for (double c : cs) {
    const double alpha = c / lmax;
    map.set_stepsize(alpha);
    map.linearize(xstar, qp->params());
    const double rho = std::max(std::abs(1 - alpha * lmin), std::abs(1 - alpha * lmax));
    OwnedMat Sa = map.stepsize_operator();
    const RhoEstimate rl = estimate_rho_symmetric(Sa, alpha, 40);
    AdjointReport lf, gm;
    try {
      lf = backward(comm, map, g, "bench_lfpi_", nullptr);
    } catch (const Error&) {  // not converged within the cap
      lf.converged = false;
      lf.iterations = max_it;
    }
    gm = backward(comm, map, g, "bench_gmres_", nullptr);
    csv.row({bench::num(c), bench::num(alpha), bench::num(rho), bench::num(rl.rho), bench::num(rl.error),
             bench::num(lf.iterations), lf.converged ? "1" : "0", bench::num(gm.iterations)});
    PetscPrintf(comm, "| %.2f | %.5g | %.6f | %.6f +- %.1e | %s%" PetscInt_FMT " | %" PetscInt_FMT " |\n", c, alpha, rho, rl.rho,
                rl.error, lf.converged ? "" : ">", lf.iterations, gm.iterations);
  }
  csv.close();
  return 0;
}

int body(MPI_Comm comm, const bench::Args& args) {
  PetscInt n = args.quick ? 10000 : 1000000, sweep_n = args.quick ? 400 : 2500, lsteps = 20, rsteps = 40, max_it = 20000;
  PetscReal shift = 7e-4, sweep_shift = 1e-2;
  PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr);
  PetscOptionsGetReal(nullptr, nullptr, "-shift", &shift, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-lanczos_steps", &lsteps, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-rho_steps", &rsteps, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-sweep_n", &sweep_n, nullptr);
  PetscOptionsGetReal(nullptr, nullptr, "-sweep_shift", &sweep_shift, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-sweep_max_it", &max_it, nullptr);
  if (n < 9 || sweep_n < 0 || lsteps < 1 || rsteps < 1 || max_it < 1 || !(shift > 0) || !(sweep_shift > 0))
    throw std::invalid_argument("-n >= 9, -sweep_n >= 0, positive steps, -sweep_max_it and shifts");
  int size = 1;
  MPI_Comm_size(comm, &size);
  // Each phase reads its own options prefix (the command line's -fold_* options stay those of the
  // stepsize and rho phases: e.g. -fold_rho_eps_ncv, -fold_stepsize_eps_tol).
  const std::string fixed = "-bench_amg_ksp_type gmres -bench_amg_pc_type hypre -bench_rho_ncv10_eps_ncv 10 "
                            "-bench_sweep_eps_tol 1e-10 -bench_lfpi_ksp_type richardson -bench_lfpi_pc_type none "
                            "-bench_lfpi_ksp_rtol 1e-8 -bench_gmres_ksp_type gmres -bench_gmres_pc_type none "
                            "-bench_gmres_ksp_rtol 1e-8 -bench_gmres_ksp_max_it 100000 -bench_lfpi_ksp_max_it " +
                            std::to_string((long long)max_it);
  PetscOptionsInsertString(nullptr, fixed.c_str());
  if (cost(comm, args, n, shift, lsteps, rsteps, size)) return 1;
  if (sweep_n > 0 && sweep(comm, args, sweep_n, sweep_shift, max_it, size)) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
