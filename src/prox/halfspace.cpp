// foldopt: projection onto a half-space {a_bᵀx ≤ b_b} per instance (prox `halfspace`).
//
// Method:    prox(z)_b = z_b − max(a_bᵀz_b − b_b, 0) a_b/‖a_b‖².
// Algorithm: J_b = I − a_b a_bᵀ/‖a_b‖² where a_bᵀz_b > b_b, else I (the boundary included);
//            implemented with the hyperplane in LinearConstraintProx (linear_constraint.cpp).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), Lemma 6.26.
#include <foldopt/prox/linear_constraint.hpp>

#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

namespace foldopt {

/// a = all ones, b = 1 unless -<prefix>rhs is given.
std::unique_ptr<Prox> make_halfspace_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new HalfspaceProx(prox_detail::layout_of(ctx), nullptr, {1.0})), ctx);
}

}  // namespace foldopt
