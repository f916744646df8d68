// foldopt: projection onto the capped simplex per instance (prox `capped_simplex`).
//
// Method:    prox(z)_b = argmin {‖x − z_b‖ : 0 ≤ x ≤ 1, Σx = k} = clamp(z_b − τ_b, 0, 1), 0 ≤ k ≤ n
//            (smooth top-k). α plays no role.
// Algorithm: the threshold and J = D_F − f fᵀ/|F| on the free set F = {0 < z − τ < 1} are those of
//            SumProjectionProx (sum_projection.cpp) with lo = 0, hi = 1. Option -<prefix>k NUM.
// References: Wang, Lu, Projection onto the capped simplex (arXiv:1503.01002, 2015).
#include <foldopt/prox/simplex.hpp>

#include "prox/prox_util.hpp"
#include "prox/factories.hpp"

namespace foldopt {

CappedSimplexProx::CappedSimplexProx(const Layout& layout, PetscReal k) : SumProjectionProx("capped_simplex", layout, 0.0, 1.0, k) {}

void CappedSimplexProx::set_from_options() {
  PetscReal k = k_;
  prox_detail::read_options(prox_detail::comm_of(layout_), prefix_, "Capped simplex projection",
                            {{"k", "Sum of every instance (0 <= k <= n)", &k, 0, 1e300, false}});
  set_sum(k);
}

/// k = 1 unless -<prefix>k is given.
std::unique_ptr<Prox> make_capped_simplex_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new CappedSimplexProx(prox_detail::layout_of(ctx), 1.0)), ctx);
}

}  // namespace foldopt
