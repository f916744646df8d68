// foldopt: a fixed-pattern matrix of an objective whose values may be a θ block (private).
//
// Lasso's `X.values` and qp_box's `H.values`: the stored nonzeros of the matrix the objective was
// given, in global CSR order (row by row, columns ascending), split as the matrix's rows are —
// the layout of include/foldopt/matrix_values.hpp. When θ holds the block, the objective's batch
// operator takes its values from it (rebuilt only when the block's Vec or its state changes);
// without it the matrix is fixed data.
//
//   outer(u, v)    G_k = Σ_s u_{s,i} v_{s,j} over the stored nonzeros k = (i, j) of the given
//                  matrix (M×N), s over the instances when the matrix is shared by the batch (u
//                  has B·M entries, v B·N, split in any way), else over the one block-diagonal
//                  matrix: matrix_values::outer_on_pattern with batch B or 1.
//   direction(dv)  the batch operator of the matrix with values dv (same pattern):
//                  matrix_values::with_values, then batch_operator.
//
// The values logic itself (CSR order, setting values, the gradient on the pattern) is
// include/foldopt/matrix_values.hpp; what is kept here is the objectives' part: the batch
// operator, the cache keyed on the block's Vec and state, and the check that a block is split as
// the matrix's rows (so that a gradient from outer() adds into it).
//
// Method: the matrix's values are taken from θ's block through matrix_values (set_values on a
//   private copy); gradients on the pattern through matrix_values::outer_on_pattern.
// References: include/foldopt/matrix_values.hpp (the CSR order and the outer product on a pattern).
#ifndef FOLDOPT_SRC_OBJECTIVES_MATRIX_PARAMETER_HPP
#define FOLDOPT_SRC_OBJECTIVES_MATRIX_PARAMETER_HPP

#include "objectives/common.hpp"

#include <foldopt/matrix_values.hpp>

#include <string>

namespace foldopt {
namespace objectives_detail {

class MatrixParameter {
 public:
  /// `given`: as for batch_operator; `block`: the name of the values block ("" for none).
  MatrixParameter(Mat given, const Layout& layout, const std::string& what, bool square, const std::string& block);
  /// Take the values from θ's block if it is there; true when the operator changed. Collective.
  bool sync(const ParamSet& theta);
  Mat op() const { return op_.A; }
  const BatchOperator& info() const { return op_; }
  const std::string& block() const { return block_; }
  /// θ (or a set of products) has the values block.
  bool in(const ParamSet& set) const { return !block_.empty() && set.has(block_); }
  /// The gradient on the pattern (a values Vec like the block's).
  OwnedVec outer(Vec u, Vec v) const;
  /// The batch operator with the pattern and the values `dv`.
  OwnedMat direction(Vec dv) const;

 private:
  void check_values(Vec v) const;

  Layout layout_;
  std::string what_, block_;
  bool square_;
  OwnedMat given_;  ///< the given matrix, or (once a block was seen) a private copy holding its values
  bool own_copy_ = false;
  BatchOperator op_;
  PetscObjectId id_ = 0;
  PetscObjectState state_ = -1;
  PetscObjectState given_state_ = -1;  ///< the given matrix's state when its values matched the block's
  PetscInt local_nnz_ = 0;
  mutable matrix_values::OuterOnPattern outer_;  ///< outer()'s set-up, kept between backwards
};

}  // namespace objectives_detail
}  // namespace foldopt

#endif  // FOLDOPT_SRC_OBJECTIVES_MATRIX_PARAMETER_HPP
