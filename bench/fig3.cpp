// bench/fig3: the paper's Figure 3 (Kotary, Dinh, Fioretto 2023, Section 4) on a generated box-QP.
//
// What it measures: unrolled projected gradient descent (foldopt::UnrolledBaseline over PgdMap at
// its fixed default stepsize α = 1/‖H‖∞) for K steps from x₀ = x* and from a uniform random x₀ in
// [−1, 1), with per iteration k = 0..K
//   forward error   ‖x_k − x*‖₂ / ‖x*‖₂,
//   backward error  ‖∂L/∂θ of k unrolled steps − folded ∂L/∂θ‖₂ / ‖folded ∂L/∂θ‖₂
//                   (θ = (q, lb, ub); the folded gradient solved by GMRES to 1e-14),
// and, on the same instance, the relative residual ‖r_k‖/‖g‖ of LFPI (richardson) and GMRES on
// (I − Φᵀ) w = g. ρ(Φ) = max |1 − αλ| over the extreme eigenvalues λ of H_FF (SLEPc), and the
// least-squares slopes of log(error) are printed against log ρ (Theorem 1), over the whole tail and
// over the last third of the iterations (the rate is asymptotic: clustered eigenvalues of H_FF
// below λmin make the early tail decay a few percent faster).
// The random start's history costs K(K+1)/2 reverse steps (O(K²)); from x* it is one pass.
//
// Writes <output_dir>/fig3_errors.csv and fig3_residuals.csv ('#' lines carry the instance and
// the slopes); bench/plot_fig3.py draws fig3_unrolled_pgd.png from them (bench/run_fig3.sh).
//
// Run:   ./bench/fig3 -n 900 -steps 300 -output_dir ../bench/results
#include <foldopt/foldopt.hpp>
#include <foldopt/unrolled.hpp>

#include <slepcsys.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using namespace foldopt;

double now() {
  PetscLogDouble t;
  PetscTime(&t);
  return t;
}

// Least-squares slope of log(e_k) over k ≥ kmin with lo < e_k < hi; NaN with fewer than 5 points.
double tail_slope(const std::vector<double>& e, PetscInt kmin, double lo, double hi, int* npts = nullptr) {
  double sk = 0, sl = 0, skk = 0, skl = 0;
  int m = 0;
  for (std::size_t k = (std::size_t)std::max<PetscInt>(kmin, 0); k < e.size(); ++k)
    if (e[k] > lo && e[k] < hi) {
      const double l = std::log(e[k]);
      sk += k, sl += l, skk += (double)k * k, skl += k * l;
      ++m;
    }
  if (npts) *npts = m;
  if (m < 5) return NAN;
  return (m * skl - sk * sl) / (m * skk - sk * sk);
}

std::vector<double> residual_history(KSP ksp, PetscReal gnorm) {
  const PetscReal* h = nullptr;
  PetscInt nh = 0;
  KSPGetResidualHistory(ksp, &h, &nh);
  std::vector<double> out;
  for (PetscInt i = 0; i < nh; ++i) out.push_back(h[i] / gnorm);
  return out;
}

int run(MPI_Comm comm) {
  BoxQPGenerator gen;
  gen.n = 900;
  gen.shift = 0.1;
  PetscInt steps = 300, seed = 1, start_seed = 1;
  char outdir[PETSC_MAX_PATH_LEN] = "bench/results";
  char pattern[32] = "random";
  PetscOptionsBegin(comm, nullptr, "Figure 3 benchmark", "bench");
  PetscOptionsInt("-n", "unknowns (2-D grid of ceil(sqrt(n)) columns)", "", gen.n, &gen.n, nullptr);
  PetscOptionsReal("-shift", "H = Laplacian + shift I", "", gen.shift, &gen.shift, nullptr);
  PetscOptionsInt("-seed", "instance seed", "", seed, &seed, nullptr);
  PetscOptionsString("-active_pattern", "random or block", "", pattern, pattern, sizeof pattern, nullptr);
  PetscOptionsInt("-steps", "unrolled steps K", "", steps, &steps, nullptr);
  PetscOptionsInt("-start_seed", "seed of the random start", "", start_seed, &start_seed, nullptr);
  PetscOptionsString("-output_dir", "directory of the CSV files", "", outdir, outdir, sizeof outdir, nullptr);
  PetscOptionsEnd();
  gen.seed = (unsigned long)seed;
  gen.pattern = pattern;
  int size, rank;
  MPI_Comm_size(comm, &size);
  MPI_Comm_rank(comm, &rank);

  std::unique_ptr<BoxQP> qp = BoxQP::generate(comm, gen);
  PgdMap map(*qp);  // fixed default stepsize 1/‖H‖∞
  Vec xstar = qp->known_solution();
  const ParamSet& theta = qp->params();
  OwnedVec g = qp->create_vec(), w = qp->create_vec();
  fill_random(g, 7);
  PetscReal gnorm;
  VecNorm(g, NORM_2, &gnorm);
  map.linearize(xstar, theta);
  const double alpha = map.stepsize();

  // ρ(Φ) = max |1 − αλ| over λ(H_FF), and SLEPc's ρ of the Φᵀ shell for comparison.
  OwnedMat hff = map.stepsize_operator();
  ExtremeEigenvalues ev = extreme_eigenvalues(hff, "fold_stepsize_");
  const double rho = std::max(std::abs(1 - alpha * ev.lmin), std::abs(1 - alpha * ev.lmax));
  AdjointSolver probe(comm);
  probe.set_map(map);
  RhoEstimate est = estimate_rho(probe.phi_t_shell(), "fold_rho_");

  // The folded gradient (reference of the backward errors).
  AdjointSolver ref(comm);
  ref.set_map(map);
  ref.set_tolerances(1e-14, 1e-50, 100000);
  ref.set_from_options();
  VecZeroEntries(w);
  ref.solve(g, w);
  ParamSet folded = map.create_params();
  map.psi_t(w, folded);

  PetscPrintf(comm, "fig3: qp_box n = %" PetscInt_FMT " (pattern %s, shift %g, seed %" PetscInt_FMT "), %d rank(s); %" PetscInt_FMT
                    " of %" PetscInt_FMT " entries free at x*\n",
              gen.n, pattern, (double)gen.shift, seed, size, map.free_count(), gen.n);
  PetscPrintf(comm, "  PGD stepsize alpha = %.6g (fixed, 1/||H||_inf); H_FF eigenvalues [%.6g, %.6g]\n", alpha, (double)ev.lmin,
              (double)ev.lmax);
  PetscPrintf(comm, "  rho(Phi) = max|1 - alpha lambda| = %.8f (log rho = %.5f); SLEPc estimate %.8f +- %.1e\n", rho,
              std::log(rho), (double)est.rho, (double)est.error);
  PetscPrintf(comm, "  folded gradient: %s, %" PetscInt_FMT " iterations, relative residual %.2e\n", ref.report().method.c_str(),
              ref.report().iterations, (double)(ref.report().residual / ref.report().rhs_norm));

  // Unrolled PGD from x* and from a random start, with the backward error of every k.
  UnrolledBaseline from_star(comm), from_rand(comm);
  for (UnrolledBaseline* u : {&from_star, &from_rand}) {
    u->set_steps(steps);
    u->set_history(true);
    u->set_from_options();  // -fold_unrolled_max_memory etc.
  }
  from_star.set_start(UnrolledStart::solution);
  from_rand.set_start(UnrolledStart::random);
  from_rand.set_seed((unsigned long)start_seed);
  const UnrolledResult& rs = from_star.run(map, theta, g, xstar, &folded);
  const UnrolledResult& rr = from_rand.run(map, theta, g, xstar, &folded);
  for (const UnrolledBaseline* u : {&from_star, &from_rand}) u->view(PETSC_VIEWER_STDOUT_(comm));

  // When the random start's iterates have identified the active set of x* for good.
  const PetscInt K = steps;
  PetscInt identified = 0;
  {
    OwnedVec mstar;
    VecDuplicate(map.free_mask(), mstar.out());
    VecCopy(map.free_mask(), mstar);
    OwnedVec x = qp->create_vec(), xn = qp->create_vec();
    fill_random(x, (unsigned long)start_seed);
    for (PetscInt k = 0; k < K; ++k) {
      map.linearize(x, theta);
      PetscBool same;
      VecEqual(map.free_mask(), mstar, &same);
      if (!same) identified = k + 1;
      map.apply(x, theta, xn);
      VecCopy(xn, x);
    }
    map.linearize(xstar, theta);
  }

  // LFPI and GMRES on the same adjoint system, with residual histories.
  std::vector<double> hist_lfpi, hist_gmres;
  PetscInt its_lfpi = 0, its_gmres = 0;
  for (int which = 0; which < 2; ++which) {
    AdjointSolver adj(comm);
    adj.set_map(map);
    adj.set_tolerances(1e-13, 1e-50, 10 * K);
    adj.set_from_options();
    KSP ksp = adj.ksp();
    if (which == 0) {
      KSPSetType(ksp, KSPRICHARDSON);
      KSPRichardsonSetScale(ksp, 1.0);
    }
    KSPSetResidualHistory(ksp, nullptr, 10 * K + 1, PETSC_TRUE);
    VecZeroEntries(w);
    try {
      adj.solve(g, w);
    } catch (const Error& e) {
      PetscPrintf(comm, "  %s: %s\n", which ? "gmres" : "lfpi", e.what());
    }
    (which ? hist_gmres : hist_lfpi) = residual_history(ksp, gnorm);
    (which ? its_gmres : its_lfpi) = adj.report().iterations;
    PetscPrintf(comm, "  %s: %" PetscInt_FMT " iterations to relative residual %.2e\n", adj.report().method.c_str(),
                adj.report().iterations, (double)(adj.report().residual / adj.report().rhs_norm));
  }

  // Relative errors and slopes.
  std::vector<double> fs(K + 1), bs(K + 1), fr(K + 1), br(K + 1);
  for (PetscInt k = 0; k <= K; ++k) {
    fs[k] = rs.forward_error[k] / rs.xstar_norm;
    bs[k] = rs.backward_error_history[k];
    fr[k] = rr.forward_error[k] / rr.xstar_norm;
    br[k] = rr.backward_error_history[k];
  }
  // Two fits per curve: the whole tail (after identification, errors in (1e-12, 1e-3)) and the last
  // third of the iterations (the asymptotic regime of Theorem 1; above the 1e-13 floor).
  struct Fit {
    const char* name;
    const std::vector<double>* e;
    PetscInt kmin;
    double tail = NAN, last = NAN;
    int ntail = 0, nlast = 0;
  };
  Fit fits[] = {{"backward from x*", &bs, 1}, {"backward from random", &br, identified},
                {"forward from random", &fr, identified}, {"LFPI residual", &hist_lfpi, 1}};
  PetscPrintf(comm, "  random start: active set identified after k = %" PetscInt_FMT " steps\n", identified);
  PetscPrintf(comm, "  slopes of log(error) per iteration, log rho = %.5f (difference to log rho):\n", std::log(rho));
  for (Fit& f : fits) {
    const PetscInt len = (PetscInt)f.e->size();
    f.tail = tail_slope(*f.e, f.kmin, 1e-12, 1e-3, &f.ntail);
    f.last = tail_slope(*f.e, std::max(f.kmin, len - 1 - (len - 1) / 3), 1e-13, 1e-3, &f.nlast);
    PetscPrintf(comm, "    %-21s tail %.5f (%3d points, %+.1f%%)   last third %.5f (k >= %" PetscInt_FMT ", %+.1f%%)\n", f.name,
                f.tail, f.ntail, 100 * (f.tail / std::log(rho) - 1), f.last, std::max(f.kmin, len - 1 - (len - 1) / 3),
                100 * (f.last / std::log(rho) - 1));
  }
  double fs_max = 0;
  for (double v : fs) fs_max = std::max(fs_max, v);
  PetscPrintf(comm, "  forward error from x*: max over k %.2e; final backward errors: from x* %.2e, from random %.2e\n", fs_max,
              bs[K], br[K]);

  if (rank == 0) {
    const std::string dir = outdir;
    const std::string meta = [&] {
      char b[1024];
      std::snprintf(b, sizeof b,
                    "# n=%d alpha=%.8g rho=%.10g rho_slepc=%.10g lmin=%.8g lmax=%.8g K=%d identified=%d shift=%g pattern=%s "
                    "seed=%d start_seed=%d\n# slope_bwd_xstar=%.6f slope_bwd_random=%.6f slope_fwd_random=%.6f "
                    "slope_lfpi=%.6f last_bwd_xstar=%.6f last_bwd_random=%.6f last_fwd_random=%.6f last_lfpi=%.6f "
                    "log_rho=%.6f lfpi_its=%d gmres_its=%d\n",
                    (int)gen.n, alpha, rho, (double)est.rho, (double)ev.lmin, (double)ev.lmax, (int)K, (int)identified,
                    (double)gen.shift, pattern, (int)seed, (int)start_seed, fits[0].tail, fits[1].tail, fits[2].tail,
                    fits[3].tail, fits[0].last, fits[1].last, fits[2].last, fits[3].last, std::log(rho),
                    (int)its_lfpi, (int)its_gmres);
      return std::string(b);
    }();
    const std::string f1 = dir + "/fig3_errors.csv", f2 = dir + "/fig3_residuals.csv";
    FILE* f = std::fopen(f1.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "fig3: cannot write %s\n", f1.c_str());
      return 1;
    }
    std::fputs(meta.c_str(), f);
    std::fprintf(f, "k,forward_error_from_xstar,backward_error_from_xstar,forward_error_from_random,backward_error_from_random\n");
    for (PetscInt k = 0; k <= K; ++k) std::fprintf(f, "%d,%.6e,%.6e,%.6e,%.6e\n", (int)k, fs[k], bs[k], fr[k], br[k]);
    std::fclose(f);
    f = std::fopen(f2.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "fig3: cannot write %s\n", f2.c_str());
      return 1;
    }
    std::fputs(meta.c_str(), f);
    std::fprintf(f, "k,lfpi_relative_residual,gmres_relative_residual\n");
    const std::size_t rows = std::max(hist_lfpi.size(), hist_gmres.size());
    for (std::size_t k = 0; k < rows; ++k) {
      std::fprintf(f, "%d,", (int)k);
      if (k < hist_lfpi.size()) std::fprintf(f, "%.6e", hist_lfpi[k]);
      std::fputc(',', f);
      if (k < hist_gmres.size()) std::fprintf(f, "%.6e", hist_gmres[k]);
      std::fputc('\n', f);
    }
    std::fclose(f);
    std::printf("  wrote %s and %s\n", f1.c_str(), f2.c_str());
  }
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
  MPI_Bcast(&code, 1, MPI_INT, 0, PETSC_COMM_WORLD);
  PetscPopErrorHandler();
  SlepcFinalize();
  return code;
}
