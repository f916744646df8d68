"""The Python interface (import foldopt, foldopt.torch) at np = 1 and np = 2.

Both functions are checked: foldopt.torch.FoldedFunction (Python) and foldopt.torch.CppLayer (the
C++ autograd function of libfoldopt_torch). References are independent of the code under test:
torch.autograd.gradcheck's finite-difference Jacobians (float64; the forward solves to a fixed-point residual <= 1e-12), scipy's CSR order of
the gathered data matrix, the closed form of sparsemax's Jacobian (J = diag(s) - s s^T/|S|).
"""
import os
import sys
import unittest
import warnings

import numpy as np
import scipy.sparse
import torch

sys.path.insert(0, os.path.dirname(__file__))
import foldopt  # noqa: E402
from foldopt.torch import CppLayer, FoldedFunction, FoldedModule  # noqa: E402
from mpi_helpers import allgather, comm, gathered, whole_params  # noqa: E402

TIGHT = " -fold_check_fixed_point 1e-12 -fold_ksp_rtol 1e-13"
# gradcheck's reentrancy check (the same backward twice) at rounding level: at np = 2 the ADMM
# map's direct solve is MUMPS, whose parallel solves are not bitwise reproducible (CI saw the qp
# case differ between two identical backwards); the gradients themselves are checked to atol 1e-6.
NONDET = 1e-10
# Small instances of every built-in problem on main; the batch of 2 splits into whole
# instances at two ranks.
CASES = {
    "qp_box": "-n 6 -seed 3",
    "qp_box_batch": "-n 5 -seed 4 -batch 2",
    "sparsemax": "-n 6 -seed 2 -batch 2",
    "topk": "-n 8 -k 3 -seed 4",
    "lasso": "-n 6 -m 10 -seed 5",
    "tv": "-n 6 -seed 6",
    # the nested-folding issue's problems: qp (admm map; an instance without equality rows, where
    # moving l or u alone is a derivative), portfolio (sqp map, IPOPT), bilinear (prox_grad, global forward)
    "qp": "-n 6 -m 4 -seed 5",
    "portfolio": "-n 5 -seed 2",
    "bilinear": "-n 6 -sum_x 2 -sum_y 2 -seed 2",
}


def problem_of(case):
    return case.split("_batch")[0]


# Blocks left out of gradcheck: qp's P.values (input 3), whose finite differences move one entry
# and so leave the symmetric matrices the QP is defined on (test_admm checks it with symmetric moves).
NOT_CHECKED = {"qp": {3}}


def inputs(case, layer):
    return [t.requires_grad_(i not in NOT_CHECKED.get(case, ())) for i, t in enumerate(whole_params(layer))]


class Gradcheck(unittest.TestCase):
    def test_every_problem(self):
        for case, opts in CASES.items():
            with self.subTest(problem=case):
                layer = foldopt.FoldedLayer(problem_of(case), opts + TIGHT)
                theta = inputs(case, layer)
                self.assertTrue(torch.autograd.gradcheck(gathered(layer), theta, eps=1e-6, atol=1e-6, rtol=1e-4, nondet_tol=NONDET))
                r = layer.report()
                self.assertLessEqual(r["fixed_point_residual"], 1e-12)
                self.assertTrue(r["adjoint"]["converged"])

    def test_every_problem_cpp(self):
        # The same through the C++ autograd function (foldopt::torch::Layer, libfoldopt_torch).
        if CppLayer is None:
            self.skipTest("foldopt._foldopt_torch is not built (no libtorch_python)")
        for case, opts in CASES.items():
            with self.subTest(problem=case):
                layer = CppLayer(problem_of(case), opts + TIGHT)
                theta = inputs(case, layer)
                self.assertTrue(torch.autograd.gradcheck(gathered(layer), theta, eps=1e-6, atol=1e-6, rtol=1e-4, nondet_tol=NONDET))
                self.assertLessEqual(layer.fixed_point_residual(), 1e-12)

    def test_cpp_and_python_agree(self):
        if CppLayer is None:
            self.skipTest("foldopt._foldopt_torch is not built (no libtorch_python)")
        opts = "-n 6 -m 10 -seed 5" + TIGHT
        cpp, py = CppLayer("lasso", opts), foldopt.FoldedLayer("lasso", opts)
        tc = [t.requires_grad_(True) for t in cpp.params()]
        tp = [torch.from_numpy(v).requires_grad_(True) for v in py.params().values()]
        (cpp(tc) ** 2).sum().backward()
        (FoldedFunction.apply(py, *tp) ** 2).sum().backward()
        for a, b in zip(tc, tp):
            np.testing.assert_allclose(a.grad.reshape(-1).numpy(), b.grad.reshape(-1).numpy(), rtol=0, atol=1e-13)

    def test_problems_by_name(self):
        # Whatever the registry holds is reachable by name (new problems appear without this code).
        names = foldopt.problems()
        for p in ("qp_box", "sparsemax", "topk", "lasso", "tv", "qp", "portfolio", "bilinear"):
            self.assertIn(p, names)


class Interface(unittest.TestCase):
    def test_sparsemax_closed_form_gradient(self):
        layer = foldopt.FoldedLayer("sparsemax", "-n 8 -seed 5")
        z = layer.params()["theta"]
        x = layer.forward([z])
        g = layer.local("theta", np.arange(8.0) - 3.0)
        grad = layer.backward(g)["theta"]
        xs, gs = allgather(x), allgather(g)
        s = (xs > 0).astype(float)
        ref = s * gs - s * (s @ gs) / s.sum()
        np.testing.assert_allclose(allgather(grad), ref, rtol=0, atol=1e-12)
        self.assertAlmostEqual(xs.sum(), 1.0, places=12)

    def test_csr_order(self):
        # H.values is H's stored nonzeros row by row, columns ascending: scipy's CSR data.
        layer = foldopt.FoldedLayer("qp_box", "-n 7 -seed 2")
        H = layer.data_matrices()["H"]
        lo, hi = H.getOwnershipRange()
        n = H.getSize()[0]
        dense_rows = H.getValues(range(lo, hi), range(n))
        dense = allgather(dense_rows).reshape(n, n)
        csr = scipy.sparse.csr_matrix(dense)
        csr.sort_indices()
        np.testing.assert_array_equal(allgather(layer.params()["H.values"]), csr.data)

    def test_module_and_dtype(self):
        m = FoldedModule("qp_box", "-n 6 -seed 3 -batch 2", learn=["q"])
        x = m()
        self.assertEqual(x.dtype, torch.float64)
        self.assertEqual(tuple(x.shape), (m.layer.sizes()["solution_rows"], 6))
        (x ** 2).sum().backward()
        self.assertEqual(m.q.grad.shape, m.q.shape)
        # float32 input: converted with a warning; the gradient comes back float32, equal to float64's.
        q64 = m.q.detach().clone().requires_grad_(True)
        q32 = m.q.detach().float().requires_grad_(True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            x32 = m(q=q32)
        self.assertTrue(any("converted to float64" in str(i.message) for i in w))
        (x32 ** 2).sum().backward()
        (m(q=q64) ** 2).sum().backward()
        self.assertEqual(q32.grad.dtype, torch.float32)
        np.testing.assert_allclose(q32.grad.double().numpy(), q64.grad.numpy(), rtol=1e-5, atol=1e-6)

    def test_refusals(self):
        layer = foldopt.FoldedLayer("sparsemax", "-n 4")
        with self.assertRaisesRegex(foldopt.Error, "on device meta.*CPU float64"):
            FoldedFunction.apply(layer, torch.empty(layer.sizes()["local"][0], device="meta"))
        with self.assertRaisesRegex(foldopt.Error, "parameter block 'theta': 3 entries given"):
            layer.forward([np.zeros(3)])
        with self.assertRaisesRegex(foldopt.Error, "^unused option\\(s\\) in the layer's options: -fold_bogus 2"):
            foldopt.FoldedLayer("sparsemax", "-n 4 -fold_bogus 2")
        with self.assertRaisesRegex(foldopt.Error, "^unknown problem 'nope' \\(known: .*qp_box"):
            foldopt.FoldedLayer("nope", "")
        # A library error in the backward (the fixed point check) arrives with its one-line message.
        bad = foldopt.FoldedLayer("qp_box", "-n 6 -fold_fwd_type snes -fold_fwd_snes_max_it 1 "
                                  "-fold_fwd_snes_error_if_not_converged 0")
        try:
            x = bad.forward(bad.params())
        except foldopt.Error as e:
            self.assertNotIn("\n", str(e))
        else:
            with self.assertRaisesRegex(foldopt.Error, "fixed-point check failed"):
                bad.backward(np.ones_like(x))

    def test_options_database(self):
        # options=None reads PETSc's database (here set through petsc4py); a string does not.
        from petsc4py import PETSc
        opts = PETSc.Options()
        opts.setValue("-n", 5)
        try:
            self.assertEqual(foldopt.FoldedLayer("sparsemax", None).sizes()["global"], [5])
            self.assertEqual(foldopt.FoldedLayer("sparsemax", "-n 7").sizes()["global"], [7])
        finally:
            opts.delValue("-n")

    def test_two_forwards_then_backwards(self):
        # Autograd may run two forwards before their backwards: each gradient is its own forward's.
        layer = foldopt.FoldedLayer("qp_box", "-n 6 -seed 3" + TIGHT)
        q0 = torch.from_numpy(layer.params()["q"])
        rest = [torch.from_numpy(v) for k, v in layer.params().items() if k != "q"]
        qa, qb = (q0 + 0.3).requires_grad_(True), (q0 - 0.2).requires_grad_(True)
        xa = FoldedFunction.apply(layer, qa, *rest)
        xb = FoldedFunction.apply(layer, qb, *rest)
        (xb.sum() + (xa ** 2).sum()).backward()
        ref_a = (q0 + 0.3).requires_grad_(True)
        (FoldedFunction.apply(layer, ref_a, *rest) ** 2).sum().backward()
        np.testing.assert_allclose(qa.grad.numpy(), ref_a.grad.numpy(), rtol=0, atol=1e-13)

    def test_petsc4py_objects(self):
        layer = foldopt.FoldedLayer("lasso", "-n 6 -m 10 -seed 5" + TIGHT)
        vecs = layer.params(petsc=True)
        x = layer.forward(vecs)
        from petsc4py import PETSc
        self.assertIsInstance(x, PETSc.Vec)
        g = x.duplicate()
        g.set(1.0)
        grads = layer.backward(g)
        self.assertIsInstance(grads["y"], PETSc.Vec)
        self.assertIsInstance(grads["X.values"], PETSc.Mat)  # with X's pattern
        # The same numbers as the array path.
        layer2 = foldopt.FoldedLayer("lasso", "-n 6 -m 10 -seed 5" + TIGHT)
        x2 = layer2.forward(layer2.params())
        np.testing.assert_allclose(x.getArray(), x2, rtol=0, atol=1e-14)
        g2 = layer2.backward(np.ones_like(x2))
        np.testing.assert_allclose(grads["y"].getArray(), g2["y"], rtol=0, atol=1e-12)
        Xg = grads["X.values"]
        lo, hi = Xg.getOwnershipRange()
        vals = np.concatenate([Xg.getRow(i)[1] for i in range(lo, hi)]) if hi > lo else np.zeros(0)
        np.testing.assert_allclose(vals, g2["X.values"], rtol=0, atol=1e-12)
        # A Mat for the matrix-values block (0.9 X): the same as its values given as a Vec.
        X2 = layer.data_matrices()["X"].copy()
        X2.scale(0.9)
        theta = dict(vecs)
        theta["X.values"] = X2
        x3 = layer.forward(theta)
        # The values as a Vec, on a second layer taken through the same sequence of forwards (the
        # same warm starts and stepsizes: α follows X's curvature bound at each forward).
        layer3 = foldopt.FoldedLayer("lasso", "-n 6 -m 10 -seed 5" + TIGHT)
        vecs3 = layer3.params(petsc=True)
        layer3.forward(vecs3)
        theta3 = dict(vecs3)
        v2 = vecs3["X.values"].copy()
        v2.scale(0.9)
        theta3["X.values"] = v2
        np.testing.assert_allclose(x3.getArray(), layer3.forward(theta3).getArray(), rtol=0, atol=1e-13)
        self.assertGreater(comm.allreduce(np.abs(x3.getArray() - x.getArray()).max(), op=__import__("mpi4py").MPI.MAX), 1e-6)


if __name__ == "__main__":
    # Every rank runs the same tests; the exit code is 1 if any rank failed.
    result = unittest.main(exit=False, verbosity=2 if comm.rank == 0 else 0).result
    ok = comm.allreduce(0 if result.wasSuccessful() else 1, op=__import__("mpi4py").MPI.MAX) == 0
    sys.exit(0 if ok else 1)
