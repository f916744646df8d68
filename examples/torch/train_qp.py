"""foldopt example: a small network trained through a folded box-QP layer, in PyTorch.

    features f_b (3 per instance) -> nn.Sequential(Linear, Tanh, Linear) -> q_b -> x*_b = argmin
    1/2 x'Hx - q_b'x s.t. -1 <= x <= 1 (problem qp_box, a batch of 4 instances of 6 unknowns;
    the blocks lb and ub given as tensors) -> loss sum_b ||x*_b - t_b||^2, the targets t_b the
    solutions for the problem's own q. (An entry at a bound does not move with q: a target
    inside the box for an entry the network has pushed onto a bound stalls the training there,
    which the problem's own, tighter bounds would show.)
torch.optim.Adam updates the network; the loss must fall below a fifth of its first value.

MPI: every rank holds the same network (same seed) and its own instances (the layer's rows:
4 at one rank, 2 and 2 at two); the parameter gradients are summed over the ranks after each
backward (data parallel). Run: mpiexec -n 2 /usr/bin/python3 train_qp.py
"""
import sys

import numpy as np
import torch
from mpi4py import MPI

import foldopt
from foldopt.torch import FoldedModule

comm = MPI.COMM_WORLD
module = FoldedModule("qp_box", "-n 6 -batch 4 -seed 5")
sizes = module.layer.sizes()
rows, start = sizes["solution_rows"], sizes["solution_start"] // 6
box = dict(lb=-torch.ones(rows, 6, dtype=torch.float64), ub=torch.ones(rows, 6, dtype=torch.float64))
with torch.no_grad():
    target = module(**box).clone()  # x* for the problem's own q in the box [-1, 1]

torch.manual_seed(0)  # the same network and features on every rank
net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 6)).double()
features = torch.randn(4, 3, dtype=torch.float64)[start:start + rows]
opt = torch.optim.Adam(net.parameters(), lr=0.05)
first = last = None
for step in range(100):
    opt.zero_grad()
    x = module(q=net(features), **box)  # q of this rank's instances
    loss = ((x - target) ** 2).sum()
    loss.backward()
    for p in net.parameters():  # the gradient of the whole batch's loss
        comm.Allreduce(MPI.IN_PLACE, p.grad.numpy(), op=MPI.SUM)
    total = comm.allreduce(loss.item())
    first = total if first is None else first
    last = total
    if step % 20 == 0 and comm.rank == 0:
        print("step %3d  loss %.6e" % (step, total))
    opt.step()
if comm.rank == 0:
    print("loss %.6e -> %.6e" % (first, last))
    print("report:", {k: module.report()["adjoint"][k] for k in ("method", "iterations", "converged")})
ok = last < 0.2 * first
if comm.rank == 0:
    print("train_qp: ok" if ok else "train_qp: the loss did not decrease enough")
sys.exit(0 if ok else 1)
