# Amortized backward over a 20-step training loop (box-QP, slowly changing q), with and without
# reuse across steps (-fold_pc_reuse, -fold_ksp_initial_guess previous) and cheaper solves.
# One thread a rank: hypre is built with OpenMP, and threads on a shared 2-core machine only contend.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
run_quick() {
  bench_mpi 2 training_loop -quick -steps 10
  bench_plot plot_training_loop.py
}
run_full() {
  # n = 10⁶ with the main configurations (all ten take about twice as long: bench/README.md has
  # them at n = 2.5·10⁵)
  bench_mpi 2 training_loop -n 1000000 -bench_configs gmres+hypre,gmres+hypre+reuse,gmres+hypre+reuse+guess,cg_sym+hypre_cheap+reuse+guess+rtol1e-6,gmres+hypre_cheap+reuse+guess+rtol1e-6
  bench_plot plot_training_loop.py
}
