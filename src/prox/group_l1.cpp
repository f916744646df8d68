// foldopt: group soft-thresholding, the prox of λ Σ_G ‖x_G‖₂ over groups of g consecutive
// entries (prox `group_l1`; g divides the instance size n, so no group crosses an instance).
//
// Method:    prox_{αh}(z)_G = max(1 − t/‖z_G‖, 0) z_G,  t = αλ (λ ≥ 0 fixed or a scalar block).
// Algorithm: group norms by batch::norms(z, g) (one allreduce); a group is active when ‖z_G‖ > t
//            (at ‖z_G‖ = t it counts as inactive: J_G = 0). With ẑ = z_G/‖z_G‖, on active groups
//              J_G = (1 − t/‖z_G‖) I + (t/‖z_G‖) ẑẑᵀ       (eigenvalues 1 on ẑ, 1 − t/‖z_G‖ across)
//              K_G = J_G^{1/2} = √(1 − t/‖z_G‖) (I − ẑẑᵀ) + ẑẑᵀ
//              ∂prox_G/∂λ = −α ẑ,  so (∂prox/∂λ)ᵀ v = −α Σ_G active ⟨ẑ, v_G⟩ over the batch;
//            inactive groups: J_G = K_G = 0, no dependence on λ. Structure: d_G = 1 − t/‖z_G‖
//            (0 inactive), U = [ẑ_G] one column per group, c_G = t/‖z_G‖ (0 inactive).
// References: N. Parikh, S. Boyd, Proximal Algorithms (2014), §6.5.4; Yuan, Lin, Model selection and
//   estimation in regression with grouped variables (JRSS-B 2006).
#include <foldopt/prox/l1.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace foldopt {

GroupL1Prox::GroupL1Prox(const Layout& layout, PetscInt group_size, PetscReal lambda) : layout_(layout), lambda_(lambda) {
  FOLDOPT_CHECK(std::isfinite(lambda) && lambda >= 0, PETSC_ERR_ARG_OUTOFRANGE, "group_l1 prox: lambda %g must be >= 0",
                (double)lambda);
  set_group_size(group_size);
}

GroupL1Prox::GroupL1Prox(const Layout& layout, PetscInt group_size, const std::string& block)
    : layout_(layout), block_(block) {
  FOLDOPT_CHECK(!block.empty(), PETSC_ERR_ARG_WRONG, "group_l1 prox: no block name for lambda");
  set_group_size(group_size);
}

void GroupL1Prox::set_group_size(PetscInt g) {
  FOLDOPT_CHECK(g > 0 && layout_.n > 0 && layout_.n % g == 0, PETSC_ERR_ARG_OUTOFRANGE,
                "group_l1 prox: group size %" PetscInt_FMT " must be positive and divide the instance size n = %" PetscInt_FMT,
                g, layout_.n);
  g_ = g;
  shrink_.clear();
}

Prox::Capabilities GroupL1Prox::capabilities() const {
  Capabilities c;
  c.low_rank = true;
  c.factor = true;
  c.parameters = !block_.empty();
  return c;
}

std::string GroupL1Prox::describe() const {
  std::ostringstream s;
  s << "group_l1 (groups of " << g_ << ", threshold alpha*lambda, lambda ";
  if (block_.empty()) s << lambda_;
  else s << "block " << block_;
  s << ")";
  return s.str();
}

void GroupL1Prox::set_from_options() {
  PetscReal lam = lambda_;
  PetscInt g = g_;
  PetscBool set = PETSC_FALSE;
  prox_detail::read_options(prox_detail::comm_of(layout_), prefix_, "Group soft-thresholding",
                            {{"lambda", "Fixed weight lambda of sum_G ||x_G||_2 (in place of the block)", &lam, 0, 1e300,
                              false, &set}},
                            {{"group_size", "Entries of a group (consecutive; divides n)", &g, 1, 1LL << 40}});
  if (set) {
    lambda_ = lam;
    block_.clear();
  }
  if (g != g_) set_group_size(g);
}

PetscReal GroupL1Prox::lambda(const ParamSet& theta) const {
  if (block_.empty()) return lambda_;
  const PetscReal l = prox_detail::scalar_of(theta, block_, "group_l1 prox");
  FOLDOPT_CHECK(l >= 0, PETSC_ERR_ARG_OUTOFRANGE, "group_l1 prox: parameter block '%s' = %g must be >= 0",
                block_.c_str(), (double)l);
  return l;
}

void GroupL1Prox::apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) {
  prox_detail::check_size(z, layout_, "group_l1 prox", "z");
  FOLDOPT_CHECK(std::isfinite(alpha) && alpha >= 0, PETSC_ERR_ARG_OUTOFRANGE, "group_l1 prox: stepsize %g must be >= 0",
                (double)alpha);
  const PetscReal t = alpha * lambda(theta);
  std::vector<PetscReal> f = batch::norms(z, g_);
  for (auto& v : f) v = v > t ? 1.0 - t / v : 0.0;
  batch::scale(f, z, g_, y);
}

void GroupL1Prox::linearize(Vec z, PetscReal alpha, const ParamSet& theta) {
  prox_detail::check_size(z, layout_, "group_l1 prox", "z");
  FOLDOPT_CHECK(std::isfinite(alpha) && alpha >= 0, PETSC_ERR_ARG_OUTOFRANGE, "group_l1 prox: stepsize %g must be >= 0",
                (double)alpha);
  alpha_ = alpha;
  const PetscReal t = alpha * lambda(theta);
  const std::vector<PetscReal> nrm = batch::norms(z, g_);
  shrink_.assign(nrm.size(), 0.0);
  coef_.assign(nrm.size(), 0.0);
  std::vector<PetscReal> inv(nrm.size(), 0.0);
  free_ = 0;
  for (std::size_t s = 0; s < nrm.size(); ++s)
    if (nrm[s] > t) {
      shrink_[s] = 1.0 - t / nrm[s];
      coef_[s] = t / nrm[s];
      inv[s] = 1.0 / nrm[s];
      free_ += g_;
    }
  if (!zhat_) FOLDOPT_CALL(VecDuplicate(z, zhat_.out()));
  batch::scale(inv, z, g_, zhat_);
}

void GroupL1Prox::jacobian_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(!shrink_.empty(), PETSC_ERR_ORDER, "group_l1 prox: jacobian_mult before linearize");
  // Two passes over the data: the groups' ⟨ẑ, v⟩, then y = shrink_G v + c_G ⟨ẑ, v⟩ ẑ.
  std::vector<PetscReal> d = batch::dots(zhat_, v, g_);
  for (std::size_t s = 0; s < d.size(); ++s) d[s] *= coef_[s];
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rstart, &rend));
  ReadArray zh(zhat_);
  auto combine = [&](auto& va, WriteArray& ya) {
    for (PetscInt i = rstart; i < rend;) {  // group by group (groups never cross instances)
      const PetscInt s = i / g_, end = std::min(rend, (s + 1) * g_);
      const PetscReal a = shrink_[s], b = d[s];
      for (; i < end; ++i) ya[i - rstart] = a * va[i - rstart] + b * zh[i - rstart];
    }
  };
  if (v == y) {
    WriteArray ya(y);
    combine(ya, ya);
  } else {
    ReadArray va(v);
    WriteArray ya(y);
    combine(va, ya);
  }
}

void GroupL1Prox::factor_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(!shrink_.empty(), PETSC_ERR_ORDER, "group_l1 prox: factor_mult before linearize");
  std::vector<PetscReal> d = batch::dots(zhat_, v, g_), root(shrink_.size());
  for (std::size_t s = 0; s < d.size(); ++s) {
    root[s] = std::sqrt(shrink_[s]);
    d[s] *= 1.0 - root[s];  // inactive groups: ẑ = 0 there
  }
  batch::scale(root, v, g_, y);
  batch::axpy(d, zhat_, g_, y);
}

void GroupL1Prox::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(!shrink_.empty(), PETSC_ERR_ORDER, "group_l1 prox: jacobian_structure before linearize");
  batch::broadcast(shrink_, g_, d);
  prox_detail::build_low_rank(zhat_, g_, coef_, U, c);
}

void GroupL1Prox::param_t(Vec v, ParamSet& out) {
  if (block_.empty()) return;
  FOLDOPT_CHECK(zhat_, PETSC_ERR_ORDER, "group_l1 prox: param_t before linearize");
  PetscScalar d;
  FOLDOPT_CALL(VecDot(v, zhat_, &d));
  prox_detail::add_scalar(out, block_, -alpha_ * PetscRealPart(d), "group_l1 prox");
}

void GroupL1Prox::param(const ParamSet& dtheta, Vec y) {
  if (block_.empty()) return;
  FOLDOPT_CHECK(zhat_, PETSC_ERR_ORDER, "group_l1 prox: param before linearize");
  FOLDOPT_CALL(VecAXPY(y, -alpha_ * prox_detail::scalar_of(dtheta, block_, "group_l1 prox"), zhat_));
}

std::unique_ptr<Prox> make_group_l1_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new GroupL1Prox(prox_detail::layout_of(ctx), 1, std::string("lambda"))), ctx);
}

}  // namespace foldopt
