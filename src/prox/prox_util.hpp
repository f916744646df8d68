// foldopt: private helpers of the proximal operators (src/prox/).
//
//   ScalarSource       a number that is fixed or read from a scalar parameter block (Σ of its
//                      one entry, so every rank reads the same value)
//   check_size         a vector of the batch layout (B·n entries), named in the error
//   build_low_rank     U (AIJ, N×S, column s supported in segment s) and c (S entries) of
//                      J = diag(d) + U diag(c) Uᵀ from the column entries u and the coefficients
//   add_scalar         out_b += value for a scalar block (the owner of its one entry adds)
//   read_options       a PETSc options block of real and integer options (so -help lists them)
//
// Method: the shared bookkeeping of the proxes; the low-rank part J = diag(d) + U diag(c) Uᵀ with
//   U's columns of disjoint supports (one per instance or group).
// References: include/foldopt/prox.hpp (the structure of J).
#ifndef FOLDOPT_SRC_PROX_PROX_UTIL_HPP
#define FOLDOPT_SRC_PROX_PROX_UTIL_HPP

#include <foldopt/params.hpp>
#include <foldopt/prox.hpp>

#include <string>
#include <vector>

namespace foldopt {
namespace prox_detail {

struct ScalarSource {
  std::string block;  ///< empty: the fixed `value`
  PetscReal value = 0;
  bool is_block() const { return !block.empty(); }
  /// The value at θ (collective when it is a block).
  PetscReal get(const ParamSet& theta) const;
  /// "0.5" or "block lambda".
  std::string describe() const;
};

/// The scalar block `name` of `set` (global size 1), its value (collective).
PetscReal scalar_of(const ParamSet& set, const std::string& name, const char* who);
/// out_b += value, for the scalar block `name` of out.
void add_scalar(ParamSet& out, const std::string& name, PetscReal value, const char* who);
/// The block `name` of `set`, checked to be a vector of the batch layout.
Vec instance_block(const ParamSet& set, const std::string& name, const Layout& layout, const char* who);

/// Throw unless v has the batch layout's global size.
void check_size(Vec v, const Layout& layout, const char* who, const char* what);

/// U: AIJ N×S with U(i, s) = u_i for i in segment s (m entries) where coef[s] ≠ 0 and u_i ≠ 0;
/// c: the S coefficients.
void build_low_rank(Vec u, PetscInt m, const std::vector<PetscReal>& coef, OwnedMat* U, OwnedVec* c);

struct RealOption {
  const char* name;  ///< without the dash, e.g. "radius"
  const char* help;
  PetscReal* value;
  double lo, hi;     ///< accepted range
  bool lo_open;
  PetscBool* set = nullptr;  ///< told whether the option was given
};
struct IntOption {
  const char* name;
  const char* help;
  PetscInt* value;
  long long lo, hi;
};
/// Check (options::check_*) and read the options -<prefix><name> in one PETSc options block titled `title`.
void read_options(MPI_Comm comm, const std::string& prefix, const char* title, const std::vector<RealOption>& reals,
                  const std::vector<IntOption>& ints = {});

/// The communicator of the layout (PETSC_COMM_WORLD when unset).
inline MPI_Comm comm_of(const Layout& l) { return l.comm != MPI_COMM_NULL ? l.comm : PETSC_COMM_WORLD; }

/// Layout of a PartContext, with the context's communicator where the layout has none.
Layout layout_of(const PartContext& ctx);

/// Σ of a vector's entries as a count (free_count).
PetscInt count_nonzero(Vec v);

}  // namespace prox_detail
}  // namespace foldopt

#endif
