// foldopt: sparsemax (problem `sparsemax`); see include/foldopt/problems/sparsemax.hpp.
//
// Method: composite form f(x) = ½‖x‖² − θᵀx, h = indicator of {x ≥ 0, Σx = 1}; prox-gradient with
//   α = 1 is U(x) = P(θ). Closed form: the projection itself (SimplexProx: a threshold per
//   instance, exact to rounding, an instance may span ranks).
// References: A. Martins, R. Astudillo, From softmax to sparsemax, ICML 2016.
#include <foldopt/problems/sparsemax.hpp>

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/objectives.hpp>
#include <foldopt/prox/simplex.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "problems/common.hpp"

#include <limits>

namespace foldopt {

Sparsemax::Sparsemax(Vec theta, PetscInt batch)
    : SumConstrainedProblem("sparsemax", 0, std::numeric_limits<PetscReal>::infinity(), 1) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)theta, &comm));
  PetscInt N, nloc;
  FOLDOPT_CALL(VecGetSize(theta, &N));
  FOLDOPT_CALL(VecGetLocalSize(theta, &nloc));
  FOLDOPT_CHECK(batch >= 1 && N >= batch && N % batch == 0, PETSC_ERR_ARG_SIZ,
                "sparsemax: theta has %" PetscInt_FMT " entries, not a whole number of %" PetscInt_FMT " instances", N, batch);
  detail::check_finite(theta, "sparsemax: theta");
  layout_.comm = comm;
  layout_.n = N / batch;
  layout_.batch = batch;
  layout_.local = nloc;
  theta_.add("theta", theta, BlockKind::instance);
  set_parts(make_quadratic(layout_, nullptr, "theta"), std::unique_ptr<Prox>(new SimplexProx(layout_)));
}

std::unique_ptr<Sparsemax> Sparsemax::generate(MPI_Comm comm, PetscInt n, PetscInt batch, unsigned long seed) {
  const Layout l = batch_layout(comm, n, batch);
  OwnedVec theta = detail::generated_vec(l, [&](PetscInt i) { return 2 * uniform01(seed, 101, (std::uint64_t)i) - 1; });
  return std::unique_ptr<Sparsemax>(new Sparsemax(theta, batch));
}

namespace {
PetscErrorCode read_sparsemax_options(MPI_Comm comm, char* file, size_t len, PetscInt* n, PetscInt* batch, PetscInt* seed,
                                      PetscBool* gen_set) {
  PetscBool set[3] = {PETSC_FALSE, PETSC_FALSE, PETSC_FALSE};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, nullptr, "sparsemax problem: argmin ||x - theta||^2 over the probability simplex", "Sparsemax");
  PetscCall(PetscOptionsString("-theta", "theta (file: n entries, or an n x B array for a batch); without it theta is generated",
                               "Sparsemax", file, file, len, nullptr));
  PetscCall(PetscOptionsInt("-n", "Generated instance: entries per instance", "Sparsemax::generate", *n, n, &set[0]));
  PetscCall(PetscOptionsInt("-batch", "Generated instance: number of instances B", "Sparsemax::generate", *batch, batch, &set[1]));
  PetscCall(PetscOptionsInt("-seed", "Generated instance: random seed", "Sparsemax::generate", *seed, seed, &set[2]));
  PetscOptionsEnd();
  *gen_set = (set[0] || set[1] || set[2]) ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}
}  // namespace

std::unique_ptr<Sparsemax> Sparsemax::from_options(MPI_Comm comm) {
  options::check_string(nullptr, "theta");
  options::check_int(nullptr, "n", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "batch", 1, PETSC_MAX_INT);
  options::check_int(nullptr, "seed", 0, PETSC_MAX_INT);
  char file[PETSC_MAX_PATH_LEN] = "";
  PetscInt n = 1000, batch = 1, seed = 1;
  PetscBool gen_set = PETSC_FALSE;
  FOLDOPT_CALL(read_sparsemax_options(comm, file, sizeof file, &n, &batch, &seed, &gen_set));
  if (file[0]) {
    FOLDOPT_CHECK(!gen_set, PETSC_ERR_ARG_INCOMP,
                  "sparsemax: -theta reads an instance; -n, -batch and -seed generate one: give one or the other");
    PetscInt B = 1;
    OwnedVec theta = io::read_batch(comm, file, PETSC_DETERMINE, &B);
    return std::unique_ptr<Sparsemax>(new Sparsemax(theta, B));
  }
  return generate(comm, n, batch, static_cast<unsigned long>(seed));
}

void Sparsemax::view(PetscViewer v) const {
  PetscViewerASCIIPrintf(v, "  sparsemax: projection of theta onto the probability simplex, %" PetscInt_FMT " instance%s of %" PetscInt_FMT "\n",
                         layout_.batch, layout_.batch > 1 ? "s" : "", layout_.n);
}

bool Sparsemax::closed_form(const ParamSet& theta, Vec x, std::string*) {
  h_->apply(theta.get("theta"), 1.0, theta, x);
  return true;
}

}  // namespace foldopt
