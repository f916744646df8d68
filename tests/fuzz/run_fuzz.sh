#!/bin/bash
# Builds tests/fuzz (clang, libFuzzer + ASan + UBSan) in its own build directory and runs the
# fuzz target for a fixed time with a fixed seed. Exit 77 (CTest: skipped) if clang++ or its
# libFuzzer runtime is missing. Usage:
#   run_fuzz.sh <tests/fuzz dir> <build dir> <seconds> <mpiexec> [mpiexec flags...]
set -u
src=$1 build=$2 seconds=$3
shift 3
mkdir -p "$build"
cxx=${FOLDOPT_FUZZ_CXX:-clang++}
cc=${FOLDOPT_FUZZ_CC:-clang}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: $cxx not found (install clang and libclang-rt-dev)"
  exit 77
fi
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$build/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer "$build/probe.cpp" -o "$build/probe" >"$build/probe.log" 2>&1; then
  echo "fuzz: SKIPPED: $cxx cannot link -fsanitize=fuzzer (install libclang-rt-dev): $(head -1 "$build/probe.log")"
  exit 77
fi
t0=$(date +%s)
cmake -S "$src" -B "$build/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_C_COMPILER="$cc" >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build/cmake" -j2 >"$build/build.log" 2>&1 || { tail -50 "$build/build.log"; exit 1; }
t1=$(date +%s)
echo "fuzz: built in $((t1 - t0)) s"
# New inputs go to a scratch corpus in the build directory; the seeds in the tree are only read.
rm -rf "$build/work" "$build/artifacts"
mkdir -p "$build/work" "$build/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# Leaks are checked after every input (libFuzzer -detect_leaks); not at exit, where Open MPI's
# plug-ins, unloaded by MPI_Finalize, leave start-up allocations that no stack can name.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/lsan.supp:print_suppressions=0:leak_check_at_exit=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# libFuzzer's own failure codes (77 for a crash or leak by default) must not read as a skip.
"$@" -n 1 "$build/cmake/fuzz_readers" -seed=1 -max_total_time="$seconds" -timeout=10 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 -artifact_prefix="$build/artifacts/" \
  "$build/work" "$src/corpus"
rc=$?
[ "$rc" -ne 77 ] || rc=1
ls "$build/artifacts" | grep -q . && { echo "fuzz: artifacts:"; ls "$build/artifacts"; [ "$rc" -ne 0 ] || rc=1; }
echo "fuzz: exit code $rc after $(( $(date +%s) - t1 )) s of fuzzing"
exit $rc
