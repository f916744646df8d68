// foldopt: projection onto a box (prox `box`).
//
// Method:    prox(z) = P_[lb,ub](z) = min(max(z, lb), ub) componentwise (the prox of the box's
//            indicator; α plays no role). Bounds: blocks `lb`/`ub` of θ, fixed Vecs, fixed
//            numbers, or [−λ, λ] with λ a scalar block.
// Algorithm: masks at the linearization point z:
//              E_lo = [z ≤ lb],  E_hi = [z ≥ ub and not z ≤ lb],  D = 1 − E_lo − E_hi (free);
//            at a tie the entry counts as at the bound (the element of the generalized Jacobian
//            with J_ii = 0, as the pgd map).
//   J = D (an orthogonal projector, K = J),   ∂prox/∂lb = E_lo,   ∂prox/∂ub = E_hi,
//   symmetric box: ∂prox/∂λ = E_hi − E_lo, so (∂prox/∂λ)ᵀ v = Σᵢ (E_hi − E_lo)ᵢ vᵢ (over the batch).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §6.4.
#include <foldopt/prox/box.hpp>

#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "prox/prox_util.hpp"

#include <cmath>
#include <sstream>
#include "prox/factories.hpp"

namespace foldopt {

std::unique_ptr<BoxProx> BoxProx::from_blocks(const Layout& layout, const std::string& lb, const std::string& ub) {
  std::unique_ptr<BoxProx> p(new BoxProx(layout));
  if (!lb.empty()) {
    p->lo_.kind = Side::from_block;
    p->lo_.block = lb;
  }
  if (!ub.empty()) {
    p->hi_.kind = Side::from_block;
    p->hi_.block = ub;
  }
  return p;
}

std::unique_ptr<BoxProx> BoxProx::from_vecs(const Layout& layout, Vec lb, Vec ub) {
  std::unique_ptr<BoxProx> p(new BoxProx(layout));
  if (lb) {
    prox_detail::check_size(lb, layout, "box prox", "the lower bound");
    p->lo_.kind = Side::fixed_vec;
    p->lo_.vec = OwnedVec::share(lb);
  }
  if (ub) {
    prox_detail::check_size(ub, layout, "box prox", "the upper bound");
    p->hi_.kind = Side::fixed_vec;
    p->hi_.vec = OwnedVec::share(ub);
  }
  return p;
}

std::unique_ptr<BoxProx> BoxProx::from_function(const Layout& layout,
                                                std::function<void(const ParamSet&, Vec, Vec)> bounds,
                                                const std::string& lb_block, const std::string& ub_block,
                                                const std::string& what) {
  std::unique_ptr<BoxProx> p(new BoxProx(layout));
  p->fn_ = std::move(bounds);
  p->fn_what_ = what;
  p->lo_.block = lb_block;  // kind none: the function gives the values, the names take the products
  p->hi_.block = ub_block;
  return p;
}

std::unique_ptr<BoxProx> BoxProx::from_numbers(const Layout& layout, PetscReal lo, PetscReal hi) {
  FOLDOPT_CHECK(!std::isnan(lo) && !std::isnan(hi) && lo <= hi && lo < PETSC_INFINITY && hi > PETSC_NINFINITY,
                PETSC_ERR_ARG_OUTOFRANGE, "box prox: bounds [%g, %g] must satisfy lb <= ub", (double)lo, (double)hi);
  std::unique_ptr<BoxProx> p(new BoxProx(layout));
  if (std::isfinite(lo)) {
    p->lo_.kind = Side::number;
    p->lo_.value = lo;
  }
  if (std::isfinite(hi)) {
    p->hi_.kind = Side::number;
    p->hi_.value = hi;
  }
  return p;
}

std::unique_ptr<BoxProx> BoxProx::symmetric(const Layout& layout, const std::string& lambda) {
  FOLDOPT_CHECK(!lambda.empty(), PETSC_ERR_ARG_WRONG, "box prox: the symmetric box needs a block name for lambda");
  std::unique_ptr<BoxProx> p(new BoxProx(layout));
  p->lambda_ = lambda;
  return p;
}

Prox::Capabilities BoxProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.factor = true;
  c.parameters = !lo_.block.empty() || !hi_.block.empty() || !lambda_.empty();
  return c;
}

namespace {
std::string side_text(const BoxProx::Side& s, const char* inf) {
  std::ostringstream o;
  switch (s.kind) {
    case BoxProx::Side::none: o << inf; break;
    case BoxProx::Side::number: o << s.value; break;
    case BoxProx::Side::from_block: o << "block " << s.block; break;
    case BoxProx::Side::fixed_vec: o << "fixed vector"; break;
  }
  return o.str();
}
}  // namespace

std::string BoxProx::describe() const {
  if (!lambda_.empty()) return "box [-" + lambda_ + ", " + lambda_ + "] (scalar block " + lambda_ + ")";
  if (fn_) return "box [lb, ub]: " + fn_what_;
  return "box [" + side_text(lo_, "-inf") + ", " + side_text(hi_, "+inf") + "]";
}

void BoxProx::set_from_options() {
  if (fn_) return;  // the bounds are the function's
  PetscReal lo = lo_.kind == Side::number ? lo_.value : 0, hi = hi_.kind == Side::number ? hi_.value : 0;
  PetscBool lo_set = PETSC_FALSE, hi_set = PETSC_FALSE;
  prox_detail::read_options(prox_detail::comm_of(layout_), prefix_, "Box projection",
                            {{"lb", "Fixed lower bound of every entry (in place of the block lb)", &lo, -1e300, 1e300,
                              false, &lo_set},
                             {"ub", "Fixed upper bound of every entry (in place of the block ub)", &hi, -1e300, 1e300,
                              false, &hi_set}});
  if (lo_set) {
    lo_.kind = Side::number;
    lo_.value = lo;
    lambda_.clear();
  }
  if (hi_set) {
    hi_.kind = Side::number;
    hi_.value = hi;
    lambda_.clear();
  }
  if (lo_.kind == Side::number && hi_.kind == Side::number)
    FOLDOPT_CHECK(lo_.value <= hi_.value, PETSC_ERR_ARG_OUTOFRANGE, "-%slb %g exceeds -%sub %g", prefix_.c_str(), (double)lo_.value,
                  prefix_.c_str(), (double)hi_.value);
  linearized_ = false;
}

void BoxProx::bounds(Vec like, const ParamSet& theta) {
  if (!lb_) {
    FOLDOPT_CALL(VecDuplicate(like, lb_.out()));
    FOLDOPT_CALL(VecDuplicate(like, ub_.out()));
  }
  if (fn_) {
    fn_(theta, lb_, ub_);
  } else if (!lambda_.empty()) {
    const PetscReal lam = prox_detail::scalar_of(theta, lambda_, "box prox");
    FOLDOPT_CHECK(lam >= 0, PETSC_ERR_ARG_OUTOFRANGE, "box prox: parameter block '%s' = %g must be nonnegative",
                  lambda_.c_str(), (double)lam);
    FOLDOPT_CALL(VecSet(lb_, -lam));
    FOLDOPT_CALL(VecSet(ub_, lam));
    return;
  } else {
    fill_sides(theta);
    if (lo_.kind == Side::number && hi_.kind == Side::number) return;  // checked when set
  }
  check_bounds();
}

void BoxProx::fill_sides(const ParamSet& theta) {
  auto fill = [&](const Side& s, Vec out, PetscReal inf) {
    switch (s.kind) {
      case Side::none: FOLDOPT_CALL(VecSet(out, inf)); break;
      case Side::number: FOLDOPT_CALL(VecSet(out, s.value)); break;
      case Side::from_block: FOLDOPT_CALL(VecCopy(prox_detail::instance_block(theta, s.block, layout_, "box prox"), out)); break;
      case Side::fixed_vec: FOLDOPT_CALL(VecCopy(s.vec, out)); break;
    }
  };
  fill(lo_, lb_, PETSC_NINFINITY);
  fill(hi_, ub_, PETSC_INFINITY);
}

void BoxProx::check_bounds() {
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(lb_, &rstart, &rend));
  PetscInt bad = -1;
  PetscReal bl = 0, bu = 0;
  {
    ReadArray l(lb_), u(ub_);
    for (PetscInt i = 0; i < rend - rstart && bad < 0; ++i)
      if (!(l[i] <= u[i]) || l[i] == PETSC_INFINITY || u[i] == PETSC_NINFINITY) {
        bad = rstart + i;
        bl = l[i];
        bu = u[i];
      }
  }
  check_collective(prox_detail::comm_of(layout_), bad < 0, PETSC_ERR_ARG_OUTOFRANGE,
                   detail::format("box prox: lb > ub at entry %" PetscInt_FMT " (lb = %g, ub = %g)", bad, (double)bl,
                                  (double)bu));
}

void BoxProx::apply(Vec z, PetscReal, const ParamSet& theta, Vec y) {
  prox_detail::check_size(z, layout_, "box prox", "z");
  bounds(z, theta);
  FOLDOPT_CALL(VecPointwiseMax(y, z, lb_));
  FOLDOPT_CALL(VecPointwiseMin(y, y, ub_));
}

void BoxProx::linearize(Vec z, PetscReal, const ParamSet& theta) {
  prox_detail::check_size(z, layout_, "box prox", "z");
  bounds(z, theta);
  if (!free_mask_) {
    FOLDOPT_CALL(VecDuplicate(z, free_mask_.out()));
    FOLDOPT_CALL(VecDuplicate(z, at_lo_.out()));
    FOLDOPT_CALL(VecDuplicate(z, at_hi_.out()));
    FOLDOPT_CALL(VecDuplicate(z, work_.out()));
  }
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(z, &nloc));
  {
    ReadArray a(z), l(lb_), u(ub_);
    WriteArray d(free_mask_), el(at_lo_), eu(at_hi_);
    for (PetscInt i = 0; i < nloc; ++i) {
      const bool lo = a[i] <= l[i], hi = !lo && a[i] >= u[i];
      el[i] = lo ? 1.0 : 0.0;
      eu[i] = hi ? 1.0 : 0.0;
      d[i] = (lo || hi) ? 0.0 : 1.0;
    }
  }
  free_ = prox_detail::count_nonzero(free_mask_);
  linearized_ = true;
}

void BoxProx::jacobian_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "box prox: jacobian_mult before linearize");
  FOLDOPT_CALL(VecPointwiseMult(y, free_mask_, v));
}

void BoxProx::factor_mult(Vec v, Vec y) { jacobian_mult(v, y); }

void BoxProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "box prox: jacobian_structure before linearize");
  FOLDOPT_CALL(VecCopy(free_mask_, d));
  if (U) U->reset();
  if (c) c->reset();
}

bool BoxProx::takes_products(const Side& s, const ParamSet& set) const {
  if (s.kind == Side::from_block) return true;
  return fn_ && !s.block.empty() && set.has(s.block);  // a function's bounds: the named blocks θ has
}

void BoxProx::param_t(Vec v, ParamSet& out) {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "box prox: param_t before linearize");
  if (!lambda_.empty()) {
    PetscScalar a, b;
    FOLDOPT_CALL(VecDot(v, at_hi_, &a));
    FOLDOPT_CALL(VecDot(v, at_lo_, &b));
    prox_detail::add_scalar(out, lambda_, PetscRealPart(a) - PetscRealPart(b), "box prox");
    return;
  }
  if (takes_products(lo_, out)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, at_lo_, v));
    FOLDOPT_CALL(VecAXPY(prox_detail::instance_block(out, lo_.block, layout_, "box prox"), 1.0, work_));
  }
  if (takes_products(hi_, out)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, at_hi_, v));
    FOLDOPT_CALL(VecAXPY(prox_detail::instance_block(out, hi_.block, layout_, "box prox"), 1.0, work_));
  }
}

void BoxProx::param(const ParamSet& dtheta, Vec y) {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "box prox: param before linearize");
  if (!lambda_.empty()) {
    const PetscReal dl = prox_detail::scalar_of(dtheta, lambda_, "box prox");
    FOLDOPT_CALL(VecAXPY(y, dl, at_hi_));
    FOLDOPT_CALL(VecAXPY(y, -dl, at_lo_));
    return;
  }
  if (takes_products(lo_, dtheta)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, at_lo_, prox_detail::instance_block(dtheta, lo_.block, layout_, "box prox")));
    FOLDOPT_CALL(VecAXPY(y, 1.0, work_));
  }
  if (takes_products(hi_, dtheta)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, at_hi_, prox_detail::instance_block(dtheta, hi_.block, layout_, "box prox")));
    FOLDOPT_CALL(VecAXPY(y, 1.0, work_));
  }
}

/// Bounds from the blocks `lb` and `ub` of θ, or fixed numbers -<prefix>lb / -<prefix>ub.
std::unique_ptr<Prox> make_box_prox(const PartContext& ctx) {
  return configured(BoxProx::from_blocks(prox_detail::layout_of(ctx), "lb", "ub"), ctx);
}

}  // namespace foldopt
