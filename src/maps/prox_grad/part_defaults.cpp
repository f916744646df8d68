// TEMPORARY until the parts' register.cpp land.
#include <foldopt/objective.hpp>
#include <foldopt/prox.hpp>
#include <foldopt/error.hpp>
namespace foldopt {
void Objective::view(PetscViewer v) const { PetscViewerASCIIPrintf(v, "objective: %s\n", describe().c_str()); }
OwnedMat Objective::hessian(Vec, const ParamSet&) { detail::throw_error(PETSC_ERR_SUP, "no hessian"); }
void Objective::hessian_diagonal(Vec, const ParamSet&, Vec) { detail::throw_error(PETSC_ERR_SUP, "no diag"); }
void Prox::view(PetscViewer v) const { PetscViewerASCIIPrintf(v, "prox: %s\n", describe().c_str()); }
void Prox::factor_mult(Vec, Vec) { detail::throw_error(PETSC_ERR_SUP, "no factor"); }
}
