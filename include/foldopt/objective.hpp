// foldopt: smooth objectives f(x; θ), one part of a proximal-gradient map.
//
// A prox-gradient map U(x) = prox_{αh}(x − α∇f(x; θ); θ) is composed of an Objective (this file)
// and a Prox (prox.hpp). An objective gives ∇f, Hessian products, the parameter products of ∇f,
// and declares what else it can do (capabilities(): an assembled Hessian, its diagonal, whether
// it is quadratic or convex) — declared, never probed by evaluating it at some point.
//
// Parameters: an objective reads its θ blocks by name from the ParamSet it is given (the names are
// fixed when it is built, e.g. `q` for the quadratic's linear term); fixed data (H, X) are given
// to its constructor. The parameter products *add* into the blocks the objective depends on and
// leave every other block alone (the caller zeroes the set first).
//
// Batches: x holds B instances of n unknowns (Layout); an objective acts instance by instance
// (its matrix is block-diagonal over the batch, or shared and applied per instance).
//
// Registered by name (objective_registry(), -fold_objective_type NAME), built from a PartContext.
#ifndef FOLDOPT_OBJECTIVE_HPP
#define FOLDOPT_OBJECTIVE_HPP

#include <foldopt/params.hpp>
#include <foldopt/registry.hpp>

#include <petscviewer.h>

#include <functional>
#include <string>
#include <vector>

namespace foldopt {

class Problem;

/// What the parts of a map (objectives, proxes) are built from: like the forward solvers'.
struct PartContext {
  MPI_Comm comm = MPI_COMM_NULL;
  Problem* problem = nullptr;   ///< may be null
  Layout layout;                ///< the unknowns the part acts on
  std::string prefix = "fold_"; ///< options prefix of the part (e.g. fold_prox_)
};

class Objective {
 public:
  struct Capabilities {
    bool hessian = false;           ///< hessian() gives ∇²f assembled (sparse)
    bool hessian_diagonal = false;  ///< hessian_diagonal() gives diag ∇²f
    bool quadratic = false;         ///< ∇²f does not depend on x
    bool convex = true;             ///< ∇²f ⪰ 0 everywhere (false: e.g. the sin objective)
    bool diagonal = false;          ///< ∇²f is diagonal everywhere (entropy, linear, H = I)
  };

  virtual ~Objective() = default;
  virtual std::string type() const = 0;
  virtual Capabilities capabilities() const = 0;
  void set_options_prefix(const std::string& prefix) { prefix_ = prefix; }
  const std::string& options_prefix() const { return prefix_; }
  /// Read the part's own options (once, after the code's defaults).
  virtual void set_from_options() {}
  /// One line for reports (e.g. "quadratic (H 4976 nonzeros)").
  virtual std::string describe() const { return type(); }
  virtual void view(PetscViewer viewer) const;

  /// f(x; θ), and ∇ₓf into g (g may be null).
  virtual PetscReal value_gradient(Vec x, const ParamSet& theta, Vec g) = 0;
  /// y = ∇²ₓf(x; θ) v.
  virtual void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) = 0;
  /// ∇²ₓf(x; θ) assembled (new reference); only when capabilities().hessian.
  virtual OwnedMat hessian(Vec x, const ParamSet& theta);
  /// d = diag ∇²ₓf(x; θ); only when capabilities().hessian_diagonal.
  virtual void hessian_diagonal(Vec x, const ParamSet& theta, Vec d);
  /// out_b += (∂(∇ₓf)/∂θ_b)ᵀ v for the blocks f depends on.
  virtual void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) = 0;
  /// y += Σ_b ∂(∇ₓf)/∂θ_b dθ_b.
  virtual void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) = 0;
  /// An upper bound on λmax(∇²f) over the whole domain, from the data alone (e.g. ‖H‖∞), or 0
  /// when none is known (the entropy's curvature is unbounded near 0). Sets the default stepsize.
  virtual PetscReal curvature_bound(const ParamSet& theta) { (void)theta; return 0; }

 protected:
  std::string prefix_ = "fold_";
};

using ObjectiveRegistry = Registry<Objective, const PartContext&>;
/// Objectives by name: quadratic, linear, entropy, least_squares, sin_quadratic, callback.
ObjectiveRegistry& objective_registry();

/// The `callback` objective: the user's gradient and Hessian-vector product (no parameters, or
/// the user's own parameter products).
struct ObjectiveCallbacks {
  std::function<PetscReal(Vec x, const ParamSet& theta, Vec g)> value_gradient;
  std::function<void(Vec x, const ParamSet& theta, Vec v, Vec y)> hessian_mult;
  /// optional: out_b += (∂∇f/∂θ_b)ᵀ v, and y += Σ ∂∇f/∂θ_b dθ_b
  std::function<void(Vec x, const ParamSet& theta, Vec v, ParamSet& out)> gradient_param_t;
  std::function<void(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y)> gradient_param;
  bool convex = true;
  PetscReal curvature_bound = 0;
};

}  // namespace foldopt

#endif  // FOLDOPT_OBJECTIVE_HPP
