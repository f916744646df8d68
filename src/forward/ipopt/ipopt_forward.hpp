// foldopt: the `ipopt` forward solver (private header; the solver is in src/forward/ipopt_forward.cpp,
// the plugin it loads in src/forward/ipopt/plugin.cpp).
#ifndef FOLDOPT_SRC_FORWARD_IPOPT_IPOPT_FORWARD_HPP
#define FOLDOPT_SRC_FORWARD_IPOPT_IPOPT_FORWARD_HPP

#include <foldopt/forward.hpp>

#include <memory>
#include <string>
#include <vector>

namespace foldopt {

/// True when foldopt was configured with FOLDOPT_WITH_IPOPT (the plugin is built with it; whether
/// it can be loaded is only known when a solver is created).
bool ipopt_built_in();

/// The paths where the plugin is looked for, in order: $FOLDOPT_PLUGIN_DIR/foldopt_ipopt.so alone
/// if that variable is set and not empty, else the build directory, then the install directory
/// (${CMAKE_INSTALL_LIBDIR}/foldopt). Read at every solver creation.
std::vector<std::string> ipopt_plugin_candidates();

/// The `ipopt` forward solver. Throws foldopt::Error (collectively) if foldopt was built without
/// IPOPT, if the context has no Problem, or if the plugin cannot be found or loaded.
std::unique_ptr<ForwardSolver> make_ipopt_forward(const ForwardContext& ctx);

}  // namespace foldopt

#endif
