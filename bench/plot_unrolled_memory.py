"""Plot of bench/unrolled_memory: backward memory and time against K, unrolled (tape of K n
doubles) and folded (no K). Usage: plot_unrolled_memory.py DIR"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    out = sys.argv[1]
    files = sorted(glob.glob(os.path.join(out, "unrolled_memory_np*.csv")))
    if not files:
        sys.exit("plot_unrolled_memory.py: no unrolled_memory_np*.csv in " + out)
    for path in files:
        with open(path) as f:
            comments = [l[2:].strip() for l in f if l.startswith("#")]
        with open(path) as f:
            rows = list(csv.DictReader(l for l in f if not l.startswith("#")))
        fig, (am, at) = plt.subplots(1, 2, figsize=(11, 4.2))
        for method, color in (("unrolled", "tab:red"), ("folded", "tab:blue")):
            r = [x for x in rows if x["method"] == method]
            K = [int(x["K"]) for x in r]
            am.plot(K, [max(float(x["memory_MiB"]), 1e-2) for x in r], "o-", color=color, label=method + " (measured)")
            at.plot(K, [float(x["seconds"]) for x in r], "o-", color=color, label=method)
            if method == "unrolled":
                am.plot(K, [float(x["tape_MiB"]) for x in r], "--", color=color, label="tape K n doubles")
        first = [x for x in rows if x["method"] == "folded (first call)"]
        if first:
            am.axhline(float(first[0]["memory_MiB"]), color="tab:blue", ls=":",
                       label="folded workspace (first call, kept)")
        for ax in (am, at):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("K (unrolled steps)")
            ax.legend(fontsize=8)
        am.set_ylabel("backward memory, peak - start (MiB)")
        at.set_ylabel("backward time (s)")
        inst = [c for c in comments if c.startswith("instance")]
        fig.suptitle(os.path.basename(path).replace(".csv", "") + (": " + inst[0] if inst else ""), fontsize=9)
        fig.tight_layout()
        png = path.replace(".csv", ".png")
        fig.savefig(png, dpi=110)
        print("wrote " + png)


if __name__ == "__main__":
    main()
