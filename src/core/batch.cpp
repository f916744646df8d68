// foldopt: segmented reductions over a batch (see include/foldopt/batch.hpp).
//
// Method: a vector of global size S·m is cut into S segments of m consecutive entries; entry i
//   (global index) belongs to segment ⌊i/m⌋. Each rank reduces its own entries into an array of
//   S partial values, and one MPI_Allreduce of length S (sum or max) gives every rank the S
//   results. Broadcasts act on local entries only.
// Algorithm (thresholds): find τ_s with F_s(τ) = Σ_{i∈s} clamp(zᵢ − τ, lo, hi) = k_s.
//   F_s is continuous, nonincreasing and piecewise affine in τ, with breakpoints zᵢ − hi (entry i
//   leaves the upper bound) and zᵢ − lo (it reaches the lower bound). On each rank the local part
//   of every segment is sorted once (O(m log m)); with prefix sums of the sorted zᵢ, the local
//   part of F_s at any τ is A − Kτ (K entries strictly between the bounds, A the sum of their zᵢ
//   plus lo and hi times the counts at the bounds), found by binary search in O(log m).
//   A bracket (L_s, R_s) with F_s(L_s) ≥ k_s ≥ F_s(R_s) starts at (−∞, +∞). Each round:
//     1. every rank proposes, per segment, the median of its breakpoints of each kind strictly
//        inside the bracket, weighted by their number (one MPI_Allgather for all segments);
//     2. the pivot is the weighted median of the proposals (a breakpoint inside the bracket:
//        at least a quarter of them lie on either side of it), F_s is evaluated there (one
//        MPI_Allreduce of (A, K) for all segments) and the bracket shrinks to one side.
//   When no breakpoint is left inside a bracket, F_s is affine on it: (A, K) at an interior
//   point give τ_s = (A − k_s)/K (K = 0: F_s is constant = k_s on the bracket; its finite end is
//   taken). O(log m) rounds, all segments in the same collectives; exact to rounding.
// References: Held, Wolfe, Crowder (1974) and Condat (2016) for projections onto the simplex by a
//   threshold; Blum, Floyd, Pratt, Rivest, Tarjan (1973) for the median-of-medians pivot.
#include <foldopt/batch.hpp>

#include <foldopt/error.hpp>

#include "core/vec_array.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace foldopt {
namespace batch {

namespace {

struct Segments {
  MPI_Comm comm = MPI_COMM_NULL;
  PetscInt N = 0, m = 1, S = 0, rstart = 0, rend = 0;
  // local segments [s0, s1)
  PetscInt s0 = 0, s1 = 0;
  /// local array range [lo, hi) of segment s (s in [s0, s1))
  std::pair<PetscInt, PetscInt> range(PetscInt s) const {
    return {std::max(rstart, s * m) - rstart, std::min(rend, (s + 1) * m) - rstart};
  }
};

Segments segments(Vec x, PetscInt m, const char* what) {
  Segments g;
  FOLDOPT_CALL(PetscObjectGetComm(reinterpret_cast<PetscObject>(x), &g.comm));
  FOLDOPT_CALL(VecGetSize(x, &g.N));
  FOLDOPT_CHECK(m > 0, PETSC_ERR_ARG_OUTOFRANGE, "batch::%s: segment length %" PetscInt_FMT " must be positive", what,
                m);
  FOLDOPT_CHECK(g.N % m == 0, PETSC_ERR_ARG_SIZ,
                "batch::%s: vector size %" PetscInt_FMT " is not a multiple of the segment length %" PetscInt_FMT, what,
                g.N, m);
  g.m = m;
  g.S = g.N / m;
  FOLDOPT_CALL(VecGetOwnershipRange(x, &g.rstart, &g.rend));
  if (g.rend > g.rstart) {
    g.s0 = g.rstart / m;
    g.s1 = (g.rend - 1) / m + 1;
  }
  return g;
}

int count_int(std::size_t n) {
  FOLDOPT_CHECK(n <= static_cast<std::size_t>(std::numeric_limits<int>::max()), PETSC_ERR_ARG_OUTOFRANGE,
                "batch: %zu values are too many for one MPI reduction", n);
  return static_cast<int>(n);
}

void allreduce(std::vector<PetscReal>& a, MPI_Op op, MPI_Comm comm) {
  if (a.empty()) return;
  FOLDOPT_CALL(MPI_Allreduce(MPI_IN_PLACE, a.data(), count_int(a.size()), MPIU_REAL, op, comm));
}

template <typename F>
std::vector<PetscReal> reduce(Vec x, PetscInt m, const char* what, MPI_Op op, F&& f) {
  const Segments g = segments(x, m, what);
  std::vector<PetscReal> out(static_cast<std::size_t>(g.S), 0.0);
  for (PetscInt s = g.s0; s < g.s1; ++s) {
    const auto r = g.range(s);
    PetscReal acc = 0;
    for (PetscInt j = r.first; j < r.second; ++j) f(acc, j);
    out[s] = acc;
  }
  allreduce(out, op, g.comm);
  return out;
}

void check_length(const std::vector<PetscReal>& a, const Segments& g, const char* what) {
  FOLDOPT_CHECK(static_cast<PetscInt>(a.size()) == g.S, PETSC_ERR_ARG_SIZ,
                "batch::%s: %zu values given for %" PetscInt_FMT " segments", what, a.size(), g.S);
}

void check_same_layout(Vec x, Vec y, const char* what) {
  PetscInt nx, ny, lx, ly;
  FOLDOPT_CALL(VecGetSize(x, &nx));
  FOLDOPT_CALL(VecGetSize(y, &ny));
  FOLDOPT_CALL(VecGetLocalSize(x, &lx));
  FOLDOPT_CALL(VecGetLocalSize(y, &ly));
  FOLDOPT_CHECK(nx == ny, PETSC_ERR_ARG_SIZ, "batch::%s: vectors of sizes %" PetscInt_FMT " and %" PetscInt_FMT, what,
                nx, ny);
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm(reinterpret_cast<PetscObject>(x), &comm));
  check_collective(comm, lx == ly, PETSC_ERR_ARG_SIZ,
                   std::string("batch::") + what + ": the two vectors are distributed differently");
}

}  // namespace

std::vector<PetscReal> sums(Vec x, PetscInt m) {
  ReadArray a(x);
  return reduce(x, m, "sums", MPI_SUM, [&](PetscReal& acc, PetscInt j) { acc += a[j]; });
}

std::vector<PetscReal> dots(Vec x, Vec y, PetscInt m) {
  check_same_layout(x, y, "dots");
  ReadArray a(x), b(y);
  return reduce(x, m, "dots", MPI_SUM, [&](PetscReal& acc, PetscInt j) { acc += a[j] * b[j]; });
}

std::vector<PetscReal> norms(Vec x, PetscInt m) {
  // The sum of squares per segment, then its square root (no rescaling against overflow).
  ReadArray a(x);
  std::vector<PetscReal> out = reduce(x, m, "norms", MPI_SUM, [&](PetscReal& acc, PetscInt j) { acc += a[j] * a[j]; });
  for (auto& v : out) v = std::sqrt(v);
  return out;
}

std::vector<PetscReal> max_abs(Vec x, PetscInt m) {
  ReadArray a(x);
  return reduce(x, m, "max_abs", MPI_MAX, [&](PetscReal& acc, PetscInt j) { acc = std::max(acc, std::abs(a[j])); });
}

std::vector<PetscInt> counts(Vec x, PetscInt m) {
  ReadArray a(x);
  const std::vector<PetscReal> c =
      reduce(x, m, "counts", MPI_SUM, [&](PetscReal& acc, PetscInt j) { acc += (a[j] != 0) ? 1 : 0; });
  std::vector<PetscInt> out(c.size());
  for (std::size_t s = 0; s < c.size(); ++s) out[s] = static_cast<PetscInt>(std::llround(c[s]));
  return out;
}

void broadcast(const std::vector<PetscReal>& a, PetscInt m, Vec y) {
  const Segments g = segments(y, m, "broadcast");
  check_length(a, g, "broadcast");
  WriteArray ya(y);
  for (PetscInt s = g.s0; s < g.s1; ++s) {
    const auto r = g.range(s);
    for (PetscInt j = r.first; j < r.second; ++j) ya[j] = a[s];
  }
}

void axpy(const std::vector<PetscReal>& a, Vec x, PetscInt m, Vec y) {
  check_same_layout(x, y, "axpy");
  const Segments g = segments(y, m, "axpy");
  check_length(a, g, "axpy");
  if (x == y) {
    WriteArray ya(y);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      const auto r = g.range(s);
      for (PetscInt j = r.first; j < r.second; ++j) ya[j] += a[s] * ya[j];
    }
    return;
  }
  ReadArray xa(x);
  WriteArray ya(y);
  for (PetscInt s = g.s0; s < g.s1; ++s) {
    const auto r = g.range(s);
    for (PetscInt j = r.first; j < r.second; ++j) ya[j] += a[s] * xa[j];
  }
}

void scale(const std::vector<PetscReal>& a, Vec x, PetscInt m, Vec y) {
  check_same_layout(x, y, "scale");
  const Segments g = segments(y, m, "scale");
  check_length(a, g, "scale");
  if (x == y) {
    WriteArray ya(y);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      const auto r = g.range(s);
      for (PetscInt j = r.first; j < r.second; ++j) ya[j] *= a[s];
    }
    return;
  }
  ReadArray xa(x);
  WriteArray ya(y);
  for (PetscInt s = g.s0; s < g.s1; ++s) {
    const auto r = g.range(s);
    for (PetscInt j = r.first; j < r.second; ++j) ya[j] = a[s] * xa[j];
  }
}

namespace {

/// The local part of one segment, sorted: breakpoints za = z − lo and zb = z − hi (both
/// nondecreasing, as rounding is monotone) and prefix sums of the sorted z.
struct LocalSegment {
  std::vector<PetscReal> z, za, zb, prefix;  // prefix[i] = z[0] + ... + z[i−1]
  PetscInt size() const { return static_cast<PetscInt>(z.size()); }

  /// The local part of F at τ: A − K τ.
  void affine(PetscReal tau, PetscReal lo, PetscReal hi, bool hi_finite, PetscReal* A, PetscReal* K) const {
    const PetscInt n = size();
    // entries with za ≤ τ are at lo; entries with zb ≥ τ are at hi; the rest are z − τ.
    const PetscInt ilo = static_cast<PetscInt>(std::upper_bound(za.begin(), za.end(), tau) - za.begin());
    PetscInt ihi = hi_finite ? static_cast<PetscInt>(std::lower_bound(zb.begin(), zb.end(), tau) - zb.begin()) : n;
    ihi = std::max(ihi, ilo);
    *A = static_cast<PetscReal>(ilo) * lo + (hi_finite ? static_cast<PetscReal>(n - ihi) * hi : 0.0) +
         (prefix[ihi] - prefix[ilo]);
    *K = static_cast<PetscReal>(ihi - ilo);
  }
};

/// Breakpoints of sorted array `a` strictly inside (L, R): index range.
std::pair<PetscInt, PetscInt> inside(const std::vector<PetscReal>& a, PetscReal L, PetscReal R) {
  const auto b = std::upper_bound(a.begin(), a.end(), L);
  const auto e = std::lower_bound(b, a.end(), R);
  return {static_cast<PetscInt>(b - a.begin()), static_cast<PetscInt>(e - a.begin())};
}

}  // namespace

std::vector<PetscReal> thresholds(Vec z, PetscInt m, PetscReal lo, PetscReal hi, const std::vector<PetscReal>& k) {
  const Segments g = segments(z, m, "thresholds");
  check_length(k, g, "thresholds");
  FOLDOPT_CHECK(std::isfinite(lo) && !std::isnan(hi) && lo < hi, PETSC_ERR_ARG_OUTOFRANGE,
                "batch::thresholds: bounds [%g, %g] must have a finite lower bound below the upper one", (double)lo,
                (double)hi);
  const bool hi_finite = std::isfinite(hi);
  for (PetscInt s = 0; s < g.S; ++s) {
    const PetscReal lo_sum = static_cast<PetscReal>(m) * lo, hi_sum = static_cast<PetscReal>(m) * hi;
    FOLDOPT_CHECK(std::isfinite(k[s]) && k[s] >= lo_sum && k[s] <= hi_sum, PETSC_ERR_ARG_OUTOFRANGE,
                  "batch::thresholds: segment %" PetscInt_FMT ": target sum %g is not attainable with %" PetscInt_FMT
                  " entries in [%g, %g] (it must lie in [%g, %g])",
                  s, (double)k[s], m, (double)lo, (double)hi, (double)lo_sum, (double)hi_sum);
  }

  // Sort the local part of every segment once.
  const PetscInt nloc = g.s1 - g.s0;
  std::vector<LocalSegment> seg(static_cast<std::size_t>(nloc));
  bool finite = true;
  {
    ReadArray a(z);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      LocalSegment& L = seg[s - g.s0];
      const auto r = g.range(s);
      L.z.resize(r.second - r.first);
      for (PetscInt j = r.first; j < r.second; ++j) {
        L.z[j - r.first] = a[j];
        finite = finite && std::isfinite(a[j]);
      }
    }
  }
  check_collective(g.comm, finite, PETSC_ERR_FP, "batch::thresholds: the vector has a NaN or infinite entry");
  for (auto& L : seg) {
    std::sort(L.z.begin(), L.z.end());
    const std::size_t n = L.z.size();
    L.za.resize(n);
    L.zb.resize(hi_finite ? n : 0);
    L.prefix.assign(n + 1, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
      L.za[i] = L.z[i] - lo;
      if (hi_finite) L.zb[i] = L.z[i] - hi;
      L.prefix[i + 1] = L.prefix[i] + L.z[i];
    }
  }

  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  std::vector<PetscReal> Lb(g.S, -inf), Rb(g.S, inf), tau(g.S, 0.0);
  std::vector<char> done(g.S, 0);
  int size = 1;
  FOLDOPT_CALL(MPI_Comm_size(g.comm, &size));
  // proposals per segment: (value, weight) for za and for zb.
  const std::size_t per = 4;
  std::vector<PetscReal> mine(per * g.S), all(per * g.S * size);
  std::vector<PetscReal> at(g.S), AK(2 * g.S);
  std::vector<char> final_round(g.S);
  std::vector<std::pair<PetscReal, PetscReal>> prop;
  for (int round = 0;; ++round) {
    FOLDOPT_CHECK(round < 4 * 64 + 100, PETSC_ERR_PLIB, "batch::thresholds: the search did not end");
    // 1. proposals
    std::fill(mine.begin(), mine.end(), 0.0);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      if (done[s]) continue;
      const LocalSegment& L = seg[s - g.s0];
      const auto ia = inside(L.za, Lb[s], Rb[s]);
      if (ia.second > ia.first) {
        mine[per * s] = L.za[(ia.first + ia.second - 1) / 2];
        mine[per * s + 1] = static_cast<PetscReal>(ia.second - ia.first);
      }
      if (hi_finite) {
        const auto ib = inside(L.zb, Lb[s], Rb[s]);
        if (ib.second > ib.first) {
          mine[per * s + 2] = L.zb[(ib.first + ib.second - 1) / 2];
          mine[per * s + 3] = static_cast<PetscReal>(ib.second - ib.first);
        }
      }
    }
    FOLDOPT_CALL(MPI_Allgather(mine.data(), count_int(mine.size()), MPIU_REAL, all.data(), count_int(mine.size()),
                               MPIU_REAL, g.comm));
    // 2. pivots (or an interior point of a bracket free of breakpoints)
    bool any = false;
    for (PetscInt s = 0; s < g.S; ++s) {
      final_round[s] = 0;
      if (done[s]) continue;
      any = true;
      prop.clear();
      PetscReal total = 0;
      for (int r = 0; r < size; ++r)
        for (int q = 0; q < 2; ++q) {
          const PetscReal w = all[per * (static_cast<std::size_t>(r) * g.S + s) + 2 * q + 1];
          if (w > 0) {
            prop.emplace_back(all[per * (static_cast<std::size_t>(r) * g.S + s) + 2 * q], w);
            total += w;
          }
        }
      if (prop.empty()) {
        final_round[s] = 1;
        const PetscReal L = Lb[s], R = Rb[s];
        if (std::isfinite(L) && std::isfinite(R)) at[s] = L + 0.5 * (R - L);
        else if (std::isfinite(L)) at[s] = L + 1 + std::abs(L);
        else if (std::isfinite(R)) at[s] = R - 1 - std::abs(R);
        else at[s] = 0;  // not reached: a segment has at least one breakpoint
        continue;
      }
      std::sort(prop.begin(), prop.end());
      PetscReal acc = 0;
      at[s] = prop.back().first;
      for (const auto& p : prop) {
        acc += p.second;
        if (2 * acc >= total) {
          at[s] = p.first;
          break;
        }
      }
    }
    if (!any) break;
    std::fill(AK.begin(), AK.end(), 0.0);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      if (done[s]) continue;
      seg[s - g.s0].affine(at[s], lo, hi, hi_finite, &AK[2 * s], &AK[2 * s + 1]);
    }
    allreduce(AK, MPI_SUM, g.comm);
    for (PetscInt s = 0; s < g.S; ++s) {
      if (done[s]) continue;
      const PetscReal A = AK[2 * s], K = AK[2 * s + 1];
      if (final_round[s]) {
        // F is affine on the bracket: A − Kτ.
        if (K > 0) tau[s] = std::min(std::max((A - k[s]) / K, Lb[s]), Rb[s]);
        else tau[s] = std::isfinite(Lb[s]) ? Lb[s] : Rb[s];
        done[s] = 1;
        continue;
      }
      const PetscReal F = A - K * at[s];
      if (F == k[s]) {
        tau[s] = at[s];
        done[s] = 1;
      } else if (F > k[s]) {
        Lb[s] = at[s];
      } else {
        Rb[s] = at[s];
      }
    }
  }
  return tau;
}

}  // namespace batch
}  // namespace foldopt
