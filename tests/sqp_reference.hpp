// Shared by the SQP tests (test_sqp.cpp, test_sqp_sparse.cpp): the dense KKT reference of the
// portfolio problem's gradients (Eigen), and the visible skip of IPOPT tests (ipopt_skip.hpp).
#ifndef FOLDOPT_TESTS_SQP_REFERENCE_HPP
#define FOLDOPT_TESTS_SQP_REFERENCE_HPP

#include "test_util.hpp"

#include "ipopt_skip.hpp"

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include <vector>

namespace foldopt_test {

using Eigen::MatrixXd;
using Eigen::VectorXd;

/// The dense reference gradient (∂L/∂c per instance, ∂L/∂γ summed) of L = gᵀx*(c, γ): the
/// implicit derivative of the KKT conditions of max cᵀx, xᵀVx ≤ γ (active), Σx = 1, x ≥ 0.
struct PortfolioReference {
  VectorXd dc;
  double dgamma = 0;
};
inline PortfolioReference portfolio_kkt_reference(const MatrixXd& V, const VectorXd& c, double gamma, const VectorXd& xs,
                                                  const VectorXd& g) {
  const Eigen::Index n = V.rows(), B = c.size() / n;
  PortfolioReference ref;
  ref.dc = VectorXd::Zero(c.size());
  for (Eigen::Index b = 0; b < B; ++b) {
    const VectorXd x = xs.segment(b * n, n), cb = c.segment(b * n, n), gb = g.segment(b * n, n);
    std::vector<Eigen::Index> act;  // x_i = 0
    for (Eigen::Index i = 0; i < n; ++i)
      if (x[i] < 1e-7) act.push_back(i);
    const Eigen::Index na = static_cast<Eigen::Index>(act.size());
    const VectorXd Vx = V * x;
    EXPECT_NEAR(x.dot(Vx), gamma, 1e-8) << "instance " << b << ": the risk constraint must be active";
    EXPECT_NEAR(x.sum(), 1.0, 1e-9);
    // Multipliers from stationarity −c + y_E 1 + 2 y_I V x − Σ_A z_i e_i = 0 (least squares).
    MatrixXd A(n, 2 + na);
    A.col(0) = VectorXd::Ones(n);
    A.col(1) = 2 * Vx;
    for (Eigen::Index k = 0; k < na; ++k) {
      A.col(2 + k).setZero();
      A(act[k], 2 + k) = -1;
    }
    const VectorXd mult = A.colPivHouseholderQr().solve(cb);
    EXPECT_LT((A * mult - cb).cwiseAbs().maxCoeff(), 1e-7) << "stationarity at x* of instance " << b;
    const double yI = mult[1];
    EXPECT_GT(yI, 1e-6);
    for (Eigen::Index k = 0; k < na; ++k) EXPECT_GT(mult[2 + k], 1e-8) << "strict complementarity";
    // Jacobian of the KKT residual in (x, y_E, y_I, z_A).
    const Eigen::Index N = n + 2 + na;
    MatrixXd K = MatrixXd::Zero(N, N);
    K.topLeftCorner(n, n) = 2 * yI * V;
    K.block(0, n, n, 2 + na) = A;
    K.block(n, 0, 1, n) = VectorXd::Ones(n).transpose();
    K.block(n + 1, 0, 1, n) = 2 * Vx.transpose();
    for (Eigen::Index k = 0; k < na; ++k) K(n + 2 + k, act[k]) = 1;
    // dx/dθ = −K⁻¹ ∂F/∂θ with ∂F/∂c = [−I; 0], ∂F/∂γ = [0; 0; −1; 0]: ∂L/∂θ = −(∂F/∂θ)ᵀ K⁻ᵀ [g; 0].
    VectorXd rhs = VectorXd::Zero(N);
    rhs.head(n) = gb;
    const VectorXd lam = K.transpose().fullPivLu().solve(rhs);
    ref.dc.segment(b * n, n) = lam.head(n);
    ref.dgamma += lam[n + 1];
  }
  return ref;
}

}  // namespace foldopt_test

#endif  // FOLDOPT_TESTS_SQP_REFERENCE_HPP
