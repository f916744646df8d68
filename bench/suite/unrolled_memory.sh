# Unrolled K steps against the folded backward on one box-QP: memory and time against K.
run_quick() {
  bench_mpi 2 unrolled_memory -quick -steps 10,30,100
  bench_plot plot_unrolled_memory.py
}
run_full() {
  bench_mpi 2 unrolled_memory -n 100000 -steps 10,30,100,300,1000
  bench_plot plot_unrolled_memory.py
}
