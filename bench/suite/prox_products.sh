# Each prox's Jacobian product and its prox-gradient map's Phi^T product against the bandwidth
# floor (np 1 and 2), and the simplex-type projections at n = 1e7 on 2 ranks (quick: 1e5, 1e6).
run_quick() {
  bench_mpi 1 prox_products -quick -reps 10
  bench_mpi 2 prox_products -quick -reps 10
  bench_plot plot_prox_products.py
}
run_full() {
  bench_mpi 1 prox_products -proj_n 1000000
  bench_mpi 2 prox_products
  bench_plot plot_prox_products.py
}
