// foldopt: soft-thresholding, the prox of λ‖x‖₁ (prox `l1`), and group soft-thresholding, the
// prox of λ Σ_G ‖x_G‖₂ over groups of g consecutive entries (prox `group_l1`).
#ifndef FOLDOPT_PROX_L1_HPP
#define FOLDOPT_PROX_L1_HPP

#include <foldopt/prox.hpp>

#include <string>
#include <vector>

namespace foldopt {

class L1Prox : public Prox {
 public:
  /// λ ≥ 0 fixed.
  L1Prox(const Layout& layout, PetscReal lambda);
  /// λ from the scalar parameter block `block` (e.g. "lambda").
  L1Prox(const Layout& layout, const std::string& block);
  std::string type() const override { return "l1"; }
  Capabilities capabilities() const override;
  std::string describe() const override;
  /// -<prefix>lambda NUM (a fixed λ).
  void set_from_options() override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  PetscInt free_count() const override { return free_; }

 private:
  PetscReal lambda(const ParamSet& theta) const;
  Layout layout_;
  PetscReal lambda_ = 0;
  std::string block_;
  PetscReal alpha_ = 0;
  OwnedVec mask_, sign_;  ///< [|z| > αλ] and sign(z) on it
  PetscInt free_ = -1;
};

class GroupL1Prox : public Prox {
 public:
  /// Groups of g consecutive entries (g divides n), λ ≥ 0 fixed.
  GroupL1Prox(const Layout& layout, PetscInt group_size, PetscReal lambda);
  /// λ from the scalar parameter block `block`.
  GroupL1Prox(const Layout& layout, PetscInt group_size, const std::string& block);
  std::string type() const override { return "group_l1"; }
  Capabilities capabilities() const override;
  std::string describe() const override;
  /// -<prefix>lambda NUM, -<prefix>group_size G.
  void set_from_options() override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  PetscInt free_count() const override { return free_; }

 private:
  PetscReal lambda(const ParamSet& theta) const;
  void set_group_size(PetscInt g);
  Layout layout_;
  PetscInt g_ = 1;
  PetscReal lambda_ = 0;
  std::string block_;
  PetscReal alpha_ = 0;
  std::vector<PetscReal> shrink_, coef_;  ///< per group: 1 − t/‖z_G‖ and t/‖z_G‖ (0 inactive)
  OwnedVec zhat_;                         ///< z_G/‖z_G‖ on active groups, else 0
  PetscInt free_ = -1;
};

}  // namespace foldopt

#endif
