#!/bin/bash
# Kills an OutputSet writer (io_kill_writer) with a signal while it writes, and checks that no
# temporary (.x<k>.mtx.tmp.PID) nor any destination is left, and that the run ends (no hang).
#   kill_test.sh <io_kill_writer> <np> <TERM|INT> <rank to signal> <mpiexec> [flags...]
set -u
set -m  # job control: a background job keeps SIGINT (a non-interactive shell would ignore it)
writer=$1 np=$2 sig=$3 target=$4
shift 4
dir=$(mktemp -d /tmp/foldopt_kill.XXXXXX)
fail() { echo "kill: FAIL: $*"; ls -la "$dir"; rm -rf "$dir"; exit 1; }
"$@" -n "$np" "$writer" "$dir" >"$dir.log" 2>&1 &
mpipid=$!
seen=""
for _ in $(seq 1 1200); do  # at most 60 s for the write to begin
  if ls -A "$dir" | grep -q '\.tmp\.'; then seen=1; break; fi
  kill -0 "$mpipid" 2>/dev/null || break
  sleep 0.05
done
[ -n "$seen" ] || { cat "$dir.log"; fail "no temporary file appeared"; }
pid=$(cat "$dir/pid.$target")
echo "kill: $(ls -A "$dir" | grep -c '\.tmp\.') temporary file(s) present; SIG$sig to rank $target (pid $pid)"
kill -s "$sig" "$pid"
ended=""
for _ in $(seq 1 600); do  # at most 60 s to end
  if ! kill -0 "$mpipid" 2>/dev/null; then ended=1; break; fi
  sleep 0.1
done
if [ -z "$ended" ]; then
  kill -KILL -- "-$mpipid" 2>/dev/null || kill -KILL "$mpipid"
  fail "the run did not end within 60 s of the signal (hang)"
fi
wait "$mpipid"
rc=$?
echo "kill: run ended with exit code $rc"
[ "$rc" -ne 0 ] || fail "exit code 0 after a kill"
ls "$dir" | grep -q '^done\.' && fail "the writer finished before the signal reached it"
left=$(ls -A "$dir" | grep -v '^pid\.')
[ -z "$left" ] || fail "left behind: $left"
rm -rf "$dir" "$dir.log"
echo "kill: ok"
