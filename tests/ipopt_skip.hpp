// Shared by the tests that run the IPOPT forward: SKIP_WITHOUT_IPOPT() skips a test visibly (the
// program exits with 77, which CTest shows as skipped) when foldopt is built without IPOPT, and
// under AddressSanitizer, whose run time cannot load a module with RTLD_DEEPBIND (the plugin's
// isolation from PETSc's MUMPS).
#ifndef FOLDOPT_TESTS_IPOPT_SKIP_HPP
#define FOLDOPT_TESTS_IPOPT_SKIP_HPP

#include "test_util.hpp"

#include "forward/ipopt/ipopt_forward.hpp"

#include <gtest/gtest.h>

#define SKIP_WITHOUT_IPOPT()                                                                        \
  do {                                                                                              \
    if (!foldopt::ipopt_built_in()) GTEST_SKIP() << "built without IPOPT";                         \
    if (foldopt_test::address_sanitizer_on())                                                       \
      GTEST_SKIP() << "AddressSanitizer cannot load the IPOPT plugin (dlopen with RTLD_DEEPBIND)"; \
  } while (0)

#endif  // FOLDOPT_TESTS_IPOPT_SKIP_HPP
