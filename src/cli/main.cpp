// foldopt: the command-line program (the main job).
//
//   foldopt -problem qp_box [-n N -seed S | -Hmat H.mtx -q q.mtx -lb lb.mtx -ub ub.mtx]
//           [-dLdx g.mtx] [-x_out x.mtx] [-grad_out out/g.mtx] [-fold_* options]
//
// Builds or reads the problem, solves forward, checks the fixed point, estimates ρ(Φ), solves the
// adjoint, writes x* and ∂L/∂θ (one file per parameter block), and prints a short report. Every
// error ends the run with one line and a nonzero exit code, and no output file is written.
#include <foldopt/foldopt.hpp>

#include "core/util.hpp"

#include <slepcsys.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static const char help[] =
    "foldopt: gradients through optimization solvers by folded optimization.\n"
    "  -problem NAME     problem (qp_box)\n"
    "  -dLdx FILE        upstream gradient dL/dx* (default: random, seeded by -loss_seed)\n"
    "  -x_out FILE       write x*\n"
    "  -grad_out FILE    write dL/dtheta, one file per parameter block: DIR/g.mtx -> DIR/g.<block>.mtx\n"
    "Files: .mtx is MatrixMarket, anything else PETSc binary. See -help for every -fold_ option.\n\n";

namespace {

using namespace foldopt;

struct CliOptions {
  char problem[256] = "qp_box";
  char dldx[PETSC_MAX_PATH_LEN] = "";
  char x_out[PETSC_MAX_PATH_LEN] = "";
  char grad_out[PETSC_MAX_PATH_LEN] = "";
  PetscInt loss_seed = 7;
  PetscInt warm_steps = 3;
  PetscReal warm_delta = 1e-3;
};

PetscErrorCode read_cli_options(MPI_Comm comm, CliOptions* o) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "foldopt executable", "foldopt");
  PetscCall(PetscOptionsString("-problem", "Problem to solve (qp_box)", "problem_registry", o->problem, o->problem,
                               sizeof o->problem, nullptr));
  PetscCall(PetscOptionsString("-dLdx", "Upstream gradient dL/dx* (file)", "", o->dldx, o->dldx, sizeof o->dldx, nullptr));
  PetscCall(PetscOptionsInt("-loss_seed", "Seed of the random dL/dx* used when -dLdx is not given", "", o->loss_seed,
                            &o->loss_seed, nullptr));
  PetscCall(PetscOptionsInt("-warm_start_steps", "Report forward iterations with and without warm starts on this many nearby theta (0: off)",
                            "warm_start_study", o->warm_steps, &o->warm_steps, nullptr));
  PetscCall(PetscOptionsReal("-warm_start_delta", "Distance between the nearby theta of the warm-start report", "warm_start_study",
                             o->warm_delta, &o->warm_delta, nullptr));
  PetscCall(PetscOptionsString("-x_out", "Write x* to this file", "", o->x_out, o->x_out, sizeof o->x_out, nullptr));
  PetscCall(PetscOptionsString("-grad_out", "Write dL/dtheta: one file per block, DIR/g.<block>.mtx", "", o->grad_out,
                               o->grad_out, sizeof o->grad_out, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

/// Options given but never read. `deferred` lists name prefixes read only later in the run
/// (SLEPc estimates, factorizations): they are judged at the final check.
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

int run(MPI_Comm comm) {
  const double t_start = wall_time();
  CliOptions o;
  FOLDOPT_CALL(read_cli_options(comm, &o));
  check_output_path("-x_out", o.x_out);
  check_output_path("-grad_out", o.grad_out);
  std::unique_ptr<Problem> problem = problem_registry().create("problem", o.problem, comm);
  const Layout& l = problem->layout();

  OwnedVec g = problem->create_vec();
  if (o.dldx[0]) {
    g = io::read_vec(comm, o.dldx, l.local, l.global());
    validate_loss_gradient(*problem, g, o.dldx);
  } else {
    fill_random(g, static_cast<unsigned long>(o.loss_seed));
  }

  FoldedLayer layer(*problem);
  layer.set_estimate_rho(true);
  layer.set_from_options();
  // A misspelled option must not silently change an experiment: check before any work, except
  // for the options objects created later read (they are checked before anything is written).
  // (sub-solvers of block preconditioners and multigrid levels are created at set-up).
  const std::vector<std::string> deferred = {"fold_rho_", "fold_stepsize_", "fold_jacobian_", "fold_pc_", "fold_mat_",
                                             "fold_sub_", "fold_mg_", "fold_redundant_", "mat_", "fold_fwd_pc_",
                                             "fold_fwd_ksp_", "fold_fwd_mat_", "fold_fwd_sub_", "fold_fwd_mg_"};
  check_unused(comm, deferred);
  const double t_setup = wall_time() - t_start;

  Vec x = layer.forward(problem->params());
  ParamSet grad = layer.backward(g);
  // Warm starts, as in training: a second layer with the same options, so the report of the main
  // solve stays as it was.
  WarmStartStudy warm;
  if (o.warm_steps > 0) {
    FoldedLayer study(*problem);
    study.set_from_options();
    study.set_solution(problem->params(), x);
    warm = warm_start_study(study, problem->params(), o.warm_steps, o.warm_delta);
  }
  check_unused(comm, {});

  io::OutputSet out(comm);
  if (o.x_out[0]) out.add(o.x_out, x);
  if (o.grad_out[0])
    for (std::size_t b = 0; b < grad.size(); ++b) {
      if (grad[b].pattern) {
        // Sparse-matrix values: written with their pattern (a future map's block); not reached by qp_box.
        out.add(io::block_path(o.grad_out, grad[b].name), grad[b].vec);
      } else {
        out.add(io::block_path(o.grad_out, grad[b].name), grad[b].vec);
      }
    }
  out.commit();

  // ---- report ----
  PetscViewer v = PETSC_VIEWER_STDOUT_(comm);
  int size = 1;
  MPI_Comm_size(comm, &size);
  PetscViewerASCIIPrintf(v, "foldopt: problem %s, %" PetscInt_FMT " unknowns", o.problem, l.global());
  if (l.batch > 1) PetscViewerASCIIPrintf(v, " (%" PetscInt_FMT " instances of %" PetscInt_FMT ")", l.batch, l.n);
  PetscViewerASCIIPrintf(v, ", %d rank%s\n", size, size > 1 ? "s" : "");
  if (auto* qp = dynamic_cast<BoxQP*>(problem.get())) {
    MatInfo info;
    FOLDOPT_CALL(MatGetInfo(qp->H(), MAT_GLOBAL_SUM, &info));
    PetscViewerASCIIPrintf(v, "  H: %.0f nonzeros", info.nz_used);
    if (qp->active_fraction() >= 0)
      PetscViewerASCIIPrintf(v, "; generated (seed and grid by global index), %.1f%% of bounds active at x*",
                             100.0 * qp->active_fraction());
    PetscViewerASCIIPrintf(v, "\n");
  }
  layer.view(v);
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
  if (o.x_out[0]) PetscViewerASCIIPrintf(v, "wrote x* to %s\n", o.x_out);
  if (o.grad_out[0])
    for (std::size_t b = 0; b < grad.size(); ++b)
      PetscViewerASCIIPrintf(v, "wrote dL/d%s to %s\n", grad[b].name.c_str(), io::block_path(o.grad_out, grad[b].name).c_str());
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

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, help)) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);  // errors become one line, not a traceback
  MPI_Comm comm = PETSC_COMM_WORLD, agree = MPI_COMM_NULL;
  int rank = 0, size = 1, code = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Comm_dup(comm, &agree);
  std::string message;
  bool collective = false, failed = false;
  try {
    code = run(comm);
  } catch (const foldopt::Error& e) {
    failed = true;
    collective = e.collective();
    message = e.what();
  } catch (const std::exception& e) {
    failed = true;
    message = e.what();
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
  return code;
}
