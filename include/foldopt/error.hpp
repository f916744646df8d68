// foldopt: errors of the public C++ API.
//
// Three zones (DESIGN.md §5): functions PETSc calls return PetscErrorCode and never let an exception
// escape; the public C++ API throws foldopt::Error; destructors never throw. FOLDOPT_CALL wraps
// every PETSc call made from C++ and turns a nonzero code into a foldopt::Error that carries the
// code and PETSc's own message.
#ifndef FOLDOPT_ERROR_HPP
#define FOLDOPT_ERROR_HPP

#include <petscsys.h>

#include <stdexcept>
#include <string>

namespace foldopt {

/// Error of the public API: a PETSc error code and a message naming the object and the cause.
/// `collective()` is true when every rank of the communicator raised the same error (the checks
/// of inputs are made collective before throwing), so a caller may finalize MPI normally; when
/// false, one rank may be alone and a program should abort the communicator instead of waiting.
class Error : public std::runtime_error {
 public:
  Error(PetscErrorCode code, const std::string& message, bool collective = true)
      : std::runtime_error(message), code_(code), collective_(collective) {}
  PetscErrorCode code() const noexcept { return code_; }
  bool collective() const noexcept { return collective_; }

 private:
  PetscErrorCode code_;
  bool collective_;
};

namespace detail {
[[noreturn]] void throw_petsc_error(PetscErrorCode code, const char* expr, const char* file,
                                    int line);
[[noreturn]] void throw_error(PetscErrorCode code, const std::string& message);
std::string format(const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
}  // namespace detail

/// Collective check: every rank of `comm` learns whether any rank failed `local_ok`; all throw the
/// same Error (the code and message of the lowest failing rank) so that no rank is left waiting.
void check_collective(MPI_Comm comm, bool local_ok, PetscErrorCode code,
                      const std::string& local_message);

/// Run `f`; a foldopt::Error it throws is thrown again with "`context`: " before its message
/// (same code and collectiveness), so that PETSc's messages name the option or step behind them.
template <typename F>
void with_context(const std::string& context, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    throw Error(e.code(), context + ": " + e.what(), e.collective());
  }
}

}  // namespace foldopt

/// Call a PETSc function from C++; throw foldopt::Error with PETSc's message if it fails.
#define FOLDOPT_CALL(...)                                                                   \
  do {                                                                                      \
    PetscErrorCode foldopt_ierr_ = (__VA_ARGS__);                                           \
    if (PetscUnlikely(foldopt_ierr_))                                                       \
      ::foldopt::detail::throw_petsc_error(foldopt_ierr_, #__VA_ARGS__, __FILE__, __LINE__); \
  } while (0)

/// Throw foldopt::Error(code, printf-style message) unless `cond` holds. Only for conditions that
/// every rank evaluates identically (options, global sizes, reduced values): the error is marked
/// collective. A condition on rank-local data goes through foldopt::check_collective instead.
#define FOLDOPT_CHECK(cond, code, ...)                                                   \
  do {                                                                                   \
    if (PetscUnlikely(!(cond)))                                                          \
      ::foldopt::detail::throw_error((code), ::foldopt::detail::format(__VA_ARGS__));    \
  } while (0)

#endif  // FOLDOPT_ERROR_HPP
