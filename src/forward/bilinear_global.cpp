// foldopt: the `bilinear_global` forward solver: a global vertex of the bilinear problem, then
// block ascent on its smoothing (see include/foldopt/problems/bilinear.hpp for the guarantees).
//
// Method: F(x, y) = cᵀx + xᵀQy + dᵀy over the product of the capped simplices X = {0 ≤ x ≤ 1,
//   Σx = p}, Y = {0 ≤ y ≤ 1, Σy = q}. For fixed x, max_y F is a linear program over Y whose
//   solution is the indicator of the q largest entries of Qᵀx + d (a top-q selection), and likewise
//   for x; since F is linear in each side, a maximum is attained at a vertex pair.
// Algorithm, per instance (instances are dealt round-robin to the ranks, results summed):
//   1. enumeration: if min(C(m, p), C(m, q)) ≤ -bilinear_enum_max, every vertex of that side
//      (combinations in lexicographic order) with the other side's top selection: the exact
//      maximum of F; the -bilinear_local_starts best vertices are kept (ties: the first found);
//   2. otherwise alternating maximization from -bilinear_starts random vertices of x (drawn by
//      (seed, instance, start)): y ← top_q(Qᵀx + d), x ← top_p(c + Qy) while F increases;
//   3. μ > 0 (F_μ = F − μ φ): from each kept vertex, exact block ascent
//        x ← argmax_{x∈X} (c + Qy)ᵀx − μ φ(x),   y ← argmax_{y∈Y} (Qᵀx + d)ᵀy − μ φ(y),
//      in closed form per side: x = clamp((g − τ)/μ, 0, 1) (quadratic), x = min(1, exp((g − τ)/μ − 1))
//      (entropic), τ by bisection on the decreasing Σx(τ) = p to the last bit, then one exact
//      (quadratic) or Newton (entropic) step on the bracket. F_μ never decreases; the sweeps stop
//      when neither side moves by more than 1e-15 or after -fold_fwd_bilinear_max_sweeps; the
//      point of largest F_μ is kept;
//   4. the fixed-point residual of the problem's map is measured at the result; above
//      -fold_fwd_bilinear_tol (default 1e-12) FISTA on the map polishes it (-fold_fwd_fista_*).
//   Data are gathered: Q dense (m ≤ 4096) and every instance's c, d on every rank.
// References: H. Konno, Math. Programming 11 (1976) 14–27 (bilinear programs: vertex optima and
//   the alternating "mountain climbing" method); Wang, Lu (2015) for the capped simplex threshold.
#include "forward/bilinear_global.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/update_map.hpp>

#include "core/options.hpp"
#include "core/random.hpp"
#include "core/util.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace foldopt {

namespace {

using Dvec = std::vector<double>;

/// One instance's data, dense.
struct Instance {
  PetscInt m;
  const double* Q;  // row-major m×m
  Dvec c, d;
};

struct Vertex {
  double value;
  std::vector<PetscInt> xs, ys;  // selected indices, ascending
};

/// The k largest entries of g (ties: the lower index), ascending.
std::vector<PetscInt> top(const Dvec& g, PetscInt k) {
  std::vector<PetscInt> idx(g.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), [&](PetscInt a, PetscInt b) {
    return g[a] > g[b] || (g[a] == g[b] && a < b);
  });
  idx.resize(static_cast<std::size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

double sum_at(const Dvec& g, const std::vector<PetscInt>& s) {
  double t = 0;
  for (PetscInt i : s) t += g[i];
  return t;
}

/// Qᵀx + d for the 0/1 x with support xs.
Dvec qtx(const Instance& I, const std::vector<PetscInt>& xs) {
  Dvec h = I.d;
  for (PetscInt i : xs)
    for (PetscInt j = 0; j < I.m; ++j) h[j] += I.Q[i * I.m + j];
  return h;
}
/// Qy + c for the 0/1 y with support ys.
Dvec qy(const Instance& I, const std::vector<PetscInt>& ys) {
  Dvec g = I.c;
  for (PetscInt i = 0; i < I.m; ++i)
    for (PetscInt j : ys) g[i] += I.Q[i * I.m + j];
  return g;
}

/// Keep the `K` best vertices (sorted, value descending; a vertex already kept is not repeated).
void keep(std::vector<Vertex>& best, std::size_t K, Vertex v) {
  if (best.size() == K && v.value <= best.back().value) return;
  for (const Vertex& b : best)
    if (b.xs == v.xs && b.ys == v.ys) return;
  auto at = std::upper_bound(best.begin(), best.end(), v.value, [](double val, const Vertex& b) { return val > b.value; });
  best.insert(at, std::move(v));
  if (best.size() > K) best.pop_back();
}

double binomial(PetscInt m, PetscInt k) {
  double r = 1;
  for (PetscInt i = 1; i <= k; ++i) r = r * static_cast<double>(m - k + i) / static_cast<double>(i);
  return std::round(r);
}

/// Every vertex of side x (or y, `side_y`): the other side its top selection.
void enumerate(const Instance& I, PetscInt p, PetscInt q, bool side_y, std::size_t K, std::vector<Vertex>& best) {
  const PetscInt k = side_y ? q : p;
  std::vector<PetscInt> s(static_cast<std::size_t>(k));
  std::iota(s.begin(), s.end(), 0);
  while (true) {
    Vertex v;
    if (!side_y) {
      const Dvec h = qtx(I, s);
      v.ys = top(h, q);
      v.value = sum_at(I.c, s) + sum_at(h, v.ys);
      v.xs = s;
    } else {
      const Dvec g = qy(I, s);
      v.xs = top(g, p);
      v.value = sum_at(I.d, s) + sum_at(g, v.xs);
      v.ys = s;
    }
    keep(best, K, std::move(v));
    // next combination in lexicographic order
    PetscInt i = k - 1;
    while (i >= 0 && s[i] == I.m - k + i) --i;
    if (i < 0) break;
    ++s[i];
    for (PetscInt j = i + 1; j < k; ++j) s[j] = s[j - 1] + 1;
  }
}

/// Alternating maximization from `starts` random x-vertices.
void alternate(const Instance& I, PetscInt p, PetscInt q, PetscInt starts, unsigned long seed, PetscInt inst, std::size_t K,
               std::vector<Vertex>& best) {
  for (PetscInt t = 0; t < starts; ++t) {
    std::vector<PetscInt> perm(static_cast<std::size_t>(I.m));
    std::iota(perm.begin(), perm.end(), 0);
    for (PetscInt i = 0; i < p; ++i) {  // partial Fisher–Yates, by (seed, instance, start, i)
      const std::uint64_t key = ((std::uint64_t)inst * (std::uint64_t)starts + (std::uint64_t)t) * (std::uint64_t)I.m + (std::uint64_t)i;
      const PetscInt j = i + static_cast<PetscInt>(uniform01(seed, 401, key) * static_cast<double>(I.m - i));
      std::swap(perm[i], perm[std::min(j, I.m - 1)]);
    }
    std::vector<PetscInt> xs(perm.begin(), perm.begin() + p);
    std::sort(xs.begin(), xs.end());
    Dvec h = qtx(I, xs);
    std::vector<PetscInt> ys = top(h, q);
    double F = sum_at(I.c, xs) + sum_at(h, ys);
    // strict ascent over vertices (finite): on exit each side is a best response to the other
    for (int it = 0; it < 100000; ++it) {
      const Dvec g = qy(I, ys);
      std::vector<PetscInt> xn = top(g, p);
      const double Fx = sum_at(I.d, ys) + sum_at(g, xn);
      if (!(Fx > F)) break;
      xs = xn;
      F = Fx;
      h = qtx(I, xs);
      std::vector<PetscInt> yn = top(h, q);
      const double Fy = sum_at(I.c, xs) + sum_at(h, yn);
      if (!(Fy > F)) break;
      ys = yn;
      F = Fy;
    }
    keep(best, K, Vertex{F, xs, ys});
  }
}

/// The smoothed best response argmax_{0≤x≤1, Σx=k} gᵀx − μ φ(x).
Dvec respond(const Dvec& g, PetscInt k, BilinearSmoothing s, double mu) {
  const std::size_t m = g.size();
  const double K = static_cast<double>(k), gmin = *std::min_element(g.begin(), g.end()),
               gmax = *std::max_element(g.begin(), g.end());
  auto value = [&](double t) {
    return s == BilinearSmoothing::quadratic ? std::min(1.0, std::max(0.0, t / mu)) : std::min(1.0, std::exp(t / mu - 1));
  };
  auto total = [&](double tau) {
    double S = 0;
    for (double gi : g) S += value(gi - tau);
    return S;
  };
  double lo = gmin - mu,
         hi = s == BilinearSmoothing::quadratic ? gmax : gmax - mu - mu * std::log(K / static_cast<double>(m));
  for (int it = 0; it < 400; ++it) {
    const double mid = 0.5 * (lo + hi);
    if (!(mid > lo && mid < hi)) break;
    (total(mid) > K ? lo : hi) = mid;
  }
  double tau = 0.5 * (lo + hi);
  for (int it = 0; it < 2; ++it) {  // exact (quadratic: Σx affine on the bracket) or Newton step
    double S = 0, dS = 0, Fg = 0, ones = 0, nf = 0;
    for (double gi : g) {
      const double v = value(gi - tau);
      S += v;
      if (v > 0 && v < 1) {
        dS += s == BilinearSmoothing::quadratic ? 1 / mu : v / mu;
        Fg += gi;
        nf += 1;
      } else if (v >= 1) {
        ones += 1;
      }
    }
    if (nf == 0) break;
    const double t = s == BilinearSmoothing::quadratic ? (Fg - mu * (K - ones)) / nf : tau + (S - K) / dS;
    if (t >= lo && t <= hi) tau = t;
  }
  Dvec x(m);
  for (std::size_t i = 0; i < m; ++i) x[i] = value(g[i] - tau);
  return x;
}

double phi(const Dvec& x, BilinearSmoothing s) {
  double t = 0;
  for (double v : x) t += s == BilinearSmoothing::quadratic ? 0.5 * v * v : (v > 0 ? v * std::log(v) : 0.0);
  return t;
}

/// F_μ(x, y).
double smoothed_value(const Instance& I, const Dvec& x, const Dvec& y, BilinearSmoothing s, double mu) {
  double F = 0;
  for (PetscInt i = 0; i < I.m; ++i) {
    F += I.c[i] * x[i] + I.d[i] * y[i];
    if (x[i] == 0) continue;
    double qi = 0;
    for (PetscInt j = 0; j < I.m; ++j) qi += I.Q[i * I.m + j] * y[j];
    F += x[i] * qi;
  }
  return s == BilinearSmoothing::none ? F : F - mu * (phi(x, s) + phi(y, s));
}

Dvec indicator(PetscInt m, const std::vector<PetscInt>& s) {
  Dvec v(static_cast<std::size_t>(m), 0.0);
  for (PetscInt i : s) v[i] = 1;
  return v;
}

/// Block ascent on F_μ from (x, y); returns the sweeps.
PetscInt ascend(const Instance& I, PetscInt p, PetscInt q, BilinearSmoothing s, double mu, PetscInt max_sweeps, Dvec& x, Dvec& y) {
  for (PetscInt k = 0; k < max_sweeps; ++k) {
    Dvec g = I.c;
    for (PetscInt i = 0; i < I.m; ++i)
      for (PetscInt j = 0; j < I.m; ++j) g[i] += I.Q[i * I.m + j] * y[j];
    const Dvec xn = respond(g, p, s, mu);
    Dvec h = I.d;
    for (PetscInt i = 0; i < I.m; ++i)
      for (PetscInt j = 0; j < I.m; ++j) h[j] += I.Q[i * I.m + j] * xn[i];
    const Dvec yn = respond(h, q, s, mu);
    double change = 0;
    for (PetscInt i = 0; i < I.m; ++i) change = std::max({change, std::abs(xn[i] - x[i]), std::abs(yn[i] - y[i])});
    x = xn;
    y = yn;
    if (change <= 1e-15) return k + 1;
  }
  return max_sweeps;
}

/// All B·m entries of a vector on every rank.
Dvec gather_all(Vec v) {
  const std::vector<PetscScalar> a = all_values(v);
  Dvec out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = PetscRealPart(a[i]);
  return out;
}

}  // namespace

BilinearGlobalForward::BilinearGlobalForward(const ForwardContext& ctx)
    : ctx_(ctx), problem_(dynamic_cast<Bilinear*>(ctx.problem)), fista_(ctx) {
  FOLDOPT_CHECK(problem_ != nullptr, PETSC_ERR_ARG_WRONG, "forward solver 'bilinear_global' solves problem 'bilinear' only%s",
                ctx.problem ? (" (the problem is '" + ctx.problem->type() + "')").c_str() : " (there is no problem)");
}

namespace {
PetscErrorCode read_options(MPI_Comm comm, const char* prefix, PetscReal* tol, PetscInt* sweeps) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Global forward of the bilinear problem", "BilinearGlobalForward");
  PetscCall(PetscOptionsReal("-bilinear_tol", "Fixed-point residual below which the result is not polished by FISTA",
                             "BilinearGlobalForward", *tol, tol, nullptr));
  PetscCall(PetscOptionsInt("-bilinear_max_sweeps", "Largest number of block-ascent sweeps per start (smoothed problem)",
                            "BilinearGlobalForward", *sweeps, sweeps, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

void BilinearGlobalForward::set_from_options() {
  const char* pre = ctx_.prefix.c_str();
  options::check_real(pre, "bilinear_tol", 0, 1, true, true);
  options::check_int(pre, "bilinear_max_sweeps", 1, PETSC_MAX_INT);
  FOLDOPT_CALL(read_options(ctx_.comm, pre, &tol_, &max_sweeps_));
  fista_.set_from_options();
}

void BilinearGlobalForward::gather_q() {
  const PetscInt m = problem_->size();
  FOLDOPT_CHECK(m <= 4096, PETSC_ERR_SUP,
                "forward solver 'bilinear_global' gathers Q densely to every rank: m = %" PetscInt_FMT " exceeds 4096", m);
  const std::vector<PetscReal> q = all_entries(problem_->Q());
  Q_.assign(q.begin(), q.end());
}

ForwardReport BilinearGlobalForward::solve(const ParamSet& theta, Vec x) {
  ForwardReport rep;
  rep.solver = "bilinear_global";
  const double t0 = wall_time();
  if (Q_.empty()) gather_q();
  const PetscInt m = problem_->size(), B = problem_->layout().batch, p = problem_->sum_x(), q = problem_->sum_y();
  const BilinearSmoothing sm = problem_->smoothing();
  const double mu = problem_->mu();
  const BilinearSearch& S = problem_->search();
  const Dvec c = gather_all(theta.get("c")), d = gather_all(theta.get("d"));
  FOLDOPT_CHECK(static_cast<PetscInt>(c.size()) == B * m && static_cast<PetscInt>(d.size()) == B * m, PETSC_ERR_ARG_SIZ,
                "forward solver 'bilinear_global': the blocks c and d must have B*m = %" PetscInt_FMT " entries", B * m);
  const double cx = binomial(m, p), cy = binomial(m, q);
  result_ = Result();
  result_.enumerated = std::min(cx, cy) <= S.enum_max;
  result_.side = cy < cx ? 'y' : 'x';
  result_.vertices = result_.enumerated ? std::min(cx, cy) : static_cast<double>(S.starts);
  const std::size_t K = sm == BilinearSmoothing::none ? 1 : static_cast<std::size_t>(S.local_starts);

  int rank, size;
  FOLDOPT_CALL(MPI_Comm_rank(ctx_.comm, &rank));
  FOLDOPT_CALL(MPI_Comm_size(ctx_.comm, &size));
  // per instance: x then y (2m), and three values; summed over ranks (each instance has one owner)
  Dvec sol(static_cast<std::size_t>(B * 2 * m), 0.0), vals(static_cast<std::size_t>(3 * B), 0.0);
  PetscInt sweeps = 0;
  for (PetscInt b = rank; b < B; b += size) {
    Instance I{m, Q_.data(), Dvec(c.begin() + b * m, c.begin() + (b + 1) * m), Dvec(d.begin() + b * m, d.begin() + (b + 1) * m)};
    std::vector<Vertex> best;
    if (result_.enumerated)
      enumerate(I, p, q, result_.side == 'y', K, best);
    else
      alternate(I, p, q, S.starts, S.seed, b, K, best);
    Dvec bx = indicator(m, best.front().xs), by = indicator(m, best.front().ys);
    const double vertex_smoothed = smoothed_value(I, bx, by, sm, mu);
    double top = vertex_smoothed;
    if (sm != BilinearSmoothing::none) {
      top = -INFINITY;
      for (const Vertex& v : best) {
        Dvec xx = indicator(m, v.xs), yy = indicator(m, v.ys);
        sweeps += ascend(I, p, q, sm, mu, max_sweeps_, xx, yy);
        const double val = smoothed_value(I, xx, yy, sm, mu);
        if (val > top) {
          top = val;
          bx = xx;
          by = yy;
        }
      }
    }
    std::copy(bx.begin(), bx.end(), sol.begin() + b * 2 * m);
    std::copy(by.begin(), by.end(), sol.begin() + b * 2 * m + m);
    vals[3 * b] = best.front().value;
    vals[3 * b + 1] = vertex_smoothed;
    vals[3 * b + 2] = top;
  }
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, sol.data(), static_cast<int>(sol.size()), MPI_DOUBLE, MPI_SUM, ctx_.comm));
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, vals.data(), static_cast<int>(vals.size()), MPI_DOUBLE, MPI_SUM, ctx_.comm));
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, &sweeps, 1, MPIU_INT, MPI_SUM, ctx_.comm));
  result_.sweeps = sweeps;
  for (PetscInt b = 0; b < B; ++b) {
    result_.vertex_value.push_back(vals[3 * b]);
    result_.vertex_smoothed.push_back(vals[3 * b + 1]);
    result_.smoothed.push_back(vals[3 * b + 2]);
    // F_μ* ≤ F(v*) − μ φ_min, exact when v* was enumerated
    result_.gap = std::max(result_.gap, vals[3 * b] - mu * problem_->smoothing_min() - vals[3 * b + 2]);
  }
  {
    PetscInt rs, re;
    FOLDOPT_CALL(VecGetOwnershipRange(x, &rs, &re));
    PetscScalar* a;
    FOLDOPT_CALL(VecGetArray(x, &a));
    for (PetscInt i = rs; i < re; ++i) a[i - rs] = sol[static_cast<std::size_t>(i)];
    FOLDOPT_CALL(VecRestoreArray(x, &a));
  }
  // the map's fixed-point residual at the result; FISTA polishes above the tolerance
  rep.residual = fixed_point_residual(*ctx_.map, x, theta);
  if (!(rep.residual <= tol_)) {
    const ForwardReport fr = fista_.solve(theta, x);
    result_.polish = fr.iterations;
    rep.residual = fr.residual;
  }
  rep.converged = true;
  rep.iterations = result_.sweeps + result_.polish;
  std::string what = result_.enumerated
                         ? detail::format("enumerated %.0f vertices of %c per instance", result_.vertices, result_.side)
                         : detail::format("alternating maximization from %.0f random starts per instance", result_.vertices);
  std::string guarantee;
  if (sm == BilinearSmoothing::none) {
    guarantee = result_.enumerated ? "the exact maximum" : "the best partial optimum found, no global guarantee";
  } else {
    what += detail::format("; block ascent from the %zu best, %" PetscInt_FMT " sweeps", K, result_.sweeps);
    guarantee = result_.enumerated ? detail::format("F_mu within %.3g of the smoothed maximum (a priori bound mu*Delta = %.3g)",
                                                    result_.gap, (double)(mu * problem_->smoothing_range()))
                                   : "a local maximum of F_mu, no global guarantee";
  }
  if (result_.polish) what += detail::format(", FISTA polish %" PetscInt_FMT " iterations", result_.polish);
  rep.reason = "CONVERGED (" + what + ": " + guarantee + ")";
  rep.seconds = wall_time() - t0;
  return rep;
}

void BilinearGlobalForward::view(PetscViewer viewer) const {
  const BilinearSmoothing sm = problem_->smoothing();
  PetscViewerASCIIPrintf(viewer, "forward solver: bilinear_global (%s", result_.enumerated ? "enumeration" : "alternating maximization");
  if (result_.enumerated)
    PetscViewerASCIIPrintf(viewer, " of %.0f vertices of %c: the exact maximum of the unsmoothed problem", result_.vertices, result_.side);
  else
    PetscViewerASCIIPrintf(viewer, " from %.0f random starts: a partial optimum, no global guarantee", result_.vertices);
  PetscViewerASCIIPrintf(viewer, ")\n");
  if (result_.vertex_value.empty()) return;
  double worst_gap = 0;
  for (std::size_t b = 0; b < result_.smoothed.size(); ++b)
    worst_gap = std::min(worst_gap, result_.smoothed[b] - result_.vertex_smoothed[b]);
  PetscViewerASCIIPrintf(viewer, "  instance 0: best vertex F = %.10g", result_.vertex_value[0]);
  if (sm != BilinearSmoothing::none) {
    PetscViewerASCIIPrintf(viewer, ", smoothed F_mu there %.10g, after block ascent %.10g", result_.vertex_smoothed[0],
                           result_.smoothed[0]);
    if (result_.enumerated)
      PetscViewerASCIIPrintf(viewer, "; within %.4g of the smoothed maximum (a priori mu*Delta = %.4g)", result_.gap,
                             (double)(problem_->mu() * problem_->smoothing_range()));
  }
  PetscViewerASCIIPrintf(viewer, "\n");
  if (worst_gap < 0) PetscViewerASCIIPrintf(viewer, "  warning: the ascent lowered F_mu by %.3g\n", -worst_gap);
}

}  // namespace foldopt
