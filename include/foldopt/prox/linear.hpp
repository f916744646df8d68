// foldopt: the projection onto general linear constraints (prox `linear`), a folded QP solve.
//
//   prox_lin(z) = argmin_x ½‖x − z‖²  subject to  l ≤ Ax ≤ u     (α plays no role)
//
// per instance, A (m×n) shared by the batch, l and u per instance (B·m). The projection is the
// QP of the ADMM map (maps/admm.hpp) with P = I, q = −z, computed by an owned AdmmMap and the
// admm forward iteration (polished to a fixed-point residual ≤ 1e-12, warm-started from the
// previous projection). Its Jacobian J = ∂x*/∂z = −∂x*/∂q (symmetric, an orthogonal projector:
// K = J) is applied by an *inner* folded adjoint solve through the ADMM map at its fixed point,
// J v = −q̄ with (I − Φᵀ) w = (v, 0, 0), q̄ = (Ψᵀ w)_q; the same w gives (∂prox/∂θ)ᵀ v for the
// constraint blocks (l, u, A.values) where θ holds them. A product is exact only to the inner
// rtol: the prox declares itself nested (FGMRES outside; inner rtol ≤ 0.1 × the outer's).
//
// Options (the prox's prefix, fold_prox_ in a prox-gradient map; the inner objects take the map's
// prefix with `inner_`, fold_inner_ for fold_prox_):
//   -fold_inner_ksp_*, -fold_inner_backward ...   the inner AdjointSolver (default rtol 0.1 × the
//                                                 outer adjoint's; -fold_inner_ksp_rtol overrides)
//   -fold_inner_admm_*                            the inner ADMM map (rho default 1, sigma, alpha, kkt)
//   -fold_inner_fwd_admm_*                        the inner admm forward (tol default 1e-12,
//                                                 adaptive_rho default off)
// Data: from the problem when it is an AdmmSource (qp: A, and θ's blocks l, u, A.values), else
// from files -fold_prox_Amat FILE (required), -fold_prox_l FILE, -fold_prox_u FILE (one column
// per instance, or one for all; an absent side is ±inf); no parameter blocks then.
#ifndef FOLDOPT_PROX_LINEAR_HPP
#define FOLDOPT_PROX_LINEAR_HPP

#include <foldopt/adjoint.hpp>
#include <foldopt/forward.hpp>
#include <foldopt/prox.hpp>

#include <memory>
#include <string>
#include <vector>

namespace foldopt {

class AdmmMap;

class LinearProx : public Prox {
 public:
  struct Data {
    Layout layout;             ///< of x (B instances of n)
    Mat A = nullptr;           ///< one instance's m×n constraint matrix
    Vec l = nullptr, u = nullptr;  ///< B·m bounds used where θ lacks the blocks (null: ∓inf)
    std::string l_block, u_block, A_block;  ///< θ's blocks ("" for none)
    std::string source = "given";           ///< for the report
  };
  explicit LinearProx(const Data& data);
  ~LinearProx() override;

  std::string type() const override { return "linear"; }
  Capabilities capabilities() const override;
  std::string describe() const override;
  void view(PetscViewer viewer) const override;
  /// The inner map's, forward's and adjoint's options (prefix: see above).
  void set_from_options() override;

  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  /// Refused: J is known only through products (capabilities().nested).
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override { jacobian_mult(v, y); }
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  void set_outer_rtol(PetscReal rtol) override;
  std::vector<std::string> deferred_option_prefixes() const override;

  /// The inner solvers (tests, reports).
  AdmmMap& inner_map() { return *map_; }
  AdjointSolver& inner_adjoint();
  const ForwardReport& inner_forward_report() const { return fwd_report_; }
  PetscReal inner_rtol() const;
  PetscInt projections() const { return projections_; }
  PetscInt inner_solves() const { return solves_; }
  /// The inner ParamSet (q = −z, l, u, P.values = 1, A.values) of the last projection.
  const ParamSet& inner_params() const { return theta_in_; }
  const std::string& inner_prefix() const { return inner_prefix_; }

 private:
  void ensure();
  void sync(const ParamSet& theta);
  const ParamSet& inner_gradient(Vec v);

  Data data_;
  OwnedMat A_, I_;
  OwnedVec l_, u_;
  std::unique_ptr<AdmmMap> map_;
  std::unique_ptr<ForwardSolver> fwd_;
  std::unique_ptr<AdjointSolver> adj_;
  std::string inner_prefix_;
  ParamSet theta_in_, grad_, dtheta_in_;
  OwnedVec s_, r_, w_, xin_, zin_;
  ForwardReport fwd_report_;
  PetscReal outer_rtol_ = 1e-10, worst_residual_ = 0;
  bool rtol_given_ = false, linearized_ = false, have_grad_ = false;
  PetscObjectId a_id_ = 0, grad_id_ = 0;
  PetscObjectState a_state_ = -1, grad_state_ = -1;
  PetscInt projections_ = 0, fwd_iterations_ = 0, solves_ = 0, inner_iterations_ = 0, epoch_ = 0, grad_epoch_ = -1;
};

}  // namespace foldopt

#endif  // FOLDOPT_PROX_LINEAR_HPP
