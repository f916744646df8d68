// foldopt: the lasso (problem `lasso`)
//
//   min_β ½ ‖Xβ − y‖² + λ ‖β‖₁
//
// with parameter blocks `y` (one vector of m entries per instance: B·m), `lambda` (a scalar shared
// by the batch) and `X.values` (X's stored nonzeros in global CSR order, with X as the pattern;
// matrix_values.hpp). X is sparse m×n, one matrix shared by every instance of a batch. The parts
// are make_least_squares(layout, X, "y", "X.values") and L1Prox(layout, "lambda") under the map
// `prox_grad`; the default forward solver is `fista`.
//
// Built from data (validated collectively: y has B·m entries, X, y and λ finite, λ ≥ 0, X has a
// nonzero entry) or generated reproducibly by global index (the same at any number of ranks):
// X sparse random, β* sparse, y = Xβ* + small noise. When λ is not given it is
// λ = 0.1 · min_b ‖Xᵀy_b‖∞ (a tenth of the smallest λ at which some instance's solution is 0).
#ifndef FOLDOPT_PROBLEMS_LASSO_HPP
#define FOLDOPT_PROBLEMS_LASSO_HPP

#include <foldopt/problems/composite.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace foldopt {

/// How a lasso instance is generated (options -n, -m, -seed, -batch, -density, -sparsity, -noise,
/// -lambda).
struct LassoGenerator {
  PetscInt n = 1000;         ///< unknowns per instance
  PetscInt m = 0;            ///< rows of X (0: 2n)
  PetscInt batch = 1;        ///< instances B (one X, B right-hand sides y)
  unsigned long seed = 1;
  PetscReal density = 0.05;  ///< probability of an entry of X being stored (plus one per row, so
                             ///< that every column of X has an entry when m ≥ n)
  PetscReal sparsity = 0.1;  ///< fraction of nonzero entries of β* (at least one per instance)
  PetscReal noise = 0.01;    ///< y = Xβ* + noise·e, e uniform in [−1, 1)
  std::optional<PetscReal> lambda;  ///< absent: the default 0.1 · min_b ‖Xᵀy_b‖∞
};

class Lasso : public CompositeProblem {
 public:
  /// From data: X (m×n AIJ) shared by the B instances of y (B·m entries, PETSc's split of B·m),
  /// λ ≥ 0 finite, or absent for the default. The problem takes new references. Throws
  /// (collectively) on invalid input; `xname` and `yname` name X and y in the errors (e.g. files).
  Lasso(Mat X, Vec y, PetscInt batch, std::optional<PetscReal> lambda = std::nullopt, const std::string& xname = "X",
        const std::string& yname = "y");

  static std::unique_ptr<Lasso> generate(MPI_Comm comm, const LassoGenerator& gen);
  /// From files: X (-Xmat) and y (-y: m entries, or an m×B array for a batch of B).
  static std::unique_ptr<Lasso> load(MPI_Comm comm, const std::string& xmat, const std::string& y,
                                     std::optional<PetscReal> lambda = std::nullopt);
  /// Build from options: files if -Xmat is given (then -y), else generated; -lambda either way.
  static std::unique_ptr<Lasso> from_options(MPI_Comm comm);

  std::string default_forward() const override { return "fista"; }
  void view(PetscViewer viewer) const override;
  std::vector<std::pair<std::string, Mat>> data_matrices() const override { return {{"X", X_.get()}}; }

  Mat X() const { return X_; }
  PetscInt rows() const { return m_; }
  PetscReal lambda() const { return lambda_; }
  /// The generator's β* (B·n entries, like the unknowns), or null for data: the vector y was made
  /// from, not the lasso solution.
  Vec planted() const { return planted_; }
  /// How X read from a file is stored, and why (io::StorageChoice::describe; empty otherwise).
  const std::string& storage() const { return storage_; }

 private:
  std::string storage_;
  OwnedMat X_;
  OwnedVec planted_;
  PetscInt m_ = 0;
  PetscReal lambda_ = 0;
  bool lambda_default_ = false;
  PetscInt planted_support_ = -1;  ///< nonzeros of β* over the batch (generated instances)
  PetscReal noise_ = 0;
};

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_LASSO_HPP
