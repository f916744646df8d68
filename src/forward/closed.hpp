// foldopt: the `closed` forward solver (private header).
#ifndef FOLDOPT_SRC_FORWARD_CLOSED_HPP
#define FOLDOPT_SRC_FORWARD_CLOSED_HPP

#include <foldopt/forward.hpp>

namespace foldopt {

class ClosedForward : public ForwardSolver {
 public:
  explicit ClosedForward(const ForwardContext& ctx);
  std::string type() const override { return "closed"; }
  /// Refuses (collectively) a problem that has no closed form for its own parameters.
  void set_from_options() override;
  ForwardReport solve(const ParamSet& theta, Vec x) override;

 private:
  ForwardContext ctx_;
};

}  // namespace foldopt

#endif
