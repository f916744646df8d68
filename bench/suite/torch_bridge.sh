# The PyTorch bridge's overhead per call (C++), and a Python user map's Phi^T products per second
# against the same built-in map (bench/torch_bridge.py, the Python module from $build/python).
NEEDS=FOLDOPT_WITH_TORCH
torch_user_map() {
  if ! ls "$build"/python/foldopt/_foldopt.*.so >/dev/null 2>&1; then
    echo "torch_bridge.py: skipped: the Python module is not built (cmake --build build --target foldopt_python)"
    return 0
  fi
  echo "  \$ PYTHONPATH=build/python mpiexec -n 2 /usr/bin/python3 bench/torch_bridge.py $* " | sed "s|$root/||g"
  PYTHONPATH="$build/python" OMP_NUM_THREADS=1 "$mpiexec" --oversubscribe -n 2 /usr/bin/python3 "$root/bench/torch_bridge.py" "$out" "$@"
}
run_quick() {
  bench_mpi 2 torch_bridge -quick -sizes 1000,10000 -reps 5
  torch_user_map -quick
}
run_full() {
  bench_mpi 1 torch_bridge
  bench_mpi 2 torch_bridge
  torch_user_map
}
