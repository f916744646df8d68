// foldopt: projection onto a product of capped simplices per instance (prox `capped_simplex_product`).
//
// Method:    every instance of n entries is cut into r equal segments s_1 … s_r of m = n/r entries;
//            prox(z) = argmin {‖x − z‖ : 0 ≤ x ≤ 1, Σ_{i ∈ s_j} x_i = k_j for j = 1 … r}. The set is
//            the product of r capped simplices, so the projection is theirs segment by segment:
//            x_{s_j} = clamp(z_{s_j} − τ_j, 0, 1) with τ_j from Σ x_{s_j} = k_j (the bilinear
//            problem's state (x, y) with Σx = p, Σy = q: r = 2). α plays no role.
// Algorithm: SumProjectionProx (sum_projection.cpp) with its segments: the thresholds of the B·r
//            segments by batch::thresholds (a segment may span ranks), the free set
//            F_j = {i ∈ s_j : 0 < z_i − τ_j < 1} and the Jacobian, block diagonal over segments,
//              J = D_F − Σ_j f_j f_jᵀ / |F_j|    (f_j the 0/1 indicator of F_j),
//            an orthogonal projector (factor K = J); structure d = f, U = [f_1 … f_{B·r}],
//            c_j = −1/|F_j| (0 when F_j = ∅). Option -<prefix>sums k1,k2,… (r values).
// References: Wang, Lu, Projection onto the capped simplex (arXiv:1503.01002, 2015); Bauschke,
//   Combettes, Convex Analysis and Monotone Operator Theory (2nd ed., 2017), Prop. 29.3 (the
//   projection onto a product set is the product of the projections).
#include <foldopt/prox/simplex.hpp>

#include <foldopt/error.hpp>

#include "core/options.hpp"
#include "prox/factories.hpp"
#include "prox/prox_util.hpp"

#include <sstream>

namespace foldopt {

CappedSimplexProductProx::CappedSimplexProductProx(const Layout& layout, const std::vector<PetscReal>& sums)
    : SumProjectionProx("capped_simplex_product", layout, 0.0, 1.0, sums) {}

std::string CappedSimplexProductProx::describe() const {
  std::ostringstream s;
  s << type() << " {0 <= x <= 1, sums";
  for (std::size_t j = 0; j < sums_.size(); ++j) s << (j ? ", " : " ") << sums_[j];
  s << " over " << sums_.size() << " segments of " << segment_ << "} per instance of " << layout_.n;
  return s.str();
}

namespace {
PetscErrorCode read_sums(MPI_Comm comm, const char* prefix, PetscReal* sums, PetscInt* count, PetscBool* set) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Projection onto a product of capped simplices", "CappedSimplexProductProx");
  PetscCall(PetscOptionsRealArray("-sums", "Sum of each segment of an instance, k1,k2,... (the count of values cuts the instance)",
                                  "CappedSimplexProductProx", sums, count, set));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

void CappedSimplexProductProx::set_from_options() {
  options::check_string(prefix_.c_str(), "sums");
  std::vector<PetscReal> sums(64, 0.0);
  PetscInt count = static_cast<PetscInt>(sums.size());
  PetscBool set = PETSC_FALSE;
  FOLDOPT_CALL(read_sums(prox_detail::comm_of(layout_), prefix_.c_str(), sums.data(), &count, &set));
  if (!set) return;
  FOLDOPT_CHECK(count >= 1, PETSC_ERR_ARG_WRONG, "option -%ssums: needs at least one value", prefix_.c_str());
  sums.resize(static_cast<std::size_t>(count));
  set_sums(sums);
}

/// One segment with sum 1 unless -<prefix>sums is given.
std::unique_ptr<Prox> make_capped_simplex_product_prox(const PartContext& ctx) {
  return configured(std::unique_ptr<Prox>(new CappedSimplexProductProx(prox_detail::layout_of(ctx), {1.0})), ctx);
}

}  // namespace foldopt
