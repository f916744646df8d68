#!/usr/bin/python3
# Plots of examples/obstacle_inverse (the inverse obstacle problem on a DMDA grid).
#
# Method: reads DIR/obstacle_inverse_np*.csv (the learning curves: iteration, J, L, grad_norm,
#   contact, misfit) and draws J, ||grad J|| and ||u - u_target|| against the outer iteration, one
#   line per rank count (runs at 1 and 2 ranks coincide); reads the fields file of the run with
#   the most ranks, DIR/obstacle_inverse_npP_fields.bin (PETSc binary: six Vecs in natural grid
#   order: psi, u_target, u, f_true, f, and 1 where u*(f_true) is off the obstacle), and draws target against recovered displacement and load,
#   with the contact sets outlined.
# Output: DIR/obstacle_inverse_curve.png and DIR/obstacle_inverse_fields.png.
# Usage: /usr/bin/python3 examples/plot_obstacle.py DIR
import glob
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

VEC_CLASSID = 1211214


def read_curve(path):
    rows = [l for l in open(path) if l.strip() and not l.startswith("#")]
    names = rows[0].strip().split(",")
    data = np.array([[float(x) for x in r.split(",")] for r in rows[1:]])
    return {n: data[:, k] for k, n in enumerate(names)}


def read_vecs(path):
    """The Vecs of a PETSc binary file (big-endian int32 class id and size, then float64 values)."""
    raw = open(path, "rb").read()
    out, pos = [], 0
    while pos < len(raw):
        cid, n = np.frombuffer(raw, ">i4", 2, pos)
        if cid != VEC_CLASSID:
            sys.exit("plot_obstacle.py: %s: not a PETSc Vec at byte %d" % (path, pos))
        pos += 8
        out.append(np.frombuffer(raw, ">f8", n, pos).astype(float))
        pos += 8 * n
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_obstacle.py DIR")
    d = sys.argv[1]
    curves = sorted(glob.glob(os.path.join(d, "obstacle_inverse_np*.csv")))
    if not curves:
        sys.exit("plot_obstacle.py: no obstacle_inverse_np*.csv in %s" % d)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    for k, path in enumerate(curves):
        np_ = re.search(r"_np(\d+)\.csv$", path).group(1)
        c = read_curve(path)
        style = dict(label="%s rank%s" % (np_, "" if np_ == "1" else "s"), lw=2.5 - 1.2 * k, ls="-" if k == 0 else "--")
        ax[0].semilogy(c["iteration"], c["J"], **style)
        ax[1].semilogy(c["iteration"], c["grad_norm"], **style)
        ax[2].semilogy(c["iteration"], c["misfit"], **style)
    for a, t in zip(ax, ["loss J(f)", "||grad J||", "||u*(f) - u_target||"]):
        a.set_title(t)
        a.set_xlabel("outer iteration (TAO)")
        a.grid(True, which="both", alpha=0.3)
        a.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(d, "obstacle_inverse_curve.png"), dpi=110)

    fields = sorted(glob.glob(os.path.join(d, "obstacle_inverse_np*_fields.bin")),
                    key=lambda p: int(re.search(r"_np(\d+)_fields", p).group(1)))
    if fields:
        psi, ut, u, ft, f, free = read_vecs(fields[-1])
        m = int(round(np.sqrt(psi.size)))
        grid = lambda v: v.reshape(m, m)  # natural order: x fastest, row j = y
        h2 = 1.0 / (m + 1) ** 2
        ext = [0, 1, 0, 1]
        fig, ax = plt.subplots(1, 4, figsize=(16, 4))
        lo, hi = min(ut.min(), u.min()), max(ut.max(), u.max())
        for a, v, t in [(ax[0], ut, "target u"), (ax[1], u, "recovered u")]:
            im = a.imshow(grid(v), origin="lower", extent=ext, vmin=lo, vmax=hi, cmap="viridis")
            a.contour(grid(v - psi <= 1e-9).astype(float), levels=[0.5], colors="w", extent=ext, linewidths=1)
            a.set_title(t + " (white: contact set)")
            fig.colorbar(im, ax=a, fraction=0.046)
        flo, fhi = min(ft.min(), f.min()) / h2, max(ft.max(), f.max()) / h2
        for a, v, t in [(ax[2], ft, "true load density F (cyan: contact set)"), (ax[3], f, "recovered load density F")]:
            im = a.imshow(grid(v) / h2, origin="lower", extent=ext, vmin=flo, vmax=fhi, cmap="magma")
            a.contour(grid(1.0 - free), levels=[0.5], colors="c", extent=ext, linewidths=1)
            a.set_title(t)
            fig.colorbar(im, ax=a, fraction=0.046)
        fig.tight_layout()
        fig.savefig(os.path.join(d, "obstacle_inverse_fields.png"), dpi=100)


if __name__ == "__main__":
    main()
