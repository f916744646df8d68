// foldopt: a fixed-pattern matrix of an objective whose values may be a θ block; see
// matrix_parameter.hpp.
//
// Method (outer): for the stored nonzero k = (i, j) of the given M×N matrix,
//   G_k = Σ_s u[s·M + i] · v[s·N + j]   (s < B when the matrix is shared by the batch, else s = 0),
// the product (∂(Aᵀu or Au-type expression)/∂A_ij) restricted to the pattern. Algorithm: a
// scatter brings u[s·M + i] for the rank's rows i and v[s·N + j] for the columns j those rows use
// into sequential vectors; then one pass over the rank's stored entries.
#include "objectives/matrix_parameter.hpp"

#include <foldopt/error.hpp>

#include <petsc/private/petscimpl.h>  // PetscObjectStateGet: PETSc 3.18 declares it only here

#include <algorithm>
#include <vector>

namespace foldopt {
namespace objectives_detail {

namespace {

PetscInt local_nonzeros(Mat A) {
  PetscInt rs, re, total = 0;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, nullptr, nullptr));
    total += nc;
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, nullptr, nullptr));
  }
  return total;
}

/// Overwrite the stored values of A's local rows, in CSR order, with v's local entries.
void set_values(Mat A, Vec v) {
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  // the pattern first: MatGetRow is not allowed once values are being set
  std::vector<PetscInt> ptr(1, 0), cols;
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    const PetscInt* c;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, &c, nullptr));
    cols.insert(cols.end(), c, c + nc);
    ptr.push_back(static_cast<PetscInt>(cols.size()));
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, &c, nullptr));
  }
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(v, &a));
  for (PetscInt i = rs; i < re; ++i) {
    const PetscInt k0 = ptr[static_cast<std::size_t>(i - rs)], k1 = ptr[static_cast<std::size_t>(i - rs + 1)];
    FOLDOPT_CALL(MatSetValues(A, 1, &i, k1 - k0, cols.data() + k0, a + k0, INSERT_VALUES));
  }
  FOLDOPT_CALL(VecRestoreArrayRead(v, &a));
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
}

/// The entries idx (global, sorted or not) of the distributed x, on this rank.
OwnedVec fetch(Vec x, const std::vector<PetscInt>& idx) {
  OwnedVec out;
  FOLDOPT_CALL(VecCreateSeq(PETSC_COMM_SELF, static_cast<PetscInt>(idx.size()), out.out()));
  OwnedIS from;
  FOLDOPT_CALL(ISCreateGeneral(PETSC_COMM_SELF, static_cast<PetscInt>(idx.size()), idx.data(), PETSC_COPY_VALUES, from.out()));
  OwnedVecScatter sc;
  FOLDOPT_CALL(VecScatterCreate(x, from, out, nullptr, sc.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, x, out, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, x, out, INSERT_VALUES, SCATTER_FORWARD));
  return out;
}

}  // namespace

MatrixParameter::MatrixParameter(Mat given, const Layout& layout, const std::string& what, bool square,
                                 const std::string& block)
    : layout_(layout), what_(what), block_(block), square_(square) {
  op_ = batch_operator(given, layout, what, square);
  given_ = OwnedMat::share(given);
  local_nnz_ = local_nonzeros(given);
}

void MatrixParameter::check_values(Vec v) const {
  PetscInt nl;
  FOLDOPT_CALL(VecGetLocalSize(v, &nl));
  check_collective(layout_.comm, nl == local_nnz_, PETSC_ERR_ARG_SIZ,
                   detail::format("%s: block '%s' keeps %" PetscInt_FMT " values on this rank, but the matrix's rows here store %"
                                  PetscInt_FMT " nonzeros (the block must be the matrix's values, split by its rows)",
                                  what_.c_str(), block_.c_str(), nl, local_nnz_));
}

bool MatrixParameter::sync(const ParamSet& theta) {
  if (!in(theta)) return false;
  Vec v = theta.get(block_);
  PetscObjectId id;
  PetscObjectState state;
  FOLDOPT_CALL(PetscObjectGetId((PetscObject)v, &id));
  FOLDOPT_CALL(PetscObjectStateGet((PetscObject)v, &state));
  if (id == id_ && state == state_) return false;
  check_values(v);
  if (!own_copy_) {  // never change the caller's matrix
    OwnedMat copy;
    FOLDOPT_CALL(MatDuplicate(given_, MAT_COPY_VALUES, copy.out()));
    given_ = std::move(copy);
    own_copy_ = true;
  }
  set_values(given_, v);
  op_ = batch_operator(given_, layout_, what_, square_);
  id_ = id;
  state_ = state;
  return true;
}

OwnedVec MatrixParameter::outer(Vec u, Vec v) const {
  PetscInt M, N, rs, re;
  FOLDOPT_CALL(MatGetSize(given_, &M, &N));
  FOLDOPT_CALL(MatGetOwnershipRange(given_, &rs, &re));
  const PetscInt S = op_.shared ? layout_.batch : 1, rows = re - rs;
  std::vector<PetscInt> cols;  // the columns the local rows use
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    const PetscInt* c;
    FOLDOPT_CALL(MatGetRow(given_, i, &nc, &c, nullptr));
    cols.insert(cols.end(), c, c + nc);
    FOLDOPT_CALL(MatRestoreRow(given_, i, &nc, &c, nullptr));
  }
  std::sort(cols.begin(), cols.end());
  cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
  const PetscInt nj = static_cast<PetscInt>(cols.size());
  std::vector<PetscInt> ui, vi;
  for (PetscInt s = 0; s < S; ++s) {
    for (PetscInt i = rs; i < re; ++i) ui.push_back(s * M + i);
    for (PetscInt j : cols) vi.push_back(s * N + j);
  }
  OwnedVec ul = fetch(u, ui), vl = fetch(v, vi);
  OwnedVec G;
  FOLDOPT_CALL(VecCreateMPI(layout_.comm, local_nnz_, PETSC_DETERMINE, G.out()));
  const PetscScalar *ua, *va;
  PetscScalar* ga;
  FOLDOPT_CALL(VecGetArrayRead(ul, &ua));
  FOLDOPT_CALL(VecGetArrayRead(vl, &va));
  FOLDOPT_CALL(VecGetArray(G, &ga));
  PetscInt k = 0;
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    const PetscInt* c;
    FOLDOPT_CALL(MatGetRow(given_, i, &nc, &c, nullptr));
    for (PetscInt e = 0; e < nc; ++e, ++k) {
      const PetscInt pj = static_cast<PetscInt>(std::lower_bound(cols.begin(), cols.end(), c[e]) - cols.begin());
      PetscScalar sum = 0;
      for (PetscInt s = 0; s < S; ++s) sum += ua[s * rows + (i - rs)] * va[s * nj + pj];
      ga[k] = sum;
    }
    FOLDOPT_CALL(MatRestoreRow(given_, i, &nc, &c, nullptr));
  }
  FOLDOPT_CALL(VecRestoreArray(G, &ga));
  FOLDOPT_CALL(VecRestoreArrayRead(vl, &va));
  FOLDOPT_CALL(VecRestoreArrayRead(ul, &ua));
  return G;
}

OwnedMat MatrixParameter::direction(Vec dv) const {
  check_values(dv);
  OwnedMat D;
  FOLDOPT_CALL(MatDuplicate(given_, MAT_DO_NOT_COPY_VALUES, D.out()));
  set_values(D, dv);
  // the direction's own diagonal need not be stored: no `square` insertion of zeros is needed
  // for products, but batch_operator adds them harmlessly for a square pattern
  BatchOperator op = batch_operator(D, layout_, what_, square_);
  return std::move(op.A);
}

}  // namespace objectives_detail
}  // namespace foldopt
