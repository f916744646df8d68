// foldopt: the SQP map's sparse route (private): the step's QP as a distributed sparse QP solved
// by the ADMM map, and the map's products through a sparse KKT solve on its active set.
//
// Method: at x with the state's multipliers (y_E, y_I) and the QP Hessian B, the step's QP in
//   OSQP's form (include/foldopt/maps/admm.hpp)
//     min_d ½ dᵀBd + ∇f(x)ᵀd   s.t.  l ≤ A d ≤ u,   A = [J_E; J_I; I],
//     l = [−c_E; −inf; lb − x],  u = [−c_E; −c_I; ub − x]   (±inf where a bound is absent;
//     the identity rows only when the problem has bounds),
//   assembled as one AIJ matrix (a MatNest converted: each rank's rows are its J_E rows, its
//   J_I rows, then its bound rows), distributed as the problem's vectors are. OSQP's multipliers
//   y of these rows are the step's: y_E on the equality rows, y_I (≥ 0) on the inequality rows,
//   z_U − z_L on the bound rows (foldopt's convention ∇f + J_Eᵀy_E + J_Iᵀy_I − z_L + z_U = 0).
// Algorithm: an AdmmMap of (B, A) with the θ blocks q = ∇f, l, u, started from d = 0 and the
//   state's multipliers (bound rows: −(∇f + J_Eᵀy_E + J_Iᵀy_I) on the sides that are finite),
//   iterated by the admm forward (polished; at a fixed point of the SQP map the start is the
//   QP's solution, so it stops at its first check). Options: the ADMM map's and forward's
//   with the prefix <map prefix>sqp_ (-fold_sqp_admm_rho, -fold_sqp_admm_tol, ...).
//   At the linearization the active set is taken from y as the ADMM map does (equalities;
//   |y_k| > 1e-8 max(1, ‖y‖∞) on the side of its sign); its rows, signed as the dense route's
//   (−e_i for a lower bound), form G_A = S A with a selection S (maps/admm/rows.hpp), and
//     K = [B  G_Aᵀ; G_A  0]
//   is solved by GMRES (rtol 1e-13) preconditioned by the LU (MUMPS at every rank count) of
//   [B, G_Aᵀ; G_A, −δI], δ = 1e-8 (iterative refinement: 1–2 iterations; the zero block itself
//   left MUMPS short of workspace), factored once per linearization and reused by every product
//   (prefix <map prefix>sqp_kkt_). The products are the dense route's formulas (sqp.cpp) with
//   the multiplier parts moved by S: [v_x; S [v_E; v_I; 0]] into K, t = Sᵀ z_c out of it
//   (t's equality and inequality parts are the state's multipliers; its bound part, on the
//   active bounds, the bounds' gradient: ∂/∂lb = t where active at lb, ∂/∂ub = t at ub).
// References: B. Stellato et al., OSQP, Math. Prog. Comp. 12 (2020) 637–672; J. Nocedal,
//   S. J. Wright, Numerical Optimization (2nd ed., 2006), §16.1 (the KKT system of an
//   equality-constrained QP), §18.1 (SQP).
#ifndef FOLDOPT_SRC_MAPS_SQP_SPARSE_HPP
#define FOLDOPT_SRC_MAPS_SQP_SPARSE_HPP

#include <foldopt/problem.hpp>

#include <petscksp.h>

#include <string>

namespace foldopt {
namespace sqp_detail {

class SparseStep {
 public:
  SparseStep(Problem& problem, std::string prefix);

  /// The step's QP at x with the state's multipliers (ye, yi; null where there are none) and the
  /// Hessian B: its step d and new multipliers lamE, muI (null where none; may not alias ye, yi).
  /// With `linearize`, keeps the active set and factors K there. Collective.
  void solve(Vec x, Vec ye, Vec yi, const ParamSet& theta, Mat B, Vec d, Vec lamE, Vec muI, bool linearize);
  /// H_L = ∇²ₓL at the linearization's point and multipliers (Φ's products use it).
  void set_lagrangian_hessian(OwnedMat HL) { HL_ = std::move(HL); }

  /// out_x = v_x − H_L z_x − G_Aᵀ z_c,  K z = [v_x; S[v_E; v_I; 0]].
  void phi_t(Vec vx, Vec vE, Vec vI, Vec out_x);
  /// K z = −[H_L dx; G_A dx]: out_x = dx + z_x, (yE, yI) = parts of Sᵀz_c.
  void phi(Vec dx, Vec out_x, Vec yE, Vec yI);
  /// K z = −[L_θ; c_E,θ; c_I,θ and the bounds' dlo, −dhi on the active rows] (dlo, dhi may be null).
  void psi(Vec Lt, Vec cEt, Vec cIt, Vec dlo, Vec dhi, Vec out_x, Vec yE, Vec yI);
  /// K z = [v_x; S[v_E; v_I; 0]]: a = z_x, (bE, bI) = parts of Sᵀz_c, glo/ghi the bounds' parts
  /// (rows active at lb / ub; zero elsewhere).
  void psi_t(Vec vx, Vec vE, Vec vI, Vec a, Vec bE, Vec bI, Vec glo, Vec ghi);

  /// Active inequality and bound rows at the linearization, and their count.
  PetscInt active_inequalities() const { return active_rows_; }
  PetscInt inequality_rows() const { return inequality_rows_; }
  /// ADMM iterations of the last solve and its report's reason; rows of K; factorizations of K.
  PetscInt admm_iterations() const { return admm_iterations_; }
  const std::string& admm_reason() const { return admm_reason_; }
  PetscInt kkt_size() const { return kkt_size_; }
  PetscInt factorizations() const { return factorizations_; }
  /// "preonly + lu (mumps)" and the like.
  std::string describe() const;

 private:
  /// z = K⁻¹[r_x; S r_M]: z_x and t = Sᵀz_c (r_M, t in A's row layout).
  void kkt_solve(Vec rx, Vec rM, Vec zx, Vec t);
  /// rM's parts: [e; i; b] on each rank (null: zeros) and back.
  void put_rows(Vec e, Vec i, Vec b, Vec rM) const;
  void get_rows(Vec rM, Vec e, Vec i, Vec b) const;

  Problem& p_;
  std::string prefix_;
  PetscInt me_ = 0, mi_ = 0, mel_ = 0, mil_ = 0, nxl_ = 0, nbl_ = 0;
  // at the linearization
  OwnedMat A_, S_, GA_, K_, HL_;
  OwnedKSP ksp_;
  OwnedVec rhs_, sol_, zc_, rowsM_, rowsM2_, xw_, xw2_, El_, Eu_;
  PetscInt active_rows_ = 0, inequality_rows_ = 0, admm_iterations_ = 0, kkt_size_ = 0, factorizations_ = 0;
  std::string admm_reason_;
};

}  // namespace sqp_detail
}  // namespace foldopt

#endif  // FOLDOPT_SRC_MAPS_SQP_SPARSE_HPP
