// foldopt: dense copies of small distributed objects on every rank (see dense.hpp).
//
// Method: VecScatterCreateToAll for vectors; an MPI_Allgatherv of every rank's row triplets for
//   matrices. Used by the SQP map's dense route only.
// References: PETSc 3.18 manual pages VecScatterCreateToAll, MatGetRow.
#include "maps/sqp/dense.hpp"

#include <foldopt/error.hpp>

#include <climits>
#include <vector>

namespace foldopt {
namespace dense {

Eigen::VectorXd all_of(Vec v) {
  if (!v) return Eigen::VectorXd();
  OwnedVecScatter sc;
  OwnedVec seq;
  FOLDOPT_CALL(VecScatterCreateToAll(v, sc.out(), seq.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, v, seq, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, v, seq, INSERT_VALUES, SCATTER_FORWARD));
  PetscInt n;
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetLocalSize(seq, &n));
  FOLDOPT_CALL(VecGetArrayRead(seq, &a));
  Eigen::VectorXd out(n);
  for (PetscInt i = 0; i < n; ++i) out[i] = PetscRealPart(a[i]);
  FOLDOPT_CALL(VecRestoreArrayRead(seq, &a));
  return out;
}

Eigen::MatrixXd all_of(Mat A) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &comm));
  PetscInt M, N, rs, re;
  FOLDOPT_CALL(MatGetSize(A, &M, &N));
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  std::vector<double> local;  // (row, col, value) triplets
  for (PetscInt r = rs; r < re; ++r) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    FOLDOPT_CALL(MatGetRow(A, r, &nc, &cols, &vals));
    for (PetscInt k = 0; k < nc; ++k) {
      local.push_back(static_cast<double>(r));
      local.push_back(static_cast<double>(cols[k]));
      local.push_back(PetscRealPart(vals[k]));
    }
    FOLDOPT_CALL(MatRestoreRow(A, r, &nc, &cols, &vals));
  }
  int size = 1;
  MPI_Comm_size(comm, &size);
  FOLDOPT_CHECK(local.size() < static_cast<std::size_t>(INT_MAX), PETSC_ERR_SUP, "dense copy: too many nonzeros");
  int cnt = static_cast<int>(local.size());
  std::vector<int> counts(size), displs(size);
  MPI_Allgather(&cnt, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  long long total = 0;
  for (int p = 0; p < size; ++p) {
    displs[p] = static_cast<int>(total);
    total += counts[p];
  }
  FOLDOPT_CHECK(total < INT_MAX, PETSC_ERR_SUP, "dense copy: too many nonzeros");
  std::vector<double> all(static_cast<std::size_t>(total));
  MPI_Allgatherv(local.data(), cnt, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, comm);
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(M, N);
  for (std::size_t k = 0; k + 2 < all.size(); k += 3)
    out(static_cast<Eigen::Index>(all[k]), static_cast<Eigen::Index>(all[k + 1])) += all[k + 2];
  return out;
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
