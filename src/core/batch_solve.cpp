// foldopt: per-instance adjoint solves for a batch (see src/core/batch_solve.hpp).
//
// Method: exact block solves of the block-diagonal I − Φᵀ as a PCSHELL under KSPRICHARDSON.
// Algorithm: block b's column j is (e_j − Φᵀ e_j) restricted to instance b, read off the product
//   of Φᵀ with E_j = Σ_b e_{b·n+j} (instances are independent, so Φᵀ E_j holds column j of every
//   block); rows scaled by 1/max|a_ij|, then LU with partial pivoting in place (outer-product
//   form, contiguous column updates); the shell applies the two triangular solves per block. (An
//   own kernel, not LAPACK: the reference LAPACK this is built with ran 100×100 blocks about a
//   third slower, and the static library would make every consumer link -llapack.)
// References: Golub, Van Loan, "Matrix Computations" (4th ed.), Algorithm 3.4.1, §3.5.2.
#include "core/batch_solve.hpp"

#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/compat.hpp"
#include "core/options.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

namespace foldopt {

const char* to_string(BatchSolveMode m) {
  switch (m) {
    case BatchSolveMode::automatic: return "auto";
    case BatchSolveMode::coupled: return "coupled";
    case BatchSolveMode::blocks: return "blocks";
  }
  return "?";
}

InstanceStats instance_stats(const std::vector<PetscReal>& ratios, PetscReal rtol) {
  InstanceStats s;
  s.count = static_cast<PetscInt>(ratios.size());
  if (ratios.empty()) return s;
  std::vector<PetscReal> v = ratios;
  std::sort(v.begin(), v.end());
  s.worst = v.back();
  const std::size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  s.below = static_cast<PetscInt>(std::upper_bound(v.begin(), v.end(), rtol) - v.begin());
  return s;
}

namespace {
/// LU with partial pivoting of the column-major n×n matrix A in place (P A = L U, L unit lower):
/// the outer-product form, row k swapped with the pivot row p_k, columns updated by contiguous
/// axpys. Returns the first row whose pivot is at most `tol` in magnitude (numerically singular:
/// the rows are equilibrated to a largest entry of 1), or −1.
PetscInt lu_factor(PetscInt n, PetscScalar* A, PetscInt* piv, PetscReal tol) {
  PetscInt zero = -1;
  for (PetscInt k = 0; k < n; ++k) {
    PetscScalar* ak = A + k * n;
    PetscInt p = k;
    for (PetscInt i = k + 1; i < n; ++i)
      if (PetscAbsScalar(ak[i]) > PetscAbsScalar(ak[p])) p = i;
    piv[k] = p;
    if (PetscAbsScalar(ak[p]) <= tol) {
      if (zero < 0) zero = k;
      continue;
    }
    if (p != k)
      for (PetscInt j = 0; j < n; ++j) std::swap(A[k + j * n], A[p + j * n]);
    const PetscScalar inv = 1.0 / ak[k];
    for (PetscInt i = k + 1; i < n; ++i) ak[i] *= inv;
    for (PetscInt j = k + 1; j < n; ++j) {
      PetscScalar* aj = A + j * n;
      const PetscScalar f = aj[k];
      if (f != 0.0)
        for (PetscInt i = k + 1; i < n; ++i) aj[i] -= ak[i] * f;
    }
  }
  return zero;
}

/// x ← A⁻¹ x with the factors of lu_factor.
void lu_solve(PetscInt n, const PetscScalar* A, const PetscInt* piv, PetscScalar* x) {
  for (PetscInt k = 0; k < n; ++k)
    if (piv[k] != k) std::swap(x[k], x[piv[k]]);
  for (PetscInt k = 0; k < n; ++k) {  // L y = P x, column by column
    const PetscScalar* ak = A + k * n;
    const PetscScalar xk = x[k];
    for (PetscInt i = k + 1; i < n; ++i) x[i] -= ak[i] * xk;
  }
  for (PetscInt k = n - 1; k >= 0; --k) {  // U x = y
    const PetscScalar* ak = A + k * n;
    x[k] /= ak[k];
    const PetscScalar xk = x[k];
    for (PetscInt i = 0; i < k; ++i) x[i] -= ak[i] * xk;
  }
}
}  // namespace

BatchBlocks::BatchBlocks(MPI_Comm comm, const std::string& prefix) : comm_(comm), prefix_(prefix) {}

void BatchBlocks::set_from_options() {
  static const char* const modes[] = {"auto", "coupled", "blocks"};
  const char* pre = prefix_.c_str();
  options::check_choice(pre, "batch_solve", {"auto", "coupled", "blocks"});
  options::check_int(pre, "batch_block_max_size", 1, PETSC_MAX_INT);
  PetscInt mode = static_cast<PetscInt>(mode_), maxsize = max_size_;
  auto read = [&]() -> PetscErrorCode {
    PetscFunctionBeginUser;
    PetscOptionsBegin(comm_, pre, "Batched adjoint solves", "AdjointSolver");
    PetscCall(PetscOptionsEList("-batch_solve",
                                "A batch's adjoint: one KSP over the batch (coupled), an exact solve per instance "
                                "(blocks: n batched products, LU per n-by-n block), or auto (blocks for B > 1 and n <= "
                                "-batch_block_max_size when no -ksp_type / -pc_type is given)",
                                "AdjointSolver", modes, 3, modes[mode], &mode, nullptr));
    PetscCall(PetscOptionsInt("-batch_block_max_size", "Largest instance size n at which auto picks the blocks path",
                              "AdjointSolver", maxsize, &maxsize, nullptr));
    PetscOptionsEnd();
    PetscFunctionReturn(0);
  };
  FOLDOPT_CALL(read());
  mode_ = static_cast<BatchSolveMode>(mode);
  max_size_ = maxsize;
}

bool BatchBlocks::choose(UpdateMap& map, bool general_form) {
  active_ = false;
  const Layout& l = map.layout();
  const std::string opt = "-" + prefix_ + "batch_solve";
  if (mode_ == BatchSolveMode::coupled) {
    decision_ = "coupled (" + opt + " coupled)";
    return false;
  }
  const bool asked = mode_ == BatchSolveMode::blocks;
  if (!asked && l.batch <= 1) {
    decision_ = "coupled (one instance)";
    return false;
  }
  if (!general_form) {
    decision_ = std::string("coupled: ") + (asked ? opt + " blocks refused: " : "") +
                "the blocks path solves the general form, and -" + prefix_ + "adjoint_form symmetric was chosen";
    return false;
  }
  // Every instance on one rank: this rank's range starts and ends at instance boundaries.
  PetscInt rstart = 0;
  MPI_Exscan(&l.local, &rstart, 1, MPIU_INT, MPI_SUM, comm_);
  int rank = 0;
  MPI_Comm_rank(comm_, &rank);
  if (rank == 0) rstart = 0;
  const PetscInt rend = rstart + l.local;
  const int local_ok = (l.n > 0 && rstart % l.n == 0 && rend % l.n == 0) ? 1 : 0;
  int first_bad = local_ok ? PETSC_MAX_INT : static_cast<int>((rstart % std::max<PetscInt>(l.n, 1) ? rstart : rend) / std::max<PetscInt>(l.n, 1));
  int all_ok = 0;
  MPI_Allreduce(&local_ok, &all_ok, 1, MPI_INT, MPI_MIN, comm_);
  if (!all_ok) {
    int bad = 0;
    MPI_Allreduce(&first_bad, &bad, 1, MPI_INT, MPI_MIN, comm_);
    decision_ = detail::format("coupled: %sinstance %d (of %" PetscInt_FMT ", n = %" PetscInt_FMT
                               ") spans two ranks, and a block is factored on the rank that owns it",
                               asked ? (opt + " blocks refused: ").c_str() : "", bad, l.batch, l.n);
    return false;
  }
  if (!asked) {
    PetscBool ksp_given = PETSC_FALSE, pc_given = PETSC_FALSE;
    FOLDOPT_CALL(PetscOptionsHasName(nullptr, prefix_.c_str(), "-ksp_type", &ksp_given));
    FOLDOPT_CALL(PetscOptionsHasName(nullptr, prefix_.c_str(), "-pc_type", &pc_given));
    if (ksp_given || pc_given) {
      decision_ = "coupled (auto: -" + prefix_ + (ksp_given ? "ksp_type" : "pc_type") + " was given)";
      return false;
    }
    if (!map.default_ksp_type().empty()) {  // e.g. FGMRES for products that are inner solves
      decision_ = "coupled (auto: update map '" + map.type() + "' asks for -" + prefix_ + "ksp_type " +
                  map.default_ksp_type() + ")";
      return false;
    }
    if (l.n > max_size_) {
      decision_ = detail::format("coupled (auto: n = %" PetscInt_FMT " > -%sbatch_block_max_size %" PetscInt_FMT ")",
                                 l.n, prefix_.c_str(), max_size_);
      return false;
    }
  }
  const std::string singular = map.singular_reason();  // collective; may cost a small eigensolve
  if (!singular.empty()) {
    decision_ = std::string("coupled: ") + (asked ? opt + " blocks refused: " : "") + "I - Phi^T is singular (" +
                singular + "), which a factorization cannot be trusted with";
    return false;
  }
  decision_ = detail::format("blocks (%s): %" PetscInt_FMT " exact %" PetscInt_FMT "x%" PetscInt_FMT
                             " solves, extracted with %" PetscInt_FMT " batched products",
                             asked ? (opt + " blocks").c_str() : "auto", l.batch, l.n, l.n, l.n);
  active_ = true;
  return true;
}

bool BatchBlocks::setup(Mat a, const Layout& l, const std::function<void(Vec, Vec)>& phi_t, KSP like) {
  const PetscInt n = l.n;
  OwnedVec e, col;
  FOLDOPT_CALL(MatCreateVecs(a, e.out(), col.out()));
  PetscInt local;
  FOLDOPT_CALL(VecGetLocalSize(e, &local));
  n_ = n;
  nblocks_ = local / n;
  const std::size_t nn = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  lu_.assign(nn * static_cast<std::size_t>(nblocks_), 0.0);
  pivots_.assign(static_cast<std::size_t>(local), 0);
  row_scale_.assign(static_cast<std::size_t>(local), 0.0);
  // Column j of every block: A_b[i + j n] = δ_ij − (Φᵀ E_j)_{b n + i}.
  for (PetscInt j = 0; j < n; ++j) {
    FOLDOPT_CALL(VecZeroEntries(e));
    PetscScalar* ea;
    FOLDOPT_CALL(VecGetArray(e, &ea));
    for (PetscInt b = 0; b < nblocks_; ++b) ea[b * n + j] = 1.0;
    FOLDOPT_CALL(VecRestoreArray(e, &ea));
    phi_t(e, col);
    const PetscScalar* c;
    FOLDOPT_CALL(VecGetArrayRead(col, &c));
    for (PetscInt b = 0; b < nblocks_; ++b) {
      PetscScalar* A = lu_.data() + nn * static_cast<std::size_t>(b) + static_cast<std::size_t>(j * n);
      for (PetscInt i = 0; i < n; ++i) A[i] = (i == j ? 1.0 : 0.0) - c[b * n + i];
    }
    FOLDOPT_CALL(VecRestoreArrayRead(col, &c));
  }
  // Row equilibration, then LU with partial pivoting per block (LAPACK getrf; a zero pivot is
  // reported collectively below).
  PetscInt bad_block = -1, bad_row = -1;
  bool zero_pivot = false;
  for (PetscInt b = 0; b < nblocks_ && bad_block < 0; ++b) {
    PetscScalar* A = lu_.data() + nn * static_cast<std::size_t>(b);
    PetscReal* s = row_scale_.data() + b * n;
    for (PetscInt i = 0; i < n; ++i) s[i] = 0;
    for (PetscInt j = 0; j < n; ++j)
      for (PetscInt i = 0; i < n; ++i) s[i] = std::max(s[i], PetscAbsScalar(A[i + j * n]));
    for (PetscInt i = 0; i < n && bad_block < 0; ++i) {
      if (!(s[i] > 0) || !std::isfinite(s[i])) {
        bad_block = b;
        bad_row = i;
      } else {
        s[i] = 1.0 / s[i];
      }
    }
    if (bad_block >= 0) break;
    for (PetscInt j = 0; j < n; ++j)
      for (PetscInt i = 0; i < n; ++i) A[i + j * n] *= s[i];
    const PetscInt zero = lu_factor(n, A, pivots_.data() + b * n, 1e3 * PETSC_MACHINE_EPSILON * (PetscReal)n);
    if (zero >= 0) {
      bad_block = b;
      bad_row = zero;
      zero_pivot = true;
    }
  }
  PetscInt rstart;
  FOLDOPT_CALL(VecGetOwnershipRange(e, &rstart, nullptr));
  // A singular block (first such instance over the ranks): the coupled Krylov solve instead.
  PetscInt bad = bad_block >= 0 ? rstart / std::max<PetscInt>(n, 1) + bad_block : PETSC_MAX_INT, first = 0;
  MPI_Allreduce(&bad, &first, 1, MPIU_INT, MPI_MIN, comm_);
  if (first != PETSC_MAX_INT) {
    const int mine = bad == first;
    int owner = 0, rank = 0;
    MPI_Comm_rank(comm_, &rank);
    int cand = mine ? rank : INT_MAX;
    MPI_Allreduce(&cand, &owner, 1, MPI_INT, MPI_MIN, comm_);
    int row[2] = {static_cast<int>(bad_row), zero_pivot ? 1 : 0};
    MPI_Bcast(row, 2, MPI_INT, owner, comm_);
    decision_ = detail::format("coupled: the block I - Phi^T of instance %" PetscInt_FMT " is singular (row %d %s), "
                               "after %" PetscInt_FMT " products for the blocks",
                               first, row[0], row[1] ? "has a pivot below 1e3 n eps after row equilibration" : "is zero or not finite", n);
    active_ = false;
    return false;
  }
  if (!ksp_) {
    FOLDOPT_CALL(KSPCreate(comm_, ksp_.out()));
    FOLDOPT_CALL(KSPSetOptionsPrefix(ksp_, (prefix_ + "batch_").c_str()));
    FOLDOPT_CALL(KSPSetType(ksp_, KSPRICHARDSON));
    FOLDOPT_CALL(KSPRichardsonSetScale(ksp_, 1.0));
    FOLDOPT_CALL(KSPSetPCSide(ksp_, PC_LEFT));
    FOLDOPT_CALL(KSPSetNormType(ksp_, KSP_NORM_PRECONDITIONED));
    PC pc;
    FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
    FOLDOPT_CALL(PCSetType(pc, PCSHELL));
    FOLDOPT_CALL(PCShellSetContext(pc, this));
    FOLDOPT_CALL(PCShellSetApply(pc, &BatchBlocks::apply));
    FOLDOPT_CALL(PCShellSetName(pc, "exact per-instance LU (foldopt batch blocks)"));
  }
  PetscReal rtol, atol, dtol;
  PetscInt maxit;
  FOLDOPT_CALL(KSPGetTolerances(like, &rtol, &atol, &dtol, &maxit));
  FOLDOPT_CALL(KSPSetTolerances(ksp_, rtol, atol, dtol, maxit));
  PetscBool nonzero;
  FOLDOPT_CALL(KSPGetInitialGuessNonzero(like, &nonzero));
  FOLDOPT_CALL(KSPSetInitialGuessNonzero(ksp_, nonzero));
  FOLDOPT_CALL(KSPSetOperators(ksp_, a, a));
  FOLDOPT_CALL(KSPSetUp(ksp_));
  return true;
}

void BatchBlocks::fall_back(const std::string& reason) {
  active_ = false;
  decision_ = "coupled: " + reason;
}

PC BatchBlocks::pc() const {
  PC pc;
  FOLDOPT_CALL(KSPGetPC(ksp_, &pc));
  return pc;
}

std::string BatchBlocks::method() const { return "krylov richardson, pc exact per-instance LU (batch blocks)"; }

void BatchBlocks::solve_blocks(const PetscScalar* x, PetscScalar* y) const {
  const std::size_t nn = static_cast<std::size_t>(n_) * static_cast<std::size_t>(n_);
  for (PetscInt b = 0; b < nblocks_; ++b) {
    const PetscReal* s = row_scale_.data() + b * n_;
    PetscScalar* yb = y + b * n_;
    for (PetscInt i = 0; i < n_; ++i) yb[i] = s[i] * x[b * n_ + i];
    lu_solve(n_, lu_.data() + nn * static_cast<std::size_t>(b), pivots_.data() + b * n_, yb);
  }
}

PetscErrorCode BatchBlocks::apply(PC pc, Vec x, Vec y) {
  PetscFunctionBeginUser;
  void* ctx = nullptr;
  PetscCall(PCShellGetContext(pc, &ctx));
  const BatchBlocks* self = static_cast<const BatchBlocks*>(ctx);
  const PetscScalar* xa;
  PetscScalar* ya;
  PetscCall(VecGetArrayRead(x, &xa));
  PetscCall(VecGetArray(y, &ya));
  self->solve_blocks(xa, ya);
  PetscCall(VecRestoreArray(y, &ya));
  PetscCall(VecRestoreArrayRead(x, &xa));
  PetscFunctionReturn(0);
}

}  // namespace foldopt
