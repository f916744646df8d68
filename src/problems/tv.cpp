// foldopt: total-variation denoising through its dual (problem `tv`); see
// include/foldopt/problems/tv.hpp.
//
// Method: the dual  min_y f(y) = ½‖Dᵀy − d‖²  s.t. ‖y‖∞ ≤ λ, folded by the prox-gradient map
//   U(y) = P_[−λ,λ](y − α∇f(y)) (FDPG forward: fista), with the readout x = R(y) = d − Dᵀy;
//   f is TvDualObjective (tv_dual_objective.cpp, its formulas there).
//   Readout: (∂R/∂y)ᵀ g = −D g;  (∂R/∂d)ᵀ g = g;  (∂R/∂D)ᵀ g = −y_i g_j on D's pattern (summed
//   over the instances: D is shared by the batch).
// Algorithm (uniqueness, tv.hpp): F = {i : |y_i| < λ}; a per-instance count |F_b| > n already means
//   dependent rows; otherwise λmin(D_F D_Fᵀ) by SLEPc (Krylov–Schur, smallest real, tolerance
//   1e-10, options -tv_unique_eps_*), dependent when λmin ≤ 1e-8 ‖D_F D_Fᵀ‖∞.
// Generated instances: piecewise-constant d (1-D: segment ⌊5i/n⌋; 2-D: block ⌊3r/m1⌋·3 + ⌊3c/m2⌋)
//   with values 2u − 1 per segment and instance, plus 0.1·(2u − 1) per entry, u = uniform01 of
//   (seed, instance, global index): the same at any number of ranks.
// References: A. Chambolle, J. Math. Imaging Vis. 20 (2004) 89–97 (the dual of TV);
//   A. Beck, M. Teboulle, Oper. Res. Lett. 42 (2014) 1–6 (FDPG).
#include <foldopt/problems/tv.hpp>

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/prox/box.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "problems/tv_dual_objective.hpp"

#include <petsc/private/petscimpl.h>  // PetscObjectStateGet: PETSc 3.18 declares it only here
#include <slepceps.h>

#include <cmath>
#include <vector>

namespace foldopt {

using OwnedEPS = Owned<EPS, EPSDestroy>;

namespace {

MPI_Comm comm_of(Mat A) {
  MPI_Comm c;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)A, &c));
  return c;
}

PetscInt rows_of(Mat A) {
  FOLDOPT_CHECK(A != nullptr, PETSC_ERR_ARG_NULL, "tv: no matrix D given");
  PetscInt M;
  FOLDOPT_CALL(MatGetSize(A, &M, nullptr));
  FOLDOPT_CHECK(M >= 1, PETSC_ERR_ARG_SIZ, "tv: D has no rows (TV needs at least one difference)");
  return M;
}

/// Every stored entry of D finite (collective).
void check_finite_matrix(Mat D, const std::string& name) {
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(D, &rs, &re));
  std::string bad;
  for (PetscInt i = rs; i < re && bad.empty(); ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    FOLDOPT_CALL(MatGetRow(D, i, &nc, &c, &v));
    for (PetscInt k = 0; k < nc && bad.empty(); ++k)
      if (!std::isfinite(PetscRealPart(v[k])))
        bad = detail::format("%s: entry (%" PetscInt_FMT ", %" PetscInt_FMT ") is %g", name.c_str(), i, c[k],
                             (double)PetscRealPart(v[k]));
    FOLDOPT_CALL(MatRestoreRow(D, i, &nc, &c, &v));
  }
  check_collective(comm_of(D), bad.empty(), PETSC_ERR_ARG_OUTOFRANGE, bad);
}

void check_finite_vec(Vec v, const std::string& name) {
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &rs, &re));
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(v, &a));
  std::string bad;
  for (PetscInt i = rs; i < re && bad.empty(); ++i)
    if (!std::isfinite(PetscRealPart(a[i - rs])))
      bad = detail::format("%s: entry %" PetscInt_FMT " is %g", name.c_str(), i, (double)PetscRealPart(a[i - rs]));
  FOLDOPT_CALL(VecRestoreArrayRead(v, &a));
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)v, &comm));
  check_collective(comm, bad.empty(), PETSC_ERR_ARG_OUTOFRANGE, bad);
}

}  // namespace

// ---- the problem ----
TvProblem::TvProblem(Mat D, Vec d, PetscReal lambda, PetscInt batch, bool full_row_rank, bool fixed_D)
    : CompositeProblem("tv", batch_layout(comm_of(D), rows_of(D), batch)), full_row_rank_(full_row_rank), fixed_D_(fixed_D) {
  MPI_Comm comm = layout_.comm;
  FOLDOPT_CALL(MatGetSize(D, &m_, &n_));
  FOLDOPT_CHECK(n_ >= 1, PETSC_ERR_ARG_SIZ, "tv: D has no columns");
  FOLDOPT_CHECK(std::isfinite(lambda) && lambda >= 0, PETSC_ERR_ARG_OUTOFRANGE,
                "tv: -lambda %g must be a finite number >= 0", (double)lambda);
  check_finite_matrix(D, "tv: D");
  solution_layout_ = batch_layout(comm, n_, batch);
  PetscInt N, nloc;
  FOLDOPT_CALL(VecGetSize(d, &N));
  FOLDOPT_CALL(VecGetLocalSize(d, &nloc));
  FOLDOPT_CHECK(N == n_ * batch, PETSC_ERR_ARG_SIZ,
                "tv: d has %" PetscInt_FMT " entries but D has %" PetscInt_FMT " columns (x %" PetscInt_FMT " instances = %" PetscInt_FMT
                ")", N, n_, batch, n_ * batch);
  check_collective(comm, nloc == solution_layout_.local, PETSC_ERR_ARG_SIZ,
                   detail::format("tv: d keeps %" PetscInt_FMT " entries on this rank; PETSc's split of B*n = %" PetscInt_FMT
                                  " keeps %" PetscInt_FMT, nloc, N, solution_layout_.local));
  check_finite_vec(d, "tv: d");
  D_ = OwnedMat::share(D);
  theta_.add("d", d, BlockKind::instance);
  OwnedVec lam;
  FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, 1, lam.out()));
  FOLDOPT_CALL(VecSet(lam, lambda));
  theta_.add("lambda", lam, BlockKind::scalar);
  if (!fixed_D_) {
    OwnedVec vals = matrix_values::values(D);
    theta_.add("D.values", vals, BlockKind::matrix_values, D);
  }
  std::unique_ptr<Objective> f(new TvDualObjective(layout_, solution_layout_, D, fixed_D_ ? "" : "D.values"));
  set_parts(std::move(f), BoxProx::symmetric(layout_, "lambda"));
}

TvProblem::~TvProblem() = default;

TvDualObjective& TvProblem::dual() { return *static_cast<TvDualObjective*>(f_.get()); }

PetscReal TvProblem::lambda_of(const ParamSet& theta) const {
  Vec v = theta.get("lambda");
  PetscInt N;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CHECK(N == 1, PETSC_ERR_ARG_SIZ, "tv: block 'lambda' has %" PetscInt_FMT " entries; it is a scalar", N);
  PetscScalar s;
  FOLDOPT_CALL(VecSum(v, &s));
  return PetscRealPart(s);
}

OwnedMat TvProblem::difference_1d(MPI_Comm comm, PetscInt n) {
  FOLDOPT_CHECK(n >= 2, PETSC_ERR_ARG_OUTOFRANGE, "tv: a 1-D signal of %" PetscInt_FMT " entries has no differences (n >= 2)", n);
  OwnedMat D;
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, PETSC_DECIDE, n - 1, n, 2, nullptr, 2, nullptr, D.out()));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(D, &rs, &re));
  for (PetscInt i = rs; i < re; ++i) {
    const PetscInt cols[2] = {i, i + 1};
    const PetscScalar vals[2] = {-1.0, 1.0};
    FOLDOPT_CALL(MatSetValues(D, 1, &i, 2, cols, vals, INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(D, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(D, MAT_FINAL_ASSEMBLY));
  return D;
}

OwnedMat TvProblem::difference_2d(MPI_Comm comm, PetscInt m1, PetscInt m2) {
  FOLDOPT_CHECK(m1 >= 1 && m2 >= 1 && m1 * m2 >= 2, PETSC_ERR_ARG_OUTOFRANGE,
                "tv: -tv_grid %" PetscInt_FMT ",%" PetscInt_FMT ": an image needs positive sides and at least 2 pixels", m1, m2);
  const PetscInt H = m1 * (m2 - 1), V = (m1 - 1) * m2;
  OwnedMat D;
  FOLDOPT_CALL(MatCreateAIJ(comm, PETSC_DECIDE, PETSC_DECIDE, H + V, m1 * m2, 2, nullptr, 2, nullptr, D.out()));
  PetscInt rs, re;
  FOLDOPT_CALL(MatGetOwnershipRange(D, &rs, &re));
  for (PetscInt k = rs; k < re; ++k) {
    PetscInt p, q;
    if (k < H) {
      const PetscInt r = k / (m2 - 1), c = k % (m2 - 1);
      p = r * m2 + c;
      q = p + 1;
    } else {
      p = k - H;  // r·m2 + c with r < m1 − 1
      q = p + m2;
    }
    const PetscInt cols[2] = {p, q};
    const PetscScalar vals[2] = {-1.0, 1.0};
    FOLDOPT_CALL(MatSetValues(D, 1, &k, 2, cols, vals, INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(D, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(D, MAT_FINAL_ASSEMBLY));
  return D;
}

std::unique_ptr<TvProblem> TvProblem::generate(MPI_Comm comm, const TvGenerator& g, bool fixed_D) {
  FOLDOPT_CHECK(g.batch >= 1, PETSC_ERR_ARG_OUTOFRANGE, "tv: -batch %" PetscInt_FMT " must be positive", g.batch);
  const bool grid = g.m1 > 0 || g.m2 > 0;
  OwnedMat D = grid ? difference_2d(comm, g.m1, g.m2) : difference_1d(comm, g.n);
  const PetscInt n = grid ? g.m1 * g.m2 : g.n;
  FOLDOPT_CHECK((long long)n * (long long)g.batch <= (long long)PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "tv: n*B = %lld entries exceeds the largest index", (long long)n * (long long)g.batch);
  const Layout sol = batch_layout(comm, n, g.batch);
  OwnedVec d;
  FOLDOPT_CALL(VecCreateMPI(comm, sol.local, sol.global(), d.out()));
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(d, &rs, &re));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(d, &a));
  for (PetscInt I = rs; I < re; ++I) {
    const std::uint64_t b = static_cast<std::uint64_t>(I / n);
    const PetscInt i = I % n;
    PetscInt seg;
    if (grid)
      seg = ((i / g.m2) * 3 / g.m1) * 3 + (i % g.m2) * 3 / g.m2;
    else
      seg = i * 5 / n;
    const double level = 2 * uniform01(g.seed, 2 * b, static_cast<std::uint64_t>(seg)) - 1;
    const double noise = 0.1 * (2 * uniform01(g.seed, 2 * b + 1, static_cast<std::uint64_t>(i)) - 1);
    a[I - rs] = level + noise;
  }
  FOLDOPT_CALL(VecRestoreArray(d, &a));
  std::unique_ptr<TvProblem> p(new TvProblem(D, d, g.lambda, g.batch, !grid, fixed_D));
  p->origin_ = grid ? detail::format("generated %" PetscInt_FMT "x%" PetscInt_FMT " image, 2-D differences", g.m1, g.m2)
                    : "generated 1-D signal, first differences";
  return p;
}

namespace {
void check_tv_options() {
  for (const char* f : {"d", "Dmat"}) options::check_string(nullptr, f);
  options::check_int(nullptr, "n", 2, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  options::check_real(nullptr, "lambda", 0, 1e300);
  options::check_bool(nullptr, "tv_fixed_D");
}

struct TvOptions {
  char d[PETSC_MAX_PATH_LEN] = "", Dmat[PETSC_MAX_PATH_LEN] = "";
  PetscInt grid[2] = {0, 0}, ngrid = 2;
  PetscBool grid_set = PETSC_FALSE, gen_set = PETSC_FALSE, n_set = PETSC_FALSE, fixed = PETSC_FALSE;
};

PetscErrorCode read_tv_options(MPI_Comm comm, TvGenerator* g, TvOptions* o) {
  PetscBool set[3] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscInt seed = static_cast<PetscInt>(g->seed);
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "tv problem: min 1/2 ||x - d||^2 + lambda ||D x||_1 through its dual", "TvProblem");
  PetscCall(PetscOptionsString("-d", "Signal d (file: n entries, or an n x B array for a batch); without it an instance is generated",
                               "TvProblem::from_options", o->d, o->d, sizeof o->d, nullptr));
  PetscCall(PetscOptionsString("-Dmat", "Difference operator D (m x n sparse, shared by the batch; default first differences)",
                               "TvProblem::from_options", o->Dmat, o->Dmat, sizeof o->Dmat, nullptr));
  PetscCall(PetscOptionsReal("-lambda", "Regularization weight lambda >= 0", "TvProblem", g->lambda, &g->lambda, nullptr));
  PetscCall(PetscOptionsIntArray("-tv_grid", "2-D image m1,m2: D the horizontal and vertical differences (n = m1*m2)",
                                 "TvProblem::difference_2d", o->grid, &o->ngrid, &o->grid_set));
  PetscCall(PetscOptionsBool("-tv_fixed_D", "D is fixed data: no D.values parameter block", "TvProblem", o->fixed, &o->fixed, nullptr));
  PetscCall(PetscOptionsInt("-n", "Generated instance: 1-D signal length", "TvProblem::generate", g->n, &g->n, &set[0]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "TvProblem::generate", seed, &seed, &set[1]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of instances B", "TvProblem::generate", g->batch, &g->batch, &set[2]));
  PetscOptionsEnd();
  g->seed = static_cast<unsigned long>(seed);
  o->gen_set = (set[0] || set[1] || set[2]) ? PETSC_TRUE : PETSC_FALSE;
  o->n_set = set[0];
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<TvProblem> TvProblem::from_options(MPI_Comm comm) {
  TvGenerator g;
  TvOptions o;
  check_tv_options();
  FOLDOPT_CALL(read_tv_options(comm, &g, &o));
  if (o.grid_set) {
    FOLDOPT_CHECK(o.ngrid == 2 && o.grid[0] >= 1 && o.grid[1] >= 1, PETSC_ERR_ARG_OUTOFRANGE,
                  "tv: -tv_grid takes two positive sides m1,m2 (an m1 x m2 image)");
    FOLDOPT_CHECK(!o.Dmat[0], PETSC_ERR_ARG_INCOMP, "tv: -tv_grid builds D, -Dmat %s reads it: give one or the other", o.Dmat);
    FOLDOPT_CHECK(!o.n_set, PETSC_ERR_ARG_INCOMP,
                  "tv: -n sets a 1-D length, -tv_grid an image: give one or the other");
  }
  if (!o.d[0]) {
    FOLDOPT_CHECK(!o.Dmat[0], PETSC_ERR_ARG_WRONG, "tv: -Dmat %s needs -d FILE (the signal)", o.Dmat);
    if (o.grid_set) {
      g.m1 = o.grid[0];
      g.m2 = o.grid[1];
    }
    return generate(comm, g, o.fixed);
  }
  FOLDOPT_CHECK(!o.gen_set, PETSC_ERR_ARG_INCOMP,
                "tv: -d %s reads an instance; -n, -seed and -batch generate one: give one or the other", o.d);
  OwnedMat D;
  PetscInt n = PETSC_DETERMINE;
  std::string origin;
  bool frr = false;
  if (o.Dmat[0]) {
    D = io::read_mat(comm, o.Dmat);
    FOLDOPT_CALL(MatGetSize(D, nullptr, &n));
    origin = std::string("D from ") + o.Dmat;
  }
  PetscInt B = 1;
  OwnedVec d;
  try {
    d = io::read_batch(comm, o.d, n, &B);
  } catch (const Error& e) {
    if (e.code() != PETSC_ERR_ARG_SIZ || !o.Dmat[0]) throw;
    throw Error(e.code(), std::string(e.what()) + " (the columns of " + o.Dmat + ")", e.collective());
  }
  PetscInt N;
  FOLDOPT_CALL(VecGetSize(d, &N));
  n = N / B;
  if (!o.Dmat[0]) {
    if (o.grid_set) {
      FOLDOPT_CHECK(o.grid[0] * o.grid[1] == n, PETSC_ERR_ARG_SIZ,
                    "tv: -tv_grid %" PetscInt_FMT ",%" PetscInt_FMT " has %" PetscInt_FMT " pixels but %s has %" PetscInt_FMT
                    " entries per instance", o.grid[0], o.grid[1], o.grid[0] * o.grid[1], o.d, n);
      D = difference_2d(comm, o.grid[0], o.grid[1]);
      origin = detail::format("%" PetscInt_FMT "x%" PetscInt_FMT " image, 2-D differences", o.grid[0], o.grid[1]);
    } else {
      D = difference_1d(comm, n);
      origin = "1-D first differences";
      frr = true;
    }
  }
  std::unique_ptr<TvProblem> p(new TvProblem(D, d, g.lambda, B, frr, o.fixed));
  p->origin_ = origin + ", d from " + o.d;
  return p;
}

void TvProblem::view(PetscViewer v) const {
  MatInfo info;
  FOLDOPT_CALL(MatGetInfo(D_, MAT_GLOBAL_SUM, &info));
  PetscViewerASCIIPrintf(v, "  tv: D %" PetscInt_FMT " x %" PetscInt_FMT " (%.0f nonzeros, %s), lambda %g, %" PetscInt_FMT
                            " instance(s); dual state of %" PetscInt_FMT " entries, solution x = d - D^T y; D %s\n",
                         m_, n_, info.nz_used, origin_.c_str(), (double)lambda_of(theta_),
                         layout_.batch, layout_.global(), fixed_D_ ? "fixed data" : "values in block D.values");
}

void TvProblem::readout(Vec y, const ParamSet& theta, Vec x) {
  FOLDOPT_CALL(MatMultTranspose(dual().op(theta), y, x));
  FOLDOPT_CALL(VecAYPX(x, -1.0, theta.get("d")));  // x = d − Dᵀy
}

void TvProblem::readout_t(Vec y, const ParamSet& theta, Vec g, Vec h) {
  // Before the adjoint solve: refuse what a non-unique dual cannot give.
  if (dual().has_values(theta)) {
    const std::string why = uniqueness(y, theta);
    FOLDOPT_CHECK(why.empty(), PETSC_ERR_SUP,
                  "tv: the gradient for D.values is not unique: %s; null(D^T) meets the free set, so the dual solution y* is "
                  "not unique and dL/dD depends on which y* is taken; -tv_fixed_D keeps D as data and gives the gradients "
                  "for d and lambda, which are unique",
                  why.c_str());
  }
  FOLDOPT_CALL(MatMult(dual().op(theta), g, h));
  FOLDOPT_CALL(VecScale(h, -1.0));  // (∂R/∂y)ᵀ g = −D g
}

bool TvProblem::recover_state(Vec x, const ParamSet& theta, Vec y, std::string*) {
  // The dual with target d − x* has the minimum 0 at every y with Dᵀy = d − x*; tron from the
  // previous y (a warm start) finds one in the box, the dual solution itself where it is unique.
  ParamSet shifted = theta.copy();
  FOLDOPT_CALL(VecAXPY(shifted.get("d"), -1.0, x));
  if (!recover_) {
    recover_ = forward_registry().create("forward solver", "tao", ForwardContext{layout_.comm, this, nullptr, "fold_recover_"});
    recover_->set_from_options();
  }
  recover_->solve(shifted, y);
  return true;
}

std::string TvProblem::singular_reason(Vec y, const ParamSet& theta) {
  const std::string why = uniqueness(y, theta);
  return why.empty() ? why : "tv: the dual solution y* is not unique: " + why;
}

void TvProblem::readout_param_t(Vec y, const ParamSet& theta, Vec g, ParamSet& out) {
  if (out.has("d")) FOLDOPT_CALL(VecAXPY(out.get("d"), 1.0, g));
  if (dual().has_values(out)) {
    const std::string why = uniqueness(y, theta);
    FOLDOPT_CHECK(why.empty(), PETSC_ERR_SUP, "tv: the gradient for D.values is not unique: %s", why.c_str());
    dual().op(theta);  // D's values from θ
    OwnedVec G = dual().outer(y, g);
    FOLDOPT_CALL(VecAXPY(out.get("D.values"), -1.0, G));  // −y_i g_j
  }
}

void TvProblem::bounds(const ParamSet& theta, Vec lb, Vec ub) {
  const PetscReal lam = lambda_of(theta);
  FOLDOPT_CALL(VecSet(lb, -lam));
  FOLDOPT_CALL(VecSet(ub, lam));
}

std::string TvProblem::uniqueness(Vec y, const ParamSet& theta) {
  if (full_row_rank_) return "";
  const PetscReal lam = lambda_of(theta);
  Mat op = dual().op(theta);
  // The same point as the last call (readout_t, then readout_param_t in one backward): its answer.
  UniquenessKey key;
  FOLDOPT_CALL(PetscObjectGetId((PetscObject)y, &key.y_id));
  FOLDOPT_CALL(PetscObjectStateGet((PetscObject)y, &key.y_state));
  FOLDOPT_CALL(PetscObjectGetId((PetscObject)op, &key.op_id));
  FOLDOPT_CALL(PetscObjectStateGet((PetscObject)op, &key.op_state));
  key.lambda = lam;
  int hit = unique_valid_ && key == unique_key_ ? 1 : 0, all = 0;  // decided alike on every rank
  MPI_Allreduce(&hit, &all, 1, MPI_INT, MPI_MIN, layout_.comm);
  if (all) return unique_reason_;
  unique_reason_ = examine_free_rows(y, lam, op);
  unique_key_ = key;
  unique_valid_ = true;
  return unique_reason_;
}

std::string TvProblem::examine_free_rows(Vec y, PetscReal lam, Mat op) {
  MPI_Comm comm = layout_.comm;
  PetscInt rs, re;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rs, &re));
  const PetscInt B = layout_.batch;
  std::vector<PetscInt> idx, count(static_cast<std::size_t>(B), 0), total(static_cast<std::size_t>(B), 0);
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(y, &a));
  for (PetscInt i = rs; i < re; ++i)
    if (std::abs(PetscRealPart(a[i - rs])) < lam) {
      idx.push_back(i);
      ++count[static_cast<std::size_t>(i / m_)];
    }
  FOLDOPT_CALL(VecRestoreArrayRead(y, &a));
  MPI_Allreduce(count.data(), total.data(), static_cast<int>(B), MPIU_INT, MPI_SUM, comm);
  PetscInt nfree = 0;
  for (PetscInt b = 0; b < B; ++b) {
    nfree += total[static_cast<std::size_t>(b)];
    if (total[static_cast<std::size_t>(b)] > n_)
      return detail::format("instance %" PetscInt_FMT " has %" PetscInt_FMT " free rows of D (|y_i| < lambda) but only %" PetscInt_FMT
                            " columns, so they are linearly dependent", b, total[static_cast<std::size_t>(b)], n_);
  }
  if (nfree == 0) return "";
  // S = D_F D_Fᵀ (block-diagonal over the instances); singular iff the free rows are dependent.
  OwnedIS rows, cols;
  FOLDOPT_CALL(ISCreateGeneral(comm, static_cast<PetscInt>(idx.size()), idx.data(), PETSC_COPY_VALUES, rows.out()));
  PetscInt cs, ce;
  FOLDOPT_CALL(MatGetOwnershipRangeColumn(op, &cs, &ce));
  FOLDOPT_CALL(ISCreateStride(comm, ce - cs, cs, 1, cols.out()));
  OwnedMat DF, DFt, S;
  FOLDOPT_CALL(MatCreateSubMatrix(op, rows, cols, MAT_INITIAL_MATRIX, DF.out()));
  FOLDOPT_CALL(MatTranspose(DF, MAT_INITIAL_MATRIX, DFt.out()));
  FOLDOPT_CALL(MatMatMult(DF, DFt, MAT_INITIAL_MATRIX, PETSC_DEFAULT, S.out()));
  PetscReal snorm = 0;
  FOLDOPT_CALL(MatNorm(S, NORM_INFINITY, &snorm));
  if (snorm == 0) return detail::format("the %" PetscInt_FMT " free rows of D (|y_i| < lambda) are zero", nfree);
  PetscReal lmin = 0;
  PetscInt nconv = 0;
  if (nfree == 1) {
    lmin = snorm;  // one nonzero row: independent
    nconv = 1;
  } else {
    OwnedEPS eps;
    FOLDOPT_CALL(EPSCreate(comm, eps.out()));
    FOLDOPT_CALL(EPSSetOptionsPrefix(eps, "tv_unique_"));
    FOLDOPT_CALL(EPSSetOperators(eps, S, nullptr));
    FOLDOPT_CALL(EPSSetProblemType(eps, EPS_HEP));
    FOLDOPT_CALL(EPSSetWhichEigenpairs(eps, EPS_SMALLEST_REAL));
    FOLDOPT_CALL(EPSSetDimensions(eps, 1, PETSC_DEFAULT, PETSC_DEFAULT));
    FOLDOPT_CALL(EPSSetTolerances(eps, 1e-10, 100000));
    FOLDOPT_CALL(EPSSetConvergenceTest(eps, EPS_CONV_NORM));
    FOLDOPT_CALL(EPSSetFromOptions(eps));
    FOLDOPT_CALL(EPSSolve(eps));
    FOLDOPT_CALL(EPSGetConverged(eps, &nconv));
    if (nconv > 0) {
      PetscScalar k;
      FOLDOPT_CALL(EPSGetEigenvalue(eps, 0, &k, nullptr));
      lmin = PetscRealPart(k);
    }
  }
  if (nconv == 0)
    return detail::format("SLEPc did not find the smallest eigenvalue of D_F D_F^T for the %" PetscInt_FMT
                          " free rows (raise -tv_unique_eps_max_it), so uniqueness is not established", nfree);
  if (lmin <= 1e-8 * snorm)
    return detail::format("the %" PetscInt_FMT " free rows of D (|y_i| < lambda) are linearly dependent: the smallest "
                          "eigenvalue of D_F D_F^T is %.3g <= 1e-8 ||D_F D_F^T||_inf = %.3g",
                          nfree, (double)lmin, (double)(1e-8 * snorm));
  return "";
}

}  // namespace foldopt
