// foldopt: helpers shared by the built-in problems (see common.hpp).
//
// Method: entry checks collective by check_collective; the constraint Σᵢ x_bi = k from batch::sums
//   and its Jacobian as a B×(B·n) AIJ matrix of ones.
// References: none beyond the problems that use them (sparsemax.hpp, topk.hpp).
#include "problems/common.hpp"

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>

#include <cmath>

namespace foldopt {
namespace detail {

void sum_constraint(Vec x, const Layout& l, PetscReal k, Vec c) {
  const std::vector<PetscReal> s = batch::sums(x, l.n);
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(c, &rstart, &rend));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(c, &a));
  for (PetscInt b = rstart; b < rend; ++b) a[b - rstart] = s[b] - k;
  FOLDOPT_CALL(VecRestoreArray(c, &a));
}

OwnedMat sum_constraint_jacobian(const Layout& l) {
  OwnedMat J;
  FOLDOPT_CALL(MatCreate(l.comm, J.out()));
  FOLDOPT_CALL(MatSetSizes(J, PETSC_DECIDE, l.local, l.batch, l.global()));
  FOLDOPT_CALL(MatSetType(J, MATAIJ));
  FOLDOPT_CALL(MatSetUp(J));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(J, &rstart, &rend));
  std::vector<PetscInt> cols(static_cast<std::size_t>(l.n));
  std::vector<PetscScalar> ones(static_cast<std::size_t>(l.n), 1.0);
  for (PetscInt b = rstart; b < rend; ++b) {
    for (PetscInt i = 0; i < l.n; ++i) cols[i] = b * l.n + i;
    FOLDOPT_CALL(MatSetValues(J, 1, &b, l.n, cols.data(), ones.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  return J;
}

const char* not_finite(PetscReal x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+inf" : "-inf";
  return nullptr;
}

}  // namespace detail
}  // namespace foldopt
