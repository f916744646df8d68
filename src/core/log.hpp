// foldopt: PETSc logging events of the engine's phases, so that -log_view shows where time goes.
#ifndef FOLDOPT_SRC_CORE_LOG_HPP
#define FOLDOPT_SRC_CORE_LOG_HPP

#include <petsclog.h>

namespace foldopt {

struct LogEvents {
  PetscLogEvent forward, backward, adjoint, assemble, rho, stepsize, unrolled;
};

/// The events (class "foldopt"), registered with PETSc on first use.
const LogEvents& log_events();

/// Begins an event for the lifetime of the object (ends it on every exit, exceptions included).
class LogScope {
 public:
  explicit LogScope(PetscLogEvent e) : e_(e) { PetscLogEventBegin(e_, 0, 0, 0, 0); }
  ~LogScope() { PetscLogEventEnd(e_, 0, 0, 0, 0); }
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  PetscLogEvent e_;
};

}  // namespace foldopt

#endif
