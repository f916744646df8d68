// bench/scaling: cost and memory of the folded layer against n, for the box-QP (2-D grid) and
// 1-D total variation, at the rank count of the run.
//
// Method: for each problem and each n of the sweep, one cold run as the CLI makes it: the
//   problem generated (phase "problem"), the forward by TAO tron (phase "forward"), the backward
//   by GMRES preconditioned with BoomerAMG on the assembled I − Φᵀ (phase "backward"; its PC
//   set-up, assembling I − Φᵀ and the hierarchy, from the adjoint's report). Each phase is a
//   PETSc log stage with its wall time (max over ranks) and its own peak resident memory
//   (foldopt::memory, summed over ranks; the layer's own meters nest inside the bench's). The
//   forward's work objects are freed before the backward (-fold_release_forward).
// Algorithm: the cost growth is the least-squares slope of log(seconds) against log(n) over the
//   sizes n ≥ 10⁴ (below that, fixed costs dominate); n log n has the local slope
//   1 + log(log n₂ / log n₁) / log(n₂ / n₁) over [n₁, n₂], which the table states beside it.
// References: issue 10 §2–3 (the sweep and its targets); bench_util.hpp (phases, CSV).
// Writes <output_dir>/scaling_<problems>_np<P>.csv: one row per (problem, n). Memory freed by a run
//   stays resident in the process (malloc keeps it for reuse), so bench/suite/scaling.sh runs each
//   problem in a process of its own, sizes ascending, at 1 and 2 ranks; bench/plot_scaling.py
//   plots them and states the np 2 / np 1 ratio at the largest n.
//
// Run:   mpiexec -n 2 build/bench/scaling [-sizes 1000,10000,...] [-problems qp_box,tv] [-quick]
#include "bench_util.hpp"

#include <foldopt/layer.hpp>
#include <foldopt/problems/qp_box.hpp>
#include <foldopt/problems/tv.hpp>

#include <cmath>

namespace {

using namespace foldopt;

const char help[] = "Cost and memory of forward and backward against n (box-QP on a 2-D grid, 1-D TV).\n"
                    "  -sizes N1,N2,...   sizes (default 1e3..1e7 by decades; -quick: 1e3..1e5)\n"
                    "  -problems LIST     qp_box,tv (default both)\n"
                    "  -output_dir D      where scaling_<problems>_np<P>.csv goes (default bench/results)\n"
                    "  -fold_* options    the layer's (defaults here: -fold_pc_type hypre -fold_fwd_type tao\n"
                    "                     -fold_release_forward)\n";

struct Row {
  std::string problem;
  PetscInt n = 0;
  double t_problem = 0, t_forward = 0, t_backward = 0, t_setup = 0;
  PetscInt fwd_iterations = 0, ksp_iterations = 0;
  memory::Phase m_problem, m_forward, m_backward;
};

std::unique_ptr<Problem> make(MPI_Comm comm, const std::string& name, PetscInt n) {
  if (name == "qp_box") {
    BoxQPGenerator g;
    g.n = n;
    return BoxQP::generate(comm, g);
  }
  TvGenerator g;
  g.n = n;
  return TvProblem::generate(comm, g);
}

Row run_one(MPI_Comm comm, const std::string& name, PetscInt n) {
  Row r;
  r.problem = name;
  r.n = n;
  std::unique_ptr<Problem> p;
  OwnedVec g;
  {
    bench::Phase ph(comm, "problem");
    p = make(comm, name, n);
    const Layout& l = p->solution_layout();  // dL/dx*: TV's readout x, the box-QP's x
    FOLDOPT_CALL(VecCreateMPI(comm, l.local, l.global(), g.out()));
    fill_random(g, 7);
    r.t_problem = ph.seconds();
    r.m_problem = ph.memory();
  }
  FoldedLayer layer(*p);
  layer.set_from_options();
  {
    bench::Phase ph(comm, "forward");
    layer.forward(p->params());
    r.t_forward = ph.seconds();
    r.m_forward = ph.memory();
  }
  {
    bench::Phase ph(comm, "backward");
    layer.backward(g);
    r.t_backward = ph.seconds();
    r.m_backward = ph.memory();
  }
  r.fwd_iterations = layer.forward_report().iterations;
  r.ksp_iterations = layer.adjoint().report().iterations;
  r.t_setup = layer.adjoint().report().setup_seconds;
  return r;
}

/// Least-squares slope of log y against log x.
double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t m = x.size();
  if (m < 2) return NAN;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const double a = std::log(x[i]), b = std::log(std::max(y[i], 1e-9));
    sx += a, sy += b, sxx += a * a, sxy += a * b;
  }
  return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void set_default(const char* name, const char* value) {
  PetscBool set = PETSC_FALSE;
  PetscOptionsHasName(nullptr, nullptr, name, &set);
  if (!set) PetscOptionsSetValue(nullptr, name, value);
}

int body(MPI_Comm comm, const bench::Args& args) {
  char sizes_s[1024] = "", problems_s[256] = "qp_box,tv";
  PetscBool set = PETSC_FALSE;
  PetscOptionsGetString(nullptr, nullptr, "-sizes", sizes_s, sizeof sizes_s, &set);
  if (!set) std::snprintf(sizes_s, sizeof sizes_s, "%s", args.quick ? "1000,10000,100000" : "1000,10000,100000,1000000,10000000");
  PetscOptionsGetString(nullptr, nullptr, "-problems", problems_s, sizeof problems_s, nullptr);
  std::vector<PetscInt> sizes;
  for (const std::string& s : split(sizes_s)) {
    const double v = std::atof(s.c_str());
    if (!(v >= 10 && v <= 2e9)) throw std::invalid_argument("-sizes: '" + s + "' is not a size in [10, 2e9]");
    sizes.push_back(static_cast<PetscInt>(v));
  }
  const std::vector<std::string> problems = split(problems_s);
  for (const std::string& p : problems)
    if (p != "qp_box" && p != "tv") throw std::invalid_argument("-problems: unknown '" + p + "' (qp_box, tv)");
  set_default("-fold_pc_type", "hypre");
  set_default("-fold_fwd_type", "tao");
  set_default("-fold_release_forward", "true");
  int size = 1;
  MPI_Comm_size(comm, &size);

  std::vector<Row> rows;
  for (const std::string& p : problems)
    for (PetscInt n : sizes) rows.push_back(run_one(comm, p, n));

  std::vector<std::string> comments = {"command: " + args.command, "machine: " + bench::machine(comm),
                                       "instances: qp_box generated (H = 2-D Laplacian + 0.1 I on a ceil(sqrt(n)) grid, "
                                       "random active set, seed 1); tv generated 1-D signal (lambda 0.2, seed 1)",
                                       "forward TAO tron; backward GMRES + BoomerAMG on the assembled I - Phi^T (rtol 1e-10); "
                                       "memory: own peak of each phase, resident, summed over ranks"};
  const double mib = 1.0 / 1048576.0;
  PetscPrintf(comm, "| problem | n | ranks | forward s (iters) | backward s (PC set-up s, iters) | peak MiB problem / forward / backward |\n"
                    "|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    PetscPrintf(comm, "| %s | %" PetscInt_FMT " | %d | %.3f (%" PetscInt_FMT ") | %.3f (%.3f, %" PetscInt_FMT ") | %.1f / %.1f / %.1f |\n",
                r.problem.c_str(), r.n, size, r.t_forward, r.fwd_iterations, r.t_backward, r.t_setup, r.ksp_iterations,
                r.m_problem.peak * mib, r.m_forward.peak * mib, r.m_backward.peak * mib);
  // Exponents of cost growth over n ≥ 10⁴, against n log n over the same range.
  PetscPrintf(comm, "\n| problem | fit range | forward exponent | backward exponent | PC set-up exponent | n log n |\n|---|---|---|---|---|---|\n");
  for (const std::string& p : problems) {
    std::vector<double> x, tf, tb, ts;
    for (const Row& r : rows)
      if (r.problem == p && r.n >= 10000) x.push_back((double)r.n), tf.push_back(r.t_forward), tb.push_back(r.t_backward),
                                            ts.push_back(r.t_setup);
    if (x.size() < 2) continue;
    const double n1 = x.front(), n2 = x.back();
    const double nlogn = 1 + std::log(std::log(n2) / std::log(n1)) / std::log(n2 / n1);
    char line[512];
    std::snprintf(line, sizeof line, "%s: n %.0f..%.0f: exponent forward %.3f, backward %.3f, pc set-up %.3f; n log n %.3f", p.c_str(),
                  n1, n2, loglog_slope(x, tf), loglog_slope(x, tb), loglog_slope(x, ts), nlogn);
    comments.push_back(line);
    PetscPrintf(comm, "| %s | %.0e..%.0e | %.3f | %.3f | %.3f | %.3f |\n", p.c_str(), n1, n2, loglog_slope(x, tf),
                loglog_slope(x, tb), loglog_slope(x, ts), nlogn);
  }
  std::string tag;
  for (const std::string& p : problems) tag += p + "_";
  bench::Csv csv(comm, args.output_dir, "scaling_" + tag + "np" + std::to_string(size) + ".csv", comments,
                 {"problem", "n", "ranks", "problem_s", "forward_s", "forward_iterations", "backward_s", "pc_setup_s",
                  "ksp_iterations", "problem_peak_MiB", "forward_peak_MiB", "backward_peak_MiB", "run_peak_MiB"});
  for (const Row& r : rows) {
    const double run_peak = std::max({r.m_problem.peak, r.m_forward.peak, r.m_backward.peak});
    csv.row({r.problem, bench::num(r.n), bench::num((PetscInt)size), bench::num(r.t_problem), bench::num(r.t_forward),
             bench::num(r.fwd_iterations), bench::num(r.t_backward), bench::num(r.t_setup), bench::num(r.ksp_iterations),
             bench::num(r.m_problem.peak * mib), bench::num(r.m_forward.peak * mib), bench::num(r.m_backward.peak * mib),
             bench::num(run_peak * mib)});
  }
  csv.close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
