// foldopt: a folded layer bound to memory that a framework owns (PyTorch tensors, NumPy arrays).
//
// The part of the PyTorch integration that needs no torch header: both the libtorch autograd
// function (src/torch/autograd.cpp) and the Python module (python/module.cpp) are built on it.
// A BoundLayer owns a problem built by name from the registry (or a user's update map), its
// FoldedLayer, and the options both read: its own database, filled from an options string, or
// PETSc's. Every call into the library runs with that database pushed (PetscOptionsPush), since
// the layer's objects also read options while they solve.
//
// Memory: a parameter block b of θ is the caller's array of local_size(b) entries, wrapped as a
// PETSc Vec without a copy (VecCreateMPIWithArray); so are the upstream gradient ∂L/∂x* and a
// state saved by the caller. The rank holds the entries [local_start(b), local_start(b) +
// local_size(b)) of each block in the layer's order (the whole block at one rank): a batch's
// instances one after the other (a row-major [B, n] array), a matrix-values block in global CSR
// order (matrix_values.hpp) split as the matrix's rows.
#ifndef FOLDOPT_SRC_TORCH_BRIDGE_HPP
#define FOLDOPT_SRC_TORCH_BRIDGE_HPP

#include <foldopt/layer.hpp>
#include <foldopt/params.hpp>
#include <foldopt/problem.hpp>
#include <foldopt/update_map.hpp>

#include <memory>
#include <string>
#include <vector>

namespace foldopt {
namespace bridge {

using OwnedOptions = Owned<PetscOptions, PetscOptionsDestroy>;

/// Pushes `options` as PETSc's default database for its lifetime (nothing when null).
class OptionsScope {
 public:
  explicit OptionsScope(PetscOptions options);
  ~OptionsScope();
  OptionsScope(const OptionsScope&) = delete;
  OptionsScope& operator=(const OptionsScope&) = delete;

 private:
  PetscOptions options_;
};

/// Where the options of a BoundLayer come from.
struct OptionsSource {
  bool database = false;  ///< PETSc's options database (the string is then ignored)
  std::string text;       ///< otherwise: "-name value ..." read into the layer's own database
};

class BoundLayer {
 public:
  /// The problem `problem` from the registry, built from the options (its sizes, seeds, files),
  /// and its folded layer configured from them (-fold_*).
  BoundLayer(MPI_Comm comm, const std::string& problem, const OptionsSource& options);
  /// A layer over a bare update map (the forward solver is then the map's own iteration, snes).
  BoundLayer(std::unique_ptr<UpdateMap> map, const OptionsSource& options);
  ~BoundLayer();
  BoundLayer(const BoundLayer&) = delete;
  BoundLayer& operator=(const BoundLayer&) = delete;

  MPI_Comm comm() const { return comm_; }
  /// The parameter blocks: names, kinds, patterns and layouts (the problem's θ, or zeros of the
  /// map's create_params for a bare map).
  const ParamSet& blocks() const { return blocks_; }
  PetscInt local_size(std::size_t b) const;
  PetscInt local_start(std::size_t b) const;
  PetscInt global_size(std::size_t b) const;
  /// The solution's layout, and the first entry of it this rank holds.
  const Layout& solution_layout() const;
  PetscInt solution_start() const;
  /// The state's layout (the map's; the solution's unless the problem has a readout).
  const Layout& state_layout() const;
  /// The instances this rank holds whole, when its entries of the solution are exactly whole
  /// instances (then x is a [rows, n] array), else −1.
  PetscInt solution_rows() const;

  /// θ over the caller's memory: block b placed on data[b] (local_size(b) entries, not copied;
  /// the memory must stay valid while the layer may use θ: until the backward of that forward).
  ParamSet wrap(const std::vector<const PetscScalar*>& data) const;
  /// A vector of the solution's (or the state's) layout over the caller's memory.
  OwnedVec wrap_solution(const PetscScalar* data) const;
  OwnedVec wrap_state(const PetscScalar* data) const;

  /// Forward at θ; returns the number of this call. x* and s* are the layer's until the next
  /// forward: solution() and state().
  long forward(const ParamSet& theta);
  /// Install (θ, s*) without a forward solve (a solution found elsewhere); numbered as forward.
  long set_solution(const ParamSet& theta, Vec state);
  Vec solution() { return layer_->solution(); }
  Vec state() { return layer_->state(); }
  /// The backward of forward call `call`, whose θ and state s* the caller passes again: if
  /// another forward came after it, the layer installs them (FoldedLayer::set_solution) first.
  ParamSet backward(long call, const ParamSet& theta, Vec state, Vec g);

  FoldedLayer& layer() { return *layer_; }
  Problem* problem() { return problem_.get(); }
  /// Run f with the layer's options database pushed.
  template <typename F>
  auto with_options(F&& f) -> decltype(f()) {
    OptionsScope scope(options_);
    return f();
  }

 private:
  void init_options(const OptionsSource& options);
  void configure();
  /// The layer's own database must hold no option that nothing read (a misspelling): checked
  /// after set-up, except the prefixes read only during a solve, and those after the first
  /// backward. Nothing for PETSc's database (the program's other options are there).
  void check_unused(bool final);

  MPI_Comm comm_ = MPI_COMM_NULL;
  OwnedOptions options_;  ///< the layer's own database (null: PETSc's)
  std::unique_ptr<Problem> problem_;
  std::unique_ptr<FoldedLayer> layer_;
  ParamSet blocks_;
  long calls_ = 0, installed_ = 0;
  bool checked_final_ = false;
};

}  // namespace bridge
}  // namespace foldopt

#endif  // FOLDOPT_SRC_TORCH_BRIDGE_HPP
