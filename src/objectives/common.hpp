// foldopt: what the built-in objectives share (private to src/objectives).
//
//   batch_operator   the operator of a batch from a matrix given per instance (m×n, applied to
//                    each of the B instances) or block-diagonal over the batch (B·m × B·n): the
//                    block-diagonal matrix kron(I_B, A) with rows split as PETSc splits B·m (a
//                    square one: like x) and columns as the layout splits B·n; a square one
//                    stores its diagonal (explicit
//                    zeros where A has none), so a diagonal can be added and preconditioners find it.
//   instance_block   a θ block of B·n (or B·m) entries split like x, checked, by name.
//   column_sums      Σᵢ |a_ij| or Σᵢ a_ij² per column as |A|ᵀ1 (no length-N array on every rank);
//   norm_one         ‖A‖₁ = max_j Σᵢ |a_ij| from them.
//   diagonal_matrix  an AIJ matrix with the diagonal d (the entropy's Hessian, a zero Hessian).
//
// Method: bookkeeping of batch operators and blocks; norms from column sums |A|ᵀ1 (one product, no
//   gather).
// References: PETSc manual, MatCreateSubMatrices, MatGetColumnNorms (the per-column sums it
//   replaces).
#ifndef FOLDOPT_SRC_OBJECTIVES_COMMON_HPP
#define FOLDOPT_SRC_OBJECTIVES_COMMON_HPP

#include <foldopt/objective.hpp>

#include <memory>
#include <string>

namespace foldopt {
namespace objectives_detail {

struct BatchOperator {
  OwnedMat A;          ///< B·m × B·n, block-diagonal
  PetscInt m = 0;      ///< rows of one instance
  bool shared = true;  ///< the given matrix was one instance's (m×n), expanded
  PetscInt nnz = 0;    ///< stored nonzeros of the given matrix
};

/// `what` names the matrix in errors (e.g. "least_squares: X"). `square`: A must be square
/// (per instance), and the result stores its diagonal. Collective.
BatchOperator batch_operator(Mat A, const Layout& layout, const std::string& what, bool square);

/// The block `name` of θ, which must hold `count` entries split like PETSc's split of `count`
/// (or, when local ≥ 0, `local` entries on this rank). Errors name the objective and the block.
Vec instance_block(const ParamSet& theta, const std::string& name, PetscInt count, PetscInt local,
                   const std::string& objective);

/// Σᵢ |a_ij| (power 1) or Σᵢ a_ij² (power 2) for each column j, split like A's columns.
OwnedVec column_sums(Mat A, int power);
/// ‖A‖₁ (largest column sum of |a_ij|), collective, O(local) memory.
PetscReal norm_one(Mat A);

/// Refuse a matrix that is not symmetric to 1e-12·‖A‖∞ (`what` names it); its rows and columns
/// must be split alike (symmetric_split). Collective.
void check_symmetric(Mat A, const std::string& what);

/// A's rows and columns are split alike on every rank (MatIsSymmetric needs it). Collective.
bool symmetric_split(Mat A);

/// An AIJ matrix (rows and columns split like d) with diagonal d.
OwnedMat diagonal_matrix(Vec d);

/// A layout sanity check for a constructor (n ≥ 1, batch ≥ 1, a communicator).
void check_layout(const Layout& layout, const std::string& objective);

/// PETSc's default split of `count` entries over `comm`: this rank's share.
PetscInt default_local(MPI_Comm comm, PetscInt count);

// Registry factories (one per file).
std::unique_ptr<Objective> create_quadratic(const PartContext& ctx);
std::unique_ptr<Objective> create_linear(const PartContext& ctx);
std::unique_ptr<Objective> create_entropy(const PartContext& ctx);
std::unique_ptr<Objective> create_least_squares(const PartContext& ctx);
std::unique_ptr<Objective> create_sin_quadratic(const PartContext& ctx);
std::unique_ptr<Objective> create_callback(const PartContext& ctx);

}  // namespace objectives_detail
}  // namespace foldopt

#endif  // FOLDOPT_SRC_OBJECTIVES_COMMON_HPP
