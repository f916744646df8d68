#!/usr/bin/python3
"""Plots of bench/methods: for every methods*_np*.csv in RESULTS_DIR, one PNG per metric beside it.

Usage: /usr/bin/python3 bench/plot_methods.py [RESULTS_DIR]   (default: bench/results next to this file)

Each PNG (<csv name>_<metric>.png) groups the bars by problem (at each problem's size n), one bar per
method, on a log scale: Phi^T products, backward wall time, peak memory of the backward phase, and the
relative gradient error against the reference (the CSV's `reference` column). A method that was
skipped or did not converge at that size has no bar but a letter at its place: s (skipped, the reason
is in the CSV) or x (error).
"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METRICS = [
    ("products", "Phi^T products", 1.0),
    ("backward_s", "backward wall time (s)", 1e-6),
    ("peak_MiB", "peak memory of the backward phase, all ranks (MiB)", 1.0),
    ("grad_rel_err", "relative gradient error vs the reference", 1e-17),
]


def read(path):
    with open(path) as f:
        body = [l for l in f if l.strip() and not l.startswith("#")]
    return list(csv.DictReader(body))


def plot(path):
    rows = read(path)
    if not rows:
        return []
    groups = []  # (problem, n) in file order
    methods = []
    for r in rows:
        key = (r["problem"], r["n"])
        if key not in groups:
            groups.append(key)
        if r["method"] not in methods:
            methods.append(r["method"])
    by = {(r["problem"], r["n"], r["method"]): r for r in rows}
    width = 0.8 / len(methods)
    cmap = plt.get_cmap("tab10")
    written = []
    for metric, label, floor in METRICS:
        fig, ax = plt.subplots(figsize=(max(8, 1.3 * len(groups) + 2), 4.5))
        for j, m in enumerate(methods):
            xs, ys = [], []
            for i, (p, n) in enumerate(groups):
                r = by.get((p, n, m))
                x = i - 0.4 + (j + 0.5) * width
                if r is None:
                    continue
                if r["status"] != "ok" or r[metric] in ("", "nan"):
                    ax.text(x, floor, "s" if r["status"] == "skipped" else "x", ha="center", va="bottom", fontsize=7,
                            color=cmap(j % 10))
                    continue
                xs.append(x)
                ys.append(max(float(r[metric]), floor))
            ax.bar(xs, ys, width=width, color=cmap(j % 10), label=m, bottom=floor if metric == "grad_rel_err" else None)
        ax.set_yscale("log")
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{p}\nn={n}" for p, n in groups], fontsize=8)
        ax.set_ylabel(label)
        ax.set_title(f"{os.path.basename(path)}: {label}", fontsize=9)
        ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.18))
        out = os.path.splitext(path)[0] + f"_{metric}.png"
        fig.savefig(out, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(out)
    return written


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results")
    files = sorted(glob.glob(os.path.join(out, "methods*_np*.csv")))
    if not files:
        print(f"plot_methods: no methods*_np*.csv in {out}")
        return 1
    for path in files:
        for png in plot(path):
            print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
