# Run an example under MPI and compare its standard output with a stored expected output (as the
# PETSc tutorials do). Called by CTest (examples/CMakeLists.txt):
#
#   cmake -DEXE=<program> -DNP=<ranks> -DMPIEXEC=<launcher> "-DMPIEXEC_FLAGS=<flags, space-separated>"
#         "-DARGS=<arguments, space-separated>" -DEXPECTED=<file.out> -DACTUAL=<file to write>
#         -P run_example.cmake
#
# The test fails if the program exits nonzero, takes longer than 300 s, or prints anything other
# than the expected lines (the examples print only stable text). stderr is shown, not compared.
foreach(v EXE NP MPIEXEC EXPECTED ACTUAL)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_example.cmake: -D${v}=... is required")
  endif()
endforeach()
separate_arguments(flags UNIX_COMMAND "${MPIEXEC_FLAGS}")
separate_arguments(args UNIX_COMMAND "${ARGS}")

string(REPLACE ";" " " shown "${args}")
message(STATUS "${MPIEXEC} -n ${NP} ${EXE} ${shown}")
execute_process(COMMAND ${MPIEXEC} ${flags} -n ${NP} ${EXE} ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
file(WRITE "${ACTUAL}" "${out}")
message("---- output ----\n${out}")
if(NOT err STREQUAL "")
  message("---- stderr ----\n${err}")
endif()
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "the example failed (exit status: ${rc})")
endif()

file(READ "${EXPECTED}" want)
string(REPLACE "\r\n" "\n" want "${want}")
string(REPLACE "\r\n" "\n" out "${out}")
if(NOT out STREQUAL want)
  # Show the first differing line.
  string(REPLACE ";" "\\;" out_e "${out}")
  string(REPLACE ";" "\\;" want_e "${want}")
  string(REPLACE "\n" ";" got_lines "${out_e}")
  string(REPLACE "\n" ";" want_lines "${want_e}")
  list(LENGTH got_lines ng)
  list(LENGTH want_lines nw)
  set(first "")
  set(k 0)
  while(k LESS ng OR k LESS nw)
    set(a "<none>")
    set(b "<none>")
    if(k LESS ng)
      list(GET got_lines ${k} a)
    endif()
    if(k LESS nw)
      list(GET want_lines ${k} b)
    endif()
    if(NOT a STREQUAL b)
      math(EXPR line "${k} + 1")
      set(first "line ${line}:\n  expected: ${b}\n  got:      ${a}")
      break()
    endif()
    math(EXPR k "${k} + 1")
  endwhile()
  message(FATAL_ERROR "the output differs from ${EXPECTED} (written to ${ACTUAL}); first difference at ${first}")
endif()
message(STATUS "output matches ${EXPECTED}")
