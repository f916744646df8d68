# Adjoint methods side by side on one badly conditioned box-QP (the engine issue's table). The full
# run leaves out LFPI and GMRES(200) at n = 10⁶ (607 s and 111 s, bench/README.md): the methods
# entry measures LFPI at sizes where it finishes.
run_quick() {
  bench_mpi 2 adjoint_methods -n 10000 -shift 1e-2 -bench_rho_tols 1e-3
}
run_full() {
  bench_mpi 2 adjoint_methods -n 1000000 -shift 7e-4 -bench_rho_tols 1e-3 \
    -bench_methods gmres+hypre,gmres+gamg,bcgs,gmres,jacobian
}
