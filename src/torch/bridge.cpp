// foldopt: a folded layer bound to framework memory (bridge.hpp).
//
// Method: θ blocks, ∂L/∂x* and saved states are PETSc Vecs placed on the caller's arrays
//   (VecCreateMPIWithArray: no copy), laid out as the problem's own vectors (the same local
//   sizes). A layer reads its options from its own PetscOptions object, pushed as the default
//   database around every call (PetscOptionsPush/Pop), so that two layers with different options
//   live side by side in one program and neither touches the program's database.
// Algorithm: forward numbers its calls; the backward of call k re-installs (θ_k, s*_k) with
//   FoldedLayer::set_solution when a later forward has moved the layer (two forwards, then two
//   backwards, as autograd may run them), so each gradient is that of its own forward.
// References: PETSc manual pages of PetscOptionsPush, PetscOptionsInsertString,
//   PetscOptionsLeftGet, VecCreateMPIWithArray.
#include "torch/bridge.hpp"

#include <foldopt/error.hpp>

#include <utility>

namespace foldopt {
namespace bridge {

OptionsScope::OptionsScope(PetscOptions options) : options_(options) {
  if (options_) FOLDOPT_CALL(PetscOptionsPush(options_));
}

OptionsScope::~OptionsScope() {
  if (options_) (void)PetscOptionsPop();
}

void BoundLayer::init_options(const OptionsSource& options) {
  if (options.database) return;
  FOLDOPT_CALL(PetscOptionsCreate(options_.out()));
  FOLDOPT_CALL(PetscOptionsInsertString(options_, options.text.c_str()));
}

BoundLayer::BoundLayer(MPI_Comm comm, const std::string& problem, const OptionsSource& options) : comm_(comm) {
  init_options(options);
  try {
    OptionsScope scope(options_);
    problem_ = problem_registry().create("problem", problem, comm);
    layer_.reset(new FoldedLayer(*problem_));
    blocks_ = problem_->params().share();
    configure();
  } catch (...) {
    layer_.reset();
    problem_.reset();
    options_.reset();
    throw;
  }
}

BoundLayer::BoundLayer(std::unique_ptr<UpdateMap> map, const OptionsSource& options) {
  FOLDOPT_CHECK(map != nullptr, PETSC_ERR_ARG_NULL, "folded layer: no update map");
  comm_ = map->layout().comm;
  init_options(options);
  try {
    OptionsScope scope(options_);
    blocks_ = map->create_params();
    layer_.reset(new FoldedLayer(std::move(map)));
    configure();
  } catch (...) {
    layer_.reset();
    options_.reset();
    throw;
  }
}

BoundLayer::~BoundLayer() {
  {
    OptionsScope scope(options_);
    layer_.reset();
    problem_.reset();
    blocks_ = ParamSet();
  }
  options_.reset();
}

void BoundLayer::configure() {
  layer_->set_from_options();
  check_unused(false);
}

void BoundLayer::check_unused(bool final) {
  if (!options_ || checked_final_) return;
  std::vector<std::string> deferred;
  if (!final) deferred = layer_->deferred_option_prefixes();
  PetscInt n = 0;
  char **names = nullptr, **values = nullptr;
  FOLDOPT_CALL(PetscOptionsLeftGet(options_, &n, &names, &values));
  std::string left;
  for (PetscInt i = 0; i < n; ++i) {
    const std::string name = names[i];
    bool later = false;
    for (const auto& d : deferred) later = later || name.compare(0, d.size(), d) == 0;
    if (!later) left += (left.empty() ? "-" : ", -") + name + (values[i] ? std::string(" ") + values[i] : std::string());
  }
  FOLDOPT_CALL(PetscOptionsLeftRestore(options_, &n, &names, &values));
  check_collective(comm_, left.empty(), PETSC_ERR_ARG_WRONG,
                   "unused option(s) in the layer's options: " + left + " (misspelled, or not used by this layer)");
  checked_final_ = final;
}

PetscInt BoundLayer::local_size(std::size_t b) const {
  PetscInt n = 0;
  FOLDOPT_CALL(VecGetLocalSize(blocks_[b].vec, &n));
  return n;
}

PetscInt BoundLayer::local_start(std::size_t b) const {
  PetscInt lo = 0, hi = 0;
  FOLDOPT_CALL(VecGetOwnershipRange(blocks_[b].vec, &lo, &hi));
  return lo;
}

PetscInt BoundLayer::global_size(std::size_t b) const {
  PetscInt n = 0;
  FOLDOPT_CALL(VecGetSize(blocks_[b].vec, &n));
  return n;
}

const Layout& BoundLayer::solution_layout() const { return layer_->map().solution_layout(); }
const Layout& BoundLayer::state_layout() const { return layer_->map().layout(); }

PetscInt BoundLayer::solution_start() const {
  const Layout& l = solution_layout();
  PetscInt start = 0, local = l.local;
  MPI_Exscan(&local, &start, 1, MPIU_INT, MPI_SUM, l.comm);
  int rank = 0;
  MPI_Comm_rank(l.comm, &rank);
  return rank == 0 ? 0 : start;
}

PetscInt BoundLayer::solution_rows() const {
  const Layout& l = solution_layout();
  const PetscInt start = solution_start();
  const bool whole = l.n > 0 && l.local % l.n == 0 && start % l.n == 0;
  return whole ? l.local / l.n : -1;
}

ParamSet BoundLayer::wrap(const std::vector<const PetscScalar*>& data) const {
  FOLDOPT_CHECK(data.size() == blocks_.size(), PETSC_ERR_ARG_SIZ,
                "folded layer: %zu parameter blocks given, the layer has %zu", data.size(), blocks_.size());
  ParamSet theta;
  for (std::size_t b = 0; b < blocks_.size(); ++b) {
    OwnedVec v;
    FOLDOPT_CALL(VecCreateMPIWithArray(comm_, 1, local_size(b), global_size(b), data[b], v.out()));
    theta.add(blocks_[b].name, v, blocks_[b].kind, blocks_[b].pattern);
  }
  return theta;
}

OwnedVec BoundLayer::wrap_solution(const PetscScalar* data) const {
  const Layout& l = solution_layout();
  OwnedVec v;
  FOLDOPT_CALL(VecCreateMPIWithArray(l.comm, 1, l.local, l.global(), data, v.out()));
  return v;
}

OwnedVec BoundLayer::wrap_state(const PetscScalar* data) const {
  const Layout& l = state_layout();
  OwnedVec v;
  FOLDOPT_CALL(VecCreateMPIWithArray(l.comm, 1, l.local, l.global(), data, v.out()));
  return v;
}

long BoundLayer::forward(const ParamSet& theta) {
  OptionsScope scope(options_);
  installed_ = 0;  // a failed forward leaves no solution of any call in place
  layer_->forward(theta);
  installed_ = ++calls_;
  return calls_;
}

long BoundLayer::set_solution(const ParamSet& theta, Vec state) {
  OptionsScope scope(options_);
  installed_ = 0;
  layer_->set_solution(theta, state);
  installed_ = ++calls_;
  return calls_;
}

ParamSet BoundLayer::backward(long call, const ParamSet& theta, Vec state, Vec g) {
  OptionsScope scope(options_);
  if (call != installed_) {
    layer_->set_solution(theta, state);
    installed_ = call;
  }
  ParamSet grad = layer_->backward(g);
  check_unused(true);
  return grad;
}

}  // namespace bridge
}  // namespace foldopt
