// foldopt: the nonzero values of a sparse matrix as a parameter block.
//
// A matrix such as TV's D or lasso's X enters θ through its stored nonzeros (`D.values`), with
// the matrix kept as the block's pattern. The order is global CSR: row by row, columns ascending
// within a row — the order of torch.sparse_csr_tensor and scipy's CSR, and the same at any number
// of ranks. The values Vec is split as the matrix's rows are (a rank holds the values of its own
// rows), so no value moves between ranks to build or read it.
#ifndef FOLDOPT_MATRIX_VALUES_HPP
#define FOLDOPT_MATRIX_VALUES_HPP

#include <foldopt/params.hpp>

#include <memory>
#include <string>

namespace foldopt {
namespace matrix_values {

/// The stored nonzeros of A (AIJ) in global CSR order, as a new Vec split by A's rows.
OwnedVec values(Mat A);
/// A new matrix with the pattern of `pattern` and the values `v` (as values() orders them).
OwnedMat with_values(Mat pattern, Vec v);
/// Overwrite the values of A (its pattern unchanged) with `v`.
void set_values(Mat A, Vec v);
/// The gradient on the pattern of an outer product: G_ij = Σ_s u_s,i v_s,j over the stored
/// nonzeros (i, j) of `pattern` (m×n), for s over the `batch` instances of u (B·m entries) and v
/// (B·n entries), both split as PETSc splits them; v's entries for the columns a rank needs come
/// from a scatter (ghost values where rows are split). Returns a values Vec like values(pattern).
OwnedVec outer_on_pattern(Mat pattern, Vec u, Vec v, PetscInt batch = 1);

/// outer_on_pattern with its set-up kept between calls: the local pattern, each nonzero's place
/// among the distinct columns and the two scatters depend only on the pattern (its object and
/// nonzero state), the batch and the splits of u and v, so they are built at the first call and
/// rebuilt only when one of those changes (one reduction per call decides, alike on every rank).
/// For a gradient taken at every backward (a matrix-values block such as H.values).
class OuterOnPattern {
 public:
  OuterOnPattern();
  ~OuterOnPattern();
  OuterOnPattern(OuterOnPattern&&) noexcept;
  OuterOnPattern& operator=(OuterOnPattern&&) noexcept;
  /// Collective on the pattern's communicator; the result as outer_on_pattern's.
  OwnedVec operator()(Mat pattern, Vec u, Vec v, PetscInt batch = 1);
  /// Set-ups so far (for tests: 1 while nothing changes).
  int setups() const { return setups_; }

 private:
  struct Plan;
  std::unique_ptr<Plan> plan_;
  int setups_ = 0;
};
/// The block's values as a matrix with its pattern (for writing a gradient: io::OutputSet::add).
OwnedMat as_matrix(const ParamBlock& block);

}  // namespace matrix_values
}  // namespace foldopt

#endif  // FOLDOPT_MATRIX_VALUES_HPP
