// Tests of batch files (io::read_batch, OutputSet::add_batch, OutputSet::add_block) at np = 1
// and 2: round trips in both formats (B = 1 and 3, n = 5 and 40, bit-identical, values drawn by
// global index), hand-written MatrixMarket arrays and coordinate batches against known values,
// our writer's exact text, dense matrices written by PETSc's own MatView (native dense format
// and the default AIJ format) read back, our dense files read by PETSc's MatLoad into MATDENSE
// and byte-identical to MatView's, every block kind written as what it is, custom local splits,
// and the errors (instance length mismatch naming both sizes, a batch that is not a whole
// number of instances, damaged dense files, declared sizes a file cannot hold).
#include "test_util.hpp"

#include <foldopt/checks.hpp>
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>
#include <foldopt/params.hpp>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using foldopt::OwnedMat;
using foldopt::OwnedVec;
using foldopt_test::comm_size;
using foldopt_test::gather;
using foldopt_test::rank;
namespace io = foldopt::io;

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

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_values(Vec v, const std::vector<double>& want) {
  PetscInt n;
  VecGetSize(v, &n);
  ASSERT_EQ(n, static_cast<PetscInt>(want.size()));
  const std::vector<PetscScalar> got = gather(v);
  for (std::size_t k = 0; k < want.size(); ++k)
    EXPECT_TRUE(same_bits(got[k], want[k])) << "entry " << k << ": got " << got[k] << ", want " << want[k];
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& pieces,
                  PetscErrorCode code = 0) {
  try {
    f();
    ADD_FAILURE() << "no error raised (expected: " << pieces.front() << ")";
  } catch (const foldopt::Error& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(e.collective()) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    for (const std::string& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    if (code) EXPECT_EQ(e.code(), code) << msg;
  }
}

OwnedVec random_vec(PetscInt N, unsigned long seed) {
  OwnedVec v;
  VecCreate(PETSC_COMM_WORLD, v.out());
  VecSetSizes(v, PETSC_DECIDE, N);
  VecSetType(v, VECSTANDARD);
  foldopt::fill_random(v, seed);
  return v;
}

OwnedVec make_vec(const std::vector<double>& values) {
  OwnedVec v;
  VecCreate(PETSC_COMM_WORLD, v.out());
  VecSetSizes(v, PETSC_DECIDE, static_cast<PetscInt>(values.size()));
  VecSetType(v, VECSTANDARD);
  PetscInt rs, re;
  VecGetOwnershipRange(v, &rs, &re);
  for (PetscInt i = rs; i < re; ++i) VecSetValue(v, i, values[static_cast<std::size_t>(i)], INSERT_VALUES);
  VecAssemblyBegin(v);
  VecAssemblyEnd(v);
  return v;
}

// Entry (i, b) of the dense test batches: instance b, entry i.
double dense_entry(PetscInt i, PetscInt b) { return 100.0 * static_cast<double>(i) + static_cast<double>(b) + 0.125; }

// The batch of dense_entry values, instance after instance.
std::vector<double> dense_batch(PetscInt n, PetscInt B) {
  std::vector<double> out;
  for (PetscInt b = 0; b < B; ++b)
    for (PetscInt i = 0; i < n; ++i) out.push_back(dense_entry(i, b));
  return out;
}

// An n x B MATDENSE matrix of dense_entry values, rows split by PETSc.
OwnedMat dense_matrix(PetscInt n, PetscInt B) {
  OwnedMat A;
  MatCreateDense(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, n, B, nullptr, A.out());
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt b = 0; b < B; ++b) MatSetValue(A, i, b, dense_entry(i, b), INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  return A;
}

// PETSc's own MatView of A to `path` (native: PETSc's dense format; else its default, AIJ).
void petsc_view(Mat A, const std::string& path, bool native) {
  PetscViewer viewer;
  PetscViewerBinaryOpen(PETSC_COMM_WORLD, path.c_str(), FILE_MODE_WRITE, &viewer);
  PetscViewerBinarySetSkipInfo(viewer, PETSC_TRUE);
  if (native) PetscViewerPushFormat(viewer, PETSC_VIEWER_NATIVE);
  MatView(A, viewer);
  if (native) PetscViewerPopFormat(viewer);
  PetscViewerDestroy(&viewer);
  MPI_Barrier(PETSC_COMM_WORLD);
}

class IoBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = foldopt_test::temp_dir("io_batch");
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

// ---- round trips ----

TEST_F(IoBatchTest, RoundTripsBothFormats) {
  for (const char* ext : {"mtx", "bin"})
    for (PetscInt n : {5, 40})
      for (PetscInt B : {1, 3}) {
        const std::string p = path("x" + std::to_string(n) + "_" + std::to_string(B) + "." + ext);
        SCOPED_TRACE(p);
        OwnedVec v = random_vec(n * B, 100 + static_cast<unsigned long>(n + B));
        io::OutputSet out(PETSC_COMM_WORLD);
        out.add_batch(p, v, n);
        out.commit();
        const std::vector<PetscScalar> want = gather(v);
        for (PetscInt asked : {n, static_cast<PetscInt>(PETSC_DETERMINE)}) {
          PetscInt batch = -1;
          OwnedVec r = io::read_batch(PETSC_COMM_WORLD, p, asked, &batch);
          EXPECT_EQ(batch, B);
          expect_values(r, std::vector<double>(want.begin(), want.end()));
        }
        if (B == 1) {  // one instance is a plain vector file
          OwnedVec r = io::read_vec(PETSC_COMM_WORLD, p, PETSC_DECIDE, n);
          expect_values(r, std::vector<double>(want.begin(), want.end()));
        } else if (std::string(ext) == "mtx") {
          const std::string head = "%%MatrixMarket matrix array real general\n" + std::to_string(n) + " 3\n";
          EXPECT_EQ(read_text(p).substr(0, head.size()), head);
        }
      }
}

TEST_F(IoBatchTest, WriterTextIsColumnMajorArray) {
  const std::string p = path("b.mtx");
  io::OutputSet out(PETSC_COMM_WORLD);
  out.add_batch(p, make_vec({1, 2, 3, 4, 5, -0.5}), 2);
  out.commit();
  EXPECT_EQ(read_text(p), "%%MatrixMarket matrix array real general\n2 3\n1\n2\n3\n4\n5\n-0.5\n");
}

TEST_F(IoBatchTest, CustomLocalSplit) {
  const PetscInt n = 5, B = 3;
  OwnedVec v = random_vec(n * B, 5);
  const std::vector<PetscScalar> want = gather(v);
  for (const char* name : {"s.mtx", "s.bin"}) {
    const std::string p = path(name);
    io::OutputSet out(PETSC_COMM_WORLD);
    out.add_batch(p, v, n);
    out.commit();
    // Rank 0 keeps one entry, the last rank the rest: runs start and end inside instances.
    const PetscInt local = comm_size() == 1 ? n * B : (rank() == 0 ? 1 : (rank() == comm_size() - 1 ? n * B - 1 : 0));
    PetscInt batch = 0;
    OwnedVec r = io::read_batch(PETSC_COMM_WORLD, p, n, &batch, local);
    PetscInt nl;
    VecGetLocalSize(r, &nl);
    EXPECT_EQ(nl, local);
    EXPECT_EQ(batch, B);
    expect_values(r, std::vector<double>(want.begin(), want.end()));
  }
}

// ---- files written by others ----

TEST_F(IoBatchTest, HandWrittenMatrixMarket) {
  const std::string p = path("h.mtx");
  PetscInt B = 0;
  write_text(p, "%%MatrixMarket matrix array real general\n% two instances\n3 2\n1\n2\n3\n4\n5\n6.5\n");
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, 3, &B), {1, 2, 3, 4, 5, 6.5});
  EXPECT_EQ(B, 2);
  write_text(p, "%%MatrixMarket matrix array integer general\n2 3\n-1\n2\n-3\n4\n-5\n6\n");
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, PETSC_DETERMINE, &B), {-1, 2, -3, 4, -5, 6});
  EXPECT_EQ(B, 3);
  // A coordinate batch: the entries it does not list are zero.
  write_text(p, "%%MatrixMarket matrix coordinate real general\n3 2 2\n3 2 7\n1 1 5\n");
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, 3, &B), {5, 0, 0, 0, 0, 7});
  EXPECT_EQ(B, 2);
  // A row: one vector of 3, or 3 instances of 1 entry when instances of 1 are asked for.
  write_text(p, "%%MatrixMarket matrix array real general\n1 3\n7\n8\n9\n");
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, 3, &B), {7, 8, 9});
  EXPECT_EQ(B, 1);
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, PETSC_DETERMINE, &B), {7, 8, 9});
  EXPECT_EQ(B, 1);
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, 1, &B), {7, 8, 9});
  EXPECT_EQ(B, 3);
  // A column is one instance.
  write_text(p, "%%MatrixMarket matrix coordinate real general\n4 1 1\n2 1 3\n");
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, 4, &B), {0, 3, 0, 0});
  EXPECT_EQ(B, 1);
}

TEST_F(IoBatchTest, PetscMatViewDenseReadBack) {
  for (auto nb : {std::make_pair(7, 3), std::make_pair(40, 3), std::make_pair(3, 2000)}) {
    const PetscInt n = nb.first, B = nb.second;
    OwnedMat A = dense_matrix(n, B);
    for (bool native : {true, false}) {
      const std::string p = path(native ? "native.bin" : "aij.bin");
      SCOPED_TRACE(p + " n=" + std::to_string(n));
      petsc_view(A, p, native);
      PetscInt batch = 0;
      OwnedVec v = io::read_batch(PETSC_COMM_WORLD, p, n, &batch);
      EXPECT_EQ(batch, B);
      expect_values(v, dense_batch(n, B));
    }
  }
}

// n = 7, B = 3: at np 2 a rank holds one run of one or two values per row (the transposed path);
// n = 3, B = 2000: runs of 1000 values (read and written in place); n = 1: one row.
class IoDenseTest : public IoBatchTest, public ::testing::WithParamInterface<std::pair<PetscInt, PetscInt>> {};

TEST_F(IoBatchTest, SparseAijBatchFile) {
  // A 4 x 2 AIJ file (our write_mat, PETSc's AIJ binary format): entries it does not store are 0.
  OwnedMat A;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, 4, 2, 2, nullptr, 2, nullptr, A.out());
  PetscInt rs, re;
  MatGetOwnershipRange(A, &rs, &re);
  const PetscInt ri[3] = {0, 2, 3}, ci[3] = {1, 0, 1};
  const double vi[3] = {1.5, -2.0, 3.25};
  for (int k = 0; k < 3; ++k)
    if (ri[k] >= rs && ri[k] < re) MatSetValue(A, ri[k], ci[k], vi[k], INSERT_VALUES);
  MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY);
  const std::string p = path("sparse.bin");
  io::write_mat(p, A);
  PetscInt B = 0;
  expect_values(io::read_batch(PETSC_COMM_WORLD, p, 4, &B), {0, 0, -2.0, 0, 1.5, 0, 0, 3.25});
  EXPECT_EQ(B, 2);
}

TEST_F(IoBatchTest, BatchInputsAreNotOverwritten) {
  const std::string p = path("in.mtx");
  write_text(p, "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
  PetscInt B = 0;
  OwnedVec v = io::read_batch(PETSC_COMM_WORLD, p, 2, &B);
  io::OutputSet out(PETSC_COMM_WORLD);
  out.add_batch(p, v, 2);
  expect_error([&] { out.commit(); }, {p + ": refusing to overwrite an input of this run"});
  EXPECT_EQ(read_text(p), "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
}

TEST_P(IoDenseTest, OurDenseFileIsPetscs) {
  const PetscInt n = GetParam().first, B = GetParam().second;
  const std::string ours = path("ours.bin"), theirs = path("theirs.bin");
  io::OutputSet out(PETSC_COMM_WORLD);
  out.add_batch(ours, make_vec(dense_batch(n, B)), n);
  out.commit();
  petsc_view(dense_matrix(n, B), theirs, true);
  EXPECT_EQ(read_text(ours), read_text(theirs));
  EXPECT_EQ(read_text(ours).size(), 16u + 8u * n * B);
  // PETSc's MatLoad reads it into MATDENSE.
  OwnedMat A;
  MatCreate(PETSC_COMM_WORLD, A.out());
  MatSetType(A, MATDENSE);
  PetscViewer viewer;
  PetscViewerBinaryOpen(PETSC_COMM_WORLD, ours.c_str(), FILE_MODE_READ, &viewer);
  PetscViewerBinarySetSkipInfo(viewer, PETSC_TRUE);
  ASSERT_EQ(MatLoad(A, viewer), 0);
  PetscViewerDestroy(&viewer);
  PetscInt M, N, rs, re;
  MatGetSize(A, &M, &N);
  EXPECT_EQ(M, n);
  EXPECT_EQ(N, B);
  MatGetOwnershipRange(A, &rs, &re);
  for (PetscInt i = rs; i < re; ++i)
    for (PetscInt b = 0; b < B; ++b) {
      PetscScalar x;
      MatGetValues(A, 1, &i, 1, &b, &x);
      EXPECT_EQ(x, dense_entry(i, b)) << "(" << i << "," << b << ")";
    }
  // And read back.
  PetscInt batch = 0;
  expect_values(io::read_batch(PETSC_COMM_WORLD, ours, n, &batch), dense_batch(n, B));
  EXPECT_EQ(batch, B);
}

INSTANTIATE_TEST_SUITE_P(Shapes, IoDenseTest,
                         ::testing::Values(std::make_pair(PetscInt(7), PetscInt(3)),
                                           std::make_pair(PetscInt(3), PetscInt(2000)),
                                           std::make_pair(PetscInt(1), PetscInt(5))));

// ---- parameter blocks ----

TEST_F(IoBatchTest, BlocksWrittenAsWhatTheyAre) {
  // A 3x4 pattern, values 1..5 in CSR order: (0,1) (0,3) (1,0) (2,2) (2,3).
  OwnedMat P;
  MatCreateAIJ(PETSC_COMM_WORLD, PETSC_DECIDE, PETSC_DECIDE, 3, 4, 4, nullptr, 4, nullptr, P.out());
  const PetscInt pi[5] = {0, 0, 1, 2, 2}, pj[5] = {1, 3, 0, 2, 3};
  PetscInt rs, re;
  MatGetOwnershipRange(P, &rs, &re);
  for (int k = 0; k < 5; ++k)
    if (pi[k] >= rs && pi[k] < re) MatSetValue(P, pi[k], pj[k], -9.0, INSERT_VALUES);
  MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY);
  MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY);
  // The values Vec split as the pattern's rows.
  PetscInt nloc = 0;
  for (int k = 0; k < 5; ++k) nloc += (pi[k] >= rs && pi[k] < re) ? 1 : 0;
  OwnedVec values;
  VecCreateMPI(PETSC_COMM_WORLD, nloc, 5, values.out());
  PetscInt vs, ve;
  VecGetOwnershipRange(values, &vs, &ve);
  for (PetscInt k = vs; k < ve; ++k) VecSetValue(values, k, 1.0 + static_cast<double>(k), INSERT_VALUES);
  VecAssemblyBegin(values);
  VecAssemblyEnd(values);

  OwnedVec lambda = make_vec({0.4}), q = random_vec(12, 3), c = random_vec(4, 4);
  foldopt::ParamSet set;
  set.add("A.values", values, foldopt::BlockKind::matrix_values, P);
  set.add("lambda", lambda, foldopt::BlockKind::scalar);
  set.add("q", q, foldopt::BlockKind::instance);
  set.add("c", c, foldopt::BlockKind::shared);
  for (const char* ext : {"mtx", "bin"}) {
    const std::string g = path(std::string("g.") + ext);
    io::OutputSet out(PETSC_COMM_WORLD);
    for (std::size_t k = 0; k < set.size(); ++k) out.add_block(io::block_path(g, set[k].name), set[k], 3);  // q: 3 instances of 4
    out.commit();
    SCOPED_TRACE(g);
    // The matrix with its pattern (stored entries exactly the five) and the block's values.
    io::StorageRule aij;  // 5 of 12 entries: dense by density, but the pattern is the point here
    aij.storage = io::Storage::aij;
    OwnedMat A = io::read_mat(PETSC_COMM_WORLD, io::block_path(g, "A.values"), aij);
    MatInfo info;
    MatGetInfo(A, MAT_GLOBAL_SUM, &info);
    EXPECT_EQ(info.nz_used, 5.0);
    MatGetOwnershipRange(A, &rs, &re);
    for (int k = 0; k < 5; ++k)
      if (pi[k] >= rs && pi[k] < re) {
        PetscScalar x;
        MatGetValues(A, 1, &pi[k], 1, &pj[k], &x);
        EXPECT_EQ(x, 1.0 + k);
      }
    // The scalar: a 1x1 array / a Vec of one entry.
    if (std::string(ext) == "mtx")
      EXPECT_EQ(read_text(io::block_path(g, "lambda")), "%%MatrixMarket matrix array real general\n1 1\n0.40000000000000002\n");
    expect_values(io::read_vec(PETSC_COMM_WORLD, io::block_path(g, "lambda")), {0.4});
    // Per instance: 4 x 3; shared: a vector of 4.
    PetscInt B = 0;
    const std::vector<PetscScalar> qw = gather(q), cw = gather(c);
    expect_values(io::read_batch(PETSC_COMM_WORLD, io::block_path(g, "q"), 4, &B), std::vector<double>(qw.begin(), qw.end()));
    EXPECT_EQ(B, 3);
    expect_values(io::read_vec(PETSC_COMM_WORLD, io::block_path(g, "c"), PETSC_DECIDE, 4), std::vector<double>(cw.begin(), cw.end()));
  }
  // A "scalar" block of three entries is refused.
  foldopt::ParamSet bad;
  bad.add("lambda", c, foldopt::BlockKind::scalar);
  io::OutputSet out(PETSC_COMM_WORLD);
  expect_error([&] { out.add_block(path("l.mtx"), bad.block("lambda"), 4); },
               {path("l.mtx") + ": the scalar block 'lambda' has 4 entries, not 1"});
}

// ---- errors ----

TEST_F(IoBatchTest, InstanceLengthMismatchNamesBothSizes) {
  const std::string pm = path("m.mtx"), pb = path("m.bin"), pv = path("v.bin");
  write_text(pm, "%%MatrixMarket matrix array real general\n3 2\n1\n2\n3\n4\n5\n6\n");
  petsc_view(dense_matrix(7, 3), pb, true);
  io::write_vec(pv, make_vec({1, 2, 3, 4, 5}));
  PetscInt B = 0;
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, pm, 4, &B); },
               {pm + ": has instances of 3 entries (a 3x2 array, one instance per column), expected 4"},
               PETSC_ERR_ARG_SIZ);
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, pb, 4, &B); },
               {pb + ": has instances of 7 entries (a 7x3 matrix, one instance per column), expected 4"},
               PETSC_ERR_ARG_SIZ);
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, pv, 4, &B); }, {pv + ": has 5 entries, expected 4"},
               PETSC_ERR_ARG_SIZ);
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, pv, 0, &B); }, {pv + ": instance length 0 is not positive"});
}

TEST_F(IoBatchTest, BatchNotAWholeNumberOfInstances) {
  io::OutputSet out(PETSC_COMM_WORLD);
  OwnedVec v = random_vec(10, 1);
  expect_error([&] { out.add_batch(path("x.mtx"), v, 3); },
               {path("x.mtx") + ": a batch of 10 entries is not a whole number of instances of 3 entries"},
               PETSC_ERR_ARG_SIZ);
  expect_error([&] { out.add_batch(path("x.mtx"), v, 0); }, {path("x.mtx") + ": instance length 0 is not positive"});
  out.add_batch(path("x.mtx"), v, 5);
  expect_error([&] { out.add_batch(path("x.mtx"), v, 2); }, {path("x.mtx") + ": added twice to one OutputSet"});
  out.commit();
  PetscInt B = 0;
  io::read_batch(PETSC_COMM_WORLD, path("x.mtx"), 5, &B);
  EXPECT_EQ(B, 2);
}

TEST_F(IoBatchTest, DamagedDenseFiles) {
  const std::string p = path("d.bin");
  PetscInt B = 0;
  petsc_view(dense_matrix(7, 3), p, true);
  // read_mat reads it as MATDENSE (a dense file is dense; forced to AIJ by -mat_storage aij).
  {
    io::StorageChoice choice;
    OwnedMat D = io::read_mat(PETSC_COMM_WORLD, p, PETSC_DECIDE, &choice);
    EXPECT_EQ(io::storage_name(D), "dense");
    EXPECT_EQ(choice.describe(), "dense 7x3 (PETSc binary dense)");
    PetscInt drs, dre;
    MatGetOwnershipRange(D, &drs, &dre);
    for (PetscInt i = drs; i < dre; ++i)
      for (PetscInt b = 0; b < 3; ++b) {
        PetscScalar x = 0;
        MatGetValues(D, 1, &i, 1, &b, &x);
        EXPECT_EQ(x, dense_entry(i, b)) << i << "," << b;
      }
    io::StorageRule aij;
    aij.storage = io::Storage::aij;
    OwnedMat A = io::read_mat(PETSC_COMM_WORLD, p, aij, PETSC_DECIDE, &choice);
    EXPECT_EQ(io::storage_name(A), "aij");
    EXPECT_EQ(choice.describe(), "aij 7x3 (-mat_storage aij)");
  }
  if (rank() == 0) ASSERT_EQ(truncate(p.c_str(), 100), 0);
  MPI_Barrier(PETSC_COMM_WORLD);
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, 7, &B); },
               {p + ": truncated: header promises 7x3 dense (184 bytes), file has 100 bytes"}, PETSC_ERR_FILE_READ);
  petsc_view(dense_matrix(7, 3), p, true);
  if (rank() == 0) {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out << "junk";
  }
  MPI_Barrier(PETSC_COMM_WORLD);
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, 7, &B); }, {p + ": file has 188 bytes, but the header implies 184", "trailing data"});
  write_text(p, std::string("\x00\x12\x7b\x51\x00\x00\x00\x01", 8));
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, 7, &B); }, {p + ": not a PETSc binary vector or matrix (class id 1211217)"});
  write_text(p, std::string("\x00\x12", 2));
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, 7, &B); }, {p + ": truncated"});
  // A dense header whose size the file cannot hold: refused before allocating.
  write_text(p, std::string("\x00\x12\x7b\x50\x00\x10\x00\x00\x00\x00\x10\x00\xff\xff\xff\xff", 16));
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, PETSC_DETERMINE, &B); },
               {p + ": truncated: header promises 1048576x4096 dense"});
}

TEST_F(IoBatchTest, MatrixMarketBatchRules) {
  const std::string p = path("r.mtx");
  PetscInt B = 0;
  write_text(p, "%%MatrixMarket matrix coordinate real general\n3 2 2\n1 2 5\n1 2 6\n");
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, 3, &B); }, {p + ": line 4: entry (1,2) given twice"});
  write_text(p, "%%MatrixMarket matrix coordinate real general\n1000 2000 1\n1 1 1\n");
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, PETSC_DETERMINE, &B); },
               {p + ": declares a 1000x2000 coordinate batch with 1 entries", "at most max(2^20, 1024 x entries) = 1048576 values"});
  write_text(p, "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n");
  expect_error([&] { io::read_batch(PETSC_COMM_WORLD, p, 2, &B); }, {p + ": truncated"});
}

}  // namespace
