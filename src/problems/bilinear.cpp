// foldopt: the nonconvex bilinear problem (problem `bilinear`); see include/foldopt/problems/bilinear.hpp.
//
// Method: composite form over the state s = (x, y) per instance: f = −(cᵀx + xᵀQy + dᵀy) + μ φ(s)
//   (bilinear_objective.cpp) and h the indicator of {0 ≤ x, y ≤ 1, Σx = p, Σy = q}, the prox
//   `capped_simplex_product` with sums (p, q). The same constraints go to TAO and IPOPT as bounds
//   and 2B equality rows (Σx_b − p, Σy_b − q).
// Algorithm: the smoothing range Δ = φ_max − φ_min on the feasible set of one instance:
//   quadratic φ = ½‖s‖²: φ_max = (p + q)/2 (at vertices, ‖x‖² ≤ Σx = p for 0 ≤ x ≤ 1), φ_min =
//     (p² + q²)/(2m) (x = p/m·1 by Cauchy–Schwarz);
//   entropic φ = Σ s log s: φ_max = 0 (each term ≤ 0 on [0, 1], 0 at 0 and 1), φ_min = −p log(m/p)
//     − q log(m/q) (the uniform point, by Jensen);
//   summed over the B independent instances for the batch's objective (reported per instance).
// References: Kotary, Dinh, Fioretto (2023), the bilinear experiment; H. Konno, A cutting plane
//   algorithm for solving bilinear programs, Math. Programming 11 (1976) 14–27 (vertex solutions
//   and alternating maximization).
#include <foldopt/problems/bilinear.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/prox/simplex.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "problems/bilinear_objective.hpp"
#include "problems/common.hpp"

#include <cmath>
#include <cstring>
#include <vector>

namespace foldopt {

const char* to_string(BilinearSmoothing s) {
  switch (s) {
    case BilinearSmoothing::none: return "none";
    case BilinearSmoothing::quadratic: return "quadratic";
    case BilinearSmoothing::entropic: return "entropic";
  }
  return "?";
}

Bilinear::Bilinear(Mat Q, Vec c, Vec d, PetscInt batch, PetscInt p, PetscInt q, BilinearSmoothing smoothing, PetscReal mu,
                   const BilinearSearch& search)
    : CompositeProblem("bilinear", Layout()), p_(p), q_(q), smoothing_(smoothing), mu_(mu), search_(search) {
  FOLDOPT_CHECK(Q && c && d, PETSC_ERR_ARG_NULL, "bilinear: needs Q, c and d");
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)c, &comm));
  PetscInt N, Nd, mq, nq;
  FOLDOPT_CALL(VecGetSize(c, &N));
  FOLDOPT_CALL(VecGetSize(d, &Nd));
  FOLDOPT_CALL(MatGetSize(Q, &mq, &nq));
  FOLDOPT_CHECK(batch >= 1 && N >= batch && N % batch == 0, PETSC_ERR_ARG_SIZ,
                "bilinear: c has %" PetscInt_FMT " entries, not a whole number of %" PetscInt_FMT " instances", N, batch);
  const PetscInt m = N / batch;
  FOLDOPT_CHECK(Nd == N, PETSC_ERR_ARG_SIZ, "bilinear: d has %" PetscInt_FMT " entries but c has %" PetscInt_FMT, Nd, N);
  FOLDOPT_CHECK(mq == nq, PETSC_ERR_ARG_SIZ, "bilinear: Q is not square: %" PetscInt_FMT " x %" PetscInt_FMT, mq, nq);
  FOLDOPT_CHECK(mq == m, PETSC_ERR_ARG_SIZ,
                "bilinear: Q is %" PetscInt_FMT " x %" PetscInt_FMT " but c and d have %" PetscInt_FMT " entries per instance", mq,
                nq, m);
  FOLDOPT_CHECK(m >= 2, PETSC_ERR_ARG_OUTOFRANGE, "bilinear: needs at least 2 entries per side (m = %" PetscInt_FMT ")", m);
  FOLDOPT_CHECK(p > 0 && p < m, PETSC_ERR_ARG_OUTOFRANGE, "bilinear: -sum_x %" PetscInt_FMT " must be in (0, m) with m = %" PetscInt_FMT, p, m);
  FOLDOPT_CHECK(q > 0 && q < m, PETSC_ERR_ARG_OUTOFRANGE, "bilinear: -sum_y %" PetscInt_FMT " must be in (0, m) with m = %" PetscInt_FMT, q, m);
  FOLDOPT_CHECK(std::isfinite(mu) && (smoothing == BilinearSmoothing::none ? mu >= 0 : mu > 0), PETSC_ERR_ARG_OUTOFRANGE,
                "bilinear: -bilinear_mu %g must be positive with smoothing %s", (double)mu, to_string(smoothing));
  if (smoothing == BilinearSmoothing::none) mu_ = 0;
  FOLDOPT_CHECK(search.starts >= 1 && search.local_starts >= 1 && search.enum_max >= 0, PETSC_ERR_ARG_OUTOFRANGE,
                "bilinear: -bilinear_starts and -bilinear_local_starts must be at least 1, -bilinear_enum_max nonnegative");
  detail::check_finite(c, "bilinear: c");
  detail::check_finite(d, "bilinear: d");
  Q_ = OwnedMat::share(Q);
  layout_ = batch_layout(comm, 2 * m, batch);
  theta_.add("c", c, BlockKind::instance);
  theta_.add("d", d, BlockKind::instance);
  set_parts(detail::make_bilinear_objective(layout_, Q, smoothing, mu_),
            std::unique_ptr<Prox>(new CappedSimplexProductProx(layout_, {(PetscReal)p, (PetscReal)q})));
}

std::unique_ptr<Bilinear> Bilinear::generate(MPI_Comm comm, PetscInt m, PetscInt batch, unsigned long seed, PetscInt p, PetscInt q,
                                             BilinearSmoothing smoothing, PetscReal mu, const BilinearSearch& search) {
  const Layout l = batch_layout(comm, m, batch);
  OwnedVec c = detail::generated_vec(l, [&](PetscInt i) { return 2 * uniform01(seed, 301, (std::uint64_t)i) - 1; });
  OwnedVec d = detail::generated_vec(l, [&](PetscInt i) { return 2 * uniform01(seed, 302, (std::uint64_t)i) - 1; });
  // Q: each entry (i, j) present with probability 0.3, uniform in [−1, 1), by global index.
  OwnedMat Q;
  FOLDOPT_CALL(MatCreate(comm, Q.out()));
  PetscInt rl = PETSC_DECIDE, M = m;
  FOLDOPT_CALL(PetscSplitOwnership(comm, &rl, &M));
  PetscInt rstart = 0;
  FOLDOPT_CALL(MPI_Exscan(&rl, &rstart, 1, MPIU_INT, MPI_SUM, comm));
  int rank;
  FOLDOPT_CALL(MPI_Comm_rank(comm, &rank));
  if (rank == 0) rstart = 0;
  PetscInt cl = rl;  // columns split like rows
  std::vector<std::vector<PetscInt>> cols(static_cast<std::size_t>(rl));
  std::vector<std::vector<PetscScalar>> vals(static_cast<std::size_t>(rl));
  std::vector<PetscInt> dnz(static_cast<std::size_t>(rl), 0), onz(static_cast<std::size_t>(rl), 0);
  for (PetscInt i = rstart; i < rstart + rl; ++i)
    for (PetscInt j = 0; j < m; ++j) {
      const std::uint64_t k = (std::uint64_t)i * (std::uint64_t)m + (std::uint64_t)j;
      if (uniform01(seed, 303, k) >= 0.3) continue;
      cols[i - rstart].push_back(j);
      vals[i - rstart].push_back(2 * uniform01(seed, 304, k) - 1);
      (j >= rstart && j < rstart + cl ? dnz : onz)[i - rstart]++;
    }
  FOLDOPT_CALL(MatSetSizes(Q, rl, cl, m, m));
  FOLDOPT_CALL(MatSetType(Q, MATAIJ));
  FOLDOPT_CALL(MatSeqAIJSetPreallocation(Q, 0, dnz.data()));
  FOLDOPT_CALL(MatMPIAIJSetPreallocation(Q, 0, dnz.data(), 0, onz.data()));
  for (PetscInt i = rstart; i < rstart + rl; ++i) {
    const auto& cc = cols[i - rstart];
    FOLDOPT_CALL(MatSetValues(Q, 1, &i, (PetscInt)cc.size(), cc.data(), vals[i - rstart].data(), INSERT_VALUES));
  }
  FOLDOPT_CALL(MatAssemblyBegin(Q, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(Q, MAT_FINAL_ASSEMBLY));
  std::unique_ptr<Bilinear> b(new Bilinear(Q, c, d, batch, p, q, smoothing, mu, search));
  b->generated_ = true;
  return b;
}

namespace {
struct BilinearOptions {
  char c[PETSC_MAX_PATH_LEN] = "", d[PETSC_MAX_PATH_LEN] = "", Q[PETSC_MAX_PATH_LEN] = "";
  PetscInt m = 20, batch = 1, seed = 1, p = 3, q = 3, starts = 64, local_starts = 3;
  PetscReal mu = 1.0, enum_max = 1e6;
  PetscInt smoothing = 1;  // quadratic
  PetscBool gen_set = PETSC_FALSE;
};

PetscErrorCode read_bilinear_options(MPI_Comm comm, BilinearOptions* o) {
  static const char* const names[] = {"none", "quadratic", "entropic"};
  PetscBool set[3] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "bilinear problem: max c'x + x'Qy + d'y - mu phi, 0 <= x, y <= 1, sum x = p, sum y = q",
                    "Bilinear");
  PetscCall(PetscOptionsString("-c", "c (file: m entries, or an m x B array); with -d and -Qmat; without them an instance is generated",
                               "Bilinear", o->c, o->c, sizeof o->c, nullptr));
  PetscCall(PetscOptionsString("-d", "d (file, like -c)", "Bilinear", o->d, o->d, sizeof o->d, nullptr));
  PetscCall(PetscOptionsString("-Qmat", "Matrix Q, m x m (shared by the batch)", "Bilinear", o->Q, o->Q, sizeof o->Q, nullptr));
  PetscCall(PetscOptionsInt("-sum_x", "Sum p of x per instance (integer, 0 < p < m)", "Bilinear", o->p, &o->p, nullptr));
  PetscCall(PetscOptionsInt("-sum_y", "Sum q of y per instance (integer, 0 < q < m)", "Bilinear", o->q, &o->q, nullptr));
  PetscCall(PetscOptionsEList("-bilinear_smoothing", "Smoothing phi of the objective", "Bilinear", names, 3, names[o->smoothing],
                              &o->smoothing, nullptr));
  PetscCall(PetscOptionsReal("-bilinear_mu", "Smoothing weight mu (> 0; ignored without smoothing)", "Bilinear", o->mu, &o->mu, nullptr));
  PetscCall(PetscOptionsInt("-bilinear_starts", "Random starts of alternating maximization (above -bilinear_enum_max)", "Bilinear",
                            o->starts, &o->starts, nullptr));
  PetscCall(PetscOptionsReal("-bilinear_enum_max", "Largest number of vertices of one side enumerated exactly", "Bilinear",
                             o->enum_max, &o->enum_max, nullptr));
  PetscCall(PetscOptionsInt("-bilinear_local_starts", "Best vertices the smoothed ascent starts from", "Bilinear", o->local_starts,
                            &o->local_starts, nullptr));
  PetscCall(PetscOptionsInt("-n", "Generated instance: entries m of x (and of y) per instance", "Bilinear::generate", o->m, &o->m, &set[0]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of instances B", "Bilinear::generate", o->batch, &o->batch, &set[1]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance (and the random starts): random seed", "Bilinear::generate", o->seed, &o->seed,
                            &set[2]));
  PetscOptionsEnd();
  o->gen_set = (set[0] || set[1]) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<Bilinear> Bilinear::from_options(MPI_Comm comm) {
  for (const char* f : {"c", "d", "Qmat"}) options::check_string(nullptr, f);
  options::check_int(nullptr, "sum_x", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "sum_y", 1, PETSC_MAX_INT);
  options::check_choice(nullptr, "bilinear_smoothing", {"none", "quadratic", "entropic"});
  options::check_real(nullptr, "bilinear_mu", 0, 1e300, true);
  options::check_int(nullptr, "bilinear_starts", 1, 1000000);
  options::check_real(nullptr, "bilinear_enum_max", 0, 1e12);
  options::check_int(nullptr, "bilinear_local_starts", 1, 1000);
  options::check_int(nullptr, "n", 2, 4096);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  BilinearOptions o;
  FOLDOPT_CALL(read_bilinear_options(comm, &o));
  BilinearSearch s;
  s.starts = o.starts;
  s.enum_max = o.enum_max;
  s.local_starts = o.local_starts;
  s.seed = static_cast<unsigned long>(o.seed);
  const BilinearSmoothing sm = static_cast<BilinearSmoothing>(o.smoothing);
  const bool any_file = o.c[0] || o.d[0] || o.Q[0];
  if (any_file) {
    FOLDOPT_CHECK(o.c[0] && o.d[0] && o.Q[0], PETSC_ERR_ARG_WRONG, "bilinear: an instance from files needs all of -c, -d and -Qmat");
    FOLDOPT_CHECK(!o.gen_set, PETSC_ERR_ARG_INCOMP,
                  "bilinear: -c, -d and -Qmat read an instance; -n and -batch generate one: give one or the other");
    PetscInt B = 1, Bd = 1;
    OwnedVec c = io::read_batch(comm, o.c, PETSC_DETERMINE, &B);
    PetscInt N;
    FOLDOPT_CALL(VecGetSize(c, &N));
    OwnedVec d = io::read_batch(comm, o.d, N / B, &Bd);
    FOLDOPT_CHECK(Bd == B, PETSC_ERR_ARG_SIZ, "bilinear: -d %s has %" PetscInt_FMT " columns (instances) but -c %s has %" PetscInt_FMT,
                  o.d, Bd, o.c, B);
    OwnedMat Q = io::read_mat(comm, o.Q);
    return std::unique_ptr<Bilinear>(new Bilinear(Q, c, d, B, o.p, o.q, sm, o.mu, s));
  }
  return generate(comm, o.m, o.batch, static_cast<unsigned long>(o.seed), o.p, o.q, sm, o.mu, s);
}

PetscReal Bilinear::smoothing_min() const {
  const PetscReal m = static_cast<PetscReal>(size()), p = static_cast<PetscReal>(p_), q = static_cast<PetscReal>(q_);
  switch (smoothing_) {
    case BilinearSmoothing::none: return 0;
    case BilinearSmoothing::quadratic: return (p * p + q * q) / (2 * m);
    case BilinearSmoothing::entropic: return -p * std::log(m / p) - q * std::log(m / q);
  }
  return 0;
}

PetscReal Bilinear::smoothing_range() const {
  const PetscReal vertex = smoothing_ == BilinearSmoothing::quadratic ? 0.5 * static_cast<PetscReal>(p_ + q_) : 0;
  return vertex - smoothing_min();
}

PetscReal Bilinear::default_stepsize() const { return smoothing_ == BilinearSmoothing::entropic ? 1 / mu_ : 0; }
std::string Bilinear::default_pc_type() const { return smoothing_ == BilinearSmoothing::entropic ? "jacobi" : ""; }
bool Bilinear::default_pc_left() const { return smoothing_ == BilinearSmoothing::entropic; }

void Bilinear::view(PetscViewer v) const {
  MatInfo info;
  FOLDOPT_CALL(MatGetInfo(Q_, MAT_GLOBAL_SUM, &info));
  PetscViewerASCIIPrintf(v,
                         "  bilinear: m = %" PetscInt_FMT " per side, sum x = %" PetscInt_FMT ", sum y = %" PetscInt_FMT
                         ", %" PetscInt_FMT " instance%s; Q %.0f nonzeros%s\n",
                         size(), p_, q_, layout_.batch, layout_.batch > 1 ? "s" : "", (double)info.nz_used,
                         generated_ ? " (generated by global index)" : "");
  PetscViewerASCIIPrintf(v, "  smoothing %s, mu = %g: smoothing range mu*Delta = %.6g per instance\n", to_string(smoothing_),
                         (double)mu_, (double)(mu_ * smoothing_range()));
}

void Bilinear::bounds(const ParamSet&, Vec lb, Vec ub) {
  FOLDOPT_CALL(VecSet(lb, 0.0));
  FOLDOPT_CALL(VecSet(ub, 1.0));
}

namespace {
/// Segments of m entries: x and y of every instance (2B of them).
Layout halves(const Layout& l) {
  Layout h = l;
  h.n = l.n / 2;
  h.batch = 2 * l.batch;
  return h;
}
}  // namespace

void Bilinear::equality(Vec s, const ParamSet&, Vec c) {
  const std::vector<PetscReal> sums = batch::sums(s, size());
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(c, &rstart, &rend));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(c, &a));
  for (PetscInt j = rstart; j < rend; ++j) a[j - rstart] = sums[j] - static_cast<PetscReal>(j % 2 == 0 ? p_ : q_);
  FOLDOPT_CALL(VecRestoreArray(c, &a));
}

OwnedMat Bilinear::equality_jacobian(Vec, const ParamSet&) { return detail::sum_constraint_jacobian(halves(layout_)); }

}  // namespace foldopt
