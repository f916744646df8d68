// foldopt: projected gradient descent, the proximal-gradient map under its historical name.
//
//   U(x; θ) = P_[lb,ub](x − α ∇ₓf(x; θ))
//
// `pgd` is ProxGradMap (prox_grad.hpp) on a problem: with the problem's own parts when it has
// them, else its f and the projection onto its bounds. For the box, J is the 0/1 diagonal mask
// D (free: lb < z < ub) and Ψᵀ v gains E_lb v in block lb and E_ub v in block ub, with
// z = x* − α∇f(x*), E_lb = [z ≤ lb], E_ub = [z ≥ ub, not z ≤ lb]. At a tie z = lb or z = ub the
// projection's generalized derivative is taken with respect to the bound (the entry counts as
// active); with lb = ub the entry belongs to lb.
#ifndef FOLDOPT_MAPS_PGD_HPP
#define FOLDOPT_MAPS_PGD_HPP

#include <foldopt/maps/prox_grad.hpp>

namespace foldopt {

class PgdMap : public ProxGradMap {
 public:
  /// PGD on `problem` (which must outlive the map). The default stepsize is 1/B for the
  /// objective's declared curvature bound B (‖H‖∞ for a quadratic), else 1.
  explicit PgdMap(Problem& problem, PetscReal stepsize = 0) : ProxGradMap(problem, stepsize) {}
  std::string type() const override { return "pgd"; }
};

}  // namespace foldopt

#endif  // FOLDOPT_MAPS_PGD_HPP
