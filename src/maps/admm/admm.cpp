// foldopt: the ADMM map for sparse convex QPs (update map `admm`); see include/foldopt/maps/admm.hpp.
//
// Method: OSQP's splitting as a map U(s; θ) of s = (x, z, y), θ = (q, l, u, P.values, A.values):
//   x̃ = K⁻¹(σx − q + Aᵀ(ρz − y)),  K = P + σI + ρAᵀA,  z̃ = Ax̃
//   x⁺ = αx̃ + (1 − α)x,  v = αz̃ + (1 − α)z + y/ρ,  z⁺ = Π_[l,u](v),  y⁺ = ρ(v − z⁺)
// Algorithm (at the linearization s*, with x̃, z̃, c = ρz − y − ρz̃, and the 0/1 diagonals D of
//   inactive rows, E_l, E_u of rows active at l, u; D + E_l + E_u = I; rows by the sign of y):
//   Φ (dx, dz, dy):  t = K⁻¹(σdx + Aᵀ(ρdz − dy)),  dx⁺ = αt + (1 − α)dx,
//                    dv = αAt + (1 − α)dz + dy/ρ,  dz⁺ = D dv,  dy⁺ = ρ(I − D) dv
//   Φᵀ (vx, vz, vy): a = D vz + ρ(I − D) vy,  t = K⁻ᵀ(αvx + αAᵀa),
//                    x̄ = (1 − α)vx + σt,  z̄ = (1 − α)a + ρAt,  ȳ = a/ρ − At
//   Ψ dθ:  t = K⁻¹(−dq − dP x̃ + dAᵀc − ρAᵀ dA x̃),  dz̃ = At + dA x̃,
//          dx⁺ = αt,  dv = α dz̃,  dz⁺ = D dv + E_l dl + E_u du,  dy⁺ = ρ(dv − dz⁺)
//   Ψᵀ v:  (a, t as in Φᵀ)  q̄ = −t,  l̄ = E_l(vz − ρvy),  ū = E_u(vz − ρvy),
//          P̄_ij = −t_i x̃_j,  Ā_ij = c_i t_j + (αa − ρAt)_i x̃_j   (stored nonzeros, summed over
//          the instances: P and A are shared by the batch)
//   Readout x = R(s): (∂R/∂s)ᵀg = (g, 0, 0), no θ term.
//   The state is instance after instance (x_b, z_b, y_b), PETSc's split of B(n + 2m); x, z, y
//   are moved to and from vectors split like P's and A's batch rows by three VecScatters.
// References: B. Stellato, G. Banjac, P. Goulart, A. Bemporad, S. Boyd, OSQP: an operator
//   splitting solver for quadratic programs, Math. Prog. Comp. 12 (2020) 637–672 (the splitting,
//   ρ, σ, α); Kotary, Dinh, Fioretto (2023), folded ADMM.
#include <foldopt/maps/admm.hpp>

#include <foldopt/error.hpp>
#include <foldopt/matrix_values.hpp>
#include <foldopt/problem.hpp>

#include "core/options.hpp"
#include "core/util.hpp"
#include "core/vec_array.hpp"
#include "maps/admm/linear_system.hpp"
#include "objectives/common.hpp"
#include "objectives/matrix_parameter.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace foldopt {

using objectives_detail::MatrixParameter;

struct AdmmMap::Impl {
  Impl(const AdmmData& d, const std::string& prefix)
      : P(d.P, d.layout, "admm: " + d.P_name, true, d.P_values),
        A(d.A, d.layout, "admm: " + d.A_name, false, d.A_values),
        sys(d.layout.comm, prefix + "admm_") {}
  MatrixParameter P, A;
  admm_detail::LinearSystem sys;
  bool factored = false;
  OwnedVecScatter sx, sz, sy;  ///< state ↔ x, z, y
  // work vectors: x-sized and z-sized
  OwnedVec x, x1, x2, z, z1, z2, y;
  // at the linearization
  OwnedVec xt, zt, c, D, El, Eu;
  bool linearized = false;
  PetscInt active_l = 0, active_u = 0, weak = 0;
};

namespace {

void gather_part(VecScatter sc, Vec state, Vec part) {
  FOLDOPT_CALL(VecScatterBegin(sc, state, part, INSERT_VALUES, SCATTER_FORWARD));
  FOLDOPT_CALL(VecScatterEnd(sc, state, part, INSERT_VALUES, SCATTER_FORWARD));
}

void put_part(VecScatter sc, Vec part, Vec state) {
  FOLDOPT_CALL(VecScatterBegin(sc, part, state, INSERT_VALUES, SCATTER_REVERSE));
  FOLDOPT_CALL(VecScatterEnd(sc, part, state, INSERT_VALUES, SCATTER_REVERSE));
}

PetscInt local_size(Vec v) {
  PetscInt n;
  FOLDOPT_CALL(VecGetLocalSize(v, &n));
  return n;
}

}  // namespace

AdmmMap::AdmmMap(const AdmmData& data) : data_(data) {
  objectives_detail::check_layout(data_.layout, "admm");
  FOLDOPT_CHECK(data_.P != nullptr && data_.A != nullptr, PETSC_ERR_ARG_NULL, "admm: needs the matrices P and A");
  FOLDOPT_CALL(MatGetSize(data_.A, &m_, nullptr));
  const Layout& l = data_.layout;
  state_layout_.comm = l.comm;
  state_layout_.n = l.n + 2 * m_;
  state_layout_.batch = l.batch;
  FOLDOPT_CHECK((long long)state_layout_.n * l.batch <= PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
                "admm: the state of B(n + 2m) = %lld entries exceeds the largest index", (long long)state_layout_.n * l.batch);
  state_layout_.local = objectives_detail::default_local(l.comm, state_layout_.global());
  impl_.reset(new Impl(data_, prefix_));
  Impl& I = *impl_;
  FOLDOPT_CALL(MatCreateVecs(I.P.op(), I.x.out(), nullptr));
  for (OwnedVec* v : {&I.x1, &I.x2, &I.xt}) FOLDOPT_CALL(VecDuplicate(I.x, v->out()));
  FOLDOPT_CALL(MatCreateVecs(I.A.op(), nullptr, I.z.out()));
  for (OwnedVec* v : {&I.z1, &I.z2, &I.y, &I.zt, &I.c, &I.D, &I.El, &I.Eu}) FOLDOPT_CALL(VecDuplicate(I.z, v->out()));
  OwnedVec s = create_vec();
  // part index J = b·len + j ↔ state index b(n + 2m) + offset + j
  I.sx = part_scatter(s, I.x, l.n, l.n + 2 * m_, 0);
  I.sz = part_scatter(s, I.z, m_, l.n + 2 * m_, l.n);
  I.sy = part_scatter(s, I.z, m_, l.n + 2 * m_, l.n + m_);
}

AdmmMap::~AdmmMap() = default;

std::unique_ptr<UpdateMap> AdmmMap::create(const MapContext& c) {
  FOLDOPT_CHECK(c.problem != nullptr, PETSC_ERR_ARG_NULL, "update map 'admm' is built from a problem; none was given");
  const auto* src = dynamic_cast<const AdmmSource*>(c.problem);
  FOLDOPT_CHECK(src != nullptr, PETSC_ERR_ARG_WRONG,
                "update map 'admm' folds a QP with constraints l <= Ax <= u (problem qp); problem '%s' is not one",
                c.problem->type().c_str());
  std::unique_ptr<AdmmMap> m(new AdmmMap(src->admm_data()));
  m->source_ = src;
  m->set_options_prefix(c.prefix);
  return m;
}

PetscInt AdmmMap::factorizations() const { return impl_->sys.factorizations(); }

OwnedVec AdmmMap::create_x() const {
  OwnedVec v;
  FOLDOPT_CALL(VecDuplicate(impl_->x, v.out()));
  return v;
}

OwnedVec AdmmMap::create_z() const {
  OwnedVec v;
  FOLDOPT_CALL(VecDuplicate(impl_->z, v.out()));
  return v;
}

void AdmmMap::split(Vec s, Vec x, Vec z, Vec y) const {
  if (x) gather_part(impl_->sx, s, x);
  if (z) gather_part(impl_->sz, s, z);
  if (y) gather_part(impl_->sy, s, y);
}

void AdmmMap::join(Vec x, Vec z, Vec y, Vec s) const {
  put_part(impl_->sx, x, s);
  put_part(impl_->sz, z, s);
  put_part(impl_->sy, y, s);
}

Mat AdmmMap::P_op(const ParamSet& theta) {
  sync(theta);
  return impl_->P.op();
}

Mat AdmmMap::A_op(const ParamSet& theta) {
  sync(theta);
  return impl_->A.op();
}

void AdmmMap::set_rho(PetscReal rho) {
  FOLDOPT_CHECK(rho > 0 && std::isfinite(rho), PETSC_ERR_ARG_OUTOFRANGE, "admm: rho %g must be positive", (double)rho);
  if (rho == rho_) return;
  rho_ = rho;
  impl_->factored = false;
  impl_->linearized = false;
}

PetscReal AdmmMap::fixed_point_scale() const { return alpha_ * std::min<PetscReal>(1, rho_); }

namespace {
PetscErrorCode read_admm_options(MPI_Comm comm, const char* prefix, PetscReal* rho, PetscReal* sigma, PetscReal* alpha,
                                 PetscReal* tol, char* kkt, size_t len) {
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "ADMM map (OSQP's splitting)", "AdmmMap");
  PetscCall(PetscOptionsReal("-admm_rho", "Penalty rho > 0 (the admm forward starts from it, adapts it and leaves its last rho for the backward)", "AdmmMap",
                             *rho, rho, nullptr));
  PetscCall(PetscOptionsReal("-admm_sigma", "Regularization sigma > 0 of the x-update, K = P + sigma I + rho A'A", "AdmmMap", *sigma,
                             sigma, nullptr));
  PetscCall(PetscOptionsReal("-admm_alpha", "Relaxation alpha in (0, 2)", "AdmmMap", *alpha, alpha, nullptr));
  PetscCall(PetscOptionsReal("-admm_active_tol",
                             "A row is active when |y_i| > tol max(1, ||y||_inf); weakly active rows (|y| <= that) count as inactive",
                             "AdmmMap", *tol, tol, nullptr));
  PetscCall(PetscOptionsString("-admm_kkt",
                               "Linear system: full (quasi-definite KKT [P + sigma I, A'; A, -I/rho]) or reduced (P + sigma I + rho A'A)",
                               "AdmmMap", kkt, kkt, len, nullptr));
  PetscOptionsEnd();
  PetscFunctionReturn(0);
}
}  // namespace

void AdmmMap::set_from_options() {
  UpdateMap::set_from_options();
  const char* pre = prefix_.c_str();
  options::check_real(pre, "admm_rho", 0, 1e300, true);
  options::check_real(pre, "admm_sigma", 0, 1e300, true);
  options::check_real(pre, "admm_alpha", 0, 2, true, true);
  options::check_real(pre, "admm_active_tol", 0, 1);
  options::check_choice(pre, "admm_kkt", {"full", "reduced"});
  char kkt[16];
  std::snprintf(kkt, sizeof kkt, "%s", reduced_ ? "reduced" : "full");
  PetscReal rho = rho_, sigma = sigma_, alpha = alpha_, tol = active_tol_;
  FOLDOPT_CALL(read_admm_options(layout().comm, pre, &rho, &sigma, &alpha, &tol, kkt, sizeof kkt));
  set_rho(rho);
  const bool reduced = std::string(kkt) == "reduced";
  if (sigma != sigma_ || alpha != alpha_ || reduced != reduced_) {
    impl_->factored = false;
    impl_->linearized = false;
  }
  sigma_ = sigma;
  alpha_ = alpha;
  active_tol_ = tol;
  reduced_ = reduced;
  impl_->sys.set_reduced(reduced_);
}

std::string AdmmMap::describe() const {
  return detail::format("admm (rho %g, sigma %g, alpha %g)", (double)rho_, (double)sigma_, (double)alpha_);
}

void AdmmMap::view(PetscViewer viewer) const {
  const Layout& l = data_.layout;
  PetscViewerASCIIPrintf(viewer,
                         "  state (x, z, y): %" PetscInt_FMT " + 2 x %" PetscInt_FMT " entries per instance, %" PetscInt_FMT
                         " instance%s; solution x (readout)\n",
                         l.n, m_, l.batch, l.batch > 1 ? "s" : "");
  PetscViewerASCIIPrintf(viewer, "  linear system: %s; %" PetscInt_FMT " factorization%s\n", impl_->sys.describe().c_str(),
                         impl_->sys.factorizations(), impl_->sys.factorizations() == 1 ? "" : "s");
  if (impl_->linearized)
    PetscViewerASCIIPrintf(viewer,
                           "  at the fixed point: %" PetscInt_FMT " rows active at l, %" PetscInt_FMT " at u, %" PetscInt_FMT
                           " weakly active (treated as inactive; -%sadmm_active_tol %g)\n",
                           impl_->active_l, impl_->active_u, impl_->weak, prefix_.c_str(), (double)active_tol_);
}

ParamSet AdmmMap::create_params() const {
  ParamSet p;
  OwnedVec q, l, u;
  FOLDOPT_CALL(VecDuplicate(impl_->x, q.out()));
  FOLDOPT_CALL(VecDuplicate(impl_->z, l.out()));
  FOLDOPT_CALL(VecDuplicate(impl_->z, u.out()));
  OwnedVec pv = matrix_values::values(data_.P), av = matrix_values::values(data_.A);
  for (Vec v : {q.get(), l.get(), u.get(), pv.get(), av.get()}) FOLDOPT_CALL(VecZeroEntries(v));
  p.add(data_.q, q, BlockKind::instance);
  p.add(data_.l, l, BlockKind::instance);
  p.add(data_.u, u, BlockKind::instance);
  p.add(data_.P_values, pv, BlockKind::matrix_values, data_.P);
  p.add(data_.A_values, av, BlockKind::matrix_values, data_.A);
  return p;
}

void AdmmMap::sync(const ParamSet& theta) {
  const bool changed_p = impl_->P.sync(theta);
  const bool changed_a = impl_->A.sync(theta);
  if (changed_p || changed_a) impl_->factored = false;
  if (!impl_->factored) {
    impl_->sys.set_reduced(reduced_);
    impl_->sys.set_prefix(prefix_ + "admm_");
    impl_->sys.setup(impl_->P.op(), impl_->A.op(), sigma_, rho_);
    impl_->factored = true;
  }
}

void AdmmMap::solve(Vec r, Vec x, bool transpose) { impl_->sys.solve(r, x, transpose); }

void AdmmMap::apply(Vec s, const ParamSet& theta, Vec out) {
  sync(theta);
  Impl& I = *impl_;
  Mat A = I.A.op();
  split(s, I.x, I.z, I.y);
  // r = σx − q + Aᵀ(ρz − y)
  FOLDOPT_CALL(VecAXPBYPCZ(I.z1, rho_, -1.0, 0.0, I.z, I.y));
  FOLDOPT_CALL(MatMultTranspose(A, I.z1, I.x1));
  FOLDOPT_CALL(VecAXPBYPCZ(I.x1, sigma_, -1.0, 1.0, I.x, theta.get(data_.q)));
  solve(I.x1, I.x2, false);               // x̃
  FOLDOPT_CALL(MatMult(A, I.x2, I.z1));   // z̃
  FOLDOPT_CALL(VecAXPBY(I.x2, 1 - alpha_, alpha_, I.x));  // x⁺ = αx̃ + (1 − α)x
  // v = αz̃ + (1 − α)z + y/ρ
  FOLDOPT_CALL(VecAXPBYPCZ(I.z1, 1 - alpha_, 1 / rho_, alpha_, I.z, I.y));
  FOLDOPT_CALL(VecPointwiseMax(I.z2, I.z1, theta.get(data_.l)));
  FOLDOPT_CALL(VecPointwiseMin(I.z2, I.z2, theta.get(data_.u)));  // z⁺
  FOLDOPT_CALL(VecAXPY(I.z1, -1.0, I.z2));
  FOLDOPT_CALL(VecScale(I.z1, rho_));  // y⁺ = ρ(v − z⁺)
  join(I.x2, I.z2, I.z1, out);
}

void AdmmMap::linearize(Vec s, const ParamSet& theta) {
  sync(theta);
  Impl& I = *impl_;
  Mat A = I.A.op();
  split(s, I.x, I.z, I.y);
  FOLDOPT_CALL(VecAXPBYPCZ(I.z1, rho_, -1.0, 0.0, I.z, I.y));
  FOLDOPT_CALL(MatMultTranspose(A, I.z1, I.x1));
  FOLDOPT_CALL(VecAXPBYPCZ(I.x1, sigma_, -1.0, 1.0, I.x, theta.get(data_.q)));
  solve(I.x1, I.xt, false);
  FOLDOPT_CALL(MatMult(A, I.xt, I.zt));
  // c = ρz − y − ρz̃
  FOLDOPT_CALL(VecAXPBYPCZ(I.c, rho_, -1.0, 0.0, I.z, I.y));
  FOLDOPT_CALL(VecAXPY(I.c, -rho_, I.zt));
  PetscReal ymax = 0;
  FOLDOPT_CALL(VecNorm(I.y, NORM_INFINITY, &ymax));
  const PetscReal tau = active_tol_ * std::max<PetscReal>(1, ymax);
  PetscInt nl = 0, nu = 0, nw = 0;
  {
    ReadArray y(I.y), z(I.z), lo(theta.get(data_.l)), hi(theta.get(data_.u));
    WriteArray D(I.D), El(I.El), Eu(I.Eu);
    const PetscInt n = local_size(I.y);
    for (PetscInt i = 0; i < n; ++i) {
      const PetscReal yi = y[i], l = lo[i], u = hi[i];
      int kind = 0;  // 0 inactive, 1 at l, 2 at u
      if (l == u)
        kind = yi > 0 ? 2 : 1;
      else if (yi > tau && std::isfinite(u))
        kind = 2;
      else if (yi < -tau && std::isfinite(l))
        kind = 1;
      else if ((std::isfinite(l) && z[i] <= l) || (std::isfinite(u) && z[i] >= u))
        ++nw;
      D[i] = kind == 0 ? 1.0 : 0.0;
      El[i] = kind == 1 ? 1.0 : 0.0;
      Eu[i] = kind == 2 ? 1.0 : 0.0;
      nl += kind == 1;
      nu += kind == 2;
    }
  }
  PetscInt counts[3] = {nl, nu, nw};
  MPI_Allreduce(MPI_IN_PLACE, counts, 3, MPIU_INT, MPI_SUM, layout().comm);
  I.active_l = counts[0];
  I.active_u = counts[1];
  I.weak = counts[2];
  I.linearized = true;
}

void AdmmMap::phi_t(Vec v, Vec out) {
  Impl& I = *impl_;
  FOLDOPT_CHECK(I.linearized, PETSC_ERR_ORDER, "admm: phi_t before linearize");
  Mat A = I.A.op();
  split(v, I.x, I.z, I.y);
  // a = D vz + ρ(I − D) vy  (in z1)
  FOLDOPT_CALL(VecAXPBYPCZ(I.z1, -rho_, 1.0, 0.0, I.y, I.z));  // vz − ρvy
  FOLDOPT_CALL(VecPointwiseMult(I.z1, I.z1, I.D));
  FOLDOPT_CALL(VecAXPY(I.z1, rho_, I.y));  // D(vz − ρvy) + ρvy
  // t = K⁻ᵀ α(vx + Aᵀa)
  FOLDOPT_CALL(MatMultTranspose(A, I.z1, I.x1));
  FOLDOPT_CALL(VecAXPBY(I.x1, alpha_, alpha_, I.x));
  solve(I.x1, I.x2, true);
  FOLDOPT_CALL(VecAXPBY(I.x, sigma_, 1 - alpha_, I.x2));  // x̄ = (1 − α)vx + σt
  FOLDOPT_CALL(MatMult(A, I.x2, I.z2));                    // At
  FOLDOPT_CALL(VecAXPBYPCZ(I.y, 1 / rho_, -1.0, 0.0, I.z1, I.z2));  // ȳ = a/ρ − At
  FOLDOPT_CALL(VecAXPBYPCZ(I.z, 1 - alpha_, rho_, 0.0, I.z1, I.z2));  // z̄ = (1 − α)a + ρAt
  join(I.x, I.z, I.y, out);
}

void AdmmMap::psi_t(Vec v, ParamSet& out) {
  Impl& I = *impl_;
  FOLDOPT_CHECK(I.linearized, PETSC_ERR_ORDER, "admm: psi_t before linearize");
  Mat A = I.A.op();
  split(v, I.x, I.z, I.y);
  FOLDOPT_CALL(VecAXPBYPCZ(I.z2, -rho_, 1.0, 0.0, I.y, I.z));  // vz − ρvy
  FOLDOPT_CALL(VecPointwiseMult(I.z1, I.z2, I.D));
  FOLDOPT_CALL(VecAXPY(I.z1, rho_, I.y));  // a
  out.set_zero();
  if (out.has(data_.l)) FOLDOPT_CALL(VecPointwiseMult(out.get(data_.l), I.El, I.z2));
  if (out.has(data_.u)) FOLDOPT_CALL(VecPointwiseMult(out.get(data_.u), I.Eu, I.z2));
  FOLDOPT_CALL(MatMultTranspose(A, I.z1, I.x1));
  FOLDOPT_CALL(VecAXPBY(I.x1, alpha_, alpha_, I.x));
  solve(I.x1, I.x2, true);  // t
  if (out.has(data_.q)) {
    FOLDOPT_CALL(VecCopy(I.x2, out.get(data_.q)));
    FOLDOPT_CALL(VecScale(out.get(data_.q), -1.0));
  }
  if (I.P.in(out)) {
    OwnedVec G = I.P.outer(I.x2, I.xt);
    FOLDOPT_CALL(VecAXPY(out.get(data_.P_values), -1.0, G));
  }
  if (I.A.in(out)) {
    FOLDOPT_CALL(MatMult(A, I.x2, I.z2));  // At
    FOLDOPT_CALL(VecAXPBY(I.z2, alpha_, -rho_, I.z1));  // αa − ρAt
    OwnedVec G1 = I.A.outer(I.c, I.x2), G2 = I.A.outer(I.z2, I.xt);
    Vec g = out.get(data_.A_values);
    FOLDOPT_CALL(VecAXPY(g, 1.0, G1));
    FOLDOPT_CALL(VecAXPY(g, 1.0, G2));
  }
}

void AdmmMap::phi(Vec du, Vec out) {
  Impl& I = *impl_;
  FOLDOPT_CHECK(I.linearized, PETSC_ERR_ORDER, "admm: phi before linearize");
  Mat A = I.A.op();
  split(du, I.x, I.z, I.y);
  FOLDOPT_CALL(VecAXPBYPCZ(I.z1, rho_, -1.0, 0.0, I.z, I.y));
  FOLDOPT_CALL(MatMultTranspose(A, I.z1, I.x1));
  FOLDOPT_CALL(VecAXPY(I.x1, sigma_, I.x));
  solve(I.x1, I.x2, false);  // t
  FOLDOPT_CALL(MatMult(A, I.x2, I.z1));
  FOLDOPT_CALL(VecAXPBY(I.x2, 1 - alpha_, alpha_, I.x));  // dx⁺
  FOLDOPT_CALL(VecAXPBYPCZ(I.z1, 1 - alpha_, 1 / rho_, alpha_, I.z, I.y));  // dv
  FOLDOPT_CALL(VecPointwiseMult(I.z2, I.z1, I.D));  // dz⁺
  FOLDOPT_CALL(VecAXPY(I.z1, -1.0, I.z2));
  FOLDOPT_CALL(VecScale(I.z1, rho_));  // dy⁺ = ρ(I − D)dv
  join(I.x2, I.z2, I.z1, out);
}

void AdmmMap::psi(const ParamSet& dtheta, Vec out) {
  Impl& I = *impl_;
  FOLDOPT_CHECK(I.linearized, PETSC_ERR_ORDER, "admm: psi before linearize");
  Mat A = I.A.op();
  FOLDOPT_CALL(VecZeroEntries(I.x1));
  FOLDOPT_CALL(VecZeroEntries(I.z));  // dA x̃
  if (dtheta.has(data_.q)) FOLDOPT_CALL(VecAXPY(I.x1, -1.0, dtheta.get(data_.q)));
  if (I.P.in(dtheta)) {
    OwnedMat dP = I.P.direction(dtheta.get(data_.P_values));
    FOLDOPT_CALL(MatMult(dP, I.xt, I.x));
    FOLDOPT_CALL(VecAXPY(I.x1, -1.0, I.x));
  }
  if (I.A.in(dtheta)) {
    OwnedMat dA = I.A.direction(dtheta.get(data_.A_values));
    FOLDOPT_CALL(MatMultTransposeAdd(dA, I.c, I.x1, I.x1));  // + dAᵀc
    FOLDOPT_CALL(MatMult(dA, I.xt, I.z));                     // dA x̃
    FOLDOPT_CALL(MatMultTranspose(A, I.z, I.x));
    FOLDOPT_CALL(VecAXPY(I.x1, -rho_, I.x));  // − ρAᵀ dA x̃
  }
  solve(I.x1, I.x2, false);  // t
  FOLDOPT_CALL(MatMultAdd(A, I.x2, I.z, I.z1));  // dz̃ = At + dA x̃
  FOLDOPT_CALL(VecScale(I.z1, alpha_));          // dv
  FOLDOPT_CALL(VecScale(I.x2, alpha_));          // dx⁺
  FOLDOPT_CALL(VecPointwiseMult(I.z2, I.z1, I.D));
  if (dtheta.has(data_.l)) {
    FOLDOPT_CALL(VecPointwiseMult(I.y, I.El, dtheta.get(data_.l)));
    FOLDOPT_CALL(VecAXPY(I.z2, 1.0, I.y));
  }
  if (dtheta.has(data_.u)) {
    FOLDOPT_CALL(VecPointwiseMult(I.y, I.Eu, dtheta.get(data_.u)));
    FOLDOPT_CALL(VecAXPY(I.z2, 1.0, I.y));
  }
  FOLDOPT_CALL(VecAXPY(I.z1, -1.0, I.z2));
  FOLDOPT_CALL(VecScale(I.z1, rho_));  // dy⁺ = ρ(dv − dz⁺)
  join(I.x2, I.z2, I.z1, out);
}

void AdmmMap::make_state(Vec x, Vec y, const ParamSet& theta, Vec s) {
  sync(theta);
  FOLDOPT_CALL(MatMult(impl_->A.op(), x, impl_->z1));
  FOLDOPT_CALL(VecPointwiseMax(impl_->z1, impl_->z1, theta.get(data_.l)));
  FOLDOPT_CALL(VecPointwiseMin(impl_->z1, impl_->z1, theta.get(data_.u)));
  join(x, impl_->z1, y, s);
}

void AdmmMap::state_from_primal_dual(Vec x, const Multipliers& y, const ParamSet& theta, Vec s) {
  FOLDOPT_CHECK(source_ != nullptr, PETSC_ERR_ARG_WRONGSTATE, "admm: state_from_primal_dual needs the map built from its problem");
  OwnedVec rows = create_z();
  source_->row_multipliers(y, rows);
  make_state(x, rows, theta, s);
}

void AdmmMap::readout(Vec s, const ParamSet&, Vec x) { split(s, x, nullptr, nullptr); }

void AdmmMap::readout_t(Vec g, Vec h) {
  FOLDOPT_CALL(VecZeroEntries(h));
  put_part(impl_->sx, g, h);
}

void AdmmMap::readout_param_t(Vec, ParamSet&) {}

}  // namespace foldopt
