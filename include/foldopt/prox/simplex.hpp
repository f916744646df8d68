// foldopt: projections onto the probability simplex {x ≥ 0, Σx = 1} (prox `simplex`) and onto
// the capped simplex {0 ≤ x ≤ 1, Σx = k} (prox `capped_simplex`), per instance of the batch.
#ifndef FOLDOPT_PROX_SIMPLEX_HPP
#define FOLDOPT_PROX_SIMPLEX_HPP

#include <foldopt/prox.hpp>

#include <vector>

namespace foldopt {

/// Projection onto {lo ≤ x ≤ hi, Σx = k} per instance, by a threshold (batch::thresholds):
/// x = clamp(z − τ, lo, hi), J = D_F − f fᵀ/|F| on the free set F = {lo < z − τ < hi}.
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
  /// The thresholds τ of the last apply or linearize (one per instance).
  const std::vector<PetscReal>& thresholds() const { return tau_; }

 protected:
  SumProjectionProx(const char* name, const Layout& layout, PetscReal lo, PetscReal hi, PetscReal k);
  void set_sum(PetscReal k);
  const char* name_;
  Layout layout_;
  PetscReal lo_, hi_, k_;

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

}  // namespace foldopt

#endif
