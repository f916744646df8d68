#!/usr/bin/python3
# foldopt learning example: the plots of tv_denoise (examples/learning/tv_denoise.cpp).
#
# Reads DIR/tv_denoise_curves.csv (and, when present, tv_denoise_timing.csv and
# tv_denoise_signal.csv) and writes DIR/tv_denoise.png: test MSE per epoch for every lambda with
# the fixed initial D's level dashed; one test signal denoised with the initial and the learned D;
# the time per training step of the FDPG route and of the QP form through ADMM.
# Run: /usr/bin/python3 examples/learning/plot_tv_denoise.py DIR
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_tv_denoise.py DIR")
    d = sys.argv[1]
    curves = rows(os.path.join(d, "tv_denoise_curves.csv"))
    timing_path = os.path.join(d, "tv_denoise_timing.csv")
    signal_path = os.path.join(d, "tv_denoise_signal.csv")
    panels = 1 + os.path.exists(signal_path) + os.path.exists(timing_path)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2))
    if panels == 1:
        axes = [axes]
    ax = axes[0]
    lambdas = []
    for r in curves:
        if r["lambda"] not in lambdas:
            lambdas.append(r["lambda"])
    for k, lam in enumerate(lambdas):
        pts = [(int(r["epoch"]), float(r["test_mse"])) for r in curves if r["lambda"] == lam]
        color = "C%d" % k
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=3, color=color, label="λ = %s, learned D" % lam)
        base = [p[1] for p in pts if p[0] == 0][0]
        ax.axhline(base, color=color, ls="--", lw=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test MSE")
    ax.set_yscale("log")
    ax.set_title("test MSE (dashed: fixed first-difference D)")
    ax.legend(fontsize=8)
    p = 1
    if os.path.exists(signal_path):
        s = rows(signal_path)
        ax = axes[p]
        p += 1
        i = [int(r["i"]) for r in s]
        ax.plot(i, [float(r["noisy"]) for r in s], ".", color="0.6", ms=3, label="noisy d")
        ax.plot(i, [float(r["clean"]) for r in s], "k-", lw=1, label="clean")
        ax.plot(i, [float(r["x_initial_D"]) for r in s], "-", color="C1", lw=1, label="x*, initial D")
        ax.plot(i, [float(r["x_learned_D"]) for r in s], "-", color="C0", lw=1, label="x*, learned D")
        ax.set_xlabel("entry")
        ax.set_title("a test signal (λ = %s)" % lambdas[0])
        ax.legend(fontsize=8)
    if os.path.exists(timing_path):
        all_rows = rows(timing_path)
        t = [r for r in all_rows if r["step"] != "median"]
        med = {r["route"]: float(r["step_seconds"]) for r in all_rows if r["step"] == "median"}
        ax = axes[p]
        for route, color, label in (("fdpg", "C0", "FDPG (tv)"), ("qp_admm", "C3", "QP form (qp, ADMM)")):
            pts = [(int(r["step"]), float(r["step_seconds"])) for r in t if r["route"] == route]
            ax.plot([q[0] for q in pts], [q[1] for q in pts], "o-", color=color, label=label)
        ax.set_yscale("log")
        ax.set_xlabel("compared training step")
        ax.set_ylabel("seconds per step (forward + backward + Adam)")
        title = "time per training step"
        if "fdpg" in med and "qp_admm" in med:
            title += " (medians: QP/FDPG = %.1f)" % (med["qp_admm"] / med["fdpg"])
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out = os.path.join(d, "tv_denoise.png")
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
