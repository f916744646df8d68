// foldopt: the update map U(x; θ), one step of an iterative solver.
//
// A fixed point x* = U(x*; θ) is the solution of the optimization problem. The backward pass needs
// products with the Jacobians Φ = ∂U/∂x and Ψ = ∂U/∂θ at (x*, θ), taken after linearize(x*, θ):
//     (I − Φᵀ) w = g,   ∂L/∂θ = Ψᵀ w.
// Users implement UpdateMap for their own solver step; the library wraps it in MatShells.
// Required: apply, linearize, phi_t, psi_t. Optional (advertised by has_*): the forward products
// phi and psi (for dot-product tests and forward mode), the diagonal of Φ (Jacobi
// preconditioning), and Φ assembled as a sparse matrix with PETSc matrix operations (for
// preconditioners and Jacobian extraction).
//
// A map whose products Φᵀv themselves need an inner solve (a projection that is a QP) owns an
// inner AdjointSolver with the prefix `fold_inner_`; nothing in this interface changes.
#ifndef FOLDOPT_UPDATE_MAP_HPP
#define FOLDOPT_UPDATE_MAP_HPP

#include <foldopt/params.hpp>
#include <foldopt/registry.hpp>

#include <string>

namespace foldopt {

class UpdateMap {
 public:
  virtual ~UpdateMap() = default;

  /// Registered name (e.g. "pgd").
  virtual std::string type() const = 0;
  /// Layout of x (B instances of n unknowns).
  virtual const Layout& layout() const = 0;
  /// A new vector with the layout of x.
  OwnedVec create_vec() const;
  /// Parameter blocks with the names and layouts this map differentiates into, all zero.
  virtual ParamSet create_params() const = 0;

  /// y = U(x; θ).
  virtual void apply(Vec x, const ParamSet& theta, Vec y) = 0;
  /// Fix the point (x*, θ) at which phi/phi_t/psi/psi_t act (keeps what the products need).
  virtual void linearize(Vec x, const ParamSet& theta) = 0;
  /// y = Φᵀ v.
  virtual void phi_t(Vec v, Vec y) = 0;
  /// out_b = (∂U/∂θ_b)ᵀ v for every block b of `out` (overwrites).
  virtual void psi_t(Vec v, ParamSet& out) = 0;

  virtual bool has_phi() const { return false; }
  /// y = Φ u.
  virtual void phi(Vec u, Vec y);
  virtual bool has_psi() const { return false; }
  /// y = Σ_b (∂U/∂θ_b) dθ_b.
  virtual void psi(const ParamSet& dtheta, Vec y);
  virtual bool has_diagonal() const { return false; }
  /// d = diag(Φ).
  virtual void get_diagonal(Vec d);
  virtual bool can_assemble() const { return false; }
  /// Φ as a sparse matrix (new reference), built with matrix operations, never by probing.
  virtual OwnedMat assemble_phi();

  /// The stepsize inside U (0 if the map has none), and whether it may be changed.
  virtual PetscReal stepsize() const { return 0; }
  virtual bool stepsize_is_free() const { return false; }
  virtual void set_stepsize(PetscReal alpha);
  /// The symmetric operator whose extreme eigenvalues govern the stepsize at the current
  /// linearization (PGD on a quadratic: the Hessian restricted to the free set); the best
  /// stepsize is then 2/(λmin + λmax). Null if the map has none.
  virtual OwnedMat stepsize_operator() { return OwnedMat(); }

  /// Text for -fold_view.
  virtual std::string describe() const { return type(); }
};

class Problem;
using MapRegistry = Registry<UpdateMap, Problem&>;
/// The registry of update maps built from a Problem (built-ins registered on first use;
/// -fold_map_type NAME picks one).
MapRegistry& map_registry();

}  // namespace foldopt

#endif  // FOLDOPT_UPDATE_MAP_HPP
