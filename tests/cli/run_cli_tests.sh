#!/usr/bin/env bash
# Tests of the foldopt command-line program (registered with CTest by cli_tests.cmake).
#
#   run_cli_tests.sh CASE NP FOLDOPT WORKDIR MPIEXEC [MPIEXEC_FLAGS...]
#   run_cli_tests.sh list          the cases, one a line
#
# CASE is one of the cases below (or `all`); NP the number of ranks (the `np_consistency` case
# runs 1 and 2 itself); FOLDOPT the executable; WORKDIR a scratch directory (the case works in
# WORKDIR/CASE.npNP, removed and recreated first). PYTHON (default python3) runs cli_data.py,
# which writes the small input files and computes the reference values; a case that needs it
# exits 77 (CTest's SKIP_RETURN_CODE: shown as skipped) when PYTHON cannot be run.
#
# Every error case checks: a nonzero exit (not the 60 s timeout), exactly one line of output in
# all (stderr is one line `foldopt: error: ...` naming the input and the cause, stdout is empty),
# and an output directory left empty (no output file, no temporary file). Successful runs are
# checked against independent references (cli_data.py: KKT conditions and dense solves).
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
  output_path_is_directory backward_not_converged forward_not_converged forward_closed_missing forward_tao_unsuitable unrolled_tape_too_large
  wrap_n wrap_batch wrap_product wrap_product_decide missing_value missing_value_petsc not_integer warm_steps_huge warm_steps_negative
  jacobian_max_size_negative stray_argument rtol_zero rtol_negative rtol_two check_fixed_point_zero
  options_file_missing view_unwritable pc_type_nonsense tao_type_nonsense snes_type_nonsense
  options_file_env_missing options_file_no_value type_missing_value real_not_number bool_not_boolean choice_unknown
  viewer_type_unknown stray_after_value ksp_max_it_zero int_wrap_petsc
  maximum_refused indefinite_unbounded empty_h empty_h_0x0 overflow_q check_minimum_steps_zero"
# Successful runs on the small inputs of the engine cases (cli_data.py engine).
ENGINE_CASES="maximum_accepted indefinite_bounded huge_bounds"
CASES="default generated_reference catalogue bilinear portfolio qp fpgdb help_lists_problems log_view view_to_file view_once roundtrip_mtx roundtrip_bin np_consistency $ENGINE_CASES $(for c in $ERROR_CASES; do printf 'error_%s ' "$c"; done)"

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
# ... and print a note on stderr ("Primary job terminated normally, but 1 process returned a
# non-zero exit code"): not foldopt's output, so silenced (other MPIs ignore the variable).
export OMPI_MCA_orte_execute_quiet=1

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
# REFUSE="SUBSTRING|...": substrings the error line must not contain.
expect_error() {
  local want=$1
  shift
  run "$NP" "$W/stdout" "$W/stderr" "$@"
  echo "  exit code $RC; stderr:"
  show "$W/stderr"
  [ "$RC" -ne 0 ] || fail "exit code 0 for a run that must fail"
  # Exactly one line in all: one on stderr (ending in a newline), nothing on stdout.
  local n
  n=$(wc -l <"$W/stderr")
  [ "$n" -eq 1 ] && [ "$(wc -c <"$W/stderr")" -eq "$(head -n 1 "$W/stderr" | wc -c)" ] ||
    fail "expected exactly one line on stderr, got $n line(s)"
  local line
  line=$(head -n 1 "$W/stderr")
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
  for s in ${REFUSE:-}; do
    case "$line" in
      *"$s"*) fail "the error line contains '$s'" ;;
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
  expect_success -x_out "$OUT/x.mtx" -problem_out "$OUT/p.mtx"
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
             '^peak resident memory: [0-9.]* MiB per rank (max), [0-9.]* MiB in all$' \
             '^memory: problem [0-9.]* MiB, forward peak [0-9.]* MiB, backward peak [0-9.]* MiB (all ranks)$'; do
    grep -q -- "$pat" "$W/stdout" || fail "no report line matching '$pat'"
  done
  # x* by the KKT conditions of the problem as written (not the program's own comparison).
  "$PYTHON" "$DATA" kkt "$OUT/p.mtx" "$OUT/x.mtx" || fail "x* does not satisfy the KKT conditions"
  echo "ok: report complete; x* satisfies the KKT conditions"
}

# Generated instances (one a batch of two): x* by the KKT conditions, every gradient block
# against a dense solve on the free set (cli_data.py kkt), from the files the run wrote
# (dL/dH.values = -(dL/dq)_i x*_j on H's pattern, from p.H.mtx, x.mtx and the solve).
case_generated_reference() {
  local args
  for args in "-n 400 -seed 3" "-n 144 -batch 2 -active_pattern block -fold_backward jacobian"; do
    rm -rf "$OUT" && mkdir -p "$OUT"
    # shellcheck disable=SC2086
    expect_success $args -warm_start_steps 0 -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -problem_out "$OUT/p.mtx"
    [ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = "g.H.values.mtx g.lb.mtx g.q.mtx g.ub.mtx p.H.mtx p.H.values.mtx p.dLdx.mtx p.lb.mtx p.q.mtx p.ub.mtx x.mtx " ] ||
      { ls -la "$OUT"; fail "unexpected set of output files ($args)"; }
    "$PYTHON" "$DATA" kkt "$OUT/p.mtx" "$OUT/x.mtx" "$OUT/g.mtx" || fail "x* or a gradient differs from the reference ($args)"
  done
}

# -fold_view to stdout: the layer's report once (the executable does not repeat it); flags given
# without a value (-fold_monitor, -fold_ksp_monitor, -log_view) are not taken for
# numbers left without their value.
case_view_once() {
  expect_success -n 400 -warm_start_steps 0 -fold_view -fold_monitor -fold_ksp_monitor -log_view
  local n
  n=$(grep -c '^backward: krylov gmres, pc none' "$W/stdout")
  [ "$n" -eq 1 ] || fail "the backward report is printed $n times"
  n=$(grep -c '^forward: tao tron' "$W/stdout")
  [ "$n" -eq 1 ] || fail "the forward report is printed $n times"
  echo "ok: -fold_view prints the report once"
}

# The catalogue's simplex problems from the command line: x* and the gradient files against the
# closed forms computed by cli_data.py (sparsemax from a -theta file holding a batch of 3, topk
# generated), and lasso's forward to a fixed-point residual of 1e-10 with its blocks written as
# what they are (y an m x B array, lambda a 1 x 1 array, X.values a matrix with X's pattern).
case_catalogue() {
  rm -rf "$OUT" && mkdir -p "$OUT" "$W/in"
  expect_success -problem sparsemax -n 20 -batch 3 -seed 4 -warm_start_steps 0 -problem_out "$W/in/p.mtx"
  expect_success -problem sparsemax -theta "$W/in/p.theta.mtx" -dLdx "$W/in/p.dLdx.mtx" -warm_start_steps 0 \
    -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -problem_out "$OUT/p.mtx" -fold_backward jacobian
  grep -q '^foldopt: problem sparsemax, 60 unknowns (3 instances of 20)' "$W/stdout" || fail "no batch of 3 read from the -theta file"
  "$PYTHON" "$DATA" simplex sparsemax "$OUT/p.mtx" "$OUT/x.mtx" "$OUT/g.mtx" 20 1 0 || fail "sparsemax differs from its closed form"
  rm -rf "$OUT" && mkdir -p "$OUT"
  expect_success -problem topk -n 40 -batch 2 -k 4 -epsilon 0.2 -seed 2 -warm_start_steps 0 \
    -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -problem_out "$OUT/p.mtx" -fold_ksp_rtol 1e-12
  "$PYTHON" "$DATA" simplex topk "$OUT/p.mtx" "$OUT/x.mtx" "$OUT/g.mtx" 40 4 0.2 || fail "topk differs from its closed form"
  rm -rf "$OUT" && mkdir -p "$OUT"
  expect_success -problem lasso -n 30 -batch 2 -seed 3 -warm_start_steps 0 -grad_out "$OUT/g.mtx" -fold_check_fixed_point 1e-10
  head -2 "$OUT/g.y.mtx" | grep -q '^60 2$' || fail "dL/dy is not a 60 x 2 array"
  head -2 "$OUT/g.lambda.mtx" | grep -q '^1 1$' || fail "dL/dlambda is not a 1 x 1 array"
  grep -q 'coordinate' "$OUT/g.X.values.mtx" || fail "dL/dX.values is not written as a matrix"
  echo "ok: sparsemax and topk against their closed forms, lasso's blocks as what they are"
}

# The nonconvex bilinear problem's generated default instance (m = 20, p = q = 3, quadratic
# smoothing mu = 1): the global forward (enumeration of the 1140 vertices of x) to a fixed-point
# residual of 1e-10; x* (a 40 x 1 array, x over y) feasible; the gradient files g.c and g.d (20 x 1
# arrays) nonzero, zero where the entry of x (of y) is at a bound, and summing to 0 on each side
# (on the free set the sums are constraints: E^T u = 0 in the KKT system).
case_bilinear() {
  rm -rf "$OUT" && mkdir -p "$OUT"
  expect_success -problem bilinear -warm_start_steps 0 -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -fold_check_fixed_point 1e-10
  grep -q '^forward: bilinear_global, CONVERGED (enumerated 1140 vertices of x' "$W/stdout" || fail "the forward did not enumerate the vertices"
  [ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = "g.c.mtx g.d.mtx x.mtx " ] || { ls -la "$OUT"; fail "unexpected set of output files"; }
  "$PYTHON" - "$OUT" <<'PYEOF' || fail "x* or the gradient files do not have the properties of the bilinear solution"
import sys
def array(path):
    rows = [l.split() for l in open(path) if l.strip() and not l.startswith('%')]
    m, n = int(rows[0][0]), int(rows[0][1])
    return m, n, [float(r[0]) for r in rows[1:]]
d = sys.argv[1]
m, n, s = array(d + '/x.mtx')
assert (m, n) == (40, 1), ('x', m, n)
x, y = s[:20], s[20:]
assert all(0 <= v <= 1 for v in s), 'x* outside [0, 1]'
assert abs(sum(x) - 3) < 1e-12 and abs(sum(y) - 3) < 1e-12, ('sums', sum(x), sum(y))
for name, side in (('c', x), ('d', y)):
    m, n, g = array(d + '/g.%s.mtx' % name)
    assert (m, n) == (20, 1), (name, m, n)
    norm = sum(v * v for v in g) ** 0.5
    assert norm > 1e-6, 'dL/d%s is zero' % name
    assert all(g[i] == 0 for i in range(20) if side[i] in (0.0, 1.0)), 'dL/d%s nonzero at a bound' % name
    assert abs(sum(g)) <= 1e-9 * norm, ('dL/d%s does not sum to 0' % name, sum(g))
print('ok: x* feasible; dL/dc, dL/dd on the free set, summing to 0')
PYEOF
  # -dLdx takes a 2m x B array (x over y): with dL/dx = x* itself dL/dc differs from the default loss's
  mkdir -p "$W/out2"
  expect_success -problem bilinear -warm_start_steps 0 -dLdx "$OUT/x.mtx" -grad_out "$W/out2/g.mtx"
  [ "$(ls -A "$W/out2" | sort | tr '\n' ' ')" = "g.c.mtx g.d.mtx " ] || { ls -la "$W/out2"; fail "unexpected set of output files (-dLdx)"; }
  cmp -s "$OUT/g.c.mtx" "$W/out2/g.c.mtx" && fail "-dLdx did not change dL/dc"
  echo "ok: bilinear from the command line"
}

# The generated default portfolio instance (SQP map, the problem's default forward): x* a
# portfolio (Σx = 1, x ≥ 0), dL/dc a 20 x 1 array and dL/dgamma a 1 x 1 array, the fixed point
# polished below 1e-10, and the adjoint done in at most 2 iterations (Φ = 0 with the exact Hessian).
case_portfolio() {
  rm -rf "$OUT" && mkdir -p "$OUT"
  expect_success -problem portfolio -warm_start_steps 0 -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" \
    -fold_check_fixed_point 1e-10
  [ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = "g.c.mtx g.gamma.mtx x.mtx " ] || { ls -la "$OUT"; fail "unexpected set of output files"; }
  grep -q '^foldopt: problem portfolio, 20 unknowns' "$W/stdout" || fail "not the generated default instance"
  grep -q 'FoldedLayer: map sqp' "$W/stdout" || fail "the map is not sqp"
  grep -Eq 'CONVERGED_RTOL in [0-2] iterations' "$W/stdout" || fail "the adjoint took more than 2 iterations"
  head -2 "$OUT/g.c.mtx" | grep -q '^20 1$' || fail "dL/dc is not a 20 x 1 array"
  head -2 "$OUT/g.gamma.mtx" | grep -q '^1 1$' || fail "dL/dgamma is not a 1 x 1 array"
  awk '!/^%/ { if (++k > 1) { s += $1; if ($1 < -1e-12) bad = 1; n++ } } END { exit !(n == 20 && !bad && s > 1 - 1e-9 && s < 1 + 1e-9) }' \
    "$OUT/x.mtx" || fail "x* is not a portfolio (sum 1, nonnegative)"
  awk '!/^%/ { if (++k > 1) { v = $1 } } END { exit !(v != 0) }' "$OUT/g.gamma.mtx" || fail "dL/dgamma is zero"
  # The same instance (a batch of 2) from the files -problem_out writes: the same gradients.
  rm -rf "$OUT" "$W/in" && mkdir -p "$OUT" "$W/in"
  expect_success -problem portfolio -n 10 -batch 2 -seed 3 -warm_start_steps 0 -problem_out "$W/in/p.mtx"
  grep '^dL/d' "$W/stdout" > "$W/generated.txt"
  local gamma
  gamma=$(awk '!/^%/ { if (++k == 2) print $1 }' "$W/in/p.gamma.mtx")
  expect_success -problem portfolio -c "$W/in/p.c.mtx" -Vmat "$W/in/p.V.mtx" -gamma "$gamma" -dLdx "$W/in/p.dLdx.mtx" \
    -warm_start_steps 0
  grep -q 'from files' "$W/stdout" || fail "not read from files"
  grep '^dL/d' "$W/stdout" | diff - "$W/generated.txt" || fail "the gradients from the files differ"
  echo "ok: portfolio through the sqp map, blocks c and gamma written, the same from its files"
}

# f-PGDb on a generated qp instance (a batch of 2): -fold_map_type prox_grad -fold_prox_type linear,
# the projection onto l <= Ax <= u a folded ADMM solve whose inner adjoint report is nested in the
# map's, FGMRES outside by default; x* and every gradient block equal the ADMM map's run to 1e-7.
case_fpgdb() {
  rm -rf "$OUT" "$W/admm" && mkdir -p "$OUT" "$W/admm"
  expect_success -problem qp -n 30 -m 20 -batch 2 -warm_start_steps 0 -x_out "$W/admm/x.mtx" -grad_out "$W/admm/g.mtx"
  grep -q '^forward: admm, CONVERGED' "$W/stdout" || fail "no converged admm forward (admm map)"
  expect_success -problem qp -n 30 -m 20 -batch 2 -warm_start_steps 0 -fold_map_type prox_grad -fold_prox_type linear \
    -fold_view -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx"
  grep -q '^FoldedLayer: map prox_grad' "$W/stdout" || fail "the map is not prox_grad"
  grep -q '^  prox: linear: projection onto {l <= Ax <= u}' "$W/stdout" || fail "the prox is not linear"
  grep -q '^    inner adjoint (-fold_inner_\*): [0-9]* solves' "$W/stdout" || fail "no nested inner adjoint report"
  grep -q '^forward: admm, CONVERGED' "$W/stdout" || fail "no converged admm forward (f-PGDb)"
  grep -q '^backward: krylov fgmres' "$W/stdout" || fail "the outer adjoint is not FGMRES"
  local f
  for f in x g.q g.l g.u g.P.values g.A.values; do
    "$PYTHON" "$DATA" compare "$W/admm/$f.mtx" "$OUT/$f.mtx" 1e-7 || fail "$f differs between f-PGDb and the admm map"
  done
  echo "ok: f-PGDb on qp (prox_grad + linear prox) gives the admm map's x* and gradients"
}

# The qp problem's generated default instance (the ADMM map and forward): the fixed point to
# 1e-10, every gradient block written as what it is, and the same run from the files -problem_out
# wrote (±inf bounds included) gives the same x* and gradients.
case_qp() {
  rm -rf "$OUT" "$W/in" "$W/out2" && mkdir -p "$OUT" "$W/in" "$W/out2"
  expect_success -problem qp -warm_start_steps 0 -fold_check_fixed_point 1e-10 -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" \
    -problem_out "$W/in/p.mtx"
  grep -q '^foldopt: problem qp, 1000 unknowns' "$W/stdout" || fail "not the generated default instance"
  grep -q '^forward: admm, CONVERGED' "$W/stdout" || fail "no converged admm forward"
  grep -q '^  rows: .* equality, .* two-sided, .* lower only, .* upper only, .* free' "$W/stdout" || fail "no row kinds in the report"
  local b
  for b in q l u; do head -2 "$OUT/g.$b.mtx" | grep -q '^1000 1$' || fail "dL/d$b is not a 1000 x 1 array"; done
  for b in P.values A.values; do grep -q 'coordinate' "$OUT/g.$b.mtx" || fail "dL/d$b is not written as a matrix"; done
  local i="$W/in"
  expect_success -problem qp -Pmat "$i/p.P.mtx" -q "$i/p.q.mtx" -Amat "$i/p.A.mtx" -l "$i/p.l.mtx" -u "$i/p.u.mtx" \
    -dLdx "$i/p.dLdx.mtx" -warm_start_steps 0 -x_out "$W/out2/x.mtx" -grad_out "$W/out2/g.mtx"
  local f
  for f in x g.q g.l g.u g.P.values g.A.values; do
    "$PYTHON" "$DATA" compare "$OUT/$f.mtx" "$W/out2/$f.mtx" || fail "$f differs between the generated run and its files"
  done
  # a batch of 2 (q n x 2, l and u m x 2 arrays) through files as well
  rm -rf "$W/in" "$OUT" "$W/out2" && mkdir -p "$W/in" "$OUT" "$W/out2"
  expect_success -problem qp -n 30 -m 20 -batch 2 -warm_start_steps 0 -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -problem_out "$i/p.mtx"
  head -2 "$i/p.l.mtx" | grep -q '^20 2$' || fail "l of a batch of 2 is not a 20 x 2 array"
  expect_success -problem qp -Pmat "$i/p.P.mtx" -q "$i/p.q.mtx" -Amat "$i/p.A.mtx" -l "$i/p.l.mtx" -u "$i/p.u.mtx" \
    -dLdx "$i/p.dLdx.mtx" -warm_start_steps 0 -x_out "$W/out2/x.mtx" -grad_out "$W/out2/g.mtx"
  grep -q '^foldopt: problem qp, 60 unknowns (2 instances of 30)' "$W/stdout" || fail "no batch of 2 read from the files"
  for f in x g.q g.l g.u g.P.values g.A.values; do
    "$PYTHON" "$DATA" compare "$OUT/$f.mtx" "$W/out2/$f.mtx" || fail "$f differs between the generated batch and its files"
  done
  echo "ok: qp's generated instance, its blocks, and the same from files (also a batch of 2)"
}

# -help names every registered problem, map and forward solver (the program knows none by name).
case_help_lists_problems() {
  run "$NP" "$W/stdout" "$W/stderr" -help
  local name
  for name in qp_box sparsemax topk lasso bilinear portfolio qp; do
    grep -q -- "-problem .*$name" "$W/stdout" || fail "-help does not list problem $name"
  done
  for name in pgd prox_grad sqp admm; do
    grep -q -- "-fold_map_type .*$name" "$W/stdout" || fail "-help does not list map $name"
  done
  for name in tao fista closed snes bilinear_global admm; do
    grep -q -- "-fold_fwd_type .*$name" "$W/stdout" || fail "-help does not list forward solver $name"
  done
  echo "ok: -help lists the registries"
}

# The same hand-made QP from MatrixMarket or PETSc binary files; x* and every gradient block
# (H.values a matrix with H's pattern) against the values cli_data.py computes independently.
case_roundtrip() {
  local fmt=$1 ext=$2
  "$PYTHON" "$DATA" qp "$W/in" "$fmt" || fail "cli_data.py qp"
  local i="$W/in"
  expect_success -Hmat "$i/H.$fmt" -q "$i/q.$fmt" -lb "$i/lb.$fmt" -ub "$i/ub.$fmt" -dLdx "$i/g.$fmt" \
    -x_out "$OUT/x.$ext" -grad_out "$OUT/g.$ext" -fold_fwd_type snes -fold_fwd_snes_atol 1e-14
  [ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = "g.H.values.$ext g.lb.$ext g.q.$ext g.ub.$ext x.$ext " ] ||
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
    for f in x g.q g.lb g.ub g.H.values; do
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

# The engine's refusals on small hand-made inputs (cli_data.py engine: 10 x 10 files in $W/in).
# engine_error WANT H Q [ARGS...]: H and Q are file names in $W/in, outputs requested into $OUT.
engine_error() {
  local want=$1 H=$2 Q=$3
  shift 3
  "$PYTHON" "$DATA" engine "$W/in" || fail "cli_data.py engine"
  expect_error "$want" -Hmat "$W/in/$H" -q "$W/in/$Q" -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" "$@"
}

# engine_success ZERO H Q LB UB [ARGS...]: a run on files in $W/in that must succeed (stderr
# checked by the caller's WARNING, see below); x* by the KKT conditions and every gradient block
# by a dense solve on the free set (cli_data.py kkt), ZERO the blocks whose reference is 0 (no
# active bound on that side). WARNING="PREFIX|SUBSTRING...": stderr must be exactly one line
# starting with PREFIX and containing each SUBSTRING (unset: stderr must be empty).
engine_success() {
  local zero=$1 H=$2 Q=$3 LB=$4 UB=$5
  shift 5
  "$PYTHON" "$DATA" engine "$W/in" || fail "cli_data.py engine"
  local i="$W/in"
  local args=(-Hmat "$i/$H" -q "$i/$Q" -lb "$i/$LB" -ub "$i/$UB" -dLdx "$i/g.mtx"
    -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -problem_out "$OUT/p.mtx" "$@")
  if [ -z "${WARNING:-}" ]; then
    expect_success "${args[@]}"
  else
    run "$NP" "$W/stdout" "$W/stderr" "${args[@]}"
    show "$W/stdout"
    echo "  exit code $RC; stderr:"
    show "$W/stderr"
    [ "$RC" -eq 0 ] || fail "exit code $RC"
    [ "$(wc -l <"$W/stderr")" -eq 1 ] && [ "$(wc -c <"$W/stderr")" -eq "$(head -n 1 "$W/stderr" | wc -c)" ] ||
      fail "expected exactly one warning line on stderr, got $(wc -l <"$W/stderr") line(s)"
    local line first=1 s
    line=$(head -n 1 "$W/stderr")
    local IFS='|'
    for s in $WARNING; do
      if [ "$first" = 1 ]; then
        case "$line" in "$s"*) ;; *) fail "the stderr line does not start with '$s'" ;; esac
        first=0
      else
        case "$line" in *"$s"*) ;; *) fail "the warning does not contain '$s'" ;; esac
      fi
    done
    unset IFS
  fi
  [ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = "g.H.values.mtx g.lb.mtx g.q.mtx g.ub.mtx p.H.mtx p.H.values.mtx p.dLdx.mtx p.lb.mtx p.q.mtx p.ub.mtx x.mtx " ] ||
    { ls -la "$OUT"; fail "unexpected set of output files"; }
  "$PYTHON" "$DATA" kkt "$OUT/p.mtx" "$OUT/x.mtx" "$OUT/g.mtx" "$zero" || fail "x* or a gradient differs from the reference"
}

# Cases that run cli_data.py: skipped (exit 77) without a working python3.
needs_python() {
  case "$1" in
    default | generated_reference | catalogue | bilinear | qp | fpgdb | roundtrip_* | np_consistency | error_malformed_mtx | error_truncated_* | \
      error_size_* | error_nan_* | error_pinf_lb | error_minf_ub | error_lb_gt_ub | error_nonsquare_h | error_nonsymmetric_h | \
      maximum_accepted | indefinite_bounded | huge_bounds | error_maximum_refused | error_indefinite_unbounded | \
      error_empty_h | error_empty_h_0x0 | error_overflow_q)
      return 0 ;;
  esac
  return 1
}

run_case() {
  if needs_python "$1" && ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 5) else 1)' 2>/dev/null; then
    echo "SKIPPED [$1]: needs python3 (PYTHON=$PYTHON cannot be run)"
    exit 77
  fi
  case "$1" in
    default) case_default ;;
    generated_reference) case_generated_reference ;;
    catalogue) case_catalogue ;;
    bilinear) case_bilinear ;;
    portfolio) case_portfolio ;;
    qp) case_qp ;;
    fpgdb) case_fpgdb ;;
    help_lists_problems) case_help_lists_problems ;;
    view_once) case_view_once ;;
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
    # Integers PETSc 3.18 would wrap (4294967396 = 2^32 + 100), and a product that would.
    error_wrap_n) error_generated "-n 4294967396|out of range" -n 4294967396 ;;
    error_wrap_batch) error_generated "-batch 4294967297|out of range" -batch 4294967297 ;;
    error_wrap_product) error_generated "-n 65536 -batch 65536|n*B" -n 65536 -batch 65536 ;;
    # n*B = 2^32 - 2 wraps to -2: PETSc's three-line "Both n and N cannot be PETSC_DECIDE" before.
    error_wrap_product_decide) error_generated "-n 2147483647 -batch 2|n*B" -n 2147483647 -batch 2 ;;
    # An option given without its value (PETSc's getters would ignore it).
    error_missing_value)
      expect_error "option -n needs a value" -x_out "$OUT/x.mtx" -grad_out "$OUT/g.mtx" -n ;;
    error_missing_value_petsc) error_generated "-fold_ksp_rtol needs a value" -fold_ksp_rtol ;;
    error_not_integer) error_generated "option -n abc|not an integer" -n abc ;;
    error_warm_steps_huge) error_generated "-warm_start_steps 2147483647|out of range" -warm_start_steps 2147483647 ;;
    error_warm_steps_negative) error_generated "-warm_start_steps -1|out of range" -warm_start_steps -1 ;;
    error_jacobian_max_size_negative) error_generated "-fold_jacobian_max_size -1|out of range" -fold_jacobian_max_size -1 ;;
    error_stray_argument) error_generated "unexpected argument 'foo'" foo ;;
    # Adjoint tolerances refused at set-up (not a "breakdown" after the solve, nor a zero gradient).
    error_rtol_zero) error_generated "-fold_ksp_rtol 0|(0, 1)" -fold_ksp_rtol 0 ;;
    error_rtol_negative) error_generated "-fold_ksp_rtol -1|nonnegative" -fold_ksp_rtol -1 ;;
    error_rtol_two) error_generated "-fold_ksp_rtol 2|below 1" -fold_ksp_rtol 2 ;;
    error_check_fixed_point_zero) error_generated "-fold_check_fixed_point 0|out of range" -fold_check_fixed_point 0 ;;
    # Read by PETSc's start-up, before the program's error handling (an 18-line traceback before).
    error_options_file_missing) error_generated "-options_file $W/missing.txt|cannot open" -options_file "$W/missing.txt" ;;
    # Opened on rank 0 only: at np 2 the other rank must not be left waiting (an MPI_Abort before).
    error_view_unwritable)
      error_generated "-fold_view ascii:$W/no_such_dir/r.txt|cannot write" -fold_view "ascii:$W/no_such_dir/r.txt" ;;
    # Type names checked against PETSc's lists before PETSc's options blocks (which would leak).
    error_pc_type_nonsense) error_generated "-fold_pc_type nonsense|unknown PC type" -fold_pc_type nonsense ;;
    error_tao_type_nonsense) error_generated "nonsense|not a TAO type" -fold_fwd_tao_type nonsense ;;
    error_snes_type_nonsense)
      error_generated "-fold_fwd_snes_type nonsense|unknown SNES type" -fold_fwd_type snes -fold_fwd_snes_type nonsense ;;
    error_options_file_env_missing)
      PETSC_OPTIONS="-options_file $W/missing.txt" error_generated "-options_file $W/missing.txt (in \$PETSC_OPTIONS)|cannot open" ;;
    error_options_file_no_value) error_generated "-options_file needs a value" -options_file ;;
    error_type_missing_value) error_generated "-fold_ksp_type needs a value" -fold_ksp_type ;;
    error_real_not_number) error_generated "-shift abc|not a finite number" -shift abc ;;
    error_bool_not_boolean) error_generated "-fold_rho maybe|not a boolean" -fold_rho maybe ;;
    error_choice_unknown) error_generated "-fold_backward nonsense|krylov, jacobian, unrolled" -fold_backward nonsense ;;
    error_viewer_type_unknown) error_generated "-fold_view|nonsense|unknown viewer type" -fold_view nonsense:r.txt ;;
    error_stray_after_value) error_generated "unexpected argument '200'" -seed 3 200 ;;
    error_ksp_max_it_zero) error_generated "-fold_ksp_max_it 0|at least 1" -fold_ksp_max_it 0 ;;
    # PETSc's own integer options would wrap too (2^32 + 30 read as 30).
    error_int_wrap_petsc) error_generated "-fold_ksp_gmres_restart 4294967326|out of range" -fold_ksp_gmres_restart 4294967326 ;;
    error_unrolled_tape_too_large)
      error_generated "unrolled: tape|-fold_unrolled_max_memory" -fold_backward unrolled -fold_unrolled_steps 100000 \
        -fold_unrolled_max_memory 1M ;;
    # H = -I, q = 0 on the box [-1, 1]: TAO stops at x = 0, the maximum. Phi = I - alpha H with
    # alpha = 1/|H|_inf = 1: the eigenvalue 2 = 1 + alpha, the curvature -1 (closed forms).
    error_maximum_refused)
      engine_error "fixed point is not a minimum: a saddle point or a maximum|real eigenvalue 2 > 1|curvature -1 |-fold_accept_nonminimum" \
        negI.mtx q0.mtx -lb "$W/in/lbm1.mtx" -ub "$W/in/ub1.mtx" ;;
    # ... accepted with one warning line; at x = 0 every entry is free (no bound active), so the
    # reference is dL/dq = H^-1 g = -g, dL/dlb = dL/dub = 0 (cli_data.py kkt: dense solve on F).
    maximum_accepted)
      WARNING="foldopt: warning: fixed point is not a minimum: a saddle point or a maximum|real eigenvalue 2 > 1|accepted under -fold_accept_nonminimum" \
        engine_success lb,ub negI.mtx q0.mtx lbm1.mtx ub1.mtx -fold_accept_nonminimum
      grep -q '^FoldedLayer: map pgd (stepsize 1, 10 of 10 entries free)' "$W/stdout" || fail "not every entry free at x* = 0"
      grep -q '^minimum check: .*NOT A MINIMUM' "$W/stdout" || fail "the report does not show the failed minimum check" ;;
    # tridiag(-1, 4, -1) with entry (5, 5) missing is indefinite; q = 1, no bound: no minimum.
    error_indefinite_unbounded)
      REFUSE="missing diagonal|MPI_ABORT" engine_error "forward solver tao tron failed|not convex|negative curvature|unbounded below" \
        nodiag.mtx qn.mtx ;;
    # ... on [-1, 1]: a minimum (x_5 at its upper bound, H_FF positive definite).
    indefinite_bounded)
      engine_success lb nodiag.mtx qn.mtx lbm1.mtx ub1.mtx
      grep -q '^minimum check: .*no negative curvature found' "$W/stdout" || fail "the minimum check did not pass" ;;
    error_empty_h) engine_error "$W/in/empty.mtx: has no nonzero entry|10 x 10" empty.mtx qn.mtx ;;
    error_empty_h_0x0) engine_error "$W/in/empty0.mtx: is empty (0 x 0)" empty0.mtx q0_0.mtx ;;
    # H = 2I, q_4 = 1e200: finite data (not "NaN or infinite") whose objective overflows.
    error_overflow_q)
      REFUSE="NaN or infinite" engine_error "forward solver tao tron failed|overflowed" diag2.mtx qbig.mtx ;;
    # Bounds of +-1e200 are finite data, inactive: x* = q/2, dL/dq = g/2.
    huge_bounds) engine_success lb,ub diag2.mtx qn.mtx lbbig.mtx ubbig.mtx ;;
    error_check_minimum_steps_zero)
      error_generated "option -fold_check_minimum_steps 0: out of range" -fold_check_minimum_steps 0 ;;
    *) fail "unknown case '$1' (run_cli_tests.sh list)" ;;
  esac
}

if [ "$CASE" = all ]; then
  failed=""
  for c in $CASES; do
    ( CASE=$c; W="$WORKROOT/$c.np$NP"; rm -rf "$W"; mkdir -p "$W/out"; OUT="$W/out"; cd "$W" && run_case "$c" ) \
      >"$WORKROOT/$c.np$NP.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
      echo "ok   $c"
    elif [ "$rc" -eq 77 ]; then
      echo "skip $c (log: $WORKROOT/$c.np$NP.log)"
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
