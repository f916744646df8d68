# Spectral work (stepsize lmax / optimal, rho lanczos / eps) against the preconditioned backward it
# serves (target <= 25 %), and rho(Phi) with LFPI / GMRES iterations against the stepsize alpha.
run_quick() {
  bench_mpi 2 spectral -quick -sweep_max_it 5000
  bench_plot plot_spectral.py
}
run_full() {
  bench_mpi 2 spectral -n 1000000 -sweep_n 2500
  bench_plot plot_spectral.py
}
