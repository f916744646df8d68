// foldopt: fixed-point residual, dot-product tests, finite-difference gradient checks.
#include <foldopt/checks.hpp>

#include <foldopt/error.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/update_map.hpp>

#include "core/random.hpp"

#include <algorithm>
#include <cmath>

namespace foldopt {

void fill_random(Vec v, unsigned long seed) {
  PetscInt rstart, rend;
  FOLDOPT_CALL(VecGetOwnershipRange(v, &rstart, &rend));
  PetscScalar* a;
  FOLDOPT_CALL(VecGetArray(v, &a));
  for (PetscInt i = rstart; i < rend; ++i) a[i - rstart] = 2.0 * uniform01(seed, 17, (std::uint64_t)i) - 1.0;
  FOLDOPT_CALL(VecRestoreArray(v, &a));
}

PetscReal fixed_point_residual(UpdateMap& map, Vec x, const ParamSet& theta) {
  OwnedVec y = map.create_vec();
  map.apply(x, theta, y);
  FOLDOPT_CALL(VecAXPY(y, -1.0, x));
  PetscReal r, xn;
  FOLDOPT_CALL(VecNorm(y, NORM_INFINITY, &r));
  FOLDOPT_CALL(VecNorm(x, NORM_INFINITY, &xn));
  return r / (map.fixed_point_scale() * std::max<PetscReal>(1.0, xn));
}

DotTest dot_test_phi(UpdateMap& map, unsigned long seed) {
  OwnedVec u = map.create_vec(), v = map.create_vec(), pu = map.create_vec(), ptv = map.create_vec();
  fill_random(u, seed);
  fill_random(v, seed + 1000);
  map.phi(u, pu);
  map.phi_t(v, ptv);
  DotTest t;
  PetscScalar a, b;
  FOLDOPT_CALL(VecDot(pu, v, &a));
  FOLDOPT_CALL(VecDot(u, ptv, &b));
  PetscReal npu, nv, nptv, nu;
  FOLDOPT_CALL(VecNorm(pu, NORM_2, &npu));
  FOLDOPT_CALL(VecNorm(v, NORM_2, &nv));
  FOLDOPT_CALL(VecNorm(ptv, NORM_2, &nptv));
  FOLDOPT_CALL(VecNorm(u, NORM_2, &nu));
  t.lhs = PetscRealPart(a);
  t.rhs = PetscRealPart(b);
  const PetscReal scale = std::max(npu * nv, nptv * nu);
  t.relative = scale > 0 ? std::abs(t.lhs - t.rhs) / scale : std::abs(t.lhs - t.rhs);
  return t;
}

DotTest dot_test_psi(UpdateMap& map, unsigned long seed) {
  ParamSet dtheta = map.create_params(), ptv = map.create_params();
  for (std::size_t b = 0; b < dtheta.size(); ++b) fill_random(dtheta[b].vec, seed + 7 * b);
  OwnedVec v = map.create_vec(), pd = map.create_vec();
  fill_random(v, seed + 1000);
  map.psi(dtheta, pd);
  map.psi_t(v, ptv);
  DotTest t;
  PetscScalar a;
  FOLDOPT_CALL(VecDot(pd, v, &a));
  t.lhs = PetscRealPart(a);
  t.rhs = PetscRealPart(dtheta.dot(ptv));
  PetscReal npd, nv;
  FOLDOPT_CALL(VecNorm(pd, NORM_2, &npd));
  FOLDOPT_CALL(VecNorm(v, NORM_2, &nv));
  const PetscReal nptv = std::sqrt(std::max<PetscReal>(PetscRealPart(ptv.dot(ptv)), 0));
  const PetscReal nd = std::sqrt(std::max<PetscReal>(PetscRealPart(dtheta.dot(dtheta)), 0));
  const PetscReal scale = std::max(npd * nv, nptv * nd);
  t.relative = scale > 0 ? std::abs(t.lhs - t.rhs) / scale : std::abs(t.lhs - t.rhs);
  return t;
}

namespace {
/// A random direction in every block of θ, zero where θ is not finite (an infinite bound stays
/// infinite), only in block `only` if it is a valid index.
ParamSet random_direction(const ParamSet& theta, unsigned long seed, std::size_t only) {
  ParamSet d = theta.zeros_like();
  for (std::size_t b = 0; b < theta.size(); ++b) {
    if (only < theta.size() && b != only) continue;
    fill_random(d[b].vec, seed + 31 * b);
    PetscScalar* dv;
    const PetscScalar* tv;
    PetscInt nloc;
    FOLDOPT_CALL(VecGetLocalSize(d[b].vec, &nloc));
    FOLDOPT_CALL(VecGetArray(d[b].vec, &dv));
    FOLDOPT_CALL(VecGetArrayRead(theta[b].vec, &tv));
    for (PetscInt i = 0; i < nloc; ++i)
      if (!std::isfinite(PetscRealPart(tv[i]))) dv[i] = 0;
    FOLDOPT_CALL(VecRestoreArray(d[b].vec, &dv));
    FOLDOPT_CALL(VecRestoreArrayRead(theta[b].vec, &tv));
  }
  return d;
}
}  // namespace

WarmStartStudy warm_start_study(FoldedLayer& layer, const ParamSet& theta, PetscInt steps, PetscReal delta,
                                unsigned long seed) {
  WarmStartStudy st;
  st.delta = delta;
  OwnedVec saved, zero;
  FOLDOPT_CALL(VecDuplicate(layer.state(), saved.out()));
  FOLDOPT_CALL(VecCopy(layer.state(), saved));
  FOLDOPT_CALL(VecDuplicate(saved, zero.out()));
  FOLDOPT_CALL(VecZeroEntries(zero));
  // Matrix-value blocks stay fixed: a random move of each stored value on its own leaves a
  // symmetric matrix (a QP's H) unsymmetric, which is no nearby problem (the forward's objective
  // and gradient would disagree, and a trust-region solver stalls on it).
  ParamSet d = random_direction(theta, seed, theta.size());
  for (std::size_t b = 0; b < d.size(); ++b)
    if (d[b].kind == BlockKind::matrix_values) FOLDOPT_CALL(VecZeroEntries(d[b].vec));
  for (int warm = 0; warm < 2; ++warm) {
    layer.set_solution(theta, saved);
    for (PetscInt k = 1; k <= steps; ++k) {
      ParamSet tk = theta.copy();
      tk.axpy(static_cast<PetscReal>(k) * delta, d);
      if (!warm) layer.set_solution(theta, zero);
      layer.forward(tk);
      (warm ? st.warm : st.cold).push_back(layer.forward_report().iterations);
    }
  }
  layer.set_solution(theta, saved);
  return st;
}

std::vector<FdCheck> check_fd(FoldedLayer& layer, const ParamSet& theta, Vec g, const ParamSet& grad,
                              PetscReal eps, unsigned long seed) {
  std::vector<FdCheck> out;
  OwnedVec saved;
  FOLDOPT_CALL(VecDuplicate(layer.state(), saved.out()));
  FOLDOPT_CALL(VecCopy(layer.state(), saved));
  for (std::size_t b = 0; b < theta.size(); ++b) {
    const ParamSet d = random_direction(theta, seed, b);
    PetscReal loss[2];
    for (int s = 0; s < 2; ++s) {
      ParamSet tp = theta.copy();
      tp.axpy(s == 0 ? eps : -eps, d);
      Vec x = layer.forward(tp);
      PetscScalar l;
      FOLDOPT_CALL(VecDot(g, x, &l));
      loss[s] = PetscRealPart(l);
    }
    FdCheck c;
    c.block = theta[b].name;
    c.eps = eps;
    c.fd = (loss[0] - loss[1]) / (2 * eps);
    PetscScalar gd;
    FOLDOPT_CALL(VecDot(grad[b].vec, d[b].vec, &gd));
    c.folded = PetscRealPart(gd);
    c.relative = std::abs(c.folded - c.fd) / std::max<PetscReal>(std::abs(c.fd), 1e-300);
    out.push_back(c);
  }
  layer.set_solution(theta, saved);
  return out;
}

}  // namespace foldopt
