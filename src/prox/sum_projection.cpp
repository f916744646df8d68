// foldopt: projection onto {lo ≤ x ≤ hi, Σx = k} per instance, shared by the simplex and capped
// simplex proxes (simplex.cpp, capped_simplex.cpp).
//
// Method:    prox(z)_b = clamp(z_b − τ_b, lo, hi), with τ_b the threshold of instance b such that
//            Σᵢ clamp(z_bi − τ_b, lo, hi) = k (batch::thresholds: exact to rounding, O(n log n),
//            an instance may span ranks).
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

#include <cmath>
#include <sstream>

namespace foldopt {

SumProjectionProx::SumProjectionProx(const char* name, const Layout& layout, PetscReal lo, PetscReal hi, PetscReal k)
    : name_(name), layout_(layout), lo_(lo), hi_(hi), k_(k) {
  FOLDOPT_CHECK(layout.n > 0 && layout.batch > 0, PETSC_ERR_ARG_OUTOFRANGE,
                "projection onto a simplex: the layout has no entries (n = %" PetscInt_FMT ", batch %" PetscInt_FMT ")",
                layout.n, layout.batch);
  set_sum(k);
}

void SumProjectionProx::set_sum(PetscReal k) {
  const PetscReal n = static_cast<PetscReal>(layout_.n);
  FOLDOPT_CHECK(std::isfinite(k) && k >= n * lo_ && k <= n * hi_, PETSC_ERR_ARG_OUTOFRANGE,
                "%s prox: the sum k = %g is not attainable by n = %" PetscInt_FMT " entries in [%g, %g] (k must be in [%g, %g])",
                name_, (double)k, layout_.n, (double)lo_, (double)hi_, (double)(n * lo_), (double)(n * hi_));
  k_ = k;
}

Prox::Capabilities SumProjectionProx::capabilities() const {
  Capabilities c;
  c.projection = true;
  c.low_rank = true;
  c.factor = true;
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
  tau_ = batch::thresholds(z, layout_.n, lo_, hi_, std::vector<PetscReal>(layout_.batch, k_));
  if (y != z) FOLDOPT_CALL(VecCopy(z, y));
  const PetscInt n = layout_.n;
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(y, &rstart, &rend));
  WriteArray a(y);
  for (PetscInt i = rstart; i < rend; ++i)
    a[i - rstart] = std::min(std::max(PetscRealPart(a[i - rstart]) - tau_[i / n], lo_), hi_);
}

void SumProjectionProx::apply(Vec z, PetscReal, const ParamSet&, Vec y) { project(z, y); }

void SumProjectionProx::linearize(Vec z, PetscReal, const ParamSet&) {
  if (!mask_) {
    FOLDOPT_CALL(VecDuplicate(z, mask_.out()));
    FOLDOPT_CALL(VecDuplicate(z, work_.out()));
  }
  project(z, work_);
  // free where lo < z − τ < hi, judged on the unclamped value
  const PetscInt n = layout_.n;
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
  FOLDOPT_CALL(VecPointwiseMult(y, mask_, v));
  std::vector<PetscReal> mean = batch::sums(y, layout_.n);
  for (std::size_t s = 0; s < mean.size(); ++s) mean[s] = size_[s] > 0 ? -mean[s] / size_[s] : 0.0;
  batch::axpy(mean, mask_, layout_.n, y);
}

void SumProjectionProx::factor_mult(Vec v, Vec y) { jacobian_mult(v, y); }

void SumProjectionProx::jacobian_structure(Vec d, OwnedMat* U, OwnedVec* c) {
  FOLDOPT_CHECK(mask_ && !size_.empty(), PETSC_ERR_ORDER, "%s prox: jacobian_structure before linearize",
                name_);
  FOLDOPT_CALL(VecCopy(mask_, d));
  std::vector<PetscReal> coef(size_.size());
  for (std::size_t s = 0; s < coef.size(); ++s) coef[s] = size_[s] > 0 ? -1.0 / size_[s] : 0.0;
  prox_detail::build_low_rank(mask_, layout_.n, coef, U, c);
}

}  // namespace foldopt
