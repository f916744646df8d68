# Memory bandwidth (triad) at 1 and 2 ranks: the floor the backwards are quoted against.
run_quick() {
  bench_mpi 1 stream -quick
  bench_mpi 2 stream -quick
}
run_full() {
  bench_mpi 1 stream
  bench_mpi 2 stream
}
