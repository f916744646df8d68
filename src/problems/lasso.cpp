// foldopt: the lasso (problem `lasso`); see include/foldopt/problems/lasso.hpp.
//
// Method:    min_β ½‖Xβ − y‖² + λ‖β‖₁ as a composite problem: f = least_squares (y and X.values
//            blocks), h = l1 (the scalar block `lambda`), map prox_grad, forward fista. At the
//            solution β with support S and signs s = sign β_S, strictly inside the kinks:
//              X_Sᵀ(y − X_Sβ_S) = λ s,   |X_jᵀ(y − Xβ)| < λ (j ∉ S),
//              β_S = (X_SᵀX_S)⁻¹ (X_Sᵀy − λ s)
//            (what the tests check the gradients of the layer against).
// Default λ: λ = 0.1 · min_b ‖Xᵀy_b‖∞; ‖Xᵀy_b‖∞ is the smallest λ at which β = 0 solves
//            instance b, so every instance keeps a nonzero solution. One segmented max over the
//            batch vector −Xᵀy = ∇f(0) (batch::max_abs).
// Algorithm (generated instances, m = 2n by default; counter-based draws by (seed, stream, global
//            index), so the instance is the same to the last bit at any number of ranks):
//   X:  row i stores column i mod n and every column j kept by Bernoulli(density) draws, taken
//       as geometric gaps between kept columns (O(nnz) draws); X_ij = N(0, 1)/√(density·m + m/n)
//       (Box–Muller from the draws of (i, j)), so that columns have norm ≈ 1.
//   β*: instance b stores entry i when its draw is below `sparsity`, plus one entry chosen by
//       (seed, b); values ±(1 + u), u uniform in [0, 1).
//   y_b = Xβ*_b + noise·e, e uniform in [−1, 1); row sums formed in column order from the draws.
// References: R. Tibshirani, J. R. Stat. Soc. B 58 (1996) 267–288 (the lasso);
//   J. J. Fuchs, IEEE Trans. Inf. Theory 50 (2004) 1341–1344 (its optimality conditions);
//   L. Devroye, Non-Uniform Random Variate Generation (1986), §X.2 (geometric gaps).
#include <foldopt/problems/lasso.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/prox/l1.hpp>

#include "core/options.hpp"
#include "core/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace foldopt {

namespace {

using detail::format;

// Streams of the generator's draws (index: the column, entry or row).
constexpr std::uint64_t kColumnGaps = 1ULL << 40;  // + row i
constexpr std::uint64_t kValues = 2ULL << 40;      // + row i, index column j (two draws: 2j, 2j + 1)
constexpr std::uint64_t kSupport = 3ULL << 40;     // + instance b, index entry i
constexpr std::uint64_t kSign = 4ULL << 40;
constexpr std::uint64_t kMagnitude = 5ULL << 40;
constexpr std::uint64_t kNoise = 6ULL << 40;       // + instance b, index row i

const char* not_finite(PetscReal x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+inf" : "-inf";
  return nullptr;
}

Layout lasso_layout(Mat X, PetscInt batch, const std::string& xname) {
  FOLDOPT_CHECK(X != nullptr, PETSC_ERR_ARG_NULL, "lasso: no matrix %s", xname.c_str());
  FOLDOPT_CHECK(batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "lasso: batch %" PetscInt_FMT " must be positive", batch);
  PetscInt M, N;
  FOLDOPT_CALL(MatGetSize(X, &M, &N));
  FOLDOPT_CHECK(M > 0 && N > 0, PETSC_ERR_ARG_SIZ,
                "lasso: %s is empty (%" PetscInt_FMT " x %" PetscInt_FMT "): the lasso needs at least one row and one unknown",
                xname.c_str(), M, N);
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)X, &comm));
  return batch_layout(comm, N, batch);
}

/// X's entries finite, and at least one nonzero (collective).
void check_matrix(Mat X, const std::string& xname) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)X, &comm));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(X, &rstart, &rend));
  std::string bad;
  int nonzero = 0;
  for (PetscInt i = rstart; i < rend && bad.empty(); ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    FOLDOPT_CALL(MatGetRow(X, i, &nc, &cols, &vals));
    for (PetscInt k = 0; k < nc && bad.empty(); ++k) {
      const PetscReal v = PetscRealPart(vals[k]);
      if (const char* cause = not_finite(v))
        bad = format("lasso: %s: entry (%" PetscInt_FMT ", %" PetscInt_FMT ") is %s", xname.c_str(), i, cols[k], cause);
      nonzero |= v != 0;
    }
    FOLDOPT_CALL(MatRestoreRow(X, i, &nc, &cols, &vals));
  }
  check_collective(comm, bad.empty(), PETSC_ERR_ARG_OUTOFRANGE, bad);
  int any = 0;
  MPI_Allreduce(&nonzero, &any, 1, MPI_INT, MPI_MAX, comm);
  FOLDOPT_CHECK(any, PETSC_ERR_ARG_WRONG, "lasso: %s has no nonzero entry (X = 0 leaves nothing to fit)", xname.c_str());
}

/// y: B·m entries split as PETSc splits B·m, all finite (collective).
void check_rhs(Vec y, PetscInt m, PetscInt batch, const std::string& yname, const std::string& xname) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)y, &comm));
  PetscInt size, local;
  FOLDOPT_CALL(VecGetSize(y, &size));
  FOLDOPT_CALL(VecGetLocalSize(y, &local));
  FOLDOPT_CHECK(size == batch * m, PETSC_ERR_ARG_SIZ,
                "lasso: %s has %" PetscInt_FMT " entries but %s has %" PetscInt_FMT " rows (%" PetscInt_FMT
                " instances: %" PetscInt_FMT " entries)",
                yname.c_str(), size, xname.c_str(), m, batch, batch * m);
  PetscInt want = PETSC_DECIDE, total = size;
  FOLDOPT_CALL(PetscSplitOwnership(comm, &want, &total));
  check_collective(comm, local == want, PETSC_ERR_ARG_SIZ,
                   format("lasso: %s: this rank holds %" PetscInt_FMT " entries, not PETSc's split of %" PetscInt_FMT
                          " (%" PetscInt_FMT ")",
                          yname.c_str(), local, size, want));
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rstart, &rend));
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(y, &a));
  std::string bad;
  for (PetscInt i = rstart; i < rend && bad.empty(); ++i)
    if (const char* cause = not_finite(PetscRealPart(a[i - rstart])))
      bad = format("lasso: %s: entry %" PetscInt_FMT " is %s", yname.c_str(), i, cause);
  FOLDOPT_CALL(VecRestoreArrayRead(y, &a));
  check_collective(comm, bad.empty(), PETSC_ERR_ARG_OUTOFRANGE, bad);
}

void check_lambda(PetscReal lambda) {
  FOLDOPT_CHECK(std::isfinite(lambda) && lambda >= 0, PETSC_ERR_ARG_OUTOFRANGE, "lasso: -lambda %g must be finite and >= 0",
                (double)lambda);
}

/// This rank's share of PETSc's split of `count`, and where it starts.
void split(MPI_Comm comm, PetscInt count, PetscInt* local, PetscInt* start) {
  *local = PETSC_DECIDE;
  FOLDOPT_CALL(PetscSplitOwnership(comm, local, &count));
  PetscInt s = 0;
  MPI_Exscan(local, &s, 1, MPIU_INT, MPI_SUM, comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  *start = rank == 0 ? 0 : s;
}

/// The columns stored in row i of the generated X (sorted, distinct).
std::vector<PetscInt> row_columns(std::uint64_t seed, PetscInt i, PetscInt n, PetscReal density) {
  std::vector<PetscInt> cols;
  if (density >= 1) {
    for (PetscInt j = 0; j < n; ++j) cols.push_back(j);
    return cols;
  }
  const double log_q = std::log1p(-static_cast<double>(density));  // < 0
  std::uint64_t k = 0;
  for (double j = -1;;) {
    const double u = uniform01(seed, kColumnGaps + static_cast<std::uint64_t>(i), k++);
    j += 1 + std::floor(std::log1p(-u) / log_q);  // gap ~ geometric(density)
    if (!(j < static_cast<double>(n))) break;
    cols.push_back(static_cast<PetscInt>(j));
  }
  const PetscInt forced = i % n;
  auto at = std::lower_bound(cols.begin(), cols.end(), forced);
  if (at == cols.end() || *at != forced) cols.insert(at, forced);
  return cols;
}

/// X_ij before scaling: a standard normal from the draws of (i, j).
double normal(std::uint64_t seed, PetscInt i, PetscInt j) {
  const std::uint64_t s = kValues + static_cast<std::uint64_t>(i), k = 2 * static_cast<std::uint64_t>(j);
  const double u1 = uniform01(seed, s, k), u2 = uniform01(seed, s, k + 1);
  return std::sqrt(-2 * std::log1p(-u1)) * std::cos(2 * M_PI * u2);
}

/// β*_{b,i} of the generator.
double planted_entry(std::uint64_t seed, PetscInt b, PetscInt i, PetscInt n, PetscReal sparsity) {
  const std::uint64_t sb = static_cast<std::uint64_t>(b), ii = static_cast<std::uint64_t>(i);
  const PetscInt forced = static_cast<PetscInt>(mix64(seed ^ (kSupport + sb)) % static_cast<std::uint64_t>(n));
  if (!(i == forced || uniform01(seed, kSupport + sb, ii) < sparsity)) return 0;
  const double sign = uniform01(seed, kSign + sb, ii) < 0.5 ? -1 : 1;
  return sign * (1 + uniform01(seed, kMagnitude + sb, ii));
}

}  // namespace

Lasso::Lasso(Mat X, Vec y, PetscInt batch, std::optional<PetscReal> lambda, const std::string& xname, const std::string& yname)
    : CompositeProblem("lasso", lasso_layout(X, batch, xname)) {
  FOLDOPT_CHECK(y != nullptr, PETSC_ERR_ARG_NULL, "lasso: no vector %s", yname.c_str());
  FOLDOPT_CALL(MatGetSize(X, &m_, nullptr));
  check_matrix(X, xname);
  check_rhs(y, m_, batch, yname, xname);
  if (lambda) check_lambda(*lambda);
  X_ = OwnedMat::share(X);
  OwnedVec lam;
  FOLDOPT_CALL(VecCreateMPI(layout_.comm, PETSC_DECIDE, 1, lam.out()));
  FOLDOPT_CALL(VecSet(lam, lambda.value_or(0)));
  theta_.add("y", y, BlockKind::instance);
  theta_.add("lambda", lam, BlockKind::scalar);
  OwnedVec values = matrix_values::values(X_);
  theta_.add("X.values", values, BlockKind::matrix_values, X_);
  set_parts(make_least_squares(layout_, X_, "y", "X.values"), std::unique_ptr<Prox>(new L1Prox(layout_, "lambda")));
  if (lambda) {
    lambda_ = *lambda;
    return;
  }
  // λ = 0.1 · min_b ‖Xᵀy_b‖∞ from ∇f(0) = −Xᵀy.
  OwnedVec zero = create_vec(), g = create_vec();
  FOLDOPT_CALL(VecZeroEntries(zero));
  f_->value_gradient(zero, theta_, g);
  const std::vector<PetscReal> top = batch::max_abs(g, layout_.n);
  lambda_ = 0.1 * *std::min_element(top.begin(), top.end());
  lambda_default_ = true;
  FOLDOPT_CALL(VecSet(lam, lambda_));
}

std::unique_ptr<Lasso> Lasso::generate(MPI_Comm comm, const LassoGenerator& gen) {
  FOLDOPT_CHECK(gen.n >= 1, PETSC_ERR_ARG_OUTOFRANGE, "lasso: -n %" PetscInt_FMT " must be positive", gen.n);
  FOLDOPT_CHECK(gen.m >= 0, PETSC_ERR_ARG_OUTOFRANGE, "lasso: -m %" PetscInt_FMT " must be positive (0: 2n)", gen.m);
  FOLDOPT_CHECK(gen.batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "lasso: -batch %" PetscInt_FMT " must be positive", gen.batch);
  FOLDOPT_CHECK(gen.density > 0 && gen.density <= 1, PETSC_ERR_ARG_OUTOFRANGE, "lasso: -density %g must be in (0, 1]",
                (double)gen.density);
  FOLDOPT_CHECK(gen.sparsity >= 0 && gen.sparsity <= 1, PETSC_ERR_ARG_OUTOFRANGE, "lasso: -sparsity %g must be in [0, 1]",
                (double)gen.sparsity);
  FOLDOPT_CHECK(std::isfinite(gen.noise) && gen.noise >= 0, PETSC_ERR_ARG_OUTOFRANGE,
                "lasso: -noise %g must be finite and >= 0", (double)gen.noise);
  const long long big = PETSC_MAX_INT;
  const long long m = gen.m ? gen.m : 2LL * gen.n;
  FOLDOPT_CHECK(m <= big && m * gen.batch <= big && (long long)gen.n * gen.batch <= big, PETSC_ERR_ARG_OUTOFRANGE,
                "lasso: -n %" PetscInt_FMT " -m %lld -batch %" PetscInt_FMT ": the sizes exceed the largest index %lld", gen.n, m,
                gen.batch, big);
  const PetscInt n = gen.n, M = static_cast<PetscInt>(m), B = gen.batch;
  const std::uint64_t seed = gen.seed;
  PetscInt mloc, rstart, nloc, cstart;
  split(comm, M, &mloc, &rstart);
  split(comm, n, &nloc, &cstart);
  std::vector<std::vector<PetscInt>> rows(static_cast<std::size_t>(mloc));
  std::vector<PetscInt> dnz(static_cast<std::size_t>(mloc)), onz(static_cast<std::size_t>(mloc));
  for (PetscInt r = 0; r < mloc; ++r) {
    rows[r] = row_columns(seed, rstart + r, n, gen.density);
    for (PetscInt j : rows[r]) (j >= cstart && j < cstart + nloc ? dnz[r] : onz[r])++;
  }
  OwnedMat X;
  FOLDOPT_CALL(MatCreateAIJ(comm, mloc, nloc, M, n, 0, dnz.data(), 0, onz.data(), X.out()));
  const double scale = 1 / std::sqrt(static_cast<double>(gen.density) * M + static_cast<double>(M) / n);
  std::vector<PetscScalar> vals;
  for (PetscInt r = 0; r < mloc; ++r) {
    const PetscInt i = rstart + r;
    vals.resize(rows[r].size());
    for (std::size_t k = 0; k < rows[r].size(); ++k) vals[k] = scale * normal(seed, i, rows[r][k]);
    FOLDOPT_CALL(MatSetValues(X, 1, &i, static_cast<PetscInt>(rows[r].size()), rows[r].data(), vals.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(X, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(X, MAT_FINAL_ASSEMBLY));

  // β* in the batch layout, and y_b = Xβ*_b + noise: each local row's sum is formed from the
  // draws in ascending column order (no MatMult, whose order of summation depends on the split),
  // so y is the same to the last bit at any number of ranks.
  const Layout layout = batch_layout(comm, n, B);
  OwnedVec planted, y;
  FOLDOPT_CALL(VecCreateMPI(comm, layout.local, n * B, planted.out()));
  FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, M * B, y.out()));
  PetscInt support = 0;
  {
    PetscInt s, e;
    FOLDOPT_CALL(VecGetOwnershipRange(planted, &s, &e));
    for (PetscInt I = s; I < e; ++I) {
      const double v = planted_entry(seed, I / n, I % n, n, gen.sparsity);
      support += v != 0;
      FOLDOPT_CALL(VecSetValue(planted, I, v, INSERT_VALUES));
    }
    FOLDOPT_CALL(VecAssemblyBegin(planted));
    FOLDOPT_CALL(VecAssemblyEnd(planted));
  }
  for (PetscInt b = 0; b < B; ++b) {
    for (PetscInt r = 0; r < mloc; ++r) {
      const PetscInt i = rstart + r;
      double sum = 0;
      for (PetscInt j : rows[r]) {
        const double bj = planted_entry(seed, b, j, n, gen.sparsity);
        if (bj != 0) sum += scale * normal(seed, i, j) * bj;
      }
      const double e = 2 * uniform01(seed, kNoise + static_cast<std::uint64_t>(b), static_cast<std::uint64_t>(i)) - 1;
      FOLDOPT_CALL(VecSetValue(y, b * M + i, sum + gen.noise * e, INSERT_VALUES));
    }
  }
  FOLDOPT_CALL(VecAssemblyBegin(y));
  FOLDOPT_CALL(VecAssemblyEnd(y));
  std::unique_ptr<Lasso> p(new Lasso(X, y, B, gen.lambda));
  p->planted_ = std::move(planted);
  MPI_Allreduce(&support, &p->planted_support_, 1, MPIU_INT, MPI_SUM, comm);
  p->noise_ = gen.noise;
  return p;
}

std::unique_ptr<Lasso> Lasso::load(MPI_Comm comm, const std::string& xmat, const std::string& yfile,
                                   std::optional<PetscReal> lambda) {
  FOLDOPT_CHECK(!yfile.empty(), PETSC_ERR_ARG_WRONG, "lasso: -Xmat %s needs -y FILE", xmat.c_str());
  io::StorageChoice storage;
  OwnedMat X = io::read_mat(comm, xmat, PETSC_DECIDE, &storage);
  PetscInt M;
  FOLDOPT_CALL(MatGetSize(X, &M, nullptr));
  PetscInt B = 1;
  OwnedVec y;
  try {
    y = io::read_batch(comm, yfile, M, &B);
  } catch (const Error& e) {
    if (e.code() != PETSC_ERR_ARG_SIZ) throw;
    throw Error(e.code(), std::string(e.what()) + " (the rows of " + xmat + ")", e.collective());
  }
  std::unique_ptr<Lasso> p(new Lasso(X, y, B, lambda, xmat, yfile));
  p->storage_ = storage.describe();
  return p;
}

namespace {
// Strict values before PETSc reads them (src/core/options.hpp).
void check_lasso_options() {
  for (const char* f : {"Xmat", "y"}) options::check_string(nullptr, f);
  options::check_int(nullptr, "n", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "m", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  options::check_real(nullptr, "density", 0, 1, true, false);
  options::check_real(nullptr, "sparsity", 0, 1);
  options::check_real(nullptr, "noise", 0, 1e300);
  options::check_real(nullptr, "lambda", 0, 1e300);
}

PetscErrorCode read_lasso_options(MPI_Comm comm, LassoGenerator* g, char* xmat, char* y, size_t len, PetscBool* gen_set) {
  PetscBool set[7] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscBool lambda_set = PETSC_FALSE;
  PetscInt seed = static_cast<PetscInt>(g->seed);
  PetscReal lambda = 0;
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "lasso problem: min 1/2 ||X b - y||^2 + lambda ||b||_1", "Lasso");
  PetscCall(PetscOptionsString("-Xmat", "Matrix X, m x n (.mtx MatrixMarket, else PETSc binary); without it an instance is generated",
                               "Lasso::load", xmat, xmat, len, nullptr));
  PetscCall(PetscOptionsString("-y", "Vector y (m entries) or an m x B array (a batch of B), file", "Lasso::load", y, y, len, nullptr));
  PetscCall(PetscOptionsReal("-lambda", "Weight of ||b||_1 (default 0.1 min_b ||X'y_b||_inf)", "Lasso", lambda, &lambda, &lambda_set));
  PetscCall(PetscOptionsInt("-n", "Generated instance: unknowns", "Lasso::generate", g->n, &g->n, &set[0]));
  PetscCall(PetscOptionsInt("-m", "Generated instance: rows of X (default 2n)", "Lasso::generate", g->m, &g->m, &set[1]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "Lasso::generate", seed, &seed, &set[2]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of right-hand sides y (instances) B", "Lasso::generate", g->batch,
                            &g->batch, &set[3]));
  PetscCall(PetscOptionsReal("-density", "Generated instance: fraction of stored entries of X", "Lasso::generate", g->density,
                             &g->density, &set[4]));
  PetscCall(PetscOptionsReal("-sparsity", "Generated instance: fraction of nonzero entries of the planted beta*", "Lasso::generate",
                             g->sparsity, &g->sparsity, &set[5]));
  PetscCall(PetscOptionsReal("-noise", "Generated instance: y = X beta* + noise e, e uniform in [-1, 1)", "Lasso::generate",
                             g->noise, &g->noise, &set[6]));
  PetscOptionsEnd();
  g->seed = static_cast<unsigned long>(seed);
  if (lambda_set) g->lambda = lambda;
  *gen_set = PETSC_FALSE;
  for (PetscBool s : set) *gen_set = (*gen_set || s) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<Lasso> Lasso::from_options(MPI_Comm comm) {
  LassoGenerator g;
  char xmat[PETSC_MAX_PATH_LEN] = "", y[PETSC_MAX_PATH_LEN] = "";
  PetscBool gen_set = PETSC_FALSE;
  check_lasso_options();
  FOLDOPT_CALL(read_lasso_options(comm, &g, xmat, y, PETSC_MAX_PATH_LEN, &gen_set));
  if (xmat[0]) {
    FOLDOPT_CHECK(!gen_set, PETSC_ERR_ARG_INCOMP,
                  "lasso: -Xmat reads an instance; -n, -m, -seed, -batch, -density, -sparsity and -noise generate one: give one or "
                  "the other");
    return load(comm, xmat, y, g.lambda);
  }
  FOLDOPT_CHECK(!y[0], PETSC_ERR_ARG_WRONG, "lasso: -y needs -Xmat FILE");
  return generate(comm, g);
}

void Lasso::view(PetscViewer v) const {
  MatInfo info;
  FOLDOPT_CALL(MatGetInfo(X_, MAT_GLOBAL_SUM, &info));
  const std::string storage = storage_.empty() ? io::storage_name(X_) : storage_;
  FOLDOPT_CALL(PetscViewerASCIIPrintf(v, "  X: %s, %" PetscInt_FMT " x %" PetscInt_FMT ", %.0f nonzeros%s; lambda %g%s\n",
                                      storage.c_str(), m_, layout_.n, info.nz_used, layout_.batch > 1 ? ", shared by the instances" : "",
                                      (double)lambda_, lambda_default_ ? " (default: 0.1 min_b ||X'y_b||_inf)" : ""));
  if (planted_support_ >= 0)
    FOLDOPT_CALL(PetscViewerASCIIPrintf(v,
                                        "  generated (by global index): y = X beta* + noise %g, beta* with %" PetscInt_FMT
                                        " nonzeros of %" PetscInt_FMT "\n",
                                        (double)noise_, planted_support_, layout_.global()));
}

}  // namespace foldopt
