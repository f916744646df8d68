// foldopt: selections of constraint rows (see rows.hpp).
//
// Method: S_{r, i_r} = s_r with r = (picks on lower ranks) + (position among this rank's picks);
//   one entry per row of S, so one diagonal- and one off-diagonal-block entry preallocated per row.
// References: PETSc manual, MatCreateAIJ, MatSetValues (off-process rows are sent at assembly).
#include "maps/admm/rows.hpp"

#include <foldopt/error.hpp>

namespace foldopt {
namespace admm_detail {

PetscInt count(MPI_Comm comm, const std::vector<Pick>& picks) {
  PetscInt mine = static_cast<PetscInt>(picks.size()), total = 0;
  MPI_Allreduce(&mine, &total, 1, MPIU_INT, MPI_SUM, comm);
  return total;
}

OwnedMat selection(MPI_Comm comm, PetscInt local_cols, PetscInt cols, const std::vector<Pick>& picks, int tag) {
  PetscInt mine = static_cast<PetscInt>(picks.size()), start = 0;
  MPI_Exscan(&mine, &start, 1, MPIU_INT, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) start = 0;
  const PetscInt k = count(comm, picks);
  OwnedMat S;
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, local_cols, k, cols, 1, nullptr, 1, nullptr, S.out()));
  FOLDOPT_CALL(MatSetOption(S, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_FALSE));
  for (PetscInt p = 0; p < mine; ++p) {
    const Pick& pk = picks[static_cast<std::size_t>(p)];
    if (tag >= 0 && pk.tag != tag) continue;
    const PetscInt r = start + p;
    FOLDOPT_CALL(MatSetValue(S, r, pk.row, pk.value, INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(S, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(S, MAT_FINAL_ASSEMBLY));
  return S;
}

}  // namespace admm_detail
}  // namespace foldopt
