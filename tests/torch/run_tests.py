"""Runs the Python tests of the PyTorch integration in one interpreter (one import of torch):
test_python, test_user_map and test_cli_match, at any number of ranks (every rank runs every
test; the exit code is 1 if a test failed on any rank)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpi_helpers import comm  # noqa: E402  (imports foldopt: MPI, PETSc)
from mpi4py import MPI  # noqa: E402

names = sys.argv[1:] or ["test_python", "test_user_map", "test_cli_match"]
suite = unittest.defaultTestLoader.loadTestsFromNames(names)
result = unittest.TextTestRunner(verbosity=2 if comm.rank == 0 else 0, stream=sys.stderr).run(suite)
ok = comm.allreduce(0 if result.wasSuccessful() else 1, op=MPI.MAX) == 0
sys.exit(0 if ok else 1)
