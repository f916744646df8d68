# The tests labelled `memcheck` (configure with -DFOLDOPT_MEMCHECK=ON, then `ctest -L memcheck`):
# programs of the tree run under valgrind (tests/memcheck/valgrind.supp) and with PETSc's
# -malloc_dump, judged by tests/memcheck/run_memcheck.cmake. Included from the top-level
# CMakeLists.txt; tests/, examples/ and tests/memcheck/ register their programs with
#
#   foldopt_add_memcheck(<name> NP <ranks> [EXIT_CODE <n>|nonzero] [EXPECT leak|overflow|petsc_leak]
#                        [TOOLS valgrind malloc_dump] COMMAND <program> <arguments...>)
#
# which adds memcheck_<tool>_<name> for each tool (both by default). Without FOLDOPT_MEMCHECK it
# does nothing, so the default suite does not pay for valgrind.
if(FOLDOPT_MEMCHECK)
  if(FOLDOPT_SANITIZE)
    message(FATAL_ERROR "FOLDOPT_MEMCHECK (valgrind) cannot run programs built with FOLDOPT_SANITIZE: "
                        "use two build directories")
  endif()
  find_program(FOLDOPT_VALGRIND valgrind)
  if(NOT FOLDOPT_VALGRIND)
    message(FATAL_ERROR "FOLDOPT_MEMCHECK is ON but valgrind is not found: install valgrind (.ci/setup does)")
  endif()
  message(STATUS "foldopt: memcheck tests ON (${FOLDOPT_VALGRIND}; ctest -L memcheck)")
endif()
set(FOLDOPT_MEMCHECK_DIR ${CMAKE_CURRENT_LIST_DIR})

function(foldopt_add_memcheck name)
  if(NOT FOLDOPT_MEMCHECK)
    return()
  endif()
  cmake_parse_arguments(M "" "NP;EXIT_CODE;EXPECT" "TOOLS;COMMAND" ${ARGN})
  if(NOT M_TOOLS)
    set(M_TOOLS valgrind malloc_dump)
  endif()
  if(NOT DEFINED M_EXIT_CODE)
    set(M_EXIT_CODE 0)
  endif()
  list(POP_FRONT M_COMMAND exe)
  string(REPLACE ";" " " args "${M_COMMAND}")
  string(REPLACE ";" " " flags "${FOLDOPT_MPIEXEC_FLAGS}")
  foreach(tool IN LISTS M_TOOLS)
    set(t memcheck_${tool}_${name})
    add_test(NAME ${t}
             COMMAND ${CMAKE_COMMAND} -DTOOL=${tool} -DEXE=${exe} "-DARGS=${args}" -DNP=${M_NP}
                     -DMPIEXEC=${FOLDOPT_MPIEXEC} "-DMPIEXEC_FLAGS=${flags}"
                     -DWORK=${PROJECT_BINARY_DIR}/memcheck_work/${t}
                     -DVALGRIND=${FOLDOPT_VALGRIND} -DSUPP=${FOLDOPT_MEMCHECK_DIR}/valgrind.supp
                     -DEXIT_CODE=${M_EXIT_CODE} -DEXPECT=${M_EXPECT}
                     -P ${FOLDOPT_MEMCHECK_DIR}/run_memcheck.cmake)
    set_tests_properties(${t} PROPERTIES ENVIRONMENT "${FOLDOPT_TEST_ENV}" PROCESSORS ${M_NP}
                         TIMEOUT 1200 LABELS memcheck SKIP_REGULAR_EXPRESSION "memcheck: SKIPPED")
  endforeach()
endfunction()
