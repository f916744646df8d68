// foldopt: resident memory of the processes, per phase.
//
// Method: on Linux the kernel keeps each process's peak resident set (VmHWM in /proc/self/status)
//   and lets a process reset it to the current resident set (writing "5" to /proc/self/clear_refs).
//   A phase therefore has a peak of its own: reset at its start, read at its end. Where the reset
//   is refused (not Linux, or a restricted /proc), the peak is the running maximum since the
//   process started (getrusage), and `phase_peaks` says so.
// The values are summed over the ranks of a communicator (collective calls), since the ranks of a
// run on one machine share its memory.
#ifndef FOLDOPT_MEMORY_HPP
#define FOLDOPT_MEMORY_HPP

#include <mpi.h>

namespace foldopt {
namespace memory {

/// Resident bytes now, summed over `comm` (collective).
double current_bytes(MPI_Comm comm);
/// Peak resident bytes since the last reset_peak() (or the process start), summed over `comm`.
double peak_bytes(MPI_Comm comm);
/// Start a new phase: the peak becomes the current resident set. Returns whether every rank
/// could reset it (false: peaks are running maxima since the start). Collective.
bool reset_peak(MPI_Comm comm);

/// One phase's memory: resident set at its start, its peak, and whether the peak is its own.
struct Phase {
  double start = 0;      ///< bytes at the start, summed over ranks
  double peak = 0;       ///< peak bytes during the phase (or the running maximum, see own_peak)
  bool own_peak = true;  ///< false where the kernel refused the reset
};

/// Measures one phase: the constructor resets the peak, finish() reads it (both collective).
class PhaseMeter {
 public:
  explicit PhaseMeter(MPI_Comm comm);
  Phase finish();

 private:
  MPI_Comm comm_;
  Phase phase_;
};

}  // namespace memory
}  // namespace foldopt

#endif  // FOLDOPT_MEMORY_HPP
