// foldopt: checks every map and layer can be put through.
//   * fixed-point residual ‖U(x*) − x*‖∞ / (scale · max(1, ‖x*‖∞)), scale the map's
//     fixed_point_scale() (α for a prox-gradient map, whose x − U(x) is α times the gradient
//     mapping): small, or the gradient is wrong;
//   * dot-product tests ⟨Φu, v⟩ = ⟨u, Φᵀv⟩ and ⟨Ψ dθ, v⟩ = ⟨dθ, Ψᵀv⟩ with random u, v, dθ;
//   * finite differences of the loss L = ⟨g, x*(θ)⟩ along a random direction in θ.
#ifndef FOLDOPT_CHECKS_HPP
#define FOLDOPT_CHECKS_HPP

#include <foldopt/params.hpp>

#include <string>
#include <vector>

namespace foldopt {

class UpdateMap;
class FoldedLayer;

/// ‖U(x) − x‖∞ / (map.fixed_point_scale() · max(1, ‖x‖∞)) (collective).
PetscReal fixed_point_residual(UpdateMap& map, Vec x, const ParamSet& theta);

struct DotTest {
  PetscReal lhs = 0, rhs = 0;  ///< ⟨Φu, v⟩ and ⟨u, Φᵀv⟩ (or the Ψ pair)
  PetscReal relative = 0;      ///< |lhs − rhs| / (‖Φu‖‖v‖ or ‖Φᵀv‖‖u‖, the larger)
};

/// Dot-product tests at the map's current linearization, with vectors drawn from `seed`.
DotTest dot_test_phi(UpdateMap& map, unsigned long seed = 1);
DotTest dot_test_psi(UpdateMap& map, unsigned long seed = 2);

struct FdCheck {
  std::string block;           ///< parameter block ("" for all blocks together)
  PetscReal folded = 0;        ///< ⟨∂L/∂θ, d⟩ from the backward pass
  PetscReal fd = 0;            ///< (L(θ + εd) − L(θ − εd)) / 2ε
  PetscReal relative = 0;      ///< |folded − fd| / max(|fd|, tiny)
  PetscReal eps = 0;
};

/// Central finite differences of L = ⟨g, x*(θ)⟩ along a random direction in each block, against
/// ⟨grad_b, d_b⟩, using the layer's forward solver (restores the layer's x* afterwards).
/// Directions in bound blocks only move finite bounds.
std::vector<FdCheck> check_fd(FoldedLayer& layer, const ParamSet& theta, Vec g,
                              const ParamSet& grad, PetscReal eps = 1e-6,
                              unsigned long seed = 3);

/// Forward iterations on a sequence of nearby parameters θ_k = θ + k·δ·d (k = 1..steps, d random
/// in every block but the matrix-value blocks, which stay fixed — an independent move of each
/// stored value would break a symmetric matrix —, zero where θ is not finite), as in training:
/// each solved from zero (cold) and
/// from the previous solution (warm). The layer's x* and θ are restored afterwards.
struct WarmStartStudy {
  PetscReal delta = 0;
  std::vector<PetscInt> cold, warm;  ///< forward iterations per step
};
WarmStartStudy warm_start_study(FoldedLayer& layer, const ParamSet& theta, PetscInt steps, PetscReal delta = 1e-3,
                                unsigned long seed = 11);

/// Fill v with values uniform in [-1, 1) drawn from (seed, global index): the same values at any
/// number of ranks.
void fill_random(Vec v, unsigned long seed);

}  // namespace foldopt

#endif  // FOLDOPT_CHECKS_HPP
