// foldopt: the linear objective (`linear`).
//
// Method:   f(x; c) = −cᵀx, c the parameter block (per instance).
// Formulas: ∇f = −c;  ∇²f = 0 (assembled: a zero diagonal matrix, the diagonal stored so that
//           the map can shift it);  (∂∇f/∂c)ᵀ v = −v;  (∂∇f/∂c) dc = −dc.
//           curvature_bound = 0: a prox-gradient map then keeps its default stepsize (1).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §10.
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>

#include "objectives/common.hpp"

namespace foldopt {

namespace {

class LinearObjective : public Objective {
 public:
  LinearObjective(const Layout& l, const std::string& c) : layout_(l), c_(c) {
    objectives_detail::check_layout(l, "linear");
  }
  std::string type() const override { return "linear"; }
  Capabilities capabilities() const override { return {true, true, true, true, true}; }
  std::string describe() const override { return "linear (c block '" + c_ + "')"; }

  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override {
    Vec c = objectives_detail::instance_block(theta, c_, layout_.global(), layout_.local, "linear");
    PetscScalar cx;
    FOLDOPT_CALL(VecDot(c, x, &cx));
    if (g) {
      FOLDOPT_CALL(VecCopy(c, g));
      FOLDOPT_CALL(VecScale(g, -1.0));
    }
    return -PetscRealPart(cx);
  }
  void hessian_mult(Vec, const ParamSet&, Vec, Vec y) override { FOLDOPT_CALL(VecZeroEntries(y)); }
  OwnedMat hessian(Vec x, const ParamSet&) override {
    if (!zero_) {
      OwnedVec z;
      FOLDOPT_CALL(VecDuplicate(x, z.out()));
      FOLDOPT_CALL(VecZeroEntries(z));
      zero_ = objectives_detail::diagonal_matrix(z);
    }
    return OwnedMat::share(zero_);
  }
  void hessian_diagonal(Vec, const ParamSet&, Vec d) override { FOLDOPT_CALL(VecZeroEntries(d)); }
  void gradient_param_t(Vec, const ParamSet&, Vec v, ParamSet& out) override {
    if (out.has(c_)) FOLDOPT_CALL(VecAXPY(out.get(c_), -1.0, v));
  }
  void gradient_param(Vec, const ParamSet&, const ParamSet& dtheta, Vec y) override {
    if (dtheta.has(c_)) FOLDOPT_CALL(VecAXPY(y, -1.0, dtheta.get(c_)));
  }
  PetscReal curvature_bound(const ParamSet&) override { return 0; }

 private:
  Layout layout_;
  std::string c_;
  OwnedMat zero_;
};

}  // namespace

std::unique_ptr<Objective> make_linear(const Layout& layout, const std::string& c) {
  return std::unique_ptr<Objective>(new LinearObjective(layout, c));
}

namespace objectives_detail {
std::unique_ptr<Objective> create_linear(const PartContext& ctx) {
  auto f = make_linear(ctx.layout, "c");
  f->set_options_prefix(ctx.prefix);
  return f;
}
}  // namespace objectives_detail
}  // namespace foldopt
