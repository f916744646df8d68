"""Plots of bench/spectral: the stepsize sweep (LFPI / GMRES iterations and rho(Phi) against alpha)
and the cost of each spectral phase as a fraction of the backward it serves.

Usage: /usr/bin/python3 bench/plot_spectral.py OUTPUT_DIR  (PNG files beside the CSV files)
"""
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read(path):
    comments, rows = [], []
    with open(path) as f:
        lines = [l.rstrip("\n") for l in f]
    comments = [l[2:] for l in lines if l.startswith("#")]
    data = [l for l in lines if l and not l.startswith("#")]
    header = data[0].split(",")
    for l in data[1:]:
        rows.append(dict(zip(header, l.split(","))))
    return comments, rows


def sweep(path):
    comments, rows = read(path)
    a = np.array([float(r["alpha"]) for r in rows])
    c = np.array([float(r["c"]) for r in rows])
    rho = np.array([float(r["rho"]) for r in rows])
    lf = np.array([float(r["lfpi_iterations"]) for r in rows])
    ok = np.array([r["lfpi_converged"] == "1" for r in rows])
    gm = np.array([float(r["gmres_iterations"]) for r in rows])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.semilogy(a[ok], lf[ok], "o-", label="LFPI iterations")
    if (~ok).any():
        ax.semilogy(a[~ok], lf[~ok], "x", color="C0", label="LFPI (cap reached)")
    ax.semilogy(a, gm, "s-", label="GMRES(30) iterations")
    inv_lmax = a[0] / c[0]  # alpha = c / lambda_max
    for cc, name in ((1.0, "1/lmax (auto)"), (2.0, "2/lmax")):
        ax.axvline(cc * inv_lmax, color="gray", ls=":", lw=1)
        ax.text(cc * inv_lmax, ax.get_ylim()[1] * 0.6, " " + name, color="gray", fontsize=8)
    ax.set_xlabel("stepsize alpha")
    ax.set_ylabel("iterations to rtol 1e-8")
    ax2 = ax.twinx()
    ax2.plot(a, rho, "k--", label="rho(Phi)")
    ax2.set_ylabel("rho(Phi)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8)
    inst = [x for x in comments if x.startswith("instance")]
    ax.set_title("stepsize sweep: " + (inst[0][len("instance: "):] if inst else ""), fontsize=8)
    fig.tight_layout()
    out = path[:-4] + ".png"
    fig.savefig(out, dpi=120)
    print("wrote", out)


def cost(path):
    comments, rows = read(path)
    phases = [r for r in rows if not r["phase"].startswith("backward")]
    frac = [100 * float(r["fraction_of_backward"]) for r in phases]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh([r["phase"] for r in phases], frac, color=["C2" if f <= 25 else "C3" for f in frac])
    ax.axvline(25, color="k", ls="--", lw=1, label="target 25 %")
    ax.set_xscale("log")
    ax.set_xlabel("time, % of the preconditioned backward (GMRES + BoomerAMG)")
    inst = [x for x in comments if x.startswith("instance")]
    ax.set_title(inst[0][len("instance: "):].split(";")[0] if inst else "", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = path[:-4] + ".png"
    fig.savefig(out, dpi=120)
    print("wrote", out)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    for p in sorted(glob.glob(os.path.join(d, "spectral_sweep_*.csv"))):
        sweep(p)
    for p in sorted(glob.glob(os.path.join(d, "spectral_cost_*.csv"))):
        cost(p)


if __name__ == "__main__":
    main()
