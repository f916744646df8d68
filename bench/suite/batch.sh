# Batched smooth top-k (n = 100): backward throughput of the coupled solve, the per-instance blocks
# (-fold_batch_solve) and one instance at a time, B = 1 ... 4096 (quick: up to 256).
run_quick() {
  bench_mpi 1 batch -quick -reps 1
  bench_plot plot_batch.py
}
run_full() {
  bench_mpi 1 batch
  bench_plot plot_batch.py
}
