// foldopt: the folded layer as a libtorch autograd function (FOLDOPT_WITH_TORCH, libfoldopt_torch).
//
//   foldopt::torch::Layer layer("qp_box", "-n 20 -seed 3 -fold_fwd_type tao");
//   std::vector<at::Tensor> theta = layer.params();          // the problem's θ, one tensor per block
//   theta[0].requires_grad_(true);
//   at::Tensor x = layer.forward(theta);                      // x*(θ), recorded by autograd
//   loss(x).backward();                                       // theta[0].grad() = ∂L/∂q (folded)
//
// forward runs the layer's forward solver, backward the folded backward, (I − Φᵀ) w = ∂L/∂s,
// ∂L/∂θ = Ψᵀ w, and returns one gradient per parameter block (the layer's report then describes
// that call: folded().adjoint().report(), ...). The problem is any registered one, by name, with
// the executable's options (its sizes or files, and every -fold_* option): an options string read
// into the layer's own database, or PETSc's database (Layer::from_database).
//
// Tensors: float64 on the CPU. Another floating dtype is converted to float64 (once per call and
// block, with a warning the first time); CUDA tensors are refused. A block's tensor may have any
// shape; its entries in row-major order are the block's, in the layer's order:
//   instance block   B·n entries, instance after instance: a [B, n] tensor;
//   shared block     n entries; scalar block: 1 entry;
//   matrix values    the stored nonzeros in global CSR order (row by row, columns ascending):
//                    torch.sparse_csr_tensor's and scipy's values() order.
// The returned x is float64 of shape [rows, n] (rows = B at one rank), its gradients have the
// shapes of the tensors given. θ and ∂L/∂x* are used in place (PETSc vectors on the tensors'
// storage, no copy) when contiguous float64; x* is copied once from the layer; the gradients are
// returned on the PETSc vectors' storage (no copy).
//
// MPI (np > 1): each rank passes and receives only its own entries of every block: the range
// [local_start(b), local_start(b) + local_size(b)) of the block's global order above (the rank's
// rows of the batch; for a matrix-values block, the values of its rows of the matrix); x holds
// the rank's range of x* in the same way, shaped [solution_rows(), n] when that range is whole
// instances, else 1-D. local() cuts a rank's part out of a whole tensor (for data made alike on
// every rank). A gradient is that of L = Σ over ranks of each rank's loss.
//
// The layer must outlive every graph that holds one of its outputs. (-fold_check_fd perturbs θ
// in place, in the tensors' own storage, and restores it.)
#ifndef FOLDOPT_TORCH_HPP
#define FOLDOPT_TORCH_HPP

#include <foldopt/layer.hpp>

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace foldopt {
namespace bridge {
class BoundLayer;
}

namespace torch {

class Layer {
 public:
  /// Problem `problem` (a registered name, e.g. "qp_box") with `options` ("-n 20 -fold_rho ...")
  /// in the layer's own options database, on `comm`.
  explicit Layer(const std::string& problem, const std::string& options = "", MPI_Comm comm = PETSC_COMM_WORLD);
  /// The same, reading PETSc's options database (the command line, PETSC_OPTIONS).
  static Layer from_database(const std::string& problem, MPI_Comm comm = PETSC_COMM_WORLD);
  ~Layer();
  Layer(Layer&&) noexcept;
  Layer& operator=(Layer&&) noexcept;

  /// x*(θ), one tensor per parameter block in the order of names(); differentiable in each.
  at::Tensor forward(const std::vector<at::Tensor>& theta);
  at::Tensor operator()(const std::vector<at::Tensor>& theta) { return forward(theta); }

  /// The blocks' names and kinds, the problem's own θ (this rank's entries, copies), and the
  /// rank's range of each block and of x*.
  std::vector<std::string> names() const;
  std::vector<BlockKind> kinds() const;
  std::vector<at::Tensor> params() const;
  int64_t local_start(std::size_t block) const;
  int64_t local_size(std::size_t block) const;
  int64_t global_size(std::size_t block) const;
  int64_t solution_start() const;
  int64_t solution_rows() const;
  /// This rank's part of a whole block (all global_size entries, e.g. made alike on every rank).
  at::Tensor local(std::size_t block, const at::Tensor& whole) const;

  /// The folded layer (reports after each call: forward_report(), adjoint().report(),
  /// rho_estimate(), fixed_point_residual()) and its problem.
  FoldedLayer& folded();
  Problem& problem();
  /// The report of the last call, as -fold_view prints it, on the layer's communicator.
  void view() const;

  bridge::BoundLayer& bound() { return *impl_; }

 private:
  explicit Layer(std::unique_ptr<bridge::BoundLayer> impl);
  std::unique_ptr<bridge::BoundLayer> impl_;
  bool warned_dtype_ = false;
  friend struct FoldedFunction;
};

/// The autograd function itself: x = folded(layer, θ). Layer::forward calls it.
at::Tensor folded(Layer& layer, const std::vector<at::Tensor>& theta);

}  // namespace torch
}  // namespace foldopt

#endif  // FOLDOPT_TORCH_HPP
