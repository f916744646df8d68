# Runs one program under a memory checker and judges the result. Called by CTest for the tests
# labelled `memcheck` (tests/memcheck/memcheck.cmake):
#
#   cmake -DTOOL=valgrind|malloc_dump -DEXE=<program> "-DARGS=<arguments, space-separated>"
#         -DNP=<ranks> -DMPIEXEC=<launcher> "-DMPIEXEC_FLAGS=<flags>" -DWORK=<directory for logs>
#         [-DVALGRIND=<valgrind> -DSUPP=<suppression file>] [-DEXIT_CODE=<n>|nonzero]
#         [-DEXPECT=leak|overflow|petsc_leak] -P run_memcheck.cmake
#
# valgrind: memcheck with --error-exitcode; every error, and every definite leak that the
#   suppression file does not name (Open MPI's own), fails the test. One log per rank in WORK.
# malloc_dump: the program runs with PETSc's -malloc_dump; any unfreed PETSc memory that it
#   reports at PetscFinalize fails the test.
# The program must exit with EXIT_CODE (default 0; `nonzero` for an expected error exit). Exit 77
# (a GoogleTest program that skipped tests) is printed as "memcheck: SKIPPED", which the test's
# SKIP_REGULAR_EXPRESSION turns into a skip. With EXPECT the test inverts: it passes only if the
# checker catches the planted error of that kind (tests/memcheck/planted.cpp).
foreach(v TOOL EXE NP MPIEXEC WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_memcheck.cmake: -D${v}=... is required")
  endif()
endforeach()
if(NOT DEFINED EXIT_CODE)
  set(EXIT_CODE 0)
endif()
separate_arguments(flags UNIX_COMMAND "${MPIEXEC_FLAGS}")
separate_arguments(args UNIX_COMMAND "${ARGS}")
set(vg_exit 97)  # valgrind's exit status when it found errors
file(MAKE_DIRECTORY "${WORK}")

if(TOOL STREQUAL "valgrind")
  file(GLOB old_logs "${WORK}/valgrind.*.log")
  if(old_logs)
    file(REMOVE ${old_logs})
  endif()
  set(cmd ${MPIEXEC} ${flags} -n ${NP} ${VALGRIND} --error-exitcode=${vg_exit} --leak-check=full
          --show-leak-kinds=definite --errors-for-leak-kinds=definite --num-callers=50
          --suppressions=${SUPP} --log-file=${WORK}/valgrind.%p.log ${EXE} ${args})
elseif(TOOL STREQUAL "malloc_dump")
  set(cmd ${MPIEXEC} ${flags} -n ${NP} ${EXE} ${args} -malloc_dump)
else()
  message(FATAL_ERROR "run_memcheck.cmake: unknown TOOL '${TOOL}' (valgrind, malloc_dump)")
endif()

string(REPLACE ";" " " shown "${cmd}")
message(STATUS "${shown}")
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("---- output ----\n${out}")
if(NOT err STREQUAL "")
  message("---- stderr ----\n${err}")
endif()

# What the checker found: `found` is a short description, empty when the run is clean.
set(found "")
set(report "")
if(TOOL STREQUAL "valgrind")
  file(GLOB logs "${WORK}/valgrind.*.log")
  if(NOT logs)
    message(FATAL_ERROR "memcheck: valgrind wrote no log in ${WORK} (exit status ${rc})")
  endif()
  foreach(log IN LISTS logs)
    file(READ "${log}" text)
    if(NOT text MATCHES "ERROR SUMMARY: ([0-9]+) errors")
      message(FATAL_ERROR "memcheck: valgrind did not finish (no ERROR SUMMARY in ${log}; exit status ${rc}):\n${text}")
    endif()
    if(NOT CMAKE_MATCH_1 EQUAL 0)
      set(found "${found}${CMAKE_MATCH_1} valgrind errors (${log}) ")
      set(report "${report}---- ${log} ----\n${text}\n")
    endif()
  endforeach()
  if(found STREQUAL "" AND rc EQUAL vg_exit)
    set(found "valgrind exit status ${vg_exit}")
  endif()
else()
  string(REGEX MATCHALL "\\[ *[0-9]+\\] *[0-9]+ bytes [^\n]* at [^\n]*:[0-9]+" dumped "${out}${err}")
  list(LENGTH dumped ndumped)
  if(ndumped GREATER 0)
    set(found "${ndumped} blocks of PETSc memory not freed at PetscFinalize (-malloc_dump)")
  endif()
endif()

if(DEFINED EXPECT AND NOT EXPECT STREQUAL "")
  # A planted error: the check must catch it, and catch it for the right reason.
  if(EXPECT STREQUAL "leak")
    set(want "definitely lost")
  elseif(EXPECT STREQUAL "overflow")
    set(want "Invalid write")
  elseif(EXPECT STREQUAL "petsc_leak")
    set(want "bytes VecCreate")
  else()
    message(FATAL_ERROR "run_memcheck.cmake: unknown EXPECT '${EXPECT}' (leak, overflow, petsc_leak)")
  endif()
  if(found STREQUAL "")
    message(FATAL_ERROR "memcheck: the planted ${EXPECT} was NOT caught by ${TOOL} (exit status ${rc})")
  endif()
  string(FIND "${report}${out}${err}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "memcheck: ${TOOL} failed the run (${found}) but not with \"${want}\":\n${report}")
  endif()
  message(STATUS "memcheck: the planted ${EXPECT} was caught by ${TOOL}: ${found}")
  return()
endif()

if(NOT found STREQUAL "")
  message(FATAL_ERROR "memcheck: ${TOOL} found ${found}\n${report}")
endif()
if(rc EQUAL 77)
  message("memcheck: SKIPPED (the program skipped tests; ${TOOL} found nothing in the rest)")
  return()
endif()
if(EXIT_CODE STREQUAL "nonzero")
  if(rc EQUAL 0 OR NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "memcheck: the program's exit status is ${rc}, expected an error exit")
  endif()
elseif(NOT rc STREQUAL EXIT_CODE)
  message(FATAL_ERROR "memcheck: the program's exit status is ${rc}, expected ${EXIT_CODE}")
endif()
message(STATUS "memcheck: ${TOOL} clean")
