// foldopt: resident memory per phase (see include/foldopt/memory.hpp).
//
// Method: VmRSS and VmHWM from /proc/self/status; "5" written to /proc/self/clear_refs resets
//   VmHWM to VmRSS (Linux ≥ 4.0). Fallback: getrusage's ru_maxrss (a running maximum).
//   Open meters are kept in a process-wide list; reset_peak() hands the peak so far to each of
//   them before it resets (nested phases, see memory.hpp).
// References: the Linux kernel's Documentation/filesystems/proc.rst (status, clear_refs).
#include <foldopt/memory.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace foldopt {
namespace memory {
namespace {

/// The value in kB of a "Name:   123 kB" line of /proc/self/status, or -1.
double status_kib(const char* name) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  double v = -1;
  const std::size_t len = std::strlen(name);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, name, len) == 0 && line[len] == ':') {
      v = std::strtod(line + len + 1, nullptr);
      break;
    }
  std::fclose(f);
  return v;
}

/// This rank's peak resident bytes since the last reset (or the running maximum).
double local_peak() {
  double kib = status_kib("VmHWM");
  if (kib < 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    kib = static_cast<double>(ru.ru_maxrss);
  }
  return kib * 1024.0;
}

/// The meters of this process that are open (a handful at most: one per nesting level).
std::vector<PhaseMeter*>& open_meters() {
  static std::vector<PhaseMeter*> m;
  return m;
}

double sum(MPI_Comm comm, double mine) {
  double all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_SUM, comm);
  return all;
}

}  // namespace

double current_bytes(MPI_Comm comm) {
  const double kib = status_kib("VmRSS");
  return sum(comm, kib < 0 ? 0 : kib * 1024.0);
}

double peak_bytes(MPI_Comm comm) { return sum(comm, local_peak()); }

bool reset_peak(MPI_Comm comm) {
  if (!open_meters().empty()) {
    const double before = local_peak();
    for (PhaseMeter* m : open_meters()) m->absorb(before);
  }
  int ok = 0;
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    ok = std::fputs("5", f) >= 0;
    ok = (std::fclose(f) == 0) && ok;
  }
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, comm);
  return all != 0;
}

PhaseMeter::PhaseMeter(MPI_Comm comm) : comm_(comm) {
  phase_.own_peak = reset_peak(comm_);  // hands the peak so far to the open (parent) meters
  phase_.start = current_bytes(comm_);
  open_meters().push_back(this);
  open_ = true;
}

PhaseMeter::~PhaseMeter() { close(); }

void PhaseMeter::close() {
  if (!open_) return;
  std::vector<PhaseMeter*>& m = open_meters();
  for (std::size_t i = m.size(); i-- > 0;)
    if (m[i] == this) {
      m.erase(m.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  open_ = false;
}

Phase PhaseMeter::finish() {
  if (!open_) return phase_;
  absorb(local_peak());
  close();
  phase_.peak = sum(comm_, local_peak_);
  phase_.measured = true;
  return phase_;
}

}  // namespace memory
}  // namespace foldopt
