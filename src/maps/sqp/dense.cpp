// foldopt: dense copies of small distributed objects on every rank (see dense.hpp).
//
// Method: Eigen views of core's all_values / all_entries (VecScatterCreateToAll; an
//   MPI_Allgatherv of every rank's row triplets). Used by the SQP map's dense route only.
// Algorithm: the whole object on every rank, by global index.
// References: PETSc 3.18 manual pages VecScatterCreateToAll, MatGetRow.
#include "maps/sqp/dense.hpp"

#include <foldopt/error.hpp>

#include "core/util.hpp"

#include <vector>

namespace foldopt {
namespace dense {

Eigen::VectorXd all_of(Vec v) {
  if (!v) return Eigen::VectorXd();
  const std::vector<PetscScalar> a = all_values(v);
  Eigen::VectorXd out(static_cast<Eigen::Index>(a.size()));
  for (std::size_t i = 0; i < a.size(); ++i) out[static_cast<Eigen::Index>(i)] = PetscRealPart(a[i]);
  return out;
}

Eigen::MatrixXd all_of(Mat A) {
  PetscInt M, N;
  FOLDOPT_CALL(MatGetSize(A, &M, &N));
  const std::vector<PetscReal> e = all_entries(A);
  return Eigen::Map<const Eigen::Matrix<PetscReal, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(e.data(), M, N);
}

void set_local(Vec v, const Eigen::VectorXd& full) {
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &rs, &re));
  FOLDOPT_CHECK(re <= full.size(), PETSC_ERR_ARG_SIZ, "dense copy: a vector of %" PetscInt_FMT " entries from %ld",
                re, (long)full.size());
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(v, &a));
  for (PetscInt i = rs; i < re; ++i) a[i - rs] = full[i];
  FOLDOPT_CALL(VecRestoreArray(v, &a));
}

}  // namespace dense
}  // namespace foldopt
