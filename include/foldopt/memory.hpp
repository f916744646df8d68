// foldopt: resident memory of the processes, per phase.
//
// Method: on Linux the kernel keeps each process's peak resident set (VmHWM in /proc/self/status)
//   and lets a process reset it to the current resident set (writing "5" to /proc/self/clear_refs).
//   A phase therefore has a peak of its own: reset at its start, read at its end. Where the reset
//   is refused (not Linux, or a restricted /proc), the peak is the running maximum since the
//   process started (getrusage), and `Phase::own_peak` says so.
// Nesting: the reset is process-wide, so a phase that starts inside another (the layer's forward
//   inside a benchmark's phase) would wipe its parent's peak. Every PhaseMeter of the process is
//   therefore registered while it is open, and each reset first reads the peak so far into every
//   open meter; a meter's peak is max(those readings, the peak at its end). Parents and children
//   both keep peaks of their own, however deep the nesting, provided every reset goes through
//   reset_peak() (which is the only writer of clear_refs in foldopt).
// The values are summed over the ranks of a communicator (collective calls), since the ranks of a
// run on one machine share its memory: the sum of the ranks' own peaks (an upper bound of the
// simultaneous peak when the ranks peak at different times).
// Cost: one read of /proc/self/status (~10 µs) and one MPI_Allreduce per phase boundary.
// References: the Linux kernel's Documentation/filesystems/proc.rst (status, clear_refs).
#ifndef FOLDOPT_MEMORY_HPP
#define FOLDOPT_MEMORY_HPP

#include <mpi.h>

namespace foldopt {
namespace memory {

/// Resident bytes now, summed over `comm` (collective).
double current_bytes(MPI_Comm comm);
/// Peak resident bytes since the last reset_peak() (or the process start), summed over `comm`.
double peak_bytes(MPI_Comm comm);
/// Start a new phase: the peak becomes the current resident set (the peak so far is first handed
/// to every open PhaseMeter). Returns whether every rank could reset it (false: peaks are running
/// maxima since the start). Collective.
bool reset_peak(MPI_Comm comm);

/// One phase's memory: resident set at its start, its peak, and whether the peak is its own.
struct Phase {
  double start = 0;      ///< bytes at the start, summed over ranks
  double peak = 0;       ///< peak bytes during the phase (or the running maximum, see own_peak)
  bool own_peak = true;  ///< false where the kernel refused the reset
  bool measured = false; ///< false until a meter has filled it
};

/// Measures one phase: the constructor resets the peak, finish() reads it (both collective).
/// Open meters may nest (see the file header); a meter closes at finish() or destruction.
class PhaseMeter {
 public:
  explicit PhaseMeter(MPI_Comm comm);
  ~PhaseMeter();
  PhaseMeter(const PhaseMeter&) = delete;
  PhaseMeter& operator=(const PhaseMeter&) = delete;
  /// The phase so far; closes the meter (a second call returns the same reading).
  Phase finish();
  /// Fold a reading of this rank's peak (bytes) into the phase: called by reset_peak().
  void absorb(double local_peak) {
    if (local_peak > local_peak_) local_peak_ = local_peak;
  }

 private:
  void close();
  MPI_Comm comm_;
  Phase phase_;
  double local_peak_ = 0;  ///< this rank's largest peak read before a nested reset
  bool open_ = false;
};

}  // namespace memory
}  // namespace foldopt

#endif  // FOLDOPT_MEMORY_HPP
