// foldopt: projection onto a box {lb ≤ x ≤ ub} (prox `box`), and onto the nonnegative orthant
// (prox `nonnegative`, nonnegative.hpp).
//
// Bounds come from one of: the parameter blocks named `lb` and `ub` (B·n entries each, θ-dependent),
// fixed Vecs (B·n entries), fixed numbers (±inf allowed), or a scalar block λ giving [−λ, λ].
#ifndef FOLDOPT_PROX_BOX_HPP
#define FOLDOPT_PROX_BOX_HPP

#include <foldopt/prox.hpp>

#include <functional>
#include <memory>
#include <string>

namespace foldopt {

class BoxProx : public Prox {
 public:
  /// Bounds from the parameter blocks `lb` and `ub` (an empty name: no bound on that side).
  static std::unique_ptr<BoxProx> from_blocks(const Layout& layout, const std::string& lb = "lb",
                                              const std::string& ub = "ub");
  /// Fixed bounds (B·n entries each; null: no bound on that side). The prox keeps references.
  static std::unique_ptr<BoxProx> from_vecs(const Layout& layout, Vec lb, Vec ub);
  /// Fixed numbers lo ≤ hi (−inf / +inf: no bound).
  static std::unique_ptr<BoxProx> from_numbers(const Layout& layout, PetscReal lo, PetscReal hi);
  /// Bounds computed by `bounds(θ, lb, ub)` (a Problem's own, Problem::bounds), differentiated
  /// into the blocks `lb_block` and `ub_block` where θ has them (∂lb/∂θ_lb = I; "" for none);
  /// `what` names them in reports. The options -<prefix>lb / -<prefix>ub do not apply.
  static std::unique_ptr<BoxProx> from_function(const Layout& layout,
                                                std::function<void(const ParamSet&, Vec, Vec)> bounds,
                                                const std::string& lb_block, const std::string& ub_block,
                                                const std::string& what);
  /// [−λ, λ] with λ ≥ 0 the scalar parameter block `lambda`.
  static std::unique_ptr<BoxProx> symmetric(const Layout& layout, const std::string& lambda = "lambda");

  std::string type() const override { return "box"; }
  Capabilities capabilities() const override;
  std::string describe() const override;
  /// -<prefix>lb NUM, -<prefix>ub NUM: fixed numbers in place of the blocks.
  void set_from_options() override;
  void apply(Vec z, PetscReal alpha, const ParamSet& theta, Vec y) override;
  void linearize(Vec z, PetscReal alpha, const ParamSet& theta) override;
  void jacobian_mult(Vec v, Vec y) override;
  void jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) override;
  void factor_mult(Vec v, Vec y) override;
  void param_t(Vec v, ParamSet& out) override;
  void param(const ParamSet& dtheta, Vec y) override;
  PetscInt free_count() const override { return free_; }

  /// One side of the box.
  struct Side {
    enum Kind { none, number, from_block, fixed_vec } kind = none;
    PetscReal value = 0;
    std::string block;
    OwnedVec vec;
  };

 private:
  explicit BoxProx(const Layout& layout) : layout_(layout) {}
  void bounds(Vec like, const ParamSet& theta);
  void fill_sides(const ParamSet& theta);
  /// lb ≤ ub entry by entry, lb < +inf, ub > −inf (collective).
  void check_bounds();
  /// Whether the parameter products go into side `s`'s block of `set`.
  bool takes_products(const Side& s, const ParamSet& set) const;
  Layout layout_;
  Side lo_, hi_;
  std::string lambda_;  ///< symmetric box [−λ, λ] when not empty
  std::function<void(const ParamSet&, Vec, Vec)> fn_;  ///< bounds by a function (from_function)
  std::string fn_what_;
  OwnedVec lb_, ub_, free_mask_, at_lo_, at_hi_, work_;
  PetscInt free_ = -1;
  bool linearized_ = false;
};

}  // namespace foldopt

#endif
