// foldopt: sparsemax (problem `sparsemax`), the Euclidean projection onto the probability simplex
//
//   x*(θ) = argmin_x ‖x − θ‖²   subject to  x ≥ 0,  Σᵢ xᵢ = 1     (per instance of a batch)
//
// with the parameter block `theta`. Composite form: f = ½‖x‖² − θᵀx (quadratic, H = I) and h the
// indicator of the simplex (SimplexProx); the default stepsize α = 1 makes one prox-gradient step
// the exact solution (U(x) = P(θ), Φ = 0). The closed form is that projection (-fold_fwd_type
// closed, the default): x = max(θ − τ, 0) with τ from the sorted θ; its Jacobian is
// J = diag(s) − s sᵀ/|S| (s the 0/1 support of x), so ∂L/∂θ = J g. The constraints are also
// given to forward solvers that take them (x ≥ 0 as bounds, Σx = 1 per instance).
// Options: -theta FILE (n entries, or an n×B array: a batch), or generated: -n N -batch B
// -seed S (θ uniform in [−1, 1) by global index, the same at any number of ranks).
#ifndef FOLDOPT_PROBLEMS_SPARSEMAX_HPP
#define FOLDOPT_PROBLEMS_SPARSEMAX_HPP

#include <foldopt/problems/composite.hpp>

#include <memory>

namespace foldopt {

class Sparsemax : public SumConstrainedProblem {
 public:
  /// From θ (B·n entries, instance after instance; the problem takes a new reference).
  Sparsemax(Vec theta, PetscInt batch);
  static std::unique_ptr<Sparsemax> generate(MPI_Comm comm, PetscInt n, PetscInt batch, unsigned long seed);
  static std::unique_ptr<Sparsemax> from_options(MPI_Comm comm);

  std::string default_forward() const override { return "closed"; }
  void view(PetscViewer viewer) const override;
  bool closed_form(const ParamSet& theta, Vec x, std::string* why) override;

};

}  // namespace foldopt

#endif  // FOLDOPT_PROBLEMS_SPARSEMAX_HPP
