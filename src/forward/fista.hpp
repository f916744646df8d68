// foldopt: the `fista` forward solver (private header).
#ifndef FOLDOPT_SRC_FORWARD_FISTA_HPP
#define FOLDOPT_SRC_FORWARD_FISTA_HPP

#include <foldopt/forward.hpp>

namespace foldopt {

class FistaForward : public ForwardSolver {
 public:
  explicit FistaForward(const ForwardContext& ctx);
  std::string type() const override { return "fista"; }
  void set_from_options() override;
  ForwardReport solve(const ParamSet& theta, Vec x) override;
  void view(PetscViewer viewer) const override;

 private:
  ForwardContext ctx_;
  PetscReal tol_ = 1e-12;
  PetscInt max_it_ = 1000000;
  PetscBool restart_ = PETSC_TRUE, monitor_ = PETSC_FALSE;
  PetscInt restarts_ = 0;
};

}  // namespace foldopt

#endif
