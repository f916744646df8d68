# Tests of the foldopt executable (target foldopt_cli), one CTest test per case and rank count,
# run by tests/cli/run_cli_tests.sh. Included from tests/CMakeLists.txt:
#   include(cli/cli_tests.cmake)
# The cases are listed by `run_cli_tests.sh list`; `ctest -L cli` runs them all. Each works in
# <build>/tests/cli_work/<case>.np<N>, where its logs and files stay for inspection.
find_program(FOLDOPT_BASH bash)
find_program(FOLDOPT_PYTHON3 NAMES python3 python)
set(_foldopt_cli_script ${CMAKE_CURRENT_LIST_DIR}/run_cli_tests.sh)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_foldopt_cli_script})

if(NOT FOLDOPT_BASH)
  # Without bash the cases cannot even be listed: one stand-in test that CTest reports as skipped.
  message(WARNING "foldopt CLI tests need bash: registered as one skipped test (cli_tests_need_bash)")
  add_test(NAME cli_tests_need_bash
           COMMAND ${CMAKE_COMMAND} -E echo "SKIPPED: the foldopt CLI tests need bash, not found at configure time")
  set_tests_properties(cli_tests_need_bash PROPERTIES SKIP_REGULAR_EXPRESSION "SKIPPED:" LABELS cli)
else()
  if(NOT FOLDOPT_PYTHON3)
    # The cases that need python3 (reference data, file checks) exit 77: CTest shows them skipped.
    message(WARNING "foldopt CLI tests: python3 not found; the cases that need it will show as skipped")
  endif()
  execute_process(COMMAND ${FOLDOPT_BASH} ${_foldopt_cli_script} list
                  OUTPUT_VARIABLE _foldopt_cli_cases OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _foldopt_cli_rc)
  if(NOT _foldopt_cli_rc EQUAL 0)
    message(FATAL_ERROR "${_foldopt_cli_script} list failed")
  endif()
  string(REPLACE "\n" ";" _foldopt_cli_cases "${_foldopt_cli_cases}")
  foreach(case IN LISTS _foldopt_cli_cases)
    if(case STREQUAL "np_consistency")
      set(_nps 2)  # runs 1 and 2 ranks itself and compares
      set(_name cli_np_consistency)
    else()
      set(_nps 1 2)
    endif()
    foreach(np IN LISTS _nps)
      if(NOT case STREQUAL "np_consistency")
        set(_name cli_${case}_np${np})
      endif()
      add_test(NAME ${_name}
               COMMAND ${FOLDOPT_BASH} ${_foldopt_cli_script} ${case} ${np} $<TARGET_FILE:foldopt_cli>
                       ${CMAKE_CURRENT_BINARY_DIR}/cli_work ${FOLDOPT_MPIEXEC} ${FOLDOPT_MPIEXEC_FLAGS})
      set_tests_properties(${_name} PROPERTIES
                           ENVIRONMENT "${FOLDOPT_TEST_ENV};PYTHON=${FOLDOPT_PYTHON3}"
                           SKIP_RETURN_CODE 77
                           PROCESSORS ${np} TIMEOUT 180 LABELS cli)
    endforeach()
  endforeach()
endif()
