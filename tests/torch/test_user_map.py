"""A user's update map written in PyTorch (foldopt.torch.TorchMap) against the built-in maps.

Two maps, each written here in a few lines of torch and differentiated by torch.autograd only:
  box-QP     U(x; q, lb, ub) = clamp(x - a (H x - q), lb, ub)    (the built-in problem qp_box, map pgd)
  simplex    U(x; z) = P(x - a (x - z)), P the projection onto the simplex (sort-based),
             a = 1/2 so that Phi = (1 - a) J is not zero  (the built-in problem sparsemax)
At the built-in layer's x*, the user's layer (the Python map, adjoint by PETSc) gives the same
gradient to 1e-10 under LFPI (richardson), GMRES with a tolerance and BiCGStab, and its rho(Phi)
estimate (SLEPc) agrees with the built-in map's where both are defined (box-QP: the same Phi
when the stepsizes agree). The simplex map's forward is its own iteration (SNES) and reproduces
the closed-form x*. At np = 2 each rank holds one instance of a batch of 2.
"""
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import foldopt  # noqa: E402
from foldopt.torch import TorchMap  # noqa: E402
from mpi_helpers import comm  # noqa: E402

SOLVERS = {
    "lfpi": "-fold_ksp_type richardson -fold_ksp_rtol 1e-13 -fold_ksp_max_it 5000",
    "gmres": "-fold_ksp_type gmres -fold_ksp_rtol 1e-13",
    "bcgs": "-fold_ksp_type bcgs -fold_ksp_rtol 1e-13",
}


def rel(a, b):
    num = comm.allreduce(float(np.sum((np.asarray(a) - np.asarray(b)) ** 2)))
    den = comm.allreduce(float(np.sum(np.asarray(b) ** 2)))
    return (num / den) ** 0.5 if den > 0 else num ** 0.5


def project_simplex(y):
    """Rows of y onto {x >= 0, sum x = 1} (sort-based; differentiable by autograd)."""
    n = y.shape[1]
    u, _ = torch.sort(y, dim=1, descending=True)
    css = torch.cumsum(u, dim=1) - 1.0
    k = torch.arange(1, n + 1, dtype=y.dtype)
    support = (u - css / k > 0).sum(dim=1, keepdim=True)
    tau = torch.gather(css, 1, support - 1) / support.to(y.dtype)
    return torch.clamp(y - tau, min=0.0)


class BoxQP(unittest.TestCase):
    def setUp(self):
        self.n, self.batch = 8, 2
        self.alpha = 0.1  # the built-in map's stepsize, given, so that both maps have the same Phi
        opts = "-n 8 -seed 7 -batch 2 -fold_pgd_stepsize 0.1 -fold_check_fixed_point 1e-12 -fold_ksp_rtol 1e-14 -fold_rho"
        self.ref = foldopt.FoldedLayer("qp_box", opts)
        self.theta = self.ref.params()
        self.x = self.ref.forward(self.theta)
        rng = np.random.default_rng(11)
        self.g = self.ref.local("q", rng.standard_normal(self.n * self.batch))
        self.grad = self.ref.backward(self.g)
        self.rho = self.ref.report()["rho"]
        # H of this rank's instances (block diagonal: the local rows and columns).
        H = self.ref.data_matrices()["H"]
        lo, hi = H.getOwnershipRange()
        Hl = torch.from_numpy(H.getValues(range(lo, hi), range(lo, hi)))
        self.assertEqual(hi - lo, self.n * self.batch // comm.size)
        self.assertIn("stepsize 0.1", self.ref.report()["map"])
        a, n = self.alpha, self.n

        def U(x, q, lb, ub):
            rows = x.shape[0]
            hx = (Hl @ x.reshape(-1)).reshape(rows, n)
            return torch.minimum(torch.maximum(x - a * (hx - q), lb), ub)

        self.U = U

    def test_gradients_equal_builtin(self):
        for name, opts in SOLVERS.items():
            with self.subTest(solver=name):
                m = TorchMap(self.U, self.n, name="box-QP in torch", fixed_point_scale=self.alpha)
                layer = foldopt.FoldedLayer.from_map(m, self.n, self.batch, ["q", "lb", "ub"], opts + " -fold_rho")
                layer.set_solution([self.theta["q"], self.theta["lb"], self.theta["ub"]], self.x)
                grad = layer.backward(self.g)
                r = layer.report()
                self.assertTrue(r["adjoint"]["converged"], r["adjoint"])
                for b in ("q", "lb", "ub"):
                    self.assertLess(rel(grad[b], self.grad[b]), 1e-10, (name, b))
                self.assertTrue(r["rho"]["converged"])
                self.assertAlmostEqual(r["rho"]["rho"], self.rho["rho"], delta=1e-8)
                self.assertLess(r["rho"]["rho"], 1.0)


class Simplex(unittest.TestCase):
    def test_gradients_equal_builtin(self):
        n, batch, a = 9, 2, 0.5
        ref = foldopt.FoldedLayer("sparsemax", "-n 9 -seed 3 -batch 2")
        z = ref.params()["theta"]
        x = ref.forward([z])
        g = ref.local("theta", np.cos(np.arange(n * batch)))
        gref = ref.backward(g)["theta"]
        m = TorchMap(lambda x, z: project_simplex(x - a * (x - z)), n, name="simplex in torch", fixed_point_scale=a)
        for name, opts in SOLVERS.items():
            with self.subTest(solver=name):
                layer = foldopt.FoldedLayer.from_map(m, n, batch, ["z"], opts + " -fold_rho -fold_fwd_snes_atol 1e-14")
                xu = layer.forward([z])  # the map's own iteration through SNES
                np.testing.assert_allclose(xu, x, rtol=0, atol=1e-12)
                grad = layer.backward(g)["z"]
                self.assertLess(rel(grad, gref), 1e-10, name)
                r = layer.report()
                # Phi = (1 - a) J with J a projection: rho = 1/2.
                self.assertTrue(r["rho"]["converged"])
                self.assertAlmostEqual(r["rho"]["rho"], 1 - a, delta=1e-8)

    def test_python_error_reaches_caller(self):
        def U(x, z):
            raise ValueError("planted failure")

        layer = foldopt.FoldedLayer.from_map(TorchMap(U, 4), 4, comm.size, ["z"], "")
        with self.assertRaisesRegex(foldopt.Error, "planted failure"):
            layer.forward([np.zeros(4)])


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2 if comm.rank == 0 else 0).result
    ok = comm.allreduce(0 if result.wasSuccessful() else 1, op=__import__("mpi4py").MPI.MAX) == 0
    sys.exit(0 if ok else 1)
