// foldopt: projections onto the probability simplex {x ≥ 0, Σx = 1} (prox `simplex`) and onto
// the capped simplex {0 ≤ x ≤ 1, Σx = k} (prox `capped_simplex`), per instance of the batch, and
// onto a product of capped simplices {0 ≤ x ≤ 1, Σ over segment j of an instance = k_j} (prox
// `capped_simplex_product`: the bilinear problem's (x, y) with Σx = p, Σy = q).
#ifndef FOLDOPT_PROX_SIMPLEX_HPP
#define FOLDOPT_PROX_SIMPLEX_HPP

#include <foldopt/prox.hpp>

#include <vector>

namespace foldopt {

/// Projection onto {lo ≤ x ≤ hi, Σx = k} per instance, by a threshold (batch::thresholds):
/// x = clamp(z − τ, lo, hi), J = D_F − f fᵀ/|F| on the free set F = {lo < z − τ < hi}. More
/// generally per segment: an instance cut into r segments of n/r entries with sums k_1 … k_r.
class SumProjectionProx : public Prox {
 public:
  Capabilities capabilities() const override;
  std::string describe() const override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec, ParamSet&) override {}
  void param(const ParamSet&, Vec) override {}
  PetscInt free_count() const override { return free_; }
  /// The thresholds τ of the last apply or linearize (one per segment: per instance unless cut).
  const std::vector<PetscReal>& thresholds() const { return tau_; }

 protected:
  SumProjectionProx(const char* name, const Layout& layout, PetscReal lo, PetscReal hi, PetscReal k);
  /// Every instance cut into sums.size() segments of layout.n / sums.size() entries, segment j
  /// with the sum sums[j].
  SumProjectionProx(const char* name, const Layout& layout, PetscReal lo, PetscReal hi, const std::vector<PetscReal>& sums);
  void set_sum(PetscReal k);
  void set_sums(const std::vector<PetscReal>& sums);
  const char* name_;
  Layout layout_;
  PetscReal lo_, hi_, k_;
  PetscInt segment_;               ///< entries per segment (layout.n unless cut)
  std::vector<PetscReal> sums_;    ///< the sum of each segment of one instance

 private:
  void project(Vec z, Vec y);
  std::vector<PetscReal> tau_, size_;  ///< per instance: τ and |F|
  OwnedVec mask_, work_;
  PetscInt free_ = -1;
};

class SimplexProx : public SumProjectionProx {
 public:
  explicit SimplexProx(const Layout& layout);
  std::string type() const override { return "simplex"; }
};

class CappedSimplexProx : public SumProjectionProx {
 public:
  /// 0 ≤ x ≤ 1, Σx = k per instance, 0 ≤ k ≤ n.
  CappedSimplexProx(const Layout& layout, PetscReal k);
  std::string type() const override { return "capped_simplex"; }
  /// -<prefix>k NUM.
  void set_from_options() override;
};

class CappedSimplexProductProx : public SumProjectionProx {
 public:
  /// Each instance of layout.n entries cut into sums.size() equal segments; segment j is
  /// projected onto {0 ≤ x ≤ 1, Σx = sums[j]} (0 ≤ sums[j] ≤ its length).
  CappedSimplexProductProx(const Layout& layout, const std::vector<PetscReal>& sums);
  std::string type() const override { return "capped_simplex_product"; }
  std::string describe() const override;
  /// -<prefix>sums k1,k2,… (the number of segments is the number of values).
  void set_from_options() override;
};

}  // namespace foldopt

#endif
