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

#include <cstdio>
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
};

PetscErrorCode read_cli_options(MPI_Comm comm, CliOptions* o) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "foldopt executable", "foldopt");
  PetscCall(PetscOptionsString("-problem", "Problem to solve (qp_box)", "problem_registry", o->problem, o->problem,
                               sizeof o->problem, nullptr));
  PetscCall(PetscOptionsString("-dLdx", "Upstream gradient dL/dx* (file)", "", o->dldx, o->dldx, sizeof o->dldx, nullptr));
  PetscCall(PetscOptionsInt("-loss_seed", "Seed of the random dL/dx* used when -dLdx is not given", "", o->loss_seed,
                            &o->loss_seed, nullptr));
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
  const std::vector<std::string> deferred = {"fold_rho_", "fold_stepsize_", "fold_jacobian_", "fold_pc_", "fold_mat_",
                                             "mat_", "fold_fwd_pc_", "fold_fwd_ksp_", "fold_fwd_mat_"};
  check_unused(comm, deferred);
  const double t_setup = wall_time() - t_start;

  Vec x = layer.forward(problem->params());
  ParamSet grad = layer.backward(g);
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
  const double t_total = wall_time() - t_start;
  const double rss = peak_rss_bytes(), rss_max = max_over_ranks(comm, rss);
  double rss_sum = rss;
  MPI_Allreduce(&rss, &rss_sum, 1, MPI_DOUBLE, MPI_SUM, comm);
  PetscViewerASCIIPrintf(v, "time: setup %.3f s, forward %.3f s, rho %.3f s, backward %.3f s, total %.3f s\n", t_setup,
                         layer.forward_report().seconds, layer.rho_estimate().seconds, layer.adjoint().report().seconds,
                         t_total);
  PetscViewerASCIIPrintf(v, "peak resident memory: %.1f MiB per rank (max), %.1f MiB in all\n", rss_max / 1048576.0,
                         rss_sum / 1048576.0);
  if (o.x_out[0]) PetscViewerASCIIPrintf(v, "wrote x* to %s\n", o.x_out);
  if (o.grad_out[0])
    for (std::size_t b = 0; b < grad.size(); ++b)
      PetscViewerASCIIPrintf(v, "wrote dL/d%s to %s\n", grad[b].name.c_str(), io::block_path(o.grad_out, grad[b].name).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, help)) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);  // errors become one line, not a traceback
  MPI_Comm comm = PETSC_COMM_WORLD;
  int rank = 0, size = 1, code = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  try {
    code = run(comm);
  } catch (const foldopt::Error& e) {
    if (!e.collective()) {
      // Raised on this rank alone, maybe: say so here and end every rank.
      std::fprintf(stderr, "foldopt: error%s: %s\n", size > 1 ? (" on rank " + std::to_string(rank)).c_str() : "", e.what());
      std::fflush(stderr);
      MPI_Abort(comm, 1);
    }
    if (rank == 0) std::fprintf(stderr, "foldopt: error: %s\n", e.what());
    code = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "foldopt: error on rank %d: %s\n", rank, e.what());
    std::fflush(stderr);
    MPI_Abort(comm, 1);
  }
  PetscPopErrorHandler();
  PetscOptionsSetValue(nullptr, "-options_left", "no");
  SlepcFinalize();
  return code;
}
