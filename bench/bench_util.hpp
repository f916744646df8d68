// bench/bench_util.hpp: what every benchmark program of bench/ shares.
//
// Method: a program measures phases (a PETSc log stage each, so -log_view breaks them down, and
//   a wall-clock time, the maximum over ranks, with its own peak memory, foldopt::memory), writes
//   one or more CSV files (rank 0; '#' lines first: the command, the machine and the instance;
//   then a header row and the rows) and prints the same rows as a Markdown table.
//   The machine's memory bandwidth is measured by a STREAM-like triad a = b + s·c on PETSc
//   vectors (24 bytes an entry: two reads and a write), the best of several repetitions; a
//   backward that must read and write B bytes at least once cannot take less than B / bandwidth
//   (its "bandwidth floor"), and the suite quotes every backward as a multiple of it.
// References: J. D. McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
//   Computers", IEEE TCCA Newsletter (1995) (the triad kernel).
//
// Conventions (bench/README.md): every program reads -output_dir DIR (default bench/results) and
// -quick (a small configuration for bench/run --quick and the CTest smoke runs), and ends with
// "bench error: ..." and exit code 1 on failure (run_main below).
#ifndef FOLDOPT_BENCH_UTIL_HPP
#define FOLDOPT_BENCH_UTIL_HPP

#include <foldopt/error.hpp>
#include <foldopt/handle.hpp>
#include <foldopt/memory.hpp>

#include <petscsys.h>
#include <petscvec.h>
#include <slepcsys.h>

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace foldopt {
namespace bench {

/// -output_dir and -quick, and the command line (for the CSV header).
struct Args {
  std::string output_dir = "bench/results";
  bool quick = false;
  std::string command;
};

inline Args read_args(MPI_Comm comm, int argc, char** argv) {
  Args a;
  char dir[PETSC_MAX_PATH_LEN] = "";
  PetscBool set = PETSC_FALSE, quick = PETSC_FALSE;
  PetscOptionsGetString(nullptr, nullptr, "-output_dir", dir, sizeof dir, &set);
  if (set) a.output_dir = dir;
  PetscOptionsGetBool(nullptr, nullptr, "-quick", &quick, nullptr);
  a.quick = quick;
  int size = 1;
  MPI_Comm_size(comm, &size);
  std::ostringstream cmd;
  if (size > 1) cmd << "mpiexec -n " << size << " ";
  for (int i = 0; i < argc; ++i) cmd << (i ? " " : "") << argv[i];
  a.command = cmd.str();
  return a;
}

/// Options set in the PETSc database for a scope (a generated instance's -n, a method's -fold_
/// options) and cleared at its end or by clear(); an empty value sets a flag.
class OptionsScope {
 public:
  explicit OptionsScope(std::vector<std::pair<std::string, std::string>> opts) : opts_(std::move(opts)) {
    for (const auto& o : opts_)
      FOLDOPT_CALL(PetscOptionsSetValue(nullptr, o.first.c_str(), o.second.empty() ? nullptr : o.second.c_str()));
  }
  ~OptionsScope() { clear(); }
  OptionsScope(const OptionsScope&) = delete;
  OptionsScope& operator=(const OptionsScope&) = delete;
  void clear() {
    for (const auto& o : opts_) PetscOptionsClearValue(nullptr, o.first.c_str());
    opts_.clear();
  }

 private:
  std::vector<std::pair<std::string, std::string>> opts_;
};

/// Wall-clock seconds now.
inline double wall() {
  PetscLogDouble t;
  PetscTime(&t);
  return t;
}

inline double max_over(MPI_Comm comm, double v) {
  double m = v;
  MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, comm);
  return m;
}

/// One measured phase: a PETSc log stage named `name` (registered once), its wall time (the
/// maximum over ranks) and its memory (peak of its own, summed over ranks). Collective.
class Phase {
 public:
  Phase(MPI_Comm comm, const std::string& name) : comm_(comm), meter_(comm) {
    static std::map<std::string, PetscLogStage> stages;
    auto it = stages.find(name);
    if (it == stages.end()) {
      PetscLogStage s;
      PetscLogStageRegister(name.c_str(), &s);
      it = stages.emplace(name, s).first;
    }
    PetscLogStagePush(it->second);
    MPI_Barrier(comm_);
    t0_ = wall();
  }
  ~Phase() {
    if (!done_) PetscLogStagePop();
  }
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;
  /// End the phase: seconds (max over ranks) and memory.
  void stop() {
    if (done_) return;
    seconds_ = max_over(comm_, wall() - t0_);
    memory_ = meter_.finish();
    PetscLogStagePop();
    done_ = true;
  }
  double seconds() {
    stop();
    return seconds_;
  }
  const memory::Phase& memory() {
    stop();
    return memory_;
  }

 private:
  MPI_Comm comm_;
  memory::PhaseMeter meter_;
  double t0_ = 0, seconds_ = 0;
  memory::Phase memory_;
  bool done_ = false;
};

/// ‖a − ref‖₂ / ‖ref‖₂ (‖a − ref‖₂ when ref = 0). Collective.
inline double rel_diff(Vec a, Vec ref) {
  OwnedVec d;
  FOLDOPT_CALL(VecDuplicate(a, d.out()));
  FOLDOPT_CALL(VecWAXPY(d, -1.0, ref, a));
  PetscReal nd, nr;
  FOLDOPT_CALL(VecNorm(d, NORM_2, &nd));
  FOLDOPT_CALL(VecNorm(ref, NORM_2, &nr));
  return nr > 0 ? nd / nr : nd;
}

inline double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

/// The machine in one line: host, CPU model, cores, memory, ranks, PETSc version.
inline std::string machine(MPI_Comm comm) {
  struct utsname u;
  uname(&u);
  std::string cpu = "?";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  const double gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE) / (1024.0 * 1024 * 1024);
  int size = 1;
  MPI_Comm_size(comm, &size);
  char version[256];
  PetscGetVersion(version, sizeof version);
  std::ostringstream s;
  s << u.sysname << " " << u.release << ", " << cpu << ", " << sysconf(_SC_NPROCESSORS_ONLN) << " cores, "
    << (int)(gib + 0.5) << " GiB, " << size << " MPI rank" << (size > 1 ? "s" : "") << ", " << version;
  return s.str();
}

/// Memory bandwidth in bytes per second from the triad a = b + s·c over `n` entries (global),
/// best of `reps`; every rank works on its share at once, so this is the machine's aggregate
/// bandwidth for the ranks of `comm`. Collective.
inline double triad_bandwidth(MPI_Comm comm, PetscInt n, int reps = 10) {
  OwnedVec a, b, c;
  FOLDOPT_CALL(VecCreateMPI(comm, PETSC_DECIDE, n, b.out()));
  FOLDOPT_CALL(VecDuplicate(b, a.out()));
  FOLDOPT_CALL(VecDuplicate(b, c.out()));
  FOLDOPT_CALL(VecSet(b, 1.0));
  FOLDOPT_CALL(VecSet(c, 2.0));
  FOLDOPT_CALL(VecSet(a, 0.0));
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    MPI_Barrier(comm);
    const double t0 = wall();
    FOLDOPT_CALL(VecWAXPY(a, 3.0, c, b));
    best = std::min(best, max_over(comm, wall() - t0));
  }
  return 24.0 * (double)n / best;
}

/// A CSV file written by rank 0: '#' comment lines, a header row, then rows. The file appears
/// whole or not at all: rows go to DIR/.NAME.part, renamed to DIR/NAME by close().
class Csv {
 public:
  Csv(MPI_Comm comm, const std::string& dir, const std::string& name, const std::vector<std::string>& comments,
      const std::vector<std::string>& columns)
      : comm_(comm), path_(dir + "/" + name), part_(dir + "/." + name + ".part"), columns_(columns.size()) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int ok = 1;
    if (rank == 0) {
      f_ = std::fopen(part_.c_str(), "w");
      ok = f_ != nullptr;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (!ok) throw std::runtime_error("cannot write " + part_ + " (does -output_dir " + dir + " exist?)");
    if (!f_) return;
    for (const std::string& c : comments) std::fprintf(f_, "# %s\n", c.c_str());
    for (std::size_t i = 0; i < columns.size(); ++i) std::fprintf(f_, "%s%s", i ? "," : "", columns[i].c_str());
    std::fprintf(f_, "\n");
  }
  ~Csv() {
    if (f_) {
      std::fclose(f_);
      std::remove(part_.c_str());
    }
  }
  Csv(const Csv&) = delete;
  Csv& operator=(const Csv&) = delete;
  /// One row (every rank calls it with the same values; rank 0 writes).
  void row(const std::vector<std::string>& values) {
    if (values.size() != columns_) throw std::logic_error("csv row of " + path_ + ": wrong number of values");
    if (!f_) return;
    for (std::size_t i = 0; i < values.size(); ++i) std::fprintf(f_, "%s%s", i ? "," : "", values[i].c_str());
    std::fprintf(f_, "\n");
    std::fflush(f_);  // the rows of a run stopped midway stay readable in the .part file
  }
  /// Finish the file (collective); returns its path.
  std::string close() {
    int ok = 1;
    if (f_) {
      ok = std::fclose(f_) == 0 && std::rename(part_.c_str(), path_.c_str()) == 0;
      f_ = nullptr;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);
    if (!ok) throw std::runtime_error("cannot write " + path_);
    PetscPrintf(comm_, "wrote %s\n", path_.c_str());
    return path_;
  }

 private:
  MPI_Comm comm_;
  std::string path_, part_;
  std::size_t columns_;
  std::FILE* f_ = nullptr;
};

/// A number as CSV text (%.6g), an integer as itself.
inline std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}
inline std::string num(PetscInt v) { return std::to_string(static_cast<long long>(v)); }

/// main() of a bench program: SLEPc (and PETSc) initialized, errors returned by PETSc calls
/// (not aborted), exceptions turned into "bench error: ..." and exit code 1.
inline int run_main(int argc, char** argv, const char* help, const std::function<int(MPI_Comm, const Args&)>& body) {
  if (SlepcInitialize(&argc, &argv, nullptr, help)) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
  int code = 1;
  try {
    code = body(PETSC_COMM_WORLD, read_args(PETSC_COMM_WORLD, argc, argv));
  } catch (const std::exception& e) {
    PetscPrintf(PETSC_COMM_WORLD, "bench error: %s\n", e.what());
    code = 1;
  }
  PetscPopErrorHandler();
  SlepcFinalize();
  return code;
}

}  // namespace bench
}  // namespace foldopt

#endif  // FOLDOPT_BENCH_UTIL_HPP
