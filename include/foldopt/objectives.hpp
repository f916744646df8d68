// foldopt: the built-in smooth objectives f(x; θ) of prox-gradient maps (objective.hpp).
//
// Each is also registered by name (objective_registry(), -fold_objective_type NAME); the
// constructors below are for data the registry cannot know (matrices, block names).
//
//   quadratic      ½xᵀHx − qᵀx                 ∇f = Hx − q,      ∇²f = H,   (∂∇f/∂q)ᵀv = −v
//   linear         −cᵀx                        ∇f = −c,          ∇²f = 0,   (∂∇f/∂c)ᵀv = −v
//   entropy        −cᵀx + ε Σ xᵢ log xᵢ, x ≥ 0 ∇f = −c + ε(1 + log x), ∇²f = ε diag(1/x)
//   least_squares  ½‖Xx − y‖²                  ∇f = Xᵀ(Xx − y),  ∇²f = XᵀX, (∂∇f/∂y)ᵀv = −Xv
//   sin_quadratic  ½xᵀQx + pᵀ sin x            ∇f = Qx + p∘cos x, ∇²f = Q − diag(p∘sin x),
//                                              (∂∇f/∂p)ᵀv = cos x ∘ v  (nonconvex)
//   callback       the user's functions (ObjectiveCallbacks)
//
// Matrix values as parameters: when θ has the block `H.values` (quadratic) or `X.values`
// (least_squares), the stored nonzeros of the matrix in global CSR order split by its rows (the
// layout of matrix_values.hpp), the matrix takes its values from the block and the parameter
// products include it (formulas at make_quadratic and make_least_squares).
//
// Batches (Layout: B instances of n): a matrix (H, X, Q) is given either for one instance (n×n,
// or m×n for X), and then acts on each instance, or block-diagonal over the batch (B·n × B·n,
// B·m × B·n), as qp_box stores H. Either way the objective keeps the block-diagonal operator of
// the batch, rows split as PETSc splits B·m (square ones: like x), columns as the layout splits
// x; a matrix already split that way is shared, not copied. Parameter blocks (q, c, p) are
// vectors per instance, B·n entries split like x; y has B·m entries split as PETSc splits B·m
// (VecSetSizes(v, PETSC_DECIDE, B*m), io::read_batch). A block split otherwise is refused, naming it.
//
// Assembled Hessians (hessian()) may be a reference to the objective's own matrix: callers
// MatDuplicate before changing values (as the pgd map does).
#ifndef FOLDOPT_OBJECTIVES_HPP
#define FOLDOPT_OBJECTIVES_HPP

#include <foldopt/objective.hpp>

#include <memory>
#include <string>

namespace foldopt {

/// ½xᵀHx − qᵀx with q the block `q`. H sparse symmetric (checked), or null for H = I (the
/// sparsemax objective ½‖x‖² − θᵀx). `convex` is what capabilities() declares: H ⪰ 0 is not
/// verified (it would take an eigenvalue solve); say false for an indefinite H. When θ has the
/// block `values` (H's stored nonzeros in global CSR order, split by H's rows: a matrix-values
/// block with H as pattern), H takes its values from it and the parameter products include it:
/// (∂∇f/∂H)ᵀv = v_i x_j over the nonzeros (summed over the instances when H is shared).
std::unique_ptr<Objective> make_quadratic(const Layout& layout, Mat H, const std::string& q = "q",
                                          bool convex = true, const std::string& values = "H.values");
/// −cᵀx with c the block `c`.
std::unique_ptr<Objective> make_linear(const Layout& layout, const std::string& c = "c");
/// −cᵀx + ε Σ xᵢ log xᵢ on x ≥ 0 (ε > 0 fixed; -<prefix>epsilon in set_from_options). Entries
/// below the floor DBL_MIN (underflowed to 0, or outside the domain) count as at the bound:
/// log uses max(x, floor), the gradient there is −c + ε(1 + log floor) and the Hessian 0.
std::unique_ptr<Objective> make_entropy(const Layout& layout, PetscReal epsilon, const std::string& c = "c");
/// ½‖Xx − y‖² with y the block `y` (B·m entries), X sparse m×n (shared) or B·m × B·n. When θ
/// has the block `values` (X's stored nonzeros, as for make_quadratic), X takes its values from
/// it: (∂∇f/∂X)ᵀv = r_i v_j + (Xv)_i x_j over the nonzeros, r = Xx − y (summed over instances).
std::unique_ptr<Objective> make_least_squares(const Layout& layout, Mat X, const std::string& y = "y",
                                              const std::string& values = "X.values");
/// ½xᵀQx + pᵀ sin x with p the block `p`; Q sparse symmetric fixed data (checked).
std::unique_ptr<Objective> make_sin_quadratic(const Layout& layout, Mat Q, const std::string& p = "p");
/// The user's objective; value_gradient and hessian_mult are required, the parameter products
/// optional (absent: ∂∇f/∂θ = 0, and describe() says so).
std::unique_ptr<Objective> make_callback(const Layout& layout, ObjectiveCallbacks callbacks);

}  // namespace foldopt

#endif  // FOLDOPT_OBJECTIVES_HPP
