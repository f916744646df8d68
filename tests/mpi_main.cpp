// GoogleTest main for MPI tests: initializes SLEPc (and so PETSc and MPI), prints the normal
// progress from rank 0 only, prints every failure from every rank (prefixed "[rank r]" at more
// than one rank, with test name, file:line and message), and makes every rank return the same
// exit code: 1 if a test failed on any rank, else 77 (FOLDOPT_TEST_SKIPPED, CTest's
// SKIP_RETURN_CODE) if a test was skipped on any rank, else 0. Under AddressSanitizer,
// LeakSanitizer ignores what this thread allocates while SLEPc starts and ends (Open MPI's own
// start-up and shut-down allocations, which it never frees): every test's allocations are checked.
#include "test_util.hpp"

#include <slepcsys.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define FOLDOPT_LSAN_OFF() __lsan_disable()
#define FOLDOPT_LSAN_ON() __lsan_enable()
#else
#define FOLDOPT_LSAN_OFF() (void)0
#define FOLDOPT_LSAN_ON() (void)0
#endif

#include <cstdio>
#include <string>

namespace {

/// Prints each failed assertion of this rank as it happens, on stderr, with its rank.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  // The test's name is kept here: UnitTest::current_test_info() would take the lock that
  // GoogleTest holds while it calls OnTestPartResult.
  void OnTestStart(const ::testing::TestInfo& t) override {
    test_ = std::string(t.test_suite_name()) + "." + t.name();
  }
  void OnTestEnd(const ::testing::TestInfo&) override { test_ = "(outside a test)"; }
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] FAILED %s at %s:%d:\n[rank %d]   ", rank_, test_.c_str(),
                 r.file_name() ? r.file_name() : "unknown file", r.line_number(), rank_);
    for (const char* c = r.message(); *c; ++c) {
      std::fputc(*c, stderr);
      if (*c == '\n' && c[1]) std::fprintf(stderr, "[rank %d]   ", rank_);
    }
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  int rank_;
  std::string test_ = "(outside a test)";
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  FOLDOPT_LSAN_OFF();
  const PetscErrorCode init = SlepcInitialize(&argc, &argv, nullptr, nullptr);
  FOLDOPT_LSAN_ON();
  if (init) return 1;
  // PETSc errors become foldopt::Error exceptions inside tests; no traceback noise.
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  int rank = 0, size = 1;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  // Rank 0 keeps GoogleTest's own printer (which shows its failures in full); at np > 1 every rank
  // also reports its failures with its rank, so a failure seen on rank 1 alone is not silent.
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  if (size > 1) listeners.Append(new RankFailurePrinter(rank));
  const int failed = RUN_ALL_TESTS() ? 1 : 0;
  const int skipped = ::testing::UnitTest::GetInstance()->skipped_test_count() > 0 ? 1 : 0;
  int local[2] = {failed, skipped}, any[2] = {0, 0};
  MPI_Allreduce(local, any, 2, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  PetscPopErrorHandler();
  FOLDOPT_LSAN_OFF();
  SlepcFinalize();
  FOLDOPT_LSAN_ON();
  if (any[0]) return 1;
  return any[1] ? foldopt_test::kSkippedExitCode : 0;
}

#include <unistd.h>

namespace foldopt_test {
std::string temp_dir(const std::string& tag) {
  char buf[256] = {0};
  if (rank() == 0) {
    std::string templ = "/tmp/foldopt_" + tag + "_XXXXXX";
    std::snprintf(buf, sizeof buf, "%s", templ.c_str());
    if (!mkdtemp(buf)) buf[0] = 0;
  }
  MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, PETSC_COMM_WORLD);
  return buf;
}
}  // namespace foldopt_test
