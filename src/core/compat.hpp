// foldopt: the one place where PETSc/SLEPc version differences live (built against 3.18).
#ifndef FOLDOPT_SRC_CORE_COMPAT_HPP
#define FOLDOPT_SRC_CORE_COMPAT_HPP

#include <petscmat.h>
// PetscObjectStateGet (a Vec's state, for caches keyed on it): 3.18 declares it only here.
#include <petsc/private/petscimpl.h>
#include <petscversion.h>

#include <exception>

namespace foldopt {
namespace compat {

/// 3.18 has no PETSC_SUCCESS.
constexpr PetscErrorCode success = 0;

/// MatShellSetOperation takes `void (*)(void)` in 3.18.
template <typename F>
inline void (*matop(F f))(void) {
  return reinterpret_cast<void (*)(void)>(f);
}

}  // namespace compat

namespace detail {
/// Run `f` inside a function PETSc calls: a C++ exception is kept in `slot` and turned into a
/// PETSc error (zone 1 of DESIGN.md §5); the caller rethrows after the PETSc call returns.
template <typename F>
PetscErrorCode guarded(std::exception_ptr& slot, F&& f) noexcept {
  try {
    f();
    return compat::success;
  } catch (...) {
    slot = std::current_exception();
    return PETSC_ERR_LIB;
  }
}
}  // namespace detail
}  // namespace foldopt

#endif
