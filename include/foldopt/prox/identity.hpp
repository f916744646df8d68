// foldopt: the identity prox (h = 0): prox_{αh}(z) = z, J = I.
#ifndef FOLDOPT_PROX_IDENTITY_HPP
#define FOLDOPT_PROX_IDENTITY_HPP

#include <foldopt/prox.hpp>

namespace foldopt {

class IdentityProx : public Prox {
 public:
  explicit IdentityProx(const Layout& layout);
  std::string type() const override { return "identity"; }
  Capabilities capabilities() const override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  PetscInt free_count() const override { return layout_.global(); }

 private:
  Layout layout_;
};

}  // namespace foldopt

#endif
