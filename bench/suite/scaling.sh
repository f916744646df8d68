# Forward, backward, PC set-up and per-phase peak memory against n (box-QP on a 2-D grid, 1-D TV),
# at 1 and 2 ranks in one entry, each problem in a process of its own (freed memory stays
# resident in a process); plot_scaling.py plots them and states the np 2 / np 1 ratio.
run_quick() {
  for np in 1 2; do
    bench_mpi $np scaling -quick -problems qp_box
    bench_mpi $np scaling -quick -problems tv
  done
  bench_plot plot_scaling.py
}
run_full() {
  for np in 1 2; do
    bench_mpi $np scaling -problems qp_box
    bench_mpi $np scaling -problems tv
  done
  bench_plot plot_scaling.py
}
