// foldopt: helpers shared by the built-in problems (private): entry checks of input vectors,
// generated vectors by global index, and the per-instance constraint Σᵢ x_bi = k of the simplex
// problems for the forward solvers that take constraints (TAO almm, IPOPT).
//
// Method: see common.cpp: collective entry checks, vectors by global index, the sum constraint and
//   its Jacobian.
// References: none beyond the problems that use them.
#ifndef FOLDOPT_SRC_PROBLEMS_COMMON_HPP
#define FOLDOPT_SRC_PROBLEMS_COMMON_HPP

#include <foldopt/error.hpp>
#include <foldopt/params.hpp>

#include <string>

namespace foldopt {
namespace detail {

/// c_b = Σᵢ x_bi − k (c has B entries, PETSc's split).
void sum_constraint(Vec x, const Layout& l, PetscReal k, Vec c);
/// Row b: ones in the columns of instance b (rows split as PETSc splits B, columns like x).
OwnedMat sum_constraint_jacobian(const Layout& l);
/// A vector of B·n entries of the layout, each from `f(global index)`.
template <typename F>
OwnedVec generated_vec(const Layout& l, F f) {
  OwnedVec v;
  FOLDOPT_CALL(VecCreateMPI(l.comm, l.local, l.global(), v.out()));
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &rstart, &rend));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(v, &a));
  for (PetscInt i = rstart; i < rend; ++i) a[i - rstart] = f(i);
  FOLDOPT_CALL(VecRestoreArray(v, &a));
  return v;
}
/// Check a vector entry by entry; `bad(value)` returns the cause or nullptr. Collective: every
/// rank throws the error naming `name`, the first bad entry and its cause.
template <typename F>
void check_entries(Vec v, const std::string& name, F bad) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)v, &comm));
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &rstart, &rend));
  const PetscScalar* a;
  FOLDOPT_CALL(VecGetArrayRead(v, &a));
  std::string msg;
  for (PetscInt i = rstart; i < rend && msg.empty(); ++i) {
    const char* cause = bad(PetscRealPart(a[i - rstart]));
    if (cause) msg = detail::format("%s: entry %" PetscInt_FMT " is %s", name.c_str(), i, cause);
  }
  FOLDOPT_CALL(VecRestoreArrayRead(v, &a));
  check_collective(comm, msg.empty(), PETSC_ERR_ARG_OUTOFRANGE, msg);
}
/// "NaN", "+inf", "-inf" or nullptr.
const char* not_finite(PetscReal x);
/// Every entry of v finite.
inline void check_finite(Vec v, const std::string& name) { check_entries(v, name, not_finite); }

}  // namespace detail
}  // namespace foldopt

#endif  // FOLDOPT_SRC_PROBLEMS_COMMON_HPP
