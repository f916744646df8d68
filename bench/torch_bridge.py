"""bench/torch_bridge.py: a user's update map written in PyTorch (foldopt.torch.TorchMap) against
the same built-in map: Phi^T products per second, side by side in one run.

Method: the box-QP qp_box (n unknowns per instance, one instance per rank, so that each rank's
block of H is its own: H block diagonal) and the same map written in torch,
    U(x; q, lb, ub) = clamp(x - a (H x - q), lb, ub)      (H this rank's block, a torch CSR matrix)
with the built-in map's stepsize a (given to both). The built-in layer solves the forward; both
layers then solve the adjoint at the same x* (the user layer takes it by set_solution) with GMRES
to rtol 1e-10 from dL/dx = 1, and the products per second are the adjoint's Phi^T products over
its time (the report's). The user map is also timed alone (TorchMap.phi_t on numpy arrays, no
PETSc), to split its rate into torch's work and the bridge's callbacks. The gradients of both
layers are compared (relative difference).
Writes <out>/torch_bridge_user_map_np<P>.csv and prints a Markdown table.

Run:   PYTHONPATH=build/python mpiexec -n 2 /usr/bin/python3 bench/torch_bridge.py OUT [-n N] [-quick]
"""
import os
import socket
import sys
import time
import warnings

import numpy as np
import torch

import foldopt
from foldopt.torch import TorchMap
from mpi4py import MPI

comm = MPI.COMM_WORLD


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit("usage: torch_bridge.py OUT [-n N] [-quick]")
    out = args[0]
    quick = "-quick" in args
    n = 10000 if quick else 100000
    if "-n" in args:
        n = int(args[args.index("-n") + 1])
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    batch, a = comm.size, 0.1
    opts = ("-n %d -batch %d -shift 0.1 -fold_pgd_stepsize %g -fold_ksp_type gmres -fold_ksp_rtol 1e-10 "
            "-fold_check_minimum 0" % (n, batch, a))
    ref = foldopt.FoldedLayer("qp_box", opts)
    theta = ref.params()
    x = ref.forward(theta)
    g = np.ones_like(x)
    t0 = time.perf_counter()
    grad_ref = ref.backward(g)
    t_builtin_call = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    rb = ref.report()["adjoint"]

    H = ref.data_matrices()["H"]
    lo, hi = H.getOwnershipRange()
    ai, aj, av = H.getValuesCSR()
    Hl = torch.sparse_csr_tensor(torch.from_numpy(ai.astype(np.int64)), torch.from_numpy(aj.astype(np.int64) - lo),
                                 torch.from_numpy(av), size=(hi - lo, hi - lo))

    def U(x, q, lb, ub):
        hx = (Hl @ x.reshape(-1, 1)).reshape(x.shape)
        return torch.minimum(torch.maximum(x - a * (hx - q), lb), ub)

    m = TorchMap(U, n, name="box-QP in torch", fixed_point_scale=a)
    user = foldopt.FoldedLayer.from_map(m, n, batch, ["q", "lb", "ub"],
                                        "-fold_ksp_type gmres -fold_ksp_rtol 1e-10 -fold_check_minimum 0")
    blocks = [theta["q"], theta["lb"], theta["ub"]]
    user.set_solution({"q": blocks[0], "lb": blocks[1], "ub": blocks[2]}, x)
    t0 = time.perf_counter()
    grad_user = user.backward(g)
    t_user_call = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    ru = user.report()["adjoint"]

    # The user map alone: linearize once, then Phi^T products on numpy arrays.
    m.linearize(np.ascontiguousarray(x), [np.ascontiguousarray(b) for b in blocks])
    v, y = np.ones_like(x), np.empty_like(x)
    reps = 20
    comm.Barrier()
    t0 = time.perf_counter()
    for _ in range(reps):
        m.phi_t(v, y)
    t_alone = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX) / reps

    def rel(u, w):
        num = comm.allreduce(sum(float(np.sum((np.asarray(u[k]) - np.asarray(w[k])) ** 2)) for k in w))
        den = comm.allreduce(sum(float(np.sum(np.asarray(w[k]) ** 2)) for k in w))
        return (num / den) ** 0.5

    common = {k: grad_ref[k] for k in ("q", "lb", "ub")}
    diff = rel(grad_user, common)
    rows = [
        ("built-in pgd (C++)", rb["products"], rb["seconds"], t_builtin_call, rb["products"] / rb["seconds"]),
        ("TorchMap (Python, through the layer)", ru["products"], ru["seconds"], t_user_call, ru["products"] / ru["seconds"]),
        ("TorchMap.phi_t alone (no PETSc)", reps, t_alone * reps, t_alone * reps, 1.0 / t_alone),
    ]
    if comm.rank == 0:
        path = os.path.join(out, "torch_bridge_user_map_np%d.csv" % comm.size)
        with open(path + ".part", "w") as f:
            f.write("# command: %s%s %s\n" % ("mpiexec -n %d " % comm.size if comm.size > 1 else "", sys.executable,
                                              " ".join(sys.argv)))
            f.write("# machine: %s, %d cores, %d MPI ranks, torch %s (1 thread)\n"
                    % (socket.gethostname(), os.cpu_count(), comm.size, torch.__version__))
            f.write("# instance: qp_box n = %d per instance, %d instances, stepsize %g; gradients differ by %.2e\n"
                    % (n, batch, a, diff))
            f.write("map,phi_t_products,adjoint_seconds,call_seconds,phi_t_per_second\n")
            for r in rows:
                f.write('"%s",%d,%.6g,%.6g,%.6g\n' % r)
        os.replace(path + ".part", path)
        print("| map | Phi^T products | adjoint (s) | call (s) | Phi^T per second |")
        print("|---|---|---|---|---|")
        for r in rows:
            print("| %s | %d | %.4f | %.4f | %.4g |" % r)
        print("built-in / TorchMap rate: %.1fx; gradients differ by %.2e" % (rows[0][4] / rows[1][4], diff))
        print("wrote %s" % path)
    if not diff < 1e-6:
        sys.exit("bench error: the user map's gradient differs from the built-in's by %.2e" % diff)


if __name__ == "__main__":
    main()
