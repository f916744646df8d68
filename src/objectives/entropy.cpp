// foldopt: the entropy-regularized linear objective (`entropy`), e.g. smooth top-k.
//
// Method:   f(x; c) = −cᵀx + ε Σᵢ xᵢ log xᵢ on x ≥ 0, c the parameter block (per instance),
//           ε > 0 fixed (-<prefix>epsilon, default 1).
// Formulas: with x̄ᵢ = max(xᵢ, floor), floor = DBL_MIN (the smallest normal double):
//           f = −cᵀx + ε Σ xᵢ log x̄ᵢ;   ∇f = −c + ε (1 + log x̄);
//           ∇²f = ε diag(hᵢ),  hᵢ = 1/xᵢ where xᵢ > floor, hᵢ = 0 where xᵢ ≤ floor;
//           (∂∇f/∂c)ᵀ v = −v;  (∂∇f/∂c) dc = −dc.
// The floor: an entry that underflowed to 0 (or lies below DBL_MIN) is at the bound x ≥ 0. The
//           gradient there is held at its value at the floor (so it stays finite and continuous;
//           the value's derivative differs from it by ε on a set of width DBL_MIN), and the
//           Hessian is the derivative of that constant gradient, 0. The value 0 is also the safe
//           one: the prox's Jacobian (capped simplex, orthant) is zero on entries at the bound,
//           so Φᵀv = (I − α∇²f)Jᵀv ignores hᵢ there, while ε/DBL_MIN ≈ 4.5e307·ε would overflow to
//           inf once multiplied by a stepsize α > 1 and give inf·0 = NaN.
//           curvature_bound = 0 (none: ε/x is unbounded as x → 0).
// References: M. Cuturi, Sinkhorn distances (NeurIPS 2013); Blondel et al., Learning with
//           Fenchel-Young losses (JMLR 2020), smooth top-k.
#include <foldopt/objectives.hpp>

#include <foldopt/error.hpp>

#include "core/options.hpp"
#include "objectives/common.hpp"

#include <cfloat>
#include <cmath>

namespace foldopt {

namespace {

constexpr PetscReal kFloor = DBL_MIN;

/// -<prefix>epsilon, listed by -help.
PetscErrorCode read_options(MPI_Comm comm, const char* prefix, PetscReal* eps, PetscBool* set) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Entropy objective -c'x + epsilon sum x log x", "Objective");
  PetscCall(PetscOptionsReal("-epsilon", "Weight of the entropy term (> 0)", "foldopt::make_entropy", *eps, eps, set));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

class EntropyObjective : public Objective {
 public:
  EntropyObjective(const Layout& l, PetscReal eps, const std::string& c) : layout_(l), eps_(eps), c_(c) {
    objectives_detail::check_layout(l, "entropy");
    check_epsilon(eps_);
  }
  std::string type() const override { return "entropy"; }
  Capabilities capabilities() const override { return {true, true, false, true, true}; }
  std::string describe() const override {
    return detail::format("entropy (epsilon %g, c block '%s')", (double)eps_, c_.c_str());
  }
  void set_from_options() override {
    options::check_real(prefix_.c_str(), "epsilon", 0, 1e300, true);
    PetscBool set = PETSC_FALSE;
    PetscReal eps = eps_;
    FOLDOPT_CALL(read_options(layout_.comm, prefix_.c_str(), &eps, &set));
    if (set) {
      check_epsilon(eps);
      eps_ = eps;
    }
  }
  void view(PetscViewer viewer) const override {
    FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "objective: %s; Hessian 0 on entries below %g (at the bound)\n",
                                        describe().c_str(), (double)kFloor));
  }

  PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) override {
    Vec c = objectives_detail::instance_block(theta, c_, layout_.global(), layout_.local, "entropy");
    PetscScalar cx;
    FOLDOPT_CALL(VecDot(c, x, &cx));
    PetscInt nl;
    FOLDOPT_CALL(VecGetLocalSize(x, &nl));
    const PetscScalar *xa, *ca;
    FOLDOPT_CALL(VecGetArrayRead(x, &xa));
    PetscScalar* ga = nullptr;
    if (g) {
      FOLDOPT_CALL(VecGetArrayRead(c, &ca));
      FOLDOPT_CALL(VecGetArray(g, &ga));
    }
    PetscReal local = 0;
    for (PetscInt i = 0; i < nl; ++i) {
      const PetscReal xi = PetscRealPart(xa[i]), lx = std::log(std::max(xi, kFloor));
      local += xi * lx;
      if (ga) ga[i] = -ca[i] + eps_ * (1 + lx);
    }
    if (g) {
      FOLDOPT_CALL(VecRestoreArray(g, &ga));
      FOLDOPT_CALL(VecRestoreArrayRead(c, &ca));
    }
    FOLDOPT_CALL(VecRestoreArrayRead(x, &xa));
    PetscReal sum = 0;
    MPI_Allreduce(&local, &sum, 1, MPIU_REAL, MPIU_SUM, layout_.comm);
    return -PetscRealPart(cx) + eps_ * sum;
  }

  void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) override {
    hessian_diagonal(x, theta, y);
    FOLDOPT_CALL(VecPointwiseMult(y, y, v));
  }
  OwnedMat hessian(Vec x, const ParamSet& theta) override {
    OwnedVec d;
    FOLDOPT_CALL(VecDuplicate(x, d.out()));
    hessian_diagonal(x, theta, d);
    return objectives_detail::diagonal_matrix(d);
  }
  void hessian_diagonal(Vec x, const ParamSet&, Vec d) override {
    PetscInt nl;
    FOLDOPT_CALL(VecGetLocalSize(x, &nl));
    const PetscScalar* xa;
    PetscScalar* da;
    FOLDOPT_CALL(VecGetArrayRead(x, &xa));
    FOLDOPT_CALL(VecGetArray(d, &da));
    for (PetscInt i = 0; i < nl; ++i) {
      const PetscReal xi = PetscRealPart(xa[i]);
      da[i] = xi > kFloor ? eps_ / xi : 0.0;
    }
    FOLDOPT_CALL(VecRestoreArray(d, &da));
    FOLDOPT_CALL(VecRestoreArrayRead(x, &xa));
  }
  void gradient_param_t(Vec, const ParamSet&, Vec v, ParamSet& out) override {
    if (out.has(c_)) FOLDOPT_CALL(VecAXPY(out.get(c_), -1.0, v));
  }
  void gradient_param(Vec, const ParamSet&, const ParamSet& dtheta, Vec y) override {
    if (dtheta.has(c_)) FOLDOPT_CALL(VecAXPY(y, -1.0, dtheta.get(c_)));
  }
  PetscReal curvature_bound(const ParamSet&) override { return 0; }

 private:
  static void check_epsilon(PetscReal eps) {
    FOLDOPT_CHECK(eps > 0 && std::isfinite(eps), PETSC_ERR_ARG_OUTOFRANGE,
                  "entropy: epsilon %g must be positive and finite", (double)eps);
  }

  Layout layout_;
  PetscReal eps_;
  std::string c_;
};

}  // namespace

std::unique_ptr<Objective> make_entropy(const Layout& layout, PetscReal epsilon, const std::string& c) {
  return std::unique_ptr<Objective>(new EntropyObjective(layout, epsilon, c));
}

namespace objectives_detail {
/// By name: ε = 1 until set_from_options reads -<prefix>epsilon; c is the block `c`.
std::unique_ptr<Objective> create_entropy(const PartContext& ctx) {
  auto f = make_entropy(ctx.layout, 1.0, "c");
  f->set_options_prefix(ctx.prefix);
  return f;
}
}  // namespace objectives_detail
}  // namespace foldopt
