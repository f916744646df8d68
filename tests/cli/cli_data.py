#!/usr/bin/env python3
"""Test data and checks for the foldopt command-line tests (plain Python 3, no numpy).

  cli_data.py qp DIR FMT            write a small box-QP (H, q, lb, ub, dLdx) in FMT (mtx or bin)
                                    to DIR and the independently computed x*, dL/dq, dL/dlb,
                                    dL/dub, dL/dH.values to DIR/expected.txt
  cli_data.py check DIR X GRAD      compare X (the x* file) and the gradient files GRAD -> G.q.EXT,
                                    G.lb.EXT, G.ub.EXT, G.H.values.EXT with DIR/expected.txt
                                    (relative difference ≤ 1e-9; .mtx MatrixMarket, any other
                                    extension PETSc binary; G.H.values a matrix with H's pattern)
  cli_data.py compare A B           compare two vector or two matrix files (same pattern,
                                    relative difference ≤ 1e-9)
  cli_data.py bad DIR CASE          write the inputs of one error case (see BAD_CASES)
  cli_data.py kkt PROB X [GRAD [ZERO]]  check a run on a problem foldopt wrote with -problem_out PROB
                                    (PROB.H.mtx, PROB.q/.lb/.ub.mtx, PROB.dLdx.mtx): X (x*) by the
                                    KKT conditions; with GRAD, every gradient block GRAD -> G.q.EXT,
                                    ... against a dense solve on the free set read off x*; ZERO
                                    (e.g. lb,ub) names the blocks whose reference must be exactly 0
                                    (no active bound on that side), which are otherwise refused
  cli_data.py engine DIR            write the small inputs of the engine cases (see engine_files)

The QP: H = tridiag(-1, 4, -1) of size 10 (SPD), x* and the multipliers μ chosen first with
strict complementarity, q = H x* - μ, all values multiples of 1/4 so every file is exact. The
test does not trust that construction alone: it solves the QP again by projected Gauss-Seidel,
reads the active set off that solution, and computes the gradient of L with dL/dx* = g on the
free set F by Gaussian elimination:
    dL/dq_F = H_FF^-1 g_F,  dL/dq_A = 0,
    dL/dlb_i = g_i - (H_AF dL/dq_F)_i at an active lower bound i (0 elsewhere), same for ub,
    dL/dH_ij = -(dL/dq)_i x*_j on H's stored entries (each stored entry its own parameter; the
    block H.values, written as a MatrixMarket coordinate general matrix with H's pattern).
"""
import math
import os
import struct
import sys

INF = float("inf")
N = 10
# entry: (x*, lb, ub, mu); mu > 0 at an active lower bound, < 0 at an active upper bound.
ENTRIES = [
    (0.5, -INF, 2.0, 0.0),
    (-0.5, -0.5, 1.0, 0.25),
    (0.25, -1.0, 1.0, 0.0),
    (0.75, -1.0, 0.75, -0.5),
    (-0.75, -2.0, INF, 0.0),
    (0.0, -1.0, 1.0, 0.0),
    (1.0, 1.0, 3.0, 1.0),
    (0.5, -1.0, 1.5, 0.0),
    (-0.25, -INF, -0.25, -0.75),
    (1.0, 0.0, 2.0, 0.0),
]
G = [1.0, -2.0, 0.5, 3.0, -1.0, 2.0, 0.25, -0.5, 1.5, -3.0]


def hmat(n=N):
    return [[4.0 if i == j else (-1.0 if abs(i - j) == 1 else 0.0) for j in range(n)] for i in range(n)]


def matvec(A, x):
    return [sum(a * b for a, b in zip(row, x)) for row in A]


def solve(A, b):
    """Gaussian elimination with partial pivoting."""
    n = len(b)
    M = [list(A[i]) + [b[i]] for i in range(n)]
    for k in range(n):
        p = max(range(k, n), key=lambda i: abs(M[i][k]))
        M[k], M[p] = M[p], M[k]
        for i in range(k + 1, n):
            f = M[i][k] / M[k][k]
            for j in range(k, n + 1):
                M[i][j] -= f * M[k][j]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (M[i][n] - sum(M[i][j] * x[j] for j in range(i + 1, n))) / M[i][i]
    return x


def qp_data():
    H = hmat()
    x = [e[0] for e in ENTRIES]
    lb = [e[1] for e in ENTRIES]
    ub = [e[2] for e in ENTRIES]
    mu = [e[3] for e in ENTRIES]
    q = [hx - m for hx, m in zip(matvec(H, x), mu)]
    return H, q, lb, ub


def reference(H, q, lb, ub, g):
    """Solve the QP by projected Gauss-Seidel; gradients on the active set found."""
    n = len(q)
    x = [0.0] * n
    for _ in range(5000):
        for i in range(n):
            r = q[i] - sum(H[i][j] * x[j] for j in range(n) if j != i)
            x[i] = min(max(r / H[i][i], lb[i]), ub[i])
    grad = [hx - qi for hx, qi in zip(matvec(H, x), q)]  # H x - q
    at_lb = [x[i] == lb[i] and grad[i] > 1e-12 for i in range(n)]
    at_ub = [x[i] == ub[i] and grad[i] < -1e-12 for i in range(n)]
    free = [i for i in range(n) if not (at_lb[i] or at_ub[i])]
    for i in free:  # KKT on the free set
        assert abs(grad[i]) < 1e-12, ("projected Gauss-Seidel did not converge", i, grad[i])
    yF = solve([[H[i][j] for j in free] for i in free], [g[i] for i in free])
    dq = [0.0] * n
    for k, i in enumerate(free):
        dq[i] = yF[k]
    dlb = [0.0] * n
    dub = [0.0] * n
    for i in range(n):
        if at_lb[i] or at_ub[i]:
            v = g[i] - sum(H[i][j] * dq[j] for j in free)
            (dlb if at_lb[i] else dub)[i] = v
    return x, dq, dlb, dub


# ---- file formats ---------------------------------------------------------------------------

def hvalues_reference(pattern, dq, x):
    """dL/dH_ij = -(dL/dq)_i x*_j on the stored entries (i, j) of `pattern`: {(i, j): value}."""
    return {(i, j): -dq[i] * x[j] for (i, j) in pattern}


def fmt(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def write_mtx_vec(path, v, declared=None):
    with open(path, "w") as f:
        f.write("%%MatrixMarket matrix array real general\n% written by cli_data.py\n")
        f.write("%d 1\n" % (len(v) if declared is None else declared))
        for x in v:
            f.write(fmt(x) + "\n")


def write_mtx_mat(path, A, symmetric=True, declared_nnz=None, ncols=None):
    rows = len(A)
    cols = len(A[0]) if ncols is None else ncols
    ent = [(i, j, A[i][j]) for i in range(rows) for j in range(len(A[i]))
           if A[i][j] != 0 and (not symmetric or j <= i)]
    with open(path, "w") as f:
        f.write("%%%%MatrixMarket matrix coordinate real %s\n" % ("symmetric" if symmetric else "general"))
        f.write("%d %d %d\n" % (rows, cols, len(ent) if declared_nnz is None else declared_nnz))
        for i, j, a in ent:
            f.write("%d %d %s\n" % (i + 1, j + 1, fmt(a)))


def write_bin_vec(path, v):
    with open(path, "wb") as f:
        f.write(struct.pack(">ii", 1211214, len(v)))
        f.write(struct.pack(">%dd" % len(v), *v))


def write_bin_mat(path, A):
    rows, cols = len(A), len(A[0])
    lens, idx, val = [], [], []
    for i in range(rows):
        nz = [(j, a) for j, a in enumerate(A[i]) if a != 0]
        lens.append(len(nz))
        idx += [j for j, _ in nz]
        val += [a for _, a in nz]
    with open(path, "wb") as f:
        f.write(struct.pack(">iiii", 1211216, rows, cols, len(val)))
        f.write(struct.pack(">%di" % rows, *lens))
        f.write(struct.pack(">%di" % len(idx), *idx))
        f.write(struct.pack(">%dd" % len(val), *val))


def read_mtx_vec(path):
    """A vector, or a batch: an n x B array, column after column (instance after instance)."""
    with open(path) as f:
        lines = f.read().split("\n")
    assert lines[0].lower().startswith("%%matrixmarket matrix array"), (path, lines[0])
    data = [l.strip() for l in lines[1:] if l.strip() and not l.startswith("%")]
    m, n = (int(t) for t in data[0].split())
    assert len(data) - 1 == m * n, (path, "bad vector file", m, n, len(data) - 1)
    return [float(t) for t in data[1:]]


def read_bin_vec(path):
    """A PETSc binary vector, or a batch: a dense binary matrix n x B (rows stored one after the
    other), returned column after column (instance after instance)."""
    with open(path, "rb") as f:
        data = f.read()
    cls = struct.unpack(">i", data[:4])[0]
    if cls == 1211216:
        m, n, nz = struct.unpack(">iii", data[4:16])
        assert nz == -1 and len(data) == 16 + 8 * m * n, (path, "bad PETSc binary dense matrix", m, n, nz, len(data))
        rows = struct.unpack(">%dd" % (m * n), data[16:])
        return [rows[i * n + j] for j in range(n) for i in range(m)]
    cls, n = struct.unpack(">ii", data[:8])
    assert cls == 1211214 and len(data) == 8 + 8 * n, (path, "bad PETSc binary vector", cls, n, len(data))
    return list(struct.unpack(">%dd" % n, data[8:]))


def read_bin_mat(path):
    """A PETSc binary AIJ matrix: (rows, cols, {(i, j): a})."""
    with open(path, "rb") as f:
        data = f.read()
    cls, m, n, nz = struct.unpack(">iiii", data[:16])
    assert cls == 1211216 and nz >= 0 and len(data) == 16 + 4 * m + 12 * nz, (path, "bad PETSc binary matrix", cls, m, n, nz)
    lens = struct.unpack(">%di" % m, data[16:16 + 4 * m])
    cols = struct.unpack(">%di" % nz, data[16 + 4 * m:16 + 4 * m + 4 * nz])
    vals = struct.unpack(">%dd" % nz, data[16 + 4 * m + 4 * nz:])
    A, k = {}, 0
    for i in range(m):
        for _ in range(lens[i]):
            A[(i, cols[k])] = vals[k]
            k += 1
    return m, n, A


def read_mat(path):
    return read_mtx_mat(path) if path.lower().endswith(".mtx") else read_bin_mat(path)


def is_matrix_file(path):
    if path.lower().endswith(".mtx"):
        with open(path) as f:
            return "coordinate" in f.readline().lower()
    with open(path, "rb") as f:
        head = f.read(16)
    return struct.unpack(">i", head[:4])[0] == 1211216 and struct.unpack(">i", head[12:16])[0] >= 0


def check_matrix_gradient(path, ref, n, nref_zero=False):
    """The gradient matrix file `path` against `ref` ({(i, j): value}, H's stored pattern): the
    same pattern (a general matrix: both triangles stored), relative difference ≤ 1e-9 of the
    largest reference entry; prints one line, returns whether it holds."""
    head = ""
    if path.lower().endswith(".mtx"):
        with open(path) as f:
            head = f.readline().lower()
    m, nc, A = read_mat(path)
    problems = []
    if path.lower().endswith(".mtx") and "general" not in head:
        problems.append("not a general matrix: " + head.strip())
    if (m, nc) != (n, n):
        problems.append("size %d x %d, expected %d x %d" % (m, nc, n, n))
    if set(A) != set(ref):
        problems.append("pattern differs: %d entries, H stores %d (e.g. %s)" %
                        (len(A), len(ref), sorted(set(A) ^ set(ref))[:3]))
    keys = sorted(ref)
    nref = max((abs(ref[k]) for k in keys), default=0.0)
    d = rel_diff([A.get(k, 0.0) for k in keys], [ref[k] for k in keys])
    good = not problems and (nref == 0 if nref_zero else nref > 0) and d <= 1e-9
    print("dL/dH.values %s: %d entries, max |reference| %.3e, relative difference %.2e %s%s" %
          (path, len(A), nref, d, "ok" if good else "FAIL", ("; " + "; ".join(problems)) if problems else ""))
    return good


def read_mtx_mat(path):
    """MatrixMarket coordinate real/integer, general or symmetric: (rows, cols, {(i, j): a})."""
    with open(path) as f:
        lines = f.read().split("\n")
    head = lines[0].lower().split()
    assert head[:3] == ["%%matrixmarket", "matrix", "coordinate"], (path, lines[0])
    sym = head[4] == "symmetric"
    data = [l.split() for l in lines[1:] if l.strip() and not l.startswith("%")]
    m, n, nnz = (int(t) for t in data[0])
    assert len(data) - 1 == nnz, (path, "declared", nnz, "entries, found", len(data) - 1)
    A = {}
    for i, j, a in data[1:]:
        i, j, a = int(i) - 1, int(j) - 1, float(a)
        A[(i, j)] = A.get((i, j), 0.0) + a
        if sym and i != j:
            A[(j, i)] = A.get((j, i), 0.0) + a
    return m, n, A


def read_vec(path):
    return read_mtx_vec(path) if path.lower().endswith(".mtx") else read_bin_vec(path)


def block_path(path, block):
    """DIR/g.mtx -> DIR/g.<block>.mtx (as foldopt::io::block_path)."""
    d, name = os.path.split(path)
    dot = name.rfind(".")
    if dot <= 0:
        return path + "." + block
    return os.path.join(d, name[:dot] + "." + block + name[dot:])


def rel_diff(a, b):
    assert len(a) == len(b), ("length", len(a), len(b))
    num = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
    den = max(max((abs(x) for x in b), default=0.0), 1e-300)
    return num / den if den > 1e-300 else num


# ---- commands -------------------------------------------------------------------------------

def cmd_qp(d, form):
    H, q, lb, ub = qp_data()
    os.makedirs(d, exist_ok=True)
    if form == "mtx":
        write_mtx_mat(os.path.join(d, "H.mtx"), H)
        for name, v in (("q", q), ("lb", lb), ("ub", ub), ("g", G)):
            write_mtx_vec(os.path.join(d, name + ".mtx"), v)
    else:
        write_bin_mat(os.path.join(d, "H.bin"), H)
        for name, v in (("q", q), ("lb", lb), ("ub", ub), ("g", G)):
            write_bin_vec(os.path.join(d, name + ".bin"), v)
    x, dq, dlb, dub = reference(H, q, lb, ub, G)
    x0 = [e[0] for e in ENTRIES]
    assert rel_diff(x, x0) < 1e-14, "test data: the constructed x* is not the QP solution"
    dH = hvalues_reference([(i, j) for i in range(N) for j in range(N) if H[i][j] != 0], dq, x)
    with open(os.path.join(d, "expected.txt"), "w") as f:
        for name, v in (("x", x), ("q", dq), ("lb", dlb), ("ub", dub)):
            f.write(name + " " + " ".join(repr(t) for t in v) + "\n")
        f.write("H.values " + " ".join("%d:%d:%r" % (i, j, a) for (i, j), a in sorted(dH.items())) + "\n")


def cmd_check(d, xfile, grad):
    exp, dH = {}, {}
    with open(os.path.join(d, "expected.txt")) as f:
        for line in f:
            w = line.split()
            if w[0] == "H.values":
                for t in w[1:]:
                    i, j, a = t.split(":")
                    dH[(int(i), int(j))] = float(a)
            else:
                exp[w[0]] = [float(t) for t in w[1:]]
    files = {"x": xfile}
    for b in ("q", "lb", "ub"):
        files[b] = block_path(grad, b)
    ok = True
    for name, path in files.items():
        got = read_vec(path)
        r = rel_diff(got, exp[name])
        good = r <= 1e-9
        ok = ok and good
        print("%-3s %s: relative difference %.2e %s" % (name, path, r, "ok" if good else "FAIL"))
        if not good:
            print("    expected", exp[name])
            print("    got     ", got)
    ok = check_matrix_gradient(block_path(grad, "H.values"), dH, len(exp["x"])) and ok
    return 0 if ok else 1


def cmd_compare(a, b, tol=1e-9):
    tol = float(tol)
    if is_matrix_file(a) or is_matrix_file(b):
        (ma, na, A), (mb, nb, Bm) = read_mat(a), read_mat(b)
        same = (ma, na) == (mb, nb) and set(A) == set(Bm)
        keys = sorted(A)
        r = rel_diff([A[k] for k in keys], [Bm.get(k, 0.0) for k in keys]) if same else INF
        good = r <= tol
        print("%s vs %s: %s, relative difference %.2e %s" %
              (a, b, "same pattern" if same else "different sizes or patterns", r, "ok" if good else "FAIL"))
        return 0 if good else 1
    r = rel_diff(read_vec(a), read_vec(b))
    good = r <= tol
    print("%s vs %s: relative difference %.2e %s" % (a, b, r, "ok" if good else "FAIL"))
    return 0 if good else 1


def cmd_kkt(prob, xfile, grad=None, zero=""):
    """x* by the KKT conditions of min 1/2 x'Hx - q'x, lb <= x <= ub; gradients by a dense solve."""
    m, n, A = read_mtx_mat(block_path(prob, "H"))
    q, lb, ub, g = (read_vec(block_path(prob, b)) for b in ("q", "lb", "ub", "dLdx"))
    x = read_vec(xfile)
    assert m == n == len(q) == len(lb) == len(ub) == len(g) == len(x), ("sizes", m, n, len(q), len(x))
    for (i, j), a in A.items():  # symmetric (the gradient formula needs it)
        assert abs(a - A.get((j, i), 0.0)) <= 1e-14 * abs(a), ("H not symmetric at", i, j)
    rows = [[] for _ in range(n)]
    for (i, j), a in A.items():
        rows[i].append((j, a))
    r = [sum(a * x[j] for j, a in rows[i]) - q[i] for i in range(n)]  # Hx - q = multipliers
    scale = max(1.0, max(abs(t) for t in q))
    tol_x, tol_r = 1e-9, 1e-7 * scale
    at_lb, at_ub, free = [False] * n, [False] * n, []
    bad = []
    for i in range(n):
        if x[i] < lb[i] - tol_x or x[i] > ub[i] + tol_x:
            bad.append("x[%d] = %r outside [%r, %r]" % (i, x[i], lb[i], ub[i]))
        elif math.isfinite(lb[i]) and x[i] - lb[i] <= tol_x * max(1.0, abs(lb[i])) and r[i] > tol_r:
            at_lb[i] = True
        elif math.isfinite(ub[i]) and ub[i] - x[i] <= tol_x * max(1.0, abs(ub[i])) and r[i] < -tol_r:
            at_ub[i] = True
        elif abs(r[i]) <= tol_r:
            free.append(i)
        else:
            bad.append("x[%d] = %r in [%r, %r] with (Hx - q)[%d] = %r" % (i, x[i], lb[i], ub[i], i, r[i]))
    for i in free:  # strict complementarity: a free entry at a bound has a zero multiplier (degenerate)
        for b in (lb[i], ub[i]):
            if math.isfinite(b) and abs(x[i] - b) <= tol_x * max(1.0, abs(b)):
                bad.append("x[%d] at a bound with a zero multiplier (degenerate: gradient undefined)" % i)
    if bad:
        print("x* %s: KKT conditions fail at %d entries, e.g. %s" % (xfile, len(bad), bad[0]))
        return 1
    nact = n - len(free)
    print("x* %s: KKT conditions hold (%d entries, %d at a bound, max |Hx - q| on the free set %.2e)" %
          (xfile, n, nact, max([abs(r[i]) for i in free] or [0.0])))
    if grad is None:
        return 0
    pos = {i: k for k, i in enumerate(free)}
    HFF = [[0.0] * len(free) for _ in free]
    for (i, j), a in A.items():
        if i in pos and j in pos:
            HFF[pos[i]][pos[j]] = a
    yF = solve(HFF, [g[i] for i in free]) if free else []
    dq = [0.0] * n
    for k, i in enumerate(free):
        dq[i] = yF[k]
    dlb, dub = [0.0] * n, [0.0] * n
    for i in range(n):
        if at_lb[i] or at_ub[i]:
            v = g[i] - sum(a * dq[j] for j, a in rows[i] if j in pos)
            (dlb if at_lb[i] else dub)[i] = v
    ok = True
    for name, ref in (("q", dq), ("lb", dlb), ("ub", dub)):
        path = block_path(grad, name)
        got = read_vec(path)
        nref = max(abs(t) for t in ref)
        d = rel_diff(got, ref)
        # A reference of zeros would let a zero gradient pass: allowed only where the case says so,
        # and then it must be exactly zero (no active bound on that side).
        expect_zero = name in zero.split(",")
        good = (nref == 0 if expect_zero else nref > 0) and d <= 1e-7
        ok = ok and good
        print("dL/d%-2s %s: max |reference| %.3e, relative difference %.2e %s" %
              (name, path, nref, d, "ok" if good else "FAIL"))
    # θ's H.values as written: H's values on H's pattern (both triangles)
    mv, nv, V = read_mtx_mat(block_path(prob, "H.values"))
    pat_ok = (mv, nv) == (n, n) and set(V) == set(A) and all(V[k] == A[k] for k in A)
    print("H.values %s: %s" % (block_path(prob, "H.values"), "H's values on H's pattern ok" if pat_ok else "FAIL: not H's values"))
    ok = ok and pat_ok
    # its reference −(dL/dq)_i x*_j is zero when dL/dq is (q named in ZERO) or x* = 0; then the
    # file must be exactly zero too
    ok = check_matrix_gradient(block_path(grad, "H.values"), hvalues_reference(A, dq, x), n,
                               nref_zero="q" in zero.split(",") or all(t == 0 for t in x)) and ok
    return 0 if ok else 1


def bad_case(d, case):
    """Writes a complete input set (mtx) with one defect; returns nothing."""
    H, q, lb, ub = qp_data()
    g = list(G)
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)
    Hw = lambda A, **kw: write_mtx_mat(p("H.mtx"), A, **kw)
    if case == "nan_q":
        q[3] = float("nan")
    elif case == "pinf_lb":
        lb[4] = INF
    elif case == "minf_ub":
        ub[2] = -INF
    elif case == "nan_dldx":
        g[7] = float("nan")
    elif case == "lb_gt_ub":
        lb[5], ub[5] = 1.0, -1.0
    elif case == "size_q":
        q = q[:9]
    elif case == "size_dldx":
        g = g[:9]
    Hw(H)
    write_mtx_vec(p("q.mtx"), q)
    write_mtx_vec(p("lb.mtx"), lb)
    write_mtx_vec(p("ub.mtx"), ub)
    write_mtx_vec(p("g.mtx"), g)
    if case == "malformed_mtx":
        with open(p("H.mtx")) as f:
            lines = f.read().split("\n")
        lines[5] = "3 2 -1.0oops"
        with open(p("H.mtx"), "w") as f:
            f.write("\n".join(lines))
    elif case == "truncated_mtx":
        write_mtx_vec(p("q.mtx"), q[:7], declared=10)
    elif case == "truncated_bin":
        write_bin_mat(p("H.bin"), H)
        with open(p("H.bin"), "rb") as f:
            data = f.read()
        with open(p("H.bin"), "wb") as f:
            f.write(data[:len(data) - 20])
    elif case == "nonsquare_h":
        Hw([row[:9] for row in H], symmetric=False)
    elif case == "nonsymmetric_h":
        A = hmat()
        A[0][1] = -2.0
        Hw(A, symmetric=False)


def engine_files(d):
    """The inputs of the engine's refusal cases, all 10 x 10 (or 0 x 0) and exact in decimal."""
    n = N
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)
    diag = lambda v: [[v if i == j else 0.0 for j in range(n)] for i in range(n)]
    write_mtx_mat(p("negI.mtx"), diag(-1.0))  # a maximum at x = 0 on the box [-1, 1]
    write_mtx_mat(p("diag2.mtx"), diag(2.0))
    A = hmat()
    A[5 - 1][5 - 1] = 0.0  # tridiag(-1, 4, -1) with entry (5, 5) missing: indefinite
    write_mtx_mat(p("nodiag.mtx"), A)
    write_mtx_mat(p("empty.mtx"), diag(0.0))  # 10 x 10, no entry
    write_mtx_mat(p("empty0.mtx"), [], ncols=0)  # 0 x 0
    write_mtx_vec(p("q0_0.mtx"), [])  # 0 x 1
    write_mtx_vec(p("q0.mtx"), [0.0] * n)
    write_mtx_vec(p("qn.mtx"), [1.0] * n)
    qbig = [1.0] * n
    qbig[3] = 1e200  # finite data whose objective overflows: x_3 = 5e199, f ~ -2.5e399
    write_mtx_vec(p("qbig.mtx"), qbig)
    write_mtx_vec(p("lbm1.mtx"), [-1.0] * n)
    write_mtx_vec(p("ub1.mtx"), [1.0] * n)
    write_mtx_vec(p("lbbig.mtx"), [-1e200] * n)
    write_mtx_vec(p("ubbig.mtx"), [1e200] * n)
    write_mtx_vec(p("g.mtx"), G)


def cmd_simplex(kind, prob, xfile, grad, n, k, eps):
    """sparsemax / topk from the files a run wrote (prob: DIR/p.mtx; the block theta or c, the
    dL/dx* used): x* against the closed form computed here (sorting for sparsemax, bisection for
    topk) and the gradient against J g with the closed-form Jacobian, per instance."""
    n, k, eps = int(n), float(k), float(eps)
    block = "theta" if kind == "sparsemax" else "c"
    t = read_vec(block_path(prob, block))
    g = read_vec(block_path(prob, "dLdx"))
    x = read_vec(xfile)
    gr = read_vec(block_path(grad, block))
    assert len(t) == len(x) == len(g) == len(gr) and len(t) % n == 0, "sizes"
    worst_x = worst_g = 0.0
    scale_g = 0.0
    for b in range(len(t) // n):
        tb, gb = t[b * n:(b + 1) * n], g[b * n:(b + 1) * n]
        if kind == "sparsemax":
            u = sorted(tb, reverse=True)
            cum, tau = 0.0, 0.0
            for j, uj in enumerate(u):
                cum += uj
                tj = (cum - 1) / (j + 1)
                if uj - tj > 0:
                    tau = tj
            xr = [max(v - tau, 0.0) for v in tb]
            s = [1.0 if v > 0 else 0.0 for v in xr]
        else:
            def total(tau):
                return sum(min(1.0, math.exp((v - tau) / eps - 1)) for v in tb)
            lo, hi = min(tb) - eps - 1, max(tb) + 1
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if total(mid) > k:
                    lo = mid
                else:
                    hi = mid
            tau = 0.5 * (lo + hi)
            xr = [min(1.0, math.exp((v - tau) / eps - 1)) for v in tb]
            s = [v / eps if v < 1 else 0.0 for v in xr]
        ssum, sg = sum(s), sum(si * gi for si, gi in zip(s, gb))
        if kind == "sparsemax":
            ref = [si * gi - si * sg / ssum for si, gi in zip(s, gb)]
        else:
            ref = [si * gi - si * sg / ssum for si, gi in zip(s, gb)]
        worst_x = max(worst_x, max(abs(a - c) for a, c in zip(x[b * n:(b + 1) * n], xr)))
        worst_g = max(worst_g, max(abs(a - c) for a, c in zip(gr[b * n:(b + 1) * n], ref)))
        scale_g = max(scale_g, max(abs(c) for c in ref))
    print("%s: max |x - closed form| %.2e, max |grad - J g| %.2e (max |J g| %.2e)" % (kind, worst_x, worst_g, scale_g))
    assert scale_g > 1e-3, "the reference gradient is zero"
    return 0 if worst_x <= 1e-12 and worst_g <= 1e-9 * scale_g else 1


def main(argv):
    if len(argv) >= 4 and argv[1] == "qp":
        return cmd_qp(argv[2], argv[3]) or 0
    if len(argv) == 5 and argv[1] == "check":
        return cmd_check(argv[2], argv[3], argv[4])
    if len(argv) in (4, 5) and argv[1] == "compare":
        return cmd_compare(*argv[2:])
    if len(argv) in (4, 5, 6) and argv[1] == "kkt":
        return cmd_kkt(*argv[2:])
    if len(argv) == 4 and argv[1] == "bad":
        return bad_case(argv[2], argv[3]) or 0
    if len(argv) == 9 and argv[1] == "simplex":
        return cmd_simplex(*argv[2:])
    if len(argv) == 3 and argv[1] == "engine":
        return engine_files(argv[2]) or 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
