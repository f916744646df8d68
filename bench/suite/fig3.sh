# The paper's Figure 3: unrolled PGD's forward and backward error against LFPI's rate.
run_quick() {
  bench_mpi 2 fig3 -n 196 -steps 60
  bench_plot plot_fig3.py
}
run_full() {
  bench_mpi 1 fig3
  bench_plot plot_fig3.py
}
