// foldopt: the box-constrained QP (problem `qp_box`); see include/foldopt/problems/qp_box.hpp.
//
// Method:    min_x ½xᵀHx − qᵀx on lb ≤ x ≤ ub as a composite problem: f = quadratic (blocks q and
//            H.values), h = the indicator of the box (blocks lb, ub), map pgd, forward tao.
//            At the solution x* with free set F (strictly complementary), for a loss L(x*):
//              H_FF x*_F = q_F − H_FA x*_A,  so  ∂L/∂q_F = H_FF⁻¹ ∂L/∂x*_F,  ∂L/∂q_A = 0,
//              ∂L/∂H_ij = −(∂L/∂q)_i x*_j  (each stored entry its own parameter)
//            (what the tests check the gradients of the layer against).
// Algorithm (generated instances, by global index, the same at any number of ranks):
//   H  = 5-point Laplacian on a grid of mx = ⌈√n⌉ columns (row-major, the last row may be short),
//        Dirichlet (diagonal 4), plus shift·I; a batch repeats it block-diagonally.
//   each entry is free, at its lower bound, or at its upper bound (`random`: probabilities
//   2/3, 1/6, 1/6; `block`: grid columns ix ≥ ⌈2mx/3⌉ active, half at each bound);
//   free: x*ᵢ ∈ [−1, 1), bounds at distance [0.5, 1.5) or ±inf (fraction `unbounded`);
//   active: x*ᵢ at the bound, multiplier |μᵢ| ∈ [0.1, 1) (μ ≥ 0 at lb, μ ≤ 0 at ub);
//   q = H x* − μ, so x* satisfies the KKT conditions H x* − q = μ exactly.
// References: J. Nocedal, S. Wright, Numerical Optimization (2nd ed., Springer 2006), ch. 16
//   (box-constrained QPs, KKT conditions).
#include <foldopt/problems/qp_box.hpp>

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/prox/box.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "core/util.hpp"
#include "problems/common.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace foldopt {

namespace {

using detail::check_entries;
using detail::not_finite;

void check_size(Vec v, PetscInt n, const std::string& name, const std::string& against) {
  PetscInt m;
  FOLDOPT_CALL(VecGetSize(v, &m));
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)v, &comm));
  check_collective(comm, m == n, PETSC_ERR_ARG_SIZ,
                   detail::format("%s has %" PetscInt_FMT " entries but %s has %" PetscInt_FMT " rows", name.c_str(), m,
                                  against.c_str(), n));
}


/// What validate_data needs from H's entries, on this rank: the first entry that is not finite,
/// and the largest magnitude.
struct MatrixScan {
  std::string bad;
  PetscReal max_abs = 0;
};

MatrixScan scan_matrix(Mat H) {
  MatrixScan s;
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(H, &rstart, &rend));
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    FOLDOPT_CALL(MatGetRow(H, i, &nc, &cols, &vals));
    for (PetscInt k = 0; k < nc; ++k) {
      const PetscReal v = PetscRealPart(vals[k]);
      const char* cause = not_finite(v);
      if (cause && s.bad.empty())
        s.bad = detail::format("entry (%" PetscInt_FMT ", %" PetscInt_FMT ") is %s", i, cols[k], cause);
      if (cause) continue;
      s.max_abs = std::max(s.max_abs, std::abs(v));
    }
    FOLDOPT_CALL(MatRestoreRow(H, i, &nc, &cols, &vals));
  }
  return s;
}

/// Σ (h_ij / scale)² over the local rows (finite entries).
PetscReal scaled_square_sum(Mat H, PetscReal scale) {
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(H, &rstart, &rend));
  PetscReal sum = 0;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscScalar* vals;
    FOLDOPT_CALL(MatGetRow(H, i, &nc, nullptr, &vals));
    for (PetscInt k = 0; k < nc; ++k) {
      const PetscReal v = PetscRealPart(vals[k]) / scale;
      sum += v * v;
    }
    FOLDOPT_CALL(MatRestoreRow(H, i, &nc, nullptr, &vals));
  }
  return sum;
}

/// H itself when every row stores its diagonal entry, else a copy with the missing ones stored as
/// explicit zeros (factorizations and preconditioners of the forward solvers need the entry;
/// the caller's matrix is left as it is). Collective.
OwnedMat with_diagonal(Mat H) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)H, &comm));
  PetscInt rstart, rend, N;
  FOLDOPT_CALL(MatGetOwnershipRange(H, &rstart, &rend));
  FOLDOPT_CALL(MatGetSize(H, nullptr, &N));
  std::vector<PetscInt> missing;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    FOLDOPT_CALL(MatGetRow(H, i, &nc, &cols, nullptr));
    if (i < N && !std::binary_search(cols, cols + nc, i)) missing.push_back(i);
    FOLDOPT_CALL(MatRestoreRow(H, i, &nc, &cols, nullptr));
  }
  int mine = missing.empty() ? 0 : 1, any = 0;
  MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm);
  if (!any) return OwnedMat::share(H);
  OwnedMat C;
  FOLDOPT_CALL(MatDuplicate(H, MAT_COPY_VALUES, C.out()));
  FOLDOPT_CALL(MatSetOption(C, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_FALSE));
  FOLDOPT_CALL(MatSetOption(C, MAT_IGNORE_ZERO_ENTRIES, PETSC_FALSE));
  for (PetscInt i : missing) FOLDOPT_CALL(MatSetValue(C, i, i, 0.0, ADD_VALUES));
  FOLDOPT_CALL(MatAssemblyBegin(C, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(C, MAT_FINAL_ASSEMBLY));
  return C;
}

struct QPNames {
  std::string H = "H", q = "q", lb = "lb", ub = "ub";
};

void validate_data(Mat H, Vec q, Vec lb, Vec ub, const QPNames& nm) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)H, &comm));
  PetscInt M, N;
  FOLDOPT_CALL(MatGetSize(H, &M, &N));
  check_collective(comm, M == N, PETSC_ERR_ARG_SIZ,
                   detail::format("%s is not square: %" PetscInt_FMT " x %" PetscInt_FMT, nm.H.c_str(), M, N));
  check_collective(comm, M > 0, PETSC_ERR_ARG_SIZ, nm.H + ": is empty (0 x 0): a QP needs at least one unknown");
  // Entry by entry (a norm of finite entries such as 1e200 overflows), and the Frobenius norm
  // scaled by the largest magnitude, which does not.
  const MatrixScan scan = scan_matrix(H);
  check_collective(comm, scan.bad.empty(), PETSC_ERR_ARG_OUTOFRANGE, nm.H + ": " + scan.bad);
  PetscReal max_abs = 0;
  MPI_Allreduce(&scan.max_abs, &max_abs, 1, MPIU_REAL, MPIU_MAX, comm);
  FOLDOPT_CHECK(max_abs > 0, PETSC_ERR_ARG_WRONG,
                "%s: has no nonzero entry (an empty %" PetscInt_FMT " x %" PetscInt_FMT " matrix): H = 0 is not a QP Hessian",
                nm.H.c_str(), M, N);
  PetscReal scaled = scaled_square_sum(H, max_abs), sum = 0;
  MPI_Allreduce(&scaled, &sum, 1, MPIU_REAL, MPIU_SUM, comm);
  const PetscReal fro = max_abs * std::sqrt(sum);
  const bool sym = is_symmetric(H, 1e-12 * std::max<PetscReal>(fro, 1));
  check_collective(comm, sym, PETSC_ERR_ARG_WRONG, nm.H + ": is not symmetric (a QP Hessian must be)");
  check_size(q, M, nm.q, nm.H);
  check_size(lb, M, nm.lb, nm.H);
  check_size(ub, M, nm.ub, nm.H);
  check_entries(q, nm.q, not_finite);
  check_entries(lb, nm.lb, [](PetscReal x) -> const char* {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x) && x > 0) return "+inf (a lower bound may only be -inf)";
    return nullptr;
  });
  check_entries(ub, nm.ub, [](PetscReal x) -> const char* {
    if (std::isnan(x)) return "NaN";
    if (std::isinf(x) && x < 0) return "-inf (an upper bound may only be +inf)";
    return nullptr;
  });
  OwnedVec gap;
  FOLDOPT_CALL(VecDuplicate(ub, gap.out()));
  FOLDOPT_CALL(VecWAXPY(gap, -1.0, lb, ub));  // ub − lb (inf − inf never occurs after the checks above)
  check_entries(gap, nm.lb + " > " + nm.ub, [](PetscReal x) -> const char* { return x < 0 ? "negative (lb > ub)" : nullptr; });
}

}  // namespace

namespace {
/// The layout of validated data: H's rows, B instances of N/B unknowns.
Layout qp_layout(Mat H, Vec q, Vec lb, Vec ub, PetscInt batch) {
  validate_data(H, q, lb, ub, QPNames());
  Layout l;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)H, &l.comm));
  PetscInt N;
  FOLDOPT_CALL(MatGetSize(H, &N, nullptr));
  FOLDOPT_CALL(MatGetLocalSize(H, &l.local, nullptr));
  FOLDOPT_CHECK(batch >= 1 && N % batch == 0, PETSC_ERR_ARG_SIZ,
                "qp_box: batch %" PetscInt_FMT " does not divide the size %" PetscInt_FMT, batch, N);
  l.batch = batch;
  l.n = N / batch;
  return l;
}
}  // namespace

BoxQP::BoxQP(Mat H, Vec q, Vec lb, Vec ub, PetscInt batch) : CompositeProblem("qp_box", qp_layout(H, q, lb, ub, batch)) {
  H_ = with_diagonal(H);
  FOLDOPT_CALL(MatSetOption(H_, MAT_SYMMETRIC, PETSC_TRUE));
  theta_.add("q", q, BlockKind::instance);
  theta_.add("lb", lb, BlockKind::instance);
  theta_.add("ub", ub, BlockKind::instance);
  // the values of the whole (block-diagonal for a batch) H, with H as the pattern
  OwnedVec values = matrix_values::values(H_);
  theta_.add("H.values", values, BlockKind::matrix_values, H_);
  set_parts(make_quadratic(layout_, H_, "q", true, "H.values"), BoxProx::from_blocks(layout_, "lb", "ub"));
}

std::unique_ptr<BoxQP> BoxQP::generate(MPI_Comm comm, const BoxQPGenerator& gen) {
  FOLDOPT_CHECK(gen.n >= 1, PETSC_ERR_ARG_OUTOFRANGE, "qp_box: -n %" PetscInt_FMT " must be positive", gen.n);
  FOLDOPT_CHECK(gen.batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "qp_box: -batch %" PetscInt_FMT " must be positive", gen.batch);
  FOLDOPT_CHECK(gen.shift >= 0, PETSC_ERR_ARG_OUTOFRANGE, "qp_box: -shift %g must be nonnegative", (double)gen.shift);
  // n·B unknowns in all: the product must fit a PetscInt too.
  FOLDOPT_CHECK((long long)gen.n * (long long)gen.batch <= (long long)PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "qp_box: -n %" PetscInt_FMT " -batch %" PetscInt_FMT ": n*B = %lld unknowns exceeds the largest index %lld",
                gen.n, gen.batch, (long long)gen.n * (long long)gen.batch, (long long)PETSC_MAX_INT);
  FOLDOPT_CHECK(gen.pattern == "random" || gen.pattern == "block", PETSC_ERR_ARG_UNKNOWN_TYPE,
                "qp_box: unknown -active_pattern '%s' (random, block)", gen.pattern.c_str());
  const PetscInt n = gen.n, B = gen.batch, N = n * B;
  const PetscInt mx = static_cast<PetscInt>(std::ceil(std::sqrt(static_cast<double>(n))));
  OwnedMat H;
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, PETSC_DECIDE, N, N, 5, nullptr, 2, nullptr, H.out()));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(H, &rstart, &rend));
  for (PetscInt I = rstart; I < rend; ++I) {
    const PetscInt b = I / n, i = I % n, ix = i % mx, base = b * n;
    PetscInt cols[5], k = 0;
    PetscScalar vals[5];
    if (i - mx >= 0) cols[k] = base + i - mx, vals[k++] = -1.0;
    if (ix > 0) cols[k] = base + i - 1, vals[k++] = -1.0;
    cols[k] = I, vals[k++] = 4.0 + gen.shift;
    if (ix < mx - 1 && i + 1 < n) cols[k] = base + i + 1, vals[k++] = -1.0;
    if (i + mx < n) cols[k] = base + i + mx, vals[k++] = -1.0;
    FOLDOPT_CALL(MatSetValues(H, 1, &I, k, cols, vals, INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(H, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(H, MAT_FINAL_ASSEMBLY));
  // Symmetric by construction: validation then skips MatIsSymmetric's transposed copy.
  FOLDOPT_CALL(MatSetOption(H, MAT_SYMMETRIC, PETSC_TRUE));
  OwnedVec x, mu, q, lb, ub;
  FOLDOPT_CALL(MatCreateVecs(H, x.out(), q.out()));
  FOLDOPT_CALL(VecDuplicate(x, mu.out()));
  FOLDOPT_CALL(VecDuplicate(x, lb.out()));
  FOLDOPT_CALL(VecDuplicate(x, ub.out()));
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  const std::uint64_t seed = gen.seed;
  const PetscInt active_from = (2 * mx + 2) / 3;  // ⌈2mx/3⌉
  PetscInt nactive = 0;
  for (PetscInt I = rstart; I < rend; ++I) {
    const PetscInt b = I / n, i = I % n, ix = i % mx;
    const std::uint64_t s0 = 8 * static_cast<std::uint64_t>(b);
    auto u = [&](int k) { return uniform01(seed, s0 + k, static_cast<std::uint64_t>(i)); };
    int cat;  // 0 free, 1 at lb, 2 at ub
    if (gen.pattern == "random") {
      const double c = u(0);
      cat = c < 1.0 / 6 ? 1 : (c < 1.0 / 3 ? 2 : 0);
    } else {
      cat = ix >= active_from ? (u(0) < 0.5 ? 1 : 2) : 0;
    }
    PetscReal xv, lo, hi, m = 0;
    if (cat == 0) {
      xv = 2 * u(1) - 1;
      lo = u(2) < gen.unbounded ? -inf : xv - (0.5 + u(3));
      hi = u(4) < gen.unbounded ? inf : xv + (0.5 + u(5));
    } else if (cat == 1) {
      xv = lo = 2 * u(1) - 1;
      hi = u(4) < gen.unbounded ? inf : xv + (0.5 + u(5));
      m = 0.1 + 0.9 * u(6);
    } else {
      xv = hi = 2 * u(1) - 1;
      lo = u(2) < gen.unbounded ? -inf : xv - (0.5 + u(3));
      m = -(0.1 + 0.9 * u(6));
    }
    nactive += cat != 0;
    FOLDOPT_CALL(VecSetValue(x, I, xv, INSERT_VALUES));
    FOLDOPT_CALL(VecSetValue(lb, I, lo, INSERT_VALUES));
    FOLDOPT_CALL(VecSetValue(ub, I, hi, INSERT_VALUES));
    FOLDOPT_CALL(VecSetValue(mu, I, m, INSERT_VALUES));
  }
  for (Vec v : {x.get(), lb.get(), ub.get(), mu.get()}) {
    FOLDOPT_CALL(VecAssemblyBegin(v));
    FOLDOPT_CALL(VecAssemblyEnd(v));
  }
  FOLDOPT_CALL(MatMult(H, x, q));
  FOLDOPT_CALL(VecAXPY(q, -1.0, mu));  // q = H x* − μ
  std::unique_ptr<BoxQP> p(new BoxQP(H, q, lb, ub, B));
  p->known_ = std::move(x);
  PetscInt total = 0;
  MPI_Allreduce(&nactive, &total, 1, MPIU_INT, MPI_SUM, comm);
  p->active_fraction_ = static_cast<PetscReal>(total) / static_cast<PetscReal>(N);
  return p;
}

std::unique_ptr<BoxQP> BoxQP::load(MPI_Comm comm, const std::string& hmat, const std::string& qfile,
                                   const std::string& lbfile, const std::string& ubfile) {
  io::StorageChoice storage;
  OwnedMat H = io::read_mat(comm, hmat, PETSC_DECIDE, &storage);
  PetscInt M, N, mloc;
  FOLDOPT_CALL(MatGetSize(H, &M, &N));
  check_collective(comm, M == N, PETSC_ERR_ARG_SIZ,
                   detail::format("%s is not square: %" PetscInt_FMT " x %" PetscInt_FMT, hmat.c_str(), M, N));
  FOLDOPT_CALL(MatGetLocalSize(H, &mloc, nullptr));
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  auto vec = [&](const std::string& path, PetscReal fill) {
    if (!path.empty()) {
      OwnedVec v;
      try {
        v = io::read_vec(comm, path, mloc, M);
      } catch (const Error& e) {
        if (e.code() != PETSC_ERR_ARG_SIZ) throw;
        throw Error(e.code(), std::string(e.what()) + " (the rows of " + hmat + ")", e.collective());
      }
      return v;
    }
    OwnedVec v;
    FOLDOPT_CALL(MatCreateVecs(H, v.out(), nullptr));
    FOLDOPT_CALL(VecSet(v, fill));
    return v;
  };
  FOLDOPT_CHECK(!qfile.empty(), PETSC_ERR_ARG_WRONG, "qp_box: -Hmat %s needs -q FILE", hmat.c_str());
  OwnedVec q = vec(qfile, 0), lb = vec(lbfile, -inf), ub = vec(ubfile, inf);
  QPNames nm;
  nm.H = hmat;
  nm.q = qfile;
  nm.lb = lbfile.empty() ? "lb" : lbfile;
  nm.ub = ubfile.empty() ? "ub" : ubfile;
  validate_data(H, q, lb, ub, nm);
  std::unique_ptr<BoxQP> p(new BoxQP(H, q, lb, ub, 1));
  p->storage_ = storage.describe();
  return p;
}

namespace {
// Strict values before PETSc reads them (src/core/options.hpp): no wrapped integers, no value left out.
void check_qp_options() {
  for (const char* f : {"Hmat", "q", "lb", "ub", "active_pattern"}) options::check_string(nullptr, f);
  options::check_int(nullptr, "n", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  options::check_real(nullptr, "shift", 0, 1e300);
  options::check_real(nullptr, "unbounded", 0, 1);
}

PetscErrorCode read_qp_options(MPI_Comm comm, BoxQPGenerator* g, char* hmat, char* q, char* lb, char* ub, size_t len,
                               PetscBool* gen_set) {
  char pattern[64];
  PetscBool set[5] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscInt seed = static_cast<PetscInt>(g->seed);
  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(pattern, g->pattern.c_str(), sizeof pattern));
  PetscOptionsBegin(comm, nullptr, "qp_box problem: min 1/2 x'Hx - q'x, lb <= x <= ub", "BoxQP");
  PetscCall(PetscOptionsString("-Hmat", "Matrix H (.mtx MatrixMarket, else PETSc binary); without it an instance is generated",
                               "BoxQP::load", hmat, hmat, len, nullptr));
  PetscCall(PetscOptionsString("-q", "Vector q (file)", "BoxQP::load", q, q, len, nullptr));
  PetscCall(PetscOptionsString("-lb", "Lower bounds (file; -inf allowed; default -inf)", "BoxQP::load", lb, lb, len, nullptr));
  PetscCall(PetscOptionsString("-ub", "Upper bounds (file; +inf allowed; default +inf)", "BoxQP::load", ub, ub, len, nullptr));
  PetscCall(PetscOptionsInt("-n", "Generated instance: unknowns (2-D grid of ceil(sqrt(n)) columns)", "BoxQP::generate", g->n, &g->n, &set[0]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "BoxQP::generate", seed, &seed, &set[1]));
  PetscCall(PetscOptionsReal("-shift", "Generated instance: H = Laplacian + shift I", "BoxQP::generate", g->shift, &g->shift, &set[2]));
  PetscCall(PetscOptionsString("-active_pattern", "Generated instance: active set, random or block", "BoxQP::generate", pattern,
                               pattern, sizeof pattern, &set[3]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of independent instances B", "BoxQP::generate", g->batch, &g->batch, &set[4]));
  PetscCall(PetscOptionsReal("-unbounded", "Generated instance: fraction of inactive bounds that are infinite", "BoxQP::generate",
                             g->unbounded, &g->unbounded, nullptr));
  PetscOptionsEnd();
  g->pattern = pattern;
  g->seed = static_cast<unsigned long>(seed);
  *gen_set = (set[0] || set[1] || set[2] || set[3] || set[4]) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<BoxQP> BoxQP::from_options(MPI_Comm comm) {
  BoxQPGenerator g;
  char hmat[PETSC_MAX_PATH_LEN] = "", q[PETSC_MAX_PATH_LEN] = "", lb[PETSC_MAX_PATH_LEN] = "", ub[PETSC_MAX_PATH_LEN] = "";
  PetscBool gen_set = PETSC_FALSE;
  check_qp_options();
  FOLDOPT_CALL(read_qp_options(comm, &g, hmat, q, lb, ub, PETSC_MAX_PATH_LEN, &gen_set));
  if (hmat[0]) {
    FOLDOPT_CHECK(!gen_set, PETSC_ERR_ARG_INCOMP,
                  "qp_box: -Hmat reads an instance; -n, -seed, -shift, -active_pattern and -batch generate one: give one or the other");
    return load(comm, hmat, q, lb, ub);
  }
  FOLDOPT_CHECK(!q[0] && !lb[0] && !ub[0], PETSC_ERR_ARG_WRONG, "qp_box: -q, -lb and -ub need -Hmat FILE");
  return generate(comm, g);
}

void BoxQP::view(PetscViewer v) const {
  MatInfo info;
  FOLDOPT_CALL(MatGetInfo(H_, MAT_GLOBAL_SUM, &info));
  if (storage_.empty())
    PetscViewerASCIIPrintf(v, "  H: %s, %.0f nonzeros", io::storage_name(H_).c_str(), info.nz_used);
  else
    PetscViewerASCIIPrintf(v, "  H: %s, %.0f nonzeros", storage_.c_str(), info.nz_used);
  if (active_fraction_ >= 0)
    PetscViewerASCIIPrintf(v, "; generated (seed and grid by global index), %.1f%% of bounds active at x*",
                           100.0 * active_fraction_);
  PetscViewerASCIIPrintf(v, "\n");
}

void BoxQP::bounds(const ParamSet& theta, Vec lb, Vec ub) {
  FOLDOPT_CALL(VecCopy(theta.get("lb"), lb));
  FOLDOPT_CALL(VecCopy(theta.get("ub"), ub));
}

bool BoxQP::closed_form(const ParamSet& theta, Vec x, std::string* why) {
  // Diagonal H: the problem separates into n scalar problems min ½hᵢxᵢ² − qᵢxᵢ on [lbᵢ, ubᵢ], whose
  // solution is the clamp of the unconstrained minimizer qᵢ/hᵢ (hᵢ > 0). H with θ's values.
  OwnedMat Ht = hessian(x, theta);
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(Ht, &rstart, &rend));
  int local = 0;  // 0 diagonal, 1 an off-diagonal nonzero, 2 a nonpositive diagonal entry
  for (PetscInt i = rstart; i < rend && !local; ++i) {
    PetscInt nc;
    const PetscInt* cols;
    const PetscScalar* vals;
    bool has_diag = false;
    FOLDOPT_CALL(MatGetRow(Ht, i, &nc, &cols, &vals));
    for (PetscInt k = 0; k < nc; ++k) {
      if (cols[k] == i) {
        has_diag = true;
        if (!(PetscRealPart(vals[k]) > 0)) local = 2;
      } else if (vals[k] != 0.0) {
        local = 1;
      }
    }
    FOLDOPT_CALL(MatRestoreRow(Ht, i, &nc, &cols, &vals));
    if (!has_diag && !local) local = 2;
  }
  int worst = 0;
  MPI_Allreduce(&local, &worst, 1, MPI_INT, MPI_MAX, layout_.comm);
  if (worst) {
    if (why)
      *why = worst == 1 ? "qp_box has a closed form only when H is diagonal"
                        : "qp_box has a closed form only when H is diagonal with a positive diagonal";
    return false;
  }
  FOLDOPT_CALL(MatGetDiagonal(Ht, x));
  FOLDOPT_CALL(VecPointwiseDivide(x, theta.get("q"), x));
  FOLDOPT_CALL(VecPointwiseMax(x, x, theta.get("lb")));
  FOLDOPT_CALL(VecPointwiseMin(x, x, theta.get("ub")));
  return true;
}

void validate_loss_gradient(const Problem& p, Vec g, const std::string& name) {
  check_size(g, p.solution_layout().global(), name, "the problem");
  check_entries(g, name, not_finite);
}

}  // namespace foldopt
