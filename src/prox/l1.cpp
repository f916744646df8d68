// foldopt: soft-thresholding, the prox of λ‖x‖₁ (prox `l1`).
//
// Method:    prox_{αh}(z)ᵢ = sign(zᵢ) max(|zᵢ| − αλ, 0), λ ≥ 0 a fixed number (-<prefix>lambda)
//            or a scalar parameter block (e.g. `lambda`, shared by the batch).
// Algorithm: support mask mᵢ = [|zᵢ| > αλ]; at |zᵢ| = αλ the entry counts as outside (J_ii = 0).
//            J = diag(m), a 0/1 diagonal: K = J^{1/2} = J. ∂prox/∂λ = −α sign(z) ⊙ m, so
//            (∂prox/∂λ)ᵀ v = −α Σᵢ mᵢ sign(zᵢ) vᵢ over the batch.
// References: N. Parikh, S. Boyd, Proximal Algorithms (2014), §6.5.2.
#include <foldopt/prox/l1.hpp>

#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

#include <cmath>
#include <sstream>

namespace foldopt {

L1Prox::L1Prox(const Layout& layout, PetscReal lambda) : layout_(layout), lambda_(lambda) {
  FOLDOPT_CHECK(std::isfinite(lambda) && lambda >= 0, PETSC_ERR_ARG_OUTOFRANGE, "l1 prox: lambda %g must be >= 0",
                (double)lambda);
}

L1Prox::L1Prox(const Layout& layout, const std::string& block) : layout_(layout), block_(block) {
  FOLDOPT_CHECK(!block.empty(), PETSC_ERR_ARG_WRONG, "l1 prox: no block name for lambda");
}

Prox::Capabilities L1Prox::capabilities() const {
  Capabilities c;
  c.factor = true;
  c.parameters = !block_.empty();
  return c;
}

std::string L1Prox::describe() const {
  std::ostringstream s;
  s << "l1 (soft-thresholding by alpha*lambda, lambda ";
  if (block_.empty()) s << lambda_;
  else s << "block " << block_;
  s << ")";
  return s.str();
}

void L1Prox::set_from_options() {
  PetscReal lam = lambda_;
  PetscBool set = PETSC_FALSE;
  prox_detail::read_options(prox_detail::comm_of(layout_), prefix_, "Soft-thresholding",
                            {{"lambda", "Fixed weight lambda of ||x||_1 (in place of the block)", &lam, 0, 1e300, false, &set}});
  if (set) {
    lambda_ = lam;
    block_.clear();
  }
}

PetscReal L1Prox::lambda(const ParamSet& theta) const {
  if (block_.empty()) return lambda_;
  const PetscReal l = prox_detail::scalar_of(theta, block_, "l1 prox");
  FOLDOPT_CHECK(l >= 0, PETSC_ERR_ARG_OUTOFRANGE, "l1 prox: parameter block '%s' = %g must be >= 0", block_.c_str(),
                (double)l);
  return l;
}

namespace {
void check_alpha(PetscReal alpha, const char* who) {
  FOLDOPT_CHECK(std::isfinite(alpha) && alpha >= 0, PETSC_ERR_ARG_OUTOFRANGE, "%s: stepsize %g must be >= 0", who,
                (double)alpha);
}
}  // namespace

void L1Prox::apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) {
  prox_detail::check_size(z, layout_, "l1 prox", "z");
  check_alpha(alpha, "l1 prox");
  const PetscReal t = alpha * lambda(theta);
  if (y != z) FOLDOPT_CALL(VecCopy(z, y));
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(y, &nloc));
  WriteArray a(y);
  for (PetscInt i = 0; i < nloc; ++i) {
    const PetscReal v = PetscRealPart(a[i]);
    a[i] = std::abs(v) > t ? (v > 0 ? v - t : v + t) : 0.0;
  }
}

void L1Prox::linearize(Vec z, PetscReal alpha, const ParamSet& theta) {
  prox_detail::check_size(z, layout_, "l1 prox", "z");
  check_alpha(alpha, "l1 prox");
  alpha_ = alpha;
  const PetscReal t = alpha * lambda(theta);
  if (!mask_) {
    FOLDOPT_CALL(VecDuplicate(z, mask_.out()));
    FOLDOPT_CALL(VecDuplicate(z, sign_.out()));
  }
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(z, &nloc));
  {
    ReadArray a(z);
    WriteArray m(mask_), s(sign_);
    for (PetscInt i = 0; i < nloc; ++i) {
      const bool on = std::abs(a[i]) > t;
      m[i] = on ? 1.0 : 0.0;
      s[i] = on ? (a[i] > 0 ? 1.0 : -1.0) : 0.0;
    }
  }
  free_ = prox_detail::count_nonzero(mask_);
}

void L1Prox::jacobian_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(mask_, PETSC_ERR_ORDER, "l1 prox: jacobian_mult before linearize");
  FOLDOPT_CALL(VecPointwiseMult(y, mask_, v));
}

void L1Prox::factor_mult(Vec v, Vec y) { jacobian_mult(v, y); }

void L1Prox::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(mask_, PETSC_ERR_ORDER, "l1 prox: jacobian_structure before linearize");
  FOLDOPT_CALL(VecCopy(mask_, d));
  if (U) U->reset();
  if (c) c->reset();
}

void L1Prox::param_t(Vec v, ParamSet& out) {
  if (block_.empty()) return;
  FOLDOPT_CHECK(sign_, PETSC_ERR_ORDER, "l1 prox: param_t before linearize");
  PetscScalar d;
  FOLDOPT_CALL(VecDot(v, sign_, &d));
  prox_detail::add_scalar(out, block_, -alpha_ * PetscRealPart(d), "l1 prox");
}

void L1Prox::param(const ParamSet& dtheta, Vec y) {
  if (block_.empty()) return;
  FOLDOPT_CHECK(sign_, PETSC_ERR_ORDER, "l1 prox: param before linearize");
  FOLDOPT_CALL(VecAXPY(y, -alpha_ * prox_detail::scalar_of(dtheta, block_, "l1 prox"), sign_));
}

std::unique_ptr<Prox> make_l1_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new L1Prox(prox_detail::layout_of(ctx), std::string("lambda"))), ctx);
}

}  // namespace foldopt
