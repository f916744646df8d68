// foldopt: projections onto one linear constraint per instance, shared by the half-space and
// hyperplane proxes (halfspace.cpp, hyperplane.cpp).
//
// Method:    prox(z)_b = z_b − μ_b a_b,  μ_b = (a_bᵀz_b − b_b)/‖a_b‖² for the hyperplane {aᵀx = b},
//            μ_b = max(a_bᵀz_b − b_b, 0)/‖a_b‖² for the half-space {aᵀx ≤ b} (α plays no role).
//            a (B·n entries, every a_b ≠ 0) and b (B numbers) are fixed data; from options
//            a = all ones and b = -<prefix>rhs (default 1): Σx = 1, Σx ≤ 1.
// Algorithm: active_b = hyperplane, or a_bᵀz_b > b_b (on the boundary the half-space counts as
//            inactive: the element J = I of the generalized Jacobian);
//              J_b = I − a_b a_bᵀ/‖a_b‖²  (active),  I (inactive)
//            an orthogonal projector: K = J. Structure: d = 1, U = [a_1 … a_B], c_b = −1/‖a_b‖²
//            on active instances (0 elsewhere). No parameters.
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §6.4.
#include <foldopt/prox/linear_constraint.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>

#include "prox/prox_util.hpp"

#include <cmath>
#include <sstream>

namespace foldopt {

LinearConstraintProx::LinearConstraintProx(const Layout& layout, bool equality, Vec a, const std::vector<PetscReal>& b)
    : layout_(layout), equality_(equality), a_given_(a != nullptr) {
  const char* who = equality ? "hyperplane prox" : "halfspace prox";
  FOLDOPT_CHECK(layout.n > 0 && layout.batch > 0, PETSC_ERR_ARG_OUTOFRANGE, "%s: the layout has no entries", who);
  FOLDOPT_CHECK(b.size() == 1 || static_cast<PetscInt>(b.size()) == layout.batch, PETSC_ERR_ARG_SIZ,
                "%s: %zu right-hand sides for %" PetscInt_FMT " instances (give one, or one per instance)", who,
                b.size(), layout.batch);
  for (PetscReal v : b)
    FOLDOPT_CHECK(std::isfinite(v), PETSC_ERR_ARG_OUTOFRANGE, "%s: right-hand side %g is not finite", who, (double)v);
  b_ = b.size() == 1 ? std::vector<PetscReal>(layout.batch, b[0]) : b;
  if (a) {
    prox_detail::check_size(a, layout, who, "the normal vector a");
    FOLDOPT_CALL(VecDuplicate(a, a_.out()));
    FOLDOPT_CALL(VecCopy(a, a_));
    a2_ = batch::norms(a_, layout.n);
    for (std::size_t s = 0; s < a2_.size(); ++s) {
      FOLDOPT_CHECK(std::isfinite(a2_[s]) && a2_[s] > 0, PETSC_ERR_ARG_OUTOFRANGE,
                    "%s: the normal vector a of instance %zu is %s", who, s, a2_[s] > 0 ? "not finite" : "zero");
      a2_[s] *= a2_[s];
    }
  }
}

void LinearConstraintProx::ensure_a(Vec like) {
  if (a_) return;
  FOLDOPT_CALL(VecDuplicate(like, a_.out()));
  FOLDOPT_CALL(VecSet(a_, 1.0));
  a2_.assign(layout_.batch, static_cast<PetscReal>(layout_.n));
}

Prox::Capabilities LinearConstraintProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.low_rank = true;
  c.factor = true;
  c.parameters = false;  // fixed data
  return c;
}

std::string LinearConstraintProx::describe() const {
  std::ostringstream s;
  s << type() << " {" << (a_given_ ? "a" : "1") << "^T x " << (equality_ ? "=" : "<=") << " ";
  bool same = true;
  for (PetscReal v : b_) same = same && v == b_[0];
  if (same) s << b_[0];
  else s << "b";
  s << "} per instance of " << layout_.n;
  return s.str();
}

void LinearConstraintProx::set_from_options() {
  PetscReal rhs = b_.empty() ? 1.0 : b_[0];
  PetscBool set = PETSC_FALSE;
  prox_detail::read_options(prox_detail::comm_of(layout_), prefix_, equality_ ? "Hyperplane projection" : "Half-space projection",
                            {{"rhs", "Right-hand side b of every instance", &rhs, -1e300, 1e300, false, &set}});
  if (set) b_.assign(layout_.batch, rhs);
}

void LinearConstraintProx::apply(Vec z, PetscReal, const ParamSet&, Vec y) {
  prox_detail::check_size(z, layout_, type().c_str(), "z");
  ensure_a(z);
  std::vector<PetscReal> mu = batch::dots(a_, z, layout_.n);
  for (std::size_t s = 0; s < mu.size(); ++s) {
    const PetscReal viol = mu[s] - b_[s];
    mu[s] = -(equality_ ? viol : std::max(viol, PetscReal(0))) / a2_[s];
  }
  if (y != z) FOLDOPT_CALL(VecCopy(z, y));
  batch::axpy(mu, a_, layout_.n, y);
}

void LinearConstraintProx::linearize(Vec z, PetscReal, const ParamSet&) {
  prox_detail::check_size(z, layout_, type().c_str(), "z");
  ensure_a(z);
  const std::vector<PetscReal> az = batch::dots(a_, z, layout_.n);
  active_.resize(az.size());
  for (std::size_t s = 0; s < az.size(); ++s) active_[s] = (equality_ || az[s] > b_[s]) ? -1.0 / a2_[s] : 0.0;
}

void LinearConstraintProx::jacobian_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(!active_.empty(), PETSC_ERR_ORDER, "%s prox: jacobian_mult before linearize", type().c_str());
  std::vector<PetscReal> av = batch::dots(a_, v, layout_.n);
  for (std::size_t s = 0; s < av.size(); ++s) av[s] *= active_[s];
  if (y != v) FOLDOPT_CALL(VecCopy(v, y));
  batch::axpy(av, a_, layout_.n, y);
}

void LinearConstraintProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(!active_.empty(), PETSC_ERR_ORDER, "%s prox: jacobian_structure before linearize", type().c_str());
  FOLDOPT_CALL(VecSet(d, 1.0));
  prox_detail::build_low_rank(a_, layout_.n, active_, U, c);
}

}  // namespace foldopt
