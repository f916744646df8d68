// foldopt: smooth top-k (problem `topk`); see include/foldopt/problems/topk.hpp.
//
// Method: composite form f(x) = −cᵀx + ε Σ x log x, h = indicator of {0 ≤ x ≤ 1, Σx = k}.
// Algorithm (closed form): stationarity −cᵢ + ε(1 + log xᵢ) + τ + μᵢ = 0 with μᵢ ≥ 0 the multiplier
//   of xᵢ ≤ 1 gives xᵢ(τ) = min(1, exp((cᵢ − τ)/ε − 1)); S(τ) = Σ xᵢ(τ) decreases in τ, from n at
//   τ_lo = −max|c| − ε to at most k at τ_hi = max|c| − ε − ε log(k/n). Newton steps
//   τ ← τ + (S − k)/S′, S′ = −Σ_F xᵢ/ε, kept inside the bracket (bisection otherwise), per
//   instance, until S = k to rounding or the bracket closes.
// References: Y. Xie et al., Differentiable top-k with optimal transport, NeurIPS 2020 (the
//   entropic relaxation); Kotary, Dinh, Fioretto (2023), the smooth top-k experiment.
#include <foldopt/problems/topk.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/prox/simplex.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "problems/common.hpp"

#include <cmath>
#include <vector>

namespace foldopt {

TopK::TopK(Vec c, PetscInt batch, PetscReal k, PetscReal epsilon)
    : SumConstrainedProblem("topk", 0, 1, k), k_(k), epsilon_(epsilon) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)c, &comm));
  PetscInt N, nloc;
  FOLDOPT_CALL(VecGetSize(c, &N));
  FOLDOPT_CALL(VecGetLocalSize(c, &nloc));
  FOLDOPT_CHECK(batch >= 1 && N >= batch && N % batch == 0, PETSC_ERR_ARG_SIZ,
                "topk: c has %" PetscInt_FMT " entries, not a whole number of %" PetscInt_FMT " instances", N, batch);
  const PetscInt n = N / batch;
  FOLDOPT_CHECK(std::isfinite(k) && k > 0 && k < n, PETSC_ERR_ARG_OUTOFRANGE,
                "topk: -k %g must be in (0, n) with n = %" PetscInt_FMT " entries per instance", (double)k, n);
  FOLDOPT_CHECK(std::isfinite(epsilon) && epsilon > 0, PETSC_ERR_ARG_OUTOFRANGE, "topk: -epsilon %g must be positive",
                (double)epsilon);
  detail::check_finite(c, "topk: c");
  layout_.comm = comm;
  layout_.n = n;
  layout_.batch = batch;
  layout_.local = nloc;
  theta_.add("c", c, BlockKind::instance);
  set_parts(make_entropy(layout_, epsilon, "c"), std::unique_ptr<Prox>(new CappedSimplexProx(layout_, k)));
}

std::unique_ptr<TopK> TopK::generate(MPI_Comm comm, PetscInt n, PetscInt batch, unsigned long seed, PetscReal k,
                                     PetscReal epsilon) {
  const Layout l = batch_layout(comm, n, batch);
  OwnedVec c = detail::generated_vec(l, [&](PetscInt i) { return 2 * uniform01(seed, 103, (std::uint64_t)i) - 1; });
  return std::unique_ptr<TopK>(new TopK(c, batch, k, epsilon));
}

namespace {
PetscErrorCode read_topk_options(MPI_Comm comm, char* file, size_t len, PetscInt* n, PetscInt* batch, PetscInt* seed,
                                 PetscReal* k, PetscReal* eps, PetscBool* gen_set) {
  PetscBool set[3] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "topk problem: max c'x - eps sum x log x, 0 <= x <= 1, sum x = k", "TopK");
  PetscCall(PetscOptionsString("-c", "c (file: n entries, or an n x B array for a batch); without it c is generated", "TopK", file,
                               file, len, nullptr));
  PetscCall(PetscOptionsReal("-k", "Sum of x per instance (0 < k < n)", "TopK", *k, k, nullptr));
  PetscCall(PetscOptionsReal("-epsilon", "Entropy weight epsilon > 0", "TopK", *eps, eps, nullptr));
  PetscCall(PetscOptionsInt("-n", "Generated instance: entries per instance", "TopK::generate", *n, n, &set[0]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of instances B", "TopK::generate", *batch, batch, &set[1]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "TopK::generate", *seed, seed, &set[2]));
  PetscOptionsEnd();
  *gen_set = (set[0] || set[1] || set[2]) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<TopK> TopK::from_options(MPI_Comm comm) {
  options::check_string(nullptr, "c");
  options::check_real(nullptr, "k", 0, 1e300, true);
  options::check_real(nullptr, "epsilon", 0, 1e300, true);
  options::check_int(nullptr, "n", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  char file[PETSC_MAX_PATH_LEN] = "";
  PetscInt n = 100, batch = 1, seed = 1;
  PetscReal k = 5, eps = 0.1;
  PetscBool gen_set = PETSC_FALSE;
  FOLDOPT_CALL(read_topk_options(comm, file, sizeof file, &n, &batch, &seed, &k, &eps, &gen_set));
  if (file[0]) {
    FOLDOPT_CHECK(!gen_set, PETSC_ERR_ARG_INCOMP, "topk: -c reads an instance; -n, -batch and -seed generate one: give one or the other");
    PetscInt B = 1;
    OwnedVec c = io::read_batch(comm, file, PETSC_DETERMINE, &B);
    return std::unique_ptr<TopK>(new TopK(c, B, k, eps));
  }
  return generate(comm, n, batch, static_cast<unsigned long>(seed), k, eps);
}

void TopK::view(PetscViewer v) const {
  PetscViewerASCIIPrintf(v, "  topk: entropic top-k, k = %g, epsilon = %g, %" PetscInt_FMT " instance%s of %" PetscInt_FMT "\n",
                         (double)k_, (double)epsilon_, layout_.batch, layout_.batch > 1 ? "s" : "", layout_.n);
}

bool TopK::closed_form(const ParamSet& theta, Vec x, std::string*) {
  Vec c = theta.get("c");
  const PetscInt B = layout_.batch, n = layout_.n;
  const std::vector<PetscReal> M = batch::max_abs(c, n);
  std::vector<PetscReal> lo(B), hi(B), tau(B), step(B);
  for (PetscInt b = 0; b < B; ++b) {
    lo[b] = -M[b] - epsilon_;
    hi[b] = M[b] - epsilon_ - epsilon_ * std::log(k_ / static_cast<PetscReal>(n));
    tau[b] = 0.5 * (lo[b] + hi[b]);
  }
  OwnedVec t, free;
  FOLDOPT_CALL(VecDuplicate(c, t.out()));
  FOLDOPT_CALL(VecDuplicate(c, free.out()));
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(c, &nloc));
  auto evaluate = [&] {  // x(τ) and x on the free set, per entry
    batch::broadcast(tau, n, t);
    const PetscScalar *cc, *tt;
    PetscScalar *xx, *ff;
    FOLDOPT_CALL(VecGetArrayRead(c, &cc));
    FOLDOPT_CALL(VecGetArrayRead(t, &tt));
    FOLDOPT_CALL(VecGetArray(x, &xx));
    FOLDOPT_CALL(VecGetArray(free, &ff));
    for (PetscInt i = 0; i < nloc; ++i) {
      const PetscReal e = std::exp((PetscRealPart(cc[i]) - PetscRealPart(tt[i])) / epsilon_ - 1);
      xx[i] = std::min<PetscReal>(1, e);
      ff[i] = e < 1 ? e : 0;
    }
    FOLDOPT_CALL(VecRestoreArrayRead(c, &cc));
    FOLDOPT_CALL(VecRestoreArrayRead(t, &tt));
    FOLDOPT_CALL(VecRestoreArray(x, &xx));
    FOLDOPT_CALL(VecRestoreArray(free, &ff));
  };
  for (int it = 0; it < 300; ++it) {
    evaluate();
    const std::vector<PetscReal> S = batch::sums(x, n), D = batch::sums(free, n);
    bool done = true;
    for (PetscInt b = 0; b < B; ++b) {
      const PetscReal f = S[b] - k_;
      if (std::abs(f) <= 4 * PETSC_MACHINE_EPSILON * k_ || hi[b] - lo[b] <= 4 * PETSC_MACHINE_EPSILON * std::max<PetscReal>(1, std::abs(tau[b])))
        continue;
      done = false;
      (f > 0 ? lo[b] : hi[b]) = tau[b];
      const PetscReal newton = D[b] > 0 ? tau[b] + f * epsilon_ / D[b] : NAN;  // S′ = −D/ε
      tau[b] = (newton > lo[b] && newton < hi[b]) ? newton : 0.5 * (lo[b] + hi[b]);
    }
    if (done) return true;
  }
  detail::throw_error(PETSC_ERR_NOT_CONVERGED, "topk: the threshold of the closed form did not converge in 300 steps");
}

}  // namespace foldopt
