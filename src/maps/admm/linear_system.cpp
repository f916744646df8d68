// foldopt: the inner linear system of the ADMM map (see linear_system.hpp).
//
// Method: K = P + σI + ρAᵀA through the KKT form [P + σI, Aᵀ; A, −ρ⁻¹I] (default) or directly;
//   solve [r; 0] and keep the x part.
// Algorithm: MatCreateNest of the four blocks, MatConvert to AIJ (kkt); MatTransposeMatMult,
//   MatAXPY, MatShift (reduced); KSP preonly + LU/Cholesky (MUMPS at more than one rank).
// References: R. J. Vanderbei, SIAM J. Optim. 5 (1995) 100–113; PETSc manual, MATNEST, MatConvert.
#include "maps/admm/linear_system.hpp"

#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "objectives/common.hpp"

#include <petscmat.h>

#include <algorithm>
#include <string>

namespace foldopt {
namespace admm_detail {

bool factor(KSP ksp, PetscInt workspace) {
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp, &pc));
  PetscBool direct = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)pc, &direct, PCLU, PCCHOLESKY, ""));
  Mat F = nullptr;
  if (direct) {
    FOLDOPT_CALL(PCFactorSetUpMatSolverType(pc));
    MatSolverType st = nullptr;
    FOLDOPT_CALL(PCFactorGetMatSolverType(pc, &st));
    if (st && std::string(st) == MATSOLVERMUMPS) {
      FOLDOPT_CALL(PCFactorGetMatrix(pc, &F));
      FOLDOPT_CALL(MatMumpsSetIcntl(F, 14, workspace));  // -<prefix>mat_mumps_icntl_14 still decides
    }
  }
  FOLDOPT_CALL(KSPSetUp(ksp));
  if (!F) return true;
  PetscInt info = 0;
  FOLDOPT_CALL(MatMumpsGetInfog(F, 1, &info));
  return info != -8 && info != -9;
}

void LinearSystem::setup(Mat P, Mat A, PetscReal sigma, PetscReal rho) {
  OwnedMat K;
  if (reduced_) {
    FOLDOPT_CALL(MatTransposeMatMult(A, A, MAT_INITIAL_MATRIX, PETSC_DEFAULT, K.out()));
    FOLDOPT_CALL(MatScale(K, rho));
    FOLDOPT_CALL(MatAXPY(K, 1.0, P, DIFFERENT_NONZERO_PATTERN));
    FOLDOPT_CALL(MatShift(K, sigma));
  } else {
    OwnedMat Ps, At, C, N;
    FOLDOPT_CALL(MatDuplicate(P, MAT_COPY_VALUES, Ps.out()));
    FOLDOPT_CALL(MatShift(Ps, sigma));
    FOLDOPT_CALL(MatTranspose(A, MAT_INITIAL_MATRIX, At.out()));
    OwnedVec d;
    FOLDOPT_CALL(MatCreateVecs(A, nullptr, d.out()));
    FOLDOPT_CALL(VecSet(d, -1.0 / rho));
    C = objectives_detail::diagonal_matrix(d);
    Mat blocks[4] = {Ps.get(), At.get(), A, C.get()};
    FOLDOPT_CALL(MatCreateNest(comm_, 2, nullptr, 2, nullptr, blocks, N.out()));
    FOLDOPT_CALL(MatConvert(N, MATAIJ, MAT_INITIAL_MATRIX, K.out()));
  }
  FOLDOPT_CALL(MatGetSize(K, &size_, nullptr));
  FOLDOPT_CALL(MatGetLocalSize(P, &nx_local_, nullptr));
  int size = 1;
  MPI_Comm_size(comm_, &size);
  // A new KSP for each new matrix (its options read again: the same values), so that the
  // factorization's settings (MUMPS's workspace) apply to every factorization.
  // Cholesky only for a symmetric K: P's values from θ need not be (a P.values direction moves
  // entries alone), and LU then solves the QP the map folds.
  PetscBool symmetric = PETSC_FALSE;
  if (reduced_) {
    PetscReal norm;
    FOLDOPT_CALL(MatNorm(K, NORM_INFINITY, &norm));
    FOLDOPT_CALL(MatIsSymmetric(K, 1e-14 * norm, &symmetric));
  }
  if (symmetric) FOLDOPT_CALL(MatSetOption(K, MAT_SYMMETRIC, PETSC_TRUE));
  // MUMPS short of workspace (a dense block): again with 4 times the margin, up to 6400%.
  for (PetscInt workspace = 100;; workspace *= 4) {
    FOLDOPT_CALL(KSPCreate(comm_, ksp_.out()));
    FOLDOPT_CALL(KSPSetOptionsPrefix(ksp_, prefix_.c_str()));
    FOLDOPT_CALL(KSPSetType(ksp_, KSPPREONLY));
    PC pc;
    FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
    FOLDOPT_CALL(PCSetType(pc, symmetric && size == 1 ? PCCHOLESKY : PCLU));
    if (size > 1) FOLDOPT_CALL(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
    FOLDOPT_CALL(KSPSetOperators(ksp_, K, K));
    FOLDOPT_CALL(KSPSetFromOptions(ksp_));
    if (factor(ksp_, workspace) || workspace >= 6400) break;
  }
  K_ = std::move(K);
  FOLDOPT_CALL(MatCreateVecs(K_, sol_.out(), rhs_.out()));
  ++factorizations_;
}

void LinearSystem::solve(Vec r, Vec x, bool transpose) {
  FOLDOPT_CHECK(static_cast<bool>(ksp_), PETSC_ERR_ORDER, "admm: the linear system is not set up");
  Vec b = r, s = x;
  if (!reduced_) {
    {
      ReadArray rr(r);
      WriteArray bb(rhs_);
      PetscInt nl;
      FOLDOPT_CALL(VecGetLocalSize(rhs_, &nl));
      for (PetscInt i = 0; i < nl; ++i) bb[i] = i < nx_local_ ? rr[i] : 0.0;
    }
    b = rhs_;
    s = sol_;
  }
  if (transpose)
    FOLDOPT_CALL(KSPSolveTranspose(ksp_, b, s));
  else
    FOLDOPT_CALL(KSPSolve(ksp_, b, s));
  KSPConvergedReason reason;
  FOLDOPT_CALL(KSPGetConvergedReason(ksp_, &reason));
  FOLDOPT_CHECK(reason >= 0, PETSC_ERR_NOT_CONVERGED,
                "admm: the solve of the linear system (-%sksp_type, -%spc_type) failed: %s (a singular system: is P + sigma I "
                "positive definite? raise -%ssigma)",
                prefix_.c_str(), prefix_.c_str(), KSPConvergedReasons[reason], prefix_.c_str());
  if (!reduced_) {
    ReadArray ss(sol_);
    WriteArray xx(x);
    for (PetscInt i = 0; i < nx_local_; ++i) xx[i] = ss[i];
  }
}

std::string describe_solver(KSP ksp) {
  KSPType kt;
  PC pc;
  PCType pt;
  FOLDOPT_CALL(KSPGetType(ksp, &kt));
  FOLDOPT_CALL(KSPGetPC(ksp, &pc));
  FOLDOPT_CALL(PCGetType(pc, &pt));
  MatSolverType st = nullptr;
  PetscBool factor = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)pc, &factor, PCLU, PCCHOLESKY, ""));
  if (factor) FOLDOPT_CALL(PCFactorGetMatSolverType(pc, &st));
  return detail::format("%s + %s%s%s%s", kt, pt ? pt : "none", st ? " (" : "", st ? st : "", st ? ")" : "");
}

std::string LinearSystem::describe() const {
  std::string out = reduced_ ? "reduced P + sigma I + rho A'A" : "quasi-definite KKT [P + sigma I, A'; A, -I/rho]";
  if (!ksp_) return out;
  return detail::format("%s, %" PetscInt_FMT " rows, %s", out.c_str(), size_, describe_solver(ksp_).c_str());
}

}  // namespace admm_detail
}  // namespace foldopt
