// foldopt: projection onto the Euclidean ball {‖x‖₂ ≤ r} per instance (prox `ball`).
#ifndef FOLDOPT_PROX_BALL_HPP
#define FOLDOPT_PROX_BALL_HPP

#include <foldopt/prox.hpp>

#include <string>
#include <vector>

namespace foldopt {

class BallProx : public Prox {
 public:
  /// Radius r > 0, the same for every instance.
  BallProx(const Layout& layout, PetscReal radius);
  /// One radius per instance (B numbers, each > 0).
  BallProx(const Layout& layout, const std::vector<PetscReal>& radii);
  /// Radius from the scalar parameter block `block` (the same for every instance; its
  /// gradient is the sum over the batch).
  BallProx(const Layout& layout, const std::string& block);
  std::string type() const override { return "ball"; }
  Capabilities capabilities() const override;
  std::string describe() const override;
  /// -<prefix>radius NUM (a fixed radius).
  void set_from_options() override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  PetscInt free_count() const override { return layout_.global(); }

 private:
  std::vector<PetscReal> radii(const ParamSet& theta) const;
  void product(Vec v, Vec y, bool root);
  Layout layout_;
  std::vector<PetscReal> r_;     ///< fixed radii, one per instance
  std::string block_;
  std::vector<PetscReal> norm_;  ///< ‖z_b‖ at the linearization
  std::vector<PetscReal> rlin_;  ///< radii at the linearization
  OwnedVec zhat_;                ///< z_b/‖z_b‖ (zero inside the ball)
};

}  // namespace foldopt

#endif
