// foldopt: the unrolled baseline, reverse-mode differentiation through K solver steps.
//
// What folding replaces: run K steps x_{k+1} = U(x_k; θ) of any UpdateMap from a start x₀, keep
// the states on a tape, and back-propagate g = ∂L/∂x_K through them:
//     λ_K = g;  for k = K−1..0:  linearize at (x_k, θ),  grad += Ψ_kᵀ λ_{k+1},  λ_k = Φ_kᵀ λ_{k+1}.
// The result is ∂L/∂θ of the K-step solver (not of x*). Theorem 1 of the paper (Kotary, Dinh,
// Fioretto 2023): from x₀ = x* every Φ_k = Φ(x*) and the K-step gradient is exactly Ψᵀ w_K, with
// w_K the K-th iterate of linear fixed-point iteration (LFPI) on (I − Φᵀ) w = g from w₀ = 0;
// from any other start the backward error ‖grad_K − ∂L/∂θ‖ decays asymptotically like ρ(Φ)^K.
//
// Memory: the tape holds the K states x_0..x_{K−1} (x_K is not needed by the reverse pass), i.e.
// K · N · sizeof(PetscScalar) bytes summed over ranks (N = batch·n). run() refuses, on every rank,
// with a foldopt::Error giving the figure when this exceeds -fold_unrolled_max_memory.
//
// Diagnostics (when x* is given): the forward error ‖x_k − x*‖₂ for k = 0..K, and, when a folded
// reference gradient is given, the relative backward error at K. With -fold_unrolled_history the
// backward error of every k = 0..K is computed: k-step gradients share the tape's prefix but each
// needs its own reverse pass, K(K+1)/2 linearizations and Φᵀ/Ψᵀ products in all (O(K²)). From
// x₀ = x* (start `solution`) whose tape stays at x* (every ‖x_k − x₀‖₂ ≤ 1e-8·max(1, ‖x₀‖₂)), all
// Φ_k = Φ(x*) and one pass gives all k (O(K)); UnrolledResult::note says which was used.
//
// Options (prefix `fold_` by default):
//   -fold_unrolled_steps K                     steps (default 100)
//   -fold_unrolled_start solution|zero|random  x₀ (default solution: x*, the fixed-point unfolding
//                                              of Section 4, where unrolling is exactly LFPI; it
//                                              needs x*, which FoldedLayer always passes)
//   -fold_unrolled_seed S                      seed of the random start (fill_random: uniform in
//                                              [−1, 1), the same at any number of ranks; default 1)
//   -fold_unrolled_max_memory BYTES            tape limit, suffixes K, M, G, T (binary; KiB, MB,
//                                              … accepted alike), default 2G
//   -fold_unrolled_history                     backward error of every k (see above; default off)
#ifndef FOLDOPT_UNROLLED_HPP
#define FOLDOPT_UNROLLED_HPP

#include <foldopt/params.hpp>

#include <petscviewer.h>

#include <string>
#include <vector>

namespace foldopt {

class UpdateMap;

enum class UnrolledStart { solution, zero, random };
const char* to_string(UnrolledStart s);

struct UnrolledResult {
  PetscInt steps = 0;                     ///< K
  UnrolledStart start = UnrolledStart::solution;
  unsigned long seed = 1;                 ///< of the random start
  ParamSet gradient;                      ///< ∂L/∂θ of K unrolled steps (λ_K = g)
  PetscReal xstar_norm = -1;              ///< ‖x*‖₂ (−1 without x*)
  std::vector<PetscReal> forward_error;   ///< ‖x_k − x*‖₂, k = 0..K (empty without x*)
  PetscReal reference_norm = -1;          ///< ‖folded gradient‖₂ over all blocks (−1 without one)
  PetscReal backward_error = -1;          ///< ‖grad_K − folded‖₂ / ‖folded‖₂ (−1 without one)
  std::vector<PetscReal> backward_error_history;  ///< the same for every k = 0..K (history only)
  bool history_shortcut = false;          ///< history from one pass (tape stayed at x*)
  double tape_bytes = 0;                  ///< K·N·sizeof(PetscScalar), summed over ranks
  PetscInt applies = 0;                   ///< U(x; θ) evaluations (forward)
  PetscInt linearizations = 0;            ///< linearize() calls, history and restore included
  PetscInt phi_t_products = 0, psi_t_products = 0;
  double forward_seconds = 0, reverse_seconds = 0, history_seconds = 0, seconds = 0;
  std::string note;
};

class UnrolledBaseline {
 public:
  explicit UnrolledBaseline(MPI_Comm comm, const std::string& prefix = "fold_");

  void set_steps(PetscInt k);
  PetscInt steps() const { return steps_; }
  void set_start(UnrolledStart s) { start_ = s; }
  UnrolledStart start() const { return start_; }
  void set_seed(unsigned long s) { seed_ = s; }
  /// Largest tape in bytes (summed over ranks).
  void set_max_memory(double bytes);
  double max_memory() const { return max_memory_; }
  void set_history(bool on) { history_ = on; }
  bool history() const { return history_; }
  /// Reads -<prefix>unrolled_steps, _start, _seed, _max_memory, _history.
  void set_from_options();

  /// Tape bytes of K states of `map` (summed over ranks) and the check against the limit:
  /// throws foldopt::Error (collective) naming both figures when it does not fit.
  double tape_bytes(const UpdateMap& map) const;
  void check_memory(const UpdateMap& map) const;

  /// Unroll K steps of `map` from the chosen start and back-propagate g. `x_star` (may be null)
  /// is the reference for the forward errors and the `solution` start; `folded` (may be null)
  /// the reference gradient for the backward errors. On return the map is linearized at x* if
  /// given (else at x₀). The result is kept (result()) until the next run.
  const UnrolledResult& run(UpdateMap& map, const ParamSet& theta, Vec g, Vec x_star = nullptr,
                            const ParamSet* folded = nullptr);
  bool has_result() const { return have_result_; }
  const UnrolledResult& result() const { return result_; }
  /// Text report of the last run (K, start, tape memory, errors, products, time).
  void view(PetscViewer viewer) const;

 private:
  MPI_Comm comm_;
  std::string prefix_;
  PetscInt steps_ = 100;
  UnrolledStart start_ = UnrolledStart::solution;
  unsigned long seed_ = 1;
  double max_memory_ = 2.0 * 1024 * 1024 * 1024;
  bool history_ = false;
  bool have_result_ = false;
  UnrolledResult result_;
};

/// "7.45 GiB", "312 KiB", "100 B" (binary units, 3 significant digits).
std::string format_bytes(double bytes);
/// Parse "2147483648", "2G", "512M", "1.5GiB", "64kB" (binary units, case-insensitive); throws
/// foldopt::Error naming `what` on anything else.
double parse_bytes(const std::string& text, const std::string& what);

}  // namespace foldopt

#endif  // FOLDOPT_UNROLLED_HPP
