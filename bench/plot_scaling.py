"""bench/plot_scaling.py OUT: plots of bench/scaling's CSV files (scaling_<problem>_np1.csv, ..._np2.csv).

Writes OUT/scaling.png: per problem, forward / backward / PC set-up seconds and per-phase peak
memory against n (log-log) at each rank count, with an n log n guide; prints the np 2 / np 1
ratios at the largest n common to both runs, and writes them to OUT/scaling_ratio.csv.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read(path):
    rows = []
    with open(path) as f:
        lines = [l for l in f if not l.startswith("#")]
    for r in csv.DictReader(lines):
        rows.append(r)
    return rows


def main(out):
    runs = {}
    for np_ in (1, 2):
        for name in sorted(os.listdir(out)):
            if name.startswith("scaling_") and name.endswith("_np%d.csv" % np_):
                runs.setdefault(np_, []).extend(read(os.path.join(out, name)))
    if not runs:
        sys.exit("plot_scaling.py: no scaling_*_np*.csv in " + out)
    problems = sorted({r["problem"] for rows in runs.values() for r in rows})
    fig, axes = plt.subplots(2, len(problems), figsize=(6 * len(problems), 9), squeeze=False)
    styles = {1: "--", 2: "-"}
    for j, prob in enumerate(problems):
        ax, am = axes[0][j], axes[1][j]
        for np_, rows in sorted(runs.items()):
            rr = [r for r in rows if r["problem"] == prob]
            n = np.array([float(r["n"]) for r in rr])
            for col, color in (("forward_s", "C0"), ("backward_s", "C1"), ("pc_setup_s", "C2")):
                ax.loglog(n, [float(r[col]) for r in rr], styles[np_], color=color, marker="o",
                          label="%s, np %d" % (col[:-2].replace("_", " "), np_))
            for col, color in (("problem_peak_MiB", "C3"), ("forward_peak_MiB", "C0"), ("backward_peak_MiB", "C1")):
                am.loglog(n, [float(r[col]) for r in rr], styles[np_], color=color, marker="s",
                          label="%s, np %d" % (col.replace("_peak_MiB", ""), np_))
        rr = [r for r in runs[max(runs)] if r["problem"] == prob]
        if rr:
            n = np.array([float(r["n"]) for r in rr])
            ref = float(rr[-1]["backward_s"]) * (n * np.log(n)) / (n[-1] * np.log(n[-1]))
            ax.loglog(n, ref, ":", color="k", label="n log n (through the last backward)")
        ax.set_title("%s: seconds" % prob)
        ax.set_xlabel("n")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
        am.axhline(6 * 1024, color="r", lw=0.8, ls=":", label="6 GiB target")
        am.set_title("%s: peak resident memory per phase (all ranks)" % prob)
        am.set_xlabel("n")
        am.set_ylabel("MiB")
        am.grid(True, which="both", alpha=0.3)
        am.legend(fontsize=7)
    fig.tight_layout()
    png = os.path.join(out, "scaling.png")
    fig.savefig(png, dpi=110)
    print("wrote " + png)
    if 1 in runs and 2 in runs:
        cols = ["forward_s", "backward_s", "pc_setup_s", "run_peak_MiB"]
        with open(os.path.join(out, "scaling_ratio.csv"), "w") as f:
            f.write("problem,n," + ",".join(c + "_np2_over_np1" for c in cols) + "\n")
            print("\n| problem | n | " + " | ".join(c + " np2/np1" for c in cols) + " |")
            print("|---|---|" + "---|" * len(cols))
            for prob in problems:
                a = {r["n"]: r for r in runs[1] if r["problem"] == prob}
                b = {r["n"]: r for r in runs[2] if r["problem"] == prob}
                common = sorted(set(a) & set(b), key=float)
                if not common:
                    continue
                n = common[-1]
                ratios = [float(b[n][c]) / max(float(a[n][c]), 1e-12) for c in cols]
                f.write("%s,%s,%s\n" % (prob, n, ",".join("%.4g" % x for x in ratios)))
                print("| %s | %s | %s |" % (prob, n, " | ".join("%.3f" % x for x in ratios)))
        print("wrote " + os.path.join(out, "scaling_ratio.csv"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
