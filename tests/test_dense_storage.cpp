// Dense input matrices (io::read_mat's storage rule, -mat_storage, -mat_dense_threshold).
//
// The test makes its own data with a fixed-seed generator (the same on every rank): a random
// SPD H = AAᵀ/n + I (no zero entry) of a box-QP whose solution x* is planted strictly
// complementary (free entries in [−0.3, 0.3], active ones at ±0.6 with multipliers of size
// [0.2, 1)), and a lasso X (m × n, Gaussian) with y. Rank 0 writes H as a MatrixMarket array and
// as a coordinate file of all n² entries, and X as an array.
// Checked at np 1 and 2:
//   - the array and the coordinate file are stored dense (MATSEQDENSE / MATMPIDENSE) and the
//     storage line names the reason ("MatrixMarket array", "density 100% > 25%", the latter only
//     from -mat_dense_min_rows rows on); -mat_storage aij|dense forces either; a tridiagonal
//     coordinate file stays AIJ ("<= 25%") and becomes dense with -mat_dense_threshold 0.01; a
//     PETSc binary file written from it likewise;
//   - the box-QP from each file and storage: x* equals the planted one, and the gradients of
//     L = ⟨g, x*⟩ (q, lb, ub from the KKT conditions: ∂L/∂q_F = H_FF⁻¹ g_F, the bounds'
//     (g − H_AF H_FF⁻¹ g_F)_A, all by Eigen on the test's own H; H.values = −(∂L/∂q)_i x*_j on
//     every entry) to 1e-8, for gmres without a PC, gmres + jacobi, gmres + lu (dense LU at one
//     rank, an AIJ copy for MUMPS at two: the report says so) and -fold_backward jacobian;
//     the dense and the AIJ run agree to 1e-10;
//   - the lasso from the array file: ∂L/∂y = X_S (X_SᵀX_S)⁻¹ g_S on the support S of β* (Eigen),
//     dense and AIJ alike;
//   - a malformed array (too few values, too many, a word that is not a number) is refused naming
//     the file and the line.
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/layer.hpp>
#include <foldopt/problems/lasso.hpp>
#include <foldopt/problems/qp_box.hpp>

#include <Eigen/Dense>
#include <gtest/gtest.h>
#include <petscmat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using foldopt::BoxQP;
using foldopt::FoldedLayer;
using foldopt::Lasso;
using foldopt::OwnedVec;
using foldopt::ParamSet;
using foldopt_test::ScopedOptions;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr int kN = 48;                 // box-QP unknowns
constexpr int kM = 40, kP = 14;        // lasso rows, unknowns
constexpr double kBound = 0.6;

// ---- data, the same on every rank ----

struct BoxData {
  MatrixXd H;
  VectorXd q, lb, ub, x, g;
  std::vector<int> role;  // 0 free, 1 at lb, 2 at ub
};

BoxData box_data() {
  std::mt19937_64 rng(2026);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uni(0, 1);
  BoxData d;
  MatrixXd A(kN, kN);
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kN; ++j) A(i, j) = normal(rng);
  d.H = A * A.transpose() / kN + MatrixXd::Identity(kN, kN);
  d.lb = VectorXd::Constant(kN, -kBound);
  d.ub = VectorXd::Constant(kN, kBound);
  d.x.resize(kN);
  d.g.resize(kN);
  VectorXd mu = VectorXd::Zero(kN);
  d.role.assign(kN, 0);
  for (int i = 0; i < kN; ++i) {
    const double c = uni(rng);
    const int r = c < 0.6 ? 0 : (c < 0.8 ? 1 : 2);
    d.role[i] = r;
    d.x[i] = r == 0 ? 0.6 * uni(rng) - 0.3 : (r == 1 ? -kBound : kBound);
    if (r == 1) mu[i] = 0.2 + 0.8 * uni(rng);
    if (r == 2) mu[i] = -(0.2 + 0.8 * uni(rng));
    d.g[i] = normal(rng);
  }
  d.q = d.H * d.x - mu;  // KKT: H x* − q = μ
  return d;
}

struct BoxReference {
  VectorXd q, lb, ub;
};

// ∂L/∂θ of L = ⟨g, x*⟩ from the KKT conditions on the free set F.
BoxReference box_reference(const BoxData& d) {
  std::vector<int> F;
  for (int i = 0; i < kN; ++i)
    if (d.role[i] == 0) F.push_back(i);
  const int nf = static_cast<int>(F.size());
  MatrixXd Hff(nf, nf);
  VectorXd gf(nf);
  for (int a = 0; a < nf; ++a) {
    gf[a] = d.g[F[a]];
    for (int b = 0; b < nf; ++b) Hff(a, b) = d.H(F[a], F[b]);
  }
  const VectorXd y = Hff.llt().solve(gf);
  BoxReference r{VectorXd::Zero(kN), VectorXd::Zero(kN), VectorXd::Zero(kN)};
  for (int a = 0; a < nf; ++a) r.q[F[a]] = y[a];
  for (int i = 0; i < kN; ++i) {
    if (d.role[i] == 0) continue;
    double t = d.g[i];
    for (int a = 0; a < nf; ++a) t -= d.H(i, F[a]) * y[a];
    (d.role[i] == 1 ? r.lb : r.ub)[i] = t;
  }
  return r;
}

// ---- files (rank 0 writes, every rank waits) ----

std::string g_dir;

void write_text(const std::string& path, const std::function<void(std::ofstream&)>& body) {
  if (foldopt_test::rank() == 0) {
    std::ofstream f(path);
    f.precision(17);
    body(f);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

void write_array(const std::string& path, const MatrixXd& A) {
  write_text(path, [&](std::ofstream& f) {
    f << "%%MatrixMarket matrix array real general\n" << A.rows() << " " << A.cols() << "\n";
    for (Eigen::Index j = 0; j < A.cols(); ++j)
      for (Eigen::Index i = 0; i < A.rows(); ++i) f << A(i, j) << "\n";
  });
}

void write_coordinate(const std::string& path, const MatrixXd& A) {
  long long nz = 0;
  for (Eigen::Index i = 0; i < A.rows(); ++i)
    for (Eigen::Index j = 0; j < A.cols(); ++j) nz += A(i, j) != 0;
  write_text(path, [&](std::ofstream& f) {
    f << "%%MatrixMarket matrix coordinate real general\n" << A.rows() << " " << A.cols() << " " << nz << "\n";
    for (Eigen::Index i = 0; i < A.rows(); ++i)
      for (Eigen::Index j = 0; j < A.cols(); ++j)
        if (A(i, j) != 0) f << i + 1 << " " << j + 1 << " " << A(i, j) << "\n";
  });
}

void write_vector(const std::string& path, const VectorXd& v) { write_array(path, MatrixXd(v)); }

std::string path(const std::string& name) { return g_dir + "/" + name; }

class DenseStorage : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_dir = foldopt_test::temp_dir("dense_storage");
    const BoxData d = box_data();
    write_array(path("H_array.mtx"), d.H);
    write_coordinate(path("H_coord.mtx"), d.H);
    write_vector(path("q.mtx"), d.q);
    write_vector(path("lb.mtx"), d.lb);
    write_vector(path("ub.mtx"), d.ub);
  }
};

std::string type_of(Mat A) {
  MatType t = nullptr;
  MatGetType(A, &t);
  return t ? t : "";
}

bool is_dense(Mat A) { return foldopt::io::storage_name(A) == "dense"; }

VectorXd all_of(Vec v) {
  const std::vector<PetscScalar> a = foldopt_test::gather(v);
  VectorXd out(static_cast<Eigen::Index>(a.size()));
  for (std::size_t k = 0; k < a.size(); ++k) out[static_cast<Eigen::Index>(k)] = PetscRealPart(a[k]);
  return out;
}

OwnedVec from_all(const VectorXd& a) {
  OwnedVec v;
  VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, a.size(), v.out());
  PetscInt rs, re;
  VecGetOwnershipRange(v, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) VecSetValue(v, i, a[i], INSERT_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
  return v;
}

double rel(const VectorXd& a, const VectorXd& ref) {
  const double r = ref.norm();
  return r > 0 ? (a - ref).norm() / r : (a - ref).norm();
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& pieces) {
  try {
    f();
    ADD_FAILURE() << "no error (expected " << pieces.front() << ")";
  } catch (const foldopt::Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// ---- tests ----

TEST_F(DenseStorage, StorageChosenAndNamed) {
  struct Case {
    std::string file, storage, min_rows, want_type, want_reason;
  };
  const Case cases[] = {
      {"H_array.mtx", "auto", "100", "dense", "dense 48x48 (MatrixMarket array)"},
      {"H_coord.mtx", "auto", "100", "aij", "aij 48x48 (density 100%, fewer than 100 rows or columns)"},
      {"H_coord.mtx", "auto", "48", "dense", "dense 48x48 (density 100% > 25%)"},
      {"H_array.mtx", "aij", "100", "aij", "aij 48x48 (-mat_storage aij)"},
      {"H_coord.mtx", "aij", "0", "aij", "aij 48x48 (-mat_storage aij)"},
      {"H_coord.mtx", "dense", "100", "dense", "dense 48x48 (-mat_storage dense)"},
  };
  for (const Case& c : cases) {
    ScopedOptions so(Options{{"-mat_storage", c.storage}, {"-mat_dense_min_rows", c.min_rows}});
    std::unique_ptr<BoxQP> p = BoxQP::load(PETSC_COMM_WORLD, path(c.file), path("q.mtx"), path("lb.mtx"), path("ub.mtx"));
    EXPECT_EQ(foldopt::io::storage_name(p->H()), c.want_type) << c.file << " " << type_of(p->H());
    EXPECT_EQ(p->storage(), c.want_reason) << c.file;
  }
  // A sparse coordinate file (tridiagonal: 3n − 2 of n² entries, 6.16%) stays AIJ unless the
  // threshold is lower; a PETSc binary AIJ file follows the same rule.
  MatrixXd T = MatrixXd::Zero(kN, kN);
  for (int i = 0; i < kN; ++i) {
    T(i, i) = 4;
    if (i > 0) T(i, i - 1) = T(i - 1, i) = -1;
  }
  write_coordinate(path("T.mtx"), T);
  foldopt::io::StorageRule rule;
  rule.dense_min_rows = 0;
  foldopt::io::StorageChoice choice;
  foldopt::OwnedMat A = foldopt::io::read_mat(PETSC_COMM_WORLD, path("T.mtx"), rule, PETSC_DECIDE, &choice);
  EXPECT_FALSE(is_dense(A));
  EXPECT_EQ(choice.describe(), "aij 48x48 (density 6.16% <= 25%)");
  EXPECT_NEAR(choice.density, (3.0 * kN - 2) / (kN * kN), 1e-15);
  rule.dense_threshold = 0.01;
  foldopt::OwnedMat D = foldopt::io::read_mat(PETSC_COMM_WORLD, path("T.mtx"), rule, PETSC_DECIDE, &choice);
  EXPECT_TRUE(is_dense(D)) << type_of(D);
  EXPECT_EQ(choice.describe(), "dense 48x48 (density 6.16% > 1%)");
  foldopt::io::write_mat(path("T.bin"), A);
  foldopt::OwnedMat Db = foldopt::io::read_mat(PETSC_COMM_WORLD, path("T.bin"), rule, PETSC_DECIDE, &choice);
  EXPECT_TRUE(is_dense(Db)) << type_of(Db);
  rule.dense_threshold = 0.25;
  foldopt::OwnedMat Ab = foldopt::io::read_mat(PETSC_COMM_WORLD, path("T.bin"), rule, PETSC_DECIDE, &choice);
  EXPECT_FALSE(is_dense(Ab)) << type_of(Ab);
  // Same entries whatever the storage: (dense − aij) applied to a vector is zero, and the values
  // are T's own (T·1 = 2 at both ends, 2 inside).
  OwnedVec ones, y1, y2;
  MatCreateVecs(A, ones.out(), y1.out());
  VecDuplicate(y1, y2.out());
  VecSet(ones, 1.0);
  MatMult(A, ones, y1);
  MatMult(Db, ones, y2);
  const VectorXd e1 = all_of(y1), e2 = all_of(y2), ref = T * VectorXd::Ones(kN);
  EXPECT_LE((e1 - ref).norm(), 1e-14);
  EXPECT_LE((e2 - ref).norm(), 1e-14);
}

TEST_F(DenseStorage, BoxQPGradientsEqualTheDenseReference) {
  const BoxData d = box_data();
  const BoxReference ref = box_reference(d);
  const OwnedVec g = from_all(d.g);
  struct Method {
    const char* name;
    Options opts;
    const char* note;  // a piece of the report's note (nullptr: not checked)
  };
  const bool parallel = foldopt_test::comm_size() > 1;
  const Method methods[] = {
      {"gmres", {}, nullptr},
      {"gmres+jacobi", {{"-fold_pc_type", "jacobi"}}, nullptr},
      {"gmres+lu", {{"-fold_pc_type", "lu"}}, nullptr},
      {"jacobian", {{"-fold_backward", "jacobian"}}, nullptr},
  };
  for (const Method& m : methods) {
    std::vector<VectorXd> by_storage;
    for (const char* file : {"H_array.mtx", "H_coord.mtx"})
      for (const char* storage : {"auto", "aij"}) {
        const std::string what = std::string(m.name) + " " + file + " " + storage;
        Options opts = m.opts;
        opts.emplace_back("-mat_storage", storage);
        opts.emplace_back("-fold_fwd_type", "fista");
        opts.emplace_back("-mat_dense_min_rows", "0");  // the coordinate file dense by density too
        ScopedOptions so(opts);
        std::unique_ptr<BoxQP> p =
            BoxQP::load(PETSC_COMM_WORLD, path(file), path("q.mtx"), path("lb.mtx"), path("ub.mtx"));
        EXPECT_EQ(is_dense(p->H()), std::string(storage) == "auto") << what;
        FoldedLayer layer(*p);
        layer.set_from_options();
        const VectorXd x = all_of(layer.forward(p->params()));
        EXPECT_LE((x - d.x).lpNorm<Eigen::Infinity>(), 1e-9) << what;
        ParamSet grad;
        ASSERT_NO_THROW(grad = layer.backward(g)) << what;
        const foldopt::AdjointReport& rep = layer.adjoint().report();
        EXPECT_TRUE(rep.converged) << what << ": " << rep.method;
        if (std::string(storage) == "auto" && std::string(m.name) != "gmres" && std::string(m.name) != "gmres+jacobi") {
          // Dense LU at one rank; MUMPS (the parallel default) takes AIJ only.
          const bool converted = parallel;
          EXPECT_EQ(rep.note.find("converted to AIJ") != std::string::npos, converted) << what << ": " << rep.note;
          EXPECT_NE(rep.note.find("dense"), std::string::npos) << what << ": " << rep.note;
        }
        const VectorXd gq = all_of(grad.get("q")), glb = all_of(grad.get("lb")), gub = all_of(grad.get("ub"));
        EXPECT_LE(rel(gq, ref.q), 1e-8) << what;
        EXPECT_LE(rel(glb, ref.lb), 1e-8) << what;
        EXPECT_LE(rel(gub, ref.ub), 1e-8) << what;
        // H.values: every entry stored (no zero in H), row by row: −(∂L/∂q)_i x*_j.
        const VectorXd gh = all_of(grad.get("H.values"));
        ASSERT_EQ(gh.size(), kN * kN) << what;
        VectorXd href(kN * kN);
        for (int i = 0; i < kN; ++i)
          for (int j = 0; j < kN; ++j) href[i * kN + j] = -ref.q[i] * d.x[j];
        EXPECT_LE(rel(gh, href), 1e-8) << what;
        VectorXd all(3 * kN + kN * kN);
        all << gq, glb, gub, gh;
        by_storage.push_back(all);
      }
    for (std::size_t k = 1; k < by_storage.size(); ++k)
      EXPECT_LE(rel(by_storage[k], by_storage[0]), 1e-10) << m.name << ": storage/file " << k << " against the first";
  }
}

TEST_F(DenseStorage, LassoFromAnArray) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  MatrixXd X(kM, kP);
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kP; ++j) X(i, j) = normal(rng);
  VectorXd y(kM), gl(kP);
  for (int i = 0; i < kM; ++i) y[i] = normal(rng);
  for (int j = 0; j < kP; ++j) gl[j] = normal(rng);
  write_array(path("X.mtx"), X);
  write_vector(path("y.mtx"), y);
  const OwnedVec g = from_all(gl);
  std::vector<VectorXd> dy;
  for (const char* storage : {"auto", "aij"}) {
    ScopedOptions so(Options{{"-mat_storage", storage}});
    std::unique_ptr<Lasso> p = Lasso::load(PETSC_COMM_WORLD, path("X.mtx"), path("y.mtx"), 2.0);
    EXPECT_EQ(is_dense(p->X()), std::string(storage) == "auto") << storage;
    EXPECT_EQ(p->storage(), std::string(storage) == "auto" ? "dense 40x14 (MatrixMarket array)" : "aij 40x14 (-mat_storage aij)");
    FoldedLayer layer(*p);
    layer.set_from_options();
    const VectorXd beta = all_of(layer.forward(p->params()));
    ParamSet grad;
    ASSERT_NO_THROW(grad = layer.backward(g)) << storage;
    // Reference on the support S (|β_j| clearly nonzero): ∂L/∂y = X_S (X_SᵀX_S)⁻¹ g_S.
    std::vector<int> S;
    for (int j = 0; j < kP; ++j)
      if (std::abs(beta[j]) > 1e-8) S.push_back(j);
    ASSERT_FALSE(S.empty());
    ASSERT_LT(S.size(), static_cast<std::size_t>(kP)) << "lambda too small for a sparse solution";
    MatrixXd XS(kM, static_cast<Eigen::Index>(S.size()));
    VectorXd gS(static_cast<Eigen::Index>(S.size()));
    for (std::size_t k = 0; k < S.size(); ++k) {
      XS.col(static_cast<Eigen::Index>(k)) = X.col(S[k]);
      gS[static_cast<Eigen::Index>(k)] = gl[S[k]];
    }
    const VectorXd ref = XS * (XS.transpose() * XS).ldlt().solve(gS);
    const VectorXd got = all_of(grad.get("y"));
    EXPECT_LE(rel(got, ref), 1e-8) << storage;
    dy.push_back(got);
  }
  EXPECT_LE(rel(dy[1], dy[0]), 1e-10);
}

TEST_F(DenseStorage, MalformedArrayNamesFileAndLine) {
  const std::string few = path("few.mtx"), many = path("many.mtx"), word = path("word.mtx");
  write_text(few, [](std::ofstream& f) { f << "%%MatrixMarket matrix array real general\n2 2\n1.5\n2.5\n3.5\n"; });
  write_text(many, [](std::ofstream& f) { f << "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n5\n"; });
  write_text(word, [](std::ofstream& f) { f << "%%MatrixMarket matrix array real general\n2 2\n1\nabc\n3\n4\n"; });
  for (const char* storage : {"auto", "aij"}) {
    ScopedOptions so(Options{{"-mat_storage", storage}});
    expect_error([&] { foldopt::io::read_mat(PETSC_COMM_WORLD, few); },
                 {few + ": truncated: header promises 4 entries, file has 3 (it ends at line 5)"});
    expect_error([&] { foldopt::io::read_mat(PETSC_COMM_WORLD, many); },
                 {many + ": line 7: more entries than the 4 the header promises"});
    expect_error([&] { foldopt::io::read_mat(PETSC_COMM_WORLD, word); }, {word + ": line 4: bad value 'abc'"});
  }
}

TEST_F(DenseStorage, BadStorageOptionsAreRefused) {
  {
    ScopedOptions so(Options{{"-mat_storage", "sparse"}});
    expect_error([&] { foldopt::io::read_mat(PETSC_COMM_WORLD, path("H_array.mtx")); }, {"-mat_storage", "sparse"});
  }
  {
    ScopedOptions so(Options{{"-mat_dense_threshold", "1.5"}});
    expect_error([&] { foldopt::io::read_mat(PETSC_COMM_WORLD, path("H_array.mtx")); }, {"-mat_dense_threshold", "1.5"});
  }
}

}  // namespace
