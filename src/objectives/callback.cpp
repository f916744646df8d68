// foldopt: the user's objective (`callback`), from ObjectiveCallbacks.
//
// Method:   f, ∇f and ∇²f v are the user's functions; so are, optionally, the parameter products
//           (∂∇f/∂θ)ᵀ v and (∂∇f/∂θ) dθ. Without them ∂∇f/∂θ = 0: the products add nothing, and
//           describe() says so (a gradient w.r.t. θ then comes from the prox alone).
//           Capabilities: no assembled Hessian, no diagonal, not quadratic; convex and the
//           curvature bound as the user declares them.
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>

#include "objectives/common.hpp"

#include <cmath>

namespace foldopt {

namespace {

class CallbackObjective : public Objective {
 public:
  CallbackObjective(const Layout& l, ObjectiveCallbacks cb) : layout_(l), cb_(std::move(cb)) {
    objectives_detail::check_layout(l, "callback");
    FOLDOPT_CHECK(static_cast<bool>(cb_.value_gradient) && static_cast<bool>(cb_.hessian_mult), PETSC_ERR_ARG_NULL,
                  "objective 'callback': value_gradient and hessian_mult are required");
    FOLDOPT_CHECK(static_cast<bool>(cb_.gradient_param_t) == static_cast<bool>(cb_.gradient_param), PETSC_ERR_ARG_NULL,
                  "objective 'callback': give both gradient_param_t and gradient_param, or neither");
    FOLDOPT_CHECK(cb_.curvature_bound >= 0 && std::isfinite(cb_.curvature_bound), PETSC_ERR_ARG_OUTOFRANGE,
                  "objective 'callback': curvature_bound %g must be finite and nonnegative (0: unknown)",
                  (double)cb_.curvature_bound);
  }
  std::string type() const override { return "callback"; }
  Capabilities capabilities() const override { return {false, false, false, cb_.convex}; }
  std::string describe() const override {
    return std::string("callback (user functions") +
           (cb_.gradient_param_t ? "" : "; no parameter products: df/dtheta taken as 0") + ")";
  }
  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override { return cb_.value_gradient(x, theta, g); }
  void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) override { cb_.hessian_mult(x, theta, v, y); }
  void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) override {
    if (cb_.gradient_param_t) cb_.gradient_param_t(x, theta, v, out);
  }
  void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) override {
    if (cb_.gradient_param) cb_.gradient_param(x, theta, dtheta, y);
  }
  PetscReal curvature_bound(const ParamSet&) override { return cb_.curvature_bound; }

 private:
  Layout layout_;
  ObjectiveCallbacks cb_;
};

}  // namespace

std::unique_ptr<Objective> make_callback(const Layout& layout, ObjectiveCallbacks callbacks) {
  return std::unique_ptr<Objective>(new CallbackObjective(layout, std::move(callbacks)));
}

namespace objectives_detail {
std::unique_ptr<Objective> create_callback(const PartContext&) {
  FOLDOPT_CHECK(false, PETSC_ERR_ARG_WRONG,
                "objective 'callback' needs the user's functions: build it with foldopt::make_callback(layout, callbacks)");
  return nullptr;
}
}  // namespace objectives_detail
}  // namespace foldopt
