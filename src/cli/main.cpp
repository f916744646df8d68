// foldopt: the command-line program (the main job).
//
//   foldopt -problem NAME [the problem's options: -n N -seed S, or its input files]
//           [-dLdx g.mtx] [-x_out x.mtx] [-grad_out out/g.mtx] [-problem_out out/p.mtx] [-fold_* options]
//
// Builds or reads the problem (any registered one: the program knows none by name), solves
// forward, checks the fixed point, estimates ρ(Φ), solves the adjoint, writes x* and ∂L/∂θ (one
// file per parameter block, each as what it is: an n×B array for a batch, a 1×1 array for a
// scalar, a matrix with its pattern for matrix values), and prints a short report. Every error
// ends the run with one line and a nonzero exit code, and no output file is written.
#include <foldopt/foldopt.hpp>

#include "core/options.hpp"
#include "core/util.hpp"

#include <slepcsys.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

static const char help_tail[] =
    "  -dLdx FILE        upstream gradient dL/dx* (default: random, seeded by -loss_seed)\n"
    "  -x_out FILE       write x*\n"
    "  -grad_out FILE    write dL/dtheta, one file per parameter block: DIR/g.mtx -> DIR/g.<block>.mtx\n"
    "  -problem_out FILE write the problem solved: DIR/p.mtx -> DIR/p.<matrix>.mtx (its data matrices, e.g. H),\n"
    "                    DIR/p.<block>.mtx (each parameter block) and DIR/p.dLdx.mtx (the dL/dx* used)\n"
    "Files: .mtx is MatrixMarket, anything else PETSc binary. See -help for every -fold_ option.\n\n";

namespace {

using namespace foldopt;

struct CliOptions {
  char problem[256] = "qp_box";  // the default problem
  char dldx[PETSC_MAX_PATH_LEN] = "";
  char x_out[PETSC_MAX_PATH_LEN] = "";
  char grad_out[PETSC_MAX_PATH_LEN] = "";
  char problem_out[PETSC_MAX_PATH_LEN] = "";
  PetscInt loss_seed = 7;
  PetscInt warm_steps = 3;
  PetscReal warm_delta = 1e-3;
};

PetscErrorCode read_cli_options(MPI_Comm comm, CliOptions* o) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "foldopt executable", "foldopt");
  const std::string problems = "Problem to solve (" + problem_registry().list() + ")";
  PetscCall(PetscOptionsString("-problem", problems.c_str(), "problem_registry", o->problem, o->problem,
                               sizeof o->problem, nullptr));
  PetscCall(PetscOptionsString("-dLdx", "Upstream gradient dL/dx* (file)", "", o->dldx, o->dldx, sizeof o->dldx, nullptr));
  PetscCall(PetscOptionsInt("-loss_seed", "Seed of the random dL/dx* used when -dLdx is not given", "", o->loss_seed,
                            &o->loss_seed, nullptr));
  PetscCall(PetscOptionsInt("-warm_start_steps", "Report forward iterations with and without warm starts on this many nearby theta (0: off; at most 1000)",
                            "warm_start_study", o->warm_steps, &o->warm_steps, nullptr));
  PetscCall(PetscOptionsReal("-warm_start_delta", "Distance between the nearby theta of the warm-start report", "warm_start_study",
                             o->warm_delta, &o->warm_delta, nullptr));
  PetscCall(PetscOptionsString("-x_out", "Write x* to this file", "", o->x_out, o->x_out, sizeof o->x_out, nullptr));
  PetscCall(PetscOptionsString("-grad_out", "Write dL/dtheta: one file per block, DIR/g.<block>.mtx", "", o->grad_out,
                               o->grad_out, sizeof o->grad_out, nullptr));
  PetscCall(PetscOptionsString("-problem_out", "Write the problem solved: DIR/p.H.mtx, DIR/p.<block>.mtx, DIR/p.dLdx.mtx", "",
                               o->problem_out, o->problem_out, sizeof o->problem_out, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/// The largest -warm_start_steps: each step is a pair of forward solves.
constexpr long long max_warm_steps = 1000;

/// Values checked before PETSc reads them (src/core/options.hpp): present, complete, in range.
void check_cli_options() {
  for (const char* f : {"problem", "dLdx", "x_out", "grad_out", "problem_out"}) options::check_string(nullptr, f);
  options::check_int(nullptr, "loss_seed", 0, PETSC_MAX_INT);
  options::check_int(nullptr, "warm_start_steps", 0, max_warm_steps);
  options::check_real(nullptr, "warm_start_delta", 0, 1e300, true);
}

/// PETSc skips command-line words that are neither an option nor its value: `foldopt foo` or
/// `-n 100 200` would run as if they were not there. (A word is an option by options::is_key; the
/// word after it, unless an option itself, is its value.)
void check_no_stray_arguments(int argc, char** argv) {
  bool value_ok = false;
  for (int i = 1; i < argc; ++i) {
    const bool key = options::is_key(argv[i]);
    FOLDOPT_CHECK(key || value_ok, PETSC_ERR_ARG_WRONG,
                  "unexpected argument '%s' (not an option, nor the value of one: options are -name [value])", argv[i]);
    value_ok = key;
  }
}

/// Options given but never read. `deferred` lists name prefixes read only later in the run (the
/// objects' deferred_option_prefixes: SLEPc estimates, factorizations): judged at the final check.
std::vector<std::string> unused_options(const std::vector<std::string>& deferred) {
  PetscInt n = 0;
  char **names = nullptr, **values = nullptr;
  FOLDOPT_CALL(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  std::vector<std::string> out;
  for (PetscInt i = 0; i < n; ++i) {
    const std::string name = names[i];
    bool later = false;
    for (const auto& d : deferred) later = later || name.compare(0, d.size(), d) == 0;
    if (!later) out.push_back("-" + name + (values[i] ? std::string(" ") + values[i] : std::string()));
  }
  FOLDOPT_CALL(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
  return out;
}

/// -x_out and -grad_out must name a file: `DIR/` would write hidden files `DIR/.q`, ... (the same
/// options on every rank, so the check is collective).
void check_output_path(const char* option, const std::string& path) {
  if (path.empty()) return;
  const std::size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  FOLDOPT_CHECK(!name.empty() && name != "." && name != "..", PETSC_ERR_ARG_WRONG,
                "%s %s: names a directory, not a file (give e.g. %s%s%s)", option, path.c_str(), path.c_str(),
                path.back() == '/' ? "" : "/", std::strcmp(option, "-x_out") == 0 ? "x.mtx" : "g.mtx");
}

void check_unused(MPI_Comm comm, const std::vector<std::string>& deferred) {
  const std::vector<std::string> left = unused_options(deferred);
  std::string list;
  for (const auto& s : left) list += (list.empty() ? "" : ", ") + s;
  check_collective(comm, left.empty(), PETSC_ERR_ARG_WRONG, "unused option(s): " + list + " (misspelled, or not used by this run)");
}

double max_over_ranks(MPI_Comm comm, double v) {
  double m = v;
  MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, comm);
  return m;
}

/// Queue the run's outputs: x* (-x_out), one file per gradient block (-grad_out), and the problem
/// (-problem_out: its data matrices, every parameter block, dL/dx*). Batches are n×B arrays.
void queue_outputs(io::OutputSet& out, const CliOptions& o, const Problem& problem, Vec x, const ParamSet& grad, Vec g) {
  const PetscInt n = problem.solution_layout().n, B = problem.layout().batch;
  if (o.x_out[0]) out.add_batch(o.x_out, x, n);
  if (o.grad_out[0])
    for (std::size_t b = 0; b < grad.size(); ++b) out.add_block(io::block_path(o.grad_out, grad[b].name), grad[b], B);
  if (o.problem_out[0]) {
    for (const auto& m : problem.data_matrices()) out.add(io::block_path(o.problem_out, m.first), m.second);
    const ParamSet& theta = problem.params();
    for (std::size_t b = 0; b < theta.size(); ++b)
      out.add_block(io::block_path(o.problem_out, theta[b].name), theta[b], B);
    out.add_batch(io::block_path(o.problem_out, "dLdx"), g, n);
  }
}

int run(MPI_Comm comm, int argc, char** argv) {
  const double t_start = wall_time();
  CliOptions o;
  check_no_stray_arguments(argc, argv);
  check_cli_options();
  FOLDOPT_CALL(read_cli_options(comm, &o));
  check_output_path("-x_out", o.x_out);
  check_output_path("-grad_out", o.grad_out);
  check_output_path("-problem_out", o.problem_out);
  memory::PhaseMeter problem_meter(comm);  // the problem's data: built or read, and dL/dx*
  std::unique_ptr<Problem> problem = problem_registry().create("problem", o.problem, comm);
  const Layout& l = problem->solution_layout();

  OwnedVec g;
  if (o.dldx[0]) {
    PetscInt batch = 1;
    g = io::read_batch(comm, o.dldx, l.n, &batch, l.local);
    FOLDOPT_CHECK(batch == l.batch, PETSC_ERR_ARG_SIZ,
                  "-dLdx %s: has %" PetscInt_FMT " columns (instances) but the problem has %" PetscInt_FMT, o.dldx, batch,
                  l.batch);
    validate_loss_gradient(*problem, g, o.dldx);
  } else {
    FOLDOPT_CALL(VecCreateMPI(comm, l.local, l.global(), g.out()));
    fill_random(g, static_cast<unsigned long>(o.loss_seed));
  }
  {
    // Outputs that commit() would refuse (an input file among them, above all) are refused now,
    // before the solve: θ stands in for the gradient blocks, which have the same names and layout.
    io::OutputSet planned(comm);
    queue_outputs(planned, o, *problem, g.get(), problem->params(), g.get());
    planned.check();
  }

  const memory::Phase problem_memory = problem_meter.finish();

  FoldedLayer layer(*problem);
  layer.set_estimate_rho(true);
  layer.set_from_options();
  // A misspelled option must not silently change an experiment: check before any work, except
  // for the options that objects read only during the solve (they are checked before anything
  // is written).
  check_unused(comm, layer.deferred_option_prefixes());
  const double t_setup = wall_time() - t_start;

  Vec x = layer.forward(problem->params());
  ParamSet grad = layer.backward(g);
  // Warm starts, as in training: a second layer with the same options, so the report of the main
  // solve stays as it was.
  WarmStartStudy warm;
  if (o.warm_steps > 0) {
    FoldedLayer study(*problem);
    study.set_from_options();
    study.set_solution(problem->params(), layer.state());  // the map's state (x is its readout)
    warm = warm_start_study(study, problem->params(), o.warm_steps, o.warm_delta);
  }
  check_unused(comm, {});

  io::OutputSet out(comm);
  queue_outputs(out, o, *problem, x, grad, g.get());
  out.commit();

  // ---- report ----
  PetscViewer v = PETSC_VIEWER_STDOUT_(comm);
  int size = 1;
  MPI_Comm_size(comm, &size);
  PetscViewerASCIIPrintf(v, "foldopt: problem %s, %" PetscInt_FMT " unknowns", o.problem, l.global());
  if (l.batch > 1) PetscViewerASCIIPrintf(v, " (%" PetscInt_FMT " instances of %" PetscInt_FMT ")", l.batch, l.n);
  PetscViewerASCIIPrintf(v, ", %d rank%s\n", size, size > 1 ? "s" : "");
  problem->view(v);
  if (layer.view_viewer() != v) layer.view(v);  // -fold_view to stdout has printed it after the backward
  if (Vec known = problem->known_solution()) {
    OwnedVec d;
    FOLDOPT_CALL(VecDuplicate(x, d.out()));
    FOLDOPT_CALL(VecWAXPY(d, -1.0, known, x));
    PetscReal err;
    FOLDOPT_CALL(VecNorm(d, NORM_INFINITY, &err));
    PetscViewerASCIIPrintf(v, "x* vs the generated solution: max abs difference %.3e\n", (double)err);
  }
  for (std::size_t b = 0; b < grad.size(); ++b) {
    PetscReal nrm;
    FOLDOPT_CALL(VecNorm(grad[b].vec, NORM_2, &nrm));
    PetscViewerASCIIPrintf(v, "dL/d%s: 2-norm %.10e\n", grad[b].name.c_str(), (double)nrm);
  }
  if (!warm.cold.empty()) {
    std::string cold, hot;
    PetscInt sc = 0, sw = 0;
    for (std::size_t k = 0; k < warm.cold.size(); ++k) {
      cold += (k ? " " : "") + std::to_string(warm.cold[k]);
      hot += (k ? " " : "") + std::to_string(warm.warm[k]);
      sc += warm.cold[k];
      sw += warm.warm[k];
    }
    PetscViewerASCIIPrintf(v, "warm starts on %zu nearby theta (steps of %.0e): forward iterations cold [%s] = %" PetscInt_FMT
                              ", warm [%s] = %" PetscInt_FMT "\n",
                           warm.cold.size(), (double)warm.delta, cold.c_str(), sc, hot.c_str(), sw);
  }
  const double t_total = wall_time() - t_start;
  const double rss = peak_rss_bytes(), rss_max = max_over_ranks(comm, rss);
  double rss_sum = rss;
  MPI_Allreduce(&rss, &rss_sum, 1, MPI_DOUBLE, MPI_SUM, comm);
  // Under -fold_backward unrolled the adjoint report, if any, is the reference solve's.
  const bool unrolled = layer.adjoint().backward() == BackwardMethod::unrolled;
  const double t_backward = unrolled ? layer.unrolled()->result().seconds : layer.adjoint().report().seconds;
  PetscViewerASCIIPrintf(v, "time: setup %.3f s, forward %.3f s, rho %.3f s, backward%s %.3f s, total %.3f s\n", t_setup,
                         layer.forward_report().seconds, layer.rho_estimate().seconds, unrolled ? " (unrolled)" : "",
                         t_backward, t_total);
  PetscViewerASCIIPrintf(v, "peak resident memory: %.1f MiB per rank (max), %.1f MiB in all\n", rss_max / 1048576.0,
                         rss_sum / 1048576.0);
  {
    const memory::Phase &f = layer.forward_report().memory, &b = layer.backward_memory();
    const double mib = 1.0 / 1048576.0;
    PetscViewerASCIIPrintf(v, "memory: problem %.1f MiB, forward peak %.1f MiB, backward peak %.1f MiB (all ranks%s)\n",
                           problem_memory.peak * mib, f.peak * mib, b.peak * mib,
                           problem_memory.own_peak && f.own_peak && b.own_peak ? "" : "; running maxima");
  }
  if (o.x_out[0]) PetscViewerASCIIPrintf(v, "wrote x* to %s\n", o.x_out);
  if (o.grad_out[0])
    for (std::size_t b = 0; b < grad.size(); ++b)
      PetscViewerASCIIPrintf(v, "wrote dL/d%s to %s\n", grad[b].name.c_str(), io::block_path(o.grad_out, grad[b].name).c_str());
  if (o.problem_out[0]) PetscViewerASCIIPrintf(v, "wrote the problem to %s\n", io::block_path(o.problem_out, "*").c_str());
  return 0;
}

/// Whether every rank of `comm` has failed too, for an error not known to be collective: the
/// failing ranks join a nonblocking reduction on `agree` (a communicator used for nothing else)
/// and wait for it at most `seconds`. An error every rank raises alike (a bad option value met
/// in PETSc's options processing) is then reported once; an error of some ranks only times out
/// and they abort the run. `first` is the lowest failing rank when all failed.
bool all_ranks_failed(MPI_Comm agree, int rank, double seconds, int* first) {
  MPI_Request req;
  int mine = rank;
  if (MPI_Iallreduce(&mine, first, 1, MPI_INT, MPI_MIN, agree, &req) != MPI_SUCCESS) return false;
  const double t0 = MPI_Wtime();
  int done = 0;
  while (!done) {
    if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return false;
    if (!done && MPI_Wtime() - t0 > seconds) return false;
    if (!done) usleep(1000);
  }
  return true;
}

/// SlepcInitialize reads -options_file (from the command line and from $PETSC_OPTIONS) before
/// any error handler of ours is in place, and PETSc prints an 18-line traceback for a file it
/// cannot open: check those files first, on rank 0 (where PETSc reads them), and return the
/// problem, or an empty string (the same on every rank).
std::string check_options_files(int argc, char** argv) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string why;
  if (rank == 0) {
    std::vector<std::pair<std::string, std::vector<std::string>>> sources(2);
    sources[0].first = "";
    for (int i = 1; i < argc; ++i) sources[0].second.push_back(argv[i]);
    sources[1].first = " (in $PETSC_OPTIONS)";
    if (const char* env = std::getenv("PETSC_OPTIONS")) {
      std::string tok;
      for (const char* p = env;; ++p) {
        if (*p && !std::isspace(static_cast<unsigned char>(*p))) {
          tok += *p;
          continue;
        }
        if (!tok.empty()) sources[1].second.push_back(tok);
        tok.clear();
        if (!*p) break;
      }
    }
    for (const auto& src : sources) {
      const std::vector<std::string>& a = src.second;
      for (std::size_t i = 0; i < a.size() && why.empty(); ++i) {
        if (a[i] != "-options_file" && a[i] != "-options_file_yaml") continue;
        if (i + 1 >= a.size() || a[i + 1][0] == '-') {
          why = "option " + a[i] + src.first + " needs a value (a file name)";
          continue;
        }
        const std::string opt = "option " + a[i] + " " + a[i + 1] + src.first;
        const char* f = a[++i].c_str();
        struct stat st;
        FILE* fp = nullptr;
        if (stat(f, &st) != 0)
          why = opt + ": cannot open (" + std::strerror(errno) + ")";
        else if (!S_ISREG(st.st_mode))
          why = opt + ": not a regular file";
        else if (!(fp = std::fopen(f, "r")))
          why = opt + ": cannot open (" + std::strerror(errno) + ")";
        if (fp) std::fclose(fp);
      }
    }
  }
  int len = static_cast<int>(why.size());
  MPI_Bcast(&len, 1, MPI_INT, 0, MPI_COMM_WORLD);
  why.resize(static_cast<std::size_t>(len));
  if (len > 0) MPI_Bcast(&why[0], len, MPI_CHAR, 0, MPI_COMM_WORLD);
  return why;
}

}  // namespace

int main(int argc, char** argv) {
  // MPI first, so that errors PETSc would meet in its own start-up are found collectively and
  // reported in one line; PETSc then leaves MPI to us to finalize.
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
  {
    const std::string why = check_options_files(argc, argv);
    if (!why.empty()) {
      int rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &rank);
      if (rank == 0) std::fprintf(stderr, "foldopt: error: %s\n", one_line(why).c_str());
      MPI_Finalize();
      return 1;
    }
  }
  const std::string help = "foldopt: gradients through optimization solvers by folded optimization.\n"
                           "  -problem NAME     problem (" + problem_registry().list() + ")\n" + help_tail;
  if (SlepcInitialize(&argc, &argv, nullptr, help.c_str())) {
    MPI_Finalize();
    return 1;
  }
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);  // errors become one line, not a traceback
  MPI_Comm comm = PETSC_COMM_WORLD, agree = MPI_COMM_NULL;
  int rank = 0, size = 1, code = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Comm_dup(comm, &agree);
  std::string message;
  bool collective = false, failed = false;
  try {
    code = run(comm, argc, argv);
  } catch (const foldopt::Error& e) {
    failed = true;
    collective = e.collective();
    message = one_line(e.what());
    // Some PETSc failures (an allocation far too large, for one) leave only the name of the
    // function that failed as their message: say at least that much in words.
    if (!message.empty() && message.find(' ') == std::string::npos)
      message = "PETSc failed in " + message + " (error code " + std::to_string(e.code()) +
                (e.code() == PETSC_ERR_MEM ? ": out of memory" : "") + ")";
  } catch (const std::exception& e) {
    failed = true;
    message = one_line(e.what());
  }
  if (failed) {
    code = 1;
    int first = 0;  // a collective error carries the same message on every rank
    if (collective || all_ranks_failed(agree, rank, 10.0, &first)) {
      // Every rank has the error: one line, from one rank, and a normal end.
      if (rank == first) std::fprintf(stderr, "foldopt: error: %s\n", message.c_str());
    } else {
      // Raised on some ranks only: say so here and end every rank.
      std::fprintf(stderr, "foldopt: error%s: %s\n", size > 1 ? (" on rank " + std::to_string(rank)).c_str() : "",
                   message.c_str());
      std::fflush(stderr);
      MPI_Abort(comm, 1);
    }
  }
  MPI_Comm_free(&agree);
  PetscPopErrorHandler();
  PetscOptionsSetValue(nullptr, "-options_left", "no");
  SlepcFinalize();
  MPI_Finalize();
  return code;
}
