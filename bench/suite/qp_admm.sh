# The sparse QP through ADMM: forward, backward, factorizations per backward, Phi^T products.
run_quick() {
  bench_mpi 2 qp_admm -quick
}
run_full() {
  bench_mpi 2 qp_admm -n 100000 -m 50000
}
