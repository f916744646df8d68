#!/usr/bin/python3
"""Test regret vs epoch per degree, regret (decision-focused) and mse (two-stage) training.

Usage: /usr/bin/python3 examples/learning/plot_portfolio.py DIR
Reads DIR/portfolio_curves.csv (written by examples/learning/portfolio.cpp), writes
DIR/portfolio_curves.png: one panel per degree, the normalized test regret of both methods per
epoch (epoch 0 is the common initial network).
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_portfolio.py DIR")
    d = sys.argv[1]
    path = os.path.join(d, "portfolio_curves.csv")
    with open(path) as fp:
        rows = list(csv.DictReader(line for line in fp if not line.startswith("#")))
    if not rows:
        sys.exit(f"{path}: no rows")
    curves = {}
    for r in rows:
        key = (int(r["degree"]), r["method"])
        curves.setdefault(key, []).append((int(r["epoch"]), float(r["test_regret"])))
    degrees = sorted({k[0] for k in curves})
    fig, axes = plt.subplots(1, len(degrees), figsize=(3.2 * len(degrees) + 0.6, 3.2), squeeze=False)
    labels = {"regret": "regret (f-SQP, decision-focused)", "mse": "MSE (two-stage)"}
    styles = {"regret": dict(color="C0", marker="o"), "mse": dict(color="C1", marker="s")}
    for ax, deg in zip(axes[0], degrees):
        for method in ("regret", "mse"):
            pts = sorted(curves.get((deg, method), []))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ms=3, label=labels[method], **styles[method])
        ax.set_title(f"degree {deg}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("normalized test regret")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    out = os.path.join(d, "portfolio_curves.png")
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
