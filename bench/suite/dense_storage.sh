# Box-QP with a dense H stored as AIJ and as dense, side by side (Φᵀ products, forward, backward).
run_quick() {
  bench_mpi 2 dense_storage -quick
}
run_full() {
  bench_mpi 1 dense_storage -n 2000
  bench_mpi 2 dense_storage -n 2000
}
