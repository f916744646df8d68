# foldopt: tests of the I/O layer that need a process of their own (included from
# tests/CMakeLists.txt).
#
# 1. fuzz_io_readers (label `fuzz`): builds tests/fuzz (fuzz_readers.cpp with src/io and
#    src/core/error.cpp) with clang and -fsanitize=fuzzer,address,undefined in
#    <build>/fuzz/cmake, then runs it for 45 s with -seed=1 on the seed corpus tests/fuzz/corpus
#    (new inputs go to <build>/fuzz/work, crashes to <build>/fuzz/artifacts). SKIPPED (exit 77)
#    when clang++ or libFuzzer's runtime is missing: Debian packages `clang` and `libclang-rt-dev`
#    (clang 14: libclang-rt-14-dev). A longer run, e.g. an hour on 2 workers:
#      bash tests/fuzz/run_fuzz.sh tests/fuzz build/fuzz 3600 mpiexec --oversubscribe
#    or, after one short run, directly:
#      mpiexec -n 1 build/fuzz/cmake/fuzz_readers -max_total_time=3600 -timeout=10 \
#        -rss_limit_mb=2048 -max_len=4096 -jobs=2 -workers=2 build/fuzz/work tests/fuzz/corpus
#    (as root with OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; LSAN_OPTIONS as in
#    run_fuzz.sh). Regenerate the seeds with tests/fuzz/make_corpus.py.
# 2. io_kill_*: io_kill_writer is killed by SIGTERM or SIGINT while an OutputSet writes; no
#    temporary and no destination may remain, and the run must end (kill_test.sh).
add_test(NAME fuzz_io_readers
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run_fuzz.sh ${CMAKE_CURRENT_LIST_DIR}
                 ${PROJECT_BINARY_DIR}/fuzz 45 ${FOLDOPT_MPIEXEC} ${FOLDOPT_MPIEXEC_FLAGS})
set_tests_properties(fuzz_io_readers PROPERTIES LABELS fuzz SKIP_RETURN_CODE 77 TIMEOUT 300
                     PROCESSORS 2 ENVIRONMENT "${FOLDOPT_TEST_ENV}")

add_executable(io_kill_writer ${CMAKE_CURRENT_LIST_DIR}/kill_writer.cpp)
target_link_libraries(io_kill_writer PRIVATE foldopt)
foreach(kase IN ITEMS "1;TERM;0" "1;INT;0" "2;TERM;1" "2;INT;0")
  list(GET kase 0 np)
  list(GET kase 1 sig)
  list(GET kase 2 target)
  add_test(NAME io_kill_np${np}_${sig}_rank${target}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/kill_test.sh $<TARGET_FILE:io_kill_writer> ${np}
                   ${sig} ${target} ${FOLDOPT_MPIEXEC} ${FOLDOPT_MPIEXEC_FLAGS})
  set_tests_properties(io_kill_np${np}_${sig}_rank${target} PROPERTIES ENVIRONMENT "${FOLDOPT_TEST_ENV}"
                       PROCESSORS ${np} TIMEOUT 180 PASS_REGULAR_EXPRESSION "kill: ok")
endforeach()
