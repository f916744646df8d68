// Tests of the matrix-values blocks (include/foldopt/matrix_values.hpp) at np = 1 and 2: a random
// sparse rectangular matrix whose pattern and values are functions of the global (row, column),
// so it is the same at any rank count and under any row split (PETSc's, and at np 2 an uneven one:
// 2 rows on rank 0). References are independent of the module: the CSR order is rebuilt from
// the generator, the matrix from a dense gather (tests/reference.hpp), and the gradient on the
// pattern from a dense Eigen product Σ_s u_s v_sᵀ masked by the pattern.
#include "reference.hpp"
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/matrix_values.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace mv = foldopt::matrix_values;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt_ref::MatrixXd;
using foldopt_ref::VectorXd;
using foldopt_test::comm_size;
using foldopt_test::rank;

std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// About 40% of the entries, none in row 3 (an empty row), column 0 in every other row.
bool in_pattern(PetscInt i, PetscInt j) {
  if (i == 3) return false;
  if (j == 0) return true;
  return mix(static_cast<std::uint64_t>(i) * 1000003ull + static_cast<std::uint64_t>(j)) % 100 < 40;
}
double entry(PetscInt i, PetscInt j) { return 1.0 + static_cast<double>(i) - 0.25 * static_cast<double>(j); }

// The m×n test matrix, `local_rows` rows here (PETSC_DECIDE: PETSc's split).
OwnedMat make_matrix(PetscInt m, PetscInt n, PetscInt local_rows = PETSC_DECIDE) {
  OwnedMat A;
  MatCreate(PETSC_COMM_WORLD, A.out());
  MatSetSizes(A, local_rows, PETSC_DECIDE, m, n);
  MatSetType(A, MATAIJ);
  MatSeqAIJSetPreallocation(A, n, nullptr);
  MatMPIAIJSetPreallocation(A, n, nullptr, n, nullptr);
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt j = n - 1; j >= 0; --j)  // inserted out of order: the CSR order is PETSc's
      if (in_pattern(i, j)) MatSetValue(A, i, j, entry(i, j), INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

// The stored positions in global CSR order, from the generator.
std::vector<std::pair<PetscInt, PetscInt>> csr_positions(PetscInt m, PetscInt n) {
  std::vector<std::pair<PetscInt, PetscInt>> out;
  for (PetscInt i = 0; i < m; ++i)
    for (PetscInt j = 0; j < n; ++j)
      if (in_pattern(i, j)) out.emplace_back(i, j);
  return out;
}

// An uneven split at np 2 (rank 0 gets 2 rows), PETSc's otherwise.
PetscInt uneven_rows(PetscInt m) {
  if (comm_size() != 2) return PETSC_DECIDE;
  return rank() == 0 ? 2 : m - 2;
}

// Local rows' nonzeros of A.
PetscInt local_nnz(Mat A) {
  PetscInt rs, re, k = 0;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    MatGetRow(A, i, &nc, nullptr, nullptr);
    k += nc;
    MatRestoreRow(A, i, &nc, nullptr, nullptr);
  }
  return k;
}

OwnedVec random_vec(PetscInt N, unsigned long seed, PetscInt local = PETSC_DECIDE) {
  OwnedVec v;
  VecCreate(PETSC_COMM_WORLD, v.out());
  VecSetSizes(v, local, N);
  VecSetType(v, VECSTANDARD);
  foldopt::fill_random(v, seed);
  return v;
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& pieces) {
  try {
    f();
    ADD_FAILURE() << "no error raised (expected: " << pieces.front() << ")";
  } catch (const foldopt::Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(e.collective()) << msg;
    for (const std::string& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

const PetscInt kRows = 13, kCols = 9;

class MatrixValuesTest : public ::testing::TestWithParam<bool> {  // true: uneven row split
 protected:
  PetscInt split() const { return GetParam() ? uneven_rows(kRows) : PETSC_DECIDE; }
};

TEST_P(MatrixValuesTest, ValuesInGlobalCsrOrderSplitByRows) {
  OwnedMat A = make_matrix(kRows, kCols, split());
  OwnedVec v = mv::values(A);
  const auto pos = csr_positions(kRows, kCols);
  ASSERT_GT(pos.size(), 20u);
  const MatrixXd D = foldopt_ref::gather_dense(A);  // the matrix as PETSc holds it
  const VectorXd got = foldopt_ref::to_eigen(v);
  ASSERT_EQ(got.size(), static_cast<Eigen::Index>(pos.size()));
  for (std::size_t k = 0; k < pos.size(); ++k) {
    EXPECT_EQ(got[k], D(pos[k].first, pos[k].second)) << "value " << k;
    EXPECT_EQ(got[k], entry(pos[k].first, pos[k].second)) << "value " << k;
  }
  // Split as the rows: this rank holds exactly its rows' values.
  PetscInt nl;
  VecGetLocalSize(v, &nl);
  EXPECT_EQ(nl, local_nnz(A));
}

TEST_P(MatrixValuesTest, RoundTripAndNewValues) {
  OwnedMat A = make_matrix(kRows, kCols, split());
  OwnedMat B = mv::with_values(A, mv::values(A));
  EXPECT_EQ(foldopt_ref::gather_dense(B), foldopt_ref::gather_dense(A));
  MatInfo ia, ib;
  MatGetInfo(A, MAT_GLOBAL_SUM, &ia);
  MatGetInfo(B, MAT_GLOBAL_SUM, &ib);
  EXPECT_EQ(ia.nz_used, ib.nz_used);

  // New values (PETSc's split of the values vector, not the rows'): placed in CSR order.
  const auto pos = csr_positions(kRows, kCols);
  OwnedVec w = random_vec(static_cast<PetscInt>(pos.size()), 7);
  OwnedMat C = mv::with_values(A, w);
  const VectorXd we = foldopt_ref::to_eigen(w);
  MatrixXd want = MatrixXd::Zero(kRows, kCols);
  for (std::size_t k = 0; k < pos.size(); ++k) want(pos[k].first, pos[k].second) = we[k];
  EXPECT_EQ(foldopt_ref::gather_dense(C), want);
  // The pattern kept: an explicit zero stays stored.
  VecSet(w, 0.0);
  mv::set_values(C, w);
  MatInfo ic;
  MatGetInfo(C, MAT_GLOBAL_SUM, &ic);
  EXPECT_EQ(ic.nz_used, static_cast<double>(pos.size()));
  EXPECT_EQ(foldopt_ref::gather_dense(C).norm(), 0.0);
  // A's own values unchanged by all this.
  EXPECT_EQ(foldopt_ref::gather_dense(A)(0, 0), entry(0, 0));
}

TEST_P(MatrixValuesTest, OuterOnPatternAgainstDenseEigen) {
  OwnedMat A = make_matrix(kRows, kCols, split());
  const auto pos = csr_positions(kRows, kCols);
  for (PetscInt B : {1, 3}) {
    // u and v in PETSc's split of B·m and B·n: at np 2 not the matrix's rows or columns.
    OwnedVec u = random_vec(B * kRows, 11 + B), v = random_vec(B * kCols, 23 + B);
    OwnedVec g = mv::outer_on_pattern(A, u, v, B);
    const VectorXd ue = foldopt_ref::to_eigen(u), ve = foldopt_ref::to_eigen(v);
    const MatrixXd U = Eigen::Map<const MatrixXd>(ue.data(), kRows, B);  // column s = instance s
    const MatrixXd V = Eigen::Map<const MatrixXd>(ve.data(), kCols, B);
    const MatrixXd full = U * V.transpose();
    VectorXd want(static_cast<Eigen::Index>(pos.size()));
    for (std::size_t k = 0; k < pos.size(); ++k) want[k] = full(pos[k].first, pos[k].second);
    const VectorXd got = foldopt_ref::to_eigen(g);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_GT(want.norm(), 0.1);
    EXPECT_LT(foldopt_ref::rel_err(got, want), 1e-14) << "B = " << B;
    PetscInt nl;
    VecGetLocalSize(g, &nl);
    EXPECT_EQ(nl, local_nnz(A));
    // As a matrix on the pattern: the masked dense product.
    foldopt::ParamSet grad;
    grad.add("A.values", g, foldopt::BlockKind::matrix_values, A);
    OwnedMat G = mv::as_matrix(grad.block("A.values"));
    MatrixXd masked = MatrixXd::Zero(kRows, kCols);
    for (const auto& p : pos) masked(p.first, p.second) = full(p.first, p.second);
    EXPECT_LT((foldopt_ref::gather_dense(G) - masked).norm(), 1e-14 * masked.norm());
  }
}

// The kept set-up (OuterOnPattern): new values of u and v reuse it and give the dense reference;
// a new batch, a new pattern or another split of u rebuilds it.
TEST_P(MatrixValuesTest, OuterOnPatternKeepsItsSetUp) {
  OwnedMat A = make_matrix(kRows, kCols, split());
  const auto pos = csr_positions(kRows, kCols);
  auto reference = [&](Vec u, Vec v, PetscInt B, const std::vector<std::pair<PetscInt, PetscInt>>& where) {
    const VectorXd ue = foldopt_ref::to_eigen(u), ve = foldopt_ref::to_eigen(v);
    const MatrixXd full = Eigen::Map<const MatrixXd>(ue.data(), ue.size() / B, B) *
                          Eigen::Map<const MatrixXd>(ve.data(), ve.size() / B, B).transpose();
    VectorXd want(static_cast<Eigen::Index>(where.size()));
    for (std::size_t k = 0; k < where.size(); ++k) want[k] = full(where[k].first, where[k].second);
    return want;
  };
  mv::OuterOnPattern outer;
  for (int call = 0; call < 3; ++call) {
    OwnedVec u = random_vec(2 * kRows, 31 + call), v = random_vec(2 * kCols, 47 + call);
    OwnedVec g = outer(A, u, v, 2);
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(g), reference(u, v, 2, pos)), 1e-14) << "call " << call;
  }
  EXPECT_EQ(outer.setups(), 1);
  {  // another batch
    OwnedVec u = random_vec(kRows, 5), v = random_vec(kCols, 6);
    OwnedVec g = outer(A, u, v, 1);
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(g), reference(u, v, 1, pos)), 1e-14);
    EXPECT_EQ(outer.setups(), 2);
  }
  {  // u split otherwise (at np 2: all on rank 0)
    OwnedVec u;
    VecCreateMPI(PETSC_COMM_WORLD, rank() == 0 ? kRows : 0, kRows, u.out());
    OwnedVec src = random_vec(kRows, 8);
    VecCopy(src, u);
    OwnedVec v = random_vec(kCols, 9);
    OwnedVec g = outer(A, u, v, 1);
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(g), reference(u, v, 1, pos)), 1e-14);
    EXPECT_EQ(outer.setups(), comm_size() > 1 ? 3 : 2);
  }
  {  // another pattern: a square matrix of its own
    OwnedMat S = make_matrix(kCols, kCols);
    OwnedVec u = random_vec(kCols, 12), v = random_vec(kCols, 13);
    OwnedVec g = outer(S, u, v, 1);
    const auto spos = csr_positions(kCols, kCols);
    EXPECT_LT(foldopt_ref::rel_err(foldopt_ref::to_eigen(g), reference(u, v, 1, spos)), 1e-14);
  }
}

INSTANTIATE_TEST_SUITE_P(Splits, MatrixValuesTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "uneven" : "petsc"; });

TEST(MatrixValuesErrors, WrongSizesAndKinds) {
  OwnedMat A = make_matrix(kRows, kCols);
  const std::size_t nnz = csr_positions(kRows, kCols).size();
  const std::string sz = std::to_string(nnz);
  OwnedVec shortv = random_vec(static_cast<PetscInt>(nnz) - 1, 1);
  expect_error([&] { mv::set_values(A, shortv); },
               {"matrix_values::set_values: the values vector has " + std::to_string(nnz - 1) +
                " entries, but the 13x9 matrix stores " + sz + " nonzeros"});
  expect_error([&] { mv::with_values(A, shortv); }, {"has " + std::to_string(nnz - 1) + " entries", sz + " nonzeros"});
  OwnedVec u = random_vec(3 * kRows, 1), v = random_vec(3 * kCols + 1, 2);
  expect_error([&] { mv::outer_on_pattern(A, u, v, 3); },
               {"outer_on_pattern: v has 28 entries, expected batch x columns = 3 x 9 = 27"});
  expect_error([&] { mv::outer_on_pattern(A, v, u, 3); }, {"u has 28 entries, expected batch x rows = 3 x 13 = 39"});
  expect_error([&] { mv::outer_on_pattern(A, u, u, 0); }, {"batch 0 is not positive"});
  foldopt::ParamSet set;
  set.add("q", u, foldopt::BlockKind::instance);
  expect_error([&] { mv::as_matrix(set.block("q")); }, {"parameter block 'q' is per instance, not matrix values"});
  // A matrix without stored entries (a shell) has no values.
  OwnedMat S;
  MatCreateShell(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, 3, 3, nullptr, S.out());
  expect_error([&] { mv::values(S); }, {"matrix_values::values: the matrix is of type", "shell", "need an AIJ or dense matrix"});
  // A dense matrix stores every entry: its values are all 9, row by row (d_ij = 10 i + j).
  OwnedMat D;
  MatCreateDense(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, 3, 3, nullptr, D.out());
  PetscInt drs, dre;
  MatGetOwnershipRange(D, &drs, &dre);
  for (PetscInt i = drs; i < dre; ++i)
    for (PetscInt j = 0; j < 3; ++j) MatSetValue(D, i, j, 10.0 * i + j, INSERT_VALUES);
  MatAssemblyBegin(D, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(D, MAT_FINAL_ASSEMBLY);
  const std::vector<PetscScalar> dv = foldopt_test::gather(mv::values(D));
  const std::vector<PetscScalar> want = {0, 1, 2, 10, 11, 12, 20, 21, 22};
  EXPECT_EQ(dv, want);
  // Unchanged by the refused calls.
  EXPECT_EQ(foldopt_ref::gather_dense(A)(0, 0), entry(0, 0));
}

}  // namespace
