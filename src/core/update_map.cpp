// foldopt: defaults of UpdateMap and Problem, and the registries of maps and problems.
#include <foldopt/problem.hpp>
#include <foldopt/update_map.hpp>

#include <foldopt/error.hpp>

namespace foldopt {

namespace {
OwnedVec vec_for(const Layout& l) {
  OwnedVec v;
  FOLDOPT_CALL(VecCreate(l.comm, v.out()));
  FOLDOPT_CALL(VecSetSizes(v, l.local, l.global()));
  FOLDOPT_CALL(VecSetType(v, VECSTANDARD));
  return v;
}
[[noreturn]] void unsupported(const std::string& map, const char* what) {
  detail::throw_error(PETSC_ERR_SUP, "update map '" + map + "' does not provide " + what);
}
}  // namespace

OwnedVec UpdateMap::create_vec() const { return vec_for(layout()); }
void UpdateMap::phi(Vec, Vec) { unsupported(type(), "phi (forward products with Φ)"); }
void UpdateMap::psi(const ParamSet&, Vec) { unsupported(type(), "psi (forward products with Ψ)"); }
void UpdateMap::get_diagonal(Vec) { unsupported(type(), "the diagonal of Φ"); }
OwnedMat UpdateMap::assemble_phi() { unsupported(type(), "an assembled Φ"); }
void UpdateMap::set_stepsize(PetscReal) { unsupported(type(), "a free stepsize"); }

OwnedVec Problem::create_vec() const { return vec_for(layout()); }
void Problem::bounds(const ParamSet&, Vec, Vec) {
  detail::throw_error(PETSC_ERR_SUP, "problem '" + type() + "' has no bounds");
}

void Problem::equality(Vec, const ParamSet&, Vec) {
  detail::throw_error(PETSC_ERR_SUP, "problem '" + type() + "' has no equality constraints");
}
void Problem::inequality(Vec, const ParamSet&, Vec) {
  detail::throw_error(PETSC_ERR_SUP, "problem '" + type() + "' has no inequality constraints");
}
OwnedMat Problem::equality_jacobian(Vec, const ParamSet&) {
  detail::throw_error(PETSC_ERR_SUP, "problem '" + type() + "' has no equality constraints");
}
OwnedMat Problem::inequality_jacobian(Vec, const ParamSet&) {
  detail::throw_error(PETSC_ERR_SUP, "problem '" + type() + "' has no inequality constraints");
}
OwnedVec Problem::create_constraint_vec(PetscInt m) const {
  OwnedVec v;
  FOLDOPT_CALL(VecCreate(layout().comm, v.out()));
  FOLDOPT_CALL(VecSetSizes(v, PETSC_DECIDE, m));
  FOLDOPT_CALL(VecSetType(v, VECSTANDARD));
  return v;
}
OwnedMat Problem::lagrangian_hessian(Vec x, const ParamSet& theta, Vec, Vec) { return hessian(x, theta); }

namespace detail {
void register_builtin_maps(MapRegistry& r);          // src/maps/register.cpp
void register_builtin_problems(ProblemRegistry& r);  // src/problems/register.cpp
}  // namespace detail

MapRegistry& map_registry() {
  static MapRegistry r = [] {
    MapRegistry reg;
    detail::register_builtin_maps(reg);
    return reg;
  }();
  return r;
}

ProblemRegistry& problem_registry() {
  static ProblemRegistry r = [] {
    ProblemRegistry reg;
    detail::register_builtin_problems(reg);
    return reg;
  }();
  return r;
}

}  // namespace foldopt
