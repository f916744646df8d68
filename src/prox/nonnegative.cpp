// foldopt: projection onto the nonnegative orthant (prox `nonnegative`).
//
// Method:    prox(z) = max(z, 0) componentwise.
// Algorithm: J = D = diag([z > 0]); at z_i = 0 the entry counts as at the bound (J_ii = 0).
//            J is an orthogonal projector: K = J. No parameters.
// References: N. Parikh, S. Boyd, Proximal Algorithms (2014), §6.2.
#include <foldopt/prox/nonnegative.hpp>

#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "prox/prox_util.hpp"
#include "prox/factories.hpp"

namespace foldopt {

Prox::Capabilities NonnegativeProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.factor = true;
  c.parameters = false;  // fixed data
  return c;
}

void NonnegativeProx::apply(Vec z, PetscReal, const ParamSet&, Vec y) {
  prox_detail::check_size(z, layout_, "nonnegative prox", "z");
  if (y != z) FOLDOPT_CALL(VecCopy(z, y));
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(y, &nloc));
  WriteArray a(y);
  for (PetscInt i = 0; i < nloc; ++i)
    if (!(PetscRealPart(a[i]) > 0)) a[i] = 0;
}

void NonnegativeProx::linearize(Vec z, PetscReal, const ParamSet&) {
  prox_detail::check_size(z, layout_, "nonnegative prox", "z");
  if (!mask_) FOLDOPT_CALL(VecDuplicate(z, mask_.out()));
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(z, &nloc));
  {
    ReadArray a(z);
    WriteArray m(mask_);
    for (PetscInt i = 0; i < nloc; ++i) m[i] = a[i] > 0 ? 1.0 : 0.0;
  }
  free_ = prox_detail::count_nonzero(mask_);
}

void NonnegativeProx::jacobian_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(mask_, PETSC_ERR_ORDER, "nonnegative prox: jacobian_mult before linearize");
  FOLDOPT_CALL(VecPointwiseMult(y, mask_, v));
}

void NonnegativeProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(mask_, PETSC_ERR_ORDER, "nonnegative prox: jacobian_structure before linearize");
  FOLDOPT_CALL(VecCopy(mask_, d));
  if (U) U->reset();
  if (c) c->reset();
}

void NonnegativeProx::factor_mult(Vec v, Vec y) { jacobian_mult(v, y); }

std::unique_ptr<Prox> make_nonnegative_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new NonnegativeProx(prox_detail::layout_of(ctx))), ctx);
}

}  // namespace foldopt
