// foldopt: projections onto a half-space {aᵀx ≤ b} (prox `halfspace`) or a hyperplane
// {aᵀx = b} (prox `hyperplane`), one (a_b, b_b) per instance of the batch (fixed data).
#ifndef FOLDOPT_PROX_LINEAR_CONSTRAINT_HPP
#define FOLDOPT_PROX_LINEAR_CONSTRAINT_HPP

#include <foldopt/prox.hpp>

#include <vector>

namespace foldopt {

class LinearConstraintProx : public Prox {
 public:
  Capabilities capabilities() const override;
  std::string describe() const override;
  /// -<prefix>rhs NUM: b of every instance (with a = all-ones unless a was given in C++).
  void set_from_options() override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override { jacobian_mult(v, y); }
  void param_t(Vec, ParamSet&) override {}
  void param(const ParamSet&, Vec) override {}
  PetscInt free_count() const override { return layout_.global(); }

 protected:
  /// a: B·n entries (null: all ones), every a_b ≠ 0; b: B numbers (or one for all).
  LinearConstraintProx(const Layout& layout, bool equality, Vec a, const std::vector<PetscReal>& b);

 private:
  void ensure_a(Vec like);
  Layout layout_;
  bool equality_;
  OwnedVec a_;
  bool a_given_;
  std::vector<PetscReal> b_, a2_, active_;  ///< per instance: b, ‖a‖², coefficient −1/‖a‖² where active
};

class HalfspaceProx : public LinearConstraintProx {
 public:
  HalfspaceProx(const Layout& layout, Vec a, const std::vector<PetscReal>& b)
      : LinearConstraintProx(layout, false, a, b) {}
  std::string type() const override { return "halfspace"; }
};

class HyperplaneProx : public LinearConstraintProx {
 public:
  HyperplaneProx(const Layout& layout, Vec a, const std::vector<PetscReal>& b)
      : LinearConstraintProx(layout, true, a, b) {}
  std::string type() const override { return "hyperplane"; }
};

}  // namespace foldopt

#endif
