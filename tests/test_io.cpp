// Tests of the I/O module (include/foldopt/io.hpp): MatrixMarket and PETSc binary round trips
// (bit-identical, including ±inf and nan), hand-written MatrixMarket files with known entries
// (symmetric, skew-symmetric, array, vectors in every shape), custom row splits, and every error
// path, which must raise the same one-line foldopt::Error (naming the file and the cause) on every
// rank: malformed and ambiguous files of both formats, sizes a file cannot hold (refused before
// allocating), inputs that are not regular files (refused without blocking), outputs that are
// inputs, and a full disk (RLIMIT_FSIZE) on one rank, under a watchdog that fails a hang.
// Runs at np=1 and np=2. The kill-during-write test is tests/fuzz/kill_test.sh.
#include "test_util.hpp"

#include <foldopt/error.hpp>
#include <foldopt/io.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
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
  // The patterns, types and preallocation checked here are AIJ's: these small matrices would be
  // dense by density, so they are read as AIJ (the storage rule: test_dense_storage.cpp).
  foldopt_test::ScopedOptions aij_{std::vector<std::pair<std::string, std::string>>{{"-mat_storage", "aij"}}};
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

TEST_F(IoTest, IntegerGeneralCoordinate) {
  write_text(path("I.mtx"),
             "%%MATRIXMARKET Matrix Coordinate Integer General\n"
             "2 3 4\n"
             "1 3 7\n"
             "2 1 -4\n"
             "1 2 +9007199254740992\n"  // 2^53: the largest integer a double holds exactly
             "2 2 0\n");  // explicit zero: kept
  OwnedMat A = io::read_mat(PETSC_COMM_WORLD, path("I.mtx"));
  expect_dense(A, 2, 3, {0, 9007199254740992.0, 7, -4, 0, 0});
  EXPECT_EQ(stored(A), 4);
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
             "%%MatrixMarket matrix coordinate real general\n6 1 3\n2 1 2.5\n6 1 -1\n4 1 0.5\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("ccol.mtx"), PETSC_DECIDE, 6),
                {0, 2.5, 0, 0.5, 0, -1});

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
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 3\n1 1 1\n2 2 2\n3 3    \n");
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
  // Too short for the declared count: refused from the file's length, before any data is read.
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 5\n1 1 1\n2 2 2\n3 3 3\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": truncated: header promises 5 entries (line 2), but the 18 bytes after it can "
                    "hold at most 3 (6 bytes each at least)"},
               PETSC_ERR_FILE_READ);
  write_text(p, "%%MatrixMarket matrix array real general\n4 1\n1\n2\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": truncated: header promises 4 values (line 2), but the 4 bytes after it can "
                    "hold at most 2"},
               PETSC_ERR_FILE_READ);
  // Long enough (a comment), but fewer data lines than declared.
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 5\n1 1 1\n2 2 2\n3 3 3\n"
                "% a comment long enough to hold the missing entries\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": truncated: header promises 5 entries, file has 3"}, PETSC_ERR_FILE_READ);
  write_text(p, "%%MatrixMarket matrix array real general\n4 1\n1\n2\n%    \n");
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
  write_text(path("M.mtx"), "%%MatrixMarket matrix array real general\n3 4\n" + std::string(24, '0'));
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
  write_text(p, "%%MatrixMarket matrix array real hermitian\n2 2\n1\n2\n3\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p, "line 1: hermitian"});
  write_text(p, "%%MatrixMarket vector coordinate real general\n2 1\n1 1\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 1: MatrixMarket object 'vector' is not supported"});
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

// ---------------------------------------------------------------------------------------------
// Reliability (issue 6)

// Fails the test program (exit 3 from this rank, so mpiexec ends the others) if the scope does
// not end within `seconds`: a hang is a failure, not a timeout of the whole suite.
class Watchdog {
 public:
  Watchdog(int seconds, std::string what) : what_(std::move(what)) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(m_);
      if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "rank %d: %s did not finish within %d s (hang)\n", rank(),
                     what_.c_str(), seconds);
        std::fflush(stderr);
        _exit(3);
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(m_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::string what_;
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Rank 0 writes raw bytes.
void write_bytes(const std::string& p, const std::vector<unsigned char>& bytes) {
  if (rank() == 0) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  MPI_Barrier(PETSC_COMM_WORLD);
}

// A PETSc binary file written by hand: big-endian 4-byte integers (this build's PetscInt) and
// doubles, as PETSc's format defines them.
struct BinaryBytes {
  std::vector<unsigned char> b;
  BinaryBytes& ints(std::initializer_list<long long> v) {
    static_assert(sizeof(PetscInt) == 4, "the hand-written files assume 32-bit PetscInt");
    for (long long x : v) {
      const std::uint32_t u = static_cast<std::uint32_t>(static_cast<std::int32_t>(x));
      for (int k = 3; k >= 0; --k) b.push_back(static_cast<unsigned char>(u >> (8 * k)));
    }
    return *this;
  }
  BinaryBytes& reals(std::initializer_list<double> v) {
    for (double x : v) {
      std::uint64_t u;
      std::memcpy(&u, &x, sizeof u);
      for (int k = 7; k >= 0; --k) b.push_back(static_cast<unsigned char>(u >> (8 * k)));
    }
    return *this;
  }
};

TEST_F(IoTest, SkewSymmetricCoordinateAndArray) {
  write_text(path("K.mtx"),
             "%%MatrixMarket matrix coordinate integer skew-symmetric\n"
             "3 3 2\n"
             "2 1 3\n"
             "3 2 -5\n");
  // clang-format off
  expect_dense(io::read_mat(PETSC_COMM_WORLD, path("K.mtx")), 3, 3, { 0, -3, 0,
                                                                      3,  0, 5,
                                                                      0, -5, 0});
  write_text(path("KA.mtx"),
             "%%MatrixMarket matrix array real skew-symmetric\n"
             "3 3\n"
             "1.5\n2\n"  // column 0, rows 1..2
             "-4\n");    // column 1, row 2
  expect_dense(io::read_mat(PETSC_COMM_WORLD, path("KA.mtx")), 3, 3, {  0, -1.5, -2,
                                                                       1.5,  0,   4,
                                                                        2,  -4,   0});
  // clang-format on
  OwnedMat K = io::read_mat(PETSC_COMM_WORLD, path("K.mtx"));
  expect_exact_preallocation(K);
  EXPECT_EQ(stored(K), 4);
}

TEST_F(IoTest, TriangleRules) {
  const std::string p = path("S.mtx");
  // Both triangles of a symmetric file: which one holds is a guess (they used to be summed).
  write_text(p, "%%MatrixMarket matrix coordinate real symmetric\n2 2 2\n2 1 1\n1 2 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 4: entry (1,2) is above the diagonal: a symmetric file stores only the "
                    "lower triangle"},
               PETSC_ERR_FILE_UNEXPECTED);
  write_text(p, "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n1 2 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 3: entry (1,2) is above the diagonal: a skew-symmetric file"});
  write_text(p, "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 2 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 3: entry (2,2) is on the diagonal: a skew-symmetric file stores only "
                    "the strictly lower triangle"});
  write_text(p, "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 2\n2 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 2: 2 entries cannot fit in a 2x2 skew-symmetric matrix"});
  write_text(p, "%%MatrixMarket matrix array real skew-symmetric\n3 3\n1\n2\n3\n4\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 6: more entries than the 3 the header promises"});
}

TEST_F(IoTest, DuplicatesRefusedAlikeAtEveryRankCount) {
  const std::string p = path("D.mtx");
  // Rows 4 (line 5) and 1 (line 7) are both repeated; with two ranks they belong to different
  // ranks, and the message is still the one of the first repeated line.
  write_text(p,
             "%%MatrixMarket matrix coordinate real general\n4 4 5\n1 1 1\n4 4 2\n4 4 3\n"
             "2 2 1\n1 1 5\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 5: entry (4,4) given twice (first on line 4): a coordinate may appear once"},
               PETSC_ERR_FILE_UNEXPECTED);
  write_text(p, "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n3 1 1\n2 2 1\n3 1 2\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 5: entry (3,1) given twice (first on line 3)"});
  write_text(p, "%%MatrixMarket matrix coordinate real general\n4 1 3\n4 1 1\n1 1 1\n4 1 0\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 5: entry (4,1) given twice (first on line 3)"});
}

TEST_F(IoTest, ValuesOfTheField) {
  const std::string p = path("V.mtx");
  for (const char* bad : {"1.5", "inf", "1e3", "9007199254740993", "99999999999999999999"}) {
    write_text(p, std::string("%%MatrixMarket matrix array integer general\n2 1\n1\n") + bad + "\n");
    expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
                 {p + ": line 4: bad value '" + bad + "'"}, PETSC_ERR_FILE_UNEXPECTED);
  }
  write_text(p, "%%MatrixMarket matrix array integer general\n1 1\n1.5\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); }, {"not an integer (the field is integer)"});
  write_text(p, "%%MatrixMarket matrix array real general\n2 1\n1\n1e999\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 4: bad value '1e999': beyond the range of a double"});
  // An underflow is rounded (here to zero and to the smallest subnormal), not refused.
  write_text(p, "%%MatrixMarket matrix array real general\n2 1\n1e-400\n4.9406564584124654e-324\n");
  expect_values(io::read_vec(PETSC_COMM_WORLD, p), {0.0, 4.9406564584124654e-324});
}

TEST_F(IoTest, IndicesAreOneBased) {
  const std::string p = path("Z.mtx");
  write_text(p, "%%MatrixMarket matrix coordinate real general\n2 2 1\n0 0 1.0\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": line 3: index (0,0) outside the 2x2 matrix (indices start at 1)"});
  write_text(p, "%%MatrixMarket matrix coordinate real general\n2 2 1\n-1 1 1.0\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p + ": line 3: index (-1,1) outside"});
}

TEST_F(IoTest, DamagedBytesAreQuotedOnOneLine) {
  const std::string p = path("B.mtx");
  write_text(p, std::string("%%MatrixMarket matrix array real general\n2 1\n1\n\x01\xff\x1b[2Jx'\\\n", 57));
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 4: bad value '\\x01\\xFF\\x1B[2Jx\\x27\\x5C'"}, PETSC_ERR_FILE_UNEXPECTED);
  // A long word: at most 40 bytes shown.
  write_text(p, "%%MatrixMarket matrix array real general\n1 1\n" + std::string(100, 'y') + "\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 3: bad value '" + std::string(40, 'y') + "...'"});
  write_text(p, "%%MatrixMarket matrix \x7f\x80\n\n 1 1 1\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); }, {p + ": line 1: the banner needs 5 words"});
  write_text(p, "%%MatrixMarket matrix coordinate real gen\neral\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 1: unknown MatrixMarket symmetry 'gen'"});
  // A NUL byte would hide the rest of its line.
  write_text(p, std::string("%%MatrixMarket matrix array real general\n1 1\n1\0 2\n", 50));
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); }, {p + ": line 3: holds a NUL byte"});
  // A file name with a newline still gives one line (expect_error checks).
  const std::string q = path("new\nline.mtx");
  write_text(q, "x");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, q); }, {"new\\x0Aline.mtx: line 1: not a MatrixMarket file"});
}

// Peak resident memory of this process, in bytes.
double peak_rss() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

TEST_F(IoTest, DeclaredSizesAreCheckedBeforeAllocating) {
  const double before = peak_rss();
  const std::string p = path("big.mtx");
  // 60-odd bytes that declare 2^31 - 1 rows (used to end in std::bad_alloc).
  write_text(p, "%%MatrixMarket matrix coordinate real general\n2147483647 1 1\n1 1 1\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 2: declares a 2147483647x1 matrix with 1 entries; a coordinate file may "
                    "declare at most max(2^20, 1024 x entries) = 1048576 rows and columns"},
               PETSC_ERR_FILE_UNEXPECTED);
  write_text(p, "%%MatrixMarket matrix coordinate real general\n100000000 100000000 1\n1 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p + ": line 2: declares a 100000000x100000000"});
  // Array: every value is in the file, so its length bounds them.
  write_text(p, "%%MatrixMarket matrix array real general\n100000000 1\n1\n2\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": truncated: header promises 100000000 values (line 2), but the 4 bytes after "
                    "it can hold at most 2"},
               PETSC_ERR_FILE_READ);
  write_text(p, "%%MatrixMarket matrix coordinate real general\n10 10 99999999999\n1 1 1\n");
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); }, {p + ": line 2: 99999999999 entries cannot fit"});
  write_text(p, "%%MatrixMarket matrix coordinate real general\n4294967296 1 0\n");
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": line 2: row count 4294967296 is beyond the largest PetscInt (2147483647)"});
  // A sparse coordinate file may leave most rows empty, up to the limit.
  write_text(p, "%%MatrixMarket matrix coordinate real general\n1048576 1 1\n1048576 1 -2\n");
  OwnedVec v = io::read_vec(PETSC_COMM_WORLD, p);
  PetscReal norm1;
  VecNorm(v, NORM_1, &norm1);
  EXPECT_EQ(norm1, 2.0);
  // PETSc binary: the header's sizes against the file's length.
  const std::string b = path("big.bin");
  write_bytes(b, BinaryBytes().ints({1211214, 2147483647}).reals({1.0}).b);
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, b); },
               {b + ": truncated: header promises 2147483647 entries (17179869184 bytes), file has 16 bytes"},
               PETSC_ERR_FILE_READ);
  write_bytes(b, BinaryBytes().ints({1211216, 2147483647, 2147483647, 1, 1}).b);
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, b); }, {b + ": truncated: header promises 2147483647x2147483647"});
  const double grown = peak_rss() - before;
  EXPECT_LT(grown, 64.0 * 1048576) << "peak memory grew by " << grown / 1048576 << " MiB";
}

TEST_F(IoTest, BinaryRowFormat) {
  const std::string p = path("M.bin");
  auto mat = [&](std::initializer_list<long long> lengths, std::initializer_list<long long> cols) {
    BinaryBytes f;
    f.ints({1211216, static_cast<long long>(lengths.size()), 3, static_cast<long long>(cols.size())});
    f.ints(lengths).ints(cols);
    for (std::size_t k = 0; k < cols.size(); ++k) f.reals({1.0 + static_cast<double>(k)});
    write_bytes(p, f.b);
  };
  mat({2, 0, 2}, {0, 2, 1, 2});  // valid, with an empty row
  expect_dense(io::read_mat(PETSC_COMM_WORLD, p), 3, 3, {1, 0, 2, 0, 0, 0, 0, 3, 4});
  mat({2, 0, 2}, {2, 0, 1, 2});
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": nonzero 1 (row 0) has column index 0 after 2: the column indices of a row "
                    "must be strictly increasing (unsorted)"},
               PETSC_ERR_FILE_UNEXPECTED);
  mat({2, 0, 2}, {0, 2, 1, 1});
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": nonzero 3 (row 2) has column index 1 after 1", "(a duplicate entry)"});
  mat({1, 1, 2}, {0, 3, 1, 2});
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": nonzero 1 (row 1) has column index 3, outside the 3 columns"});
  mat({2, 0, 1}, {0, 2, 1, 2});
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": row lengths add up to 3, but the header says 4 nonzeros"});
  mat({4, 0, 0}, {0, 1, 2, 2});
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": row 0 has length 4, not between 0 and the 3 columns"});
  write_bytes(p, BinaryBytes().ints({1211216, 2, 2, -1}).reals({1, 2, 3, 4}).b);
  expect_dense(io::read_mat(PETSC_COMM_WORLD, p), 2, 2, {1, 2, 3, 4});  // the dense format, row by row
  write_bytes(p, BinaryBytes().ints({1234567, 2, 2, 0, 0, 0}).b);
  expect_error([&] { io::read_mat(PETSC_COMM_WORLD, p); },
               {p + ": not a PETSc binary matrix (class id 1234567)"});
  // Two objects in one file: the second is trailing data.
  BinaryBytes two;
  two.ints({1211214, 1}).reals({5}).ints({1211214, 1}).reals({6});
  write_bytes(p, two.b);
  expect_error([&] { io::read_vec(PETSC_COMM_WORLD, p); },
               {p + ": file has 32 bytes, but the header implies 16 (1 entries): trailing data"});
}

TEST_F(IoTest, BinaryWrittenByHandMatchesPetsc) {
  // Our writer produces PETSc's own format: compare with PETSc's VecView/MatView bytes.
  OwnedVec v = make_vec(kAwkward);
  OwnedMat A = make_mat(7, 6);
  io::write_vec(path("v.bin"), v);
  io::write_mat(path("A.bin"), A);
  for (int k = 0; k < 2; ++k) {
    PetscViewer viewer;
    PetscViewerBinaryOpen(PETSC_COMM_WORLD, path(k ? "A.petsc" : "v.petsc").c_str(), FILE_MODE_WRITE, &viewer);
    PetscViewerBinarySetSkipInfo(viewer, PETSC_TRUE);
    if (k)
      MatView(A, viewer);
    else
      VecView(v, viewer);
    PetscViewerDestroy(&viewer);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  EXPECT_EQ(read_text(path("v.bin")), read_text(path("v.petsc")));
  EXPECT_EQ(read_text(path("A.bin")), read_text(path("A.petsc")));
  EXPECT_GT(read_text(path("A.bin")).size(), 16u);
}

TEST_F(IoTest, NotARegularFile) {
  Watchdog dog(120, "reading a FIFO, a socket or a device");
  if (rank() == 0) {
    ASSERT_EQ(mkfifo(path("fifo.mtx").c_str(), 0600), 0);
    ASSERT_EQ(mkfifo(path("fifo.bin").c_str(), 0600), 0);
    std::filesystem::create_symlink("/dev/zero", path("zero.mtx"));
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  int sock = -1;
  if (rank() == 0) {  // a socket bound in the directory
    sock = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    const std::string sp = path("sock.mtx");
    ASSERT_LT(sp.size(), sizeof addr.sun_path);
    std::strcpy(addr.sun_path, sp.c_str());
    ASSERT_EQ(bind(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {path("fifo.mtx"), "not a regular file (a FIFO)"},
      {path("fifo.bin"), "not a regular file (a FIFO)"},
      {path("zero.mtx"), "not a regular file (a character device)"},
      {"/dev/zero", "not a regular file (a character device)"},
      {path("sock.mtx"), "not a regular file (a socket)"}};
  for (const auto& c : cases) {
    expect_error([&] { io::read_vec(PETSC_COMM_WORLD, c.first); }, {c.first + ": cannot open: " + c.second},
                 PETSC_ERR_FILE_OPEN);
    expect_error([&] { io::read_mat(PETSC_COMM_WORLD, c.first); }, {c.first + ": cannot open: " + c.second});
  }
  // Nor is a FIFO or a device replaced by an output.
  OwnedVec v = make_vec({1, 2});
  expect_error([&] { io::write_vec(path("fifo.mtx"), v); },
               {path("fifo.mtx") + ": cannot write: exists and is not a regular file (a FIFO)"});
  if (sock >= 0) close(sock);
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"fifo.bin", "fifo.mtx", "sock.mtx", "zero.mtx"}));
}

TEST_F(IoTest, OutputsNeverOverwriteInputs) {
  write_text(path("q.mtx"), "%%MatrixMarket matrix array real general\n2 1\n1\n2\n");
  write_text(path("g.q.mtx"), "%%MatrixMarket matrix array real general\n2 1\n3\n4\n");
  if (rank() == 0) {
    std::filesystem::create_directory(path("sub"));
    std::filesystem::create_symlink(path("q.mtx"), path("sub/link.mtx"));
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  const std::string q_text = read_text(path("q.mtx")), g_text = read_text(path("g.q.mtx"));
  // Read under other spellings of their names.
  OwnedVec q = io::read_vec(PETSC_COMM_WORLD, dir_ + "/./q.mtx");
  OwnedVec g = io::read_vec(PETSC_COMM_WORLD, path("sub/../g.q.mtx"));
  OwnedVec x = make_vec({7, 8});
  const std::vector<std::string> names = {path("q.mtx"), path("sub/link.mtx"), dir_ + "//q.mtx"};
  for (const std::string& out : names)
    expect_error([&] { io::write_vec(out, x); },
                 {out + ": refusing to overwrite an input of this run (read as " + dir_ + "/./q.mtx)"},
                 PETSC_ERR_ARG_WRONG);
  // A block file of -grad_out that is an input: nothing of the set is written.
  io::OutputSet set(PETSC_COMM_WORLD);
  set.add(path("x.mtx"), x);
  set.add(io::block_path(path("g.mtx"), "q"), x);
  expect_error([&] { set.check(); },  // early, as a program may before a long solve
               {path("g.q.mtx") + ": refusing to overwrite an input of this run"});
  expect_error([&] { set.commit(); },
               {path("g.q.mtx") + ": refusing to overwrite an input of this run (read as " +
                path("sub/../g.q.mtx") + ")"});
  EXPECT_EQ(read_text(path("q.mtx")), q_text);
  EXPECT_EQ(read_text(path("g.q.mtx")), g_text);
  EXPECT_EQ(list_dir(dir_), (std::vector<std::string>{"g.q.mtx", "q.mtx", "sub"}));
  // An input that has been deleted no longer counts (its inode may be reused by a new file).
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank() == 0) std::filesystem::remove(path("g.q.mtx"));
  MPI_Barrier(PETSC_COMM_WORLD);
  io::write_vec(path("g.q.mtx"), x);
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("g.q.mtx")), {7, 8});
  // One file named twice in a set.
  io::OutputSet twice(PETSC_COMM_WORLD);
  twice.add(path("y.mtx"), x);
  twice.add(dir_ + "/sub/../y.mtx", x);
  expect_error([&] { twice.commit(); },
               {dir_ + "/sub/../y.mtx: the same file as " + path("y.mtx") + ", both outputs of one set"});
  EXPECT_FALSE(std::filesystem::exists(path("y.mtx")));
}

// RLIMIT_FSIZE makes write(2) fail with EFBIG beyond `bytes` (SIGXFSZ ignored) on the ranks that
// call it, as a full disk would; restored on destruction.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(bool here, rlim_t bytes) : here_(here) {
    if (!here_) return;
    getrlimit(RLIMIT_FSIZE, &old_);
    old_sig_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old_;
    lim.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    if (!here_) return;
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, old_sig_);
  }

 private:
  bool here_;
  struct rlimit old_;
  void (*old_sig_)(int) = SIG_DFL;
};

TEST_F(IoTest, FullDiskOnAnyRankFailsCleanly) {
  const PetscInt n = 40000;  // 320 KB in binary, ~800 KB as text; each rank's part is past 64 KB
  std::vector<double> values(static_cast<std::size_t>(n));
  for (PetscInt i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = 1.0 / (i + 3.0);
  OwnedVec v = make_vec(values);
  OwnedMat A = make_mat(200, 200);
  OwnedVec small = make_vec({1, 2, 3});
  for (int limited : {0, comm_size() - 1}) {
    for (const char* name : {"x.bin", "x.mtx", "A.bin", "A.mtx"}) {
      const std::string p = path(name);
      const bool mat = name[0] == 'A';
      Watchdog dog(120, std::string("a write of ") + name + " on a full disk");
      {
        // The matrix is smaller: a lower limit so that every rank's part is beyond it.
        FileSizeLimit limit(rank() == limited, mat ? 2048 : 65536);
        io::OutputSet out(PETSC_COMM_WORLD);
        out.add(path("first.mtx"), small);  // written before the failing one: must not stay
        if (mat)
          out.add(p, A);
        else
          out.add(p, v);
        expect_error([&] { out.commit(); }, {p + ": cannot write: File too large"});
      }
      EXPECT_EQ(list_dir(dir_), std::vector<std::string>{}) << name << ", limit on rank " << limited;
    }
  }
  // Without the limit the same set is written.
  io::write_vec(path("x.bin"), v);
  expect_values(io::read_vec(PETSC_COMM_WORLD, path("x.bin")), values);
}

// The signal handler removes the temporaries and re-raises with the previous disposition: here a
// handler that only counts, so the process survives to check (the kill itself is tested by
// tests/fuzz/kill_test.sh). Rank 0 signals itself once the first temporary exists.
std::atomic<int> g_sigterm_count{0};
void count_sigterm(int) { g_sigterm_count.fetch_add(1); }

TEST_F(IoTest, SignalRemovesTemporaries) {
  Watchdog dog(120, "the interrupted OutputSet");
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = count_sigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, &old);
  g_sigterm_count = 0;
  std::vector<double> values(100000, 0.1);
  OwnedVec v = make_vec(values);
  io::OutputSet out(PETSC_COMM_WORLD);
  for (int k = 0; k < 12; ++k) out.add(path("x" + std::to_string(k) + ".mtx"), v);
  std::atomic<bool> stop{false};
  std::thread killer;
  if (rank() == 0)
    killer = std::thread([&] {
      while (!stop) {
        for (const auto& e : std::filesystem::directory_iterator(dir_))
          if (e.path().filename().string().find(".tmp.") != std::string::npos) {
            kill(getpid(), SIGTERM);
            return;
          }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  try {
    out.commit();
    ADD_FAILURE() << "the commit was not interrupted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(": not written: interrupted by signal 15"), std::string::npos) << msg;
    EXPECT_TRUE(e.collective());
  }
  stop = true;
  if (killer.joinable()) killer.join();
  sigaction(SIGTERM, &old, nullptr);
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank() == 0) EXPECT_EQ(g_sigterm_count.load(), 1);  // the previous handler, once
  EXPECT_EQ(list_dir(dir_), std::vector<std::string>{});
  // The handler is gone after the commit: a later SIGTERM goes straight to the previous one.
}

}  // namespace
