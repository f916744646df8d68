// Tests of the test harness itself (tests/mpi_main.cpp), run by tests/memcheck/CMakeLists.txt
// with planted outcomes, each checked from the outside by tests/memcheck/expect_run.cmake:
//
//   FOLDOPT_PLANT=failure_rank1   an assertion fails on rank 1 only: the run fails and rank 1's
//                                 failure is printed, "[rank 1] FAILED ... at file:line";
//   FOLDOPT_PLANT=skip            a test skips on every rank: the run exits with 77;
//   FOLDOPT_PLANT=skip_rank1      a test skips on rank 1 only: the run exits with 77 too;
//   FOLDOPT_PLANT=leak            a test leaks 48 bytes (sanitizer builds: LeakSanitizer must
//                                 report it with the unit tests' one-rank environment);
//   (unset)                       everything passes: exit 0.
#include "test_util.hpp"

#include <cstdlib>
#include <string>

namespace {

std::string planted() {
  const char* p = std::getenv("FOLDOPT_PLANT");
  return p ? p : "";
}

TEST(Harness, FailureOnRankOne) {
  if (planted() == "failure_rank1") EXPECT_EQ(foldopt_test::rank() % 2, 0) << "planted failure on rank " << foldopt_test::rank();
}

TEST(Harness, Skip) {
  if (planted() == "skip") GTEST_SKIP() << "planted skip";
  if (planted() == "skip_rank1" && foldopt_test::rank() == 1) GTEST_SKIP() << "planted skip on rank 1";
}

TEST(Harness, Leak) {
  if (planted() != "leak") return;
  char* volatile p = static_cast<char*>(std::malloc(48));
  p[0] = 1;
  p = nullptr;  // the only pointer gone: a direct leak
}

TEST(Harness, Passes) { EXPECT_EQ(foldopt_test::comm_size() > 0, true); }

}  // namespace
