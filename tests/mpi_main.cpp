// GoogleTest main for MPI tests: initializes SLEPc (and so PETSc and MPI), prints from rank 0
// only, and makes every rank return the same exit code (failure anywhere is failure everywhere).
#include "test_util.hpp"

#include <slepcsys.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  // PETSc errors become foldopt::Error exceptions inside tests; no traceback noise.
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  int rank = 0;
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  int local_fail = RUN_ALL_TESTS() ? 1 : 0, any_fail = 0;
  MPI_Allreduce(&local_fail, &any_fail, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  PetscPopErrorHandler();
  SlepcFinalize();
  return any_fail;
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
