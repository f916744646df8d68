// foldopt: proximal operators prox_{αh}(z; θ), the other part of a proximal-gradient map.
//
//   prox_{αh}(z) = argmin_y  h(y; θ) + ‖y − z‖² / (2α)
//
// Projections are the proxes of indicators (α then plays no role). The Euclidean prox of a convex
// function has a symmetric Jacobian 0 ⪯ J ⪯ I where it is differentiable; at a kink each prox
// takes one documented element of the generalized Jacobian with that property.
//
// Structure of J, declared by capabilities(), never a dense n×n matrix:
//   J = diag(d) + U diag(c) Uᵀ
// with d the diagonal part and U a sparse N×r matrix of low-rank columns with disjoint supports
// (each inside one instance or group: r is the number of instances or groups with a low-rank
// term) and c their coefficients. A preconditioner uses the diagonal part; a direct solve adds the low-rank part by
// Woodbury. A factor K with J = K Kᵀ (K = J^{1/2}; K = J for projections, whose J is an
// orthogonal projector) gives the symmetric form of the adjoint system.
//
// Parameters: read by name from the ParamSet (names fixed when the prox is built: `lb`, `ub`,
// `lambda`, …); fixed data come from the constructor or the prox's options. param_t *adds* into
// the blocks the prox depends on; param *adds* into y.
//
// Batches: z holds B instances of n entries (the PartContext layout); sets (simplex, ball, …)
// apply per instance, through the segmented reductions of batch.hpp; an instance may span ranks.
//
// Registered by name (prox_registry(), -fold_prox_type NAME).
#ifndef FOLDOPT_PROX_HPP
#define FOLDOPT_PROX_HPP

#include <foldopt/objective.hpp>
#include <foldopt/params.hpp>
#include <foldopt/registry.hpp>

#include <petscviewer.h>

#include <string>
#include <vector>

namespace foldopt {

class Prox {
 public:
  struct Capabilities {
    bool projection = false;  ///< prox of an indicator: J is an orthogonal projector, factor K = J
    bool low_rank = false;    ///< J has a low-rank part (jacobian_structure gives U and c)
    bool factor = false;      ///< factor() gives K with J = K Kᵀ
    /// param_t/param take products into parameter blocks θ (bounds, λ, a radius from θ); false
    /// for a prox of fixed data, whose Ψᵀ part is zero. Assumed where a prox does not say.
    bool parameters = true;
    /// J only through products that are inner solves (the `linear` prox: a folded ADMM solve),
    /// each exact to the inner tolerance: no diagonal part or structure (jacobian_structure
    /// refuses), no assembled forms.
    bool nested = false;
  };

  virtual ~Prox() = default;
  virtual std::string type() const = 0;
  virtual Capabilities capabilities() const = 0;
  void set_options_prefix(const std::string& prefix) { prefix_ = prefix; }
  const std::string& options_prefix() const { return prefix_; }
  virtual void set_from_options() {}
  virtual std::string describe() const { return type(); }
  virtual void view(PetscViewer viewer) const;

  /// y = prox_{αh}(z; θ) (y may be z).
  virtual void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) = 0;
  /// Fix the point (z, α, θ) at which the products below act.
  virtual void linearize(Vec z, PetscReal alpha, const ParamSet& theta) = 0;
  /// y = J v (= Jᵀ v: J is symmetric).
  virtual void jacobian_mult(Vec v, Vec y) = 0;
  /// J = diag(d) + U diag(c) Uᵀ at the linearization: d always; U and c (new references) only
  /// with capabilities().low_rank, else left null.
  virtual void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) = 0;
  /// y = K v with J = K Kᵀ, K symmetric (capabilities().factor or projection).
  virtual void factor_mult(Vec v, Vec y);
  /// out_b += (∂prox/∂θ_b)ᵀ v for the blocks the prox depends on.
  virtual void param_t(Vec v, ParamSet& out) = 0;
  /// y += Σ_b (∂prox/∂θ_b) dθ_b.
  virtual void param(const ParamSet& dtheta, Vec y) = 0;
  /// Entries (global count over the batch) where J's diagonal part is nonzero: the free set
  /// of a projection, the support of soft-thresholding (for reports).
  virtual PetscInt free_count() const { return -1; }
  /// A nested prox (capabilities().nested) is told the outer adjoint's relative tolerance and
  /// keeps its inner one below it (default: nothing to do).
  virtual void set_outer_rtol(PetscReal rtol) { (void)rtol; }
  /// Option prefixes the prox's inner objects read only at set-up (UpdateMap has the same).
  virtual std::vector<std::string> deferred_option_prefixes() const { return {}; }

 protected:
  std::string prefix_ = "fold_";
};

using ProxRegistry = Registry<Prox, const PartContext&>;
/// Proximal operators by name: box, nonnegative, simplex, capped_simplex, capped_simplex_product,
/// ball, halfspace, hyperplane, l1, group_l1, linear (and identity, h = 0).
ProxRegistry& prox_registry();

}  // namespace foldopt

#endif  // FOLDOPT_PROX_HPP
