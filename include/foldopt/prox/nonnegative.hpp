// foldopt: projection onto the nonnegative orthant (prox `nonnegative`): max(z, 0).
#ifndef FOLDOPT_PROX_NONNEGATIVE_HPP
#define FOLDOPT_PROX_NONNEGATIVE_HPP

#include <foldopt/prox.hpp>

namespace foldopt {

class NonnegativeProx : public Prox {
 public:
  explicit NonnegativeProx(const Layout& layout) : layout_(layout) {}
  std::string type() const override { return "nonnegative"; }
  Capabilities capabilities() const override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec, ParamSet&) override {}
  void param(const ParamSet&, Vec) override {}
  PetscInt free_count() const override { return free_; }

 private:
  Layout layout_;
  OwnedVec mask_;
  PetscInt free_ = -1;
};

}  // namespace foldopt

#endif
