// batch::thresholds (the multiplier of the projection onto {lo ≤ x ≤ hi, Σx = k} per segment) and
// the simplex-type proxes built on it, at sizes where its search takes many rounds, against an
// independent sort-based dense reference computed here (np = 1 and 2; the data are drawn by
// global index, the same at any rank count):
//   * one long segment (m = 20 001) spanning both ranks, split evenly and very unevenly (3 entries
//     on rank 0, or 19 000), with continuous data and with data on a grid (many tied breakpoints,
//     and lower and upper breakpoints that coincide), for the simplex (hi = ∞; data narrow, so
//     that ~10⁴ entries are in the support, and wide), the capped simplex (wide data: entries at
//     both caps; narrow: every entry free) and shifted bounds: the projection clamp(z − τ, lo, hi)
//     equals the reference's to 1e-12, the sum is met to 1e-12 relative (× √m);
//   * all entries equal (every breakpoint tied): τ = z − k/m in closed form;
//   * targets at the extremes (k = m·lo, k = m·hi): the projection is lo (resp. hi) everywhere;
//   * batches: 64 segments of 37 entries (segments across the rank boundary, many per rank), and
//     the `simplex` / `capped_simplex` proxes on a batch layout against the same reference.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/batch.hpp>
#include <foldopt/prox/simplex.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace {

using foldopt::OwnedVec;
using foldopt_ref::to_eigen;
using foldopt_ref::VectorXd;
using foldopt_test::comm_size;
using foldopt_test::rank;

const double kInf = std::numeric_limits<double>::infinity();

/// Uniform in [−s, s) from the global index (splitmix64), optionally rounded to a grid.
double value(std::uint64_t i, std::uint64_t seed, double s, double grid) {
  std::uint64_t x = i * 0x9E3779B97F4A7C15ULL + seed * 0xD1B54A32D192ED03ULL + 1;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  const double u = static_cast<double>(x >> 11) * 0x1.0p-53;
  const double v = s * (2 * u - 1);
  return grid > 0 ? grid * std::round(v / grid) : v;
}

/// A vector of the values d with `first` entries on rank 0 (PETSC_DECIDE when negative).
OwnedVec make_vec(const VectorXd& d, PetscInt first = -1) {
  const PetscInt N = static_cast<PetscInt>(d.size());
  PetscInt local = PETSC_DECIDE;
  if (first >= 0 && comm_size() == 2) local = (rank() == 0) ? first : N - first;
  return foldopt_ref::from_eigen(d, local);
}

/// Reference threshold: all 2m breakpoints sorted, F evaluated at each from prefix sums of the
/// sorted z, and τ interpolated between the two consecutive breakpoints that bracket k (F is
/// affine between them). Independent of batch::thresholds' selection-based search.
double sorted_threshold(std::vector<double> z, double lo, double hi, double k) {
  std::sort(z.begin(), z.end());
  const std::size_t m = z.size();
  std::vector<double> prefix(m + 1, 0.0);
  for (std::size_t i = 0; i < m; ++i) prefix[i + 1] = prefix[i] + z[i];
  const bool fin = std::isfinite(hi);
  auto F = [&](double t) {  // at lo: z − lo ≤ t; at hi: z − hi ≥ t; free between
    const std::size_t nlo = static_cast<std::size_t>(
        std::upper_bound(z.begin(), z.end(), t, [&](double tt, double v) { return tt < v - lo; }) - z.begin());
    std::size_t nfree_end = m;
    if (fin)
      nfree_end = static_cast<std::size_t>(
          std::lower_bound(z.begin(), z.end(), t, [&](double v, double tt) { return v - hi < tt; }) - z.begin());
    nfree_end = std::max(nfree_end, nlo);
    return lo * static_cast<double>(nlo) + (fin ? hi * static_cast<double>(m - nfree_end) : 0.0) +
           (prefix[nfree_end] - prefix[nlo]) - t * static_cast<double>(nfree_end - nlo);
  };
  std::vector<double> bp;
  for (double v : z) {
    bp.push_back(v - lo);
    if (fin) bp.push_back(v - hi);
  }
  std::sort(bp.begin(), bp.end());
  bp.erase(std::unique(bp.begin(), bp.end()), bp.end());
  if (F(bp.front()) <= k) {  // left of every breakpoint F = Σz − mτ (hi = ∞) or m·hi
    if (!fin) return (prefix[m] - k) / static_cast<double>(m);
    return bp.front();
  }
  std::size_t a = 0, b = bp.size() - 1;  // F(bp[a]) > k ≥ F(bp[b]) (k ≥ m·lo = F(bp.back()))
  while (b - a > 1) {
    const std::size_t c = (a + b) / 2;
    (F(bp[c]) > k ? a : b) = c;
  }
  const double fa = F(bp[a]), fb = F(bp[b]);
  return fa == fb ? bp[b] : bp[a] + (fa - k) * (bp[b] - bp[a]) / (fa - fb);
}

double clamp(double v, double lo, double hi) { return std::min(std::max(v, lo), hi); }

struct Counts {
  PetscInt at_lo = 0, at_hi = 0;
};

/// Checks every segment's projection against the reference; returns the counts at the caps.
Counts check(const VectorXd& zd, PetscInt m, double lo, double hi, const std::vector<double>& k,
             const std::vector<PetscReal>& tau) {
  Counts c;
  const PetscInt S = static_cast<PetscInt>(zd.size()) / m;
  EXPECT_EQ(static_cast<PetscInt>(tau.size()), S);
  for (PetscInt s = 0; s < S && s < static_cast<PetscInt>(tau.size()); ++s) {
    std::vector<double> v(zd.data() + s * m, zd.data() + (s + 1) * m);
    const double ref = sorted_threshold(v, lo, hi, k[s]);
    double sum = 0, err = 0, scale = 1;
    for (double x : v) {
      const double y = clamp(x - tau[s], lo, hi), yr = clamp(x - ref, lo, hi);
      sum += y;
      err = std::max(err, std::abs(y - yr));
      scale = std::max(scale, std::abs(x));
      if (y == lo) ++c.at_lo;
      if (y == hi) ++c.at_hi;
    }
    EXPECT_LE(err, 1e-12 * scale) << "segment " << s << ": tau " << tau[s] << ", reference " << ref;
    EXPECT_NEAR(sum, k[s], 1e-12 * std::max(1.0, std::abs(k[s])) * std::sqrt(static_cast<double>(m)))
        << "segment " << s;
  }
  return c;
}

VectorXd draw(PetscInt N, std::uint64_t seed, double s, double grid) {
  VectorXd d(N);
  for (PetscInt i = 0; i < N; ++i) d[i] = value(static_cast<std::uint64_t>(i), seed, s, grid);
  return d;
}

TEST(Thresholds, LongSegmentAcrossRanks) {
  const PetscInt m = 20001;
  struct Case {
    double lo, hi, k, scale, grid;  // z uniform in [−scale, scale), rounded to the grid if > 0
    PetscInt first;                 // entries on rank 0 at np = 2 (−1: even split)
  };
  const std::vector<Case> cases = {
      {0.0, kInf, 1.0, 2e-4, 0.0, -1},    {0.0, kInf, 1.0, 2e-4, 0.0, 3},      {0.0, kInf, 1.0, 2.0, 0.0, -1},
      {0.0, kInf, 37.0, 1.0, 0.125, -1},  {0.0, 1.0, 2000.0, 20.0, 0.0, -1},   {0.0, 1.0, 2000.0, 20.0, 0.0, 3},
      {0.0, 1.0, 5000.0, 20.0, 0.125, -1}, {0.0, 1.0, 5000.0, 20.0, 0.125, 3}, {-0.5, 0.25, -100.0, 20.0, 0.0, 19000},
      {-0.5, 0.25, -100.0, 20.0, 0.25, -1}, {0.0, 1.0, 19000.0, 20.0, 0.0, -1}, {0.0, 1.0, 10000.0, 0.1, 0.0, 3}};
  for (const Case& c : cases) {
    SCOPED_TRACE("lo=" + std::to_string(c.lo) + " hi=" + std::to_string(c.hi) + " k=" + std::to_string(c.k) +
                 " scale=" + std::to_string(c.scale) + " grid=" + std::to_string(c.grid) +
                 " first=" + std::to_string(c.first));
    const VectorXd zd = draw(m, 7, c.scale, c.grid);
    OwnedVec z = make_vec(zd, c.first);
    const std::vector<double> k = {c.k};
    const std::vector<PetscReal> tau = foldopt::batch::thresholds(z, m, c.lo, c.hi, k);
    const Counts n = check(zd, m, c.lo, c.hi, k, tau);
    if (c.scale > 1) {  // wide data: entries at both caps
      EXPECT_GT(n.at_lo, 0) << "no entry at the lower bound";
      if (std::isfinite(c.hi)) EXPECT_GT(n.at_hi, 0) << "no entry at the upper bound";
    }
  }
}

TEST(Thresholds, AllTied) {
  const PetscInt m = 1001;
  const VectorXd zd = VectorXd::Constant(m, 0.75);
  OwnedVec z = make_vec(zd, 3);
  for (double hi : {kInf, 1.0}) {
    for (double k : {1.0, 500.5}) {
      const std::vector<PetscReal> tau = foldopt::batch::thresholds(z, m, 0.0, hi, {k});
      EXPECT_NEAR(tau.at(0), 0.75 - k / m, 1e-15) << "hi " << hi << " k " << k;
    }
  }
}

TEST(Thresholds, ExtremeTargets) {
  const PetscInt m = 5003;
  const VectorXd zd = draw(m, 11, 3.0, 0.5);
  OwnedVec z = make_vec(zd);
  for (const double k : {0.0, static_cast<double>(m)}) {
    const std::vector<PetscReal> tau = foldopt::batch::thresholds(z, m, 0.0, 1.0, {k});
    const double want = (k == 0) ? 0.0 : 1.0;
    double err = 0;
    for (PetscInt i = 0; i < m; ++i) err = std::max(err, std::abs(clamp(zd[i] - tau.at(0), 0.0, 1.0) - want));
    EXPECT_EQ(err, 0.0) << "k " << k;
  }
}

TEST(Thresholds, Batches) {
  const PetscInt m = 37, S = 64;
  for (const double grid : {0.0, 0.125}) {
    const VectorXd zd = draw(m * S, 23, 2.0, grid);
    OwnedVec z = make_vec(zd, 1000);  // at np = 2 a segment straddles an uneven boundary
    for (const double hi : {kInf, 1.0}) {
      std::vector<double> k(S);
      for (PetscInt s = 0; s < S; ++s) k[s] = std::isfinite(hi) ? 1.0 + (s % 30) : 0.5 + 0.25 * (s % 7);
      SCOPED_TRACE("grid " + std::to_string(grid) + " hi " + std::to_string(hi));
      const std::vector<PetscReal> tau = foldopt::batch::thresholds(z, m, 0.0, hi, k);
      const Counts n = check(zd, m, 0.0, hi, k, tau);
      EXPECT_GT(n.at_lo, 0);
      if (std::isfinite(hi)) EXPECT_GT(n.at_hi, 0);
    }
  }
}

TEST(Thresholds, SimplexProxesOnABatch) {
  const PetscInt n = 2003, B = 3;
  const VectorXd zd = draw(n * B, 31, 1.5, 0.0);
  OwnedVec z = make_vec(zd);
  foldopt::Layout L;
  L.comm = PETSC_COMM_WORLD;
  L.n = n;
  L.batch = B;
  VecGetLocalSize(z, &L.local);
  foldopt::SimplexProx simplex(L);
  foldopt::CappedSimplexProx capped(L, 150.0);
  foldopt::ParamSet theta;
  OwnedVec y;
  VecDuplicate(z, y.out());
  for (int which = 0; which < 2; ++which) {
    const double hi = which ? 1.0 : kInf, k = which ? 150.0 : 1.0;
    (which ? static_cast<foldopt::Prox&>(capped) : simplex).apply(z, 1.0, theta, y);
    const VectorXd yd = to_eigen(y);
    double err = 0;
    for (PetscInt b = 0; b < B; ++b) {
      std::vector<double> v(zd.data() + b * n, zd.data() + (b + 1) * n);
      const double ref = sorted_threshold(v, 0.0, hi, k);
      for (PetscInt i = 0; i < n; ++i) err = std::max(err, std::abs(yd[b * n + i] - clamp(v[i] - ref, 0.0, hi)));
    }
    EXPECT_LE(err, 1e-12) << (which ? "capped_simplex" : "simplex");
  }
}

}  // namespace
