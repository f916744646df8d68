// foldopt: the nonzero values of a sparse matrix as a parameter block (matrix_values.hpp).
//
// Method:  a matrix A (m×n, AIJ) with stored nonzeros (i, j) ∈ P enters θ through the vector
//          a = vals(A) of its stored values in global CSR order: row by row, columns ascending
//          within a row (the order MatGetRow returns for SEQAIJ and MPIAIJ). The vector is split
//          as A's rows are: the rank owning row i holds the values of row i. A dense matrix
//          (SEQDENSE, MPIDENSE) stores every entry: its pattern is all m·n positions.
// Algorithm:
//   values(A)        one MatGetRow per local row, values copied in order.
//   set_values(A, a) MatSetValues per local row with the row's own columns (INSERT_VALUES), then a
//                    final assembly: the pattern cannot change. `a` must have |P| entries; if it is
//                    split otherwise than A's rows (PETSC_DECIDE), it is first moved to the row
//                    split by one VecScatter.
//   with_values      MatDuplicate(pattern, MAT_DO_NOT_COPY_VALUES), then set_values.
//   outer_on_pattern for u (B·m entries) and v (B·n entries), instance s stored at s·m + i and
//                    s·n + j:  G_ij = Σ_s u_{s,i} v_{s,j}  for (i, j) ∈ P, i.e. the gradient on the
//                    pattern of L = Σ_s u_sᵀ A v_s with respect to vals(A). The rank owning row i
//                    needs u_{s,i} for its rows and v_{s,j} for every column j its rows store, for
//                    every s: one scatter each from u and v into sequential ghost vectors (the
//                    distinct columns, sorted); u and v may be split in any way. Cost O(B·|P_local|)
//                    flops, O(B·(rows + distinct columns)) ghost values. OuterOnPattern keeps that
//                    set-up (pattern walk, column places, scatters) while the pattern's nonzero
//                    state, the batch and the splits of u and v stay the same.
// References: the CSR order of scipy.sparse.csr_matrix and torch.sparse_csr_tensor (values
//   array); PETSc manual pages of MatGetRow, MatSetValues, VecScatterCreate.
// A matrix with MAT_IGNORE_ZERO_ENTRIES set would keep its old value where a zero is inserted:
// such matrices are not supported as patterns (PETSc offers no way to read that option back).
#include <foldopt/matrix_values.hpp>

#include <foldopt/error.hpp>

#include <algorithm>
#include <vector>

namespace foldopt {
namespace matrix_values {
namespace {

using detail::format;

MPI_Comm comm_of(PetscObject o) { return PetscObjectComm(o); }

// A is an assembled SEQAIJ, MPIAIJ, SEQDENSE or MPIDENSE matrix (the type and the assembly state are the same on
// every rank of A's communicator, so the checks are collective).
void check_aij(Mat A, const char* where) {
  FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_NULL, "%s: no matrix", where);
  PetscBool aij = PETSC_FALSE, assembled = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompareAny(reinterpret_cast<PetscObject>(A), &aij, MATSEQAIJ,
                                         MATMPIAIJ, MATSEQDENSE, MATMPIDENSE, ""));
  MatType type = nullptr;
  FOLDOPT_CALL(MatGetType(A, &type));
  FOLDOPT_CHECK(aij, PETSC_ERR_ARG_WRONGSTATE,
                "%s: the matrix is of type %s; matrix values need an AIJ or dense matrix (seqaij, "
                "mpiaij, seqdense, mpidense)",
                where, type ? type : "(none)");
  FOLDOPT_CALL(MatAssembled(A, &assembled));
  FOLDOPT_CHECK(assembled, PETSC_ERR_ARG_WRONGSTATE, "%s: the matrix is not assembled", where);
}

void check_same_comm(PetscObject a, PetscObject b, const char* where, const char* what) {
  int result = MPI_UNEQUAL;
  MPI_Comm_compare(comm_of(a), comm_of(b), &result);
  FOLDOPT_CHECK(result == MPI_IDENT || result == MPI_CONGRUENT, PETSC_ERR_ARG_NOTSAMECOMM,
                "%s: %s does not live on the matrix's communicator", where, what);
}

// The local rows of A: their range, row starts into `cols` (CSR of the local rows, global columns).
struct LocalPattern {
  PetscInt rstart = 0, rend = 0;
  std::vector<PetscInt> start;  // rend − rstart + 1 offsets
  std::vector<PetscInt> cols;
};

LocalPattern local_pattern(Mat A, bool with_cols) {
  LocalPattern p;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &p.rstart, &p.rend));
  p.start.reserve(static_cast<std::size_t>(p.rend - p.rstart) + 1);
  p.start.push_back(0);
  for (PetscInt i = p.rstart; i < p.rend; ++i) {
    PetscInt nc = 0;
    const PetscInt* c = nullptr;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, with_cols ? &c : nullptr, nullptr));
    const PetscInt count = nc;  // MatRestoreRow zeroes nc
    if (with_cols) p.cols.insert(p.cols.end(), c, c + nc);
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, with_cols ? &c : nullptr, nullptr));
    p.start.push_back(p.start.back() + count);
  }
  return p;
}

// Collective: the number of stored nonzeros of A over all ranks, given this rank's; refuses a
// count beyond PetscInt (a values Vec could not hold it).
PetscInt global_count(Mat A, PetscInt local, const char* where) {
  long long mine = local, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_LONG_LONG, MPI_SUM, comm_of(reinterpret_cast<PetscObject>(A)));
  FOLDOPT_CHECK(all <= static_cast<long long>(PETSC_MAX_INT), PETSC_ERR_ARG_OUTOFRANGE,
                "%s: the matrix stores %lld nonzeros, more than a PetscInt counts", where, all);
  return static_cast<PetscInt>(all);
}

// A Vec with `local` entries on this rank (the values layout of a matrix).
OwnedVec values_vec(Mat A, PetscInt local) {
  OwnedVec v;
  FOLDOPT_CALL(VecCreate(comm_of(reinterpret_cast<PetscObject>(A)), v.out()));
  FOLDOPT_CALL(VecSetSizes(v, local, PETSC_DETERMINE));
  FOLDOPT_CALL(VecSetType(v, VECSTANDARD));
  return v;
}

// A sequential Vec for the entries `idx` of x and the scatter that fills it.
void ghost_scatter(Vec x, const std::vector<PetscInt>& idx, OwnedVec& local, OwnedVecScatter& sc) {
  OwnedIS is;
  FOLDOPT_CALL(ISCreateGeneral(PETSC_COMM_SELF, static_cast<PetscInt>(idx.size()), idx.data(),
                               PETSC_USE_POINTER, is.out()));
  local = OwnedVec();
  sc = OwnedVecScatter();
  FOLDOPT_CALL(VecCreateSeq(PETSC_COMM_SELF, static_cast<PetscInt>(idx.size()), local.out()));
  FOLDOPT_CALL(VecScatterCreate(x, is, local, nullptr, sc.out()));
}

// Collective: a sequential Vec holding x at the global indices `idx` (any split of x).
OwnedVec ghost_values(Vec x, const std::vector<PetscInt>& idx) {
  OwnedVec local;
  OwnedVecScatter sc;
  ghost_scatter(x, idx, local, sc);
  FOLDOPT_CALL(VecScatterBegin(sc, x, local, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, x, local, INSERT_VALUES, SCATTER_FORWARD));
  return local;
}

}  // namespace

OwnedVec values(Mat A) {
  const char* where = "matrix_values::values";
  check_aij(A, where);
  PetscInt rstart = 0, rend = 0;
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rstart, &rend));
  const LocalPattern p = local_pattern(A, false);
  global_count(A, p.start.back(), where);
  OwnedVec v = values_vec(A, p.start.back());
  PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetArray(v, &a));
  PetscInt k = 0;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc = 0;
    const PetscScalar* vals = nullptr;
    FOLDOPT_CALL(MatGetRow(A, i, &nc, nullptr, &vals));
    std::copy(vals, vals + nc, a + k);
    k += nc;
    FOLDOPT_CALL(MatRestoreRow(A, i, &nc, nullptr, &vals));
  }
  FOLDOPT_CALL(VecRestoreArray(v, &a));
  return v;
}

void set_values(Mat A, Vec v) {
  const char* where = "matrix_values::set_values";
  check_aij(A, where);
  FOLDOPT_CHECK(v != nullptr, PETSC_ERR_ARG_NULL, "%s: no values vector", where);
  check_same_comm(reinterpret_cast<PetscObject>(A), reinterpret_cast<PetscObject>(v), where,
                  "the values vector");
  const LocalPattern p = local_pattern(A, true);
  const PetscInt local = p.start.back();
  const PetscInt total = global_count(A, local, where);
  PetscInt N = 0, vlocal = 0, M = 0, Nc = 0;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CALL(MatGetSize(A, &M, &Nc));
  FOLDOPT_CHECK(N == total, PETSC_ERR_ARG_SIZ,
                "%s: the values vector has %" PetscInt_FMT " entries, but the %" PetscInt_FMT
                "x%" PetscInt_FMT " matrix stores %" PetscInt_FMT
                " nonzeros (the pattern cannot change)",
                where, N, M, Nc, total);
  // Values split otherwise than the rows: bring this rank's rows' values here first.
  FOLDOPT_CALL(VecGetLocalSize(v, &vlocal));
  int differs = vlocal != local ? 1 : 0, any = 0;
  MPI_Allreduce(&differs, &any, 1, MPI_INT, MPI_MAX, comm_of(reinterpret_cast<PetscObject>(A)));
  OwnedVec moved;
  Vec src = v;
  if (any) {
    PetscInt before = 0;
    MPI_Exscan(&local, &before, 1, MPIU_INT, MPI_SUM, comm_of(reinterpret_cast<PetscObject>(A)));
    int rank = 0;
    MPI_Comm_rank(comm_of(reinterpret_cast<PetscObject>(A)), &rank);
    if (rank == 0) before = 0;
    std::vector<PetscInt> idx(static_cast<std::size_t>(local));
    for (PetscInt k = 0; k < local; ++k) idx[static_cast<std::size_t>(k)] = before + k;
    moved = ghost_values(v, idx);
    src = moved;
  }
  const PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetArrayRead(src, &a));
  try {
    for (PetscInt i = p.rstart; i < p.rend; ++i) {
      const PetscInt b = p.start[static_cast<std::size_t>(i - p.rstart)];
      const PetscInt e = p.start[static_cast<std::size_t>(i - p.rstart) + 1];
      if (e == b) continue;
      FOLDOPT_CALL(MatSetValues(A, 1, &i, e - b, p.cols.data() + b, a + b, INSERT_VALUES));
    }
  } catch (...) {
    VecRestoreArrayRead(src, &a);
    throw;
  }
  FOLDOPT_CALL(VecRestoreArrayRead(src, &a));
  FOLDOPT_CALL(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
}

OwnedMat with_values(Mat pattern, Vec v) {
  check_aij(pattern, "matrix_values::with_values");
  OwnedMat B;
  FOLDOPT_CALL(MatDuplicate(pattern, MAT_DO_NOT_COPY_VALUES, B.out()));
  set_values(B, v);
  return B;
}

// The set-up of outer_on_pattern: everything but the values of u and v.
struct OuterOnPattern::Plan {
  Mat pattern = nullptr;  // identity only (the caller keeps the pattern alive)
  PetscObjectId id = 0;
  PetscObjectState nonzero_state = 0;
  PetscInt batch = 0, ustart = -1, uend = -1, vstart = -1, vend = -1;
  PetscInt rows = 0, nnz = 0, nghost = 0;
  std::vector<PetscInt> start;  // the local rows' offsets into the values
  std::vector<PetscInt> place;  // each local nonzero's column among the distinct ones
  OwnedVec ul, vl;              // u at the local rows, v at the distinct columns (every instance)
  OwnedVecScatter su, sv;
};

OuterOnPattern::OuterOnPattern() = default;
OuterOnPattern::~OuterOnPattern() = default;
OuterOnPattern::OuterOnPattern(OuterOnPattern&&) noexcept = default;
OuterOnPattern& OuterOnPattern::operator=(OuterOnPattern&&) noexcept = default;

OwnedVec outer_on_pattern(Mat pattern, Vec u, Vec v, PetscInt batch) {
  OuterOnPattern once;
  return once(pattern, u, v, batch);
}

OwnedVec OuterOnPattern::operator()(Mat pattern, Vec u, Vec v, PetscInt batch) {
  const char* where = "matrix_values::outer_on_pattern";
  check_aij(pattern, where);
  FOLDOPT_CHECK(u != nullptr && v != nullptr, PETSC_ERR_ARG_NULL, "%s: no vector u or v", where);
  check_same_comm(reinterpret_cast<PetscObject>(pattern), reinterpret_cast<PetscObject>(u), where, "u");
  check_same_comm(reinterpret_cast<PetscObject>(pattern), reinterpret_cast<PetscObject>(v), where, "v");
  FOLDOPT_CHECK(batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "%s: batch %" PetscInt_FMT " is not positive",
                where, batch);
  PetscInt m = 0, n = 0, Nu = 0, Nv = 0;
  FOLDOPT_CALL(MatGetSize(pattern, &m, &n));
  FOLDOPT_CALL(VecGetSize(u, &Nu));
  FOLDOPT_CALL(VecGetSize(v, &Nv));
  const long long want_u = static_cast<long long>(batch) * m, want_v = static_cast<long long>(batch) * n;
  FOLDOPT_CHECK(Nu == want_u, PETSC_ERR_ARG_SIZ,
                "%s: u has %" PetscInt_FMT " entries, expected batch x rows = %" PetscInt_FMT
                " x %" PetscInt_FMT " = %lld",
                where, Nu, batch, m, want_u);
  FOLDOPT_CHECK(Nv == want_v, PETSC_ERR_ARG_SIZ,
                "%s: v has %" PetscInt_FMT " entries, expected batch x columns = %" PetscInt_FMT
                " x %" PetscInt_FMT " = %lld",
                where, Nv, batch, n, want_v);

  // Is the kept set-up still this call's? Decided alike on every rank (the scatters are collective).
  PetscObjectId id = 0;
  PetscObjectState nz = 0;
  PetscInt us = 0, ue = 0, vs = 0, ve = 0;
  FOLDOPT_CALL(PetscObjectGetId(reinterpret_cast<PetscObject>(pattern), &id));
  FOLDOPT_CALL(MatGetNonzeroState(pattern, &nz));
  FOLDOPT_CALL(VecGetOwnershipRange(u, &us, &ue));
  FOLDOPT_CALL(VecGetOwnershipRange(v, &vs, &ve));
  int stale = !plan_ || plan_->pattern != pattern || plan_->id != id || plan_->nonzero_state != nz ||
              plan_->batch != batch || plan_->ustart != us || plan_->uend != ue || plan_->vstart != vs ||
              plan_->vend != ve;
  MPI_Allreduce(MPI_IN_PLACE, &stale, 1, MPI_INT, MPI_MAX, comm_of(reinterpret_cast<PetscObject>(pattern)));
  if (stale) {
    plan_.reset();
    auto plan = std::make_unique<Plan>();
    const LocalPattern p = local_pattern(pattern, true);
    plan->nnz = p.start.back();
    global_count(pattern, plan->nnz, where);
    plan->rows = p.rend - p.rstart;
    // The distinct columns of the local rows, and each nonzero's place among them.
    std::vector<PetscInt> ghost(p.cols);
    std::sort(ghost.begin(), ghost.end());
    ghost.erase(std::unique(ghost.begin(), ghost.end()), ghost.end());
    plan->nghost = static_cast<PetscInt>(ghost.size());
    plan->place.resize(p.cols.size());
    for (std::size_t k = 0; k < p.cols.size(); ++k)
      plan->place[k] = static_cast<PetscInt>(std::lower_bound(ghost.begin(), ghost.end(), p.cols[k]) - ghost.begin());
    const std::size_t rows = static_cast<std::size_t>(plan->rows), nghost = ghost.size();
    std::vector<PetscInt> iu(static_cast<std::size_t>(batch) * rows), iv(static_cast<std::size_t>(batch) * nghost);
    for (PetscInt s = 0; s < batch; ++s) {
      for (std::size_t r = 0; r < rows; ++r) iu[s * rows + r] = s * m + p.rstart + static_cast<PetscInt>(r);
      for (std::size_t g = 0; g < nghost; ++g) iv[s * nghost + g] = s * n + ghost[g];
    }
    ghost_scatter(u, iu, plan->ul, plan->su);
    ghost_scatter(v, iv, plan->vl, plan->sv);
    plan->start = p.start;
    plan->pattern = pattern;
    plan->id = id;
    plan->nonzero_state = nz;
    plan->batch = batch;
    plan->ustart = us, plan->uend = ue, plan->vstart = vs, plan->vend = ve;
    plan_ = std::move(plan);
    ++setups_;
  }
  Plan& P = *plan_;
  FOLDOPT_CALL(VecScatterBegin(P.su, u, P.ul, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(P.su, u, P.ul, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterBegin(P.sv, v, P.vl, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(P.sv, v, P.vl, INSERT_VALUES, SCATTER_FORWARD));

  OwnedVec out = values_vec(pattern, P.nnz);
  const PetscScalar *ua = nullptr, *va = nullptr;
  PetscScalar* g = nullptr;
  FOLDOPT_CALL(VecGetArrayRead(P.ul, &ua));
  FOLDOPT_CALL(VecGetArrayRead(P.vl, &va));
  FOLDOPT_CALL(VecGetArray(out, &g));
  const PetscInt rows = P.rows, nghost = P.nghost;
  for (PetscInt r = 0; r < rows; ++r)
    for (PetscInt k = P.start[static_cast<std::size_t>(r)]; k < P.start[static_cast<std::size_t>(r) + 1]; ++k) {
      PetscScalar sum = 0;
      const PetscInt c = P.place[static_cast<std::size_t>(k)];
      for (PetscInt s = 0; s < batch; ++s) sum += ua[s * rows + r] * va[s * nghost + c];
      g[k] = sum;
    }
  FOLDOPT_CALL(VecRestoreArray(out, &g));
  FOLDOPT_CALL(VecRestoreArrayRead(P.vl, &va));
  FOLDOPT_CALL(VecRestoreArrayRead(P.ul, &ua));
  return out;
}

OwnedMat as_matrix(const ParamBlock& block) {
  FOLDOPT_CHECK(block.kind == BlockKind::matrix_values, PETSC_ERR_ARG_WRONG,
                "parameter block '%s' is %s, not matrix values: it has no pattern to be written "
                "as a matrix",
                block.name.c_str(), to_string(block.kind));
  FOLDOPT_CHECK(block.pattern, PETSC_ERR_ARG_NULL, "parameter block '%s': matrix values without a pattern",
                block.name.c_str());
  OwnedMat A;
  with_context("parameter block '" + block.name + "'", [&] { A = with_values(block.pattern, block.vec); });
  return A;
}

}  // namespace matrix_values
}  // namespace foldopt
