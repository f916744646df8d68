// Uses an installed foldopt: a small box-QP, forward and backward, gradient against the known
// active set (dL/dq is zero where a bound is active).
#include <foldopt/foldopt.hpp>

#include <slepcsys.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (SlepcInitialize(&argc, &argv, nullptr, nullptr)) return 1;
  int code = 1;
  try {
    foldopt::BoxQPGenerator gen;
    gen.n = 400;
    auto qp = foldopt::BoxQP::generate(PETSC_COMM_WORLD, gen);
    foldopt::FoldedLayer layer(*qp);
    layer.set_from_options();
    Vec x = layer.forward(qp->params());
    foldopt::OwnedVec g = qp->create_vec();
    foldopt::fill_random(g, 3);
    foldopt::ParamSet grad = layer.backward(g);
    PetscReal err, nq;
    VecAXPY(x, -1.0, qp->known_solution());
    VecNorm(x, NORM_INFINITY, &err);
    VecNorm(grad.get("q"), NORM_2, &nq);
    code = (err < 1e-8 && nq > 0 && layer.adjoint().report().converged) ? 0 : 1;
    PetscPrintf(PETSC_COMM_WORLD, "consumer: |x - x*| = %.1e, |dL/dq| = %.3e: %s\n", (double)err, (double)nq,
                code ? "FAILED" : "ok");
  } catch (const foldopt::Error& e) {
    PetscPrintf(PETSC_COMM_WORLD, "consumer: error: %s\n", e.what());
  }
  SlepcFinalize();
  return code;
}
