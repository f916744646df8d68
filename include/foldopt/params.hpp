// foldopt: layouts and named parameter blocks.
//
// θ is an ordered list of named blocks, each a distributed PETSc Vec: a cost vector `q`, bounds
// `lb` and `ub`, a scalar `lambda` (a Vec of global size 1), the nonzero values of a sparse matrix
// (`D.values`, with the matrix kept as `pattern` so a gradient can be written with its sparsity).
// Gradients ∂L/∂θ come back as a ParamSet with the same names and layouts.
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

/// One named block of θ.
struct ParamBlock {
  std::string name;
  OwnedVec vec;
  OwnedMat pattern;  ///< for a block of sparse-matrix values: the matrix whose nonzeros they are
};

/// The ordered, named parameter blocks of θ (or of a gradient with respect to θ).
class ParamSet {
 public:
  ParamSet() = default;
  ParamSet(ParamSet&&) = default;
  ParamSet& operator=(ParamSet&&) = default;

  /// Append a block; the set takes a new reference to `v` (and to `pattern`, if given).
  void add(const std::string& name, Vec v, Mat pattern = nullptr);
  bool has(const std::string& name) const;
  /// The block's vector; throws foldopt::Error naming the block if there is none.
  Vec get(const std::string& name) const;
  std::size_t size() const { return blocks_.size(); }
  const ParamBlock& operator[](std::size_t i) const { return blocks_[i]; }
  std::vector<std::string> names() const;

  /// A set with the same names and layouts, every value zero (new vectors).
  ParamSet zeros_like() const;
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
