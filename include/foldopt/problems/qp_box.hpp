// foldopt: the box-constrained quadratic program (problem `qp_box`)
//
//   min_x ½ xᵀ H x − qᵀ x   subject to  lb ≤ x ≤ ub        (±inf allowed in lb, ub)
//
// with parameter blocks, in this order, `q`, `lb`, `ub` (vectors per instance, B·n entries) and
// `H.values` (H's stored nonzeros in global CSR order, with H as the pattern; matrix_values.hpp).
// H is symmetric, AIJ or dense (read_mat's storage rule, io.hpp; a dense H's pattern is every
// entry); a batch of B instances stores one H per instance block-diagonally
// (B·n × B·n), and `H.values` is the values of that whole block-diagonal matrix (a generated
// batch repeats one H per instance, but each instance's copy is its own parameters, and the
// gradient of each copy is that instance's). The values block treats the stored entries H_ij and
// H_ji as independent parameters: its gradient is the derivative with respect to each stored
// value, and a perturbation must move H_ij and H_ji together to keep the QP valid (H from θ is
// not re-checked for symmetry). At a solution x* with free set F and L = L(x*):
//   ∂L/∂H_ij = −(∂L/∂q)_i x*_j  on the stored pattern,  ∂L/∂q_F = H_FF⁻¹ ∂L/∂x*_F.
// A missing diagonal entry of H is stored as an explicit zero (so it is part of the pattern).
//
// A composite problem (composite.hpp) with the parts make_quadratic(layout, H, "q", true,
// "H.values") and BoxProx::from_blocks(layout, "lb", "ub"), under the map `pgd`. Built from data
// (validated collectively: square symmetric H, matching sizes, no NaN, lb ≤ ub, lb < +inf,
// ub > −inf) or generated reproducibly: H the 5-point 2-D Laplacian on a grid of ⌈√n⌉ columns
// plus a shift, the solution x* chosen first, about a third of the bounds active, and
// q = H x* − μ from the KKT conditions, so x* is known exactly. Entries are drawn by global
// index, so the instance is the same at any number of ranks.
#ifndef FOLDOPT_PROBLEMS_QP_BOX_HPP
#define FOLDOPT_PROBLEMS_QP_BOX_HPP

#include <foldopt/problems/composite.hpp>

#include <memory>
#include <string>

namespace foldopt {

/// How a qp_box instance is generated (options -n, -seed, -shift, -active_pattern, -batch).
struct BoxQPGenerator {
  PetscInt n = 10000;              ///< unknowns per instance
  PetscInt batch = 1;              ///< instances B
  unsigned long seed = 1;
  PetscReal shift = 0.1;           ///< H = L + shift·I
  std::string pattern = "random";  ///< active set: "random" (a third of entries, scattered) or
                                   ///< "block" (the last third of grid columns: a large free
                                   ///< region, so a badly conditioned reduced Hessian)
  PetscReal unbounded = 0.1;       ///< fraction of inactive bounds set to ±inf
};

class BoxQP : public CompositeProblem {
 public:
  /// From data; the problem takes new references. Throws (collectively) on invalid input.
  BoxQP(Mat H, Vec q, Vec lb, Vec ub, PetscInt batch = 1);

  static std::unique_ptr<BoxQP> generate(MPI_Comm comm, const BoxQPGenerator& gen);
  /// From files (see io.hpp for formats); names the offending file in errors.
  static std::unique_ptr<BoxQP> load(MPI_Comm comm, const std::string& hmat, const std::string& q,
                                     const std::string& lb, const std::string& ub);
  /// Build from options: files if -Hmat is given (then -q, -lb, -ub), else generated.
  static std::unique_ptr<BoxQP> from_options(MPI_Comm comm);

  std::string default_map() const override { return "pgd"; }
  void view(PetscViewer viewer) const override;
  std::vector<std::pair<std::string, Mat>> data_matrices() const override { return {{"H", H_.get()}}; }

  // The objective functions (objective_gradient, hessian_mult, hessian, gradient_param_t,
  // gradient_param; has_hessian and is_quadratic true) are the quadratic part's, with H's
  // values from θ's `H.values`.

  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& theta, Vec lb, Vec ub) override;
  std::string lower_bound_block() const override { return "lb"; }
  std::string upper_bound_block() const override { return "ub"; }
  /// When H (with θ's values) is diagonal (collective check: no nonzero off the diagonal, positive diagonal):
  /// x = clamp(q ./ diag(H), lb, ub). Otherwise false, with the reason in `why`.
  bool closed_form(const ParamSet& theta, Vec x, std::string* why) override;

  /// The data matrix H (the pattern of `H.values`; its values are the data's, not θ's).
  Mat H() const { return H_; }
  /// Fraction of entries whose bound is active at the known solution (generated instances).
  PetscReal active_fraction() const { return active_fraction_; }
  /// How H read from a file is stored, and why ("dense 300x300 (MatrixMarket array)"; empty for
  /// an H given or generated): the view's H line.
  const std::string& storage() const { return storage_; }

 private:
  OwnedMat H_;
  PetscReal active_fraction_ = -1;
  std::string storage_;
};

/// Validate a loss gradient ∂L/∂x* for this problem (size, finite), collectively.
void validate_loss_gradient(const Problem& p, Vec g, const std::string& name);

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_QP_BOX_HPP
