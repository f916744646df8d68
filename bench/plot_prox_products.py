"""Plot of bench/prox_products: each product's time as a multiple of its bandwidth floor (bars per
prox, J v and Phi^T v, one panel per rank count), the target 3x as a line. Usage: plot_prox_products.py DIR"""
import csv
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    with open(path) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def main():
    out = sys.argv[1]
    files = sorted(glob.glob(os.path.join(out, "prox_products_np*.csv")))
    if not files:
        sys.exit("plot_prox_products.py: no prox_products_np*.csv in " + out)
    fig, axes = plt.subplots(len(files), 1, figsize=(11, 4.2 * len(files)), squeeze=False)
    for ax, path in zip(axes[:, 0], files):
        rows = [r for r in read(path) if r["kind"] != "projection"]
        labels = []
        for r in rows:
            label = r["name"] if r["kind"] != "Phi^T v (problem)" else r["name"].split(" (")[0] + " map"
            if label not in labels:
                labels.append(label)
        x = range(len(labels))
        for k, (kind, color) in enumerate((("J v", "tab:blue"), ("Phi^T v", "tab:orange"), ("Phi^T v (problem)", "tab:green"))):
            vals = {}
            for r in rows:
                if r["kind"] == kind:
                    label = r["name"] if kind != "Phi^T v (problem)" else r["name"].split(" (")[0] + " map"
                    vals[label] = float(r["ratio"])
            ax.bar([i + 0.27 * (k - 1) for i in x], [vals.get(l, 0) for l in labels], 0.27, label=kind, color=color)
        ax.axhline(3, color="k", ls="--", lw=1, label="target 3x")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel("time / bandwidth floor")
        ax.set_title(os.path.basename(path).replace(".csv", "") + ": product time over bytes/triad bandwidth")
        ax.legend(fontsize=8)
    fig.tight_layout()
    png = os.path.join(out, "prox_products.png")
    fig.savefig(png, dpi=110)
    print("wrote " + png)


if __name__ == "__main__":
    main()
