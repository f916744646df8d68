// foldopt: the registry of proximal operators (prox_registry(), -fold_prox_type NAME) and the
// default Prox::view and Prox::factor_mult. Adding a prox is adding its file and one line here.
//
// Method:    the KSPRegisterAll pattern: one factory per name, each building its prox from a
//            PartContext with the defaults its file documents and reading -<ctx.prefix>... options.
// Algorithm: factor_mult defaults to K = J for projections (J an orthogonal projector: J = J J);
//            any other prox without its own factor refuses.
// References: PETSc's KSPRegister / KSPRegisterAll.
#include <foldopt/prox.hpp>

#include <foldopt/error.hpp>

#include "prox/factories.hpp"

namespace foldopt {

void Prox::view(PetscViewer viewer) const {
  PetscBool ascii = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompare(reinterpret_cast<PetscObject>(viewer), PETSCVIEWERASCII, &ascii));
  if (!ascii) return;
  FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "prox: %s\n", describe().c_str()));
  const PetscInt f = free_count();
  if (f >= 0) FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "  %" PetscInt_FMT " entries with J_ii != 0\n", f));
}

void Prox::factor_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(capabilities().projection, PETSC_ERR_SUP,
                "prox %s has no factor K with J = K K^T (it is not a projection and does not provide one)",
                type().c_str());
  jacobian_mult(v, y);
}

ProxRegistry& prox_registry() {
  static ProxRegistry r = [] {
    ProxRegistry reg;
    reg.add("identity", make_identity_prox);
    reg.add("box", make_box_prox);
    reg.add("nonnegative", make_nonnegative_prox);
    reg.add("simplex", make_simplex_prox);
    reg.add("capped_simplex", make_capped_simplex_prox);
    reg.add("capped_simplex_product", make_capped_simplex_product_prox);
    reg.add("ball", make_ball_prox);
    reg.add("halfspace", make_halfspace_prox);
    reg.add("hyperplane", make_hyperplane_prox);
    reg.add("l1", make_l1_prox);
    reg.add("group_l1", make_group_l1_prox);
    reg.add("linear", make_linear_prox);
    return reg;
  }();
  return r;
}

}  // namespace foldopt
