// foldopt: segmented reductions over a batch.
//
// A batch vector holds B instances of n entries one after the other (foldopt::Layout); more
// generally a vector of global size S·m is cut into S consecutive segments of m entries (the
// groups of a group prox, the instances of a batch). An instance may span ranks and a rank may
// hold many instances. Each reduction returns the S values on every rank (one MPI_Allreduce of
// length S), so every rank decides alike; the per-segment broadcasts act on local entries only.
#ifndef FOLDOPT_BATCH_HPP
#define FOLDOPT_BATCH_HPP

#include <foldopt/params.hpp>

#include <vector>

namespace foldopt {
namespace batch {

/// Σᵢ xᵢ over each segment of `m` entries (collective). The vector's global size must be a
/// multiple of m.
std::vector<PetscReal> sums(Vec x, PetscInt m);
/// Σᵢ xᵢyᵢ over each segment.
std::vector<PetscReal> dots(Vec x, Vec y, PetscInt m);
/// ‖x_s‖₂ of each segment.
std::vector<PetscReal> norms(Vec x, PetscInt m);
/// max |xᵢ| of each segment.
std::vector<PetscReal> max_abs(Vec x, PetscInt m);
/// Number of entries with xᵢ ≠ 0 in each segment.
std::vector<PetscInt> counts(Vec x, PetscInt m);

/// yᵢ = a_s for every entry i of segment s (local work only).
void broadcast(const std::vector<PetscReal>& a, PetscInt m, Vec y);
/// yᵢ += a_s xᵢ for every entry i of segment s.
void axpy(const std::vector<PetscReal>& a, Vec x, PetscInt m, Vec y);
/// yᵢ = a_s xᵢ for every entry i of segment s.
void scale(const std::vector<PetscReal>& a, Vec x, PetscInt m, Vec y);

/// The threshold τ_s of each segment with Σᵢ clamp(zᵢ − τ_s, lo, hi) = k_s, where lo < hi
/// (hi may be +inf) and the target is attainable (m·lo ≤ k_s, and k_s ≤ m·hi): the Lagrange
/// multiplier of projecting onto {lo ≤ x ≤ hi, Σx = k}. Exact to rounding: a distributed search
/// by sampled pivots and in-place partitions (no sort, O(m) expected work) brackets τ between two
/// consecutive breakpoints, where the sum is affine in τ. Collective; refuses an unattainable k_s.
std::vector<PetscReal> thresholds(Vec z, PetscInt m, PetscReal lo, PetscReal hi, const std::vector<PetscReal>& k);

/// The layout's instance length and count, for the calls above: batch::sums(x, layout.n).
inline PetscInt segment(const Layout& l) { return l.n; }

}  // namespace batch
}  // namespace foldopt

#endif  // FOLDOPT_BATCH_HPP
