// foldopt: a writer to be killed mid-write (tests/fuzz/kill_test.sh). Writes `pid.<rank>` into
// DIR, then one OutputSet of 16 vectors of 300000 entries (DIR/x<k>.mtx, about 6 MB each), then
// `done.<rank>` if it was not killed first.
#include <foldopt/error.hpp>
#include <foldopt/io.hpp>

#include <petscvec.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (PetscInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  int code = 0;
  try {
    if (argc < 2) throw foldopt::Error(PETSC_ERR_ARG_WRONG, "usage: io_kill_writer DIR");
    const std::string dir = argv[1];
    int rank = 0;
    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    auto touch = [&](const std::string& name, long value) {
      std::FILE* f = std::fopen((dir + "/" + name + "." + std::to_string(rank)).c_str(), "w");
      if (f) {
        std::fprintf(f, "%ld\n", value);
        std::fclose(f);
      }
    };
    foldopt::OwnedVec v;
    FOLDOPT_CALL(VecCreateMPI(PETSC_COMM_WORLD, PETSC_DECIDE, 300000, v.out()));
    FOLDOPT_CALL(VecSet(v, 1.0 / 3.0));
    touch("pid", static_cast<long>(getpid()));
    MPI_Barrier(PETSC_COMM_WORLD);
    foldopt::io::OutputSet out(PETSC_COMM_WORLD);
    for (int k = 0; k < 16; ++k) out.add(dir + "/x" + std::to_string(k) + ".mtx", v);
    out.commit();
    touch("done", 0);
  } catch (const foldopt::Error& e) {
    std::fprintf(stderr, "io_kill_writer: error: %s\n", e.what());
    code = 1;
  }
  PetscFinalize();
  return code;
}
