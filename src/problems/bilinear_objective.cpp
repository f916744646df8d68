// foldopt: the smooth part of the bilinear problem; see bilinear_objective.hpp.
//
// Method:   f(s) = −eᵀs − ½ sᵀAs + μ φ(s) with A = kron(I_B, M), M = [[0, Q], [Qᵀ, 0]] (2m × 2m),
//           e = (c, d) per instance, s = (x, y).
// Formulas: ∇f = −e − As + μ φ′(s),   ∇²f = −A + μ diag(φ″(s)),
//             none       φ = 0
//             quadratic  φ = ½‖s‖²:       φ′ = s,           φ″ = 1    (∇²f constant)
//             entropic   φ = Σ s log s:   φ′ = 1 + log s,   φ″ = 1/s  (s below the floor DBL_MIN
//                        counts as at the bound: log uses the floor, φ″ = 0 there, as the entropy
//                        objective does)
//           (∂∇f/∂c)ᵀ v = −v_x,  (∂∇f/∂d)ᵀ v = −v_y;  (∂∇f/∂c) dc = −(dc, 0),  (∂∇f/∂d) dd = −(0, dd).
//           Curvature bound ‖A‖∞ + μ (quadratic), ‖A‖∞ (none), none for the entropy (unbounded).
//           Not convex (M is indefinite unless Q = 0): capabilities() say so.
// Algorithm: M is assembled from Q's rows on each rank (Q(i, j) at (i, m + j) and (m + j, i), the
//           second set communicated by the assembly), then the batch operator of objectives/
//           common.hpp (rows split like the state, diagonal stored). c and d reach the state's
//           layout by two VecScatters (B·m entries each into the x and y halves of every instance).
// References: Kotary, Dinh, Fioretto (2023); include/foldopt/objectives.hpp (the entropy floor).
#include "problems/bilinear_objective.hpp"

#include <foldopt/error.hpp>

#include "core/vec_array.hpp"
#include "objectives/common.hpp"

#include <cfloat>
#include <cmath>
#include <vector>

namespace foldopt {
namespace detail {

namespace {

/// M = [[0, Q], [Qᵀ, 0]] (2m × 2m, PETSc's split), from Q's local rows.
OwnedMat coupling_matrix(Mat Q) {
  MPI_Comm comm;
  FOLDOPT_CALL(PetscObjectGetComm((PetscObject)Q, &comm));
  PetscInt m, mc;
  FOLDOPT_CALL(MatGetSize(Q, &m, &mc));
  FOLDOPT_CHECK(m == mc, PETSC_ERR_ARG_SIZ, "bilinear: Q is not square: %" PetscInt_FMT " x %" PetscInt_FMT, m, mc);
  OwnedMat M;
  FOLDOPT_CALL(MatCreate(comm, M.out()));
  FOLDOPT_CALL(MatSetSizes(M, PETSC_DECIDE, PETSC_DECIDE, 2 * m, 2 * m));
  FOLDOPT_CALL(MatSetType(M, MATAIJ));
  FOLDOPT_CALL(MatSetUp(M));
  FOLDOPT_CALL(MatSetOption(M, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_FALSE));
  PetscInt rstart, rend;
  FOLDOPT_CALL(MatGetOwnershipRange(Q, &rstart, &rend));
  std::vector<PetscInt> cols;
  for (PetscInt i = rstart; i < rend; ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    FOLDOPT_CALL(MatGetRow(Q, i, &nc, &c, &v));
    cols.assign(c, c + nc);
    for (auto& j : cols) j += m;
    FOLDOPT_CALL(MatSetValues(M, 1, &i, nc, cols.data(), v, INSERT_VALUES));
    for (PetscInt k = 0; k < nc; ++k) {
      const PetscInt row = m + c[k];
      FOLDOPT_CALL(MatSetValues(M, 1, &row, 1, &i, &v[k], INSERT_VALUES));
    }
    FOLDOPT_CALL(MatRestoreRow(Q, i, &nc, &c, &v));
  }
  FOLDOPT_CALL(MatAssemblyBegin(M, MAT_FINAL_ASSEMBLY));
  FOLDOPT_CALL(MatAssemblyEnd(M, MAT_FINAL_ASSEMBLY));
  return M;
}

class BilinearObjective : public Objective {
 public:
  BilinearObjective(const Layout& l, Mat Q, BilinearSmoothing s, PetscReal mu) : layout_(l), smoothing_(s), mu_(mu) {
    objectives_detail::check_layout(l, "bilinear");
    FOLDOPT_CHECK(l.n % 2 == 0, PETSC_ERR_ARG_SIZ, "bilinear: the state has %" PetscInt_FMT " entries per instance, not 2m", l.n);
    FOLDOPT_CHECK(std::isfinite(mu) && mu >= 0 && (s == BilinearSmoothing::none || mu > 0), PETSC_ERR_ARG_OUTOFRANGE,
                  "bilinear: the smoothing parameter mu = %g must be positive", (double)mu);
    m_ = l.n / 2;
    OwnedMat M = coupling_matrix(Q);
    A_ = objectives_detail::batch_operator(M, l, "bilinear: Q", true).A;
    FOLDOPT_CALL(MatNorm(A_, NORM_INFINITY, &norm_));
    FOLDOPT_CALL(MatCreateVecs(A_, e_.out(), w_.out()));
  }

  std::string type() const override { return "bilinear"; }
  Capabilities capabilities() const override {
    Capabilities c;
    c.hessian = true;
    c.hessian_diagonal = true;
    c.quadratic = smoothing_ != BilinearSmoothing::entropic;
    c.convex = false;
    c.diagonal = false;
    return c;
  }
  std::string describe() const override {
    return detail::format("bilinear -(c'x + x'Qy + d'y) + mu phi, smoothing %s, mu = %g (blocks 'c', 'd')",
                          to_string(smoothing_), (double)mu_);
  }

  PetscReal value_gradient(Vec s, const ParamSet& theta, Vec g) override {
    load_e(theta);
    FOLDOPT_CALL(MatMult(A_, s, w_));  // w = As
    PetscScalar es, sas;
    FOLDOPT_CALL(VecDot(e_, s, &es));
    FOLDOPT_CALL(VecDot(s, w_, &sas));
    PetscReal phi = 0;
    {
      ReadArray a(s);
      PetscInt nloc;
      FOLDOPT_CALL(VecGetLocalSize(s, &nloc));
      PetscReal local = 0;
      for (PetscInt i = 0; i < nloc; ++i) local += phi_of(PetscRealPart(a[i]));
      FOLDOPT_CALL(MPI_Allreduce(&local, &phi, 1, MPIU_REAL, MPIU_SUM, layout_.comm));
    }
    if (g) {
      FOLDOPT_CALL(VecWAXPY(g, 1.0, e_, w_));
      FOLDOPT_CALL(VecScale(g, -1.0));  // −e − As
      if (smoothing_ != BilinearSmoothing::none) {
        PetscInt nloc;
        FOLDOPT_CALL(VecGetLocalSize(s, &nloc));
        ReadArray a(s);
        WriteArray gg(g);
        for (PetscInt i = 0; i < nloc; ++i) gg[i] += mu_ * dphi(PetscRealPart(a[i]));
      }
    }
    return PetscRealPart(-es - 0.5 * sas) + mu_ * phi;
  }

  void hessian_mult(Vec s, const ParamSet&, Vec v, Vec y) override {
    FOLDOPT_CALL(MatMult(A_, v, y));
    FOLDOPT_CALL(VecScale(y, -1.0));
    if (smoothing_ == BilinearSmoothing::none) return;
    PetscInt nloc;
    FOLDOPT_CALL(VecGetLocalSize(s, &nloc));
    ReadArray a(s), vv(v);
    WriteArray yy(y);
    for (PetscInt i = 0; i < nloc; ++i) yy[i] += mu_ * ddphi(PetscRealPart(a[i])) * vv[i];
  }

  OwnedMat hessian(Vec s, const ParamSet& theta) override {
    if (smoothing_ != BilinearSmoothing::entropic && H_) return OwnedMat::share(H_);
    OwnedMat H;
    FOLDOPT_CALL(MatDuplicate(A_, MAT_COPY_VALUES, H.out()));
    FOLDOPT_CALL(MatScale(H, -1.0));
    OwnedVec dg;
    FOLDOPT_CALL(VecDuplicate(s, dg.out()));
    hessian_diagonal(s, theta, dg);
    FOLDOPT_CALL(MatDiagonalSet(H, dg, ADD_VALUES));
    if (smoothing_ != BilinearSmoothing::entropic) H_ = OwnedMat::share(H);
    return H;
  }

  void hessian_diagonal(Vec s, const ParamSet&, Vec d) override {  // A's diagonal is 0
    PetscInt nloc;
    FOLDOPT_CALL(VecGetLocalSize(s, &nloc));
    ReadArray a(s);
    WriteArray dd(d);
    for (PetscInt i = 0; i < nloc; ++i) dd[i] = smoothing_ == BilinearSmoothing::none ? 0.0 : mu_ * ddphi(PetscRealPart(a[i]));
  }

  void gradient_param_t(Vec, const ParamSet&, Vec v, ParamSet& out) override {
    for (int half = 0; half < 2; ++half) {
      const char* name = half == 0 ? "c" : "d";
      if (!out.has(name)) continue;
      Vec blk = out.get(name);
      make_scatters(blk);
      FOLDOPT_CALL(VecCopy(v, w_));
      FOLDOPT_CALL(VecScale(w_, -1.0));
      FOLDOPT_CALL(VecScatterBegin(scatter_[half], w_, blk, ADD_VALUES, SCATTER_REVERSE));
      FOLDOPT_CALL(VecScatterEnd(scatter_[half], w_, blk, ADD_VALUES, SCATTER_REVERSE));
    }
  }

  void gradient_param(Vec, const ParamSet&, const ParamSet& dtheta, Vec y) override {
    FOLDOPT_CALL(VecZeroEntries(w_));
    bool any = false;
    for (int half = 0; half < 2; ++half) {
      const char* name = half == 0 ? "c" : "d";
      if (!dtheta.has(name)) continue;
      Vec blk = dtheta.get(name);
      make_scatters(blk);
      FOLDOPT_CALL(VecScatterBegin(scatter_[half], blk, w_, INSERT_VALUES, SCATTER_FORWARD));
      FOLDOPT_CALL(VecScatterEnd(scatter_[half], blk, w_, INSERT_VALUES, SCATTER_FORWARD));
      any = true;
    }
    if (any) FOLDOPT_CALL(VecAXPY(y, -1.0, w_));
  }

  PetscReal curvature_bound(const ParamSet&) override {
    switch (smoothing_) {
      case BilinearSmoothing::none: return norm_;
      case BilinearSmoothing::quadratic: return norm_ + mu_;
      case BilinearSmoothing::entropic: return 0;
    }
    return 0;
  }

 private:
  static constexpr PetscReal floor_ = DBL_MIN;
  PetscReal phi_of(PetscReal t) const {
    switch (smoothing_) {
      case BilinearSmoothing::none: return 0;
      case BilinearSmoothing::quadratic: return 0.5 * t * t;
      case BilinearSmoothing::entropic: return t * std::log(std::max(t, floor_));
    }
    return 0;
  }
  PetscReal dphi(PetscReal t) const {
    return smoothing_ == BilinearSmoothing::quadratic ? t : 1 + std::log(std::max(t, floor_));
  }
  PetscReal ddphi(PetscReal t) const {
    if (smoothing_ == BilinearSmoothing::quadratic) return 1;
    return t >= floor_ ? 1 / t : 0;
  }

  /// The scatters of a block of B·m entries into the x (half 0) and y (half 1) parts of the state.
  void make_scatters(Vec blk) {
    PetscInt N;
    FOLDOPT_CALL(VecGetSize(blk, &N));
    FOLDOPT_CHECK(N == layout_.batch * m_, PETSC_ERR_ARG_SIZ,
                  "bilinear: a block c or d has %" PetscInt_FMT " entries, not B*m = %" PetscInt_FMT, N, layout_.batch * m_);
    PetscInt rstart, rend;
    FOLDOPT_CALL(VecGetOwnershipRange(blk, &rstart, &rend));
    if (scatter_[0] && rstart == srange_[0] && rend == srange_[1]) return;
    for (int half = 0; half < 2; ++half) {
      std::vector<PetscInt> from, to;
      for (PetscInt I = rstart; I < rend; ++I) {
        from.push_back(I);
        to.push_back((I / m_) * 2 * m_ + half * m_ + I % m_);
      }
      OwnedIS isf, ist;
      FOLDOPT_CALL(ISCreateGeneral(layout_.comm, (PetscInt)from.size(), from.data(), PETSC_COPY_VALUES, isf.out()));
      FOLDOPT_CALL(ISCreateGeneral(layout_.comm, (PetscInt)to.size(), to.data(), PETSC_COPY_VALUES, ist.out()));
      scatter_[half].reset();
      FOLDOPT_CALL(VecScatterCreate(blk, isf, w_, ist, scatter_[half].out()));
    }
    srange_[0] = rstart;
    srange_[1] = rend;
  }

  /// e = (c, d) per instance in the state's layout.
  void load_e(const ParamSet& theta) {
    for (int half = 0; half < 2; ++half) {
      Vec blk = theta.get(half == 0 ? "c" : "d");
      make_scatters(blk);
      FOLDOPT_CALL(VecScatterBegin(scatter_[half], blk, e_, INSERT_VALUES, SCATTER_FORWARD));
      FOLDOPT_CALL(VecScatterEnd(scatter_[half], blk, e_, INSERT_VALUES, SCATTER_FORWARD));
    }
  }

  Layout layout_;
  BilinearSmoothing smoothing_;
  PetscReal mu_;
  PetscInt m_ = 0;
  OwnedMat A_, H_;
  PetscReal norm_ = 0;
  OwnedVec e_, w_;
  OwnedVecScatter scatter_[2];
  PetscInt srange_[2] = {-1, -1};
};

}  // namespace

std::unique_ptr<Objective> make_bilinear_objective(const Layout& layout, Mat Q, BilinearSmoothing smoothing, PetscReal mu) {
  return std::unique_ptr<Objective>(new BilinearObjective(layout, Q, smoothing, mu));
}

}  // namespace detail
}  // namespace foldopt
