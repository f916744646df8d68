// foldopt: built-in update maps. Adding a map is adding its folder and one line here.
#include <foldopt/maps/pgd.hpp>
#include <foldopt/update_map.hpp>

namespace foldopt {
namespace detail {

void register_builtin_maps(MapRegistry& r) {
  r.add("pgd", [](Problem& p) { return std::unique_ptr<UpdateMap>(new PgdMap(p)); });
}

}  // namespace detail
}  // namespace foldopt
