// The bilinear problem max cᵀx + xᵀQy + dᵀy (− μφ), 0 ≤ x, y ≤ 1, Σx = p, Σy = q, against
// references computed independently of the engine (Q, c, d and the solution gathered to every
// rank, dense in Eigen):
//   enumeration  brute force over both sides' vertices (C(6,2)² pairs) for the unsmoothed optimum;
//   gradients    the smoothed KKT conditions on the free set F (0 < s < 1): with H = ∇²f on F and
//                E the indicators of F ∩ x and F ∩ y, [H E; Eᵀ 0][u; ν] = [g_F; 0] gives
//                ∂L/∂c = u on F ∩ x, ∂L/∂d = u on F ∩ y (0 elsewhere), since ∂∇f/∂(c, d) = −I;
//                central finite differences of L = ⟨g, s*(θ)⟩, re-solving the forward;
//   the prox     capped_simplex_product against a sort-based projection per segment, its Jacobian
//                against finite differences of the projection, symmetric, a projector, and equal
//                to its diagonal-plus-low-rank structure.
// Runs at np=1 and np=2.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/bilinear.hpp>
#include <foldopt/prox/simplex.hpp>

#include "forward/bilinear_global.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::Bilinear;
using foldopt::BilinearSearch;
using foldopt::BilinearSmoothing;
using foldopt::FoldedLayer;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_ref::from_eigen;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr unsigned long kLossSeed = 42;

/// All k-subsets of {0 … m−1} as 0/1 vectors.
std::vector<VectorXd> subsets(int m, int k) {
  std::vector<VectorXd> out;
  for (unsigned mask = 0; mask < (1u << m); ++mask) {
    if (__builtin_popcount(mask) != k) continue;
    VectorXd v = VectorXd::Zero(m);
    for (int i = 0; i < m; ++i)
      if (mask & (1u << i)) v[i] = 1;
    out.push_back(v);
  }
  return out;
}

struct Data {
  MatrixXd Q;
  VectorXd c, d;
  int m = 0, B = 0;
};
Data gather(Bilinear& p) {
  Data r;
  r.Q = foldopt_ref::gather_dense(p.Q());
  r.c = foldopt_ref::to_eigen(p.params().get("c"));
  r.d = foldopt_ref::to_eigen(p.params().get("d"));
  r.m = static_cast<int>(p.size());
  r.B = static_cast<int>(p.layout().batch);
  return r;
}

double F(const Data& D, int b, const VectorXd& x, const VectorXd& y) {
  return D.c.segment(b * D.m, D.m).dot(x) + x.dot(D.Q * y) + D.d.segment(b * D.m, D.m).dot(y);
}

// The forward's unsmoothed optimum equals the brute-force maximum over both sides' vertices
// (n = 6, p = q = 2: 15 × 15 pairs), in both modes (enumeration, and alternating maximization with
// many starts, which on so small an instance finds it too); the result is a fixed point of the
// PGD map (residual ≤ 1e-10) and the Jacobian there is 0 (no entry free): gradient 0.
TEST(Bilinear, EnumerationMatchesBruteForce) {
  for (double enum_max : {1e6, 0.0}) {
    BilinearSearch s;
    s.enum_max = enum_max;
    s.starts = 40;
    std::unique_ptr<Bilinear> p = Bilinear::generate(PETSC_COMM_WORLD, 6, 2, 7, 2, 2, BilinearSmoothing::none, 0, s);
    const Data D = gather(*p);
    ASSERT_GT(D.Q.cwiseAbs().maxCoeff(), 0);
    FoldedLayer layer(*p);
    layer.set_fixed_point_tolerance(1e-10);
    layer.set_from_options();
    const VectorXd sol = foldopt_ref::to_eigen(layer.forward(p->params()));
    EXPECT_EQ(layer.forward_report().solver, "bilinear_global");
    EXPECT_NE(layer.forward_report().reason.find(enum_max > 0 ? "enumerated 15 vertices" : "alternating"), std::string::npos)
        << layer.forward_report().reason;
    const std::vector<VectorXd> X = subsets(6, 2);
    for (int b = 0; b < 2; ++b) {
      double best = -1e300;
      for (const VectorXd& x : X)
        for (const VectorXd& y : X) best = std::max(best, F(D, b, x, y));
      const VectorXd x = sol.segment(b * 12, 6), y = sol.segment(b * 12 + 6, 6);
      for (int i = 0; i < 6; ++i) {
        EXPECT_TRUE(x[i] == 0 || x[i] == 1) << "x is a vertex, entry " << i;
        EXPECT_TRUE(y[i] == 0 || y[i] == 1) << "y is a vertex, entry " << i;
      }
      EXPECT_EQ(x.sum(), 2);
      EXPECT_EQ(y.sum(), 2);
      EXPECT_NEAR(F(D, b, x, y), best, 1e-12) << "instance " << b << (enum_max > 0 ? " (enumeration)" : " (alternating)");
    }
    OwnedVec g = p->create_vec();
    foldopt::fill_random(g, kLossSeed);
    ParamSet grad;
    ASSERT_NO_THROW(grad = layer.backward(g));
    EXPECT_LE(layer.fixed_point_residual(), 1e-10);
    PetscReal nc, nd;
    VecNorm(grad.get("c"), NORM_2, &nc);
    VecNorm(grad.get("d"), NORM_2, &nd);
    EXPECT_EQ(nc, 0.0) << "at a vertex the Jacobian is 0";
    EXPECT_EQ(nd, 0.0);
  }
}

/// The dense KKT reference of the smoothed problem at the solution s (B instances).
struct Kkt {
  VectorXd dc, dd;
  double stationarity = 0, bound_violation = 0, min_free_eig = 1e300;
  int free = 0;
};
Kkt kkt_reference(const Data& D, const VectorXd& s, const VectorXd& g, BilinearSmoothing sm, double mu) {
  Kkt r;
  const int m = D.m, n = 2 * m;
  r.dc = VectorXd::Zero(D.B * m);
  r.dd = VectorXd::Zero(D.B * m);
  MatrixXd M = MatrixXd::Zero(n, n);
  M.topRightCorner(m, m) = D.Q;
  M.bottomLeftCorner(m, m) = D.Q.transpose();
  for (int b = 0; b < D.B; ++b) {
    const VectorXd sb = s.segment(b * n, n), gb = g.segment(b * n, n);
    VectorXd e(n);
    e << D.c.segment(b * m, m), D.d.segment(b * m, m);
    VectorXd grad = -e - M * sb;
    MatrixXd H = -M;
    for (int i = 0; i < n; ++i) {
      if (sm == BilinearSmoothing::quadratic) {
        grad[i] += mu * sb[i];
        H(i, i) += mu;
      } else if (sm == BilinearSmoothing::entropic) {
        grad[i] += mu * (1 + std::log(sb[i]));
        H(i, i) += mu / sb[i];
      }
    }
    std::vector<int> F;
    for (int i = 0; i < n; ++i)
      if (sb[i] > 0 && sb[i] < 1) F.push_back(i);
    r.free += static_cast<int>(F.size());
    // multipliers of the two sums from the free entries: ∇f_i + λ_seg = 0 on F
    double lam[2] = {0, 0};
    int cnt[2] = {0, 0};
    for (int i : F) {
      lam[i / m] -= grad[i];
      cnt[i / m]++;
    }
    for (int h = 0; h < 2; ++h) lam[h] = cnt[h] ? lam[h] / cnt[h] : 0;
    for (int i = 0; i < n; ++i) {
      const double res = grad[i] + lam[i / m];
      if (sb[i] > 0 && sb[i] < 1) r.stationarity = std::max(r.stationarity, std::abs(res));
      else if (sb[i] == 0) r.bound_violation = std::max(r.bound_violation, -res);  // ≥ 0 at the lower bound
      else r.bound_violation = std::max(r.bound_violation, res);                    // ≤ 0 at the upper bound
    }
    const int k = static_cast<int>(F.size());
    MatrixXd K = MatrixXd::Zero(k + 2, k + 2);
    VectorXd rhs = VectorXd::Zero(k + 2);
    for (int a = 0; a < k; ++a) {
      for (int c = 0; c < k; ++c) K(a, c) = H(F[a], F[c]);
      K(a, k + F[a] / m) = K(k + F[a] / m, a) = 1;
      rhs[a] = gb[F[a]];
    }
    for (int h = 0; h < 2; ++h)
      if (!cnt[h]) K(k + h, k + h) = 1;  // no free entry on that side: ν unused
    const VectorXd u = K.fullPivLu().solve(rhs);
    for (int a = 0; a < k; ++a) (F[a] < m ? r.dc[b * m + F[a]] : r.dd[b * m + F[a] - m]) = u[a];
    // second-order condition: H on the free set restricted to Σ = 0 per side
    MatrixXd Z(k, std::max(0, k - (cnt[0] > 0) - (cnt[1] > 0)));
    int z = 0;
    for (int h = 0; h < 2; ++h) {
      std::vector<int> idx;
      for (int a = 0; a < k; ++a)
        if (F[a] / m == h) idx.push_back(a);
      for (std::size_t t = 1; t < idx.size(); ++t, ++z) {
        Z.col(z).setZero();
        Z(idx[0], z) = 1;
        Z(idx[t], z) = -1;
      }
    }
    if (z > 0) {
      const MatrixXd Hk = foldopt_ref::submatrix(H, F, F);
      const MatrixXd R = Z.transpose() * Hk * Z, G = Z.transpose() * Z;
      Eigen::GeneralizedSelfAdjointEigenSolver<MatrixXd> es(R, G);
      r.min_free_eig = std::min(r.min_free_eig, es.eigenvalues().minCoeff());
    }
  }
  return r;
}

double loss(FoldedLayer& layer, const ParamSet& theta, Vec g) {
  Vec s = layer.forward(theta);
  PetscScalar d;
  VecDot(s, g, &d);
  return PetscRealPart(d);
}

void expect_close(const VectorXd& got, const VectorXd& ref, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  ASSERT_GT(ref.norm(), 0) << what << ": the reference is zero";
  EXPECT_LE(foldopt_ref::rel_err(got, ref), tol) << what;
}

// The smoothed problems (quadratic and entropic): the solution satisfies the KKT conditions and is
// a local minimum of f on the free set; the gradients (GMRES, and -fold_backward jacobian) match the
// dense KKT reference to 1e-8 and central finite differences; the forward's smoothed value lies
// between the best vertex's and the bound F* − μφ_min (F* the enumerated vertex optimum).
TEST(Bilinear, SmoothedGradients) {
  struct Case {
    BilinearSmoothing sm;
    double mu;
    double phi_min;  // per instance, m = 10, p = q = 3
  };
  const double m = 10, p = 3;
  for (const Case& cs : {Case{BilinearSmoothing::quadratic, 1.0, 2 * p * p / (2 * m)},
                         Case{BilinearSmoothing::entropic, 0.3, -2 * p * std::log(m / p)}}) {
    const std::string what = std::string("smoothing ") + foldopt::to_string(cs.sm);
    std::unique_ptr<Bilinear> prob = Bilinear::generate(PETSC_COMM_WORLD, 10, 2, 5, 3, 3, cs.sm, cs.mu);
    const Data D = gather(*prob);
    OwnedVec g = prob->create_vec();
    foldopt::fill_random(g, kLossSeed);
    std::vector<VectorXd> grads;
    for (const Options& opts : {Options{}, Options{{"-fold_backward", "jacobian"}}}) {
      ScopedOptions so(opts);
      FoldedLayer layer(*prob);
      layer.set_fixed_point_tolerance(1e-10);
      layer.set_from_options();
      const VectorXd s = foldopt_ref::to_eigen(layer.forward(prob->params()));
      ParamSet grad;
      ASSERT_NO_THROW(grad = layer.backward(g)) << what;
      EXPECT_LE(layer.fixed_point_residual(), 1e-10) << what;
      EXPECT_TRUE(layer.adjoint().report().converged) << what;
      const Kkt ref = kkt_reference(D, s, foldopt_ref::to_eigen(g), cs.sm, cs.mu);
      EXPECT_GE(ref.free, 4) << what << ": too few free entries for an informative gradient";
      EXPECT_LE(ref.stationarity, 1e-9) << what;
      EXPECT_LE(ref.bound_violation, 1e-9) << what;
      EXPECT_GT(ref.min_free_eig, 0) << what << ": not a local minimum of f on the free set";
      const VectorXd dc = foldopt_ref::to_eigen(grad.get("c")), dd = foldopt_ref::to_eigen(grad.get("d"));
      expect_close(dc, ref.dc, 1e-8, what + ": dL/dc vs KKT");
      expect_close(dd, ref.dd, 1e-8, what + ": dL/dd vs KKT");
      VectorXd both(dc.size() + dd.size());
      both << dc, dd;
      grads.push_back(both);
      // the forward's guarantee
      auto* fwd = dynamic_cast<foldopt::BilinearGlobalForward*>(&layer.forward_solver());
      ASSERT_NE(fwd, nullptr);
      const auto& res = fwd->result();
      ASSERT_TRUE(res.enumerated);
      EXPECT_GE(res.gap, 0) << what;
      EXPECT_LE(res.gap, cs.mu * prob->smoothing_range() + 1e-12) << what << ": the a posteriori gap exceeds mu*Delta";
      for (int b = 0; b < 2; ++b) {
        EXPECT_GE(res.smoothed[b], res.vertex_smoothed[b] - 1e-12) << what << ": the ascent lowered F_mu";
        EXPECT_LE(res.smoothed[b], res.vertex_value[b] - cs.mu * cs.phi_min + 1e-12) << what << ": above the bound";
        EXPECT_NEAR(res.vertex_smoothed[b] - res.vertex_value[b],
                    cs.sm == BilinearSmoothing::quadratic ? -cs.mu * p : 0.0, 1e-12) << "phi at a vertex";
      }
      if (foldopt_test::rank() == 0)
        std::printf("  %s%s: %d free, KKT error %.1e, gradient vs KKT %.1e, %s\n", what.c_str(),
                    opts.empty() ? "" : " (jacobian)", ref.free, ref.stationarity,
                    std::max(foldopt_ref::rel_err(dc, ref.dc), foldopt_ref::rel_err(dd, ref.dd)),
                    layer.forward_report().reason.c_str());
    }
    EXPECT_LE(foldopt_ref::rel_err(grads[1], grads[0]), 1e-8) << what << ": jacobian vs gmres";

    // central differences, re-solving the forward
    FoldedLayer layer(*prob);
    layer.set_from_options();
    layer.forward(prob->params());
    const ParamSet grad = layer.backward(g);
    FoldedLayer probe(*prob);
    probe.set_from_options();
    const double eps = 1e-5;
    for (const char* block : {"c", "d"}) {
      OwnedVec dir;
      VecDuplicate(prob->params().get(block), dir.out());
      foldopt::fill_random(dir, 100 + (block[0] == 'c'));
      ParamSet plus = prob->params().copy(), minus = prob->params().copy();
      VecAXPY(plus.get(block), eps, dir);
      VecAXPY(minus.get(block), -eps, dir);
      const double fd = (loss(probe, plus, g) - loss(probe, minus, g)) / (2 * eps);
      PetscScalar an;
      VecDot(grad.get(block), dir, &an);
      ASSERT_GT(std::abs(fd), 1e-3) << what << ", " << block << ": a direction the loss does not see";
      EXPECT_NEAR(PetscRealPart(an), fd, 1e-6 * std::max(1.0, std::abs(fd))) << what << ", block " << block;
    }
  }
}

/// Projection of z onto {0 ≤ x ≤ 1, Σx = k} by sorting the breakpoints (independent of batch::thresholds).
VectorXd capped_projection(const VectorXd& z, double k) {
  std::vector<double> bp;
  for (Eigen::Index i = 0; i < z.size(); ++i) {
    bp.push_back(z[i]);
    bp.push_back(z[i] - 1);
  }
  std::sort(bp.begin(), bp.end());
  auto S = [&](double t) { return (z.array() - t).max(0.0).min(1.0).sum(); };
  for (std::size_t j = 0; j + 1 < bp.size(); ++j) {  // S is affine between consecutive breakpoints
    const double a = bp[j], b = bp[j + 1], Sa = S(a), Sb = S(b);
    if (Sa >= k && Sb <= k) {
      const double t = Sa == Sb ? a : a + (Sa - k) * (b - a) / (Sa - Sb);
      return (z.array() - t).max(0.0).min(1.0).matrix();
    }
  }
  return VectorXd();
}

// capped_simplex_product: the projection per segment against sorting; J against central
// differences of the projection; ⟨Jv, w⟩ = ⟨v, Jw⟩ (dot-product test); J² = J; K = J; and J equal
// to diag(d) + U diag(c) Uᵀ. A batch of 3 instances of 2 × 7 entries with sums (2, 3.5); from the
// registry with -<prefix>sums.
TEST(Bilinear, CappedSimplexProductProx) {
  foldopt::Layout L;
  L.comm = PETSC_COMM_WORLD;
  L.n = 14;
  L.batch = 3;
  L.local = PETSC_DECIDE;
  PetscInt N = 42;
  PetscSplitOwnership(PETSC_COMM_WORLD, &L.local, &N);
  const std::vector<double> sums = {2.0, 3.5};
  foldopt::CappedSimplexProductProx P(L, sums);
  OwnedVec z = from_eigen(VectorXd::Zero(42)), y, v, w, Jv, Jw;
  foldopt::fill_random(z, 9);
  VecScale(z, 1.5);
  VecDuplicate(z, y.out());
  VecDuplicate(z, v.out());
  VecDuplicate(z, w.out());
  VecDuplicate(z, Jv.out());
  VecDuplicate(z, Jw.out());
  ParamSet none;
  P.apply(z, 1.0, none, y);
  const VectorXd zd = foldopt_ref::to_eigen(z), yd = foldopt_ref::to_eigen(y);
  int free = 0;
  for (int s = 0; s < 6; ++s) {
    const VectorXd ref = capped_projection(zd.segment(7 * s, 7), sums[s % 2]);
    ASSERT_EQ(ref.size(), 7);
    EXPECT_LE((yd.segment(7 * s, 7) - ref).cwiseAbs().maxCoeff(), 1e-13) << "segment " << s;
    free += static_cast<int>(((ref.array() > 0) && (ref.array() < 1)).count());
  }
  EXPECT_GE(free, 6) << "too few free entries";
  P.linearize(z, 1.0, none);
  EXPECT_EQ(P.free_count(), free);
  foldopt::fill_random(v, 3);
  foldopt::fill_random(w, 4);
  P.jacobian_mult(v, Jv);
  P.jacobian_mult(w, Jw);
  PetscScalar a, b;
  VecDot(Jv, w, &a);
  VecDot(v, Jw, &b);
  EXPECT_NEAR(PetscRealPart(a), PetscRealPart(b), 1e-12 * std::max(1.0, std::abs(PetscRealPart(a)))) << "<Jv, w> = <v, Jw>";
  // central differences of the projection (no breakpoint crossed for this step)
  const double h = 1e-7;
  OwnedVec zp, zm, yp, ym;
  VecDuplicate(z, zp.out());
  VecDuplicate(z, zm.out());
  VecDuplicate(z, yp.out());
  VecDuplicate(z, ym.out());
  VecWAXPY(zp, h, v, z);
  VecWAXPY(zm, -h, v, z);
  P.apply(zp, 1.0, none, yp);
  P.apply(zm, 1.0, none, ym);
  const VectorXd fd = (foldopt_ref::to_eigen(yp) - foldopt_ref::to_eigen(ym)) / (2 * h);
  P.linearize(z, 1.0, none);
  P.jacobian_mult(v, Jv);
  const VectorXd jv = foldopt_ref::to_eigen(Jv);
  ASSERT_GT(jv.norm(), 0);
  EXPECT_LE((jv - fd).norm() / jv.norm(), 1e-7) << "J v against central differences";
  // projector, factor, structure
  OwnedVec JJv, Kv, d;
  VecDuplicate(z, JJv.out());
  VecDuplicate(z, Kv.out());
  VecDuplicate(z, d.out());
  P.jacobian_mult(Jv, JJv);
  EXPECT_LE((foldopt_ref::to_eigen(JJv) - jv).cwiseAbs().maxCoeff(), 1e-13) << "J^2 = J";
  P.factor_mult(v, Kv);
  EXPECT_LE((foldopt_ref::to_eigen(Kv) - jv).cwiseAbs().maxCoeff(), 1e-15) << "K = J";
  OwnedMat U;
  OwnedVec c;
  P.jacobian_structure(d, &U, &c);
  ASSERT_TRUE(U && c);
  const MatrixXd Ud = foldopt_ref::gather_dense(U);
  ASSERT_EQ(Ud.cols(), 6) << "one low-rank column per segment";
  const VectorXd dd = foldopt_ref::to_eigen(d), cd = foldopt_ref::to_eigen(c), vd = foldopt_ref::to_eigen(v);
  const VectorXd structured = dd.cwiseProduct(vd) + Ud * cd.asDiagonal() * (Ud.transpose() * vd);
  EXPECT_LE((structured - jv).cwiseAbs().maxCoeff(), 1e-13) << "J = diag(d) + U diag(c) U^T";
  // the registry, with the sums from the options
  ScopedOptions o(Options{{"-t_prox_sums", "2,3.5"}});
  foldopt::PartContext ctx;
  ctx.comm = PETSC_COMM_WORLD;
  ctx.layout = L;
  ctx.prefix = "t_prox_";
  std::unique_ptr<foldopt::Prox> R = foldopt::prox_registry().create("prox", "capped_simplex_product", ctx);
  OwnedVec y2;
  VecDuplicate(z, y2.out());
  R->apply(z, 1.0, none, y2);
  EXPECT_LE(foldopt_test::rel_diff(y2, y), 1e-15);
  // sums that cannot cut the instance, or are not attainable
  EXPECT_THROW(foldopt::CappedSimplexProductProx(L, {1.0, 1.0, 1.0}), foldopt::Error);
  EXPECT_THROW(foldopt::CappedSimplexProductProx(L, {8.0, 1.0}), foldopt::Error);
}

// Generated instances are the same at any number of ranks (built on PETSC_COMM_SELF, every rank
// alone, and on all ranks); the problem's own checks name the input.
TEST(Bilinear, GeneratedByGlobalIndexAndErrors) {
  std::unique_ptr<Bilinear> world = Bilinear::generate(PETSC_COMM_WORLD, 9, 2, 3, 2, 4, BilinearSmoothing::quadratic, 0.5);
  std::unique_ptr<Bilinear> self = Bilinear::generate(PETSC_COMM_SELF, 9, 2, 3, 2, 4, BilinearSmoothing::quadratic, 0.5);
  const Data a = gather(*world), b = gather(*self);
  EXPECT_EQ((a.Q - b.Q).norm(), 0.0);
  EXPECT_EQ((a.c - b.c).norm(), 0.0);
  EXPECT_EQ((a.d - b.d).norm(), 0.0);
  EXPECT_GT(a.Q.cwiseAbs().maxCoeff(), 0);
  EXPECT_EQ(world->layout().n, 18);
  EXPECT_EQ(world->params().names(), (std::vector<std::string>{"c", "d"}));
  // TAO's and IPOPT's view of the constraints: Σx_b − p, Σy_b − q
  OwnedVec s = world->create_vec(), cv = world->create_constraint_vec(4);
  VecSet(s, 0.5);
  world->equality(s, world->params(), cv);
  const VectorXd cc = foldopt_ref::to_eigen(cv);
  EXPECT_NEAR(cc[0], 4.5 - 2, 1e-14);
  EXPECT_NEAR(cc[1], 4.5 - 4, 1e-14);
  EXPECT_NEAR(cc[3], 4.5 - 4, 1e-14);
  const MatrixXd J = foldopt_ref::gather_dense(world->equality_jacobian(s, world->params()));
  ASSERT_EQ(J.rows(), 4);
  ASSERT_EQ(J.cols(), 36);
  EXPECT_EQ(J.block(1, 9, 1, 9).sum(), 9);
  EXPECT_EQ(J.sum(), 36);
  auto expect_error = [](auto f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error, expected " << needle;
    } catch (const foldopt::Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([] { Bilinear::generate(PETSC_COMM_WORLD, 5, 1, 1, 5, 2, BilinearSmoothing::none, 0); }, "-sum_x 5 must be in (0, m)");
  expect_error([] { Bilinear::generate(PETSC_COMM_WORLD, 5, 1, 1, 2, 2, BilinearSmoothing::entropic, 0); },
               "-bilinear_mu 0 must be positive");
}

// The command-line path from files: Q (shared), c and d (m×2 arrays: a batch of 2) written by the
// I/O and read back through the registry with -c, -d, -Qmat, -sum_x, -sum_y give the generated
// instance's solution and gradients (c and d per instance).
TEST(Bilinear, FromFilesThroughTheRegistry) {
  const std::string dir = foldopt_test::temp_dir("bilinear_files");
  ASSERT_FALSE(dir.empty());
  std::unique_ptr<Bilinear> gen = Bilinear::generate(PETSC_COMM_WORLD, 8, 2, 4, 2, 3, BilinearSmoothing::quadratic, 1.0);
  {
    foldopt::io::OutputSet out(PETSC_COMM_WORLD);
    out.add(dir + "/Q.mtx", gen->Q());
    out.add_batch(dir + "/c.mtx", gen->params().get("c"), 8);
    out.add_batch(dir + "/d.mtx", gen->params().get("d"), 8);
    out.commit();
  }
  ScopedOptions so({{"-c", dir + "/c.mtx"}, {"-d", dir + "/d.mtx"}, {"-Qmat", dir + "/Q.mtx"}, {"-sum_x", "2"}, {"-sum_y", "3"}});
  std::unique_ptr<foldopt::Problem> p = foldopt::problem_registry().create("problem", "bilinear", PETSC_COMM_WORLD);
  ASSERT_EQ(p->type(), "bilinear");
  EXPECT_EQ(p->layout().n, 16);
  EXPECT_EQ(p->layout().batch, 2);
  EXPECT_EQ(p->default_forward(), "bilinear_global");
  ASSERT_EQ(p->data_matrices().size(), 1u);
  EXPECT_EQ(p->data_matrices()[0].first, "Q");
  OwnedVec g = p->create_vec();
  foldopt::fill_random(g, kLossSeed);
  std::vector<VectorXd> sol, grad;
  for (foldopt::Problem* prob : {static_cast<foldopt::Problem*>(gen.get()), p.get()}) {
    FoldedLayer layer(*prob);
    layer.set_from_options();
    sol.push_back(foldopt_ref::to_eigen(layer.forward(prob->params())));
    const ParamSet gr = layer.backward(g);
    VectorXd both(32);
    both << foldopt_ref::to_eigen(gr.get("c")), foldopt_ref::to_eigen(gr.get("d"));
    grad.push_back(both);
  }
  ASSERT_GT(grad[0].norm(), 0);
  EXPECT_LE((sol[1] - sol[0]).cwiseAbs().maxCoeff(), 1e-14);
  EXPECT_LE(foldopt_ref::rel_err(grad[1], grad[0]), 1e-12);
}

// The smooth part and the map at the solution, for each smoothing: ∇f and ∇²f v against central
// differences of f and ∇f, the assembled Hessian equal to the products, (∂∇f/∂θ) against its
// transpose, and the dot-product tests of Φ/Φᵀ and Ψ/Ψᵀ to 1e-12.
TEST(Bilinear, ObjectiveAndMapDerivatives) {
  for (BilinearSmoothing sm : {BilinearSmoothing::none, BilinearSmoothing::quadratic, BilinearSmoothing::entropic}) {
    const std::string what = foldopt::to_string(sm);
    std::unique_ptr<Bilinear> prob = Bilinear::generate(PETSC_COMM_WORLD, 7, 2, 6, 2, 3, sm, 0.4);
    foldopt::Objective& f = *prob->objective();
    const ParamSet& th = prob->params();
    OwnedVec s = prob->create_vec(), v = prob->create_vec(), g = prob->create_vec(), hv = prob->create_vec();
    foldopt::fill_random(s, 21);
    VecShift(s, 1.5);
    VecScale(s, 0.4);  // in (0.2, 1): inside the entropy's domain
    foldopt::fill_random(v, 22);
    f.value_gradient(s, th, g);
    f.hessian_mult(s, th, v, hv);
    const double h = 1e-6;
    OwnedVec sp = prob->create_vec(), sm_ = prob->create_vec(), gp = prob->create_vec(), gm = prob->create_vec();
    VecWAXPY(sp, h, v, s);
    VecWAXPY(sm_, -h, v, s);
    const double fd = (f.value_gradient(sp, th, gp) - f.value_gradient(sm_, th, gm)) / (2 * h);
    PetscScalar gv;
    VecDot(g, v, &gv);
    EXPECT_NEAR(PetscRealPart(gv), fd, 1e-7 * std::max(1.0, std::abs(fd))) << what << ": gradient";
    const VectorXd hfd = (foldopt_ref::to_eigen(gp) - foldopt_ref::to_eigen(gm)) / (2 * h), hd = foldopt_ref::to_eigen(hv);
    ASSERT_GT(hd.norm(), 0);
    EXPECT_LE((hfd - hd).norm() / hd.norm(), 1e-7) << what << ": Hessian product";
    ASSERT_TRUE(f.capabilities().hessian);
    EXPECT_FALSE(f.capabilities().convex);
    const MatrixXd H = foldopt_ref::gather_dense(f.hessian(s, th));
    EXPECT_LE((H * foldopt_ref::to_eigen(v) - hd).cwiseAbs().maxCoeff(), 1e-13) << what << ": assembled Hessian";
    // parameter products: ⟨(∂∇f/∂θ) dθ, w⟩ = ⟨dθ, (∂∇f/∂θ)ᵀ w⟩
    ParamSet dth = th.zeros_like(), out = th.zeros_like();
    foldopt::fill_random(dth.get("c"), 23);
    foldopt::fill_random(dth.get("d"), 24);
    OwnedVec y = prob->create_vec();
    VecZeroEntries(y);
    f.gradient_param(s, th, dth, y);
    f.gradient_param_t(s, th, v, out);
    PetscScalar lhs;
    VecDot(y, v, &lhs);
    const double rhs = PetscRealPart(dth.dot(out));
    EXPECT_NEAR(PetscRealPart(lhs), rhs, 1e-13 * std::max(1.0, std::abs(rhs))) << what << ": parameter products";
    // -(dc, dd) placed in the x and y halves of each instance
    const VectorXd yd = foldopt_ref::to_eigen(y), dc = foldopt_ref::to_eigen(dth.get("c")), dd = foldopt_ref::to_eigen(dth.get("d"));
    for (int b = 0; b < 2; ++b) {
      EXPECT_EQ((yd.segment(14 * b, 7) + dc.segment(7 * b, 7)).norm(), 0.0) << what;
      EXPECT_EQ((yd.segment(14 * b + 7, 7) + dd.segment(7 * b, 7)).norm(), 0.0) << what;
    }
    // the map at the solution
    FoldedLayer layer(*prob);
    layer.set_from_options();
    layer.forward(th);
    layer.map().linearize(layer.state(), th);
    const foldopt::DotTest dp = foldopt::dot_test_phi(layer.map()), ds = foldopt::dot_test_psi(layer.map());
    EXPECT_LE(dp.relative, 1e-12) << what << ": Phi";
    EXPECT_LE(ds.relative, 1e-12) << what << ": Psi";
    if (sm != BilinearSmoothing::none) EXPECT_GT(std::abs(dp.lhs), 0) << what << ": Phi is 0 at a smoothed solution";
  }
}

}  // namespace
