// foldopt: private helpers of the proximal operators (see src/prox/prox_util.hpp).
//
// Method: see prox_util.hpp: scalars read collectively (VecSum), U of the low-rank part assembled
//   with one column per segment, scalar products added on every rank (so cached norms stay
//   consistent).
// References: PETSc manual, VecSum, MatCreateAIJ.
#include "prox/prox_util.hpp"

#include <foldopt/error.hpp>

#include "core/options.hpp"
#include "core/vec_array.hpp"

#include <cmath>
#include <sstream>

namespace foldopt {
namespace prox_detail {

PetscReal ScalarSource::get(const ParamSet& theta) const {
  return is_block() ? scalar_of(theta, block, "prox") : value;
}

std::string ScalarSource::describe() const {
  if (is_block()) return "block " + block;
  std::ostringstream s;
  s << value;
  return s.str();
}

PetscReal scalar_of(const ParamSet& set, const std::string& name, const char* who) {
  Vec v = set.get(name);
  PetscInt N;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CHECK(N == 1, PETSC_ERR_ARG_SIZ, "%s: parameter block '%s' must be a scalar (1 entry), it has %" PetscInt_FMT,
                who, name.c_str(), N);
  PetscScalar s;
  FOLDOPT_CALL(VecSum(v, &s));
  FOLDOPT_CHECK(std::isfinite(PetscRealPart(s)), PETSC_ERR_FP, "%s: parameter block '%s' is not finite (%g)", who,
                name.c_str(), (double)PetscRealPart(s));
  return PetscRealPart(s);
}

void add_scalar(ParamSet& out, const std::string& name, PetscReal value, const char* who) {
  Vec v = out.get(name);
  PetscInt N, nloc;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CHECK(N == 1, PETSC_ERR_ARG_SIZ, "%s: parameter block '%s' must be a scalar (1 entry), it has %" PetscInt_FMT,
                who, name.c_str(), N);
  FOLDOPT_CALL(VecGetLocalSize(v, &nloc));
  // Every rank takes the array, so that the Vec's state (and its cached norms) changes on every
  // rank alike: a write on the owner alone leaves the others' cached norm valid, and the next
  // VecNorm then reduces on some ranks only (a hang).
  WriteArray a(v);
  if (nloc == 1) a[0] += value;
}

void check_size(Vec v, const Layout& layout, const char* who, const char* what) {
  PetscInt N;
  FOLDOPT_CALL(VecGetSize(v, &N));
  FOLDOPT_CHECK(N == layout.global(), PETSC_ERR_ARG_SIZ,
                "%s: %s has %" PetscInt_FMT " entries, the batch has %" PetscInt_FMT " (%" PetscInt_FMT
                " instances of %" PetscInt_FMT ")",
                who, what, N, layout.global(), layout.batch, layout.n);
}

Vec instance_block(const ParamSet& set, const std::string& name, const Layout& layout, const char* who) {
  Vec v = set.get(name);
  const std::string what = "parameter block '" + name + "'";
  check_size(v, layout, who, what.c_str());
  return v;
}

void build_low_rank(Vec u, PetscInt m, const std::vector<PetscReal>& coef, OwnedMat* U, OwnedVec* c) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm(reinterpret_cast<PetscObject>(u), &comm));
  PetscInt N, nloc, rstart, rend;
  FOLDOPT_CALL(VecGetSize(u, &N));
  FOLDOPT_CALL(VecGetLocalSize(u, &nloc));
  FOLDOPT_CALL(VecGetOwnershipRange(u, &rstart, &rend));
  const PetscInt S = static_cast<PetscInt>(coef.size());
  FOLDOPT_CHECK(m > 0 && S * m == N, PETSC_ERR_PLIB, "prox: %" PetscInt_FMT " low-rank columns for %" PetscInt_FMT
                " entries in segments of %" PetscInt_FMT, S, N, m);
  if (U) {
    FOLDOPT_CALL(MatCreateAIJ(comm, nloc, PETSC_DECIDE, N, S, 1, nullptr, 1, nullptr, U->out()));
    FOLDOPT_CALL(MatSetOption(*U, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
    {
      ReadArray a(u);
      for (PetscInt i = rstart; i < rend; ++i) {
        const PetscInt s = i / m;
        const PetscReal ui = a[i - rstart];
        if (coef[s] != 0 && ui != 0) FOLDOPT_CALL(MatSetValue(*U, i, s, ui, INSERT_VALUES));
      }
    }
    FOLDOPT_CALL(MatAssemblyBegin(*U, MAT_FINAL_ASSEMBLY));
    FOLDOPT_CALL(MatAssemblyEnd(*U, MAT_FINAL_ASSEMBLY));
  }
  if (c) {
    FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, S, c->out()));
    PetscInt cs, ce;
    FOLDOPT_CALL(VecGetOwnershipRange(*c, &cs, &ce));
    WriteArray a(*c);
    for (PetscInt s = cs; s < ce; ++s) a[s - cs] = coef[s];
  }
}

namespace {
PetscErrorCode read_block(MPI_Comm comm, const char* prefix, const char* title, const std::vector<RealOption>& reals,
                          const std::vector<IntOption>& ints) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, title, "Prox");
  for (const auto& o : reals) {
    const std::string key = std::string("-") + o.name;
    PetscCall(PetscOptionsReal(key.c_str(), o.help, "Prox::set_from_options", *o.value, o.value, o.set));
  }
  for (const auto& o : ints) {
    const std::string key = std::string("-") + o.name;
    PetscCall(PetscOptionsInt(key.c_str(), o.help, "Prox::set_from_options", *o.value, o.value, nullptr));
  }
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

void read_options(MPI_Comm comm, const std::string& prefix, const char* title, const std::vector<RealOption>& reals,
                  const std::vector<IntOption>& ints) {
  const char* pre = prefix.c_str();
  for (const auto& o : reals) options::check_real(pre, o.name, o.lo, o.hi, o.lo_open);
  for (const auto& o : ints) options::check_int(pre, o.name, o.lo, o.hi);
  FOLDOPT_CALL(read_block(comm, pre, title, reals, ints));
}

Layout layout_of(const PartContext& ctx) {
  Layout l = ctx.layout;
  if (l.comm == MPI_COMM_NULL) l.comm = ctx.comm != MPI_COMM_NULL ? ctx.comm : PETSC_COMM_WORLD;
  return l;
}

PetscInt count_nonzero(Vec v) {
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &rstart, &rend));
  long long local = 0, total = 0;
  {
    ReadArray a(v);
    for (PetscInt i = 0; i < rend - rstart; ++i) local += (a[i] != 0);
  }
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm(reinterpret_cast<PetscObject>(v), &comm));
  FOLDOPT_CALL(MPI_Allreduce(&local, &total, 1, MPI_LONG_LONG, MPI_SUM, comm));
  return static_cast<PetscInt>(total);
}

}  // namespace prox_detail
}  // namespace foldopt
