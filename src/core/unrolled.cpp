// foldopt: the unrolled baseline (see include/foldopt/unrolled.hpp).
//
// Method: forward K steps x_{k+1} = U(x_k; θ) keeping x_0..x_{K−1} on a tape; reverse
//   λ_K = g, for k = K−1..0: linearize(x_k, θ), grad += Ψ_kᵀ λ_{k+1}, λ_k = Φ_kᵀ λ_{k+1}
//   (λ_0 = ∂L/∂x₀ is not formed: θ does not need it, so K−1 Φᵀ products for K steps).
// Algorithm of the history (-fold_unrolled_history): grad_k for every k = 1..K−1 by its own
//   reverse pass over the tape's prefix x_0..x_{k−1} (O(K²) linearizations and products), or, when
//   the start is x* and the tape stayed there, by one pass accumulating Σ_{j<k} Ψᵀ (Φᵀ)^j g at
//   Φ = Φ(x*), which Theorem 1 identifies with Ψᵀ of the k-th LFPI iterate (O(K)).
// References: Kotary, Dinh, Fioretto, "Analyzing and Enhancing the Backward-Pass Convergence of
//   Unrolled Optimization" (2023), Section 4 and Figure 3; Griewank & Walther, Evaluating
//   Derivatives (SIAM 2008), §12 (tape memory of reverse mode).
#include <foldopt/unrolled.hpp>

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/log.hpp"
#include "core/options.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace foldopt {

const char* to_string(UnrolledStart s) {
  switch (s) {
    case UnrolledStart::solution: return "solution";
    case UnrolledStart::zero: return "zero";
    case UnrolledStart::random: return "random";
  }
  return "?";
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  double v = bytes;
  while (std::abs(v) >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return detail::format("%.0f B", v);
  return v >= 100 ? detail::format("%.0f %s", v, units[u]) : detail::format("%.3g %s", v, units[u]);
}

double parse_bytes(const std::string& text, const std::string& what) {
  const char* s = text.c_str();
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  std::string suffix;
  if (end != s)
    for (const char* p = end; *p; ++p)
      if (!std::isspace(static_cast<unsigned char>(*p))) suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
  double mult = -1;
  if (end != s) {
    static const char* const prefixes = "kmgtp";
    if (suffix.empty() || suffix == "b") {
      mult = 1;
    } else if (const char* c = std::strchr(prefixes, suffix[0])) {
      const std::string rest = suffix.substr(1);
      if (rest.empty() || rest == "b" || rest == "ib") mult = std::pow(1024.0, (double)(c - prefixes) + 1);
    }
  }
  FOLDOPT_CHECK(mult > 0 && std::isfinite(v) && v > 0, PETSC_ERR_ARG_WRONG,
                "%s '%s': expected a positive number of bytes, optionally with a suffix K, M, G or T (binary), "
                "e.g. 512M or 2G",
                what.c_str(), text.c_str());
  return v * mult;
}

namespace {

struct UnrolledOptions {
  PetscInt steps = 100;
  PetscInt start = 0;
  PetscInt seed = 1;
  char max_memory[64] = "";
  PetscBool history = PETSC_FALSE;
};

PetscErrorCode read_unrolled_options(MPI_Comm comm, const char* prefix, UnrolledOptions* o) {
  static const char* const starts[] = {"solution", "zero", "random"};
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Unrolled baseline (-fold_backward unrolled)", "UnrolledBaseline");
  PetscCall(PetscOptionsInt("-unrolled_steps", "Unrolled solver steps K", "UnrolledBaseline::set_steps", o->steps, &o->steps,
                            nullptr));
  PetscCall(PetscOptionsEList("-unrolled_start", "Start x0 of the unrolled steps: x*, zero, or uniform random in [-1, 1)",
                              "UnrolledBaseline::set_start", starts, 3, starts[o->start], &o->start, nullptr));
  PetscCall(PetscOptionsInt("-unrolled_seed", "Seed of the random start", "UnrolledBaseline::set_seed", o->seed, &o->seed,
                            nullptr));
  PetscCall(PetscOptionsString("-unrolled_max_memory", "Largest tape in bytes, summed over ranks (suffixes K, M, G, T)",
                               "UnrolledBaseline::set_max_memory", o->max_memory, o->max_memory, sizeof o->max_memory,
                               nullptr));
  PetscCall(PetscOptionsBool("-unrolled_history", "Backward error of every k = 0..K (one reverse pass per k: O(K^2) products)",
                             "UnrolledBaseline::set_history", o->history, &o->history, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}

PetscReal norm(const ParamSet& p) { return std::sqrt(std::max<PetscReal>(PetscRealPart(p.dot(p)), 0)); }

// ‖a − ref‖₂ / ‖ref‖₂ over all blocks (absolute when ‖ref‖ = 0).
PetscReal relative_difference(const ParamSet& a, const ParamSet& ref, PetscReal ref_norm) {
  ParamSet d = a.copy();
  d.axpy(-1.0, ref);
  const PetscReal nd = norm(d);
  return ref_norm > 0 ? nd / ref_norm : nd;
}

PetscReal distance(Vec a, Vec b, Vec work) {
  FOLDOPT_CALL(VecWAXPY(work, -1.0, b, a));
  PetscReal d;
  FOLDOPT_CALL(VecNorm(work, NORM_2, &d));
  return d;
}

}  // namespace

UnrolledBaseline::UnrolledBaseline(MPI_Comm comm, const std::string& prefix) : comm_(comm), prefix_(prefix) {}

void UnrolledBaseline::set_steps(PetscInt k) {
  FOLDOPT_CHECK(k >= 0, PETSC_ERR_ARG_OUTOFRANGE, "unrolled: -%sunrolled_steps %" PetscInt_FMT " must be nonnegative",
                prefix_.c_str(), k);
  steps_ = k;
}

void UnrolledBaseline::set_max_memory(double bytes) {
  FOLDOPT_CHECK(bytes > 0 && std::isfinite(bytes), PETSC_ERR_ARG_OUTOFRANGE,
                "unrolled: -%sunrolled_max_memory %g must be positive", prefix_.c_str(), bytes);
  max_memory_ = bytes;
}

void UnrolledBaseline::set_from_options() {
  UnrolledOptions o;
  o.steps = steps_;
  o.start = static_cast<PetscInt>(start_);
  o.seed = static_cast<PetscInt>(seed_);
  o.history = history_ ? PETSC_TRUE : PETSC_FALSE;
  // Values checked before PETSc reads them (src/core/options.hpp): no wrapped integers, no value left out.
  const char* pre = prefix_.c_str();
  options::check_int(pre, "unrolled_steps", 0, PETSC_MAX_INT);
  options::check_choice(pre, "unrolled_start", {"solution", "zero", "random"});
  options::check_int(pre, "unrolled_seed", 0, PETSC_MAX_INT);
  options::check_string(pre, "unrolled_max_memory");
  options::check_bool(pre, "unrolled_history");
  FOLDOPT_CALL(read_unrolled_options(comm_, prefix_.c_str(), &o));
  set_steps(o.steps);
  start_ = static_cast<UnrolledStart>(o.start);
  FOLDOPT_CHECK(o.seed >= 0, PETSC_ERR_ARG_OUTOFRANGE, "unrolled: -%sunrolled_seed must be nonnegative", prefix_.c_str());
  seed_ = static_cast<unsigned long>(o.seed);
  if (o.max_memory[0]) set_max_memory(parse_bytes(o.max_memory, "-" + prefix_ + "unrolled_max_memory"));
  history_ = o.history;
}

double UnrolledBaseline::tape_bytes(const UpdateMap& map) const {
  // One state is a Vec of the map's layout: its global size in scalars, summed over ranks.
  return (double)steps_ * (double)map.layout().global() * (double)sizeof(PetscScalar);
}

void UnrolledBaseline::check_memory(const UpdateMap& map) const {
  const double need = tape_bytes(map);
  // Every rank computes the same global figures: the check is collective.
  FOLDOPT_CHECK(need <= max_memory_, PETSC_ERR_MEM,
                "unrolled: tape of K = %" PetscInt_FMT " states needs %s > -%sunrolled_max_memory %s (%" PetscInt_FMT
                " entries of %d bytes per state); lower -%sunrolled_steps or use the folded backward (-%sbackward krylov)",
                steps_, format_bytes(need).c_str(), prefix_.c_str(), format_bytes(max_memory_).c_str(),
                map.layout().global(), (int)sizeof(PetscScalar), prefix_.c_str(), prefix_.c_str());
}

const UnrolledResult& UnrolledBaseline::run(UpdateMap& map, const ParamSet& theta, Vec g, Vec x_star,
                                            const ParamSet* folded) {
  LogScope log(log_events().unrolled);
  const double t0 = wall_time();
  have_result_ = false;
  result_ = UnrolledResult();
  FOLDOPT_CHECK(start_ != UnrolledStart::solution || x_star != nullptr, PETSC_ERR_ARG_NULL,
                "unrolled: -%sunrolled_start solution needs x* (pass x_star, or choose zero or random)", prefix_.c_str());
  check_memory(map);
  UnrolledResult& r = result_;
  const PetscInt K = steps_;
  r.steps = K;
  r.start = start_;
  r.seed = seed_;
  r.tape_bytes = tape_bytes(map);

  // ---- forward: x_0..x_{K−1} on the tape, x_K only for its error ----
  OwnedVec x = map.create_vec(), work = map.create_vec();
  switch (start_) {
    case UnrolledStart::solution: FOLDOPT_CALL(VecCopy(x_star, x)); break;
    case UnrolledStart::zero: FOLDOPT_CALL(VecZeroEntries(x)); break;
    case UnrolledStart::random: fill_random(x, seed_); break;
  }
  if (x_star) {
    FOLDOPT_CALL(VecNorm(x_star, NORM_2, &r.xstar_norm));
    r.forward_error.reserve(K + 1);
    r.forward_error.push_back(distance(x, x_star, work));
  }
  std::vector<OwnedVec> tape;
  tape.reserve(K);
  for (PetscInt k = 0; k < K; ++k) {
    OwnedVec next = map.create_vec();
    map.apply(x, theta, next);
    ++r.applies;
    tape.push_back(std::move(x));
    x = std::move(next);
    if (x_star) r.forward_error.push_back(distance(x, x_star, work));
  }
  const double t1 = wall_time();
  r.forward_seconds = t1 - t0;

  // ---- reverse: λ_K = g, grad += Ψ_kᵀ λ_{k+1}, λ_k = Φ_kᵀ λ_{k+1} ----
  ParamSet scratch = map.create_params();
  OwnedVec lam = map.create_vec(), lam2 = map.create_vec();
  // grad_k from the tape's prefix x_0..x_{k−1}, into `grad`.
  auto reverse = [&](PetscInt k, ParamSet& grad) {
    grad.set_zero();
    FOLDOPT_CALL(VecCopy(g, lam));
    for (PetscInt j = k - 1; j >= 0; --j) {
      map.linearize(tape[j], theta);
      ++r.linearizations;
      map.psi_t(lam, scratch);
      ++r.psi_t_products;
      grad.axpy(1.0, scratch);
      if (j > 0) {
        map.phi_t(lam, lam2);
        ++r.phi_t_products;
        std::swap(lam, lam2);
      }
    }
  };
  r.gradient = map.create_params();
  reverse(K, r.gradient);
  const double t2 = wall_time();
  r.reverse_seconds = t2 - t1;

  // ---- backward errors against the folded gradient ----
  if (folded) {
    r.reference_norm = norm(*folded);
    r.backward_error = relative_difference(r.gradient, *folded, r.reference_norm);
  }
  if (history_ && !folded) r.note = "no backward-error history: no folded reference gradient was given";
  if (history_ && folded) {
    std::vector<PetscReal>& h = r.backward_error_history;
    h.assign(K + 1, 0);
    h[0] = r.reference_norm > 0 ? 1 : 0;  // grad_0 = 0
    h[K] = r.backward_error;
    PetscReal drift = 0;
    if (start_ == UnrolledStart::solution)
      for (PetscInt k = 1; k < K; ++k) drift = std::max(drift, distance(tape[k], tape[0], work));
    PetscReal x0n;
    FOLDOPT_CALL(VecNorm(tape.empty() ? (Vec)x : (Vec)tape[0], NORM_2, &x0n));
    r.history_shortcut = start_ == UnrolledStart::solution && drift <= 1e-8 * std::max<PetscReal>(1, x0n);
    ParamSet acc = map.create_params();
    if (r.history_shortcut && K > 1) {
      // Every Φ_k = Φ(x*): grad_k = Σ_{j<k} Ψᵀ (Φᵀ)^j g, one pass.
      map.linearize(tape[0], theta);
      ++r.linearizations;
      FOLDOPT_CALL(VecCopy(g, lam));
      for (PetscInt k = 1; k < K; ++k) {
        map.psi_t(lam, scratch);
        ++r.psi_t_products;
        acc.axpy(1.0, scratch);
        h[k] = relative_difference(acc, *folded, r.reference_norm);
        if (k < K - 1) {
          map.phi_t(lam, lam2);
          ++r.phi_t_products;
          std::swap(lam, lam2);
        }
      }
      r.note = detail::format("backward-error history in one pass at Phi(x*) (the tape stayed within %.1e of x*)",
                              (double)drift);
    } else if (K > 1) {
      for (PetscInt k = 1; k < K; ++k) {
        reverse(k, acc);
        h[k] = relative_difference(acc, *folded, r.reference_norm);
      }
      r.note = detail::format("backward-error history by %" PetscInt_FMT " reverse passes over the tape (O(K^2))", K - 1);
    }
    r.history_seconds = wall_time() - t2;
  }
  if (x_star) {
    map.linearize(x_star, theta);
    ++r.linearizations;
  }
  r.seconds = wall_time() - t0;
  have_result_ = true;
  return r;
}

void UnrolledBaseline::view(PetscViewer viewer) const {
  if (!have_result_) {
    PetscViewerASCIIPrintf(viewer, "unrolled baseline: not run\n");
    return;
  }
  const UnrolledResult& r = result_;
  std::string start = to_string(r.start);
  if (r.start == UnrolledStart::random) start += detail::format(" (seed %lu)", r.seed);
  PetscViewerASCIIPrintf(viewer, "backward: unrolled, K = %" PetscInt_FMT " steps from %s, tape %s (limit %s)\n", r.steps,
                         start.c_str(), format_bytes(r.tape_bytes).c_str(), format_bytes(max_memory_).c_str());
  if (!r.forward_error.empty()) {
    const PetscReal scale = r.xstar_norm > 0 ? r.xstar_norm : 1;
    PetscViewerASCIIPrintf(viewer, "  forward error ||x_K - x*||/||x*|| = %.3e (x_0: %.3e)\n",
                           (double)(r.forward_error.back() / scale), (double)(r.forward_error.front() / scale));
  }
  if (r.backward_error >= 0)
    PetscViewerASCIIPrintf(viewer, "  backward error ||grad_K - folded||/||folded|| = %.3e\n", (double)r.backward_error);
  else
    PetscViewerASCIIPrintf(viewer, "  backward error vs the folded gradient: not computed\n");
  if (!r.backward_error_history.empty()) {
    const std::vector<PetscReal>& h = r.backward_error_history;
    const PetscInt K = r.steps;
    PetscViewerASCIIPrintf(viewer, "  backward error at k = %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT
                                   ": %.3e, %.3e, %.3e\n",
                           K / 4, K / 2, K, (double)h[K / 4], (double)h[K / 2], (double)h[K]);
  }
  if (!r.note.empty()) PetscViewerASCIIPrintf(viewer, "  %s\n", r.note.c_str());
  PetscViewerASCIIPrintf(viewer,
                         "  %" PetscInt_FMT " applies, %" PetscInt_FMT " linearizations, %" PetscInt_FMT
                         " Phi^T and %" PetscInt_FMT " Psi^T products; time %.3f s (forward %.3f s, reverse %.3f s, "
                         "history %.3f s)\n",
                         r.applies, r.linearizations, r.phi_t_products, r.psi_t_products, r.seconds, r.forward_seconds,
                         r.reverse_seconds, r.history_seconds);
}

}  // namespace foldopt
