// foldopt: the smooth part of TV's dual, f(y) = ½‖Dᵀy − d‖² (private to src/problems).
//
// The objective of the `tv` problem (include/foldopt/problems/tv.hpp): y the dual state (B·m
// entries, split as PETSc splits B·m), d the block `d` (B·n, split as PETSc splits B·n), D m×n
// shared by the batch and kept as the batch operator kron(I_B, D). When θ has the values block
// (D.values: D's stored nonzeros in global CSR order, objectives/matrix_parameter.hpp), D takes
// its values from it. Formulas in tv_dual_objective.cpp.
//
// Method: ∇f = D(Dᵀy − d), ∇²f = DDᵀ, (∂∇f/∂d)ᵀv = −Dᵀv, (∂∇f/∂D)ᵀv = v rᵀ + y (Dᵀv)ᵀ on D's
//   pattern with r = Dᵀy − d.
// References: A. Beck, M. Teboulle, Oper. Res. Lett. 42 (2014) 1–6 (the dual of TV denoising).
#ifndef FOLDOPT_SRC_PROBLEMS_TV_DUAL_OBJECTIVE_HPP
#define FOLDOPT_SRC_PROBLEMS_TV_DUAL_OBJECTIVE_HPP

#include <foldopt/objective.hpp>

#include "objectives/matrix_parameter.hpp"

#include <string>

namespace foldopt {

class TvDualObjective : public Objective {
 public:
  /// `state`: the layout of y (B·m); `solution`: that of x and d (B·n); `values`: the name of
  /// D's values block ("" when D is fixed data).
  TvDualObjective(const Layout& state, const Layout& solution, Mat D, const std::string& values);

  std::string type() const override { return "tv_dual"; }
  Capabilities capabilities() const override { return {true, true, true, true}; }
  std::string describe() const override;

  PetscReal value_gradient(Vec y, const ParamSet& theta, Vec g) override;
  void hessian_mult(Vec y, const ParamSet& theta, Vec v, Vec out) override;
  OwnedMat hessian(Vec y, const ParamSet& theta) override;
  void hessian_diagonal(Vec y, const ParamSet& theta, Vec dg) override;
  void gradient_param_t(Vec y, const ParamSet& theta, Vec v, ParamSet& out) override;
  void gradient_param(Vec y, const ParamSet& theta, const ParamSet& dtheta, Vec out) override;
  PetscReal curvature_bound(const ParamSet& theta) override;

  /// The batch operator kron(I_B, D) with θ's values (B·m × B·n).
  Mat op(const ParamSet& theta);
  /// The set has D's values block.
  bool has_values(const ParamSet& set) const { return D_.in(set); }
  /// G_ij = Σ_s u_{s,i} v_{s,j} on D's pattern (u: B·m entries, v: B·n).
  OwnedVec outer(Vec u, Vec v) const { return D_.outer(u, v); }

 private:
  void sync(const ParamSet& theta);
  void derived();
  /// r = Dᵀy − d.
  void residual(Vec y, const ParamSet& theta, Vec r);

  Layout state_, sol_;
  objectives_detail::MatrixParameter D_;
  OwnedMat ddt_;
  OwnedVec r_, t_;
  PetscReal bound_ = 0;
};

}  // namespace foldopt

#endif  // FOLDOPT_SRC_PROBLEMS_TV_DUAL_OBJECTIVE_HPP
