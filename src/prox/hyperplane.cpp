// foldopt: projection onto a hyperplane {a_bᵀx = b_b} per instance (prox `hyperplane`).
//
// Method:    prox(z)_b = z_b − (a_bᵀz_b − b_b) a_b/‖a_b‖².
// Algorithm: J_b = I − a_b a_bᵀ/‖a_b‖² everywhere; implemented with the half-space in
//            LinearConstraintProx (linear_constraint.cpp).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), Lemma 6.26.
#include <foldopt/prox/linear_constraint.hpp>

#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

namespace foldopt {

/// a = all ones, b = 1 unless -<prefix>rhs is given.
std::unique_ptr<Prox> make_hyperplane_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new HyperplaneProx(prox_detail::layout_of(ctx), nullptr, {1.0})), ctx);
}

}  // namespace foldopt
