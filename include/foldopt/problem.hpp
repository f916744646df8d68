// foldopt: a parametric optimization problem  min_x f(x; θ)  s.t.  lb(θ) ≤ x ≤ ub(θ)
// (and later c(x; θ) = 0, h(x; θ) ≤ 0).
//
// One description serves both sides: forward solvers (TAO, SNES on a map, user callbacks) use its
// objective, gradient, Hessian products and bounds; update maps (PGD, …) take their Jacobians Φ
// and Ψ from the same functions. A problem in composite form min f(x; θ) + h(x; θ) gives its
// parts (objective(), prox()), which a prox-gradient map composes; its Problem functions then
// default to the objective's. A problem names its default map and forward solver and prints its
// own report lines (view), so that programs need not know it by name.
//
// The unknowns of a Problem are the map's *state*; a problem whose user-facing solution is another
// vector (TV denoising solved through its dual: x = d − Dᵀy) gives a readout x = R(s; θ).
#ifndef FOLDOPT_PROBLEM_HPP
#define FOLDOPT_PROBLEM_HPP

#include <foldopt/params.hpp>
#include <foldopt/registry.hpp>

#include <petscviewer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace foldopt {

class Objective;
class Prox;

class Problem {
 public:
  virtual ~Problem() = default;

  /// Registered name (e.g. "qp_box").
  virtual std::string type() const = 0;
  virtual const Layout& layout() const = 0;
  OwnedVec create_vec() const;
  /// θ as given by the problem's data (its own vectors, shared).
  virtual const ParamSet& params() const = 0;
  /// Name of the update map that backs this problem by default.
  virtual std::string default_map() const = 0;
  /// Name of the forward solver used by default (tao unless the problem knows better).
  virtual std::string default_forward() const { return "tao"; }
  /// A stepsize for prox-gradient maps when the problem knows one better than the objective's
  /// curvature bound (0: none), and the preconditioner the backward should use by default (""
  /// for none): a badly scaled objective (entropy) wants α∇²f ≳ I with Jacobi.
  virtual PetscReal default_stepsize() const { return 0; }
  virtual std::string default_pc_type() const { return ""; }
  /// Whether that preconditioner goes on the left: the adjoint is then judged by its
  /// preconditioned residual as well (AdjointReport::prec_residual).
  virtual bool default_pc_left() const { return false; }
  /// The problem's own report lines (sizes, nonzeros, how it was built).
  virtual void view(PetscViewer viewer) const { (void)viewer; }
  /// Named matrices of the problem's data, for -problem_out (e.g. {"H", H}).
  virtual std::vector<std::pair<std::string, Mat>> data_matrices() const { return {}; }

  /// The parts of a composite problem min f(x; θ) + h(x; θ) for prox-gradient maps (owned by
  /// the problem), or null: a prox-gradient map then takes f from the functions below and h
  /// from the bounds (the indicator of lb ≤ x ≤ ub, or h = 0).
  virtual Objective* objective() { return nullptr; }
  virtual Prox* prox() { return nullptr; }

  /// f(x; θ) and its gradient ∇ₓf (g may be null). Default: the objective()'s.
  virtual PetscReal objective_gradient(Vec x, const ParamSet& theta, Vec g);
  /// y = ∇²ₓf(x; θ) v. Default: the objective()'s.
  virtual void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y);
  /// Whether hessian() assembles ∇²f (declared, so that nobody evaluates it to find out).
  /// Default: the objective()'s declaration.
  virtual bool has_hessian() const;
  /// ∇²ₓf(x; θ) assembled (new reference), or null if the problem cannot assemble it. Default:
  /// the objective()'s where it declares one.
  virtual OwnedMat hessian(Vec x, const ParamSet& theta);
  /// True when f is quadratic in x (its Hessian does not depend on x): solvers that assume it
  /// (TAO's gpcg and bqpip) are refused for other problems. Default: the objective()'s.
  virtual bool is_quadratic() const;
  /// out_b = (∂(∇ₓf)/∂θ_b)ᵀ v for every block b of `out` that enters the gradient (others zero).
  virtual void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out);
  /// y = Σ_b ∂(∇ₓf)/∂θ_b dθ_b.
  virtual void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y);

  /// Why the fixed point is not unique at the state s (I − Φ singular but consistent: TV's dual in
  /// 2-D), or "" when it is. A direct solve of the adjoint is then refused with this reason; Krylov
  /// methods still give the gradients that are unique.
  virtual std::string singular_reason(Vec s, const ParamSet& theta) { (void)s; (void)theta; return ""; }

  /// The solution x = R(s; θ) of a problem whose unknowns s are not the user's solution.
  virtual bool has_readout() const { return false; }
  virtual const Layout& solution_layout() const { return layout(); }
  virtual void readout(Vec s, const ParamSet& theta, Vec x);
  /// The state s of a solution x computed elsewhere (a primal-only forward solver for a problem
  /// whose map folds another iteration: TV's dual y* from x*): fills s and returns true, or
  /// returns false with the reason in `why`.
  virtual bool recover_state(Vec x, const ParamSet& theta, Vec s, std::string* why) {
    (void)x;
    (void)theta;
    (void)s;
    if (why) *why = "problem '" + type() + "' cannot recover its state from a solution";
    return false;
  }
  /// h = (∂R/∂s)ᵀ g at s.
  virtual void readout_t(Vec s, const ParamSet& theta, Vec g, Vec h);
  /// out_b += (∂R/∂θ_b)ᵀ g at s.
  virtual void readout_param_t(Vec s, const ParamSet& theta, Vec g, ParamSet& out);

  /// Bounds: lb and ub as vectors (entries ±inf where unbounded); the names of the parameter
  /// blocks they are (empty if a bound is fixed data or absent).
  virtual bool has_bounds() const { return false; }
  virtual void bounds(const ParamSet& theta, Vec lb, Vec ub);
  virtual std::string lower_bound_block() const { return ""; }
  virtual std::string upper_bound_block() const { return ""; }

  /// General constraints c_E(x; θ) = 0 (num_equality() rows) and c_I(x; θ) ≤ 0
  /// (num_inequality() rows), global counts; their values and assembled Jacobians (rows of
  /// constraints, columns of x, rows split as in create_constraint_vec()).
  virtual PetscInt num_equality() const { return 0; }
  virtual PetscInt num_inequality() const { return 0; }
  virtual void equality(Vec x, const ParamSet& theta, Vec c);
  virtual void inequality(Vec x, const ParamSet& theta, Vec c);
  virtual OwnedMat equality_jacobian(Vec x, const ParamSet& theta);
  virtual OwnedMat inequality_jacobian(Vec x, const ParamSet& theta);
  /// A vector for `m` constraint values (PETSc's default split).
  OwnedVec create_constraint_vec(PetscInt m) const;
  /// ∇²ₓ of the Lagrangian f + y_Eᵀ c_E + y_Iᵀ c_I (assembled; y may be null when there are no
  /// constraints of that kind). Default: hessian(x, θ), right when all constraints are linear.
  virtual OwnedMat lagrangian_hessian(Vec x, const ParamSet& theta, Vec y_eq, Vec y_ineq);

  /// Parameter derivatives of the constraints and of the Lagrangian's gradient, for maps that
  /// differentiate the KKT conditions (sqp). out_b += (∂c_E/∂θ_b)ᵀ u_E + (∂c_I/∂θ_b)ᵀ u_I (a u is
  /// null where there is no constraint of that kind). Default: constraints that do not depend on
  /// θ (nothing added).
  virtual void constraint_param_t(Vec x, const ParamSet& theta, Vec u_eq, Vec u_ineq, ParamSet& out);
  /// c_eq = Σ_b (∂c_E/∂θ_b) dθ_b and c_ineq likewise (overwritten; null where none). Default 0.
  virtual void constraint_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec c_eq, Vec c_ineq);
  /// out_b = (∂(∇ₓL)/∂θ_b)ᵀ v for L = f + y_Eᵀc_E + y_Iᵀc_I (overwrites), and its forward product
  /// y = Σ_b ∂(∇ₓL)/∂θ_b dθ_b. Default: gradient_param_t / gradient_param, right when the
  /// constraints' Jacobians do not depend on θ.
  virtual void lagrangian_gradient_param_t(Vec x, const ParamSet& theta, Vec y_eq, Vec y_ineq, Vec v, ParamSet& out);
  virtual void lagrangian_gradient_param(Vec x, const ParamSet& theta, Vec y_eq, Vec y_ineq, const ParamSet& dtheta,
                                         Vec y);

  /// Closed-form solution, when the problem has one for θ: fills x and returns true; otherwise
  /// returns false and says in `why` what is missing (the `closed` forward solver reports it).
  virtual bool closed_form(const ParamSet& theta, Vec x, std::string* why) {
    (void)theta;
    (void)x;
    if (why) *why = "problem '" + type() + "' has no closed-form solution";
    return false;
  }

  /// Known solution (e.g. a generated instance built from its KKT conditions), or null.
  virtual Vec known_solution() const { return nullptr; }
};

/// Built-in problems by name (-problem NAME in the executable). A factory reads its own options
/// (sizes, seeds, input files) from the PETSc options database.
using ProblemRegistry = Registry<Problem, MPI_Comm>;
ProblemRegistry& problem_registry();

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEM_HPP
