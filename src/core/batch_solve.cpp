// foldopt: per-instance adjoint solves for a batch (see src/core/batch_solve.hpp).
//
// Method: exact block solves of the block-diagonal I − Φᵀ as a PCSHELL under KSPRICHARDSON.
// Algorithm: where the map assembles Φᵀ: its sparse part Φ_sᵀ read row by row (every column
//   inside the row's instance, else the products below), the low-rank part Φᵀ = Φ_sᵀ + V Uᵀ by
//   the rows of U and V (every column of U, V touching one instance only). A block whose Φ_sᵀ
//   part is diagonal, with r ≤ 16 low-rank columns: D = I − Φ_sᵀ|_b, W = D⁻¹V_b, capacitance
//   C = I − U_bᵀW (r×r, LU), and (D − V_bU_bᵀ)⁻¹x = D⁻¹x + W C⁻¹ U_bᵀ D⁻¹x, O(n r) a solve; it is
//   taken unless a D_ii is zero or C cancels (|C_ij| < 1e-10 of the sum of its terms' moduli),
//   then the dense block below. Otherwise block b's column j is (e_j − Φᵀ e_j) restricted to
//   instance b, read off the product of Φᵀ with E_j = Σ_b e_{b·n+j} (instances are independent,
//   so Φᵀ E_j holds column j of every block). Dense blocks: rows scaled by 1/max|a_ij|, then LU
//   with partial pivoting in place (outer-product form, contiguous column updates); the shell
//   applies the two triangular solves per block. (An own kernel, not LAPACK: the reference
//   LAPACK this is built with ran 100×100 blocks about a third slower, and the static library
//   would make every consumer link -llapack.)
// References: Golub, Van Loan, "Matrix Computations" (4th ed.), Algorithm 3.4.1, §3.5.2, §2.1.4.
#include "core/batch_solve.hpp"

#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/compat.hpp"
#include "core/options.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <memory>

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

/// The local rows of a matrix with global column indices: read off the arrays of an AIJ matrix
/// (sequential, or the diagonal and off-diagonal parts of an MPI one) without a MatGetRow per
/// row; any other type row by row through MatGetRow.
class LocalRows {
 public:
  explicit LocalRows(Mat A) : A_(A) {
    FOLDOPT_CALL(MatGetOwnershipRange(A, &rstart_, nullptr));
    FOLDOPT_CALL(MatGetOwnershipRangeColumn(A, &cstart_, nullptr));
    PetscBool mpi = PETSC_FALSE, seq = PETSC_FALSE;
    FOLDOPT_CALL(PetscObjectTypeCompare((PetscObject)A, MATMPIAIJ, &mpi));
    FOLDOPT_CALL(PetscObjectTypeCompare((PetscObject)A, MATSEQAIJ, &seq));
    if (mpi) {
      FOLDOPT_CALL(MatMPIAIJGetSeqAIJ(A, &part_[0], &part_[1], &garray_));
    } else if (seq) {
      part_[0] = A;
      cstart_ = 0;
    } else {
      return;
    }
    for (int k = 0; k < 2; ++k) {
      if (!part_[k]) continue;
      PetscInt nr;
      PetscBool ok = PETSC_FALSE;
      FOLDOPT_CALL(MatGetRowIJ(part_[k], 0, PETSC_FALSE, PETSC_FALSE, &nr, &ia_[k], &ja_[k], &ok));
      FOLDOPT_CHECK(ok, PETSC_ERR_PLIB, "batch blocks: MatGetRowIJ refused an AIJ matrix");
      FOLDOPT_CALL(MatSeqAIJGetArrayRead(part_[k], &va_[k]));
    }
    fast_ = true;
  }
  ~LocalRows() {
    if (!fast_) return;
    for (int k = 0; k < 2; ++k) {
      if (!part_[k]) continue;
      PetscInt nr;
      PetscBool ok;
      MatSeqAIJRestoreArrayRead(part_[k], &va_[k]);
      MatRestoreRowIJ(part_[k], 0, PETSC_FALSE, PETSC_FALSE, &nr, &ia_[k], &ja_[k], &ok);
    }
  }
  LocalRows(const LocalRows&) = delete;
  LocalRows& operator=(const LocalRows&) = delete;
  /// f(global column, value) for every stored entry of local row i (0-based on this rank).
  template <typename F>
  void row(PetscInt i, F&& f) const {
    if (!fast_) {
      PetscInt nc;
      const PetscInt* ci;
      const PetscScalar* va;
      FOLDOPT_CALL(MatGetRow(A_, rstart_ + i, &nc, &ci, &va));
      for (PetscInt t = 0; t < nc; ++t) f(ci[t], va[t]);
      FOLDOPT_CALL(MatRestoreRow(A_, rstart_ + i, &nc, &ci, &va));
      return;
    }
    for (PetscInt t = ia_[0][i]; t < ia_[0][i + 1]; ++t) f(cstart_ + ja_[0][t], va_[0][t]);
    if (part_[1])
      for (PetscInt t = ia_[1][i]; t < ia_[1][i + 1]; ++t) f(garray_[ja_[1][t]], va_[1][t]);
  }

 private:
  Mat A_;
  PetscInt rstart_ = 0, cstart_ = 0;
  bool fast_ = false;
  Mat part_[2] = {nullptr, nullptr};
  const PetscInt* garray_ = nullptr;
  const PetscInt* ia_[2] = {nullptr, nullptr};
  const PetscInt* ja_[2] = {nullptr, nullptr};
  const PetscScalar* va_[2] = {nullptr, nullptr};
};
}  // namespace

BatchBlocks::BatchBlocks(MPI_Comm comm, const std::string& prefix) : comm_(comm), prefix_(prefix) {}

void BatchBlocks::set_from_options() {
  static const char* const modes[] = {"auto", "coupled", "blocks"};
  const char* pre = prefix_.c_str();
  options::check_choice(pre, "batch_solve", {"auto", "coupled", "blocks"});
  options::check_int(pre, "batch_block_max_size", 1, PETSC_MAX_INT);
  options::check_choice(pre, "batch_block_source", {"auto", "products"});
  static const char* const sources[] = {"auto", "products"};
  PetscInt mode = static_cast<PetscInt>(mode_), maxsize = max_size_, source = static_cast<PetscInt>(source_);
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
    PetscCall(PetscOptionsEList("-batch_block_source",
                                "Where the blocks path gets its blocks: auto (the map's assembled Phi^T where it can "
                                "assemble one that is block diagonal, Woodbury for diagonal-plus-low-rank blocks; else n "
                                "batched products) or products (always n batched products)",
                                "AdjointSolver", sources, 2, sources[source], &source, nullptr));
    PetscOptionsEnd();
    PetscFunctionReturn(0);
  };
  FOLDOPT_CALL(read());
  mode_ = static_cast<BatchSolveMode>(mode);
  max_size_ = maxsize;
  source_ = static_cast<BlockSource>(source);
}

bool BatchBlocks::choose(UpdateMap& map, bool general_form) {
  active_ = false;
  map_ = &map;
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
  decision_ = detail::format("blocks (%s): %" PetscInt_FMT " exact %" PetscInt_FMT "x%" PetscInt_FMT " solves",
                             asked ? (opt + " blocks").c_str() : "auto", l.batch, l.n, l.n);
  active_ = true;
  return true;
}

bool BatchBlocks::blocks_from_assembled(const Layout& l, std::string* how) {
  if (source_ == BlockSource::products || !map_ || !map_->can_assemble()) return false;
  const PetscInt n = l.n;
  OwnedMat Pt = map_->assemble_phi_transpose();
  OwnedMat U, V;
  if (map_->has_low_rank()) map_->low_rank(&U, &V);

  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(Pt, &rstart, &rend));
  const PetscInt first = rstart / n;  // instances on this rank: [first, first + nblocks_)
  // Per instance: whether Φ_sᵀ is diagonal there; the low-rank columns touching it.
  int coupled = 0;  // a column outside the row's instance (or a low-rank column in two)
  std::vector<char> diagonal(static_cast<std::size_t>(nblocks_), 1);
  std::vector<std::vector<PetscInt>> cols(static_cast<std::size_t>(nblocks_));
  PetscInt R = 0;
  if (U) FOLDOPT_CALL(MatGetSize(U, nullptr, &R));
  std::map<PetscInt, PetscInt> owner;  // low-rank column → local instance
  LocalRows prow(Pt);
  std::unique_ptr<LocalRows> urow, vrow;
  if (U) urow.reset(new LocalRows(U));
  if (V) vrow.reset(new LocalRows(V));
  PetscInt last_col = -1, last_owner = -1;
  for (PetscInt i = rstart; i < rend && !coupled; ++i) {
    const PetscInt b = i / n - first, c0 = (i / n) * n;
    prow.row(i - rstart, [&](PetscInt c, PetscScalar) {
      if (c < c0 || c >= c0 + n) coupled = 1;
      if (c != i) diagonal[b] = 0;
    });
    for (const LocalRows* M : {urow.get(), vrow.get()}) {
      if (!M) continue;
      M->row(i - rstart, [&](PetscInt c, PetscScalar) {
        if (c == last_col) {  // the common case: the same column as the previous entry
          if (last_owner != b) coupled = 1;
          return;
        }
        const auto it = owner.emplace(c, b).first;
        if (it->second != b) coupled = 1;
        last_col = c;
        last_owner = it->second;
      });
    }
  }
  // A low-rank column on two ranks couples two instances.
  if (R > 0) {
    std::vector<int> touched(static_cast<std::size_t>(R), 0);
    for (const auto& o : owner) touched[o.first] = 1;
    FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, touched.data(), static_cast<int>(R), MPI_INT, MPI_SUM, comm_));
    for (int t : touched) coupled = coupled || t > 1;
  }
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, &coupled, 1, MPI_INT, MPI_MAX, comm_));
  if (coupled) return false;
  for (const auto& o : owner) cols[o.second].push_back(o.first);  // sorted: std::map order

  const std::size_t nn = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  const PetscInt max_rank = 16;
  lu_offset_.assign(nblocks_, -1);
  lr_offset_.assign(nblocks_, -1);
  cap_offset_.assign(nblocks_, -1);
  cap_piv_offset_.assign(nblocks_, -1);
  lr_rank_.assign(nblocks_, 0);
  dinv_.assign(static_cast<std::size_t>(nblocks_ * n), 0.0);
  lr_u_.clear();
  lr_w_.clear();
  cap_.clear();
  cap_pivots_.clear();
  lu_.clear();
  PetscInt woodbury = 0, dense = 0, max_r = 0;
  std::vector<PetscScalar> Ub, Vb;
  // The rows of instance b: Φ_sᵀ entries and the low-rank rows, into dense n×r U_b, V_b.
  auto low_rank_rows = [&](PetscInt b, const std::vector<PetscInt>& c) {
    const std::size_t r = c.size();
    Ub.assign(static_cast<std::size_t>(n) * r, 0.0);
    Vb.assign(static_cast<std::size_t>(n) * r, 0.0);
    for (int which = 0; which < 2; ++which) {
      const LocalRows* M = which ? vrow.get() : urow.get();
      std::vector<PetscScalar>& out = which ? Vb : Ub;
      if (!M) continue;
      for (PetscInt i = 0; i < n; ++i)
        M->row(b * n + i, [&](PetscInt col, PetscScalar v) {
          const std::size_t q = static_cast<std::size_t>(std::lower_bound(c.begin(), c.end(), col) - c.begin());
          out[i + q * n] += v;
        });
    }
  };
  for (PetscInt b = 0; b < nblocks_; ++b) {
    const std::vector<PetscInt>& c = cols[b];
    const PetscInt r = static_cast<PetscInt>(c.size());
    low_rank_rows(b, c);
    bool done = false;
    if (diagonal[b] && r <= max_rank) {
      // D − V_b U_bᵀ by Woodbury, if D is invertible and the capacitance keeps its digits.
      bool ok = true;
      PetscScalar* dinv = dinv_.data() + b * n;
      for (PetscInt i = 0; i < n && ok; ++i) {
        PetscScalar d = 1.0;
        prow.row(b * n + i, [&](PetscInt, PetscScalar v) { d -= v; });  // the diagonal entry only
        ok = PetscAbsScalar(d) > 0 && std::isfinite(PetscRealPart(d));
        if (ok) dinv[i] = 1.0 / d;
      }
      std::vector<PetscScalar> W(static_cast<std::size_t>(n * r)), C(static_cast<std::size_t>(r * r));
      for (PetscInt q = 0; q < r && ok; ++q)
        for (PetscInt i = 0; i < n; ++i) W[i + q * n] = dinv[i] * Vb[i + q * n];
      for (PetscInt q = 0; q < r && ok; ++q)
        for (PetscInt p = 0; p < r; ++p) {  // C_pq = δ_pq − Σ_i U_ip W_iq
          PetscScalar sum = (p == q) ? 1.0 : 0.0;
          PetscReal size = std::abs(PetscRealPart(sum));
          for (PetscInt i = 0; i < n; ++i) {
            const PetscScalar t = Ub[i + p * n] * W[i + q * n];
            sum -= t;
            size += PetscAbsScalar(t);
          }
          C[p + q * r] = sum;
          // a diagonal entry that cancels to below 1e-10 of its terms has lost its digits
          ok = ok && std::isfinite(size) && (p != q || PetscAbsScalar(sum) > 1e-10 * size);
        }
      std::vector<PetscInt> piv(static_cast<std::size_t>(r));
      if (ok && r > 0) {
        PetscReal cmax = 0;
        for (const PetscScalar v : C) cmax = std::max(cmax, PetscAbsScalar(v));
        ok = lu_factor(r, C.data(), piv.data(), 1e3 * PETSC_MACHINE_EPSILON * (PetscReal)r * cmax) < 0;
      }
      if (ok) {
        lr_rank_[b] = r;
        lr_offset_[b] = static_cast<std::ptrdiff_t>(lr_u_.size());
        lr_u_.insert(lr_u_.end(), Ub.begin(), Ub.end());
        lr_w_.insert(lr_w_.end(), W.begin(), W.end());
        cap_offset_[b] = static_cast<std::ptrdiff_t>(cap_.size());
        cap_piv_offset_[b] = static_cast<std::ptrdiff_t>(cap_pivots_.size());
        cap_.insert(cap_.end(), C.begin(), C.end());
        cap_pivots_.insert(cap_pivots_.end(), piv.begin(), piv.end());
        ++woodbury;
        max_r = std::max(max_r, r);
        done = true;
      }
    }
    if (done) continue;
    // The dense block I − Φ_sᵀ|_b − V_b U_bᵀ, column-major.
    lu_offset_[b] = static_cast<std::ptrdiff_t>(lu_.size());
    lu_.resize(lu_.size() + nn, 0.0);
    PetscScalar* A = lu_.data() + lu_offset_[b];
    for (PetscInt i = 0; i < n; ++i) {
      A[i + i * n] = 1.0;
      prow.row(b * n + i, [&](PetscInt col, PetscScalar v) { A[i + (col - (first + b) * n) * n] -= v; });
    }
    for (PetscInt q = 0; q < r; ++q)
      for (PetscInt j = 0; j < n; ++j) {
        const PetscScalar u = Ub[j + q * n];
        if (u != 0.0)
          for (PetscInt i = 0; i < n; ++i) A[i + j * n] -= Vb[i + q * n] * u;
      }
    ++dense;
  }
  PetscInt counts[3] = {woodbury, dense, max_r};
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPIU_INT, MPI_SUM, comm_));
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, counts + 2, 1, MPIU_INT, MPI_MAX, comm_));
  *how = detail::format("from the assembled Phi^T: %" PetscInt_FMT " by Woodbury (diagonal + rank <= %" PetscInt_FMT
                        "), %" PetscInt_FMT " dense LU",
                        counts[0], counts[2], counts[1]);
  return true;
}

bool BatchBlocks::factor_dense(PetscInt rstart, PetscInt products) {
  const PetscInt n = n_;
  // Row equilibration, then LU with partial pivoting per dense block (a zero pivot is reported
  // collectively below).
  PetscInt bad_block = -1, bad_row = -1;
  bool zero_pivot = false;
  for (PetscInt b = 0; b < nblocks_ && bad_block < 0; ++b) {
    if (lu_offset_[b] < 0) continue;
    PetscScalar* A = lu_.data() + lu_offset_[b];
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
  // A singular block (first such instance over the ranks): the coupled Krylov solve instead.
  PetscInt bad = bad_block >= 0 ? rstart / std::max<PetscInt>(n, 1) + bad_block : PETSC_MAX_INT, first = 0;
  MPI_Allreduce(&bad, &first, 1, MPIU_INT, MPI_MIN, comm_);
  if (first == PETSC_MAX_INT) return true;
  const int mine = bad == first;
  int owner = 0, rank = 0;
  MPI_Comm_rank(comm_, &rank);
  int cand = mine ? rank : INT_MAX;
  MPI_Allreduce(&cand, &owner, 1, MPI_INT, MPI_MIN, comm_);
  int row[2] = {static_cast<int>(bad_row), zero_pivot ? 1 : 0};
  MPI_Bcast(row, 2, MPI_INT, owner, comm_);
  decision_ = detail::format("coupled: the block I - Phi^T of instance %" PetscInt_FMT " is singular (row %d %s), "
                             "after %" PetscInt_FMT " products for the blocks",
                             first, row[0], row[1] ? "has a pivot below 1e3 n eps after row equilibration" : "is zero or not finite", products);
  active_ = false;
  return false;
}

bool BatchBlocks::setup(Mat a, const Layout& l, const std::function<void(Vec, Vec)>& phi_t, KSP like) {
  const PetscInt n = l.n;
  OwnedVec e, col;
  FOLDOPT_CALL(MatCreateVecs(a, e.out(), col.out()));
  PetscInt local, rstart;
  FOLDOPT_CALL(VecGetLocalSize(e, &local));
  FOLDOPT_CALL(VecGetOwnershipRange(e, &rstart, nullptr));
  n_ = n;
  nblocks_ = local / n;
  const std::size_t nn = static_cast<std::size_t>(n) * static_cast<std::size_t>(n);
  pivots_.assign(static_cast<std::size_t>(local), 0);
  row_scale_.assign(static_cast<std::size_t>(local), 0.0);
  std::string how;
  PetscInt products = 0;
  if (!blocks_from_assembled(l, &how)) {
    lu_offset_.resize(nblocks_);
    for (PetscInt b = 0; b < nblocks_; ++b) lu_offset_[b] = static_cast<std::ptrdiff_t>(nn) * b;
    lr_rank_.assign(nblocks_, 0);
    dinv_.clear();
    lr_u_.clear();
    lr_w_.clear();
    cap_.clear();
    lu_.assign(nn * static_cast<std::size_t>(nblocks_), 0.0);
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
    products = n;
    how = detail::format("extracted with %" PetscInt_FMT " batched products, dense LU", n);
  }
  if (!factor_dense(rstart, products)) return false;
  decision_ += ", " + how;
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
  std::vector<PetscScalar> t;
  for (PetscInt b = 0; b < nblocks_; ++b) {
    const PetscScalar* xb = x + b * n_;
    PetscScalar* yb = y + b * n_;
    if (lu_offset_[b] >= 0) {
      const PetscReal* s = row_scale_.data() + b * n_;
      for (PetscInt i = 0; i < n_; ++i) yb[i] = s[i] * xb[i];
      lu_solve(n_, lu_.data() + lu_offset_[b], pivots_.data() + b * n_, yb);
      continue;
    }
    // y = D⁻¹x + W C⁻¹ Uᵀ D⁻¹x
    const PetscScalar* dinv = dinv_.data() + b * n_;
    for (PetscInt i = 0; i < n_; ++i) yb[i] = dinv[i] * xb[i];
    const PetscInt r = lr_rank_[b];
    if (r == 0) continue;
    const PetscScalar* U = lr_u_.data() + lr_offset_[b];
    const PetscScalar* W = lr_w_.data() + lr_offset_[b];
    t.assign(static_cast<std::size_t>(r), 0.0);
    for (PetscInt q = 0; q < r; ++q) {
      PetscScalar sum = 0;
      for (PetscInt i = 0; i < n_; ++i) sum += U[i + q * n_] * yb[i];
      t[q] = sum;
    }
    lu_solve(r, cap_.data() + cap_offset_[b], cap_pivots_.data() + cap_piv_offset_[b], t.data());
    for (PetscInt q = 0; q < r; ++q)
      for (PetscInt i = 0; i < n_; ++i) yb[i] += W[i + q * n_] * t[q];
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
