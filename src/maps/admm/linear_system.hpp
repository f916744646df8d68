// foldopt: the inner linear system of the ADMM map (private).
//
// Method: x = K⁻¹ r with K = P + σI + ρAᵀA (P, A the batch operators), in one of two forms:
//   kkt (default)  the quasi-definite [P + σI, Aᵀ; A, −ρ⁻¹I] [x; ν] = [r; 0] (ν = ρAx; its
//                  Schur complement on x is K), assembled from a MatNest converted to AIJ, so
//                  each rank's rows are its x rows then its constraint rows; no fill from AᵀA;
//   reduced        K itself (MatTransposeMatMult), symmetric positive definite.
//   Transposed solves use KSPSolveTranspose (K is symmetric whenever P is; a P from θ that is
//   not is still solved exactly).
// Algorithm: one KSP with the prefix <map prefix>admm_, preonly with LU (kkt) or Cholesky
//   (reduced, when K is symmetric to 1e-14‖K‖∞; LU otherwise) at one rank, MUMPS LU in parallel; a new KSP for every new
//   matrix, its options read each time (the command line wins);
//   factored when (P, A, σ, ρ) change and reused by every solve.
// References: R. J. Vanderbei, SIAM J. Optim. 5 (1995) 100–113 (quasi-definite matrices are
//   strongly factorizable); B. Stellato et al., Math. Prog. Comp. 12 (2020) 637–672 (OSQP's
//   linear system).
#ifndef FOLDOPT_SRC_MAPS_ADMM_LINEAR_SYSTEM_HPP
#define FOLDOPT_SRC_MAPS_ADMM_LINEAR_SYSTEM_HPP

#include <foldopt/params.hpp>

#include <petscksp.h>

#include <string>

namespace foldopt {
namespace admm_detail {

/// KSPSetUp, for a MUMPS factorization with ICNTL(14) = `workspace` (default 100: 100% above
/// the analysis's estimate: delayed pivots on quasi-definite matrices with tiny diagonal entries
/// need more than MUMPS's default 20%). Returns false when MUMPS ran short of workspace
/// (INFOG(1) = -8 or -9: a dense block makes its estimate low); the caller may retry with a new
/// KSP and a larger `workspace`. Collective.
bool factor(KSP ksp, PetscInt workspace = 100);

/// "preonly + lu (mumps)" and the like: a KSP's type, its PC's and a factorization's solver.
std::string describe_solver(KSP ksp);

class LinearSystem {
 public:
  LinearSystem(MPI_Comm comm, const std::string& prefix) : comm_(comm), prefix_(prefix) {}
  void set_reduced(bool reduced) { reduced_ = reduced; }
  /// The KSP's options prefix (used when the KSP is created, at the first setup).
  void set_prefix(const std::string& prefix) { prefix_ = prefix; }
  bool reduced() const { return reduced_; }
  /// Assemble and factor for P (B·n square), A (B·m × B·n), σ, ρ. Collective.
  void setup(Mat P, Mat A, PetscReal sigma, PetscReal rho);
  /// x = K⁻¹ r (or K⁻ᵀ r); r and x split like P's rows.
  void solve(Vec r, Vec x, bool transpose);
  PetscInt factorizations() const { return factorizations_; }
  /// "kkt, preonly + lu (mumps)" and the like.
  std::string describe() const;
  /// Rows of the factored matrix.
  PetscInt size() const { return size_; }

 private:
  MPI_Comm comm_;
  std::string prefix_;
  bool reduced_ = false;
  OwnedKSP ksp_;
  OwnedMat K_;
  OwnedVec rhs_, sol_;
  PetscInt nx_local_ = 0, size_ = 0, factorizations_ = 0;
};

}  // namespace admm_detail
}  // namespace foldopt

#endif  // FOLDOPT_SRC_MAPS_ADMM_LINEAR_SYSTEM_HPP
