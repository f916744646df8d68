// foldopt: selections of constraint rows (private to the ADMM map, its forward and the qp problem).
//
// Method: a selection S (k × M) has one entry per row, S_{r, i_r} = s_r, picking the rows
//   i_r of an M-row operator in the order of their global index (several picks of one row
//   allowed); S·A then holds those rows (signed), S·v their values, Sᵀw puts k values back in
//   place. The rows of S are PETSc's split of k and its columns the operator's row split, so
//   no rank needs the global list of picks: each rank numbers its own picks after those of the
//   lower ranks (one MPI_Exscan) and sets the entries of rows other ranks may own.
// References: PETSc manual, MatMatMult.
#ifndef FOLDOPT_SRC_MAPS_ADMM_ROWS_HPP
#define FOLDOPT_SRC_MAPS_ADMM_ROWS_HPP

#include <foldopt/params.hpp>

#include <vector>

namespace foldopt {
namespace admm_detail {

/// One pick of a row: its global index (owned by this rank), the entry of S, and a tag.
struct Pick {
  PetscInt row = 0;
  PetscScalar value = 1;
  int tag = 0;
};

/// The selection of every pick (rows numbered over all picks of every tag, in order of the
/// ranks, then of `picks`), with entries only for the picks tagged `tag` (tag < 0: all).
/// `local_cols`, `cols`: the operator's rows (this rank's count, global count). Collective.
OwnedMat selection(MPI_Comm comm, PetscInt local_cols, PetscInt cols, const std::vector<Pick>& picks, int tag = -1);

/// Global number of picks (collective).
PetscInt count(MPI_Comm comm, const std::vector<Pick>& picks);

}  // namespace admm_detail
}  // namespace foldopt

#endif  // FOLDOPT_SRC_MAPS_ADMM_ROWS_HPP
