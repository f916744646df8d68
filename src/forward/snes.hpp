// foldopt: the `snes` forward solver (private header).
#ifndef FOLDOPT_SRC_FORWARD_SNES_HPP
#define FOLDOPT_SRC_FORWARD_SNES_HPP

#include <foldopt/forward.hpp>
#include <foldopt/handle.hpp>

#include <petscsnes.h>

#include <exception>

namespace foldopt {

class SnesForward : public ForwardSolver {
 public:
  explicit SnesForward(const ForwardContext& ctx);
  std::string type() const override { return "snes"; }
  bool solves_map_state() const override { return true; }
  void set_from_options() override;
  ForwardReport solve(const ParamSet& theta, Vec x) override;
  void view(PetscViewer viewer) const override;
  SNES snes() const { return snes_; }

  /// The inner KSP and PC's options are read at set-up, in the first solve.
  std::vector<std::string> deferred_option_prefixes() const override {
    return {ctx_.prefix + "ksp_", ctx_.prefix + "pc_", ctx_.prefix + "mat_", ctx_.prefix + "sub_", ctx_.prefix + "mg_"};
  }

 private:
  static PetscErrorCode residual(SNES, Vec x, Vec f, void* ctx);
  void create();

  ForwardContext ctx_;
  Owned<SNES, SNESDestroy> snes_;
  OwnedVec r_;
  const ParamSet* theta_ = nullptr;
  std::exception_ptr pending_;
};

}  // namespace foldopt

#endif
