// foldopt: mean-variance portfolio selection (problem `portfolio`); see
// include/foldopt/problems/portfolio.hpp.
//
// Method: f = −cᵀx (the linear objective); per instance b, c_E,b = Σᵢ x_bi − 1 and
//   c_I,b = x_bᵀV x_b − γ with Jacobian rows 1ᵀ and 2(V x_b)ᵀ; ∇²ₓL = 2 y_I,b V on block b;
//   ∂c_I/∂γ = −1, so (∂c/∂γ)ᵀu = −Σ_b u_I,b, and ∇ₓL does not depend on γ. V is kept once more as
//   Vbig = blockdiag(V, …, V) in the layout of x (each rank builds its own rows from the rows of V
//   it needs, MatCreateSubMatrices), so that V x_b for every instance is one MatMult.
// Generator: c_bj = u(seed, 181, b·n + j), F_jf = u(seed, 182, j·r + f) − 1/2, d_j = 0.05 + 0.2
//   u(seed, 183, j), V = F Fᵀ + diag(d) assembled row by row from these formulas; γ from the
//   same formulas on every rank (O(B·n + n·r) arithmetic, no gathered data).
// References: H. Markowitz, Portfolio selection, J. Finance 7 (1952); Kotary, Dinh, Fioretto
//   (2023), the portfolio experiment of folded SQP.
#include <foldopt/problems/portfolio.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/problems/composite.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "core/util.hpp"
#include "forward/ipopt/ipopt_forward.hpp"
#include "problems/common.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace foldopt {

namespace {
constexpr PetscInt kFactors = 3;

/// blockdiag(V, …, V) (B blocks) with rows and columns split like x (layout l).
OwnedMat block_diagonal(Mat V, const Layout& l) {
  PetscInt rs = 0;
  {
    PetscInt nloc = l.local, N = l.global();
    OwnedVec probe;
    FOLDOPT_CALL(VecCreateMPI(l.comm, nloc, N, probe.out()));
    PetscInt re;
    FOLDOPT_CALL(VecGetOwnershipRange(probe, &rs, &re));
  }
  const PetscInt n = l.n;
  // The rows of V this rank needs, once each (sorted), and all columns.
  std::vector<PetscInt> rows;
  for (PetscInt i = rs; i < rs + l.local; ++i) rows.push_back(i % n);
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  OwnedIS isr, isc;
  FOLDOPT_CALL(ISCreateGeneral(PETSC_COMM_SELF, (PetscInt)rows.size(), rows.data(), PETSC_COPY_VALUES, isr.out()));
  FOLDOPT_CALL(ISCreateStride(PETSC_COMM_SELF, n, 0, 1, isc.out()));
  Mat* subs = nullptr;
  IS isrp = isr.get(), iscp = isc.get();
  FOLDOPT_CALL(MatCreateSubMatrices(V, 1, &isrp, &iscp, MAT_INITIAL_MATRIX, &subs));
  OwnedMat sub(subs[0]);
  FOLDOPT_CALL(PetscFree(subs));
  std::vector<PetscInt> dnz(l.local, 0), onz(l.local, 0);
  std::vector<std::vector<PetscInt>> cols(l.local);
  std::vector<std::vector<PetscScalar>> vals(l.local);
  for (PetscInt i = rs; i < rs + l.local; ++i) {
    const PetscInt b = i / n, j = i % n;
    const PetscInt r = (PetscInt)(std::lower_bound(rows.begin(), rows.end(), j) - rows.begin());
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    FOLDOPT_CALL(MatGetRow(sub, r, &nc, &c, &v));
    for (PetscInt k = 0; k < nc; ++k) {
      const PetscInt col = b * n + c[k];
      cols[i - rs].push_back(col);
      vals[i - rs].push_back(v[k]);
      (col >= rs && col < rs + l.local ? dnz : onz)[i - rs]++;
    }
    FOLDOPT_CALL(MatRestoreRow(sub, r, &nc, &c, &v));
  }
  OwnedMat M;
  FOLDOPT_CALL(MatCreate(l.comm, M.out()));
  FOLDOPT_CALL(MatSetSizes(M, l.local, l.local, l.global(), l.global()));
  FOLDOPT_CALL(MatSetType(M, MATAIJ));
  FOLDOPT_CALL(MatSeqAIJSetPreallocation(M, 0, dnz.data()));
  FOLDOPT_CALL(MatMPIAIJSetPreallocation(M, 0, dnz.data(), 0, onz.data()));
  for (PetscInt i = rs; i < rs + l.local; ++i) {
    const std::size_t k = (std::size_t)(i - rs);
    FOLDOPT_CALL(MatSetValues(M, 1, &i, (PetscInt)cols[k].size(), cols[k].data(), vals[k].data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(M, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(M, MAT_FINAL_ASSEMBLY));
  return M;
}

PetscReal scalar_value(const ParamSet& theta, const char* name) {
  PetscScalar s;
  FOLDOPT_CALL(VecSum(theta.get(name), &s));
  return PetscRealPart(s);
}

double gen_c(unsigned long seed, PetscInt i) { return uniform01(seed, 181, (std::uint64_t)i); }
double gen_f(unsigned long seed, PetscInt j, PetscInt f) { return uniform01(seed, 182, (std::uint64_t)(j * kFactors + f)) - 0.5; }
double gen_d(unsigned long seed, PetscInt j) { return 0.05 + 0.2 * uniform01(seed, 183, (std::uint64_t)j); }
}  // namespace

Portfolio::Portfolio(Mat V, Vec c, PetscInt batch, PetscReal gamma, bool generated) : generated_(generated) {
  FOLDOPT_CHECK(V != nullptr && c != nullptr, PETSC_ERR_ARG_NULL, "portfolio: needs V and c");
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)c, &comm));
  PetscInt M, N, Nc, nloc;
  FOLDOPT_CALL(MatGetSize(V, &M, &N));
  FOLDOPT_CHECK(M == N && M > 0, PETSC_ERR_ARG_SIZ, "portfolio: V is %" PetscInt_FMT " x %" PetscInt_FMT ", not a square covariance",
                M, N);
  FOLDOPT_CALL(VecGetSize(c, &Nc));
  FOLDOPT_CALL(VecGetLocalSize(c, &nloc));
  FOLDOPT_CHECK(batch >= 1 && Nc == M * batch, PETSC_ERR_ARG_SIZ,
                "portfolio: c has %" PetscInt_FMT " entries, not %" PetscInt_FMT " instances of V's %" PetscInt_FMT, Nc,
                batch, M);
  FOLDOPT_CHECK(std::isfinite(gamma) && gamma > 0, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -gamma %g must be positive",
                (double)gamma);
  detail::check_finite(c, "portfolio: c");
  PetscReal fro;
  FOLDOPT_CALL(MatNorm(V, NORM_FROBENIUS, &fro));
  FOLDOPT_CHECK(std::isfinite(fro) && fro > 0, PETSC_ERR_ARG_WRONG, "portfolio: V has %s entries",
                std::isfinite(fro) ? "no nonzero" : "non-finite");
  const bool sym = is_symmetric(V, 1e-12 * fro);
  FOLDOPT_CHECK(sym, PETSC_ERR_ARG_WRONG, "portfolio: V is not symmetric (a covariance must be)");
  layout_.comm = comm;
  layout_.n = M;
  layout_.batch = batch;
  layout_.local = nloc;
  V_ = OwnedMat::share(V);
  Vbig_ = block_diagonal(V, layout_);
  FOLDOPT_CALL(VecDuplicate(c, w_.out()));
  OwnedVec g;
  FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, 1, g.out()));
  FOLDOPT_CALL(VecSet(g, gamma));
  theta_.add("c", c, BlockKind::instance);
  theta_.add("gamma", g, BlockKind::scalar);
  f_ = make_linear(layout_, "c");
  f_->set_options_prefix("fold_objective_");
}

std::unique_ptr<Portfolio> Portfolio::generate(MPI_Comm comm, PetscInt n, PetscInt batch, unsigned long seed) {
  FOLDOPT_CHECK(n >= 2, PETSC_ERR_ARG_OUTOFRANGE, "portfolio: -n %" PetscInt_FMT " must be at least 2", n);
  const Layout l = batch_layout(comm, n, batch);
  OwnedVec c = detail::generated_vec(l, [&](PetscInt i) { return gen_c(seed, i); });
  OwnedMat V;
  FOLDOPT_CALL(MatCreate(comm, V.out()));
  FOLDOPT_CALL(MatSetSizes(V, PETSC_DECIDE, PETSC_DECIDE, n, n));
  FOLDOPT_CALL(MatSetType(V, MATAIJ));
  FOLDOPT_CALL(MatSetUp(V));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(V, &rs, &re));
  std::vector<PetscInt> cols(n);
  std::vector<PetscScalar> row(n);
  for (PetscInt k = 0; k < n; ++k) cols[k] = k;
  auto entry = [&](PetscInt j, PetscInt k) {
    double v = j == k ? gen_d(seed, j) : 0.0;
    for (PetscInt f = 0; f < kFactors; ++f) v += gen_f(seed, j, f) * gen_f(seed, k, f);
    return v;
  };
  for (PetscInt j = rs; j < re; ++j) {
    for (PetscInt k = 0; k < n; ++k) row[k] = entry(j, k);
    FOLDOPT_CALL(MatSetValues(V, 1, &j, n, cols.data(), row.data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(V, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(V, MAT_FINAL_ASSEMBLY));
  // γ: x₀ = 1/n has risk (Σ_f (Σ_j F_jf)² + Σ_j d_j)/n²; the best vertex of instance b has V_jj.
  double risk0 = 0;
  for (PetscInt f = 0; f < kFactors; ++f) {
    double s = 0;
    for (PetscInt j = 0; j < n; ++j) s += gen_f(seed, j, f);
    risk0 += s * s;
  }
  for (PetscInt j = 0; j < n; ++j) risk0 += gen_d(seed, j);
  risk0 /= (double)n * (double)n;
  double gamma = INFINITY;
  for (PetscInt b = 0; b < batch; ++b) {
    PetscInt best = 0;
    for (PetscInt j = 1; j < n; ++j)
      if (gen_c(seed, b * n + j) > gen_c(seed, b * n + best)) best = j;
    gamma = std::min(gamma, risk0 + 0.25 * (entry(best, best) - risk0));
  }
  FOLDOPT_CHECK(gamma > risk0 * (1 + 1e-8), PETSC_ERR_PLIB,
                "portfolio: generated instance (seed %lu) has no risk budget between the uniform portfolio's risk %g "
                "and its best asset's: choose another -seed",
                seed, risk0);
  return std::unique_ptr<Portfolio>(new Portfolio(V, c, batch, gamma, true));
}

namespace {
PetscErrorCode read_portfolio_options(MPI_Comm comm, char* c, char* V, size_t len, PetscInt* n, PetscInt* batch,
                                      PetscInt* seed, PetscReal* gamma, PetscBool* gamma_set, PetscBool* gen_set) {
  PetscBool set[3] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "portfolio problem: max c'x s.t. x'Vx <= gamma, sum x = 1, x >= 0", "Portfolio");
  PetscCall(PetscOptionsString("-c", "Expected returns c (file: n entries, or an n x B array for a batch)", "Portfolio", c, c,
                               len, nullptr));
  PetscCall(PetscOptionsString("-Vmat", "Covariance V (file: n x n, symmetric positive definite)", "Portfolio", V, V, len,
                               nullptr));
  PetscCall(PetscOptionsReal("-gamma", "Risk budget gamma > 0 (needed with files; replaces a generated instance's)",
                             "Portfolio", *gamma, gamma, gamma_set));
  PetscCall(PetscOptionsInt("-n", "Generated instance: assets per instance", "Portfolio::generate", *n, n, &set[0]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of instances B", "Portfolio::generate", *batch, batch,
                            &set[1]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "Portfolio::generate", *seed, seed, &set[2]));
  PetscOptionsEnd();
  *gen_set = (set[0] || set[1] || set[2]) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<Portfolio> Portfolio::from_options(MPI_Comm comm) {
  for (const char* f : {"c", "Vmat"}) options::check_string(nullptr, f);
  options::check_real(nullptr, "gamma", 0, 1e300, true);
  options::check_int(nullptr, "n", 2, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  char cfile[PETSC_MAX_PATH_LEN] = "", vfile[PETSC_MAX_PATH_LEN] = "";
  PetscInt n = 20, batch = 1, seed = 1;
  PetscReal gamma = 0;
  PetscBool gamma_set = PETSC_FALSE, gen_set = PETSC_FALSE;
  FOLDOPT_CALL(read_portfolio_options(comm, cfile, vfile, sizeof cfile, &n, &batch, &seed, &gamma, &gamma_set, &gen_set));
  if (cfile[0] || vfile[0]) {
    FOLDOPT_CHECK(cfile[0] && vfile[0], PETSC_ERR_ARG_WRONG, "portfolio: a file instance needs both -c and -Vmat");
    FOLDOPT_CHECK(!gen_set, PETSC_ERR_ARG_INCOMP,
                  "portfolio: -c and -Vmat read an instance; -n, -batch and -seed generate one: give one or the other");
    FOLDOPT_CHECK(gamma_set, PETSC_ERR_ARG_WRONG, "portfolio: a file instance needs its risk budget -gamma");
    OwnedMat V = io::read_mat(comm, vfile);
    PetscInt nv;
    FOLDOPT_CALL(MatGetSize(V, &nv, nullptr));
    PetscInt B = 1;
    OwnedVec c = io::read_batch(comm, cfile, nv, &B);
    return std::unique_ptr<Portfolio>(new Portfolio(V, c, B, gamma));
  }
  std::unique_ptr<Portfolio> p = generate(comm, n, batch, static_cast<unsigned long>(seed));
  if (gamma_set) FOLDOPT_CALL(VecSet(p->theta_.get("gamma"), gamma));
  return p;
}

std::string Portfolio::default_forward() const { return ipopt_built_in() ? "ipopt" : "tao"; }

PetscReal Portfolio::gamma() const { return scalar_value(theta_, "gamma"); }

void Portfolio::view(PetscViewer v) const {
  MatInfo info;
  MatGetInfo(V_, MAT_GLOBAL_SUM, &info);
  PetscViewerASCIIPrintf(v, "  portfolio: %" PetscInt_FMT " instance%s of %" PetscInt_FMT " assets, gamma = %.6g, V %.0f nonzeros; %s\n",
                         layout_.batch, layout_.batch > 1 ? "s" : "", layout_.n, (double)gamma(), (double)info.nz_used,
                         generated_ ? "generated (by global index; gamma a quarter of the way from the uniform "
                                      "portfolio's risk to the best asset's, so the risk constraint is active)"
                                    : "from files");
}

void Portfolio::bounds(const ParamSet&, Vec lb, Vec ub) {
  FOLDOPT_CALL(VecSet(lb, 0.0));
  FOLDOPT_CALL(VecSet(ub, PETSC_INFINITY));
}

void Portfolio::equality(Vec x, const ParamSet&, Vec c) { detail::sum_constraint(x, layout_, 1.0, c); }

OwnedMat Portfolio::equality_jacobian(Vec, const ParamSet&) { return detail::sum_constraint_jacobian(layout_); }

void Portfolio::inequality(Vec x, const ParamSet& theta, Vec c) {
  FOLDOPT_CALL(MatMult(Vbig_, x, w_));
  const std::vector<PetscReal> risk = batch::dots(x, w_, layout_.n);
  const PetscReal g = scalar_value(theta, "gamma");
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(c, &rs, &re));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(c, &a));
  for (PetscInt b = rs; b < re; ++b) a[b - rs] = risk[b] - g;
  FOLDOPT_CALL(VecRestoreArray(c, &a));
}

OwnedMat Portfolio::inequality_jacobian(Vec x, const ParamSet&) {
  // Row b: 2 (V x_b)ᵀ in the columns of instance b; each rank sets its own columns.
  FOLDOPT_CALL(MatMult(Vbig_, x, w_));
  const Layout& l = layout_;
  OwnedMat J;
  FOLDOPT_CALL(MatCreate(l.comm, J.out()));
  PetscInt rs, re, cs, ce;
  {
    OwnedVec rows = create_constraint_vec(l.batch);  // the rows' split: PETSc's of B
    FOLDOPT_CALL(VecGetOwnershipRange(rows, &rs, &re));
    FOLDOPT_CALL(VecGetOwnershipRange(w_, &cs, &ce));
  }
  FOLDOPT_CALL(MatSetSizes(J, re - rs, l.local, l.batch, l.global()));
  FOLDOPT_CALL(MatSetType(J, MATAIJ));
  std::vector<PetscInt> dnz(re - rs), onz(re - rs);
  for (PetscInt b = rs; b < re; ++b) {
    const PetscInt lo = b * l.n, hi = lo + l.n;
    const PetscInt d = std::max<PetscInt>(0, std::min(hi, ce) - std::max(lo, cs));
    dnz[b - rs] = d;
    onz[b - rs] = l.n - d;
  }
  FOLDOPT_CALL(MatSeqAIJSetPreallocation(J, 0, dnz.data()));
  FOLDOPT_CALL(MatMPIAIJSetPreallocation(J, 0, dnz.data(), 0, onz.data()));
  const PetscScalar* w;
  FOLDOPT_CALL(VecGetArrayRead(w_, &w));
  for (PetscInt i = cs; i < ce; ++i) {
    const PetscInt b = i / l.n;
    const PetscScalar v = 2 * w[i - cs];
    FOLDOPT_CALL(MatSetValues(J, 1, &b, 1, &i, &v, INSERT_VALUES));
  }
  FOLDOPT_CALL(VecRestoreArrayRead(w_, &w));
  FOLDOPT_CALL(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  return J;
}

OwnedMat Portfolio::lagrangian_hessian(Vec, const ParamSet&, Vec, Vec y_ineq) {
  OwnedMat H;
  FOLDOPT_CALL(MatDuplicate(Vbig_, MAT_COPY_VALUES, H.out()));
  std::vector<PetscReal> y(static_cast<std::size_t>(layout_.batch), 0.0);
  if (y_ineq) y = batch::sums(y_ineq, 1);  // the B multipliers on every rank
  for (PetscReal& v : y) v *= 2;
  OwnedVec d;
  FOLDOPT_CALL(VecDuplicate(w_, d.out()));
  batch::broadcast(y, layout_.n, d);
  FOLDOPT_CALL(MatDiagonalScale(H, d, nullptr));  // row block b times 2 y_b
  return H;
}

void Portfolio::constraint_param_t(Vec, const ParamSet&, Vec, Vec u_ineq, ParamSet& out) {
  if (!u_ineq || !out.has("gamma")) return;
  PetscScalar s;
  FOLDOPT_CALL(VecSum(u_ineq, &s));
  FOLDOPT_CALL(VecShift(out.get("gamma"), -s));  // ∂c_I,b/∂γ = −1 (a Vec of one entry)
}

void Portfolio::constraint_param(Vec, const ParamSet&, const ParamSet& dtheta, Vec c_eq, Vec c_ineq) {
  if (c_eq) FOLDOPT_CALL(VecZeroEntries(c_eq));
  if (c_ineq) FOLDOPT_CALL(VecSet(c_ineq, dtheta.has("gamma") ? -scalar_value(dtheta, "gamma") : 0.0));
}

}  // namespace foldopt
