#!/usr/bin/env bash
# Tests of the foldopt command-line program (registered with CTest by cli_tests.cmake).
#
#   run_cli_tests.sh CASE NP FOLDOPT WORKDIR MPIEXEC [MPIEXEC_FLAGS...]
#   run_cli_tests.sh list          the cases, one a line
#
# CASE is one of the cases below (or `all`); NP the number of ranks (the `np_consistency` case
# runs 1 and 2 itself); FOLDOPT the executable; WORKDIR a scratch directory (the case works in
# WORKDIR/CASE.npNP, removed and recreated first). PYTHON (default python3) runs cli_data.py,
# which writes the small input files and computes the reference values.
#
# Every error case checks: a nonzero exit (not the 60 s timeout), exactly one line containing
# `foldopt: error` on stderr that names the input and the cause, no report on stdout, and an
# output directory left empty (no output file, no temporary file).
#
# By hand, from the build directory:
#   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
#     ../tests/cli/run_cli_tests.sh all 2 ./foldopt /tmp/cli "$(command -v mpiexec)" --oversubscribe
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
DATA="$HERE/cli_data.py"
TIMEOUT=60

ERROR_CASES="missing_file missing_dldx malformed_mtx truncated_mtx truncated_bin size_h_q size_h_dldx
  nan_q pinf_lb minf_ub nan_dldx lb_gt_ub nonsquare_h nonsymmetric_h unknown_problem unused_option
  unused_late_option bad_option_value outdir_missing_x outdir_missing_grad output_is_directory
  output_path_is_directory backward_not_converged forward_not_converged forward_closed_missing forward_tao_unsuitable unrolled_tape_too_large"
CASES="default log_view view_to_file roundtrip_mtx roundtrip_bin np_consistency $(for c in $ERROR_CASES; do printf 'error_%s ' "$c"; done)"

if [ "${1:-}" = list ]; then
  for c in $CASES; do echo "$c"; done
  exit 0
fi
if [ $# -lt 5 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
CASE=$1 NP=$2 EXE=$3 WORKROOT=$4 MPIEXEC=$5
shift 5
MPIFLAGS=("$@")
EXE="$(cd "$(dirname "$EXE")" && pwd)/$(basename "$EXE")"
# A job that ends with a nonzero code makes Open MPI wait a second per process before SIGKILL.
export OMPI_MCA_odls_base_sigkill_timeout=0

fail() {
  echo "FAIL [$CASE np$NP]: $*" >&2
  exit 1
}

# run NP OUT ERR args...: foldopt under mpiexec with a timeout; sets RC.
run() {
  local np=$1 out=$2 err=$3
  shift 3
  echo "+ mpiexec -n $np foldopt $*"
  timeout -k 5 "$TIMEOUT" "$MPIEXEC" "${MPIFLAGS[@]}" -n "$np" "$EXE" "$@" >"$out" 2>"$err"
  RC=$?
  if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
    cat "$err" >&2
    fail "foldopt did not finish within $TIMEOUT s (a hang?)"
  fi
}

show() {  # show a file's contents, indented
  sed 's/^/    | /' "$1"
}

# expect_success ARGS...: run at NP; exit 0, empty stderr.
# -log_view shows the engine's phases as PETSc events.
case_log_view() {
  expect_success -n 400 -warm_start_steps 0 -fold_stepsize auto -fold_backward jacobian -log_view
  local ev
  for ev in FoldForward FoldBackward FoldAdjointSolve FoldAssemble FoldRho FoldStepsize; do
    grep -q "^$ev  *1 " "$W/stdout" || fail "-log_view has no line for event $ev called once"
  done
  echo "ok: -log_view lists the foldopt events"
}

# -fold_view takes a PETSc viewer: the layer's report goes to the file named.
case_view_to_file() {
  expect_success -n 400 -warm_start_steps 0 -fold_view "ascii:$OUT/report.txt"
  [ -f "$OUT/report.txt" ] || fail "-fold_view ascii:FILE wrote no file"
  grep -q '^backward: krylov gmres, pc none' "$OUT/report.txt" || fail "the viewed report has no backward line"
  grep -q '^forward: tao tron' "$OUT/report.txt" || fail "the viewed report has no forward line"
  echo "ok: -fold_view wrote the report to a file"
}

expect_success() {
  run "$NP" "$W/stdout" "$W/stderr" "$@"
  show "$W/stdout"
  [ "$RC" -eq 0 ] || { show "$W/stderr"; fail "exit code $RC"; }
  if grep -q . "$W/stderr"; then
    show "$W/stderr"
    fail "a successful run wrote to stderr"
  fi
}

# expect_error "SUBSTRING|SUBSTRING..." ARGS...: the error contract, with OUT=$W/out as the output directory.
expect_error() {
  local want=$1
  shift
  run "$NP" "$W/stdout" "$W/stderr" "$@"
  echo "  exit code $RC; stderr:"
  show "$W/stderr"
  [ "$RC" -ne 0 ] || fail "exit code 0 for a run that must fail"
  local n
  n=$(grep -c 'foldopt: error' "$W/stderr")
  [ "$n" -eq 1 ] || fail "expected exactly one 'foldopt: error' line on stderr, got $n"
  local line
  line=$(grep 'foldopt: error' "$W/stderr")
  case "$line" in
    "foldopt: error: "*) ;;
    *) fail "the error line does not start with 'foldopt: error: ' (a rank-local error?): $line" ;;
  esac
  local IFS='|'
  for s in $want; do
    case "$line" in
      *"$s"*) ;;
      *) fail "the error line does not contain '$s'" ;;
    esac
  done
  unset IFS
  if grep -q . "$W/stdout"; then
    show "$W/stdout"
    fail "a failed run printed a report on stdout"
  fi
  # ALLOWED: an entry the case itself put in $OUT.
  if [ -n "$(ls -A "$OUT" | grep -v -x -F "${ALLOWED:-}")" ]; then
    ls -la "$OUT"
    fail "output directory $OUT is not empty after a failed run"
  fi
  echo "  ok: one error line naming '${want//|/' and '}', no output"
}

W="$WORKROOT/$CASE.np$NP"
if [ -z "$WORKROOT" ] || [ "$W" = "/" ]; then fail "bad work directory"; fi
rm -rf "$W"
mkdir -p "$W/out" || fail "cannot create $W"
OUT="$W/out"
cd "$W" || exit 1

case_default() {
  expect_success
  local pat
  for pat in '^foldopt: problem qp_box, 10000 unknowns, '"$NP"' rank' \
             '^forward: tao tron, CONVERGED_' \
             '^fixed-point residual ' \
             '^rho(Phi) = [0-9.]* ' \
             '^backward: krylov gmres, pc none' \
             '^  CONVERGED_RTOL in [0-9]* iterations' \
             '^x\* vs the generated solution: max abs difference ' \
             '^dL/dq: 2-norm ' '^dL/dlb: 2-norm ' '^dL/dub: 2-norm ' \
             '^time: setup [0-9.]* s, forward [0-9.]* s, rho [0-9.]* s, backward [0-9.]* s, total [0-9.]* s$' \
             '^peak resident memory: [0-9.]* MiB per rank (max), [0-9.]* MiB in all$'; do
    grep -q -- "$pat" "$W/stdout" || fail "no report line matching '$pat'"
  done
  local err
  err=$(sed -n 's/^x\* vs the generated solution: max abs difference //p' "$W/stdout")
  "$PYTHON" -c "import sys; sys.exit(0 if float('$err') <= 1e-8 else 1)" ||
    fail "x* differs from the generated solution by $err (> 1e-8)"
  echo "ok: report complete; x* matches the generated solution ($err)"
}

# The same hand-made QP from MatrixMarket or PETSc binary files; x* and every gradient block
# against the values cli_data.py computes independently.
case_roundtrip() {
  local fmt=$1 ext=$2
  "$PYTHON" "$DATA" qp "$W/in" "$fmt" || fail "cli_data.py qp"
  local i="$W/in"
  expect_success -Hmat "$i/H.$fmt" -q "$i/q.$fmt" -lb "$i/lb.$fmt" -ub "$i/ub.$fmt" -dLdx "$i/g.$fmt" \
    -x_out "$OUT/x.$ext" -grad_out "$OUT/g.$ext" -fold_fwd_type snes -fold_fwd_snes_atol 1e-14
  [ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = "g.lb.$ext g.q.$ext g.ub.$ext x.$ext " ] ||
    { ls -la "$OUT"; fail "unexpected set of output files"; }
  "$PYTHON" "$DATA" check "$i" "$OUT/x.$ext" "$OUT/g.$ext" || fail "x* or a gradient differs from the reference"
}

# A generated problem at 1 and 2 ranks (rows split unevenly across the batch boundary) gives the
# same x* and gradients.
case_np_consistency() {
  local args np f
  for args in "-n 1001 -batch 2 -seed 5" "-n 900 -seed 11 -active_pattern block -fold_backward jacobian"; do
    for np in 1 2; do
      mkdir -p "$W/np$np"
      # shellcheck disable=SC2086
      run "$np" "$W/np$np/stdout" "$W/np$np/stderr" $args -x_out "$W/np$np/x.mtx" -grad_out "$W/np$np/g.mtx"
      [ "$RC" -eq 0 ] || { show "$W/np$np/stderr"; fail "exit code $RC at np=$np"; }
    done
    for f in x g.q g.lb g.ub; do
      "$PYTHON" "$DATA" compare "$W/np1/$f.mtx" "$W/np2/$f.mtx" || fail "$f differs between np=1 and np=2 ($args)"
    done
    rm -rf "$W/np1" "$W/np2"
  done
}

# Inputs with one defect (cli_data.py bad), read with outputs requested into $OUT.
error_with_files() {
  local bad=$1 want=$2 H=${3:-H.mtx}
  shift 3 2>/dev/null || shift $#
  "$PYTHON" "$DATA" bad "$W/in" "$bad" || fail "cli_data.py bad $bad"
  local i="$W/in"
  expect_error "$want" -Hmat "$i/$H" -q "$i/q.mtx" -lb "$i/lb.mtx" -ub "$i/ub.mtx" -dLdx "$i/g.mtx" \
    -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" "$@"
}

# A generated problem with outputs requested into $OUT and extra options.
error_generated() {
  local want=$1
  shift
  expect_error "$want" -n 100 -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" "$@"
}

run_case() {
  case "$1" in
    default) case_default ;;
    log_view) case_log_view ;;
    view_to_file) case_view_to_file ;;
    roundtrip_mtx) case_roundtrip mtx mtx ;;
    roundtrip_bin) case_roundtrip bin bin ;;
    np_consistency) case_np_consistency ;;
    error_missing_file)
      expect_error "$W/nosuch.mtx|cannot open|No such file" -Hmat "$W/nosuch.mtx" -q "$W/nosuch_q.mtx" \
        -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" ;;
    error_missing_dldx) error_generated "$W/nosuch_g.mtx|cannot open" -dLdx "$W/nosuch_g.mtx" ;;
    error_malformed_mtx) error_with_files malformed_mtx "$W/in/H.mtx|line 6|bad value" ;;
    error_truncated_mtx) error_with_files truncated_mtx "$W/in/q.mtx|truncated|10|7" ;;
    error_truncated_bin) error_with_files truncated_bin "$W/in/H.bin|truncated" H.bin ;;
    error_size_h_q) error_with_files size_q "$W/in/q.mtx|9|10|the rows of $W/in/H.mtx" ;;
    error_size_h_dldx) error_with_files size_dldx "$W/in/g.mtx|9|10" ;;
    error_nan_q) error_with_files nan_q "$W/in/q.mtx|NaN" ;;
    error_pinf_lb) error_with_files pinf_lb "$W/in/lb.mtx|+inf" ;;
    error_minf_ub) error_with_files minf_ub "$W/in/ub.mtx|-inf" ;;
    error_nan_dldx) error_with_files nan_dldx "$W/in/g.mtx|NaN" ;;
    error_lb_gt_ub) error_with_files lb_gt_ub "$W/in/lb.mtx|$W/in/ub.mtx|lb > ub" ;;
    error_nonsquare_h) error_with_files nonsquare_h "$W/in/H.mtx|not square" ;;
    error_nonsymmetric_h) error_with_files nonsymmetric_h "$W/in/H.mtx|not symmetric" ;;
    error_unknown_problem)
      expect_error "nosuch|unknown problem" -problem nosuch -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" ;;
    error_unused_option) error_generated "-fold_ksp_typo gmres|unused option" -fold_ksp_typo gmres ;;
    # An option of a prefix read only late in the run (checked after the solve, before writing).
    error_unused_late_option) error_generated "-fold_pc_typo jacobi|unused option" -fold_pc_typo jacobi ;;
    # A bad option value fails inside PETSc on every rank alike: still one line, not one per rank.
    error_bad_option_value) error_generated "nosuch|KSP type" -fold_ksp_type nosuch ;;
    error_outdir_missing_x)
      expect_error "$W/no_such_dir/x.mtx|cannot write" -n 100 -x_out "$W/no_such_dir/x.mtx" -grad_out "$OUT/g.mtx" ;;
    # x* is written (to a temporary) before the gradient fails: it must not stay behind.
    error_outdir_missing_grad)
      expect_error "$W/no_such_dir/g.q.mtx|cannot write" -n 100 -x_out "$OUT/x.mtx" -grad_out "$W/no_such_dir/g.mtx" ;;
    # A destination that is a directory, met after x* and dL/dq could have been moved into place.
    error_output_is_directory)
      mkdir "$OUT/g.lb.mtx"
      ALLOWED=g.lb.mtx error_generated "$OUT/g.lb.mtx|Is a directory" ;;
    error_output_path_is_directory)
      expect_error "-grad_out $OUT/|names a directory" -n 100 -x_out "$OUT/x.mtx" -grad_out "$OUT/" ;;
    error_backward_not_converged)
      error_generated "richardson|did not converge" -fold_ksp_type richardson -fold_ksp_max_it 2 ;;
    error_forward_not_converged)
      error_generated "nrichardson|did not converge" -fold_fwd_type snes -fold_fwd_snes_max_it 2 ;;
    # A forward solver that cannot handle the problem is refused at set-up, before any solve.
    error_forward_closed_missing)
      error_generated "closed|closed form only when H is diagonal" -fold_fwd_type closed ;;
    error_forward_tao_unsuitable)
      error_generated "lmvm|does not handle bound constraints" -fold_fwd_tao_type lmvm ;;
    error_unrolled_tape_too_large)
      error_generated "unrolled: tape|-fold_unrolled_max_memory" -fold_backward unrolled -fold_unrolled_steps 100000 \
        -fold_unrolled_max_memory 1M ;;
    *) fail "unknown case '$1' (run_cli_tests.sh list)" ;;
  esac
}

if [ "$CASE" = all ]; then
  failed=""
  for c in $CASES; do
    if ( CASE=$c; W="$WORKROOT/$c.np$NP"; rm -rf "$W"; mkdir -p "$W/out"; OUT="$W/out"; cd "$W" && run_case "$c" ) \
      >"$WORKROOT/$c.np$NP.log" 2>&1; then
      echo "ok   $c"
    else
      echo "FAIL $c (log: $WORKROOT/$c.np$NP.log)"
      failed="$failed $c"
    fi
  done
  [ -z "$failed" ] || { echo "failed:$failed"; exit 1; }
  exit 0
fi

case " $CASES " in
  *" $CASE "*) ;;
  *) fail "unknown case '$CASE' (run_cli_tests.sh list)" ;;
esac
run_case "$CASE"
echo "PASS [$CASE np$NP]"
