# Runs a command and checks its exit status and output (tests of the harness itself):
#
#   cmake "-DCMD=<command and arguments, space-separated>" -DEXIT_CODE=<n>|nonzero
#         ["-DREGEX=<regular expression the output or stderr must match>"] -P expect_run.cmake
foreach(v CMD EXIT_CODE)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "expect_run.cmake: -D${v}=... is required")
  endif()
endforeach()
separate_arguments(cmd UNIX_COMMAND "${CMD}")
message(STATUS "${CMD}")
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("---- output ----\n${out}\n---- stderr ----\n${err}")
if(EXIT_CODE STREQUAL "nonzero")
  if(rc EQUAL 0 OR NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "expect_run: exit status ${rc}, expected an error exit")
  endif()
elseif(NOT rc STREQUAL EXIT_CODE)
  message(FATAL_ERROR "expect_run: exit status ${rc}, expected ${EXIT_CODE}")
endif()
if(DEFINED REGEX AND NOT REGEX STREQUAL "" AND NOT "${out}\n${err}" MATCHES "${REGEX}")
  message(FATAL_ERROR "expect_run: the output does not match \"${REGEX}\"")
endif()
message(STATUS "expect_run: exit status ${rc} as expected")
