# Every backward method on every problem (bench/methods.cpp): products, time, memory, gradient
# error, backward/forward and backward/bandwidth floor, and the reason for every skipped method.
run_quick() {
  bench_mpi 2 methods -quick
  bench_plot plot_methods.py
}
run_full() {
  bench_mpi 2 methods -sizes 2000 -tag _n2000
  bench_mpi 2 methods -sizes 100000 -problems box_qp,topk,sparsemax,lasso,tv1d,tv2d,topk_batch -tag _n1e5
  # The sparse QP's product is a KKT solve (MUMPS): 10^4 unknowns keep it within the full run's budget.
  bench_mpi 2 methods -sizes 10000 -problems qp -tag _qp_n1e4
  bench_mpi 2 methods -sizes 1000000 -problems box_qp -methods lfpi,gmres,bcgs,cg_sym,gmres_ilu,gmres_gamg,gmres_hypre,unrolled -tag _n1e6
  bench_plot plot_methods.py
}
