#!/bin/sh
# Reproduce the paper's Figure 3 (bench/README.md): run bench/fig3 from an existing build and draw
# bench/results/fig3_unrolled_pgd.png. Builds nothing.
#
# Usage: bench/run_fig3.sh [BUILD_DIR] [fig3 options...]     (default BUILD_DIR: build/)
#   NP=2 bench/run_fig3.sh build -n 1600 -steps 400
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
exe=$build/bench/fig3
if [ ! -x "$exe" ]; then
  echo "run_fig3.sh: $exe not found; build it first: cd $build && make fig3" >&2
  exit 1
fi
out=$here/results
mkdir -p "$out"
if [ "$(id -u)" = 0 ]; then  # Open MPI refuses root without these
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpiexec -n "${NP:-1}" "$exe" -output_dir "$out" "$@"
/usr/bin/python3 "$here/plot_fig3.py" "$out"
