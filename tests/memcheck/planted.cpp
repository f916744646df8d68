// A program with planted memory errors, to prove that the memcheck tests catch them
// (tests/memcheck/CMakeLists.txt): it starts PETSc and MPI as the real programs do, so the
// suppression files are in force, then, on request,
//
//   planted none         nothing (the control: must pass every check)
//   planted leak         loses a heap block of 64 bytes (valgrind: "definitely lost")
//   planted overflow     writes one byte past a 16-byte heap block (valgrind: "Invalid write")
//   planted petsc_leak   creates a PETSc Vec and never destroys it (-malloc_dump lists it)
//
// Usage: mpiexec -n 1 [valgrind ...] planted MODE [PETSc options]
#include <petscvec.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// volatile: the compiler must neither drop the planted allocations nor see through them.
void* volatile sink = nullptr;

void plant_leak() {
  char* p = static_cast<char*>(std::malloc(64));
  std::memset(p, 1, 64);
  sink = p;
  sink = nullptr;  // the only pointer to the block is gone: definitely lost
}

void plant_overflow() {
  char* p = static_cast<char*>(std::malloc(16));
  sink = p;
  volatile char* q = static_cast<char*>(sink);
  q[16] = 1;  // one past the end
  std::free(p);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: planted none|leak|overflow|petsc_leak [PETSc options]\n");
    return 2;
  }
  const char* mode = argv[1];
  if (PetscInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  int code = 0;
  if (!std::strcmp(mode, "leak")) {
    plant_leak();
  } else if (!std::strcmp(mode, "overflow")) {
    plant_overflow();
  } else if (!std::strcmp(mode, "petsc_leak")) {
    Vec v;
    VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, 100, &v);  // never destroyed
  } else if (std::strcmp(mode, "none") != 0) {
    std::fprintf(stderr, "planted: error: unknown mode '%s' (none, leak, overflow, petsc_leak)\n", mode);
    code = 2;
  }
  PetscPrintf(PETSC_COMM_WORLD, "planted: %s done\n", mode);
  PetscFinalize();
  return code;
}
