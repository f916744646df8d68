#!/usr/bin/python3
"""Batched smooth top-k backward: draws batch_np<P>.png beside each batch_np<P>.csv of bench/batch.

Usage: /usr/bin/python3 bench/plot_batch.py [RESULTS_DIR]   (default: bench/results next to this file)

Left panel: backward throughput (instances per second) against the batch size B for the coupled
solve, the per-instance blocks (from the assembled Phi^T, and from n products) and one instance at
a time. Right panel: Krylov iterations of the
coupled solve (all instances share them), of the blocks path (1) and per instance one at a time.
"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"coupled": "coupled (one GMRES over the batch)",
          "blocks": "blocks from the assembled Phi^T (Woodbury)",
          "blocks_products": "blocks from n products (LU)",
          "one_at_a_time": "one at a time (B = 1 layer, reused)"}


def read(path):
    with open(path) as f:
        lines = [l for l in f if l.strip()]
    comments = [l[1:].strip() for l in lines if l.startswith("#")]
    rows = list(csv.DictReader([l for l in lines if not l.startswith("#")]))
    return comments, rows


def plot(path):
    comments, rows = read(path)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method, label in LABELS.items():
        sel = [r for r in rows if r["method"] == method]
        if not sel:
            continue
        B = [int(r["B"]) for r in sel]
        ax.loglog(B, [float(r["instances_per_s"]) for r in sel], "o-", label=label)
        its = [int(r["iterations"]) / (int(r["B"]) if method == "one_at_a_time" else 1) for r in sel]
        bx.semilogx(B, its, "o-", label=label)
    ax.set_xlabel("batch size B")
    ax.set_ylabel("backward throughput (instances / s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    bx.set_xlabel("batch size B")
    bx.set_ylabel("Krylov iterations (one at a time: per instance)")
    bx.grid(True, which="both", alpha=0.3)
    inst = next((c for c in comments if c.startswith("instance:")), "")
    fig.suptitle("Batched smooth top-k backward " + inst.split(",")[1].strip() if "," in inst else "Batched smooth top-k backward",
                 fontsize=10)
    fig.tight_layout()
    out = path[:-4] + ".png"
    fig.savefig(out, dpi=110)
    print("wrote", out)


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    files = sorted(glob.glob(os.path.join(d, "batch_np*.csv")))
    if not files:
        sys.exit("plot_batch.py: no batch_np*.csv in " + d)
    for f in files:
        plot(f)


if __name__ == "__main__":
    main()
