// foldopt: the objective registry and Objective's defaults. Adding an objective is adding its
// file and one line here.
//
// Defaults: view prints describe(); hessian and hessian_diagonal, which an objective provides
// only when its capabilities() say so, throw "objective 'x' does not provide ...".
//
// Method: a registry by name (KSPRegister's pattern) filled on first use.
// References: PETSc manual, KSPRegister / KSPSetType.
#include <foldopt/objective.hpp>

#include <foldopt/error.hpp>

#include "objectives/common.hpp"

namespace foldopt {

void Objective::view(PetscViewer viewer) const {
  FOLDOPT_CALL(PetscViewerASCIIPrintf(viewer, "objective: %s\n", describe().c_str()));
}

OwnedMat Objective::hessian(Vec, const ParamSet&) {
  detail::throw_error(PETSC_ERR_SUP, "objective '" + type() + "' does not provide an assembled Hessian");
}

void Objective::hessian_diagonal(Vec, const ParamSet&, Vec) {
  detail::throw_error(PETSC_ERR_SUP, "objective '" + type() + "' does not provide the diagonal of its Hessian");
}

ObjectiveRegistry& objective_registry() {
  static ObjectiveRegistry r = [] {
    ObjectiveRegistry reg;
    reg.add("quadratic", objectives_detail::create_quadratic);
    reg.add("linear", objectives_detail::create_linear);
    reg.add("entropy", objectives_detail::create_entropy);
    reg.add("least_squares", objectives_detail::create_least_squares);
    reg.add("sin_quadratic", objectives_detail::create_sin_quadratic);
    reg.add("callback", objectives_detail::create_callback);
    return reg;
  }();
  return r;
}

}  // namespace foldopt
