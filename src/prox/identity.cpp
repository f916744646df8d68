// foldopt: the identity prox (prox `identity`, h = 0).
//
// Method:    prox_{αh}(z) = z.
// Algorithm: J = I (d = 1, no low-rank part), K = I; no parameters.
// References: none needed.
#include <foldopt/prox/identity.hpp>

#include <foldopt/error.hpp>

#include "prox/prox_util.hpp"
#include "prox/factories.hpp"

namespace foldopt {

IdentityProx::IdentityProx(const Layout& layout) : layout_(layout) {}

Prox::Capabilities IdentityProx::capabilities() const {
  Capabilities c;
  c.projection = true;  // J = I is an orthogonal projector
  c.factor = true;
  c.parameters = false;  // fixed data
  return c;
}

void IdentityProx::apply(Vec z, PetscReal, const ParamSet&, Vec y) {
  prox_detail::check_size(z, layout_, "identity prox", "z");
  if (y != z) FOLDOPT_CALL(VecCopy(z, y));
}

void IdentityProx::linearize(Vec z, PetscReal, const ParamSet&) {
  prox_detail::check_size(z, layout_, "identity prox", "z");
}

void IdentityProx::jacobian_mult(Vec v, Vec y) {
  if (y != v) FOLDOPT_CALL(VecCopy(v, y));
}

void IdentityProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CALL(VecSet(d, 1.0));
  if (U) U->reset();
  if (c) c->reset();
}

void IdentityProx::factor_mult(Vec v, Vec y) { jacobian_mult(v, y); }
void IdentityProx::param_t(Vec, ParamSet&) {}
void IdentityProx::param(const ParamSet&, Vec) {}

std::unique_ptr<Prox> make_identity_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new IdentityProx(prox_detail::layout_of(ctx))), ctx);
}

}  // namespace foldopt
