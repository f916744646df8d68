// Example: your own solver step as a foldopt::UpdateMap, and its gradient through the fixed point.
//
// What it shows: a user-written update map for the gradient (Richardson) iteration of an
// unconstrained quadratic  min ½xᵀAx − bᵀx  with A symmetric positive definite,
//     U(x; θ) = x − α (A x − b(θ)),     θ = one parameter block "b",
// whose fixed point is x* = A⁻¹ b. The map provides what the backward pass needs,
//     apply      y = U(x; θ)
//     linearize  (nothing to keep: U is affine)
//     phi_t      Φᵀ v = v − α Aᵀ v           (Φ = ∂U/∂x = I − α A)
//     psi_t      Ψᵀ v = α v  into block "b"   (Ψ = ∂U/∂b = α I)
// and, optionally, the forward products phi and psi (checked here by dot-product tests). The
// layer is built on the bare map (FoldedLayer(std::unique_ptr<UpdateMap>)), solves forward with
// the `snes` solver (the map's own iteration, -fold_fwd_snes_* options), and returns ∂L/∂b for
// the loss L = ½‖x* − t‖². The closed form is ∂L/∂b = A⁻ᵀ (x* − t), computed here with a PETSc
// KSP (CG); the example prints the relative difference and fails (exit code 1) above 1e-8.
//
// A is the 1-D Laplacian plus σ·I (tridiag(−1, 2 + σ, −1)), b_i = sin(i), α = 1/‖A‖∞, so
// ρ(Φ) = 1 − α σ.
//
// Options: -n N (default 200), -sigma S (default 1), -target T (default 0.5), any -fold_* option.
//
// Run:
//   mpiexec -n 2 ./examples/custom_map -n 200 -sigma 1
//   mpiexec -n 2 ./examples/custom_map -n 5000 -sigma 0.01 -fold_fwd_snes_type anderson -fold_ksp_type cg
#include <foldopt/foldopt.hpp>

#include <slepcsys.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

namespace {

using foldopt::Layout;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;

/// U(x; b) = x − α (A x − b): one step of gradient descent on ½xᵀAx − bᵀx.
class GradientStepMap : public foldopt::UpdateMap {
 public:
  /// Takes a new reference to A; α is the stepsize.
  GradientStepMap(Mat A, PetscReal alpha) : A_(OwnedMat::share(A)), alpha_(alpha) {
    FOLDOPT_CALL(PetscObjectGetComm(reinterpret_cast<PetscObject>(A), &layout_.comm));
    FOLDOPT_CALL(MatGetSize(A, &layout_.n, nullptr));
    FOLDOPT_CALL(MatGetLocalSize(A, &layout_.local, nullptr));
    layout_.batch = 1;
  }

  std::string type() const override { return "gradient_step"; }
  const Layout& layout() const override { return layout_; }
  ParamSet create_params() const override {
    OwnedVec b = create_vec();
    FOLDOPT_CALL(VecZeroEntries(b));
    ParamSet p;
    p.add("b", b);
    return p;
  }

  void apply(Vec x, const ParamSet& theta, Vec y) override {
    FOLDOPT_CALL(MatMult(A_, x, y));                 // y = A x
    FOLDOPT_CALL(VecAXPY(y, -1.0, theta.get("b")));  // y = A x − b
    FOLDOPT_CALL(VecAYPX(y, -alpha_, x));            // y = x − α (A x − b)
  }
  // U is affine in x and θ: its Jacobians do not depend on the point.
  void linearize(Vec, const ParamSet&) override {}
  void phi_t(Vec v, Vec y) override {
    FOLDOPT_CALL(MatMultTranspose(A_, v, y));  // y = Aᵀ v
    FOLDOPT_CALL(VecAYPX(y, -alpha_, v));      // y = v − α Aᵀ v
  }
  void psi_t(Vec v, ParamSet& out) override {
    for (std::size_t k = 0; k < out.size(); ++k) {
      if (out[k].name == "b") {
        FOLDOPT_CALL(VecCopy(v, out[k].vec));
        FOLDOPT_CALL(VecScale(out[k].vec, alpha_));
      } else {
        FOLDOPT_CALL(VecZeroEntries(out[k].vec));
      }
    }
  }

  bool has_phi() const override { return true; }
  void phi(Vec u, Vec y) override {
    FOLDOPT_CALL(MatMult(A_, u, y));
    FOLDOPT_CALL(VecAYPX(y, -alpha_, u));
  }
  bool has_psi() const override { return true; }
  void psi(const ParamSet& dtheta, Vec y) override {
    FOLDOPT_CALL(VecCopy(dtheta.get("b"), y));
    FOLDOPT_CALL(VecScale(y, alpha_));
  }

  PetscReal stepsize() const override { return alpha_; }
  std::string describe() const override { return "gradient_step (alpha " + std::to_string(alpha_) + ")"; }

 private:
  OwnedMat A_;
  PetscReal alpha_;
  Layout layout_;
};

/// A count as a stable category: its decade ("10 to 99").
std::string band(PetscInt k) {
  if (k < 10) return "fewer than 10";
  PetscInt lo = 10;
  while (k >= 10 * lo) lo *= 10;
  return std::to_string(lo) + " to " + std::to_string(10 * lo - 1);
}

/// ‖a − b‖₂ / ‖b‖₂.
PetscReal relative_difference(Vec a, Vec b) {
  OwnedVec d;
  FOLDOPT_CALL(VecDuplicate(a, d.out()));
  FOLDOPT_CALL(VecWAXPY(d, -1.0, b, a));
  PetscReal nd, nb;
  FOLDOPT_CALL(VecNorm(d, NORM_2, &nd));
  FOLDOPT_CALL(VecNorm(b, NORM_2, &nb));
  return nb > 0 ? nd / nb : nd;
}

const char* below(PetscReal v, PetscReal tol) { return v <= tol ? "below" : "ABOVE"; }

int run(MPI_Comm comm) {
  PetscInt n = 200;
  PetscReal sigma = 1.0, target = 0.5;
  FOLDOPT_CALL(PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-sigma", &sigma, nullptr));
  FOLDOPT_CALL(PetscOptionsGetReal(nullptr, nullptr, "-target", &target, nullptr));
  FOLDOPT_CHECK(n >= 2 && sigma > 0, PETSC_ERR_ARG_OUTOFRANGE, "need -n >= 2 and -sigma > 0");

  // A = tridiag(−1, 2 + σ, −1), distributed by rows; b_i = sin(i).
  OwnedMat A;
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, PETSC_DECIDE, n, n, 3, nullptr, 2, nullptr, A.out()));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rstart, &rend));
  for (PetscInt i = rstart; i < rend; ++i) {
    if (i > 0) FOLDOPT_CALL(MatSetValue(A, i, i - 1, -1.0, INSERT_VALUES));
    FOLDOPT_CALL(MatSetValue(A, i, i, 2.0 + sigma, INSERT_VALUES));
    if (i < n - 1) FOLDOPT_CALL(MatSetValue(A, i, i + 1, -1.0, INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  OwnedVec b;
  FOLDOPT_CALL(MatCreateVecs(A, b.out(), nullptr));
  for (PetscInt i = rstart; i < rend; ++i) FOLDOPT_CALL(VecSetValue(b, i, std::sin((double)i), INSERT_VALUES));
  FOLDOPT_CALL(VecAssemblyBegin(b));
  FOLDOPT_CALL(VecAssemblyEnd(b));
  PetscReal anorm;
  FOLDOPT_CALL(MatNorm(A, NORM_INFINITY, &anorm));
  const PetscReal alpha = 1.0 / anorm;

  // The layer over the user's map; θ holds the block "b".
  foldopt::FoldedLayer layer(std::make_unique<GradientStepMap>(A, alpha));
  layer.set_from_options();
  ParamSet theta;
  theta.add("b", b);

  Vec x = layer.forward(theta);
  OwnedVec g;  // ∂L/∂x* = x* − t
  FOLDOPT_CALL(VecDuplicate(x, g.out()));
  FOLDOPT_CALL(VecCopy(x, g));
  FOLDOPT_CALL(VecShift(g, -target));
  ParamSet grad = layer.backward(g);

  // Is the map consistent? ⟨Φu, v⟩ = ⟨u, Φᵀv⟩ and ⟨Ψdθ, v⟩ = ⟨dθ, Ψᵀv⟩ for random u, v, dθ.
  const foldopt::DotTest dphi = foldopt::dot_test_phi(layer.map());
  const foldopt::DotTest dpsi = foldopt::dot_test_psi(layer.map());

  // Closed forms: x* = A⁻¹ b and ∂L/∂b = A⁻ᵀ g, by conjugate gradients to a tight tolerance.
  foldopt::OwnedKSP ksp;
  FOLDOPT_CALL(KSPCreate(comm, ksp.out()));
  FOLDOPT_CALL(KSPSetOperators(ksp, A, A));
  FOLDOPT_CALL(KSPSetType(ksp, KSPCG));
  FOLDOPT_CALL(KSPSetTolerances(ksp, 1e-13, 1e-50, PETSC_DEFAULT, 10000));
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp, &pc));
  FOLDOPT_CALL(PCSetType(pc, PCJACOBI));
  FOLDOPT_CALL(KSPSetOptionsPrefix(ksp, "closed_form_"));
  FOLDOPT_CALL(KSPSetFromOptions(ksp));
  OwnedVec xref, gref;
  FOLDOPT_CALL(VecDuplicate(b, xref.out()));
  FOLDOPT_CALL(VecDuplicate(b, gref.out()));
  FOLDOPT_CALL(KSPSolve(ksp, b, xref));
  FOLDOPT_CALL(KSPSolveTranspose(ksp, g, gref));
  KSPConvergedReason reason;
  FOLDOPT_CALL(KSPGetConvergedReason(ksp, &reason));
  FOLDOPT_CHECK(reason > 0, PETSC_ERR_NOT_CONVERGED, "closed form: CG did not converge (%s)", KSPConvergedReasons[reason]);

  const PetscReal ex = relative_difference(x, xref);
  const PetscReal eg = relative_difference(grad.get("b"), gref);
  PetscReal gn;
  FOLDOPT_CALL(VecNorm(grad.get("b"), NORM_2, &gn));

  const foldopt::ForwardReport& f = layer.forward_report();
  const foldopt::AdjointReport& a = layer.adjoint().report();
  PetscPrintf(comm, "map: gradient_step on a %" PetscInt_FMT "x%" PetscInt_FMT " SPD tridiagonal A, rho(Phi) = 1 - alpha sigma = %.4f\n",
              n, n, (double)(1.0 - alpha * sigma));
  PetscPrintf(comm, "dot-product tests (Phi, Psi): %s 1e-12\n", below(std::max(dphi.relative, dpsi.relative), 1e-12));
  PetscPrintf(comm, "forward: %s, %s, %s iterations\n", f.solver.c_str(), f.converged ? "converged" : "NOT converged",
              band(f.iterations).c_str());
  PetscPrintf(comm, "adjoint: %s, %s, %s iterations\n", a.method.c_str(), a.converged ? "converged" : "NOT converged",
              band(a.iterations).c_str());
  PetscPrintf(comm, "x* vs A^-1 b: relative difference %s 1e-8\n", below(ex, 1e-8));
  PetscPrintf(comm, "dL/db: 2-norm %.6e\n", (double)gn);
  PetscPrintf(comm, "dL/db vs A^-T (x* - t): relative difference %s 1e-8\n", below(eg, 1e-8));
  return (eg <= 1e-8 && ex <= 1e-8 && dphi.relative <= 1e-12 && dpsi.relative <= 1e-12) ? 0 : 1;
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
    if (!e.collective() || rank == 0) std::fprintf(stderr, "custom_map: error: %s\n", e.what());
    if (!e.collective()) MPI_Abort(PETSC_COMM_WORLD, 1);
    code = 1;
  }
  PetscPopErrorHandler();
  SlepcFinalize();
  return code;
}

// Tested (examples/CMakeLists.txt, at 1 and 2 ranks, output compared with
// examples/output/custom_map.out) with the arguments:
//   -n 200 -sigma 1 -target 0.5
