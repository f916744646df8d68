// foldopt: smooth top-k (problem `topk`), the entropy-regularized LP over the capped simplex
//
//   x*(c) = argmax_x cᵀx − ε Σᵢ xᵢ log xᵢ   subject to  0 ≤ x ≤ 1,  Σᵢ xᵢ = k   (per instance)
//
// with the parameter block `c` (k and ε are numbers: -k, -epsilon). Composite form: f = −cᵀx +
// ε Σ x log x (the entropy objective) and h the indicator of the capped simplex. Closed form
// (the default forward, -fold_fwd_type closed): xᵢ = min(1, exp((cᵢ − τ)/ε − 1)) with τ per
// instance from Σ xᵢ = k (a safeguarded Newton iteration on a bracket, one reduction of B
// numbers per step). On the free set F = {x < 1} its Jacobian is ∂x_F/∂c_F = diag(s) − s sᵀ/Σs
// with s = x_F/ε, and entries at 1 do not move.
//
// The entropy is badly scaled (∇²f = ε diag(1/x), x down to 1e-9 and below on the free set):
// the problem's default stepsize is α = 1/ε, so that α∇²f = diag(1/x) ⪰ I on 0 < x ≤ 1, and the
// default preconditioner is Jacobi (the diagonal of I − Φ is ≈ 1/x on the free set): the backward
// then solves to 1e-12 in a few iterations. LFPI does not converge there (ρ(Φ) ≫ 1): it needs
// α < 2/λmax, i.e. -fold_pgd_stepsize below 2·min(x_F)/ε. Entries that underflow to 0 count as
// at the bound 0.
// Options: -c FILE (n entries, or an n×B array), or generated: -n N -batch B -seed S (c uniform in
// [−1, 1)); -k K (default 5, 0 < k < n), -epsilon EPS (default 0.1).
#ifndef FOLDOPT_PROBLEMS_TOPK_HPP
#define FOLDOPT_PROBLEMS_TOPK_HPP

#include <foldopt/problems/composite.hpp>

#include <memory>

namespace foldopt {

class TopK : public SumConstrainedProblem {
 public:
  /// From c (B·n entries; a new reference is taken), 0 < k < n, ε > 0.
  TopK(Vec c, PetscInt batch, PetscReal k, PetscReal epsilon);
  static std::unique_ptr<TopK> generate(MPI_Comm comm, PetscInt n, PetscInt batch, unsigned long seed, PetscReal k,
                                        PetscReal epsilon);
  static std::unique_ptr<TopK> from_options(MPI_Comm comm);

  std::string default_forward() const override { return "closed"; }
  PetscReal default_stepsize() const override { return 1.0 / epsilon_; }
  std::string default_pc_type() const override { return "jacobi"; }
  bool default_pc_left() const override { return true; }
  void view(PetscViewer viewer) const override;
  bool closed_form(const ParamSet& theta, Vec x, std::string* why) override;


  PetscReal k() const { return k_; }
  PetscReal epsilon() const { return epsilon_; }

 private:
  PetscReal k_, epsilon_;
};

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_TOPK_HPP
