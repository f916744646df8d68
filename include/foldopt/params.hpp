// foldopt: layouts and named parameter blocks.
//
// θ is an ordered list of named blocks, each a distributed PETSc Vec, and each says what it is
// (BlockKind): a vector per instance (`q` of a batch: B·n entries, instance after instance), a
// vector shared by the batch (n entries), a scalar (`lambda`: a Vec of global size 1, written as
// a 1×1 file), or the nonzero values of a sparse matrix (`D.values`, in global CSR order, with the
// matrix kept as `pattern` so that a gradient is written with its sparsity; matrix_values.hpp).
// Gradients ∂L/∂θ come back as a ParamSet with the same names, kinds and layouts; a block shared
// by the batch (shared vector, scalar, matrix values) gets the sum over the instances.
#ifndef FOLDOPT_PARAMS_HPP
#define FOLDOPT_PARAMS_HPP

#include <foldopt/handle.hpp>

#include <string>
#include <vector>

namespace foldopt {

/// Sizes of the unknowns: a batch of `batch` independent instances of `n` unknowns each, stored
/// instance after instance in one distributed vector of global size batch·n.
struct Layout {
  MPI_Comm comm = MPI_COMM_NULL;
  PetscInt n = 0;        ///< unknowns of one instance
  PetscInt batch = 1;    ///< number of instances B
  PetscInt local = 0;    ///< entries of the batch·n vector owned by this rank
  PetscInt global() const { return n * batch; }
};

/// What a parameter block is.
enum class BlockKind {
  instance,      ///< one vector per instance: B·n entries in the batch layout
  shared,        ///< one vector for the whole batch
  scalar,        ///< one number for the whole batch (global size 1)
  matrix_values  ///< the stored nonzeros of `pattern`, in global CSR order
};
const char* to_string(BlockKind k);

/// One named block of θ.
struct ParamBlock {
  std::string name;
  OwnedVec vec;
  OwnedMat pattern;  ///< for a block of sparse-matrix values: the matrix whose nonzeros they are
  BlockKind kind = BlockKind::instance;
};

/// The ordered, named parameter blocks of θ (or of a gradient with respect to θ).
class ParamSet {
 public:
  ParamSet() = default;
  ParamSet(ParamSet&&) = default;
  ParamSet& operator=(ParamSet&&) = default;

  /// Append a block; the set takes a new reference to `v` (and to `pattern`, if given). Without
  /// a kind: matrix_values when a pattern is given, scalar for a Vec of global size 1, else
  /// instance.
  void add(const std::string& name, Vec v, Mat pattern = nullptr);
  void add(const std::string& name, Vec v, BlockKind kind, Mat pattern = nullptr);
  /// The block named `name` (throws foldopt::Error naming the known blocks if there is none).
  const ParamBlock& block(const std::string& name) const;
  bool has(const std::string& name) const;
  /// The block's vector; throws foldopt::Error naming the block if there is none.
  Vec get(const std::string& name) const;
  std::size_t size() const { return blocks_.size(); }
  const ParamBlock& operator[](std::size_t i) const { return blocks_[i]; }
  std::vector<std::string> names() const;

  /// A set with the same names and layouts, every value zero (new vectors).
  ParamSet zeros_like() const;
  /// A set holding new references to the same vectors (no copy of values).
  ParamSet share() const;
  /// A deep copy (new vectors with the same values).
  ParamSet copy() const;
  /// y ← y + a·x, block by block (same names in the same order).
  void axpy(PetscScalar a, const ParamSet& x);
  void set_zero();
  /// Σ over blocks of ⟨x_b, y_b⟩ (collective).
  PetscScalar dot(const ParamSet& y) const;

 private:
  std::vector<ParamBlock> blocks_;
};

}  // namespace foldopt

#endif  // FOLDOPT_PARAMS_HPP
