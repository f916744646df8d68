// foldopt: small private helpers shared by the engine.
#ifndef FOLDOPT_SRC_CORE_UTIL_HPP
#define FOLDOPT_SRC_CORE_UTIL_HPP

#include <foldopt/params.hpp>

#include <string>

namespace foldopt {

/// Wall-clock seconds (PetscTime).
double wall_time();

/// max over instances b of ‖r_b‖₂ / ‖g_b‖₂ (‖r_b‖₂ where g_b = 0), for a batch layout.
PetscReal worst_instance_ratio(Vec r, Vec g, const Layout& layout);

/// Peak resident memory of this process in bytes (getrusage).
double peak_rss_bytes();

/// A message as one line: PETSc's messages may hold newlines (and tabs); each run of white
/// space becomes one blank (the executable's and the Python module's error lines).
std::string one_line(const std::string& m);

}  // namespace foldopt

#endif
