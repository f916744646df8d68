// foldopt: projection onto the Euclidean ball per instance (prox `ball`).
//
// Method:    prox(z)_b = z_b if ‖z_b‖ ≤ r_b, else r_b z_b/‖z_b‖ (α plays no role). The radii r_b > 0
//            are fixed numbers (one per instance, or -<prefix>radius for all) or one scalar
//            parameter block shared by the batch.
// Algorithm: with ẑ_b = z_b/‖z_b‖ (batch::norms: one allreduce for all instances),
//   inside (‖z_b‖ ≤ r_b, the boundary included: the element J = I of the generalized Jacobian)
//            J_b = I,  ∂x_b/∂r = 0;
//   outside  J_b = (r_b/‖z_b‖)(I − ẑ_b ẑ_bᵀ),  ∂x_b/∂r = ẑ_b.
//   J is not a projector outside (its nonzero eigenvalue is r/‖z_b‖ < 1), so the factor is the
//   square root K_b = √(r/‖z_b‖)(I − ẑ_b ẑ_bᵀ). Structure: d_b = r/‖z_b‖ (1 inside),
//   U = [ẑ_1 … ẑ_B], c_b = −r/‖z_b‖ (0 inside). (∂x/∂r)ᵀ v = Σ_b outside ⟨ẑ_b, v_b⟩ (a scalar
//   shared by the batch gets the sum over the instances).
// References: H. H. Bauschke, P. L. Combettes, Convex Analysis and Monotone Operator Theory in
//   Hilbert Spaces (Springer 2017), Example 3.18.
#include <foldopt/prox/ball.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>

#include "prox/prox_util.hpp"

#include <cmath>
#include <sstream>
#include "prox/factories.hpp"

namespace foldopt {

BallProx::BallProx(const Layout& layout, PetscReal radius) : BallProx(layout, std::vector<PetscReal>(layout.batch, radius)) {}

BallProx::BallProx(const Layout& layout, const std::vector<PetscReal>& radii) : layout_(layout), r_(radii) {
  FOLDOPT_CHECK(static_cast<PetscInt>(radii.size()) == layout.batch, PETSC_ERR_ARG_SIZ,
                "ball prox: %zu radii for %" PetscInt_FMT " instances", radii.size(), layout.batch);
  for (PetscReal r : radii)
    FOLDOPT_CHECK(std::isfinite(r) && r > 0, PETSC_ERR_ARG_OUTOFRANGE, "ball prox: radius %g must be positive", (double)r);
}

BallProx::BallProx(const Layout& layout, const std::string& block) : layout_(layout), block_(block) {
  FOLDOPT_CHECK(!block.empty(), PETSC_ERR_ARG_WRONG, "ball prox: no block name for the radius");
}

Prox::Capabilities BallProx::capabilities() const {
  Capabilities c;
  c.projection = false;  // J is not an orthogonal projector outside the ball
  c.low_rank = true;
  c.factor = true;
  c.parameters = !block_.empty();
  return c;
}

std::string BallProx::describe() const {
  std::ostringstream s;
  s << "ball {||x||_2 <= ";
  bool same = true;
  for (PetscReal r : r_) same = same && r == r_[0];
  if (!block_.empty()) s << "block " << block_;
  else if (same && !r_.empty()) s << r_[0];
  else s << "r_b";
  s << "} per instance of " << layout_.n;
  return s.str();
}

void BallProx::set_from_options() {
  PetscReal r = r_.empty() ? 1.0 : r_[0];
  PetscBool set = PETSC_FALSE;
  prox_detail::read_options(prox_detail::comm_of(layout_), prefix_, "Ball projection",
                            {{"radius", "Radius of the ball of every instance", &r, 0, 1e300, true, &set}});
  if (set) {
    r_.assign(layout_.batch, r);
    block_.clear();
  }
}

std::vector<PetscReal> BallProx::radii(const ParamSet& theta) const {
  if (block_.empty()) return r_;
  const PetscReal r = prox_detail::scalar_of(theta, block_, "ball prox");
  FOLDOPT_CHECK(r > 0, PETSC_ERR_ARG_OUTOFRANGE, "ball prox: parameter block '%s' = %g: the radius must be positive",
                block_.c_str(), (double)r);
  return std::vector<PetscReal>(layout_.batch, r);
}

void BallProx::apply(Vec z, PetscReal, const ParamSet& theta, Vec y) {
  prox_detail::check_size(z, layout_, "ball prox", "z");
  const std::vector<PetscReal> r = radii(theta);
  std::vector<PetscReal> f = batch::norms(z, layout_.n);
  for (std::size_t b = 0; b < f.size(); ++b) f[b] = f[b] > r[b] ? r[b] / f[b] : 1.0;
  batch::scale(f, z, layout_.n, y);
}

void BallProx::linearize(Vec z, PetscReal, const ParamSet& theta) {
  prox_detail::check_size(z, layout_, "ball prox", "z");
  rlin_ = radii(theta);
  norm_ = batch::norms(z, layout_.n);
  if (!zhat_) FOLDOPT_CALL(VecDuplicate(z, zhat_.out()));
  std::vector<PetscReal> inv(norm_.size());
  for (std::size_t b = 0; b < inv.size(); ++b) inv[b] = norm_[b] > rlin_[b] ? 1.0 / norm_[b] : 0.0;
  batch::scale(inv, z, layout_.n, zhat_);
}

void BallProx::product(Vec v, Vec y, bool root) {
  FOLDOPT_CHECK(zhat_ && !norm_.empty(), PETSC_ERR_ORDER, "ball prox: product before linearize");
  std::vector<PetscReal> dot = batch::dots(zhat_, v, layout_.n), f(norm_.size());
  for (std::size_t b = 0; b < f.size(); ++b) {
    f[b] = norm_[b] > rlin_[b] ? rlin_[b] / norm_[b] : 1.0;
    if (root) f[b] = std::sqrt(f[b]);
    dot[b] *= -f[b];
  }
  batch::scale(f, v, layout_.n, y);
  batch::axpy(dot, zhat_, layout_.n, y);
}

void BallProx::jacobian_mult(Vec v, Vec y) { product(v, y, false); }
void BallProx::factor_mult(Vec v, Vec y) { product(v, y, true); }

void BallProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(zhat_ && !norm_.empty(), PETSC_ERR_ORDER, "ball prox: jacobian_structure before linearize");
  std::vector<PetscReal> f(norm_.size()), coef(norm_.size());
  for (std::size_t b = 0; b < f.size(); ++b) {
    const bool out = norm_[b] > rlin_[b];
    f[b] = out ? rlin_[b] / norm_[b] : 1.0;
    coef[b] = out ? -f[b] : 0.0;
  }
  batch::broadcast(f, layout_.n, d);
  prox_detail::build_low_rank(zhat_, layout_.n, coef, U, c);
}

void BallProx::param_t(Vec v, ParamSet& out) {
  if (block_.empty()) return;
  FOLDOPT_CHECK(zhat_, PETSC_ERR_ORDER, "ball prox: param_t before linearize");
  PetscReal total = 0;
  for (PetscReal d : batch::dots(zhat_, v, layout_.n)) total += d;
  prox_detail::add_scalar(out, block_, total, "ball prox");
}

void BallProx::param(const ParamSet& dtheta, Vec y) {
  if (block_.empty()) return;
  FOLDOPT_CHECK(zhat_, PETSC_ERR_ORDER, "ball prox: param before linearize");
  FOLDOPT_CALL(VecAXPY(y, prox_detail::scalar_of(dtheta, block_, "ball prox"), zhat_));
}

/// Radius 1 unless -<prefix>radius is given.
std::unique_ptr<Prox> make_ball_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new BallProx(prox_detail::layout_of(ctx), PetscReal(1))), ctx);
}

}  // namespace foldopt
