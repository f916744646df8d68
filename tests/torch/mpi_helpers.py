"""Helpers of the Python tests at any number of ranks (tests only: they gather small arrays).

Gathered(layer) is x = allgather(FoldedFunction(layer, local parts of whole θ)): a function of
whole tensors, made alike on every rank, whose output is the whole x* on every rank, so that
torch.autograd.gradcheck perturbs the same entry on every rank in step (each perturbation is a
collective forward solve) and compares whole Jacobians.
"""
import numpy as np
import torch
from mpi4py import MPI

from foldopt import FoldedLayer
from foldopt.torch import FoldedFunction

comm = MPI.COMM_WORLD


def allgather(a):
    """The whole vector from each rank's part (in rank order)."""
    a = np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
    counts = comm.allgather(a.size)
    out = np.empty(sum(counts))
    comm.Allgatherv(a, [out, counts])
    return out


class _Local(torch.autograd.Function):
    """Whole block → this rank's part; backward: the whole gradient from every rank's part."""

    @staticmethod
    def forward(ctx, whole, start, size):
        ctx.numel = whole.numel()
        return whole.reshape(-1)[start:start + size].clone()

    @staticmethod
    def backward(ctx, g):
        return torch.from_numpy(allgather(g.detach().numpy())), None, None


class _Gather(torch.autograd.Function):
    """This rank's part of x → the whole x; backward: this rank's part of the whole gradient."""

    @staticmethod
    def forward(ctx, part, start):
        ctx.start, ctx.size, ctx.shape = start, part.numel(), part.shape
        return torch.from_numpy(allgather(part.detach().numpy()))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(-1)[ctx.start:ctx.start + ctx.size].reshape(ctx.shape).contiguous(), None


def gathered(layer):
    """For a foldopt.FoldedLayer (through foldopt.torch.FoldedFunction) or a
    foldopt.torch.CppLayer (through the C++ autograd function)."""
    s = layer.sizes()
    if isinstance(layer, FoldedLayer):
        apply = lambda parts: FoldedFunction.apply(layer, *parts)  # noqa: E731
    else:
        apply = lambda parts: layer(list(parts))  # noqa: E731

    def f(*whole):
        parts = [_Local.apply(w, st, sz) for w, st, sz in zip(whole, s["start"], s["local"])]
        return _Gather.apply(apply(parts), s["solution_start"])

    return f


def whole_params(layer):
    """The problem's θ as whole tensors (every rank alike)."""
    values = layer.params().values() if isinstance(layer, FoldedLayer) else [t.numpy() for t in layer.params()]
    return [torch.from_numpy(allgather(v)) for v in values]
