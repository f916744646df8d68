// Tests of the I/O module (include/foldopt/io.hpp): MatrixMarket and PETSc binary round trips
// (bit-identical, including ±inf and nan), hand-written MatrixMarket files with known entries
// (symmetric, array, vectors in every shape), custom row splits, and every error path, which must
// raise the same one-line foldopt::Error (naming the file and the cause) on every rank.
// Runs at np=1 and np=2.
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

using foldopt_test::comm_size;

using foldopt::Error;
using foldopt::OwnedMat;
using foldopt::OwnedVec;
namespace io = foldopt::io;
using foldopt_test::gather;
using foldopt_test::rank;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();


// Same bits, or both nan.
bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

std::string show(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

// Rank 0 writes `text` to `path`; every rank returns once the file exists.
void write_text(const std::string& path, const std::string& text) {
  if (rank() == 0) {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Names in a directory (sorted), seen by this rank.
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Rank 0 cuts `path` to `bytes` bytes.
void truncate_file(const std::string& path, long bytes) {
  if (rank() == 0) ASSERT_EQ(truncate(path.c_str(), bytes), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
}

// The whole matrix as a dense row-major array on every rank (small test matrices only).
std::vector<double> dense(Mat A) {
  PetscInt M, N, rs, re;
  MatGetSize(A, &M, &N);
  MatGetOwnershipRange(A, &rs, &re);
  std::vector<double> local(static_cast<std::size_t>(M * N), 0.0), all(local.size(), 0.0);
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    const PetscInt* c;
    const PetscScalar* v;
    MatGetRow(A, i, &nc, &c, &v);
    for (PetscInt k = 0; k < nc; ++k) local[static_cast<std::size_t>(i * N + c[k])] = v[k];
    MatRestoreRow(A, i, &nc, &c, &v);
  }
  MPI_Allreduce(local.data(), all.data(), static_cast<int>(local.size()), MPI_DOUBLE, MPI_SUM,
                PETSC_COMM_WORLD);
  return all;
}

// Number of stored entries of the whole matrix.
long long stored(Mat A) {
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  long long n = 0, all = 0;
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt nc;
    MatGetRow(A, i, &nc, nullptr, nullptr);
    n += nc;  // before MatRestoreRow, which zeroes nc
    MatRestoreRow(A, i, &nc, nullptr, nullptr);
  }
  MPI_Allreduce(&n, &all, 1, MPI_LONG_LONG, MPI_SUM, PETSC_COMM_WORLD);
  return all;
}

// The matrix was preallocated exactly: no mallocs during assembly, nothing allocated unused.
void expect_exact_preallocation(Mat A) {
  MatInfo info;
  MatGetInfo(A, MAT_GLOBAL_SUM, &info);
  EXPECT_EQ(info.mallocs, 0.0);
  EXPECT_EQ(info.nz_allocated, info.nz_used);
  EXPECT_EQ(info.nz_used, static_cast<double>(stored(A)));
}

void expect_dense(Mat A, PetscInt M, PetscInt N, const std::vector<double>& want) {
  PetscInt m, n;
  MatGetSize(A, &m, &n);
  ASSERT_EQ(m, M);
  ASSERT_EQ(n, N);
  const std::vector<double> got = dense(A);
  for (std::size_t k = 0; k < want.size(); ++k)
    EXPECT_TRUE(same(got[k], want[k])) << "entry (" << k / N << "," << k % N << "): got "
                                       << show(got[k]) << ", want " << show(want[k]);
}

void expect_values(Vec v, const std::vector<double>& want) {
  PetscInt n;
  VecGetSize(v, &n);
  ASSERT_EQ(n, static_cast<PetscInt>(want.size()));
  const std::vector<PetscScalar> got = gather(v);
  for (std::size_t k = 0; k < want.size(); ++k)
    EXPECT_TRUE(same(got[k], want[k]))
        << "entry " << k << ": got " << show(got[k]) << ", want " << show(want[k]);
}

// `f` must throw a collective foldopt::Error on this rank whose message holds every piece.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& pieces,
                  PetscErrorCode code = 0) {
  try {
    f();
    ADD_FAILURE() << "no error raised (expected: " << pieces.front() << ")";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(e.collective()) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    for (const std::string& p : pieces)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    if (code) EXPECT_EQ(e.code(), code) << msg;
  }
}

// A vector with the given values, PETSc's split.
OwnedVec make_vec(const std::vector<double>& values) {
  OwnedVec v;
  VecCreate(PETSC_COMM_WORLD, v.out());
  VecSetSizes(v, PETSC_DECIDE, static_cast<PetscInt>(values.size()));
  VecSetType(v, VECSTANDARD);
  PetscInt rs, re;
  VecGetOwnershipRange(v, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    VecSetValue(v, i, values[static_cast<std::size_t>(i)], INSERT_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
  return v;
}

// An M x N AIJ matrix with a fixed pattern and awkward values (±inf, nan, -0, explicit zero,
// subnormal, values without a short decimal form).
OwnedMat make_mat(PetscInt M, PetscInt N) {
  OwnedMat A;
  MatCreate(PETSC_COMM_WORLD, A.out());
  MatSetSizes(A, PETSC_DECIDE, PETSC_DECIDE, M, N);
  MatSetType(A, MATAIJ);
  MatSeqAIJSetPreallocation(A, N, nullptr);
  MatMPIAIJSetPreallocation(A, N, nullptr, N, nullptr);
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt j = 0; j < N; ++j) {
      if ((i + 2 * j) % 3 == 0 && i != j) continue;
      double v = std::pow(-1.0, static_cast<double>(i + j)) * (i + 1.0) / (j + 3.0);
      const PetscInt k = i * N + j;
      if (k == 1) v = kInf;
      if (k == 2) v = -kInf;
      if (k == 4) v = kNaN;
      if (k == 5) v = -0.0;
      if (k == 7) v = 0.0;
      if (k == 8) v = 4.9e-320;
      MatSetValue(A, i, j, v, INSERT_VALUES);
    }
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

// Owned rows of A and B: same columns, same bits (A and B have the same row split).
void expect_same_matrix(Mat A, Mat B) {
  PetscInt M, N, m, n;
  MatGetSize(A, &M, &N);
  MatGetSize(B, &m, &n);
  ASSERT_EQ(M, m);
  ASSERT_EQ(N, n);
  PetscInt rs, re, rs2, re2;
  MatGetOwnershipRange(A, &rs, &re);
  MatGetOwnershipRange(B, &rs2, &re2);
  ASSERT_EQ(rs, rs2);
  ASSERT_EQ(re, re2);
  for (PetscInt i = rs; i < re; ++i) {
    PetscInt na, nb;
    const PetscInt *ca, *cb;
    const PetscScalar *va, *vb;
    MatGetRow(A, i, &na, &ca, &va);
    std::vector<PetscInt> cols(ca, ca + na);
    std::vector<double> vals(va, va + na);
    MatRestoreRow(A, i, &na, &ca, &va);
    MatGetRow(B, i, &nb, &cb, &vb);
    std::vector<PetscInt> cols2(cb, cb + nb);
    std::vector<double> vals2(vb, vb + nb);
    MatRestoreRow(B, i, &nb, &cb, &vb);
    ASSERT_EQ(cols, cols2) << "row " << i;
    for (PetscInt k = 0; k < na; ++k)
      EXPECT_TRUE(same(vals[k], vals2[k]))
          << "(" << i << "," << cols[k] << "): " << show(vals[k]) << " vs " << show(vals2[k]);
  }
  EXPECT_EQ(stored(A), stored(B));
}

class IoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = foldopt_test::temp_dir("io");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    MPI_Barrier(PETSC_COMM_WORLD);
    if (rank() == 0) std::filesystem::remove_all(dir_);
    MPI_Barrier(PETSC_COMM_WORLD);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

const std::vector<double> kAwkward = {0.0,
                                      -0.0,
                                      1.0 / 3.0,
                                      -2.5e-310,
                                      1e308,
                                      kInf,
                                      -kInf,
                                      kNaN,
                                      3.141592653589793,
                                      -1.0,
                                      12345678901234567.0};

// ---------------------------------------------------------------------------------------------

TEST(IoNames, FormatOf) {
  EXPECT_EQ(io::format_of("a.mtx"), io::Format::matrix_market);
  EXPECT_EQ(io::format_of("dir/A.MTX"), io::Format::matrix_market);
  EXPECT_EQ(io::format_of("dir/a.Mtx"), io::Format::matrix_market);
  EXPECT_EQ(io::format_of("a.bin"), io::Format::petsc_binary);
  EXPECT_EQ(io::format_of("a"), io::Format::petsc_binary);
  EXPECT_EQ(io::format_of("a.mtx.gz"), io::Format::petsc_binary);
  EXPECT_EQ(io::format_of("x.mtx/a"), io::Format::petsc_binary);
}

TEST(IoNames, BlockPath) {
  EXPECT_EQ(io::block_path("out/g.mtx", "q"), "out/g.q.mtx");
  EXPECT_EQ(io::block_path("g", "q"), "g.q");
  EXPECT_EQ(io::block_path("d.x/g.bin", "lb"), "d.x/g.lb.bin");
  EXPECT_EQ(io::block_path("d.x/g", "lb"), "d.x/g.lb");
  EXPECT_EQ(io::block_path("g.mtx", "q"), "g.q.mtx");
}

// ---- round trips ----

TEST_F(IoTest, VecRoundTripMatrixMarket) {
  OwnedVec v = make_vec(kAwkward);
  io::write_vec(path("v.mtx"), v);
  EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"v.mtx"});  // no temporary left
  OwnedVec w = io::read_vec(PETSC_COMM_WORLD, path("v.mtx"));
  expect_values(w, kAwkward);
}

TEST_F(IoTest, VecRoundTripBinary) {
  OwnedVec v = make_vec(kAwkward);
  io::write_vec(path("v.bin"), v);
  EXPECT_EQ(list_dir(dir_), std::vector<std::string>{"v.bin"});  // no .info, no temporary
  OwnedVec w = io::read_vec(PETSC_COMM_WORLD, path("v.bin"), PETSC_DECIDE, 11);
  expect_values(w, kAwkward);
}

TEST_F(IoTest, VecMatrixMarketText) {
  OwnedVec v = make_vec({1.0, -kInf, -0.0, 0.1, kNaN});
  io::write_vec(path("v.mtx"), v);
  EXPECT_EQ(
      read_text(path("v.mtx")),
      "%%MatrixMarket matrix array real general\n5 1\n1\n-inf\n-0\n0.10000000000000001\nnan\n");
}

TEST_F(IoTest, MatRoundTripMatrixMarket) {
  for (PetscInt n : {6, 7}) {  // square, and 7x6
    OwnedMat A = make_mat(n, 6);
    const std::string p = path("A" + std::to_string(n) + ".mtx");
    io::write_mat(p, A);
    OwnedMat B = io::read_mat(PETSC_COMM_WORLD, p);
    expect_same_matrix(A, B);
    expect_exact_preallocation(B);
    MatType type;
    MatGetType(B, &type);
    EXPECT_TRUE(std::string(type) == MATSEQAIJ || std::string(type) == MATMPIAIJ) << type;
  }
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"A6.mtx", "A7.mtx"}));
}

TEST_F(IoTest, MatMatrixMarketText) {
  OwnedMat A = make_mat(2, 3);  // every entry: 1/3, inf, -inf; -2/3, nan, -0
  io::write_mat(path("A.mtx"), A);
  EXPECT_EQ(read_text(path("A.mtx")),
            "%%MatrixMarket matrix coordinate real general\n2 3 6\n"
            "1 1 0.33333333333333331\n1 2 inf\n1 3 -inf\n"
            "2 1 -0.66666666666666663\n2 2 nan\n2 3 -0\n");
}

TEST_F(IoTest, MatRoundTripBinary) {
  for (PetscInt n : {6, 7}) {
    OwnedMat A = make_mat(n, 6);
    const std::string p = path("A" + std::to_string(n) + ".bin");
    io::write_mat(p, A);
    OwnedMat B = io::read_mat(PETSC_COMM_WORLD, p);
    expect_same_matrix(A, B);
  }
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"A6.bin", "A7.bin"}));
}

TEST_F(IoTest, OutputSetWritesEverythingAndReplaces) {
  write_text(path("old.mtx"), "stale");
  OwnedVec v = make_vec({1, 2, 3});
  OwnedMat A = make_mat(4, 4);
  io::OutputSet out(PETSC_COMM_WORLD);
  out.add(path("old.mtx"), v);
  out.add(path("A.bin"), A);
  out.add(io::block_path(path("g.mtx"), "q"), A);
  out.commit();
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"A.bin", "g.q.mtx", "old.mtx"}));
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("old.mtx")), {1, 2, 3});
  expect_same_matrix(A, io::read_mat(PETSC_COMM_WORLD, path("A.bin")));
  expect_same_matrix(A, io::read_mat(PETSC_COMM_WORLD, path("g.q.mtx")));
  out.commit();  // emptied by the first commit: nothing to do
}

// ---- hand-written MatrixMarket files ----

TEST_F(IoTest, SymmetricCoordinate) {
  write_text(path("S.mtx"),
             "%%MatrixMarket matrix coordinate real symmetric\n"
             "% a comment\n"
             "%\n"
             "4 4 6\n"
             "\n"
             "1 1 2.0\n"
             "2 1 -1\n"
             "% a comment between entries\n"
             "3 2 Infinity\n"
             "  3 3\t4.5  \n"
             "4 1 1e-3\n"
             "4 4 -inf\n");
  OwnedMat S = io::read_mat(PETSC_COMM_WORLD, path("S.mtx"));
  // clang-format off
  expect_dense(S, 4, 4, {2.0,  -1.0, 0.0,  1e-3,
                         -1.0, 0.0,  kInf, 0.0,
                         0.0,  kInf, 4.5,  0.0,
                         1e-3, 0.0,  0.0,  -kInf});
  // clang-format on
  EXPECT_EQ(stored(S), 9);  // 6 stored, 3 mirrored
  expect_exact_preallocation(S);
}

TEST_F(IoTest, IntegerGeneralCoordinateWithDuplicates) {
  write_text(path("I.mtx"),
             "%%MATRIXMARKET Matrix Coordinate Integer General\n"
             "2 3 4\n"
             "1 3 7\n"
             "2 1 -4\n"
             "1 3 1\n"    // duplicate: summed
             "2 2 0\n");  // explicit zero: kept
  OwnedMat A = io::read_mat(PETSC_COMM_WORLD, path("I.mtx"));
  expect_dense(A, 2, 3, {0, 0, 8, -4, 0, 0});
  EXPECT_EQ(stored(A), 3);
  expect_exact_preallocation(A);
}

TEST_F(IoTest, ArrayMatrix) {
  write_text(path("D.mtx"),
             "%%MatrixMarket matrix array real general\n"
             "% column-major\n"
             "3 2\n"
             "1\n0\n-2\n"
             "nan\n5\n0\n");
  OwnedMat A = io::read_mat(PETSC_COMM_WORLD, path("D.mtx"));
  expect_dense(A, 3, 2, {1, kNaN, 0, 5, -2, 0});
  EXPECT_EQ(stored(A), 4);  // zeros dropped
  expect_exact_preallocation(A);
}

TEST_F(IoTest, SymmetricArrayMatrix) {
  write_text(path("D.mtx"),
             "%%MatrixMarket matrix array real symmetric\n"
             "3 3\n"
             "1\n2\n3\n"  // column 0, rows 0..2
             "4\n5\n"     // column 1, rows 1..2
             "6\n");      // column 2, row 2
  OwnedMat A = io::read_mat(PETSC_COMM_WORLD, path("D.mtx"));
  expect_dense(A, 3, 3, {1, 2, 3, 2, 4, 5, 3, 5, 6});
}

TEST_F(IoTest, VectorShapes) {
  write_text(path("col.mtx"),
             "%%MatrixMarket matrix array real general\n5 1\n1\ninf\n-inf\nnan\nInfinity\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("col.mtx")), {1, kInf, -kInf, kNaN, kInf});

  write_text(path("row.mtx"), "%%MatrixMarket matrix array real general\n1 3\n7\n8\n-9.5e-3\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("row.mtx")), {7, 8, -9.5e-3});

  write_text(path("ccol.mtx"),
             "%%MatrixMarket matrix coordinate real general\n6 1 3\n2 1 2.5\n6 1 -1\n2 1 0.5\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("ccol.mtx"), PETSC_DECIDE, 6),
                {0, 3.0, 0, 0, 0, -1});

  write_text(path("crow.mtx"),
             "%%MatrixMarket matrix coordinate integer general\n1 4 2\n1 3 7\n1 1 -2\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("crow.mtx")), {-2, 0, 7, 0});

  write_text(path("empty.mtx"), "%%MatrixMarket matrix coordinate real general\n0 1 0\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("empty.mtx")), {});
}

// ---- custom splits ----

// rank 0 keeps 1 entry, the others share the rest.
PetscInt uneven_local(PetscInt n, int r = rank()) {
  const int size = comm_size();
  if (size == 1) return n;
  if (r == 0) return 1;
  const PetscInt rest = n - 1, others = size - 1;
  return rest / others + ((r - 1) < rest % others ? 1 : 0);
}

TEST_F(IoTest, CustomLocalSplit) {
  const std::vector<double> values = {10, 20, 30, 40, 50};
  OwnedVec v = make_vec(values);
  io::write_vec(path("v.mtx"), v);
  io::write_vec(path("v.bin"), v);
  const PetscInt local = uneven_local(5);
  for (const char* name : {"v.mtx", "v.bin"}) {
    OwnedVec w = io::read_vec(PETSC_COMM_WORLD, path(name), local, 5);
    PetscInt n, rs, re;
    VecGetLocalSize(w, &n);
    VecGetOwnershipRange(w, &rs, &re);
    EXPECT_EQ(n, local) << name;
    PetscInt start = 0;
    for (int q = 0; q < rank(); ++q) start += uneven_local(5, q);
    EXPECT_EQ(rs, start) << name;
    const PetscScalar* a;
    VecGetArrayRead(w, &a);
    for (PetscInt i = 0; i < n; ++i) EXPECT_EQ(a[i], values[static_cast<std::size_t>(rs + i)]);
    VecRestoreArrayRead(w, &a);
  }

  OwnedMat A = make_mat(5, 5);
  OwnedMat R = make_mat(5, 3);
  io::write_mat(path("A.mtx"), A);
  io::write_mat(path("A.bin"), A);
  io::write_mat(path("R.bin"), R);
  const std::vector<double> want = dense(A);
  for (const char* name : {"A.mtx", "A.bin"}) {
    OwnedMat B = io::read_mat(PETSC_COMM_WORLD, path(name), local);
    PetscInt m, n;
    MatGetLocalSize(B, &m, &n);
    EXPECT_EQ(m, local) << name;
    EXPECT_EQ(n, local) << name;  // a square matrix has its columns split like its rows
    expect_dense(B, 5, 5, want);
    expect_exact_preallocation(B);
  }
  OwnedMat B = io::read_mat(PETSC_COMM_WORLD, path("R.bin"), local);
  PetscInt m;
  MatGetLocalSize(B, &m, nullptr);
  EXPECT_EQ(m, local);
  expect_dense(B, 5, 3, dense(R));
}

// ---- errors ----

TEST_F(IoTest, MissingFile) {
  for (const char* name : {"nope.mtx", "nope.bin"}) {
    const std::string p = path(name);
    expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
                 {p + ": cannot open: No such file or directory"}, PETSC_ERR_FILE_OPEN);
    expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
                 {p + ": cannot open: No such file or directory"}, PETSC_ERR_FILE_OPEN);
  }
}

TEST_F(IoTest, DirectoryInsteadOfFile) {
  if (rank() == 0) std::filesystem::create_directory(path("d.mtx"));
  if (rank() == 0) std::filesystem::create_directory(path("d.bin"));
  MPI_Barrier(PETSC_COMM_WORLD);
  for (const char* name : {"d.mtx", "d.bin"}) {
    const std::string p = path(name);
    expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); }, {p + ": cannot open: Is a directory"},
                 PETSC_ERR_FILE_OPEN);
    // Writing over a directory is refused before any file is moved, and leaves no temporary behind.
    OwnedVec v = make_vec({1, 2});
    expect_error([&] { io::write_vec(p, v); }, {p + ": cannot write: Is a directory"});
  }
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"d.bin", "d.mtx"}));
}

TEST_F(IoTest, MalformedLine) {
  const std::string p = path("H.mtx");
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 3\n1 1 1\n2 2 2\n3 3\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 5: expected 3 numbers, got 2"}, PETSC_ERR_FILE_UNEXPECTED);

  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 2\n1 1 1\n2 2 abc\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p + ": line 4: bad value 'abc'"});

  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 1\n1.5 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p + ": line 3: bad row index '1.5'"});

  write_text(p, "%%MatrixMarket matrix array real general\n2 1\n1 2\n3\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 3: expected 1 number, got 2"});

  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 2: expected 3 numbers (rows columns entries), got 2"});

  write_text(p, "1 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "not a MatrixMarket file"});

  write_text(p, "");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "empty file"});
}

TEST_F(IoTest, TruncatedMatrixMarket) {
  const std::string p = path("q.mtx");
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 5\n1 1 1\n2 2 2\n3 3 3\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": truncated: header promises 5 entries, file has 3"}, PETSC_ERR_FILE_READ);
  write_text(p, "%%MatrixMarket matrix array real general\n4 1\n1\n2\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": truncated: header promises 4 entries, file has 2"}, PETSC_ERR_FILE_READ);
  write_text(p, "%%MatrixMarket matrix coordinate real general\n% only comments\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); }, {p, "truncated: no size line"});
  write_text(p, "%%MatrixMarket matrix array real general\n2 1\n1\n2\n3\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 5: more entries than the 2 the header promises"});
}

TEST_F(IoTest, TruncatedBinary) {
  const std::string pv = path("q.bin"), pm = path("H.bin");
  io::write_vec(pv, make_vec({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  io::write_mat(pm, make_mat(5, 5));
  truncate_file(pv, 50);
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, pv); },
               {pv + ": truncated: header promises 10 entries (88 bytes), file has 50 bytes"},
               PETSC_ERR_FILE_READ);
  truncate_file(pv, 5);
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, pv); }, {pv, "truncated", "5 bytes"});
  truncate_file(pm, 100);
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, pm); },
               {pm + ": truncated: header promises 5x5 with", "file has 100 bytes"},
               PETSC_ERR_FILE_READ);
}

TEST_F(IoTest, TrailingDataBinary) {
  const std::string p = path("q.bin");
  io::write_vec(p, make_vec({1, 2, 3}));
  if (rank() == 0) {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out << "junk";
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": file has 36 bytes, but the header implies 32"});
}

TEST_F(IoTest, WrongClassId) {
  const std::string pv = path("v.bin"), pm = path("m.bin");
  io::write_vec(pv, make_vec({1, 2, 3}));
  io::write_mat(pm, make_mat(3, 3));
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, pm); },
               {pm + ": not a PETSc binary vector (class id 1211216: it holds a matrix)"}, PETSC_ERR_FILE_UNEXPECTED);
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, pv); },
               {pv + ": not a PETSc binary matrix (class id 1211214: it holds a vector)"}, PETSC_ERR_FILE_UNEXPECTED);
  // A MatrixMarket file read as binary (wrong extension) is not taken for a vector either.
  const std::string pt = path("text.dat");
  write_text(pt, "%%MatrixMarket matrix array real general\n1 1\n1\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, pt); },
               {pt + ": not a PETSc binary vector (class id"});
}

TEST_F(IoTest, IndexOutOfRange) {
  const std::string p = path("H.mtx");
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 2\n1 1 1\n12 3 1.0\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 4: index (12,3) outside the 10x10 matrix"}, PETSC_ERR_FILE_UNEXPECTED);
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 1 1\n0 1 1.0\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 3: index (0,1) outside the 10x1 matrix"});
}

TEST_F(IoTest, SizeMismatch) {
  io::write_vec(path("q.mtx"), make_vec({1, 2, 3, 4, 5}));
  io::write_vec(path("q.bin"), make_vec({1, 2, 3, 4, 5}));
  for (const char* name : {"q.mtx", "q.bin"}) {
    const std::string p = path(name);
    expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p, PETSC_DECIDE, 6); },
                 {p + ": has 5 entries, expected 6"}, PETSC_ERR_ARG_SIZ);
    // Local sizes that do not add up to the file's length.
    expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p, 2); },  // an even sum is never 5
                 {p + ": local sizes add up to " + std::to_string(2 * comm_size()) +
                  ", but the file has 5 entries"},
                 PETSC_ERR_ARG_SIZ);
  }
  io::write_mat(path("A.mtx"), make_mat(4, 4));
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, path("A.mtx"), 7); },
               {path("A.mtx") + ": local size 7 is not between 0 and the 4 rows"},
               PETSC_ERR_ARG_SIZ);
  // A matrix is not a vector.
  write_text(path("M.mtx"), "%%MatrixMarket matrix array real general\n3 4\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, path("M.mtx")); },
               {path("M.mtx") + ": is a 3x4 matrix, not a vector"});
}

TEST_F(IoTest, UnsupportedKinds) {
  const std::string p = path("c.mtx");
  write_text(p, "%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1.0 2.0\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 1: complex MatrixMarket files are not supported"},
               PETSC_ERR_FILE_UNEXPECTED);
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); }, {p, "complex"});
  write_text(p, "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "pattern"});
  write_text(p, "%%MatrixMarket matrix coordinate real hermitian\n2 2 1\n1 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "hermitian"});
  write_text(p, "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "skew-symmetric"});
  write_text(p, "%%MatrixMarket matrix coordinate real symmetric\n2 3 1\n2 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "must be square"});
}

TEST_F(IoTest, WriteIntoMissingDirectory) {
  OwnedVec v = make_vec({1, 2, 3});
  OwnedMat A = make_mat(3, 3);
  for (const char* name : {"missing/v.mtx", "missing/v.bin"}) {
    const std::string p = path(name);
    expect_error([&] { io::write_vec(p, v); }, {p + ": cannot write: No such file or directory"},
                 PETSC_ERR_FILE_OPEN);
    expect_error([&] { io::write_mat(p, A); }, {p + ": cannot write: No such file or directory"});
  }
  // All or nothing: the good items of a failing set are not left behind, nor any temporary.
  for (const char* bad : {"missing/A.mtx", "missing/A.bin"}) {
    io::OutputSet out(PETSC_COMM_WORLD);
    out.add(path("good.mtx"), v);
    out.add(path("good.bin"), A);
    out.add(path(bad), A);
    expect_error([&] { out.commit(); }, {path(bad) + ": cannot write: No such file or directory"});
    EXPECT_EQ(list_dir(dir_), std::vector<std::string>{});
  }
}

TEST_F(IoTest, AddTwiceIsRejected) {
  OwnedVec v = make_vec({1});
  io::OutputSet out(PETSC_COMM_WORLD);
  out.add(path("v.mtx"), v);
  EXPECT_THROW(out.add(path("v.mtx"), v), Error);
}

}  // namespace
