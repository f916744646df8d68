// foldopt: the folded layer as a libtorch autograd function (include/foldopt/torch.hpp).
//
// Method: a torch::autograd::Function whose forward is FoldedLayer::forward and whose backward
//   is FoldedLayer::backward: (I − Φᵀ) w = (∂R/∂s)ᵀ g, ∂L/∂θ_b = Ψ_bᵀ w + (∂R/∂θ_b)ᵀ g for every
//   block b, g = ∂L/∂x* the incoming gradient.
// Algorithm: each θ tensor is made contiguous float64 on the CPU (a copy only if it was not) and
//   wrapped as a PETSc Vec in place (bridge::BoundLayer::wrap); the context saves those tensors
//   and a copy of the state s*, so that the backward of an earlier forward re-installs its own
//   (θ, s*). x* is copied out of the layer into a new tensor; each gradient is returned as a
//   tensor on its PETSc Vec's storage (from_blob, the Vec released with the tensor).
// References: Kotary, Dinh, Fioretto (2023), fixed-point folding; the libtorch custom autograd
//   function (torch/csrc/autograd/custom_function.h).
#include <foldopt/torch.hpp>

#include <foldopt/error.hpp>
#include <foldopt/problem.hpp>

#include "torch/bridge.hpp"

#include <torch/csrc/autograd/custom_function.h>

#include <cstring>
#include <memory>
#include <utility>

namespace foldopt {
namespace torch {

namespace {

using ::torch::autograd::AutogradContext;
using ::torch::autograd::variable_list;

/// t as contiguous float64 on the CPU, refusing CUDA (and other devices) and non-floating types;
/// `warned` makes the dtype warning appear once per layer.
at::Tensor as_cpu_double(MPI_Comm comm, const at::Tensor& t, const std::string& what, bool* warned) {
  check_collective(comm, t.defined(), PETSC_ERR_ARG_NULL, what + ": an undefined tensor");
  check_collective(comm, t.device().is_cpu(), PETSC_ERR_SUP,
                   what + ": a tensor on device " + t.device().str() +
                       "; foldopt works on CPU float64 tensors (move it with .cpu())");
  check_collective(comm, at::isFloatingType(t.scalar_type()), PETSC_ERR_ARG_WRONG,
                   what + ": a tensor of type " + std::string(c10::toString(t.scalar_type())) +
                       "; foldopt needs floating-point values (float64)");
  at::Tensor out = t;
  if (t.scalar_type() != at::kDouble) {
    if (warned && !*warned) {
      TORCH_WARN(what, ": a ", c10::toString(t.scalar_type()),
                 " tensor, converted to float64 (foldopt computes in float64; pass float64 tensors to avoid the copy)");
      *warned = true;
    }
    out = t.to(at::kDouble);
  }
  return out.contiguous();
}

void check_numel(MPI_Comm comm, const at::Tensor& t, int64_t local, int64_t global, const std::string& what) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  check_collective(comm, t.numel() == local, PETSC_ERR_ARG_SIZ,
                   detail::format("%s: the tensor has %lld entries on rank %d, where the layer holds %lld of its %lld",
                                  what.c_str(), (long long)t.numel(), rank, (long long)local, (long long)global));
}

/// A new tensor holding a copy of v's local entries.
at::Tensor copy_of(Vec v, at::IntArrayRef shape) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  PetscInt n = 0;
  const PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  FOLDOPT_CHECK(n == t.numel(), PETSC_ERR_PLIB, "foldopt::torch: a vector of %" PetscInt_FMT " local entries for a tensor of %lld",
                n, (long long)t.numel());
  FOLDOPT_CALL(VecGetArrayRead(v, &a));
  if (n) std::memcpy(t.data_ptr<double>(), a, sizeof(double) * static_cast<std::size_t>(n));
  FOLDOPT_CALL(VecRestoreArrayRead(v, &a));
  return t;
}

/// A tensor on v's storage; the tensor holds a reference to v until it is freed. A rank without
/// entries gets an empty tensor of its own: from_blob never calls the deleter of a null pointer,
/// which would keep v (and PETSc's communicator) alive on that rank alone.
at::Tensor on_storage(Vec v, at::IntArrayRef shape) {
  PetscInt n = 0;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  if (n == 0) return at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  PetscScalar* a = nullptr;
  FOLDOPT_CALL(VecGetArray(v, &a));
  auto held = std::make_shared<OwnedVec>(OwnedVec::share(v));
  return at::from_blob(a, shape,
                       [held](void* data) {
                         if (PetscFinalizeCalled) {  // PETSc is gone: nothing to release
                           (void)held->release();
                           return;
                         }
                         PetscScalar* p = static_cast<PetscScalar*>(data);
                         (void)VecRestoreArray(*held, &p);
                         held->reset();
                       },
                       at::TensorOptions().dtype(at::kDouble));
}

std::vector<int64_t> solution_shape(const bridge::BoundLayer& b) {
  const PetscInt rows = b.solution_rows();
  if (rows >= 0) return {rows, b.solution_layout().n};
  return {b.solution_layout().local};
}

}  // namespace

struct FoldedFunction : public ::torch::autograd::Function<FoldedFunction> {
  static at::Tensor forward(AutogradContext* ctx, Layer* layer, at::TensorList theta) {
    bridge::BoundLayer& b = *layer->impl_;
    const ParamSet& blocks = b.blocks();
    FOLDOPT_CHECK(theta.size() == blocks.size(), PETSC_ERR_ARG_SIZ,
                  "foldopt::torch: %zu tensors given, the layer's problem has %zu parameter blocks (%s)", theta.size(),
                  blocks.size(), detail::format("%s", [&] {
                    std::string s;
                    for (const auto& n : blocks.names()) s += (s.empty() ? "" : ", ") + n;
                    return s;
                  }().c_str()).c_str());
    variable_list saved;
    std::vector<const PetscScalar*> data;
    for (std::size_t i = 0; i < theta.size(); ++i) {
      const std::string what = "parameter block '" + blocks[i].name + "'";
      at::Tensor t = as_cpu_double(b.comm(), theta[i], what, &layer->warned_dtype_);
      check_numel(b.comm(), t, b.local_size(i), b.global_size(i), what);
      data.push_back(t.data_ptr<double>());
      saved.push_back(t);
    }
    ParamSet p = b.wrap(data);
    const long call = b.forward(p);
    at::Tensor x = copy_of(b.solution(), solution_shape(b));
    saved.push_back(copy_of(b.state(), {b.state_layout().local}));
    ctx->save_for_backward(saved);
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(&b);  // the bound layer: kept when a Layer is moved
    ctx->saved_data["call"] = static_cast<int64_t>(call);
    return x;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    bridge::BoundLayer& b = *reinterpret_cast<bridge::BoundLayer*>(ctx->saved_data["layer"].toInt());
    const long call = static_cast<long>(ctx->saved_data["call"].toInt());
    variable_list saved = ctx->get_saved_variables();
    const std::size_t nb = saved.size() - 1;
    std::vector<const PetscScalar*> data;
    for (std::size_t i = 0; i < nb; ++i) data.push_back(saved[i].data_ptr<double>());
    ParamSet theta = b.wrap(data);
    OwnedVec state = b.wrap_state(saved[nb].data_ptr<double>());
    at::Tensor g = as_cpu_double(b.comm(), grad_out[0], "the gradient dL/dx*", nullptr);
    const Layout& l = b.solution_layout();
    check_numel(b.comm(), g, l.local, l.global(), "the gradient dL/dx*");
    OwnedVec gv = b.wrap_solution(g.data_ptr<double>());
    ParamSet grad = b.backward(call, theta, state, gv);
    variable_list out;
    out.push_back(at::Tensor());  // the layer
    for (std::size_t i = 0; i < nb; ++i) out.push_back(on_storage(grad.get(theta[i].name), saved[i].sizes()));
    return out;
  }
};

at::Tensor folded(Layer& layer, const std::vector<at::Tensor>& theta) {
  return FoldedFunction::apply(&layer, at::TensorList(theta));
}

Layer::Layer(std::unique_ptr<bridge::BoundLayer> impl) : impl_(std::move(impl)) {}

Layer::Layer(const std::string& problem, const std::string& options, MPI_Comm comm)
    : impl_(new bridge::BoundLayer(comm, problem, bridge::OptionsSource{false, options})) {}

Layer Layer::from_database(const std::string& problem, MPI_Comm comm) {
  return Layer(std::unique_ptr<bridge::BoundLayer>(new bridge::BoundLayer(comm, problem, bridge::OptionsSource{true, ""})));
}

Layer::~Layer() = default;
Layer::Layer(Layer&&) noexcept = default;
Layer& Layer::operator=(Layer&&) noexcept = default;

at::Tensor Layer::forward(const std::vector<at::Tensor>& theta) { return foldopt::torch::folded(*this, theta); }

std::vector<std::string> Layer::names() const { return impl_->blocks().names(); }

std::vector<BlockKind> Layer::kinds() const {
  std::vector<BlockKind> out;
  for (std::size_t b = 0; b < impl_->blocks().size(); ++b) out.push_back(impl_->blocks()[b].kind);
  return out;
}

int64_t Layer::local_start(std::size_t block) const { return impl_->local_start(block); }
int64_t Layer::local_size(std::size_t block) const { return impl_->local_size(block); }
int64_t Layer::global_size(std::size_t block) const { return impl_->global_size(block); }
int64_t Layer::solution_start() const { return impl_->solution_start(); }
int64_t Layer::solution_rows() const { return impl_->solution_rows(); }

namespace {
/// The shape of block b's local part: [rows, n] for an instance block whose local entries are
/// whole instances, else 1-D.
std::vector<int64_t> block_shape(const bridge::BoundLayer& b, std::size_t i) {
  const PetscInt local = b.local_size(i), start = b.local_start(i), global = b.global_size(i);
  const PetscInt batch = b.solution_layout().batch;
  if (b.blocks()[i].kind == BlockKind::instance && batch > 0 && global % batch == 0) {
    const PetscInt n = global / batch;
    if (n > 0 && local % n == 0 && start % n == 0) return {local / n, n};
  }
  return {local};
}
}  // namespace

std::vector<at::Tensor> Layer::params() const {
  std::vector<at::Tensor> out;
  for (std::size_t i = 0; i < impl_->blocks().size(); ++i)
    out.push_back(copy_of(impl_->blocks()[i].vec, block_shape(*impl_, i)));
  return out;
}

at::Tensor Layer::local(std::size_t block, const at::Tensor& whole) const {
  FOLDOPT_CHECK(block < impl_->blocks().size(), PETSC_ERR_ARG_OUTOFRANGE, "foldopt::torch: no parameter block %zu", block);
  FOLDOPT_CHECK(whole.numel() == global_size(block), PETSC_ERR_ARG_SIZ,
                "foldopt::torch: block '%s' has %lld entries, the tensor %lld", impl_->blocks()[block].name.c_str(),
                (long long)global_size(block), (long long)whole.numel());
  return whole.reshape({-1}).narrow(0, local_start(block), local_size(block)).reshape(block_shape(*impl_, block));
}

FoldedLayer& Layer::folded() { return impl_->layer(); }

Problem& Layer::problem() {
  FOLDOPT_CHECK(impl_->problem() != nullptr, PETSC_ERR_ORDER, "foldopt::torch: this layer has no problem (a bare map)");
  return *impl_->problem();
}

void Layer::view() const {
  impl_->with_options([&] { impl_->layer().view(PETSC_VIEWER_STDOUT_(impl_->comm())); });
}

}  // namespace torch
}  // namespace foldopt
