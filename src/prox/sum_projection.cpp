// foldopt: projection onto {lo ≤ x ≤ hi, Σx = k} per instance (or per segment of an instance),
// shared by the simplex, capped simplex and capped simplex product proxes (simplex.cpp,
// capped_simplex.cpp, capped_simplex_product.cpp).
//
// Method:    prox(z)_b = clamp(z_b − τ_b, lo, hi), with τ_b the threshold of instance b such that
//            Σᵢ clamp(z_bi − τ_b, lo, hi) = k (batch::thresholds: exact to rounding, O(n) expected,
//            an instance may span ranks).
//            Segments: an instance may be cut into r equal segments with sums k_1 … k_r; every
//            formula below then holds per segment (b runs over the B·r segments).
// Algorithm: free set F_b = {i : lo < z_bi − τ_b < hi}; an entry exactly at a bound counts as not
//            free (the generalized-Jacobian element with J_ii = 0 there). On F_b the constraint
//            Σ_F x = k − (entries at bounds) moves τ by the mean of a perturbation, so
//              J_b = D_F − f fᵀ/|F_b|    (f the 0/1 indicator of F_b; J_b = 0 when F_b is empty),
//            an orthogonal projector (onto {v : supp v ⊂ F_b, Σv = 0}): K = J. Structure:
//            d = f, U = [f_1 … f_B] (one column per instance), c_b = −1/|F_b| (0 when F_b = ∅).
// References: Held, Wolfe, Crowder (1974); Duchi, Shalev-Shwartz, Singer, Chandra (ICML 2008);
//   Martins, Astudillo (ICML 2016) for the sparsemax Jacobian; Wang, Lu (2015) for the capped simplex.
#include <foldopt/prox/simplex.hpp>

#include <foldopt/batch.hpp>
#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "prox/prox_util.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace foldopt {

SumProjectionProx::SumProjectionProx(const char* name, const Layout& layout, PetscReal lo, PetscReal hi, PetscReal k)
    : SumProjectionProx(name, layout, lo, hi, std::vector<PetscReal>{k}) {}

SumProjectionProx::SumProjectionProx(const char* name, const Layout& layout, PetscReal lo, PetscReal hi,
                                     const std::vector<PetscReal>& sums)
    : name_(name), layout_(layout), lo_(lo), hi_(hi), k_(0), segment_(layout.n) {
  FOLDOPT_CHECK(layout.n > 0 && layout.batch > 0, PETSC_ERR_ARG_OUTOFRANGE,
                "projection onto a simplex: the layout has no entries (n = %" PetscInt_FMT ", batch %" PetscInt_FMT ")",
                layout.n, layout.batch);
  set_sums(sums);
}

void SumProjectionProx::set_sum(PetscReal k) { set_sums({k}); }

void SumProjectionProx::set_sums(const std::vector<PetscReal>& sums) {
  const PetscInt r = static_cast<PetscInt>(sums.size());
  FOLDOPT_CHECK(r >= 1 && layout_.n % r == 0, PETSC_ERR_ARG_SIZ,
                "%s prox: %" PetscInt_FMT " sums do not cut an instance of %" PetscInt_FMT " entries into equal segments", name_, r,
                layout_.n);
  const PetscInt m = layout_.n / r;
  const PetscReal len = static_cast<PetscReal>(m);
  for (PetscReal k : sums)
    FOLDOPT_CHECK(std::isfinite(k) && k >= len * lo_ && k <= len * hi_, PETSC_ERR_ARG_OUTOFRANGE,
                  "%s prox: the sum k = %g is not attainable by n = %" PetscInt_FMT " entries in [%g, %g] (k must be in [%g, %g])",
                  name_, (double)k, m, (double)lo_, (double)hi_, (double)(len * lo_), (double)(len * hi_));
  segment_ = m;
  sums_ = sums;
  k_ = sums.front();
}

Prox::Capabilities SumProjectionProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.low_rank = true;
  c.factor = true;
  c.parameters = false;  // fixed data
  return c;
}

std::string SumProjectionProx::describe() const {
  std::ostringstream s;
  s << type() << " {" << lo_ << " <= x" << (std::isfinite(hi_) ? " <= " : "");
  if (std::isfinite(hi_)) s << hi_;
  s << ", sum x = " << k_ << "} per instance of " << layout_.n;
  return s.str();
}

void SumProjectionProx::project(Vec z, Vec y) {
  prox_detail::check_size(z, layout_, name_, "z");
  std::vector<PetscReal> k;
  k.reserve(sums_.size() * static_cast<std::size_t>(layout_.batch));
  for (PetscInt b = 0; b < layout_.batch; ++b) k.insert(k.end(), sums_.begin(), sums_.end());
  tau_ = batch::thresholds(z, segment_, lo_, hi_, k);
  if (y != z) FOLDOPT_CALL(VecCopy(z, y));
  const PetscInt n = segment_;
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rstart, &rend));
  WriteArray a(y);
  for (PetscInt i = rstart; i < rend;) {  // segment by segment (no division per entry)
    const PetscInt end = std::min(rend, (i / n + 1) * n);
    const PetscReal t = tau_[i / n];
    for (; i < end; ++i) a[i - rstart] = std::min(std::max(PetscRealPart(a[i - rstart]) - t, lo_), hi_);
  }
}

void SumProjectionProx::apply(Vec z, PetscReal, const ParamSet&, Vec y) { project(z, y); }

void SumProjectionProx::linearize(Vec z, PetscReal, const ParamSet&) {
  if (!mask_) {
    FOLDOPT_CALL(VecDuplicate(z, mask_.out()));
    FOLDOPT_CALL(VecDuplicate(z, work_.out()));
  }
  project(z, work_);
  // free where lo < z − τ < hi, judged on the unclamped value
  const PetscInt n = segment_;
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(z, &rstart, &rend));
  {
    ReadArray a(z);
    WriteArray m(mask_);
    for (PetscInt i = rstart; i < rend; ++i) {
      const PetscReal w = a[i - rstart] - tau_[i / n];
      m[i - rstart] = (w > lo_ && w < hi_) ? 1.0 : 0.0;
    }
  }
  size_ = batch::sums(mask_, n);
  free_ = 0;
  for (PetscReal s : size_) free_ += static_cast<PetscInt>(s);
}

void SumProjectionProx::jacobian_mult(Vec v, Vec y) {
  FOLDOPT_CHECK(mask_ && !size_.empty(), PETSC_ERR_ORDER, "%s prox: jacobian_mult before linearize", name_);
  // Two passes over the data: the segments' sums fᵀv (f the 0/1 mask), then y = f ⊙ (v − fᵀv/|F|).
  std::vector<PetscReal> mean = batch::dots(mask_, v, segment_);
  for (std::size_t s = 0; s < mean.size(); ++s) mean[s] = size_[s] > 0 ? mean[s] / size_[s] : 0.0;
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rstart, &rend));
  ReadArray f(mask_);
  auto combine = [&](auto& va, WriteArray& ya) {
    for (PetscInt i = rstart; i < rend;) {  // segment by segment (a segment may start on another rank)
      const PetscInt s = i / segment_, end = std::min(rend, (s + 1) * segment_);
      const PetscReal m = mean[s];
      for (; i < end; ++i) ya[i - rstart] = f[i - rstart] * (va[i - rstart] - m);
    }
  };
  if (v == y) {
    WriteArray ya(y);
    combine(ya, ya);
  } else {
    ReadArray va(v);
    WriteArray ya(y);
    combine(va, ya);
  }
}

void SumProjectionProx::factor_mult(Vec v, Vec y) { jacobian_mult(v, y); }

void SumProjectionProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(mask_ && !size_.empty(), PETSC_ERR_ORDER, "%s prox: jacobian_structure before linearize",
                name_);
  FOLDOPT_CALL(VecCopy(mask_, d));
  std::vector<PetscReal> coef(size_.size());
  for (std::size_t s = 0; s < coef.size(); ++s) coef[s] = size_[s] > 0 ? -1.0 / size_[s] : 0.0;
  prox_detail::build_low_rank(mask_, segment_, coef, U, c);
}

}  // namespace foldopt
