// bench/stream: the machine's memory bandwidth (STREAM-like triad a = b + s·c on PETSc vectors).
//
// Method: bench::triad_bandwidth (bench_util.hpp): 24 bytes an entry, best of 10 repetitions, all
//   ranks at once. The vectors are large against the caches (default 2·10⁷ entries, 480 MB) so
//   the figure is that of main memory; every backward of the suite is quoted as a multiple of the
//   time this bandwidth needs to read and write its data once.
// Writes <output_dir>/stream_np<P>.csv (n, bytes, seconds of the best repetition, GB/s).
//
// Run:   mpiexec -n 2 build/bench/stream [-n 20000000] [-quick] [-output_dir bench/results]
#include "bench_util.hpp"

namespace {

using namespace foldopt;

const char help[] = "STREAM-like triad: memory bandwidth of the machine for the ranks of the run.\n"
                    "  -n N           entries of each vector (default 2e7; -quick: 2e6)\n"
                    "  -reps R        repetitions, the best is kept (default 10)\n"
                    "  -output_dir D  where stream_np<P>.csv goes (default bench/results)\n";

int body(MPI_Comm comm, const bench::Args& args) {
  PetscInt n = args.quick ? 2000000 : 20000000, reps = 10;
  PetscOptionsGetInt(nullptr, nullptr, "-n", &n, nullptr);
  PetscOptionsGetInt(nullptr, nullptr, "-reps", &reps, nullptr);
  if (n < 1 || reps < 1) throw std::invalid_argument("-n and -reps must be positive");
  int size = 1;
  MPI_Comm_size(comm, &size);
  const double bw = bench::triad_bandwidth(comm, n, (int)reps);
  const double bytes = 24.0 * (double)n;
  bench::Csv csv(comm, args.output_dir, "stream_np" + std::to_string(size) + ".csv",
                 {"command: " + args.command, "machine: " + bench::machine(comm),
                  "triad a = b + 3 c, 24 bytes an entry, best of " + std::to_string(reps)},
                 {"n", "bytes", "seconds", "GB_per_s"});
  csv.row({bench::num(n), bench::num(bytes), bench::num(bytes / bw), bench::num(bw / 1e9)});
  csv.close();
  PetscPrintf(comm, "| ranks | n | triad GB/s |\n|---|---|---|\n| %d | %" PetscInt_FMT " | %.2f |\n", size, n, bw / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return foldopt::bench::run_main(argc, argv, help, body); }
