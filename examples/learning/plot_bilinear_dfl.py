#!/usr/bin/env python3
"""Plot of bilinear_dfl (issue 11, item 4): final test regret per Q of decision-focused (DFL,
through the folded smoothed bilinear layer) and two-stage (MSE) training, and the test-regret
curves of the first Q.

Usage: python3 examples/learning/plot_bilinear_dfl.py DIR   (reads DIR/bilinear_dfl.csv, writes
DIR/bilinear_dfl.png)
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_bilinear_dfl.py DIR")
    d = sys.argv[1]
    with open(os.path.join(d, "bilinear_dfl.csv")) as f:
        lines = f.readlines()
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    sizes = next((c[2:].split(", train")[0] for c in lines if c.startswith("# m = ")), "")
    if not rows:
        sys.exit("plot_bilinear_dfl.py: no rows in bilinear_dfl.csv")
    curves = {}  # (q, method) -> [(epoch, regret)]
    seeds = {}
    for r in rows:
        q = int(r["q"])
        seeds[q] = int(r["q_seed"])
        if not r["test_regret"]:  # an epoch without evaluation (-eval_every)
            continue
        curves.setdefault((q, r["method"]), []).append((int(r["epoch"]), float(r["test_regret"])))
    qs = sorted(seeds)
    final = {key: max(v)[1] for key, v in curves.items()}
    names = {"two_stage": "two-stage (MSE)", "dfl": "decision-focused (folded, smoothed)"}
    colors = {"two_stage": "tab:orange", "dfl": "tab:blue"}

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    w = 0.38
    for i, meth in enumerate(("two_stage", "dfl")):
        xs = [k + (i - 0.5) * w for k in range(len(qs))]
        a.bar(xs, [final.get((q, meth), float("nan")) for q in qs], w, label=names[meth], color=colors[meth])
    a.set_xticks(range(len(qs)))
    a.set_xticklabels([str(seeds[q]) for q in qs])
    a.set_xlabel("Q (seed)")
    a.set_ylabel("final normalized test regret")
    a.set_title("bilinear program%s: final test regret per Q" % (", " + sizes if sizes else ""))
    a.legend()
    q0 = qs[0]
    for meth in ("two_stage", "dfl"):
        pts = sorted(curves.get((q0, meth), []))
        b.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=names[meth], color=colors[meth])
    b.set_xlabel("epoch")
    b.set_ylabel("normalized test regret")
    b.set_title("test regret during training, Q seed %d" % seeds[q0])
    b.legend()
    fig.tight_layout()
    out = os.path.join(d, "bilinear_dfl.png")
    fig.savefig(out, dpi=120)
    print("wrote", out)


if __name__ == "__main__":
    main()
