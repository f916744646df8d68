// foldopt: built-in update maps. Adding a map is adding its folder and one line here.
#include <foldopt/maps/admm.hpp>
#include <foldopt/maps/pgd.hpp>
#include <foldopt/maps/prox_grad.hpp>
#include <foldopt/maps/sqp.hpp>
#include <foldopt/update_map.hpp>

#include <foldopt/error.hpp>

namespace foldopt {
namespace detail {

namespace {
Problem& problem_of(const MapContext& c, const char* map) {
  FOLDOPT_CHECK(c.problem != nullptr, PETSC_ERR_ARG_NULL, "update map '%s' is built from a problem; none was given", map);
  return *c.problem;
}
template <typename M>
std::unique_ptr<UpdateMap> configured(const MapContext& c, const char* name) {
  std::unique_ptr<UpdateMap> m(new M(problem_of(c, name)));
  m->set_options_prefix(c.prefix);
  return m;
}
}  // namespace

void register_builtin_maps(MapRegistry& r) {
  r.add("pgd", [](const MapContext& c) { return configured<PgdMap>(c, "pgd"); });
  r.add("prox_grad", [](const MapContext& c) { return configured<ProxGradMap>(c, "prox_grad"); });
  r.add("sqp", [](const MapContext& c) { return configured<SqpMap>(c, "sqp"); });
  r.add("admm", [](const MapContext& c) { return AdmmMap::create(c); });
}

}  // namespace detail
}  // namespace foldopt
