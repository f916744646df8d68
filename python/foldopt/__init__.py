"""foldopt: gradients through optimization solvers by folded optimization (the Python interface).

    import foldopt
    layer = foldopt.FoldedLayer("qp_box", "-n 20 -seed 3 -fold_rho")
    x = layer.forward(layer.params())         # x*(theta), a NumPy array (this rank's entries)
    grads = layer.backward(g)                 # dL/dtheta per parameter block (a dict)
    layer.report()                            # forward, fixed-point check, adjoint, rho

Problems come from the library's registry by name (foldopt.problems()); the options are the
executable's (the problem's sizes or files, every -fold_* option), as one string read into the
layer's own options database, or None to read PETSc's database (petsc4py.PETSc.Options(), or
the command line when the program calls petsc4py.init(sys.argv) before importing foldopt).
foldopt.torch has the torch.autograd.Function, an nn.Module and update maps written in PyTorch.

Arrays are float64, one 1-D array per block holding this rank's entries of the block in the
layer's order: a batch's instances one after the other, a matrix-values block in global CSR
order (row by row, columns ascending: scipy's and torch.sparse_csr_tensor's values order).
At one rank that is the whole block; under `mpiexec -n P` each rank holds its range
[start, start + local) of every block (layer.sizes(); layer.local(name, whole) cuts it out of a
whole array made alike on every rank). petsc4py Vecs are accepted for theta and dL/dx*, and the
gradients then come back as petsc4py objects (a Mat with its pattern for matrix values;
a Mat is accepted for a matrix-values block too).
Library errors raise foldopt.Error with the library's one-line message.
"""
import atexit as _atexit

from mpi4py import MPI as _MPI  # noqa: F401  (MPI first: mpi4py initializes it)
from petsc4py import PETSc as _PETSc  # PETSc next: petsc4py initializes it, foldopt shares it

import numpy as _np

from . import _foldopt
from ._foldopt import Error, forwards, maps, problems

_foldopt.init()
_atexit.register(_foldopt.finalize)

__all__ = ["Error", "FoldedLayer", "problems", "maps", "forwards"]


def _options_string(options):
    """None (PETSc's database), a string, or a dict {name: value} (value None for a flag)."""
    if options is None or isinstance(options, str):
        return options
    words = []
    for k, v in dict(options).items():
        words.append(k if k.startswith("-") else "-" + k)
        if v is not None and v is not True:
            words.append(str(v))
    return " ".join(words)


def _is_petsc_vec(a):
    return isinstance(a, _PETSc.Vec)


def _is_petsc(a):
    return isinstance(a, (_PETSc.Vec, _PETSc.Mat))


class FoldedLayer:
    """A folded layer over a registered problem (or a user's update map: from_map)."""

    def __init__(self, problem, options=None, _c=None):
        self._c = _c if _c is not None else _foldopt.Layer(problem, _options_string(options))
        self._names = self._c.names()
        self._last = None

    @classmethod
    def from_map(cls, update_map, n, batch, blocks, options=None):
        """A layer over an update map written in Python (see foldopt.torch.TorchMap): `blocks`
        names its parameter blocks (one vector per instance each); the forward solver is the
        map's own iteration (snes) unless the options say otherwise."""
        return cls(None, _c=_foldopt.Layer.from_map(update_map, n, batch, list(blocks), _options_string(options)))

    @property
    def names(self):
        return list(self._names)

    @property
    def kinds(self):
        return dict(zip(self._names, self._c.kinds()))

    def sizes(self):
        """Sizes of this rank's part: per block (local, start, global), of x* (n, batch,
        solution_local, solution_start, solution_rows: whole instances here, else -1)."""
        return self._c.sizes()

    def params(self, petsc=False):
        """The problem's own theta: {block: this rank's entries} (copies), or petsc4py Vecs."""
        values = self._c.params_petsc() if petsc else self._c.params()
        return dict(zip(self._names, values))

    def data_matrices(self):
        """The problem's data matrices as petsc4py Mats (e.g. {'H': H}), shared, not copied."""
        return self._c.data_matrices()

    def local(self, name, whole):
        """This rank's part of a whole block (global entries, made alike on every rank)."""
        s = self._c.sizes()
        b = self._names.index(name)
        whole = _np.asarray(whole, dtype=_np.float64).reshape(-1)
        if whole.size != s["global"][b]:
            raise ValueError("block '%s' has %d entries, the array %d" % (name, s["global"][b], whole.size))
        return whole[s["start"][b]:s["start"][b] + s["local"][b]]

    def _ordered(self, theta):
        if isinstance(theta, dict):
            missing = [n for n in self._names if n not in theta]
            extra = [n for n in theta if n not in self._names]
            if missing or extra:
                raise KeyError("parameter blocks: missing %s, unknown %s (the layer's: %s)"
                               % (missing, extra, ", ".join(self._names)))
            return [theta[n] for n in self._names]
        return list(theta)

    def forward(self, theta):
        """x*(theta) for theta a dict {block: array or petsc4py Vec} or a sequence in names order
        (a matrix-values block may be a petsc4py Mat with the block's pattern). Returns this
        rank's entries of x* (a new array), or a new petsc4py Vec for petsc4py input."""
        theta = self._ordered(theta)
        if theta and all(_is_petsc(t) for t in theta):
            call, x = self._c.forward_petsc(theta)
            self._last = ("petsc", call)
            return x
        arrays = [_np.ascontiguousarray(t, dtype=_np.float64).reshape(-1) for t in theta]
        call, x, state = self._c.forward(arrays)
        self._last = ("array", call, arrays, state)
        return x

    def set_solution(self, theta, state):
        """Install theta and the map's state s* (found elsewhere) without a forward solve."""
        arrays = [_np.ascontiguousarray(t, dtype=_np.float64).reshape(-1) for t in self._ordered(theta)]
        state = _np.ascontiguousarray(state, dtype=_np.float64).reshape(-1)
        call = self._c.set_solution(arrays, state)
        self._last = ("array", call, arrays, state)

    def backward(self, g):
        """dL/dtheta of the last forward for g = dL/dx*: {block: array} (or petsc4py objects
        when the forward was given Vecs)."""
        if self._last is None:
            raise Error("folded layer: backward() needs a forward() first")
        if self._last[0] == "petsc":
            if not _is_petsc_vec(g):
                raise TypeError("the forward was given petsc4py Vecs: give dL/dx* as a petsc4py Vec too")
            return self._c.backward_petsc(self._last[1], g)
        _, call, arrays, state = self._last
        g = _np.ascontiguousarray(g.getArray() if _is_petsc_vec(g) else g, dtype=_np.float64).reshape(-1)
        return dict(zip(self._names, self._c.backward(call, arrays, state, g)))

    def report(self):
        """The last call's report: forward, fixed_point_residual, adjoint, rho, map."""
        return self._c.report()

    def view(self):
        """Print the report as -fold_view does (rank 0)."""
        self._c.view()
