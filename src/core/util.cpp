// foldopt: small private helpers shared by the engine.
#include "core/util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include <petsctime.h>
#include <sys/resource.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

namespace foldopt {

std::vector<PetscScalar> all_values(Vec v) {
  OwnedVecScatter sc;
  OwnedVec all;
  FOLDOPT_CALL(VecScatterCreateToAll(v, sc.out(), all.out()));
  FOLDOPT_CALL(VecScatterBegin(sc, v, all, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, v, all, INSERT_VALUES, SCATTER_FORWARD));
  PetscInt n;
  FOLDOPT_CALL(VecGetSize(all, &n));
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(all, &a));
  std::vector<PetscScalar> out(a, a + n);
  FOLDOPT_CALL(VecRestoreArrayRead(all, &a));
  return out;
}

std::vector<PetscReal> all_entries(Mat A) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &comm));
  PetscInt M, N, rs, re;
  FOLDOPT_CALL(MatGetSize(A, &M, &N));
  FOLDOPT_CALL(MatGetOwnershipRange(A, &rs, &re));
  std::vector<double> local;  // (row, col, value) triplets of this rank's rows
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
  check_collective(comm, local.size() < static_cast<std::size_t>(INT_MAX), PETSC_ERR_SUP, "dense copy: too many nonzeros");
  int cnt = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  MPI_Allgather(&cnt, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  long long total = 0;
  for (int p = 0; p < size; ++p) {
    displs[p] = static_cast<int>(total);
    total += counts[p];
  }
  FOLDOPT_CHECK(total < INT_MAX, PETSC_ERR_SUP, "dense copy: too many nonzeros");
  std::vector<double> all(static_cast<std::size_t>(total));
  MPI_Allgatherv(local.data(), cnt, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, comm);
  std::vector<PetscReal> out(static_cast<std::size_t>(M * N), 0.0);
  for (std::size_t k = 0; k + 2 < all.size(); k += 3)
    out[static_cast<std::size_t>(all[k]) * static_cast<std::size_t>(N) + static_cast<std::size_t>(all[k + 1])] += all[k + 2];
  return out;
}

double wall_time() {
  PetscLogDouble t = 0;
  PetscTime(&t);
  return t;
}

std::vector<PetscReal> instance_ratios(Vec r, Vec g, const Layout& layout) {
  const PetscInt B = std::max<PetscInt>(layout.batch, 1), n = layout.n;
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(r, &rstart, &rend));
  std::vector<PetscReal> sums(2 * B, 0.0), all(2 * B, 0.0);
  const PetscScalar *ra, *ga;
  FOLDOPT_CALL(VecGetArrayRead(r, &ra));
  FOLDOPT_CALL(VecGetArrayRead(g, &ga));
  for (PetscInt i = rstart; i < rend; ++i) {
    const PetscInt b = n > 0 ? std::min(i / n, B - 1) : 0;
    sums[2 * b] += PetscRealPart(ra[i - rstart] * ra[i - rstart]);
    sums[2 * b + 1] += PetscRealPart(ga[i - rstart] * ga[i - rstart]);
  }
  FOLDOPT_CALL(VecRestoreArrayRead(r, &ra));
  FOLDOPT_CALL(VecRestoreArrayRead(g, &ga));
  MPI_Allreduce(sums.data(), all.data(), static_cast<int>(2 * B), MPIU_REAL, MPIU_SUM, layout.comm);
  std::vector<PetscReal> ratios(static_cast<std::size_t>(B));
  for (PetscInt b = 0; b < B; ++b) {
    const PetscReal rn = std::sqrt(all[2 * b]), gn = std::sqrt(all[2 * b + 1]);
    ratios[b] = gn > 0 ? rn / gn : rn;
  }
  return ratios;
}

PetscReal worst_instance_ratio(Vec r, Vec g, const Layout& layout) {
  const std::vector<PetscReal> ratios = instance_ratios(r, g, layout);
  return ratios.empty() ? 0 : *std::max_element(ratios.begin(), ratios.end());
}

double peak_rss_bytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

void check_problem_layout(Vec x, const Problem& p, const char* solver) {
  PetscInt size;
  FOLDOPT_CALL(VecGetSize(x, &size));
  FOLDOPT_CHECK(size == p.layout().global(), PETSC_ERR_ARG_SIZ,
                "%s solves the %" PetscInt_FMT " unknowns of problem '%s', but the update map's state has %" PetscInt_FMT
                " entries: this forward cannot build that map's state (use the map's own forward, e.g. -fold_fwd_type %s)",
                solver, p.layout().global(), p.type().c_str(), size, p.default_forward().c_str());
}

OwnedVecScatter part_scatter(Vec state, Vec part, PetscInt len, PetscInt stride, PetscInt offset) {
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(part, &rs, &re));
  std::vector<PetscInt> idx(static_cast<std::size_t>(re - rs));
  for (PetscInt J = rs; J < re; ++J) idx[J - rs] = (J / len) * stride + offset + J % len;
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)part, &comm));
  OwnedIS from, to;
  FOLDOPT_CALL(ISCreateGeneral(comm, re - rs, idx.data(), PETSC_COPY_VALUES, from.out()));
  FOLDOPT_CALL(ISCreateStride(comm, re - rs, rs, 1, to.out()));
  OwnedVecScatter sc;
  FOLDOPT_CALL(VecScatterCreate(state, from, part, to, sc.out()));
  return sc;
}

std::string one_line(const std::string& m) {
  std::string out;
  for (char c : m) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_symmetric(Mat A, PetscReal tol) {
  PetscBool mpidense = PETSC_FALSE, sym = PETSC_FALSE;
  FOLDOPT_CALL(PetscObjectTypeCompare((PetscObject)A, MATMPIDENSE, &mpidense));
  if (!mpidense) {
    FOLDOPT_CALL(MatIsSymmetric(A, tol, &sym));
    return sym == PETSC_TRUE;
  }
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &comm));
  PetscInt M, N, m, n;
  FOLDOPT_CALL(MatGetSize(A, &M, &N));
  FOLDOPT_CALL(MatGetLocalSize(A, &m, &n));
  int alike = (M == N && m == n) ? 1 : 0, all = 0;
  MPI_Allreduce(&alike, &all, 1, MPI_INT, MPI_MIN, comm);
  if (!all) return false;
  OwnedMat T;
  FOLDOPT_CALL(MatTranspose(A, MAT_INITIAL_MATRIX, T.out()));
  PetscInt lda = 0, ldt = 0;
  FOLDOPT_CALL(MatDenseGetLDA(A, &lda));
  FOLDOPT_CALL(MatDenseGetLDA(T, &ldt));
  const PetscScalar *a, *t;
  FOLDOPT_CALL(MatDenseGetArrayRead(A, &a));
  FOLDOPT_CALL(MatDenseGetArrayRead(T, &t));
  PetscReal worst = 0;
  for (PetscInt j = 0; j < N; ++j)
    for (PetscInt i = 0; i < m; ++i) {
      const PetscReal d = PetscAbsScalar(a[j * lda + i] - t[j * ldt + i]);
      if (!(d <= worst)) worst = d;  // NaN wins
    }
  FOLDOPT_CALL(MatDenseRestoreArrayRead(T, &t));
  FOLDOPT_CALL(MatDenseRestoreArrayRead(A, &a));
  int ok = worst <= tol ? 1 : 0, every = 0;
  MPI_Allreduce(&ok, &every, 1, MPI_INT, MPI_MIN, comm);
  return every == 1;
}

}  // namespace foldopt
