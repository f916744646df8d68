// foldopt: what the built-in objectives share; see common.hpp.
//
// Method (batch_operator): a matrix A given for one instance (m×n) acts on each of the B
// instances of x; the batch operator is kron(I_B, A), row I = b·m + i of which is row i of A with
// its columns shifted by b·n. A matrix given block-diagonal over the batch (B·m × B·n) is used as
// it is when its rows are split as PETSc splits B·m, its columns as the layout splits B·n, and
// (square) every diagonal entry is stored; otherwise it is redistributed the same way.
// Algorithm: each rank fetches the rows of A its own rows of the result need (at most its share
// of the result, by MatCreateSubMatrices with all columns: a stride index set), counts the
// diagonal and off-diagonal block entries, preallocates exactly and inserts them.
#include "objectives/common.hpp"

#include "core/util.hpp"

#include <foldopt/error.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace foldopt {
namespace objectives_detail {

namespace {

/// Owner of the array of sequential matrices MatCreateSubMatrices returns.
class SubMatrices {
 public:
  SubMatrices() = default;
  SubMatrices(const SubMatrices&) = delete;
  SubMatrices& operator=(const SubMatrices&) = delete;
  ~SubMatrices() {
    if (m_) (void)MatDestroySubMatrices(1, &m_);
  }
  Mat** out() { return &m_; }
  Mat first() const { return m_[0]; }

 private:
  Mat* m_ = nullptr;
};

PetscInt exclusive_scan(MPI_Comm comm, PetscInt local) {
  PetscInt start = 0;
  MPI_Exscan(&local, &start, 1, MPIU_INT, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank == 0 ? 0 : start;
}

/// Every local row of A stores its diagonal entry (collective).
bool stores_diagonal(Mat A) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &comm));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rstart, &rend));
  int ok = 1;
  for (PetscInt i = rstart; i < rend && ok; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, &cols, nullptr));
    if (!std::binary_search(cols, cols + nc, i)) ok = 0;
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, &cols, nullptr));
  }
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  return all == 1;
}

/// A copy of A with every stored value replaced by f(value) (same pattern).
template <typename F>
OwnedMat transformed(Mat A, F f) {
  OwnedMat C;
  FOLDOPT_CALL(MatDuplicate(A, MAT_DO_NOT_COPY_VALUES, C.out()));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rstart, &rend));
  std::vector<PetscScalar> buf;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, &cols, &vals));
    buf.resize(static_cast<std::size_t>(nc));
    for (PetscInt k = 0; k < nc; ++k) buf[static_cast<std::size_t>(k)] = f(PetscRealPart(vals[k]));
    FOLDOPT_CALL(MatSetValues(C, 1, &i, nc, cols, buf.data(), INSERT_VALUES));
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, &cols, &vals));
  }
  FOLDOPT_CALL(MatAssemblyBegin(C, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(C, MAT_FINAL_ASSEMBLY));
  return C;
}

}  // namespace

PetscInt default_local(MPI_Comm comm, PetscInt count) {
  PetscInt local = PETSC_DECIDE, global = count;
  FOLDOPT_CALL(PetscSplitOwnership(comm, &local, &global));
  return local;
}

void check_layout(const Layout& l, const std::string& objective) {
  FOLDOPT_CHECK(l.comm != MPI_COMM_NULL, PETSC_ERR_ARG_NULL, "%s: the layout has no communicator", objective.c_str());
  FOLDOPT_CHECK(l.n >= 1 && l.batch >= 1, PETSC_ERR_ARG_OUTOFRANGE,
                "%s: the layout must have n >= 1 and batch >= 1 (got n %" PetscInt_FMT ", batch %" PetscInt_FMT ")",
                objective.c_str(), l.n, l.batch);
  FOLDOPT_CHECK((long long)l.n * (long long)l.batch <= (long long)PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "%s: n*B = %lld exceeds the largest index", objective.c_str(), (long long)l.n * (long long)l.batch);
  PetscInt sum = 0, local = l.local;
  MPI_Allreduce(&local, &sum, 1, MPIU_INT, MPI_SUM, l.comm);
  check_collective(l.comm, l.local >= 0, PETSC_ERR_ARG_OUTOFRANGE, objective + ": the layout's local size is negative");
  FOLDOPT_CHECK(sum == l.global(), PETSC_ERR_ARG_SIZ,
                "%s: the layout's local sizes add up to %" PetscInt_FMT ", not n*B = %" PetscInt_FMT, objective.c_str(), sum,
                l.global());
}

BatchOperator batch_operator(Mat A, const Layout& l, const std::string& what, bool square) {
  FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_NULL, "%s: no matrix given", what.c_str());
  MPI_Comm comm = l.comm;
  PetscBool aij = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny((PetscObject)A, &aij, MATSEQAIJ, MATMPIAIJ, MATSEQDENSE, MATMPIDENSE, ""));
  FOLDOPT_CHECK(aij, PETSC_ERR_ARG_WRONG, "%s: must be an AIJ or dense matrix", what.c_str());
  PetscInt M, N;
  FOLDOPT_CALL(MatGetSize(A, &M, &N));
  const PetscInt B = l.batch, n = l.n;
  BatchOperator out;
  if (N == n) {
    out.shared = true;
    out.m = M;
  } else if (B > 1 && N == B * n) {
    FOLDOPT_CHECK(M % B == 0, PETSC_ERR_ARG_SIZ,
                  "%s: %" PetscInt_FMT " x %" PetscInt_FMT " is block-diagonal over %" PetscInt_FMT
                  " instances by its columns, but its rows are not a multiple of %" PetscInt_FMT,
                  what.c_str(), M, N, B, B);
    out.shared = false;
    out.m = M / B;
  } else {
    FOLDOPT_CHECK(false, PETSC_ERR_ARG_SIZ,
                  "%s: has %" PetscInt_FMT " columns; expected n = %" PetscInt_FMT
                  " (one instance's matrix, shared by the batch) or B*n = %" PetscInt_FMT " (block-diagonal over the batch)",
                  what.c_str(), N, n, B * n);
  }
  FOLDOPT_CHECK(out.m >= 1, PETSC_ERR_ARG_SIZ, "%s: has no rows", what.c_str());
  if (square)
    FOLDOPT_CHECK(out.m == n, PETSC_ERR_ARG_SIZ, "%s: is not square: %" PetscInt_FMT " x %" PetscInt_FMT, what.c_str(), M, N);
  FOLDOPT_CHECK((long long)out.m * (long long)B <= (long long)PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "%s: m*B = %lld rows exceed the largest index", what.c_str(), (long long)out.m * (long long)B);
  MatInfo info;
  FOLDOPT_CALL(MatGetInfo(A, MAT_GLOBAL_SUM, &info));
  out.nnz = static_cast<PetscInt>(info.nz_used);

  const PetscInt BM = B * out.m, BN = B * n;
  const PetscInt rl = square ? l.local : default_local(comm, BM), cl = l.local;
  PetscInt arl, acl;
  FOLDOPT_CALL(MatGetLocalSize(A, &arl, &acl));
  int fits = ((B == 1 || !out.shared) && arl == rl && acl == cl) ? 1 : 0, all_fit = 0;
  MPI_Allreduce(&fits, &all_fit, 1, MPI_INT, MPI_MIN, comm);
  if (all_fit && (!square || stores_diagonal(A))) {
    out.A = OwnedMat::share(A);
    return out;
  }

  // Rebuild with the batch's split: fetch the needed rows of A.
  const PetscInt rs = exclusive_scan(comm, rl), cs = exclusive_scan(comm, cl), m = out.m;
  std::vector<PetscInt> src;
  src.reserve(static_cast<std::size_t>(rl));
  for (PetscInt I = rs; I < rs + rl; ++I) src.push_back(out.shared ? I % m : I);
  std::sort(src.begin(), src.end());
  src.erase(std::unique(src.begin(), src.end()), src.end());
  OwnedIS isrow, iscol;
  FOLDOPT_CALL(ISCreateGeneral(PETSC_COMM_SELF, static_cast<PetscInt>(src.size()), src.data(), PETSC_COPY_VALUES, isrow.out()));
  FOLDOPT_CALL(ISCreateStride(PETSC_COMM_SELF, N, 0, 1, iscol.out()));
  SubMatrices sub;
  IS rows_is = isrow, cols_is = iscol;
  FOLDOPT_CALL(MatCreateSubMatrices(A, 1, &rows_is, &cols_is, MAT_INITIAL_MATRIX, sub.out()));
  Mat S = sub.first();

  // One pass to count, one to insert; the diagonal is added where A does not store it.
  std::vector<PetscInt> dnnz(static_cast<std::size_t>(rl), 0), onnz(static_cast<std::size_t>(rl), 0);
  std::vector<PetscInt> cols_buf;
  std::vector<PetscScalar> vals_buf;
  auto row_of = [&](PetscInt I, bool fill) {
    const PetscInt srow = out.shared ? I % m : I;
    const PetscInt k = static_cast<PetscInt>(std::lower_bound(src.begin(), src.end(), srow) - src.begin());
    const PetscInt shift = out.shared ? (I / m) * n : 0;
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    FOLDOPT_CALL(MatGetRow(S, k, &nc, &c, fill ? &v : nullptr));
    cols_buf.clear();
    vals_buf.clear();
    bool has_diag = false;
    for (PetscInt j = 0; j < nc; ++j) {
      const PetscInt J = c[j] + shift;
      cols_buf.push_back(J);
      if (fill) vals_buf.push_back(v[j]);
      if (J == I) has_diag = true;
    }
    FOLDOPT_CALL(MatRestoreRow(S, k, &nc, &c, fill ? &v : nullptr));
    if (square && !has_diag) {
      cols_buf.push_back(I);
      if (fill) vals_buf.push_back(0.0);
    }
  };
  for (PetscInt I = rs; I < rs + rl; ++I) {
    row_of(I, false);
    for (PetscInt J : cols_buf) (J >= cs && J < cs + cl ? dnnz : onnz)[static_cast<std::size_t>(I - rs)]++;
  }
  OwnedMat C;
  FOLDOPT_CALL(MatCreate(comm, C.out()));
  FOLDOPT_CALL(MatSetSizes(C, rl, cl, BM, BN));
  FOLDOPT_CALL(MatSetType(C, MATAIJ));
  FOLDOPT_CALL(MatSeqAIJSetPreallocation(C, 0, dnnz.data()));
  FOLDOPT_CALL(MatMPIAIJSetPreallocation(C, 0, dnnz.data(), 0, onnz.data()));
  FOLDOPT_CALL(MatSetOption(C, MAT_IGNORE_ZERO_ENTRIES, PETSC_FALSE));
  for (PetscInt I = rs; I < rs + rl; ++I) {
    row_of(I, true);
    FOLDOPT_CALL(MatSetValues(C, 1, &I, static_cast<PetscInt>(cols_buf.size()), cols_buf.data(), vals_buf.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(C, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(C, MAT_FINAL_ASSEMBLY));
  out.A = std::move(C);
  return out;
}

Vec instance_block(const ParamSet& theta, const std::string& name, PetscInt count, PetscInt local,
                   const std::string& objective) {
  Vec v = nullptr;
  with_context(objective, [&] { v = theta.get(name); });
  PetscInt N, nl;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CALL(VecGetLocalSize(v, &nl));
  FOLDOPT_CHECK(N == count, PETSC_ERR_ARG_SIZ, "%s: block '%s' has %" PetscInt_FMT " entries, expected %" PetscInt_FMT,
                objective.c_str(), name.c_str(), N, count);
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)v, &comm));
  const PetscInt expected = local >= 0 ? local : default_local(comm, count);
  check_collective(comm, nl == expected, PETSC_ERR_ARG_SIZ,
                   detail::format("%s: block '%s' keeps %" PetscInt_FMT " entries on this rank, expected %" PetscInt_FMT
                                  " (split it as the objective's vectors are)",
                                  objective.c_str(), name.c_str(), nl, expected));
  return v;
}

OwnedVec column_sums(Mat A, int power) {
  OwnedMat P = transformed(A, [power](PetscReal a) { return power == 1 ? std::abs(a) : a * a; });
  OwnedVec ones, sums;
  FOLDOPT_CALL(MatCreateVecs(P, sums.out(), ones.out()));
  FOLDOPT_CALL(VecSet(ones, 1.0));
  FOLDOPT_CALL(MatMultTranspose(P, ones, sums));
  return sums;
}

PetscReal norm_one(Mat A) {
  OwnedVec s = column_sums(A, 1);
  PetscReal mx = 0;
  FOLDOPT_CALL(VecMax(s, nullptr, &mx));
  return mx;
}

bool symmetric_split(Mat A) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &comm));
  PetscInt rl, cl;
  FOLDOPT_CALL(MatGetLocalSize(A, &rl, &cl));
  int alike = rl == cl ? 1 : 0, all = 0;
  MPI_Allreduce(&alike, &all, 1, MPI_INT, MPI_MIN, comm);
  return all == 1;
}

void check_symmetric(Mat A, const std::string& what) {
  FOLDOPT_CHECK(symmetric_split(A), PETSC_ERR_ARG_SIZ, "%s: rows and columns are split differently", what.c_str());
  PetscReal nrm = 0;
  FOLDOPT_CALL(MatNorm(A, NORM_INFINITY, &nrm));
  FOLDOPT_CHECK(std::isfinite(nrm), PETSC_ERR_ARG_OUTOFRANGE, "%s: has an entry that is not finite", what.c_str());
  const bool sym = is_symmetric(A, 1e-12 * std::max<PetscReal>(nrm, PETSC_MACHINE_EPSILON));
  FOLDOPT_CHECK(sym, PETSC_ERR_ARG_WRONG, "%s: is not symmetric (a Hessian must be)", what.c_str());
}

OwnedMat diagonal_matrix(Vec d) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)d, &comm));
  PetscInt N, nl, rstart, rend;
  FOLDOPT_CALL(VecGetSize(d, &N));
  FOLDOPT_CALL(VecGetLocalSize(d, &nl));
  FOLDOPT_CALL(VecGetOwnershipRange(d, &rstart, &rend));
  OwnedMat D;
  FOLDOPT_CALL(MatCreateAIJ(comm, nl, nl, N, N, 1, nullptr, 0, nullptr, D.out()));
  FOLDOPT_CALL(MatSetOption(D, MAT_IGNORE_ZERO_ENTRIES, PETSC_FALSE));
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(d, &a));
  for (PetscInt i = rstart; i < rend; ++i) FOLDOPT_CALL(MatSetValue(D, i, i, a[i - rstart], INSERT_VALUES));
  FOLDOPT_CALL(VecRestoreArrayRead(d, &a));
  FOLDOPT_CALL(MatAssemblyBegin(D, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(D, MAT_FINAL_ASSEMBLY));
  return D;
}

}  // namespace objectives_detail
}  // namespace foldopt
