// foldopt: projection onto the probability simplex per instance (prox `simplex`).
//
// Method:    prox(z)_b = argmin {‖x − z_b‖ : x ≥ 0, Σx = 1} = max(z_b − τ_b, 0), Σ max(z_b − τ_b, 0) = 1
//            (sparsemax when z = θ). α plays no role.
// Algorithm: the threshold and J = D_S − s sᵀ/|S| on the support S are those of
//            SumProjectionProx (sum_projection.cpp) with lo = 0, hi = +inf, k = 1.
// References: Martins, Astudillo, From Softmax to Sparsemax (ICML 2016); Condat, Fast projection
//   onto the simplex and the l1 ball (Math. Program. 2016).
#include <foldopt/prox/simplex.hpp>
#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

namespace foldopt {

SimplexProx::SimplexProx(const Layout& layout) : SumProjectionProx("simplex", layout, 0.0, PETSC_INFINITY, 1.0) {}

std::unique_ptr<Prox> make_simplex_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new SimplexProx(prox_detail::layout_of(ctx))), ctx);
}

}  // namespace foldopt
