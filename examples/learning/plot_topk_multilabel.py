#!/usr/bin/python3
"""Plot topk_multilabel's curves: DIR/topk_multilabel.csv -> DIR/topk_multilabel.png.

Three panels: training loss per epoch and test top-k accuracy for the three layers (pgd, sqp,
closed) overlaid, and the largest relative difference of dL/dc per epoch against the closed form.
Usage: /usr/bin/python3 plot_topk_multilabel.py DIR
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_topk_multilabel.py DIR")
    path = os.path.join(sys.argv[1], "topk_multilabel.csv")
    with open(path) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    header = lines[0].split(",")
    rows = np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]], ndmin=2)
    d = {h: rows[:, i] for i, h in enumerate(header)}
    e = d["epoch"]
    styles = {"pgd": ("C0", "-", "o", 8), "sqp": ("C1", "--", "s", 5), "closed": ("k", ":", "x", 7)}
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for name, (col, ls, mk, ms) in styles.items():
        ax[0].plot(e, d["loss_" + name], color=col, ls=ls, marker=mk, ms=ms, mfc="none", label=name)
        ax[1].plot(e, d["acc_" + name], color=col, ls=ls, marker=mk, ms=ms, mfc="none", label=name)
    for name in ("pgd", "sqp"):
        col = styles[name][0]
        ax[2].semilogy(e, d["grad_rel_" + name], color=col, marker="o", label=name + ": dL/dc vs closed")
        ax[2].semilogy(e, d["param_rel_" + name], color=col, ls="--", marker="x",
                       label=name + ": parameter gradients of its own network\n(trained apart) vs closed's")
    ax[2].axhline(1e-8, color="gray", ls=":", label="1e-8")
    ax[0].set(xlabel="epoch", ylabel="training loss (mean ||x* - y||^2)", title="training loss")
    ax[1].set(xlabel="epoch", ylabel="test top-k accuracy", title="test accuracy")
    ax[2].set(xlabel="epoch", ylabel="max relative difference per epoch", title="gradients against the closed form")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    out = os.path.join(sys.argv[1], "topk_multilabel.png")
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
