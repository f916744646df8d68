// The dense KKT reference of a convex QP's gradient (the `qp` problem), shared by test_admm.cpp
// and test_fpgdb.cpp; computed independently of the engine (Eigen, everything gathered to every
// rank: small sizes only). Per instance b: the active set S from the solution (equality rows, and
// rows with |y_i| > 1e-7 at the bound their sign names; a weakly active row, z at a bound with
// y = 0, is left out: the ADMM map's documented choice), K = [P, A_Sᵀ; A_S, 0], K [λx; λy] = [g; 0]:
//   ∂L/∂q = −λx,  ∂L/∂b_i = λy_i (b_i = l_i or u_i, the bound row i is held at; an equality row's
//   derivative goes to u when y_i > 0, else to l),  ∂L/∂P_ij = −λx_i x_j,
//   ∂L/∂A_ij = −(y_i λx_j + λy_i x_j)   (stored nonzeros, summed over the instances).
#ifndef FOLDOPT_TESTS_QP_REFERENCE_HPP
#define FOLDOPT_TESTS_QP_REFERENCE_HPP

#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/problems/qp.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace qp_ref {

using foldopt::QP;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;

using foldopt_ref::pattern_of;

struct Reference {
  VectorXd dq, dl, du, dP, dA;
  std::vector<int> weak;       ///< rows (over the batch) at a bound with y = 0
  double stationarity = 0;     ///< max ‖Px + q + Aᵀy‖∞ over the instances
  double feasibility = 0;      ///< max violation of l ≤ Ax ≤ u
  double complementarity = 0;  ///< max |y_i| on inactive rows and wrong signs
};

/// The dense KKT reference at the solution x (B·n) and multipliers y (B·m). `weak_active`: hold
/// the weakly active rows at their bound instead (the other choice, for the pinning test).
inline Reference make_reference(QP& p, const VectorXd& x, const VectorXd& y, const VectorXd& g, bool weak_active = false) {
  const MatrixXd P = foldopt_ref::gather_dense(p.P()), A = foldopt_ref::gather_dense(p.A());
  const VectorXd q = foldopt_ref::to_eigen(p.params().get("q")), l = foldopt_ref::to_eigen(p.params().get("l")),
                 u = foldopt_ref::to_eigen(p.params().get("u"));
  const int n = static_cast<int>(P.rows()), m = static_cast<int>(A.rows()), B = static_cast<int>(p.layout().batch);
  const auto pp = pattern_of(p.P()), pa = pattern_of(p.A());
  Reference r;
  r.dq = VectorXd::Zero(B * n);
  r.dl = VectorXd::Zero(B * m);
  r.du = VectorXd::Zero(B * m);
  r.dP = VectorXd::Zero(static_cast<Eigen::Index>(pp.size()));
  r.dA = VectorXd::Zero(static_cast<Eigen::Index>(pa.size()));
  for (int b = 0; b < B; ++b) {
    const VectorXd xb = x.segment(b * n, n), yb = y.segment(b * m, m), gb = g.segment(b * n, n), qb = q.segment(b * n, n);
    const VectorXd z = A * xb;
    r.stationarity = std::max(r.stationarity, (P * xb + qb + A.transpose() * yb).lpNorm<Eigen::Infinity>());
    std::vector<int> S;
    std::vector<int> at_u;
    for (int i = 0; i < m; ++i) {
      const int I = b * m + i;
      const double lo = l[I], hi = u[I];
      r.feasibility = std::max({r.feasibility, std::isfinite(lo) ? lo - z[i] : 0.0, std::isfinite(hi) ? z[i] - hi : 0.0});
      const bool at_lo = std::isfinite(lo) && std::abs(z[i] - lo) <= 1e-9 * std::max(1.0, std::abs(lo));
      const bool at_hi = std::isfinite(hi) && std::abs(z[i] - hi) <= 1e-9 * std::max(1.0, std::abs(hi));
      if (lo == hi) {
        S.push_back(i);
        at_u.push_back(yb[i] > 0);
      } else if (std::abs(yb[i]) > 1e-7) {
        S.push_back(i);
        at_u.push_back(yb[i] > 0);
        if (yb[i] > 0 && !at_hi) r.complementarity = std::max(r.complementarity, yb[i]);
        if (yb[i] < 0 && !at_lo) r.complementarity = std::max(r.complementarity, -yb[i]);
      } else if (at_lo || at_hi) {
        r.weak.push_back(I);
        if (weak_active) {
          S.push_back(i);
          at_u.push_back(at_hi);
        }
      }
    }
    const int k = static_cast<int>(S.size());
    MatrixXd K = MatrixXd::Zero(n + k, n + k);
    K.topLeftCorner(n, n) = P;
    for (int a = 0; a < k; ++a) {
      K.block(n + a, 0, 1, n) = A.row(S[a]);
      K.block(0, n + a, n, 1) = A.row(S[a]).transpose();
    }
    VectorXd rhs = VectorXd::Zero(n + k);
    rhs.head(n) = gb;
    const VectorXd lam = K.fullPivLu().solve(rhs);
    const VectorXd lx = lam.head(n);
    VectorXd ly_full = VectorXd::Zero(m);
    for (int a = 0; a < k; ++a) {
      ly_full[S[a]] = lam[n + a];
      (at_u[a] ? r.du : r.dl)[b * m + S[a]] = lam[n + a];
    }
    r.dq.segment(b * n, n) = -lx;
    for (std::size_t e = 0; e < pp.size(); ++e) r.dP[e] += -lx[pp[e].first] * xb[pp[e].second];
    for (std::size_t e = 0; e < pa.size(); ++e) {
      const int i = pa[e].first, j = pa[e].second;
      r.dA[e] += -(yb[i] * lx[j] + ly_full[i] * xb[j]);
    }
  }
  return r;
}

}  // namespace qp_ref

#endif  // FOLDOPT_TESTS_QP_REFERENCE_HPP
