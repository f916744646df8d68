// The proximal operators and the segmented batch reductions, against independent references
// (np = 1 and 2; sizes n = 7 and n = 40 with B = 1 and B = 3, so that at np = 2 an instance spans
// both ranks; data drawn by global index, the same at any rank count):
//   * apply against a dense reference computed here: closed forms (box, orthant, ball,
//     half-space, hyperplane, soft-thresholding, group soft-thresholding), the simplex by the
//     sort-and-scan rule of Held/Wolfe/Crowder, the capped simplex and batch::thresholds by a
//     brute-force scan over all breakpoints (O(m²)); in place (y = z) gives the same;
//   * J assembled column by column from jacobian_mult: equal to central finite differences of
//     apply (ε = 1e-6, random points, away from kinks) to 1e-6, to diag(d) + U diag(c) Uᵀ from
//     jacobian_structure (assembled densely here) to 1e-12, symmetric to 1e-12, eigenvalues in
//     [0, 1]; K from factor_mult: K symmetric and K K = J to 1e-12;
//   * parameter blocks: ⟨∂prox/∂θ dθ, v⟩ = ⟨dθ, (∂prox/∂θ)ᵀ v⟩ to 1e-12, ∂prox/∂θ dθ against
//     central differences of apply in θ to 1e-6 (and nonzero), other blocks left alone;
//   * the batch reductions (sums, dots, norms, max_abs, counts, broadcast, axpy, scale) against
//     dense sums; thresholds with ties, both bounds, the extreme targets, many segments per rank;
//   * bad input: one error on every rank naming the input (k > n, unattainable thresholds, group
//     size not dividing n, lb > ub, nonpositive radius, zero normal vector, wrong sizes).
#include "reference.hpp"
#include "test_util.hpp"

#include "core/random.hpp"

#include <foldopt/batch.hpp>
#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/prox.hpp>
#include <foldopt/prox/ball.hpp>
#include <foldopt/prox/box.hpp>
#include <foldopt/prox/identity.hpp>
#include <foldopt/prox/l1.hpp>
#include <foldopt/prox/linear_constraint.hpp>
#include <foldopt/prox/nonnegative.hpp>
#include <foldopt/prox/simplex.hpp>

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace {

using foldopt::Layout;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt::Prox;
using foldopt_ref::MatrixXd;
using foldopt_ref::to_eigen;
using foldopt_ref::VectorXd;
using foldopt_test::comm_size;
using foldopt_test::ScopedOptions;
using Dense = std::map<std::string, VectorXd>;
using Options = std::vector<std::pair<std::string, std::string>>;

const double kInf = std::numeric_limits<double>::infinity();

OwnedVec make_vec(PetscInt N) {
  OwnedVec v;
  VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, N, v.out());
  VecZeroEntries(v);
  return v;
}

Layout make_layout(PetscInt n, PetscInt B) {
  Layout l;
  l.comm = PETSC_COMM_WORLD;
  l.n = n;
  l.batch = B;
  OwnedVec v = make_vec(n * B);
  VecGetLocalSize(v, &l.local);
  return l;
}

/// A vector with the values of `d` (the whole vector, known on every rank).
OwnedVec from_eigen(const VectorXd& d) {
  OwnedVec v = make_vec(static_cast<PetscInt>(d.size()));
  PetscInt rs, re;
  VecGetOwnershipRange(v, &rs, &re);
  PetscScalar* a;
  VecGetArray(v, &a);
  for (PetscInt i = rs; i < re; ++i) a[i - rs] = d[i];
  VecRestoreArray(v, &a);
  return v;
}

OwnedVec random_vec(PetscInt N, unsigned long seed, double scale = 1.0) {
  OwnedVec v = make_vec(N);
  foldopt::fill_random(v, seed);
  VecScale(v, scale);
  return v;
}

double rel(const VectorXd& a, const VectorXd& b) {
  const double nb = b.norm();
  return nb > 0 ? (a - b).norm() / nb : (a - b).norm();
}

double rel(const MatrixXd& a, const MatrixXd& b) {
  const double nb = b.norm();
  return nb > 0 ? (a - b).norm() / nb : (a - b).norm();
}

Dense dense_of(const ParamSet& theta) {
  Dense d;
  for (std::size_t i = 0; i < theta.size(); ++i) d[theta[i].name] = to_eigen(theta[i].vec);
  return d;
}

/// τ with Σ clamp(zᵢ − τ, lo, hi) = k by brute force: F at every breakpoint (O(m²)), then the
/// line through the two bracketing ones.
double brute_threshold(const std::vector<double>& z, double lo, double hi, double k) {
  auto F = [&](double t) {
    double s = 0;
    for (double v : z) s += std::min(std::max(v - t, lo), hi);
    return s;
  };
  std::vector<double> bp;
  for (double v : z) {
    bp.push_back(v - lo);
    if (std::isfinite(hi)) bp.push_back(v - hi);
  }
  std::sort(bp.begin(), bp.end());
  // F nonincreasing; F(bp.front()) is the largest value reachable at a breakpoint.
  if (F(bp.front()) < k) {  // only with hi = inf: below all breakpoints F = Σ(z − τ)
    double sz = 0;
    for (double v : z) sz += v;
    return (sz - k) / static_cast<double>(z.size());
  }
  for (std::size_t j = 0; j + 1 < bp.size(); ++j) {
    const double f0 = F(bp[j]), f1 = F(bp[j + 1]);
    if (f0 >= k && f1 <= k) {
      if (f0 == f1) return bp[j];
      return bp[j] + (f0 - k) * (bp[j + 1] - bp[j]) / (f0 - f1);
    }
  }
  return bp.back();  // k = m·lo: F = k from the last breakpoint on
}

/// Held/Wolfe/Crowder: the simplex projection by sorting.
VectorXd simplex_sort(const VectorXd& z) {
  std::vector<double> u(z.data(), z.data() + z.size());
  std::sort(u.begin(), u.end(), std::greater<double>());
  double cum = 0, tau = 0;
  for (std::size_t j = 0; j < u.size(); ++j) {
    cum += u[j];
    const double t = (cum - 1.0) / static_cast<double>(j + 1);
    if (u[j] - t > 0) tau = t;
  }
  return (z.array() - tau).max(0.0).matrix();
}

/// Every instance b of a dense batch vector through `f`.
VectorXd per_instance(const VectorXd& z, PetscInt n, const std::function<VectorXd(PetscInt, const VectorXd&)>& f) {
  VectorXd y(z.size());
  for (PetscInt b = 0; b * n < z.size(); ++b) y.segment(b * n, n) = f(b, z.segment(b * n, n));
  return y;
}

/// Run `f`, which must throw foldopt::Error on every rank with a message containing `needle`.
void expect_error(const std::function<void()>& f, const std::string& needle) {
  std::string msg;
  bool thrown = false;
  try {
    f();
  } catch (const foldopt::Error& e) {
    thrown = true;
    msg = e.what();
  }
  int mine = thrown ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  EXPECT_EQ(all, comm_size()) << "thrown on " << all << " ranks (expected an error with '" << needle << "')";
  if (thrown) {
    EXPECT_NE(msg.find(needle), std::string::npos) << "'" << needle << "' not in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// ---------------------------------------------------------------------------------------------
// One prox under test.

struct Case {
  std::string name;
  /// Build the prox for the layout; z (dense) lets a case place data relative to the point.
  std::function<std::unique_ptr<Prox>(const Layout&, const VectorXd&)> make;
  /// Add the parameter blocks to θ (an unrelated block "other" is always added).
  std::function<void(const Layout&, ParamSet&)> theta;
  /// The dense reference of apply.
  std::function<VectorXd(const Layout&, const VectorXd&, const Dense&, double alpha)> reference;
  std::vector<std::string> blocks;  ///< parameter blocks the prox depends on
  double alpha = 1.0;
  double zscale = 1.0;
  /// Scale of instance b of z (default 1).
  std::function<double(PetscInt)> instance_scale;
  std::vector<std::pair<PetscInt, PetscInt>> sizes = {{7, 1}, {7, 3}, {40, 1}, {40, 3}};
  /// A property of (layout, z, θ) that must hold so that the case covers its branches (B = 3).
  std::function<void(const Layout&, const VectorXd&, const Dense&, double)> coverage;
  std::function<PetscInt(const Layout&, const VectorXd&, const Dense&, double)> free;
};

/// J (or K) assembled from N products with unit vectors.
MatrixXd assemble(const std::function<void(Vec, Vec)>& mult, PetscInt N) {
  MatrixXd J(N, N);
  OwnedVec e = make_vec(N), y = make_vec(N);
  PetscInt rs, re;
  VecGetOwnershipRange(e, &rs, &re);
  for (PetscInt j = 0; j < N; ++j) {
    VecZeroEntries(e);
    if (j >= rs && j < re) VecSetValue(e, j, 1.0, INSERT_VALUES);
    VecAssemblyBegin(e);
    VecAssemblyEnd(e);
    mult(e, y);
    J.col(j) = to_eigen(y);
  }
  return J;
}

void run_case(const Case& c, PetscInt n, PetscInt B) {
  SCOPED_TRACE(c.name + " n=" + std::to_string(n) + " B=" + std::to_string(B));
  const Layout L = make_layout(n, B);
  const PetscInt N = n * B;
  OwnedVec z = random_vec(N, 101 + n + 7 * B, c.zscale);
  if (c.instance_scale) {
    PetscInt rs, re;
    VecGetOwnershipRange(z, &rs, &re);
    PetscScalar* a;
    VecGetArray(z, &a);
    for (PetscInt i = rs; i < re; ++i) a[i - rs] *= c.instance_scale(i / n);
    VecRestoreArray(z, &a);
  }
  const VectorXd zd = to_eigen(z);
  ParamSet theta;
  if (c.theta) c.theta(L, theta);
  OwnedVec other = random_vec(N, 5);
  theta.add("other", other);
  const Dense td = dense_of(theta);
  std::unique_ptr<Prox> p = c.make(L, zd);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type(), c.name);
  const double alpha = c.alpha;
  if (c.coverage && B == 3) c.coverage(L, zd, td, alpha);

  // apply against the dense reference, and in place
  OwnedVec y = make_vec(N);
  p->apply(z, alpha, theta, y);
  const VectorXd ref = c.reference(L, zd, td, alpha);
  const VectorXd yd = to_eigen(y);
  EXPECT_LE(rel(yd, ref), 1e-12) << "apply vs reference";
  EXPECT_GT(ref.norm(), 0);
  {
    OwnedVec w = make_vec(N);
    VecCopy(z, w);
    p->apply(w, alpha, theta, w);
    EXPECT_LE(rel(to_eigen(w), yd), 1e-15) << "in place";
  }

  // the Jacobian
  p->linearize(z, alpha, theta);
  const MatrixXd J = assemble([&](Vec v, Vec out) { p->jacobian_mult(v, out); }, N);
  // central differences of apply, column by column
  {
    const double eps = 1e-6;
    MatrixXd Jfd(N, N);
    OwnedVec zp = make_vec(N), zm = make_vec(N), yp = make_vec(N), ym = make_vec(N), e = make_vec(N);
    PetscInt rs, re;
    VecGetOwnershipRange(e, &rs, &re);
    for (PetscInt j = 0; j < N; ++j) {
      VecZeroEntries(e);
      if (j >= rs && j < re) VecSetValue(e, j, 1.0, INSERT_VALUES);
      VecAssemblyBegin(e);
      VecAssemblyEnd(e);
      VecWAXPY(zp, eps, e, z);
      VecWAXPY(zm, -eps, e, z);
      p->apply(zp, alpha, theta, yp);
      p->apply(zm, alpha, theta, ym);
      Jfd.col(j) = (to_eigen(yp) - to_eigen(ym)) / (2 * eps);
    }
    EXPECT_LE(rel(J, Jfd), 1e-6) << "J vs finite differences";
  }
  EXPECT_LE((J - J.transpose()).norm(), 1e-12 * std::max(1.0, J.norm())) << "J symmetric";
  {
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(0.5 * (J + J.transpose()));
    EXPECT_GE(es.eigenvalues().minCoeff(), -1e-12) << "J >= 0";
    EXPECT_LE(es.eigenvalues().maxCoeff(), 1 + 1e-12) << "J <= I";
  }
  // structure
  {
    OwnedVec d = make_vec(N);
    OwnedMat U;
    OwnedVec cv;
    p->jacobian_structure(d, &U, &cv);
    MatrixXd S = to_eigen(d).asDiagonal();
    if (p->capabilities().low_rank) {
      ASSERT_TRUE(U && cv) << "low_rank without U, c";
      const MatrixXd Ud = foldopt_ref::gather_dense(U);
      const VectorXd cd = to_eigen(cv);
      ASSERT_EQ(Ud.rows(), N);
      ASSERT_EQ(Ud.cols(), cd.size());
      S += Ud * cd.asDiagonal() * Ud.transpose();
    } else {
      EXPECT_FALSE(U) << "U given without low_rank";
    }
    EXPECT_LE(rel(S, J), 1e-12) << "diag(d) + U diag(c) U^T vs J";
  }
  // factor
  if (p->capabilities().factor || p->capabilities().projection) {
    const MatrixXd K = assemble([&](Vec v, Vec out) { p->factor_mult(v, out); }, N);
    EXPECT_LE((K - K.transpose()).norm(), 1e-12 * std::max(1.0, K.norm())) << "K symmetric";
    EXPECT_LE(rel(K * K, J), 1e-12) << "K K = J";
  }
  if (c.free) EXPECT_EQ(p->free_count(), c.free(L, zd, td, alpha));

  // parameters
  for (const std::string& name : c.blocks) {
    SCOPED_TRACE("block " + name);
    ParamSet dtheta = theta.zeros_like();
    PetscInt Nb;
    VecGetSize(dtheta.get(name), &Nb);
    if (Nb == 1) VecSet(dtheta.get(name), 1.0);
    else foldopt::fill_random(dtheta.get(name), 77);
    OwnedVec pv = make_vec(N), v = random_vec(N, 78);
    p->param(dtheta, pv);
    ParamSet out = theta.zeros_like();
    p->param_t(v, out);
    PetscScalar lhs;
    VecDot(pv, v, &lhs);
    const PetscScalar rhs = out.dot(dtheta);
    EXPECT_NEAR(PetscRealPart(lhs), PetscRealPart(rhs), 1e-12 * std::max(1.0, std::abs(PetscRealPart(lhs))));
    PetscReal no;
    VecNorm(out.get("other"), NORM_2, &no);
    EXPECT_EQ(no, 0.0) << "param_t touched another block";
    // finite differences in θ
    const double eps = 1e-6;
    ParamSet tp = theta.copy(), tm = theta.copy();
    tp.axpy(eps, dtheta);
    tm.axpy(-eps, dtheta);
    OwnedVec yp = make_vec(N), ym = make_vec(N);
    p->apply(z, alpha, tp, yp);
    p->apply(z, alpha, tm, ym);
    const VectorXd fd = (to_eigen(yp) - to_eigen(ym)) / (2 * eps);
    const VectorXd an = to_eigen(pv);
    EXPECT_GT(an.norm(), 0) << "the parameter has no effect here";
    EXPECT_LE(rel(an, fd), 1e-6) << "param vs finite differences";
  }
}

void run_all_sizes(const Case& c) {
  for (const auto& s : c.sizes) run_case(c, s.first, s.second);
}

double get(const Dense& d, const std::string& name, PetscInt i = 0) { return d.at(name)[i]; }

TEST(Prox, Identity) {
  Case c;
  c.name = "identity";
  c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::IdentityProx(L)); };
  c.reference = [](const Layout&, const VectorXd& z, const Dense&, double) { return z; };
  run_all_sizes(c);
}

TEST(Prox, BoxFromBlocks) {
  Case c;
  c.name = "box";
  c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(foldopt::BoxProx::from_blocks(L)); };
  c.theta = [](const Layout& L, ParamSet& t) {
    OwnedVec lb = random_vec(L.global(), 11, 0.3), ub = random_vec(L.global(), 12, 0.3);
    VecShift(lb, -0.4);
    VecShift(ub, 0.4);
    t.add("lb", lb);
    t.add("ub", ub);
  };
  c.reference = [](const Layout&, const VectorXd& z, const Dense& t, double) {
    return z.cwiseMax(t.at("lb")).cwiseMin(t.at("ub")).eval();
  };
  c.free = [](const Layout&, const VectorXd& z, const Dense& t, double) {
    PetscInt f = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) f += (z[i] > t.at("lb")[i] && z[i] < t.at("ub")[i]);
    return f;
  };
  c.blocks = {"lb", "ub"};
  run_all_sizes(c);
}

TEST(Prox, BoxFromVecsNumbersAndOptions) {
  Case c;
  c.name = "box";
  c.make = [](const Layout& L, const VectorXd&) {
    OwnedVec lb = random_vec(L.global(), 21, 0.2);
    VecShift(lb, -0.5);
    return std::unique_ptr<Prox>(foldopt::BoxProx::from_vecs(L, lb, nullptr));
  };
  c.reference = [](const Layout& L, const VectorXd& z, const Dense&, double) {
    OwnedVec lb = random_vec(L.global(), 21, 0.2);
    VecShift(lb, -0.5);
    return z.cwiseMax(to_eigen(lb)).eval();
  };
  run_all_sizes(c);
  // fixed numbers, and the same from the registry's options
  c.make = [](const Layout& L, const VectorXd&) {
    return std::unique_ptr<Prox>(foldopt::BoxProx::from_numbers(L, -0.25, 0.5));
  };
  c.reference = [](const Layout&, const VectorXd& z, const Dense&, double) {
    return z.cwiseMax(-0.25).cwiseMin(0.5).eval();
  };
  run_all_sizes(c);
  ScopedOptions o(Options{{"-t_prox_lb", "-0.25"}, {"-t_prox_ub", "0.5"}});
  c.make = [](const Layout& L, const VectorXd&) {
    foldopt::PartContext ctx;
    ctx.comm = PETSC_COMM_WORLD;
    ctx.layout = L;
    ctx.prefix = "t_prox_";
    return foldopt::prox_registry().create("prox", "box", ctx);
  };
  run_all_sizes(c);
}

TEST(Prox, BoxSymmetricLambda) {
  Case c;
  c.name = "box";
  c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(foldopt::BoxProx::symmetric(L, "lambda")); };
  c.theta = [](const Layout&, ParamSet& t) {
    OwnedVec l = make_vec(1);
    VecSet(l, 0.4);
    t.add("lambda", l);
  };
  c.reference = [](const Layout&, const VectorXd& z, const Dense& t, double) {
    const double l = get(t, "lambda");
    return z.cwiseMax(-l).cwiseMin(l).eval();
  };
  c.blocks = {"lambda"};
  run_all_sizes(c);
}

TEST(Prox, Nonnegative) {
  Case c;
  c.name = "nonnegative";
  c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::NonnegativeProx(L)); };
  c.reference = [](const Layout&, const VectorXd& z, const Dense&, double) { return z.cwiseMax(0.0).eval(); };
  c.free = [](const Layout&, const VectorXd& z, const Dense&, double) {
    return static_cast<PetscInt>((z.array() > 0).count());
  };
  run_all_sizes(c);
}

TEST(Prox, Simplex) {
  Case c;
  c.name = "simplex";
  c.zscale = 0.6;
  c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::SimplexProx(L)); };
  c.reference = [](const Layout& L, const VectorXd& z, const Dense&, double) {
    return per_instance(z, L.n, [](PetscInt, const VectorXd& zb) { return simplex_sort(zb); });
  };
  c.free = [](const Layout& L, const VectorXd& z, const Dense&, double) {
    return static_cast<PetscInt>(
        (per_instance(z, L.n, [](PetscInt, const VectorXd& zb) { return simplex_sort(zb); }).array() > 0).count());
  };
  c.coverage = [](const Layout& L, const VectorXd& z, const Dense&, double) {
    // several entries in the support (a nontrivial low-rank part) and some outside
    const VectorXd x = per_instance(z, L.n, [](PetscInt, const VectorXd& zb) { return simplex_sort(zb); });
    const auto on = (x.array() > 0).count();
    EXPECT_GT(on, 3 * 2);
    EXPECT_LT(on, x.size());
  };
  run_all_sizes(c);
}

TEST(Prox, CappedSimplex) {
  for (int integer : {0, 1}) {
    // k = 0.35 n, or round(0.4 n): both bounds active and a free set of a few entries
    auto kof = [integer](const Layout& L) { return integer ? std::round(0.4 * L.n) : 0.35 * L.n; };
    Case c;
    c.name = "capped_simplex";
    c.zscale = 2.0;
    c.make = [kof](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::CappedSimplexProx(L, kof(L))); };
    c.reference = [kof](const Layout& L, const VectorXd& z, const Dense&, double) {
      const double k = kof(L);
      return per_instance(z, L.n, [k](PetscInt, const VectorXd& zb) {
        std::vector<double> v(zb.data(), zb.data() + zb.size());
        const double tau = brute_threshold(v, 0.0, 1.0, k);
        return (zb.array() - tau).max(0.0).min(1.0).matrix().eval();
      });
    };
    c.coverage = [kof](const Layout& L, const VectorXd& z, const Dense&, double) {
      const double k = kof(L);
      VectorXd x = per_instance(z, L.n, [k](PetscInt, const VectorXd& zb) {
        std::vector<double> v(zb.data(), zb.data() + zb.size());
        const double tau = brute_threshold(v, 0.0, 1.0, k);
        return (zb.array() - tau).max(0.0).min(1.0).matrix().eval();
      });
      EXPECT_GT((x.array() == 1.0).count(), 0) << "no entry at the upper bound";
      EXPECT_GT((x.array() == 0.0).count(), 0) << "no entry at the lower bound";
      EXPECT_GT(((x.array() > 0) && (x.array() < 1)).count(), 3) << "free set too small";
      for (PetscInt b = 0; b < L.batch; ++b) EXPECT_NEAR(x.segment(b * L.n, L.n).sum(), k, 1e-12);
    };
    run_all_sizes(c);
  }
  // from the registry with -k
  ScopedOptions o(Options{{"-t_prox_k", "2"}});
  foldopt::PartContext ctx;
  ctx.comm = PETSC_COMM_WORLD;
  ctx.layout = make_layout(7, 3);
  ctx.prefix = "t_prox_";
  std::unique_ptr<Prox> p = foldopt::prox_registry().create("prox", "capped_simplex", ctx);
  OwnedVec z = random_vec(21, 3), y = make_vec(21);
  ParamSet none;
  p->apply(z, 1.0, none, y);
  const VectorXd yd = to_eigen(y);
  for (int b = 0; b < 3; ++b) EXPECT_NEAR(yd.segment(7 * b, 7).sum(), 2.0, 1e-12);
  EXPECT_GE(yd.minCoeff(), 0.0);
  EXPECT_LE(yd.maxCoeff(), 1.0);
}

TEST(Prox, BallFixedAndBlockRadius) {
  for (int variant : {0, 1, 2}) {  // one fixed radius, a scalar block, one radius per instance
    Case c;
    c.name = "ball";
    // instance 0 outside, 1 inside, 2 outside (‖z_b‖ ≈ scale·√(n/3))
    c.instance_scale = [](PetscInt b) { return b == 1 ? 0.2 : (b == 0 ? 1.5 : 1.0); };
    auto radius = [variant](const Layout& L, PetscInt b) { return 0.7 * std::sqrt(L.n / 3.0) * (variant == 2 ? 1 + 0.1 * b : 1.0); };
    if (variant == 1) {
      c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::BallProx(L, std::string("r"))); };
      c.theta = [radius](const Layout& L, ParamSet& t) {
        OwnedVec r = make_vec(1);
        VecSet(r, radius(L, 0));
        t.add("r", r);
      };
      c.blocks = {"r"};
    } else if (variant == 0) {
      c.make = [radius](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::BallProx(L, radius(L, 0))); };
    } else {
      c.make = [radius](const Layout& L, const VectorXd&) {
        std::vector<PetscReal> r(L.batch);
        for (PetscInt b = 0; b < L.batch; ++b) r[b] = radius(L, b);
        return std::unique_ptr<Prox>(new foldopt::BallProx(L, r));
      };
    }
    c.reference = [radius](const Layout& L, const VectorXd& z, const Dense&, double) {
      return per_instance(z, L.n, [&](PetscInt b, const VectorXd& zb) {
        const double r = radius(L, b), nz = zb.norm();
        return nz <= r ? zb : (r / nz * zb).eval();
      });
    };
    c.coverage = [radius](const Layout& L, const VectorXd& z, const Dense&, double) {
      EXPECT_GT(z.segment(0, L.n).norm(), radius(L, 0));
      EXPECT_LT(z.segment(L.n, L.n).norm(), radius(L, 1));
      EXPECT_GT(z.segment(2 * L.n, L.n).norm(), radius(L, 2));
    };
    run_all_sizes(c);
  }
}

/// a of instance b: random, away from zero.
VectorXd normal_vector(const Layout& L) {
  OwnedVec a = random_vec(L.global(), 31);
  VecShift(a, 1.5);
  return to_eigen(a);
}

void linear_constraint_case(bool equality) {
  Case c;
  c.name = equality ? "hyperplane" : "halfspace";
  // b_b from z: instance 0 violates (aᵀz > b), 1 satisfies, 2 violates
  auto rhs = [](const Layout& L, const VectorXd& z) {
    const VectorXd a = normal_vector(L);
    std::vector<PetscReal> b(L.batch);
    for (PetscInt s = 0; s < L.batch; ++s)
      b[s] = a.segment(s * L.n, L.n).dot(z.segment(s * L.n, L.n)) + (s == 1 ? 0.7 : -0.9);
    return b;
  };
  c.make = [equality, rhs](const Layout& L, const VectorXd& z) {
    OwnedVec a = from_eigen(normal_vector(L));
    if (equality) return std::unique_ptr<Prox>(new foldopt::HyperplaneProx(L, a, rhs(L, z)));
    return std::unique_ptr<Prox>(new foldopt::HalfspaceProx(L, a, rhs(L, z)));
  };
  c.reference = [equality, rhs](const Layout& L, const VectorXd& z, const Dense&, double) {
    const VectorXd a = normal_vector(L);
    const std::vector<PetscReal> b = rhs(L, z);
    return per_instance(z, L.n, [&](PetscInt s, const VectorXd& zb) {
      const VectorXd ab = a.segment(s * L.n, L.n);
      double mu = (ab.dot(zb) - b[s]) / ab.squaredNorm();
      if (!equality) mu = std::max(mu, 0.0);
      return (zb - mu * ab).eval();
    });
  };
  run_all_sizes(c);
  // from the registry: a = all ones, b = -rhs
  ScopedOptions o(Options{{"-t_prox_rhs", "0.3"}});
  c.make = [equality](const Layout& L, const VectorXd&) {
    foldopt::PartContext ctx;
    ctx.comm = PETSC_COMM_WORLD;
    ctx.layout = L;
    ctx.prefix = "t_prox_";
    return foldopt::prox_registry().create("prox", equality ? "hyperplane" : "halfspace", ctx);
  };
  c.reference = [equality](const Layout& L, const VectorXd& z, const Dense&, double) {
    return per_instance(z, L.n, [&](PetscInt, const VectorXd& zb) {
      double mu = (zb.sum() - 0.3) / static_cast<double>(L.n);
      if (!equality) mu = std::max(mu, 0.0);
      return (zb.array() - mu).matrix().eval();
    });
  };
  c.instance_scale = [](PetscInt b) { return b == 1 ? -1.0 : 1.0; };  // sums of both signs
  run_all_sizes(c);
}

TEST(Prox, Halfspace) { linear_constraint_case(false); }
TEST(Prox, Hyperplane) { linear_constraint_case(true); }

TEST(Prox, L1) {
  for (bool block : {true, false}) {
    Case c;
    c.name = "l1";
    c.alpha = 0.7;
    if (block) {
      c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::L1Prox(L, std::string("lambda"))); };
      c.theta = [](const Layout&, ParamSet& t) {
        OwnedVec l = make_vec(1);
        VecSet(l, 0.45);
        t.add("lambda", l);
      };
      c.blocks = {"lambda"};
    } else {
      c.make = [](const Layout& L, const VectorXd&) { return std::unique_ptr<Prox>(new foldopt::L1Prox(L, 0.45)); };
    }
    c.reference = [](const Layout&, const VectorXd& z, const Dense&, double alpha) {
      const double t = alpha * 0.45;
      return (z.array().sign() * (z.array().abs() - t).max(0.0)).matrix().eval();
    };
    c.free = [](const Layout&, const VectorXd& z, const Dense&, double alpha) {
      return static_cast<PetscInt>((z.array().abs() > alpha * 0.45).count());
    };
    run_all_sizes(c);
  }
}

TEST(Prox, GroupL1) {
  for (bool block : {true, false}) {
    Case c;
    c.name = "group_l1";
    c.alpha = 0.8;
    c.sizes = {{6, 1}, {6, 3}, {40, 1}, {40, 3}};
    auto gsize = [](const Layout& L) { return L.n == 6 ? PetscInt(3) : PetscInt(8); };
    const double lambda = 0.75;
    if (block) {
      c.make = [gsize](const Layout& L, const VectorXd&) {
        return std::unique_ptr<Prox>(new foldopt::GroupL1Prox(L, gsize(L), std::string("lambda")));
      };
      c.theta = [lambda](const Layout&, ParamSet& t) {
        OwnedVec l = make_vec(1);
        VecSet(l, lambda);
        t.add("lambda", l);
      };
      c.blocks = {"lambda"};
    } else {
      c.make = [gsize, lambda](const Layout& L, const VectorXd&) {
        return std::unique_ptr<Prox>(new foldopt::GroupL1Prox(L, gsize(L), lambda));
      };
    }
    c.reference = [gsize, lambda](const Layout& L, const VectorXd& z, const Dense&, double alpha) {
      const PetscInt g = gsize(L);
      const double t = alpha * lambda;
      return per_instance(z, g, [t](PetscInt, const VectorXd& zg) {
        const double nz = zg.norm();
        VectorXd out = VectorXd::Zero(zg.size());
        if (nz > t) out = (1 - t / nz) * zg;
        return out;
      });
    };
    c.coverage = [gsize, lambda](const Layout& L, const VectorXd& z, const Dense&, double alpha) {
      const PetscInt g = gsize(L);
      int on = 0, off = 0;
      for (PetscInt s = 0; s * g < z.size(); ++s) (z.segment(s * g, g).norm() > alpha * lambda ? on : off)++;
      if (g == 3) EXPECT_GT(off, 0) << "no inactive group";
      EXPECT_GT(on, 0);
    };
    run_all_sizes(c);
  }
  // -group_size and -lambda from the registry
  ScopedOptions o(Options{{"-t_prox_group_size", "4"}, {"-t_prox_lambda", "0.5"}});
  foldopt::PartContext ctx;
  ctx.comm = PETSC_COMM_WORLD;
  ctx.layout = make_layout(8, 2);
  ctx.prefix = "t_prox_";
  std::unique_ptr<Prox> p = foldopt::prox_registry().create("prox", "group_l1", ctx);
  OwnedVec z = random_vec(16, 9), y = make_vec(16);
  ParamSet none;
  p->apply(z, 1.0, none, y);
  const VectorXd zd = to_eigen(z), yd = to_eigen(y);
  for (int s = 0; s < 4; ++s) {
    const VectorXd zg = zd.segment(4 * s, 4);
    const VectorXd ref = zg.norm() > 0.5 ? ((1 - 0.5 / zg.norm()) * zg).eval() : VectorXd::Zero(4).eval();
    EXPECT_LE((yd.segment(4 * s, 4) - ref).norm(), 1e-14);
  }
}

TEST(Prox, RegistryNames) {
  const std::vector<std::string> expected = {"ball", "box", "capped_simplex", "capped_simplex_product", "group_l1", "halfspace", "hyperplane",
                                             "identity", "l1", "linear", "nonnegative", "simplex"};
  EXPECT_EQ(foldopt::prox_registry().names(), expected);
  foldopt::PartContext ctx;
  ctx.comm = PETSC_COMM_WORLD;
  ctx.layout = make_layout(6, 2);
  ctx.prefix = "t_none_";
  for (const auto& name : expected) {
    if (name == "linear") continue;  // needs a QP problem or -<prefix>Amat: test_fpgdb.cpp
    std::unique_ptr<Prox> p = foldopt::prox_registry().create("prox", name, ctx);
    EXPECT_EQ(p->type(), name);
    EXPECT_FALSE(p->describe().empty());
  }
  expect_error([&] { foldopt::prox_registry().create("prox", "nope", ctx); }, "unknown prox 'nope'");
}

/// The diagonal part d and J (by columns) of `p` at z (dense values, one instance).
std::pair<VectorXd, MatrixXd> jacobian_at(Prox& p, const VectorXd& zd, double alpha, const ParamSet& theta) {
  OwnedVec z = from_eigen(zd), d = make_vec(static_cast<PetscInt>(zd.size()));
  p.linearize(z, alpha, theta);
  OwnedMat U;
  OwnedVec c;
  p.jacobian_structure(d, &U, &c);
  return {to_eigen(d), assemble([&](Vec v, Vec y) { p.jacobian_mult(v, y); }, static_cast<PetscInt>(zd.size()))};
}

TEST(Prox, KinksTakeTheDocumentedElement) {
  ParamSet none;
  {  // box: an entry exactly at a bound counts as at the bound
    const Layout L = make_layout(4, 1);
    auto p = foldopt::BoxProx::from_numbers(L, -0.5, 0.5);
    VectorXd z(4);
    z << -0.5, 0.5, 0.1, 0.7;
    const auto r = jacobian_at(*p, z, 1.0, none);
    EXPECT_EQ(r.first, (VectorXd(4) << 0, 0, 1, 0).finished());
    EXPECT_EQ(p->free_count(), 1);
  }
  {  // soft-thresholding: |z| = αλ is outside the support
    const Layout L = make_layout(4, 1);
    foldopt::L1Prox p(L, 0.25);
    VectorXd z(4);
    z << 0.5, -0.5, 0.6, 0.1;
    const auto r = jacobian_at(p, z, 2.0, none);
    EXPECT_EQ(r.first, (VectorXd(4) << 0, 0, 1, 0).finished());
  }
  {  // ball: the boundary counts as inside (J = I)
    const Layout L = make_layout(2, 1);
    foldopt::BallProx p(L, 5.0);
    VectorXd z(2);
    z << 3, 4;
    const auto r = jacobian_at(p, z, 1.0, none);
    EXPECT_LE((r.second - MatrixXd::Identity(2, 2)).norm(), 0.0);
  }
  {  // half-space: the boundary counts as inactive (J = I)
    const Layout L = make_layout(3, 1);
    foldopt::HalfspaceProx p(L, nullptr, {6.0});
    VectorXd z(3);
    z << 1, 2, 3;
    const auto r = jacobian_at(p, z, 1.0, none);
    EXPECT_LE((r.second - MatrixXd::Identity(3, 3)).norm(), 0.0);
  }
  {  // simplex: an entry exactly at the threshold is outside the support
    const Layout L = make_layout(4, 1);
    foldopt::SimplexProx p(L);
    VectorXd z(4);
    z << 0.75, 0.25, 0.0, -1.0;
    const auto r = jacobian_at(p, z, 1.0, none);
    EXPECT_EQ(p.thresholds().at(0), 0.0);
    MatrixXd ref = MatrixXd::Zero(4, 4);
    ref.topLeftCorner(2, 2) << 0.5, -0.5, -0.5, 0.5;
    EXPECT_LE((r.second - ref).norm(), 1e-15);
  }
  {  // group: ‖z_G‖ = αλ is inactive (J_G = 0)
    const Layout L = make_layout(4, 1);
    foldopt::GroupL1Prox p(L, 2, 2.5);
    VectorXd z(4);
    z << 3, 4, 6, 8;
    const auto r = jacobian_at(p, z, 2.0, none);
    EXPECT_EQ(r.second.topLeftCorner(2, 2).norm(), 0.0);
    EXPECT_GT(r.second.bottomRightCorner(2, 2).norm(), 0.5);
  }
}

// ---------------------------------------------------------------------------------------------
// batch.hpp

TEST(Batch, Reductions) {
  for (PetscInt m : {1, 3, 7, 40}) {
    SCOPED_TRACE("m=" + std::to_string(m));
    const PetscInt S = 5, N = S * m;
    OwnedVec x = random_vec(N, 41), yv = random_vec(N, 42);
    // a few exact zeros for counts
    {
      PetscInt rs, re;
      VecGetOwnershipRange(x, &rs, &re);
      for (PetscInt i = rs; i < re; ++i)
        if (i % 4 == 1) VecSetValue(x, i, 0.0, INSERT_VALUES);
      VecAssemblyBegin(x);
      VecAssemblyEnd(x);
    }
    const VectorXd xd = to_eigen(x), yd = to_eigen(yv);
    const auto s = foldopt::batch::sums(x, m);
    const auto d = foldopt::batch::dots(x, yv, m);
    const auto nr = foldopt::batch::norms(x, m);
    const auto mx = foldopt::batch::max_abs(x, m);
    const auto ct = foldopt::batch::counts(x, m);
    ASSERT_EQ(static_cast<PetscInt>(s.size()), S);
    for (PetscInt k = 0; k < S; ++k) {
      const VectorXd xs = xd.segment(k * m, m), ys = yd.segment(k * m, m);
      EXPECT_NEAR(s[k], xs.sum(), 1e-14);
      EXPECT_NEAR(d[k], xs.dot(ys), 1e-14);
      EXPECT_NEAR(nr[k], xs.norm(), 1e-14);
      EXPECT_EQ(mx[k], xs.cwiseAbs().maxCoeff());
      EXPECT_EQ(ct[k], static_cast<PetscInt>((xs.array() != 0).count()));
    }
    std::vector<PetscReal> a(S);
    for (PetscInt k = 0; k < S; ++k) a[k] = 0.5 + k;
    OwnedVec b = make_vec(N), ax = make_vec(N), sc = make_vec(N);
    VecCopy(yv, ax);
    foldopt::batch::broadcast(a, m, b);
    foldopt::batch::axpy(a, x, m, ax);
    foldopt::batch::scale(a, x, m, sc);
    const VectorXd bd = to_eigen(b), axd = to_eigen(ax), scd = to_eigen(sc);
    for (PetscInt i = 0; i < N; ++i) {
      EXPECT_EQ(bd[i], a[i / m]);
      EXPECT_NEAR(axd[i], yd[i] + a[i / m] * xd[i], 1e-15);
      EXPECT_NEAR(scd[i], a[i / m] * xd[i], 1e-15);
    }
  }
  OwnedVec x = random_vec(10, 1);
  expect_error([&] { foldopt::batch::sums(x, 3); }, "not a multiple of the segment length 3");
  expect_error([&] { foldopt::batch::sums(x, 0); }, "must be positive");
  expect_error([&] { foldopt::batch::broadcast({1.0, 2.0}, 2, x); }, "2 values given for 5 segments");
}

TEST(Batch, ThresholdsAgainstBruteForce) {
  struct T {
    PetscInt m, S;
    double lo, hi;
    bool ties;
  };
  const std::vector<T> cases = {{7, 3, 0.0, kInf, false}, {40, 3, 0.0, 1.0, false}, {5, 13, -0.5, 0.25, true},
                                {1, 6, 0.0, 1.0, false},  {40, 2, 0.0, kInf, true}, {9, 11, -1.0, 2.0, true},
                                {1, 1, 0.0, kInf, false}, {3, 1, 0.0, 1.0, true}};
  for (const T& t : cases) {
    SCOPED_TRACE("m=" + std::to_string(t.m) + " S=" + std::to_string(t.S) + " lo=" + std::to_string(t.lo) +
                 " hi=" + std::to_string(t.hi));
    const PetscInt N = t.m * t.S;
    OwnedVec z = random_vec(N, 51 + t.m);
    if (t.ties) {  // values on a grid of 0.25: many equal breakpoints, and breakpoints that coincide
      PetscInt rs, re;
      VecGetOwnershipRange(z, &rs, &re);
      PetscScalar* a;
      VecGetArray(z, &a);
      for (PetscInt i = rs; i < re; ++i) a[i - rs] = std::round(4 * PetscRealPart(a[i - rs])) / 4;
      VecRestoreArray(z, &a);
    }
    const VectorXd zd = to_eigen(z);
    // targets: interior, and the extremes where they are finite
    std::vector<PetscReal> k(t.S);
    const double mlo = t.m * t.lo, mhi = std::isfinite(t.hi) ? t.m * t.hi : mlo + 3 * t.m;
    for (PetscInt s = 0; s < t.S; ++s) {
      const double u = (s == 0) ? 0.0 : (s == 1 && std::isfinite(t.hi)) ? 1.0 : 0.1 + 0.8 * ((s * 37) % 11) / 10.0;
      k[s] = mlo + u * (mhi - mlo);
    }
    const std::vector<PetscReal> tau = foldopt::batch::thresholds(z, t.m, t.lo, t.hi, k);
    ASSERT_EQ(static_cast<PetscInt>(tau.size()), t.S);
    for (PetscInt s = 0; s < t.S; ++s) {
      std::vector<double> v(zd.data() + s * t.m, zd.data() + (s + 1) * t.m);
      double sum = 0;
      for (double x : v) sum += std::min(std::max(x - tau[s], t.lo), t.hi);
      EXPECT_NEAR(sum, k[s], 1e-12 * std::max(1.0, std::abs(k[s]))) << "segment " << s << " tau " << tau[s];
      const bool extreme = (k[s] == mlo) || (std::isfinite(t.hi) && k[s] == t.m * t.hi);
      if (!extreme) {  // τ unique: F strictly decreasing where lo < F < m·hi
        const double ref = brute_threshold(v, t.lo, t.hi, k[s]);
        EXPECT_NEAR(tau[s], ref, 1e-12 * std::max(1.0, std::abs(ref))) << "segment " << s;
      }
    }
  }
  OwnedVec z = random_vec(21, 5);
  expect_error([&] { foldopt::batch::thresholds(z, 7, 0.0, 1.0, {1.0, 8.0, 1.0}); }, "segment 1: target sum 8");
  expect_error([&] { foldopt::batch::thresholds(z, 7, 0.0, kInf, {1.0, -1.0, 1.0}); }, "not attainable");
  expect_error([&] { foldopt::batch::thresholds(z, 7, 1.0, 1.0, {7.0, 7.0, 7.0}); }, "finite lower bound below");
  expect_error([&] { foldopt::batch::thresholds(z, 7, 0.0, 1.0, {1.0}); }, "1 values given for 3 segments");
  VecSetValue(z, 20, std::numeric_limits<double>::quiet_NaN(), INSERT_VALUES);  // on the last rank only
  VecAssemblyBegin(z);
  VecAssemblyEnd(z);
  expect_error([&] { foldopt::batch::thresholds(z, 7, 0.0, 1.0, {1.0, 1.0, 1.0}); }, "NaN or infinite entry");
}

TEST(Batch, ThresholdsStress) {
  // 60 drawn configurations (segment length, count, bounds, grid for ties, targets), the same at
  // every rank count: the sum is met and τ agrees with the brute-force scan.
  for (unsigned long trial = 0; trial < 60; ++trial) {
    auto u = [&](int j) { return foldopt::uniform01(trial, 900, static_cast<std::uint64_t>(j)); };
    const PetscInt m = 1 + static_cast<PetscInt>(30 * u(0)), S = 1 + static_cast<PetscInt>(9 * u(1));
    const double lo = -1 + 2 * u(2), hi = u(3) < 0.3 ? kInf : lo + 0.05 + 2 * u(4);
    const double grid = u(5) < 0.5 ? 0.0 : 0.125;
    SCOPED_TRACE("trial " + std::to_string(trial));
    OwnedVec z = random_vec(m * S, 1000 + trial, 2.0);
    if (grid > 0) {
      PetscInt rs, re;
      VecGetOwnershipRange(z, &rs, &re);
      PetscScalar* a;
      VecGetArray(z, &a);
      for (PetscInt i = rs; i < re; ++i) a[i - rs] = grid * std::round(PetscRealPart(a[i - rs]) / grid);
      VecRestoreArray(z, &a);
    }
    const VectorXd zd = to_eigen(z);
    std::vector<PetscReal> k(S);
    const double top = std::isfinite(hi) ? m * hi : m * lo + 4.0 * m;
    for (PetscInt s = 0; s < S; ++s) k[s] = m * lo + u(10 + static_cast<int>(s)) * (top - m * lo);
    const std::vector<PetscReal> tau = foldopt::batch::thresholds(z, m, lo, hi, k);
    for (PetscInt s = 0; s < S; ++s) {
      std::vector<double> v(zd.data() + s * m, zd.data() + (s + 1) * m);
      double sum = 0;
      for (double x : v) sum += std::min(std::max(x - tau[s], lo), hi);
      EXPECT_NEAR(sum, k[s], 1e-12 * std::max(1.0, std::abs(k[s])));
      const double ref = brute_threshold(v, lo, hi, k[s]);
      EXPECT_NEAR(tau[s], ref, 1e-11 * std::max(1.0, std::abs(ref)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// bad input

TEST(Prox, Errors) {
  const Layout L = make_layout(7, 3);
  expect_error([&] { foldopt::CappedSimplexProx p(L, 8.0); }, "k = 8 is not attainable by n = 7");
  expect_error([&] { foldopt::CappedSimplexProx p(L, -1.0); }, "capped_simplex prox");
  expect_error([&] { foldopt::GroupL1Prox p(L, 3, 0.5); }, "group size 3 must be positive and divide the instance size n = 7");
  expect_error([&] { foldopt::BallProx p(L, 0.0); }, "radius 0 must be positive");
  expect_error([&] { foldopt::BallProx p(L, std::vector<PetscReal>{1.0, 2.0}); }, "2 radii for 3 instances");
  expect_error([&] { foldopt::L1Prox p(L, -0.1); }, "lambda -0.1 must be >= 0");
  expect_error([&] { foldopt::BoxProx::from_numbers(L, 1.0, 0.0); }, "lb <= ub");
  {
    OwnedVec a = make_vec(21);  // zero normal vector
    expect_error([&] { foldopt::HalfspaceProx p(L, a, {0.0}); }, "normal vector a of instance 0 is zero");
    expect_error([&] { foldopt::HyperplaneProx p(L, nullptr, {0.0, 1.0}); }, "2 right-hand sides for 3 instances");
  }
  {
    ScopedOptions o(Options{{"-t_bad_k", "9"}});
    foldopt::PartContext ctx;
    ctx.comm = PETSC_COMM_WORLD;
    ctx.layout = L;
    ctx.prefix = "t_bad_";
    expect_error([&] { foldopt::prox_registry().create("prox", "capped_simplex", ctx); }, "k = 9 is not attainable");
  }
  {
    ScopedOptions o(Options{{"-t_bad_radius", "-1"}});
    foldopt::PartContext ctx;
    ctx.comm = PETSC_COMM_WORLD;
    ctx.layout = L;
    ctx.prefix = "t_bad_";
    expect_error([&] { foldopt::prox_registry().create("prox", "ball", ctx); }, "t_bad_radius");
  }
  // lb > ub at one entry (owned by the last rank): every rank raises the same error
  {
    std::unique_ptr<foldopt::BoxProx> p = foldopt::BoxProx::from_blocks(L);
    ParamSet t;
    OwnedVec lb = make_vec(21), ub = make_vec(21), z = random_vec(21, 1), y = make_vec(21);
    VecSet(lb, -1.0);
    VecSet(ub, 1.0);
    VecSetValue(lb, 20, 2.0, INSERT_VALUES);
    VecAssemblyBegin(lb);
    VecAssemblyEnd(lb);
    t.add("lb", lb);
    t.add("ub", ub);
    expect_error([&] { p->apply(z, 1.0, t, y); }, "lb > ub at entry 20");
    ParamSet missing;
    missing.add("lb", lb);
    expect_error([&] { p->apply(z, 1.0, missing, y); }, "no parameter block 'ub'");
  }
  // wrong sizes
  {
    foldopt::SimplexProx p(L);
    OwnedVec z = random_vec(20, 1), y = make_vec(20);
    ParamSet none;
    expect_error([&] { p.apply(z, 1.0, none, y); }, "z has 20 entries, the batch has 21");
    foldopt::L1Prox q(L, std::string("lambda"));
    OwnedVec l = make_vec(2);
    ParamSet t;
    t.add("lambda", l, foldopt::BlockKind::shared);
    OwnedVec z21 = random_vec(21, 1), y21 = make_vec(21);
    expect_error([&] { q.apply(z21, 1.0, t, y21); }, "parameter block 'lambda' must be a scalar");
  }
  // a prox without a factor refuses factor_mult only if it declares none: all built-ins have one
  {
    foldopt::PartContext ctx;
    ctx.comm = PETSC_COMM_WORLD;
    ctx.layout = L;
    for (const auto& name : foldopt::prox_registry().names()) {
      if (name == "linear") continue;  // needs a QP problem or -<prefix>Amat (a projection: test_fpgdb.cpp)
      auto p = foldopt::prox_registry().create("prox", name, ctx);
      EXPECT_TRUE(p->capabilities().factor || p->capabilities().projection) << name;
    }
  }
}

}  // namespace
