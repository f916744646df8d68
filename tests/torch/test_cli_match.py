"""The Python paths give the executable's gradient on the executable's own files.

The fixture torch_cli_files ran `foldopt -problem qp_box ... -problem_out DIR/p.mtx -grad_out
DIR/g.mtx`; this test loads the same problem files (-Hmat, -q, -lb, -ub), uses the same dL/dx*
(DIR/p.dLdx.mtx, read with scipy) and compares both Python paths (FoldedLayer.backward and
FoldedFunction through torch.autograd) with the gradient files, to 1e-10 relative.
"""
import os
import sys
import unittest

import numpy as np
import scipy.io
import torch

sys.path.insert(0, os.path.dirname(__file__))
import foldopt  # noqa: E402
from foldopt.torch import FoldedFunction  # noqa: E402
from mpi_helpers import allgather, comm  # noqa: E402

DIR = os.environ.get("FOLDOPT_TORCH_CLI_DIR", "")


def dense(path):
    m = scipy.io.mmread(path)
    return m.toarray() if hasattr(m, "toarray") else np.asarray(m)


class SameAsExecutable(unittest.TestCase):
    def setUp(self):
        if not DIR or not os.path.exists(os.path.join(DIR, "g.q.mtx")):
            self.fail("no files from the executable in FOLDOPT_TORCH_CLI_DIR=%r (fixture torch_cli_files)" % DIR)
        opts = " ".join("-%s %s/p.%s.mtx" % (o, DIR, f) for o, f in (("Hmat", "H"), ("q", "q"), ("lb", "lb"), ("ub", "ub")))
        self.layer = foldopt.FoldedLayer("qp_box", opts + " -fold_ksp_rtol 1e-13")
        self.g = self.layer.local("q", dense(os.path.join(DIR, "p.dLdx.mtx")).reshape(-1))

    def check(self, grads):
        H = self.layer.data_matrices()["H"]
        lo, hi = H.getOwnershipRange()
        for name in ("q", "lb", "ub"):
            ref = dense(os.path.join(DIR, "g.%s.mtx" % name)).reshape(-1)
            mine = allgather(grads[name])
            self.assertLessEqual(np.linalg.norm(mine - ref), 1e-10 * max(1.0, np.linalg.norm(ref)), name)
        # H.values: our values on H's pattern (CSR order) against the file's matrix.
        n = H.getSize()[0]
        cols = [H.getRow(i)[0] for i in range(lo, hi)]
        vals = np.asarray(grads["H.values"]).reshape(-1)
        part = np.zeros((hi - lo, n))
        k = 0
        for r, c in enumerate(cols):
            part[r, c] = vals[k:k + len(c)]
            k += len(c)
        mine = allgather(part).reshape(n, n)
        ref = dense(os.path.join(DIR, "g.H.values.mtx"))
        self.assertGreater(np.linalg.norm(ref), 0)
        self.assertLessEqual(np.linalg.norm(mine - ref), 1e-10 * max(1.0, np.linalg.norm(ref)))

    def test_layer(self):
        self.layer.forward(self.layer.params())
        self.check(self.layer.backward(self.g))

    def test_autograd(self):
        theta = [torch.from_numpy(v).requires_grad_(True) for v in self.layer.params().values()]
        x = FoldedFunction.apply(self.layer, *theta)
        x.backward(torch.from_numpy(self.g).view_as(x))
        self.check(dict(zip(self.layer.names, [t.grad.numpy() for t in theta])))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2 if comm.rank == 0 else 0).result
    ok = comm.allreduce(0 if result.wasSuccessful() else 1, op=__import__("mpi4py").MPI.MAX) == 0
    sys.exit(0 if ok else 1)
