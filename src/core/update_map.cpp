// foldopt: defaults of UpdateMap and Problem, and the registries of maps and problems.
#include <foldopt/problem.hpp>
#include <foldopt/update_map.hpp>

#include <foldopt/error.hpp>
#include <foldopt/objective.hpp>

#include "core/log.hpp"
#include "core/options.hpp"

#include <algorithm>

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
OwnedVec UpdateMap::create_solution_vec() const { return vec_for(solution_layout()); }
void UpdateMap::view(PetscViewer) const {}
void UpdateMap::readout(Vec, const ParamSet&, Vec) { unsupported(type(), "a readout"); }
void UpdateMap::state_from_primal_dual(Vec, const Multipliers&, const ParamSet&, Vec) {
  unsupported(type(), "a primal-dual state");
}
void UpdateMap::readout_t(Vec, Vec) { unsupported(type(), "a readout"); }
void UpdateMap::readout_param_t(Vec, ParamSet&) { unsupported(type(), "a readout"); }
void UpdateMap::factor_mult(Vec, Vec) { unsupported(type(), "the symmetric form (a factor K)"); }
void UpdateMap::smooth_mult(Vec, Vec) { unsupported(type(), "the symmetric form (the product M)"); }
void UpdateMap::symmetric_diagonal(Vec) { unsupported(type(), "the diagonal of the symmetric form"); }
void UpdateMap::low_rank(OwnedMat*, OwnedMat*) { unsupported(type(), "a low-rank part of Φ"); }

namespace {
const char* const stepsize_rules[] = {"fixed", "auto", "optimal", "lmax"};  // in StepsizeRule's order
}  // namespace

const char* UpdateMap::stepsize_rule_name() const { return stepsize_rules[(int)rule_]; }

void UpdateMap::set_stepsize_rule(StepsizeRule r) {
  FOLDOPT_CHECK(r == StepsizeRule::fixed || stepsize_is_free(), PETSC_ERR_ARG_INCOMP,
                "-%sstepsize %s: update map '%s' has no free stepsize", prefix_.c_str(), stepsize_rules[(int)r],
                type().c_str());
  rule_ = r;
}

void UpdateMap::set_stepsize_lanczos_steps(PetscInt k) {
  FOLDOPT_CHECK(k >= 1, PETSC_ERR_ARG_OUTOFRANGE, "-%sstepsize_lanczos_steps %" PetscInt_FMT ": must be at least 1",
                prefix_.c_str(), k);
  lanczos_steps_ = k;
}

namespace {
PetscErrorCode read_stepsize_rule(MPI_Comm comm, const char* prefix, PetscInt* rule, PetscInt* steps) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Update map", "UpdateMap");
  PetscCall(PetscOptionsEList("-stepsize",
                              "Stepsize of the map: keep it; auto = lmax: 1/lmax of its stepsize operator from a few Lanczos steps "
                              "(-fold_stepsize_lanczos_steps); optimal: 2/(lmin + lmax) from SLEPc (-fold_stepsize_eps_*)",
                              "UpdateMap::set_stepsize_rule", stepsize_rules, 4, stepsize_rules[*rule], rule, nullptr));
  PetscCall(PetscOptionsInt("-stepsize_lanczos_steps", "Lanczos steps (products) of -fold_stepsize auto|lmax",
                            "UpdateMap::set_stepsize_lanczos_steps", *steps, steps, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

void UpdateMap::set_from_options() {
  if (!stepsize_is_free()) return;
  options::check_choice(prefix_.c_str(), "stepsize", {"fixed", "auto", "optimal", "lmax"});
  options::check_int(prefix_.c_str(), "stepsize_lanczos_steps", 1, 100000);
  PetscInt rule = (PetscInt)rule_, steps = lanczos_steps_;
  FOLDOPT_CALL(read_stepsize_rule(layout().comm, prefix_.c_str(), &rule, &steps));
  set_stepsize_rule((StepsizeRule)rule);
  set_stepsize_lanczos_steps(steps);
}

bool UpdateMap::adapt_stepsize() {
  if (rule_ == StepsizeRule::fixed) return false;
  // The operator of the last estimate, unchanged: α stays.
  const PetscObjectState version = stepsize_operator_version();
  if (version != 0 && version == step_op_version_ && rule_ == step_rule_ && lanczos_steps_ == step_steps_) return false;
  OwnedMat op = stepsize_operator();
  if (!op) return false;  // e.g. no free entries: Φ = 0 whatever the stepsize
  const bool optimal = rule_ == StepsizeRule::optimal;
  {
    LogScope log(log_events().stepsize);
    if (optimal) {
      step_eigs_ = extreme_eigenvalues(op, prefix_ + "stepsize_");
      step_eigs_.method = "eps";
    } else {
      step_eigs_ = stepsize_lanczos(op, lanczos_steps_);
    }
  }
  const PetscReal lmax = step_eigs_.lmax + step_eigs_.err_max;
  FOLDOPT_CHECK((optimal ? lmax : step_eigs_.lmax) > 0, PETSC_ERR_ARG_WRONG,
                "-%sstepsize %s: the stepsize operator has no positive eigenvalue (largest %.6g): the fixed point is "
                "not a minimum: a saddle point or a maximum",
                prefix_.c_str(), stepsize_rule_name(), (double)step_eigs_.lmax);
  if (optimal) set_stepsize(2.0 / (std::max<PetscReal>(step_eigs_.lmin, 0) + lmax));
  else set_stepsize(lmax_stepsize(step_eigs_));
  step_op_version_ = version;
  step_rule_ = rule_;
  step_steps_ = lanczos_steps_;
  return true;
}
void UpdateMap::phi(Vec, Vec) { unsupported(type(), "phi (forward products with Φ)"); }
void UpdateMap::psi(const ParamSet&, Vec) { unsupported(type(), "psi (forward products with Ψ)"); }
void UpdateMap::get_diagonal(Vec) { unsupported(type(), "the diagonal of Φ"); }
void UpdateMap::structure_mask(Vec) { unsupported(type(), "a structure mask"); }
OwnedMat UpdateMap::assemble_phi() { unsupported(type(), "an assembled Φ"); }
OwnedMat UpdateMap::assemble_phi_transpose() {
  OwnedMat phi = assemble_phi(), t;
  FOLDOPT_CALL(MatTranspose(phi, MAT_INITIAL_MATRIX, t.out()));
  return t;
}
void UpdateMap::set_stepsize(PetscReal) { unsupported(type(), "a free stepsize"); }

OwnedVec Problem::create_vec() const { return vec_for(layout()); }

namespace {
Objective& objective_of(Problem& p, const char* what) {
  Objective* f = p.objective();
  if (!f) detail::throw_error(PETSC_ERR_SUP, "problem '" + p.type() + "' does not provide " + what);
  return *f;
}
}  // namespace

PetscReal Problem::objective_gradient(Vec x, const ParamSet& theta, Vec g) {
  return objective_of(*this, "its objective").value_gradient(x, theta, g);
}
void Problem::hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) {
  objective_of(*this, "Hessian products").hessian_mult(x, theta, v, y);
}
OwnedMat Problem::hessian(Vec x, const ParamSet& theta) {
  Objective* f = objective();
  if (!f || !f->capabilities().hessian) return OwnedMat();
  return f->hessian(x, theta);
}
bool Problem::has_hessian() const {
  Objective* f = const_cast<Problem*>(this)->objective();
  return f && f->capabilities().hessian;
}
bool Problem::is_quadratic() const {
  Objective* f = const_cast<Problem*>(this)->objective();
  return f && f->capabilities().quadratic;
}
void Problem::gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) {
  Objective& f = objective_of(*this, "parameter products of its gradient");
  out.set_zero();
  f.gradient_param_t(x, theta, v, out);
}
void Problem::gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) {
  Objective& f = objective_of(*this, "parameter products of its gradient");
  FOLDOPT_CALL(VecZeroEntries(y));
  f.gradient_param(x, theta, dtheta, y);
}
void Problem::readout(Vec s, const ParamSet&, Vec x) { FOLDOPT_CALL(VecCopy(s, x)); }
void Problem::readout_t(Vec, const ParamSet&, Vec g, Vec h) { FOLDOPT_CALL(VecCopy(g, h)); }
void Problem::readout_param_t(Vec, const ParamSet&, Vec, ParamSet&) {}
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
void Problem::constraint_param_t(Vec, const ParamSet&, Vec, Vec, ParamSet&) {}
void Problem::constraint_param(Vec, const ParamSet&, const ParamSet&, Vec c_eq, Vec c_ineq) {
  if (c_eq) FOLDOPT_CALL(VecZeroEntries(c_eq));
  if (c_ineq) FOLDOPT_CALL(VecZeroEntries(c_ineq));
}
void Problem::lagrangian_gradient_param_t(Vec x, const ParamSet& theta, Vec, Vec, Vec v, ParamSet& out) {
  gradient_param_t(x, theta, v, out);
}
void Problem::lagrangian_gradient_param(Vec x, const ParamSet& theta, Vec, Vec, const ParamSet& dtheta, Vec y) {
  gradient_param(x, theta, dtheta, y);
}

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
