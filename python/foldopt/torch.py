"""foldopt.torch: the folded layer in PyTorch.

    from foldopt.torch import FoldedFunction, FoldedModule, TorchMap
    layer = foldopt.FoldedLayer("sparsemax", "-n 10")
    x = FoldedFunction.apply(layer, theta)        # one tensor per parameter block, names order
    module = FoldedModule("qp_box", "-n 20", learn=["q"])
    x = module(q=network(features))               # blocks given override the module's own

Tensors are float64 on the CPU (other floating dtypes are converted, with a warning; CUDA
tensors are refused); a block's tensor may have any shape, its entries in row-major order being
this rank's entries of the block (see foldopt's docstring). x comes back as [rows, n] when this
rank's entries of x* are whole instances (rows = B at one rank), else 1-D. θ and dL/dx* are used
in place when they are contiguous float64 (NumPy views of the tensors); x* is copied once; the
gradients are returned on the library's vectors (no copy).

CppLayer(problem, options) is the C++ autograd function (foldopt::torch::Layer, libfoldopt_torch)
seen from Python: layer([tensors]) -> x, differentiated by the libtorch implementation itself.

TorchMap makes an update map of a PyTorch function U(x, *theta) (x: [rows, n], each theta block
[rows, n]: the rank's whole instances): torch.autograd gives its Phi^T v (vjp in x) and Psi^T v
(vjp in theta); FoldedLayer.from_map(TorchMap(...), ...) then solves the adjoint with PETSc's
KSP (-fold_ksp_type richardson is LFPI, gmres, bcgs; -fold_ksp_rtol), its PCs, and SLEPc's rho
estimate (-fold_rho), as for the library's own maps.
"""
import atexit
import warnings

import numpy as np
import torch

from . import Error, FoldedLayer

try:  # the libtorch implementation itself (built where libtorch_python is found)
    from ._foldopt_torch import Layer as CppLayer
    from ._foldopt_torch import finalize as _cpp_finalize

    atexit.register(_cpp_finalize)  # runs before foldopt's own finalization (registered first)
except ImportError:  # pragma: no cover
    CppLayer = None

__all__ = ["FoldedFunction", "FoldedModule", "TorchMap", "folded", "CppLayer"]


def _as_array(t, what):
    """A contiguous float64 NumPy view of a CPU tensor (a copy only if it was not one)."""
    if not isinstance(t, torch.Tensor):
        return np.ascontiguousarray(t, dtype=np.float64).reshape(-1)
    if t.device.type != "cpu":
        raise Error("%s: a tensor on device %s; foldopt works on CPU float64 tensors (move it with .cpu())"
                    % (what, t.device))
    if not t.is_floating_point():
        raise Error("%s: a tensor of type %s; foldopt needs floating-point values (float64)" % (what, t.dtype))
    t = t.detach()
    if t.dtype != torch.float64:
        warnings.warn("foldopt: %s: a %s tensor, converted to float64 (foldopt computes in float64; "
                      "pass float64 tensors to avoid the copy)" % (what, t.dtype), stacklevel=3)
        t = t.to(torch.float64)
    return t.contiguous().numpy().reshape(-1)


def _solution_shape(layer):
    s = layer.sizes()
    return (s["solution_rows"], s["n"]) if s["solution_rows"] >= 0 else (s["solution_local"],)


class FoldedFunction(torch.autograd.Function):
    """x = FoldedFunction.apply(layer, *theta): forward the layer's forward solve, backward its
    folded backward, one gradient per block (in the layer's names order)."""

    @staticmethod
    def forward(ctx, layer, *theta):
        names = layer.names
        if len(theta) != len(names):
            raise Error("foldopt: %d tensors given, the layer has %d parameter blocks (%s)"
                        % (len(theta), len(names), ", ".join(names)))
        arrays = [_as_array(t, "parameter block '%s'" % n) for t, n in zip(theta, names)]
        call, x, state = layer._c.forward(arrays)
        ctx.layer, ctx.call, ctx.arrays, ctx.state = layer, call, arrays, state
        ctx.shapes = [t.shape if isinstance(t, torch.Tensor) else (a.size,) for t, a in zip(theta, arrays)]
        return torch.from_numpy(x).view(_solution_shape(layer))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        g = _as_array(g, "the gradient dL/dx*")
        grads = ctx.layer._c.backward(ctx.call, ctx.arrays, ctx.state, g)
        return (None,) + tuple(torch.from_numpy(a).view(s) for a, s in zip(grads, ctx.shapes))


def folded(layer, *theta):
    """FoldedFunction.apply(layer, *theta)."""
    return FoldedFunction.apply(layer, *theta)


class FoldedModule(torch.nn.Module):
    """A folded layer as a module: the blocks named in `learn` are nn.Parameters (from the
    problem's own theta), the others buffers; forward(**blocks) overrides any of them."""

    def __init__(self, problem, options=None, learn=(), layer=None):
        super().__init__()
        self.layer = layer if layer is not None else FoldedLayer(problem, options)
        self._keys = {}
        for name, value in self.layer.params().items():
            t = torch.from_numpy(np.array(value))
            key = name.replace(".", "_")
            self._keys[name] = key
            if name in learn:
                self.register_parameter(key, torch.nn.Parameter(t))
            else:
                self.register_buffer(key, t)
        unknown = [n for n in learn if n not in self._keys]
        if unknown:
            raise KeyError("learn: unknown block(s) %s (the layer's: %s)" % (unknown, ", ".join(self.layer.names)))

    def forward(self, **blocks):
        unknown = [n for n in blocks if n not in self._keys]
        if unknown:
            raise KeyError("unknown block(s) %s (the layer's: %s)" % (unknown, ", ".join(self.layer.names)))
        theta = [blocks[n] if n in blocks else getattr(self, self._keys[n]) for n in self.layer.names]
        return FoldedFunction.apply(self.layer, *theta)

    def report(self):
        return self.layer.report()


class TorchMap:
    """An update map U(x, *theta) written in PyTorch, for FoldedLayer.from_map. U takes and
    returns [rows, n] tensors (this rank's whole instances) and must be differentiable by
    torch.autograd in x and in each theta block. fixed_point_scale divides the fixed-point
    residual ||U(x) - x|| before the layer's check (the stepsize of a prox-gradient step)."""

    def __init__(self, U, n, name="torch", fixed_point_scale=1.0):
        self.U, self.n, self.name, self.fixed_point_scale = U, n, name, float(fixed_point_scale)
        self._y = None

    def _t(self, a):
        return torch.from_numpy(a).view(-1, self.n)

    def apply(self, x, theta, y):
        with torch.no_grad():
            out = self.U(self._t(x), *[self._t(t) for t in theta])
        y[:] = out.reshape(-1).numpy()

    def linearize(self, x, theta):
        self._x = self._t(x).clone().requires_grad_(True)
        self._theta = [self._t(t).clone().requires_grad_(True) for t in theta]
        with torch.enable_grad():
            self._y = self.U(self._x, *self._theta)

    def _vjp(self, v, inputs):
        grads = torch.autograd.grad(self._y, inputs, self._t(v), retain_graph=True, allow_unused=True)
        return [torch.zeros_like(i) if g is None else g for g, i in zip(grads, inputs)]

    def phi_t(self, v, y):
        y[:] = self._vjp(v, [self._x])[0].reshape(-1).numpy()

    def psi_t(self, v, outs):
        for o, g in zip(outs, self._vjp(v, self._theta)):
            o[:] = g.reshape(-1).numpy()
