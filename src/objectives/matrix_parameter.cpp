// foldopt: a fixed-pattern matrix of an objective whose values may be a θ block; see
// matrix_parameter.hpp.
//
// Method:    the values a = vals(A) of the given M×N matrix A in global CSR order, split by A's
//            rows (include/foldopt/matrix_values.hpp);
//            outer:     G_k = Σ_s u[s·M + i] · v[s·N + j] for the stored nonzero k = (i, j)
//                       (s < B when A is shared by the batch, else s = 0), the gradient on the
//                       pattern of Σ_s u_sᵀ A v_s with respect to vals(A);
//            direction: the batch operator of the matrix with the pattern of A and values dv.
// Algorithm: the values work is matrix_values' (set_values, with_values, outer_on_pattern).
//            sync keeps the block's PetscObjectId and PetscObjectState and rebuilds the batch
//            operator only when either changes; the first time the values differ from A's it
//            takes a private copy of A (with_values), afterwards it overwrites that copy
//            (set_values), never the caller's matrix. Values equal to A's own (a problem's θ
//            built from A) use A itself: no copy (compared again when the block or A changes).
//            A block or direction must be split as A's rows (the layout of
//            matrix_values::values(A)), since outer's gradient is and is added into the block.
// References: PETSc manual pages of PetscObjectGetId, PetscObjectStateGet.
#include "objectives/matrix_parameter.hpp"

#include <foldopt/error.hpp>
#include <foldopt/matrix_values.hpp>

#include "core/compat.hpp"  // PetscObjectStateGet

namespace foldopt {
namespace objectives_detail {

MatrixParameter::MatrixParameter(Mat given, const Layout& layout, const std::string& what, bool square,
                                 const std::string& block)
    : layout_(layout), what_(what), block_(block), square_(square) {
  op_ = batch_operator(given, layout, what, square);
  given_ = OwnedMat::share(given);
  OwnedVec values = matrix_values::values(given);  // its layout is the blocks' layout
  FOLDOPT_CALL(VecGetLocalSize(values, &local_nnz_));
}

void MatrixParameter::check_values(Vec v) const {
  PetscInt nl;
  FOLDOPT_CALL(VecGetLocalSize(v, &nl));
  check_collective(layout_.comm, nl == local_nnz_, PETSC_ERR_ARG_SIZ,
                   detail::format("%s: block '%s' keeps %" PetscInt_FMT " values on this rank, but the matrix's rows here store %"
                                  PetscInt_FMT " nonzeros (the block must be the matrix's values, split by its rows)",
                                  what_.c_str(), block_.c_str(), nl, local_nnz_));
}

bool MatrixParameter::sync(const ParamSet& theta) {
  if (!in(theta)) return false;
  Vec v = theta.get(block_);
  PetscObjectId id;
  PetscObjectState state;
  FOLDOPT_CALL(PetscObjectGetId((PetscObject)v, &id));
  FOLDOPT_CALL(PetscObjectStateGet((PetscObject)v, &state));
  PetscObjectState given_state;
  FOLDOPT_CALL(PetscObjectStateGet((PetscObject)given_.get(), &given_state));
  if (id == id_ && state == state_ && (own_copy_ || given_state == given_state_)) return false;
  check_values(v);
  if (!own_copy_) {
    // A block holding exactly the given matrix's values (a problem's own θ, built from it) needs
    // no copy: the caller's matrix stays shared (checked again when either changes).
    OwnedVec current = matrix_values::values(given_);
    PetscBool same = PETSC_FALSE;
    FOLDOPT_CALL(VecEqual(current, v, &same));
    if (same) {
      id_ = id;
      state_ = state;
      given_state_ = given_state;
      return false;
    }
    // never change the caller's matrix
    given_ = matrix_values::with_values(given_, v);
    own_copy_ = true;
  } else {
    matrix_values::set_values(given_, v);
  }
  op_ = batch_operator(given_, layout_, what_, square_);
  id_ = id;
  state_ = state;
  return true;
}

OwnedVec MatrixParameter::outer(Vec u, Vec v) const {
  return outer_(given_, u, v, op_.shared ? layout_.batch : 1);
}

OwnedMat MatrixParameter::direction(Vec dv) const {
  check_values(dv);
  OwnedMat D = matrix_values::with_values(given_, dv);
  // the direction's own diagonal need not be stored: no `square` insertion of zeros is needed
  // for products, but batch_operator adds them harmlessly for a square pattern
  BatchOperator op = batch_operator(D, layout_, what_, square_);
  return std::move(op.A);
}

}  // namespace objectives_detail
}  // namespace foldopt
