// foldopt: registries of implementations by name (as KSPRegister / -ksp_type).
#ifndef FOLDOPT_REGISTRY_HPP
#define FOLDOPT_REGISTRY_HPP

#include <foldopt/error.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace foldopt {

/// Factories of `Base` by name. `Args` are what every factory receives.
template <typename Base, typename... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(Args...)>;

  /// Register (or replace) the factory for `name`.
  void add(const std::string& name, Factory f) { factories_[name] = std::move(f); }
  bool has(const std::string& name) const { return factories_.count(name) != 0; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : factories_) out.push_back(kv.first);
    return out;
  }
  /// The registered names, comma-separated (for help texts and errors).
  std::string list() const {
    std::string out;
    for (const auto& kv : factories_) out += (out.empty() ? "" : ", ") + kv.first;
    return out;
  }
  /// Create the implementation `name`; `what` names the registry in the error for unknown names.
  std::unique_ptr<Base> create(const std::string& what, const std::string& name,
                               Args... args) const {
    auto it = factories_.find(name);
    if (it == factories_.end())
      detail::throw_error(PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown " + what + " '" + name + "' (known: " + list() + ")");
    return it->second(std::forward<Args>(args)...);
  }

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace foldopt

#endif  // FOLDOPT_REGISTRY_HPP
