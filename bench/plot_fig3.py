#!/usr/bin/python3
"""Figure 3 of the paper, reproduced: draws fig3_unrolled_pgd.png from the CSV files of bench/fig3.

Usage: /usr/bin/python3 bench/plot_fig3.py [RESULTS_DIR]   (default: bench/results next to this file)

Left panel: relative forward error ||x_k - x*|| / ||x*|| (solid) and backward error
||grad_k - grad_folded|| / ||grad_folded|| (dashed) of k unrolled PGD steps, from x0 = x* and from a
uniform random x0. Right panel: relative residual ||r_k|| / ||g|| of LFPI and GMRES on
(I - Phi^T) w = g. Both with the rate rho^k of Theorem 1 for reference.
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FLOOR = 1e-17  # errors that are exactly zero are drawn here (log scale)


def read(path):
    meta, rows = {}, []
    with open(path) as f:
        lines = [l for l in f if l.strip()]
    for l in lines:
        if l.startswith("#"):
            for item in l[1:].split():
                k, _, v = item.partition("=")
                meta[k] = v
    body = [l for l in lines if not l.startswith("#")]
    for r in csv.DictReader(body):
        rows.append(r)
    return meta, rows


def column(rows, name):
    ks, vs = [], []
    for r in rows:
        if r[name] != "":
            ks.append(int(r["k"]))
            vs.append(max(float(r[name]), FLOOR))
    return ks, vs


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "results")
    meta, err = read(os.path.join(out, "fig3_errors.csv"))
    _, res = read(os.path.join(out, "fig3_residuals.csv"))
    n, alpha, rho = int(meta["n"]), float(meta["alpha"]), float(meta["rho"])
    K, ident = int(meta["K"]), int(meta["identified"])
    logr = math.log(rho)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5.6), sharey=True)
    c_star, c_rand = "tab:blue", "tab:orange"

    def slopes(key):
        return "slope %.4f, last third %.4f" % (float(meta["slope_" + key]), float(meta["last_" + key]))

    k, v = column(err, "forward_error_from_random")
    ax1.semilogy(k, v, "-", color=c_rand, lw=2, label=r"forward, $x_0 \sim U[-1,1)$ (%s)" % slopes("fwd_random"))
    k, v = column(err, "backward_error_from_random")
    ax1.semilogy(k, v, "--", color=c_rand, lw=2.5, label=r"backward, $x_0 \sim U[-1,1)$ (%s)" % slopes("bwd_random"))
    kr, vr = k, v
    k, v = column(err, "forward_error_from_xstar")
    zero = all(x <= FLOOR for x in v)
    ax1.semilogy(k, v, "-", color=c_star, lw=2,
                 label=r"forward, $x_0 = x^*$" + (r" (exactly 0: drawn at $10^{-17}$)" if zero else ""))
    k, v = column(err, "backward_error_from_xstar")
    ax1.semilogy(k, v, "--", color=c_star, lw=1.5, marker="o", ms=3.5, markevery=15,
                 label=r"backward, $x_0 = x^*$ = LFPI (%s)" % slopes("bwd_xstar"))
    # rho^k through the last point of the random start's backward error: the asymptotic slope.
    c = vr[-1] / rho ** kr[-1]
    ks = list(range(0, K + 1))
    ax1.semilogy(ks, [c * rho ** i for i in ks], ":", color="black", lw=1.2,
                 label=r"$\propto \rho^k$ (slope $\log\rho$ = %.4f), matched at $k = K$" % logr)
    if 0 < ident < K:
        ax1.axvline(ident, color=c_rand, lw=0.8, alpha=0.6)
        ax1.text(ident + 3, 3e-16, "random start:\nactive set\nidentified\nat k = %d" % ident, color=c_rand,
                 fontsize=8)
    ax1.set_xlabel("unrolled PGD iteration $k$")
    ax1.set_ylabel("relative error")
    ax1.set_title("Unrolled PGD: forward and backward error per iteration")
    ax1.set_xlim(0, K)
    ax1.set_ylim(FLOOR / 3, 30)
    ax1.grid(True, which="major", alpha=0.3)
    ax1.legend(fontsize=8, loc="upper right")

    k, v = column(res, "lfpi_relative_residual")
    ax2.semilogy(k, v, "-", color="tab:green", lw=2,
                 label="LFPI (richardson), %s its (%s)" % (meta["lfpi_its"], slopes("lfpi")))
    kl, vl = k, v
    k, v = column(res, "gmres_relative_residual")
    ax2.semilogy(k, v, "-", color="tab:red", lw=2, marker=".", ms=4, label="GMRES(30), %s its" % meta["gmres_its"])
    kmax = max(K, kl[-1])
    c = vl[-1] / rho ** kl[-1]
    ks = list(range(0, kmax + 1))
    ax2.semilogy(ks, [c * rho ** i for i in ks], ":", color="black", lw=1.2, label=r"$\propto \rho^k$, matched at the end")
    ax2.set_xlabel("adjoint iteration $k$ (one $\\Phi^T$ product each)")
    ax2.set_ylabel(r"relative residual $\|g - (I - \Phi^T) w_k\| / \|g\|$")
    ax2.set_title(r"Folded backward at $x^*$: $(I - \Phi^T)\,w = g$, tolerance $10^{-13}$")
    ax2.set_xlim(0, kmax)
    ax2.grid(True, which="major", alpha=0.3)
    ax2.legend(fontsize=8, loc="upper right")
    ax2.yaxis.set_tick_params(labelleft=True)

    fig.suptitle(r"Figure 3 reproduced: unrolled PGD on a generated box-QP, n = %d, fixed stepsize $\alpha$ = %.4g, "
                 r"$\rho(\Phi)$ = %.5f" % (n, alpha, rho), fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    png = os.path.join(out, "fig3_unrolled_pgd.png")
    fig.savefig(png, dpi=110)
    print("wrote", png)


if __name__ == "__main__":
    main()
