// foldopt: the box-constrained quadratic program (problem `qp_box`)
//
//   min_x ½ xᵀ H x − qᵀ x   subject to  lb ≤ x ≤ ub        (±inf allowed in lb, ub)
//
// with parameter blocks `q`, `lb`, `ub`. H is sparse, symmetric; a batch of B instances shares
// one H per instance (stored block-diagonally). Built from data (validated collectively: square
// symmetric H, matching sizes, no NaN, lb ≤ ub, lb < +inf, ub > −inf) or generated
// reproducibly: H the 5-point 2-D Laplacian on a grid of ⌈√n⌉ columns plus a shift, the
// solution x* chosen first, about a third of the bounds active, and q = H x* − μ from the KKT
// conditions, so x* is known exactly. Entries are drawn by global index, so the instance is the
// same at any number of ranks.
#ifndef FOLDOPT_PROBLEMS_QP_BOX_HPP
#define FOLDOPT_PROBLEMS_QP_BOX_HPP

#include <foldopt/problem.hpp>

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

class BoxQP : public Problem {
 public:
  /// From data; the problem takes new references. Throws (collectively) on invalid input.
  BoxQP(Mat H, Vec q, Vec lb, Vec ub, PetscInt batch = 1);

  static std::unique_ptr<BoxQP> generate(MPI_Comm comm, const BoxQPGenerator& gen);
  /// From files (see io.hpp for formats); names the offending file in errors.
  static std::unique_ptr<BoxQP> load(MPI_Comm comm, const std::string& hmat, const std::string& q,
                                     const std::string& lb, const std::string& ub);
  /// Build from options: files if -Hmat is given (then -q, -lb, -ub), else generated.
  static std::unique_ptr<BoxQP> from_options(MPI_Comm comm);

  std::string type() const override { return "qp_box"; }
  const Layout& layout() const override { return layout_; }
  const ParamSet& params() const override { return theta_; }
  std::string default_map() const override { return "pgd"; }
  void view(PetscViewer viewer) const override;
  std::vector<std::pair<std::string, Mat>> data_matrices() const override { return {{"H", H_.get()}}; }

  PetscReal objective_gradient(Vec x, const ParamSet& theta, Vec g) override;
  void hessian_mult(Vec x, const ParamSet& theta, Vec v, Vec y) override;
  bool has_hessian() const override { return true; }
  OwnedMat hessian(Vec x, const ParamSet& theta) override;
  bool is_quadratic() const override { return true; }
  void gradient_param_t(Vec x, const ParamSet& theta, Vec v, ParamSet& out) override;
  void gradient_param(Vec x, const ParamSet& theta, const ParamSet& dtheta, Vec y) override;

  bool has_bounds() const override { return true; }
  void bounds(const ParamSet& theta, Vec lb, Vec ub) override;
  std::string lower_bound_block() const override { return "lb"; }
  std::string upper_bound_block() const override { return "ub"; }
  Vec known_solution() const override { return xstar_; }
  /// When H is diagonal (collective check: no nonzero off the diagonal, positive diagonal):
  /// x = clamp(q ./ diag(H), lb, ub). Otherwise false, with the reason in `why`.
  bool closed_form(const ParamSet& theta, Vec x, std::string* why) override;

  Mat H() const { return H_; }
  /// Fraction of entries whose bound is active at the known solution (generated instances).
  PetscReal active_fraction() const { return active_fraction_; }

 private:
  BoxQP() = default;
  void validate();

  Layout layout_;
  OwnedMat H_;
  ParamSet theta_;
  OwnedVec xstar_;
  PetscReal active_fraction_ = -1;
};

/// Validate a loss gradient ∂L/∂x* for this problem (size, finite), collectively.
void validate_loss_gradient(const Problem& p, Vec g, const std::string& name);

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_QP_BOX_HPP
