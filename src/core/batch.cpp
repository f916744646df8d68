// foldopt: segmented reductions over a batch (see include/foldopt/batch.hpp).
//
// Method: a vector of global size S·m is cut into S segments of m consecutive entries; entry i
//   (global index) belongs to segment ⌊i/m⌋. Each rank reduces its own entries into an array of
//   S partial values, and one MPI_Allreduce of length S (sum or max) gives every rank the S
//   results. Broadcasts act on local entries only.
// Algorithm (thresholds): find τ_s with F_s(τ) = Σ_{i∈s} clamp(zᵢ − τ, lo, hi) = k_s.
//   F_s is continuous, nonincreasing and piecewise affine in τ, with breakpoints zᵢ − hi (entry i
//   leaves the upper bound) and zᵢ − lo (it reaches the lower bound). A bracket (L_s, R_s) with
//   F_s(L_s) ≥ k_s ≥ F_s(R_s) starts at (−∞, +∞); no sort. Each rank keeps, per segment, the
//   entries with a breakpoint strictly inside the bracket (partitioned in place in a copy of its
//   entries) and the constant part A − Kτ the others add to F on the bracket (entries at lo, at
//   hi, or free throughout). Each round, for all segments in the same collectives:
//     1. the kept entries are partitioned against the bracket; every rank draws a sample of the
//        breakpoints left inside (all of them when there are few) and proposes up to Q − 1 of its
//        quantiles, weighted by its count of inside breakpoints (one MPI_Allgather);
//     2. the pivots are weighted quantiles of the proposals (breakpoints inside the bracket);
//     3. one pass over the kept entries puts each breakpoint into its bucket between pivots
//        (branch-free binary search) and gives F at every pivot from bucket sums (one
//        MPI_Allreduce of (A, K) per pivot); the bracket shrinks to the bucket where F passes k
//        (Q = 64 buckets for long segments: a fraction ≈ 1/Q of the breakpoints stays).
//   When no breakpoint is left inside a bracket, F_s is affine on it and the constant parts give
//   τ_s = (A − k_s)/K (K = 0: F_s is constant = k_s on the bracket; its finite end is taken).
//   O(m) expected work per segment (the kept set shrinks geometrically), a few rounds; exact to
//   rounding (the final A, K are direct sums of the entries' values). Every round removes at
//   least its pivots, so the search ends whatever the sample.
// References: Held, Wolfe, Crowder (1974) and Condat (2016) for projections onto the simplex by a
//   threshold; Floyd, Rivest (1975) for selection by sampled pivots; Michelot (1986) for the
//   pivot-and-partition view of the simplex projection.
#include <foldopt/batch.hpp>

#include <foldopt/error.hpp>

#include "core/random.hpp"
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

/// The local part of one segment during the search for its threshold: the entries that may still
/// have a breakpoint strictly inside the bracket (L, R), compacted at the front of the segment's
/// range of the work array, and the constant part A − Kτ that the other entries add to F on (L, R).
struct Part {
  std::size_t begin = 0, count = 0;
  PetscReal A = 0, K = 0;
  PetscReal inside = 0;  ///< breakpoints of the kept entries strictly inside the bracket
};

/// Index of the first of the `len` (a power of two) sorted values p with p ≥ x (lower = true) or
/// p > x (lower = false), by a branch-free binary search; p is padded with +inf.
inline int bucket(const PetscReal* p, int len, PetscReal x, bool lower) {
  int i = 0;
  for (int step = len >> 1; step > 0; step >>= 1) i += ((lower ? p[i + step - 1] < x : p[i + step - 1] <= x) ? step : 0);
  return i + ((lower ? p[i] < x : p[i] <= x) ? 1 : 0);
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

  // The local entries are read in place until a segment's first partition moves its kept entries
  // into a work array (where later partitions compact them further).
  struct Entries {
    Vec v;
    const PetscScalar* a = nullptr;
    explicit Entries(Vec x) : v(x) { FOLDOPT_CALL(VecGetArrayRead(v, &a)); }
    ~Entries() { VecRestoreArrayRead(v, &a); }
  } entries(z);
  const PetscInt nloc = g.s1 - g.s0;
  std::vector<PetscReal> work(static_cast<std::size_t>(g.rend - g.rstart));
  std::vector<Part> part(static_cast<std::size_t>(nloc));
  std::vector<char> in_work(static_cast<std::size_t>(nloc), 0);
  bool finite = true;
  for (std::size_t j = 0; j < work.size(); ++j) finite = finite && std::isfinite(PetscRealPart(entries.a[j]));
  for (PetscInt s = g.s0; s < g.s1; ++s) {
    const auto r = g.range(s);
    Part& P = part[s - g.s0];
    P.begin = static_cast<std::size_t>(r.first);
    P.count = static_cast<std::size_t>(r.second - r.first);
    P.inside = static_cast<PetscReal>(P.count) * (hi_finite ? 2 : 1);
  }
  // the kept entries of local segment s (in place, or in the work array)
  static_assert(sizeof(PetscScalar) == sizeof(PetscReal), "batch::thresholds reads real entries in place");
  auto kept_of = [&](PetscInt s) -> const PetscReal* {
    const Part& P = part[s - g.s0];
    return in_work[s - g.s0] ? work.data() + P.begin : reinterpret_cast<const PetscReal*>(entries.a) + P.begin;
  };
  check_collective(g.comm, finite, PETSC_ERR_FP, "batch::thresholds: the vector has a NaN or infinite entry");

  // Pivots per segment and round: Q − 1 at most (Q a power of two), from a sample of 4Q
  // breakpoints per rank; fewer for short segments, whose breakpoints a few rounds exhaust.
  int Q = 8;
  while (Q < 64 && 16 * Q < m) Q *= 2;
  const int qmax = Q - 1;
  const std::size_t sample_size = 4 * static_cast<std::size_t>(Q);
  const PetscReal inf = std::numeric_limits<PetscReal>::infinity();
  std::vector<PetscReal> Lb(g.S, -inf), Rb(g.S, inf), tau(g.S, 0.0);
  std::vector<char> done(g.S, 0), final_round(g.S, 0);
  int size = 1;
  FOLDOPT_CALL(MPI_Comm_size(g.comm, &size));
  // proposals per segment and rank: qmax (value, weight) pairs
  const std::size_t per = 2 * static_cast<std::size_t>(qmax);
  std::vector<PetscReal> mine(per * g.S), all(per * g.S * size);
  // pivots per segment (padded with +inf to Q), their count; F's (A, K) at each pivot
  std::vector<PetscReal> piv(static_cast<std::size_t>(Q) * g.S, inf), AK(per * g.S);
  std::vector<int> npiv(g.S, 0);
  // per local segment, the breakpoints inside each of the qmax + 1 buckets between pivots
  std::vector<PetscReal> in_bucket(static_cast<std::size_t>(Q) * nloc, 0.0);
  std::vector<PetscReal> sample, hist(4 * static_cast<std::size_t>(Q + 1));
  std::vector<std::pair<PetscReal, PetscReal>> prop;
  sample.reserve(2 * sample_size);
  for (int round = 0;; ++round) {
    FOLDOPT_CHECK(round <= 2 * m + 2, PETSC_ERR_PLIB, "batch::thresholds: the search did not end");
    // 1. Partition each local part against its bracket (entries with no breakpoint inside join the
    //    constant part), then propose quantiles of a sample of the breakpoints left inside.
    std::fill(mine.begin(), mine.end(), 0.0);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      if (done[s]) continue;
      Part& P = part[s - g.s0];
      const PetscReal L = Lb[s], R = Rb[s];
      const PetscReal* w = kept_of(s);
      if (round > 0) {
        PetscReal* out = work.data() + P.begin;  // (in place once in the work array)
        std::size_t kept = 0;
        PetscReal A = 0, K = 0;
        for (std::size_t j = 0; j < P.count; ++j) {
          const PetscReal x = w[j], a = x - lo, b = x - hi;
          const bool at_lo = a <= L, at_hi = !at_lo && hi_finite && b >= R;
          const bool free = !at_lo && !at_hi && a >= R && (!hi_finite || b <= L);
          A += at_lo ? lo : at_hi ? hi : free ? x : 0.0;
          K += free ? 1.0 : 0.0;
          out[kept] = x;
          kept += (at_lo || at_hi || free) ? 0 : 1;
        }
        P.A += A;
        P.K += K;
        P.count = kept;
        in_work[s - g.s0] = 1;
        w = out;
      }
      if (P.inside <= 0) continue;
      // the sample: every inside breakpoint of a short part, else those of drawn entries
      sample.clear();
      const bool whole = P.inside <= static_cast<PetscReal>(sample_size);
      const std::size_t draws = whole ? P.count : std::min(P.count, sample_size / (hi_finite ? 2 : 1));
      for (std::size_t d = 0; d < draws; ++d) {
        const std::size_t j =
            whole ? d : static_cast<std::size_t>(mix64((static_cast<std::uint64_t>(round) << 40) ^ (static_cast<std::uint64_t>(s) << 20) ^ d) % P.count);
        const PetscReal x = w[j], a = x - lo, b = x - hi;
        if (a > L && a < R) sample.push_back(a);
        if (hi_finite && b > L && b < R) sample.push_back(b);
      }
      if (sample.empty()) {
        // Not reached: every kept entry has a breakpoint inside; keep the search going anyway.
        P.inside = 0;
        continue;
      }
      std::sort(sample.begin(), sample.end());
      const std::size_t ns = sample.size(), nq = std::min<std::size_t>(qmax, ns);
      for (std::size_t i = 0; i < nq; ++i) {
        mine[per * s + 2 * i] = sample[std::min(ns - 1, (2 * i + 1) * ns / (2 * nq))];
        mine[per * s + 2 * i + 1] = P.inside / static_cast<PetscReal>(nq);
      }
    }
    FOLDOPT_CALL(MPI_Allgather(mine.data(), count_int(mine.size()), MPIU_REAL, all.data(), count_int(mine.size()),
                               MPIU_REAL, g.comm));
    // 2. Pivots: weighted quantiles of the proposals (breakpoints inside the bracket); none left:
    //    F is affine on the bracket, and the constant parts give it.
    bool any = false;
    for (PetscInt s = 0; s < g.S; ++s) {
      final_round[s] = 0;
      if (done[s]) continue;
      any = true;
      prop.clear();
      PetscReal total = 0;
      for (int r = 0; r < size; ++r) {
        const PetscReal* q = all.data() + per * (static_cast<std::size_t>(r) * g.S + s);
        for (int i = 0; i < qmax; ++i)
          if (q[2 * i + 1] > 0) {
            prop.emplace_back(q[2 * i], q[2 * i + 1]);
            total += q[2 * i + 1];
          }
      }
      PetscReal* p = piv.data() + static_cast<std::size_t>(Q) * s;
      std::fill(p, p + Q, inf);
      npiv[s] = 0;
      if (prop.empty()) {
        final_round[s] = 1;
        continue;
      }
      std::sort(prop.begin(), prop.end());
      // (the first round, over every entry, with at most 15 pivots: a shorter search per entry)
      const int want = std::min<int>(round == 0 ? std::min(qmax, 15) : qmax, static_cast<int>(prop.size()));
      PetscReal acc = 0;
      int next = 0;
      for (const auto& pr : prop) {
        acc += pr.second;
        // the i-th pivot where the cumulative weight passes (i + 1/2) / want of the total
        while (next < want && acc >= (next + 0.5) / want * total) {
          if (npiv[s] == 0 || p[npiv[s] - 1] < pr.first) p[npiv[s]++] = pr.first;
          ++next;
        }
      }
    }
    if (!any) break;
    // 3. F at the pivots: the constant part, plus one pass over the kept entries, each counted
    //    into the buckets between pivots of its two breakpoints.
    std::fill(AK.begin(), AK.end(), 0.0);
    for (PetscInt s = g.s0; s < g.s1; ++s) {
      if (done[s]) continue;
      Part& P = part[s - g.s0];
      PetscReal* out = AK.data() + per * s;
      if (final_round[s]) {
        out[0] = P.A;
        out[1] = P.K;
        continue;
      }
      const int q = npiv[s];
      const PetscReal* p = piv.data() + static_cast<std::size_t>(Q) * s;
      const PetscReal L = Lb[s], R = Rb[s];
      // hist: entries whose lower breakpoint a lies in bucket i (a ≤ p_i first at i), their z;
      // entries at hi up to bucket e = min(#pivots ≤ b, i_a), their z.
      std::fill(hist.begin(), hist.end(), 0.0);
      PetscReal* na = hist.data();
      PetscReal* za = na + (Q + 1);
      PetscReal* ne = za + (Q + 1);
      PetscReal* ze = ne + (Q + 1);
      PetscReal* inb = in_bucket.data() + static_cast<std::size_t>(Q) * (s - g.s0);
      std::fill(inb, inb + Q, 0.0);
      const PetscReal* w = kept_of(s);
      int len = 1;  // the binary search over the q pivots and the +inf padding
      while (len < q + 1) len *= 2;
      for (std::size_t j = 0; j < P.count; ++j) {
        const PetscReal x = w[j], a = x - lo;
        const int ia = bucket(p, len, a, true);  // entry at lo at pivots i ≥ ia
        int e = 0;  // (hi = +inf: never at hi)
        if (hi_finite) {
          const PetscReal b = x - hi;
          const int ib = bucket(p, len, b, false);  // b ≥ p_i for i < ib: at hi there, unless at lo
          e = std::min(ib, ia);
          inb[ib] += (b > L && (ib == 0 || b != p[ib - 1])) ? 1.0 : 0.0;
        }
        inb[ia] += (a < R && a != p[ia]) ? 1.0 : 0.0;
        na[ia] += 1;
        za[ia] += x;
        ne[e] += 1;
        ze[e] += x;
      }
      // at pivot i: at lo #(ia ≤ i); free #(e ≤ i < ia) with Σz; at hi the rest.
      PetscReal cnt_lo = 0, z_lo = 0, cnt_e = 0, z_e = 0;
      const PetscReal kept = static_cast<PetscReal>(P.count);
      for (int i = 0; i < q; ++i) {
        cnt_lo += na[i];
        z_lo += za[i];
        cnt_e += ne[i];
        z_e += ze[i];
        const PetscReal nfree = cnt_e - cnt_lo, nhi = kept - cnt_e;
        out[2 * i] = P.A + lo * cnt_lo + (hi_finite ? hi * nhi : 0.0) + (z_e - z_lo);
        out[2 * i + 1] = P.K + nfree;
      }
    }
    allreduce(AK, MPI_SUM, g.comm);
    // 4. The new bracket: between the two pivots where F passes k.
    for (PetscInt s = 0; s < g.S; ++s) {
      if (done[s]) continue;
      const PetscReal* in = AK.data() + per * s;
      if (final_round[s]) {
        // F is affine on the bracket: A − Kτ.
        const PetscReal A = in[0], K = in[1];
        if (K > 0) tau[s] = std::min(std::max((A - k[s]) / K, Lb[s]), Rb[s]);
        else tau[s] = std::isfinite(Lb[s]) ? Lb[s] : Rb[s];
        done[s] = 1;
        continue;
      }
      const int q = npiv[s];
      const PetscReal* p = piv.data() + static_cast<std::size_t>(Q) * s;
      int i = 0;
      while (i < q && in[2 * i] - in[2 * i + 1] * p[i] > k[s]) ++i;
      if (i < q && in[2 * i] - in[2 * i + 1] * p[i] == k[s]) {
        tau[s] = p[i];
        done[s] = 1;
        continue;
      }
      // bucket i: (p_{i−1}, p_i), with p_{−1} = L and p_q = R
      if (i > 0) Lb[s] = p[i - 1];
      if (i < q) Rb[s] = p[i];
      if (s >= g.s0 && s < g.s1) part[s - g.s0].inside = in_bucket[static_cast<std::size_t>(Q) * (s - g.s0) + i];
    }
  }
  return tau;
}

}  // namespace batch
}  // namespace foldopt
