// foldopt: the smooth part of the bilinear problem (private to src/problems).
//
//   f(s; c, d) = −(cᵀx + xᵀQy + dᵀy) + μ φ(s),   s = (x, y) per instance (2m entries: x then y)
//
// with the smoothing φ: none (φ = 0), quadratic (φ = ½‖s‖²) or entropic (φ = Σ sᵢ log sᵢ). With
// A = kron(I_B, [[0, Q], [Qᵀ, 0]]) and e = (c, d) per instance: f = −eᵀs − ½ sᵀAs + μ φ(s).
//
// Method:   see bilinear_objective.cpp (the formulas of ∇f, ∇²f and the parameter products).
// References: Kotary, Dinh, Fioretto (2023), the bilinear experiment.
#ifndef FOLDOPT_SRC_PROBLEMS_BILINEAR_OBJECTIVE_HPP
#define FOLDOPT_SRC_PROBLEMS_BILINEAR_OBJECTIVE_HPP

#include <foldopt/objective.hpp>
#include <foldopt/problems/bilinear.hpp>

#include <memory>

namespace foldopt {
namespace detail {

/// `layout` is the state's (n = 2m per instance); Q is m×m (any split); the blocks `c` and `d`
/// have B·m entries with PETSc's split of B·m.
std::unique_ptr<Objective> make_bilinear_objective(const Layout& layout, Mat Q, BilinearSmoothing smoothing, PetscReal mu);

}  // namespace detail
}  // namespace foldopt

#endif
