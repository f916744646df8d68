// foldopt: projected gradient descent (update map `pgd`).
//
// Method:  U(x; θ) = P_[lb,ub](x − α ∇ₓf(x; θ)),  P the componentwise clamp.
// Algorithm (at the linearization point x*, z = x* − α ∇f(x*)):
//   masks   D = [lb < z < ub] (free), E_lb = [z ≤ lb], E_ub = [z ≥ ub and not z ≤ lb];
//           at a tie the entry counts as active (generalized derivative w.r.t. the bound).
//   Φ u   = D (u − α ∇²f u)                 Φᵀ v = (D v) − α ∇²f (D v)     (∇²f symmetric)
//   Ψ dθ  = −α D (∂∇f/∂θ) dθ + E_lb dlb + E_ub dub
//   Ψᵀ v  = −α (∂∇f/∂θ)ᵀ (D v),  plus E_lb v into block lb and E_ub v into block ub
//   diag Φ = D (1 − α diag ∇²f);   Φ assembled = D (I − α ∇²f) by MatScale, MatShift,
//           MatDiagonalScale on the assembled Hessian (no probing).
//   The stepsize operator is ∇²f restricted to the free set (MatCreateSubMatrix).
// References: A. Beck, First-Order Methods in Optimization (SIAM 2017), §10 (projected gradient);
//   Kotary, Dinh, Fioretto (2023), f-PGD.
#include <foldopt/maps/pgd.hpp>

#include <foldopt/error.hpp>

#include <cmath>
#include <sstream>

namespace foldopt {

PgdMap::PgdMap(Problem& problem, PetscReal stepsize) : problem_(problem), alpha_(stepsize) {
  if (alpha_ <= 0) {
    alpha_ = 1.0;
    OwnedVec x = problem_.create_vec();
    FOLDOPT_CALL(VecZeroEntries(x));
    OwnedMat H = problem_.hessian(x, problem_.params());
    if (H) {
      PetscReal nrm;
      FOLDOPT_CALL(MatNorm(H, NORM_INFINITY, &nrm));
      if (nrm > 0) alpha_ = 1.0 / nrm;
    }
  }
  if (problem_.has_bounds()) {
    lb_ = problem_.create_vec();
    ub_ = problem_.create_vec();
  }
  work_ = problem_.create_vec();
  work2_ = problem_.create_vec();
}

void PgdMap::set_stepsize(PetscReal alpha) {
  FOLDOPT_CHECK(alpha > 0 && std::isfinite(alpha), PETSC_ERR_ARG_OUTOFRANGE, "pgd: stepsize %g must be positive",
                (double)alpha);
  alpha_ = alpha;
  linearized_ = false;
}

void PgdMap::project(Vec z, Vec lb, Vec ub, Vec y) const {
  if (!problem_.has_bounds()) {
    if (y != z) FOLDOPT_CALL(VecCopy(z, y));
    return;
  }
  FOLDOPT_CALL(VecPointwiseMax(y, z, lb));
  FOLDOPT_CALL(VecPointwiseMin(y, y, ub));
}

void PgdMap::apply(Vec x, const ParamSet& theta, Vec y) {
  problem_.objective_gradient(x, theta, work_);
  FOLDOPT_CALL(VecWAXPY(work2_, -alpha_, work_, x));  // z = x − α∇f
  if (problem_.has_bounds()) problem_.bounds(theta, lb_, ub_);
  project(work2_, lb_, ub_, y);
}

void PgdMap::linearize(Vec x, const ParamSet& theta) {
  if (!x_) {
    x_ = problem_.create_vec();
    d_ = problem_.create_vec();
    elb_ = problem_.create_vec();
    eub_ = problem_.create_vec();
  }
  FOLDOPT_CALL(VecCopy(x, x_));
  theta_ = ParamSet();
  theta_ = theta.share();
  problem_.objective_gradient(x, theta, work_);
  FOLDOPT_CALL(VecWAXPY(work2_, -alpha_, work_, x));  // z
  if (problem_.has_bounds()) problem_.bounds(theta, lb_, ub_);
  PetscInt nloc;
  FOLDOPT_CALL(VecGetLocalSize(x, &nloc));
  const PetscScalar *z, *lo = nullptr, *hi = nullptr;
  PetscScalar *d, *el, *eu;
  FOLDOPT_CALL(VecGetArrayRead(work2_, &z));
  if (problem_.has_bounds()) {
    FOLDOPT_CALL(VecGetArrayRead(lb_, &lo));
    FOLDOPT_CALL(VecGetArrayRead(ub_, &hi));
  }
  FOLDOPT_CALL(VecGetArray(d_, &d));
  FOLDOPT_CALL(VecGetArray(elb_, &el));
  FOLDOPT_CALL(VecGetArray(eub_, &eu));
  PetscInt nfree = 0;
  for (PetscInt i = 0; i < nloc; ++i) {
    const PetscReal zi = PetscRealPart(z[i]);
    const bool at_lb = lo && zi <= PetscRealPart(lo[i]);
    const bool at_ub = !at_lb && hi && zi >= PetscRealPart(hi[i]);
    el[i] = at_lb ? 1.0 : 0.0;
    eu[i] = at_ub ? 1.0 : 0.0;
    d[i] = (at_lb || at_ub) ? 0.0 : 1.0;
    nfree += (at_lb || at_ub) ? 0 : 1;
  }
  FOLDOPT_CALL(VecRestoreArrayRead(work2_, &z));
  if (problem_.has_bounds()) {
    FOLDOPT_CALL(VecRestoreArrayRead(lb_, &lo));
    FOLDOPT_CALL(VecRestoreArrayRead(ub_, &hi));
  }
  FOLDOPT_CALL(VecRestoreArray(d_, &d));
  FOLDOPT_CALL(VecRestoreArray(elb_, &el));
  FOLDOPT_CALL(VecRestoreArray(eub_, &eu));
  MPI_Allreduce(&nfree, &nfree_, 1, MPIU_INT, MPI_SUM, layout().comm);
  hess_ = problem_.hessian(x_, theta_);
  linearized_ = true;
}

void PgdMap::check_linearized(const char* op) const {
  FOLDOPT_CHECK(linearized_, PETSC_ERR_ORDER, "pgd: %s before linearize()", op);
}

void PgdMap::phi_t(Vec v, Vec y) {
  check_linearized("phi_t");
  FOLDOPT_CALL(VecPointwiseMult(work_, d_, v));          // u = D v
  problem_.hessian_mult(x_, theta_, work_, y);           // y = ∇²f u
  FOLDOPT_CALL(VecAYPX(y, -alpha_, work_));              // y = u − α ∇²f u
}

void PgdMap::phi(Vec u, Vec y) {
  check_linearized("phi");
  problem_.hessian_mult(x_, theta_, u, work_);
  FOLDOPT_CALL(VecWAXPY(work2_, -alpha_, work_, u));
  FOLDOPT_CALL(VecPointwiseMult(y, d_, work2_));
}

void PgdMap::psi_t(Vec v, ParamSet& out) {
  check_linearized("psi_t");
  FOLDOPT_CALL(VecPointwiseMult(work_, d_, v));
  problem_.gradient_param_t(x_, theta_, work_, out);
  for (std::size_t b = 0; b < out.size(); ++b) FOLDOPT_CALL(VecScale(out[b].vec, -alpha_));
  const std::string lb = problem_.lower_bound_block(), ub = problem_.upper_bound_block();
  if (!lb.empty() && out.has(lb)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, elb_, v));
    FOLDOPT_CALL(VecAXPY(out.get(lb), 1.0, work_));
  }
  if (!ub.empty() && out.has(ub)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, eub_, v));
    FOLDOPT_CALL(VecAXPY(out.get(ub), 1.0, work_));
  }
}

void PgdMap::psi(const ParamSet& dtheta, Vec y) {
  check_linearized("psi");
  problem_.gradient_param(x_, theta_, dtheta, work2_);
  FOLDOPT_CALL(VecPointwiseMult(y, d_, work2_));
  FOLDOPT_CALL(VecScale(y, -alpha_));
  const std::string lb = problem_.lower_bound_block(), ub = problem_.upper_bound_block();
  if (!lb.empty() && dtheta.has(lb)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, elb_, dtheta.get(lb)));
    FOLDOPT_CALL(VecAXPY(y, 1.0, work_));
  }
  if (!ub.empty() && dtheta.has(ub)) {
    FOLDOPT_CALL(VecPointwiseMult(work_, eub_, dtheta.get(ub)));
    FOLDOPT_CALL(VecAXPY(y, 1.0, work_));
  }
}

bool PgdMap::has_diagonal() const { return can_assemble(); }

bool PgdMap::can_assemble() const {
  if (linearized_) return static_cast<bool>(hess_);
  OwnedVec x = problem_.create_vec();
  FOLDOPT_CALL(VecZeroEntries(x));
  return static_cast<bool>(problem_.hessian(x, problem_.params()));
}

void PgdMap::get_diagonal(Vec dg) {
  check_linearized("get_diagonal");
  FOLDOPT_CHECK(hess_, PETSC_ERR_SUP, "pgd: problem '%s' cannot assemble its Hessian", problem_.type().c_str());
  FOLDOPT_CALL(MatGetDiagonal(hess_, work_));
  FOLDOPT_CALL(VecScale(work_, -alpha_));
  FOLDOPT_CALL(VecShift(work_, 1.0));
  FOLDOPT_CALL(VecPointwiseMult(dg, d_, work_));
}

OwnedMat PgdMap::assemble_phi() {
  check_linearized("assemble_phi");
  FOLDOPT_CHECK(hess_, PETSC_ERR_SUP, "pgd: problem '%s' cannot assemble its Hessian", problem_.type().c_str());
  OwnedMat A;
  FOLDOPT_CALL(MatDuplicate(hess_, MAT_COPY_VALUES, A.out()));
  FOLDOPT_CALL(MatScale(A, -alpha_));
  FOLDOPT_CALL(MatShift(A, 1.0));
  FOLDOPT_CALL(MatDiagonalScale(A, d_, nullptr));
  return A;
}

OwnedMat PgdMap::stepsize_operator() {
  check_linearized("stepsize_operator");
  if (!hess_ || nfree_ == 0) return OwnedMat();
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(d_, &rstart, &rend));
  std::vector<PetscInt> idx;
  const PetscScalar* d;
  FOLDOPT_CALL(VecGetArrayRead(d_, &d));
  for (PetscInt i = rstart; i < rend; ++i)
    if (PetscRealPart(d[i - rstart]) != 0) idx.push_back(i);
  FOLDOPT_CALL(VecRestoreArrayRead(d_, &d));
  OwnedIS is;
  FOLDOPT_CALL(ISCreateGeneral(layout().comm, (PetscInt)idx.size(), idx.data(), PETSC_COPY_VALUES, is.out()));
  OwnedMat sub;
  FOLDOPT_CALL(MatCreateSubMatrix(hess_, is, is, MAT_INITIAL_MATRIX, sub.out()));
  FOLDOPT_CALL(MatSetOption(sub, MAT_SYMMETRIC, PETSC_TRUE));
  return sub;
}

std::string PgdMap::describe() const {
  std::ostringstream s;
  s << "pgd (stepsize " << alpha_;
  if (linearized_) s << ", " << nfree_ << " of " << layout().global() << " entries free";
  s << ")";
  return s.str();
}

}  // namespace foldopt
