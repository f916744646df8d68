// Example: the gradient of a least-squares loss through a box-constrained QP, with the C++ API.
//
// What it shows:
//   * generating a reproducible box-QP  min ½xᵀHx − qᵀx, lb ≤ x ≤ ub  (foldopt::BoxQP::generate);
//   * a foldopt::FoldedLayer over it, configured from the command line (set_from_options: every
//     -fold_* option of the executable works here too, e.g. -fold_ksp_type, -fold_backward);
//   * forward: x* = argmin; the loss L = ½‖x* − t‖² with a target t;
//   * backward with g = ∂L/∂x* = x* − t, giving ∂L/∂q, ∂L/∂lb, ∂L/∂ub, ∂L/∂H.values (one block each);
//   * the adjoint report (method, convergence, iterations) and the layer's own report.
// Only stable text is printed (categories instead of timings and residuals), so the output can
// be compared with examples/output/qp_box_gradient.out at any number of ranks; -view prints the
// layer's full report (timings included) as well.
//
// Options: -n N (unknowns, default 400), -seed S (default 3), -target T (every entry of t,
// default 0.25), -view, and any -fold_* option.
//
// Run:
//   mpiexec -n 2 ./examples/qp_box_gradient -n 400 -seed 3 -target 0.25
//   mpiexec -n 2 ./examples/qp_box_gradient -n 10000 -fold_ksp_type bcgs -view
#include <foldopt/foldopt.hpp>

#include <slepcsys.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace {

/// A count as a stable category: its decade ("10 to 99").
std::string band(PetscInt k) {
  if (k < 10) return "fewer than 10";
  PetscInt lo = 10;
  while (k >= 10 * lo) lo *= 10;
  return std::to_string(lo) + " to " + std::to_string(10 * lo - 1);
}

int run(MPI_Comm comm) {
  foldopt::BoxQPGenerator gen;
  gen.n = 400;
  gen.seed = 3;
  PetscInt seed = 3;
  PetscReal target = 0.25;
  PetscBool view = PETSC_FALSE;
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-n", &gen.n, nullptr));
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-seed", &seed, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-target", &target, nullptr));
  FOLDOPT_CALL(PetscOptionsGetBool(nullptr, nullptr, "-view", &view, nullptr));
  gen.seed = static_cast<unsigned long>(seed);

  // The problem and the layer. The layer picks the problem's default update map (projected
  // gradient descent) and the `tao` forward solver (tron); the command line may change either.
  std::unique_ptr<foldopt::BoxQP> qp = foldopt::BoxQP::generate(comm, gen);
  foldopt::FoldedLayer layer(*qp);
  layer.set_from_options();

  // Forward: x* (owned by the layer until the next forward).
  Vec x = layer.forward(qp->params());

  // The loss L = ½‖x* − t‖² and its gradient g = x* − t.
  foldopt::OwnedVec g;
  FOLDOPT_CALL(VecDuplicate(x, g.out()));
  FOLDOPT_CALL(VecCopy(x, g));
  FOLDOPT_CALL(VecShift(g, -target));
  PetscReal gnorm;
  FOLDOPT_CALL(VecNorm(g, NORM_2, &gnorm));

  // Backward: ∂L/∂θ for every parameter block of θ = (q, lb, ub, H.values).
  foldopt::ParamSet grad = layer.backward(g);

  PetscPrintf(comm, "box-QP: %" PetscInt_FMT " unknowns (seed %" PetscInt_FMT "), %.0f%% of bounds active at x*\n", gen.n,
              seed, 100.0 * (double)qp->active_fraction());
  const foldopt::ForwardReport& f = layer.forward_report();
  PetscPrintf(comm, "forward: %s, %s, %s iterations\n", f.solver.c_str(), f.converged ? "converged" : "NOT converged",
              band(f.iterations).c_str());
  PetscPrintf(comm, "fixed-point residual: %s\n", layer.fixed_point_residual() < 1e-8 ? "below 1e-8" : "ABOVE 1e-8");
  PetscPrintf(comm, "loss L = 1/2 |x* - t|^2 = %.6e (t = %g)\n", 0.5 * (double)(gnorm * gnorm), (double)target);

  const foldopt::AdjointReport& a = layer.adjoint().report();
  const PetscReal rel = a.rhs_norm > 0 ? a.residual / a.rhs_norm : a.residual;
  PetscPrintf(comm, "adjoint: %s, %s (%s), %s iterations, relative residual %s\n", a.method.c_str(),
              a.converged ? "converged" : "NOT converged", a.reason.c_str(), band(a.iterations).c_str(),
              rel <= a.rtol ? "within rtol" : "ABOVE rtol");
  for (std::size_t b = 0; b < grad.size(); ++b) {
    PetscReal nrm;
    FOLDOPT_CALL(VecNorm(grad[b].vec, NORM_2, &nrm));
    PetscPrintf(comm, "dL/d%s: 2-norm %.6e\n", grad[b].name.c_str(), (double)nrm);
  }
  if (view) layer.view(PETSC_VIEWER_STDOUT_(comm));
  return a.converged && f.converged ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  int code = 0;
  try {
    code = run(PETSC_COMM_WORLD);
  } catch (const foldopt::Error& e) {
    // A collective error is raised on every rank: one rank reports it. Otherwise stop all ranks.
    int rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    if (!e.collective() || rank == 0) std::fprintf(stderr, "qp_box_gradient: error: %s\n", e.what());
    if (!e.collective()) MPI_Abort(PETSC_COMM_WORLD, 1);
    code = 1;
  }
  PetscPopErrorHandler();
  SlepcFinalize();
  return code;
}

// Tested (examples/CMakeLists.txt, at 1 and 2 ranks, output compared with
// examples/output/qp_box_gradient.out) with the arguments:
//   -n 400 -seed 3 -target 0.25
