// foldopt: the `admm` forward solver (OSQP's iteration on the ADMM map's state; see admm.cpp).
#ifndef FOLDOPT_SRC_FORWARD_ADMM_HPP
#define FOLDOPT_SRC_FORWARD_ADMM_HPP

#include <foldopt/forward.hpp>

#include <memory>
#include <vector>

namespace foldopt {

class AdmmMap;

class AdmmForward : public ForwardSolver {
 public:
  /// Over the ADMM map itself, or over another map whose state is the unknowns x of a problem
  /// that is an AdmmSource (f-PGDb on qp): then the forward owns an ADMM map of the problem
  /// (options under the forward's prefix without `fwd_`, e.g. fold_admm_*), iterates its state
  /// (x, z, y) and returns x.
  explicit AdmmForward(const ForwardContext& ctx);
  ~AdmmForward() override;
  /// The stopping tolerance (before set_from_options, whose -<prefix>admm_tol wins).
  void set_tolerance(PetscReal tol) { tol_ = tol; }
  /// OSQP's ρ rule on or off (before set_from_options, whose -<prefix>admm_adaptive_rho wins).
  void set_adaptive_rho(bool on) { adaptive_rho_ = on ? PETSC_TRUE : PETSC_FALSE; }
  std::string type() const override { return "admm"; }
  bool solves_map_state() const override { return true; }
  void set_from_options() override;
  ForwardReport solve(const ParamSet& theta, Vec s) override;
  void view(PetscViewer viewer) const override;
  /// The owned ADMM map's (its linear system's factorization options), when it owns one.
  std::vector<std::string> deferred_option_prefixes() const override;

 private:
  /// The polished state from s (equality-constrained QP on the guessed active set); false when
  /// the guess has not changed since the last attempt.
  bool polish(AdmmMap& map, const ParamSet& theta, Vec s, Vec out);
  /// Throws when OSQP's certificates show that an instance is infeasible or unbounded.
  void certificates(AdmmMap& map, const ParamSet& theta, Vec s, Vec s_prev);
  ForwardReport solve_state(AdmmMap& map, const ParamSet& theta, Vec s);

  ForwardContext ctx_;
  std::unique_ptr<UpdateMap> own_map_;  ///< the problem's ADMM map when ctx.map is another map
  OwnedVec own_state_;                  ///< its state (warm start)
  PetscReal tol_ = 1e-10, cert_tol_ = 1e-5, polish_start_ = 1e-3;
  PetscInt max_it_ = 100000, check_every_ = 10;
  PetscBool polish_ = PETSC_TRUE, monitor_ = PETSC_FALSE, adaptive_rho_ = PETSC_TRUE;
  // the last solve
  PetscInt rho_updates_ = 0, polish_tries_ = 0, polish_accepted_ = 0;
  PetscReal last_rho_ = 0;
  std::vector<PetscInt> last_guess_;
};

}  // namespace foldopt

#endif  // FOLDOPT_SRC_FORWARD_ADMM_HPP
