#!/usr/bin/python3
"""Training loop plots: draws training_loop.png from the CSV files of bench/training_loop.

Usage: /usr/bin/python3 bench/plot_training_loop.py [RESULTS_DIR]   (default: bench/results next to this file)

Left panel: the backward's wall time at each loop step per configuration (log scale), with the
step's forward. Right panel: amortized backward (mean over the steps) as a multiple of the cold
forward (the first step's), whole backward and adjoint solve alone, with the target 0.1.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path) as f:
        lines = [l for l in f if l.strip()]
    comments = [l[1:].strip() for l in lines if l.startswith("#")]
    rows = list(csv.DictReader([l for l in lines if not l.startswith("#")]))
    return comments, rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    comments, steps = read(os.path.join(out, "training_loop_steps.csv"))
    _, summary = read(os.path.join(out, "training_loop_summary.csv"))
    instance = next((c for c in comments if c.startswith("instance:")), "")
    configs = [r["config"] for r in summary]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.5))
    fwd = {}
    for r in steps:
        fwd[int(r["step"])] = float(r["forward_s"])
    ks = sorted(fwd)
    ax1.plot(ks, [fwd[k] for k in ks], "k--", lw=2, label="forward (TAO tron, warm-started)")
    for c in configs:
        rs = [r for r in steps if r["config"] == c]
        ax1.plot([int(r["step"]) for r in rs], [float(r["backward_s"]) for r in rs], marker="o", ms=3, label=c)
    ax1.set_yscale("log")
    ax1.set_xlabel("loop step")
    ax1.set_ylabel("wall time (s)")
    ax1.set_title("backward per step")
    ax1.legend(fontsize=7)
    ax1.grid(True, which="both", alpha=0.3)

    x = range(len(configs))
    whole = [float(r["backward_over_cold_forward"]) for r in summary]
    alone = [float(r["adjoint_over_cold_forward"]) for r in summary]
    ax2.bar([i - 0.2 for i in x], whole, width=0.4, label="whole backward")
    ax2.bar([i + 0.2 for i in x], alone, width=0.4, label="adjoint solve alone")
    ax2.axhline(0.1, color="r", ls=":", label="target 0.1")
    ax2.set_xticks(list(x))
    ax2.set_xticklabels(configs, rotation=35, ha="right", fontsize=7)
    ax2.set_ylabel("amortized backward / cold forward")
    ax2.set_title("amortized over the loop")
    ax2.legend(fontsize=8)
    ax2.grid(True, axis="y", alpha=0.3)
    fig.suptitle("training loop: " + instance.replace("instance: ", ""), fontsize=9)
    fig.tight_layout()
    path = os.path.join(out, "training_loop.png")
    fig.savefig(path, dpi=110)
    print("wrote " + path)


if __name__ == "__main__":
    main()
