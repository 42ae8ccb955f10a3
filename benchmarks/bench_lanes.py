"""Vector forward mode with element writes in loops: does a write cost O(lanes), or a copy?

Run: python benchmarks/bench_lanes.py [--quick] [--max-call S] [--only relax|rows|lanes]

Three tables, numba and LLVM backends:

1. `relax`: 20 sweeps of `u[i] += 0.1 * (p[0] - u[i] ** 2)` over n = 4096, `jacfwd` w.r.t. the 2
   parameters p (2 lanes) against one `adcompile.jvp` (one direction, u inactive).
2. `jacfwd_rows` of a residual accumulated by `r[i, 0] += ...` (and the same residual written
   `r[i, 0] = a`) at n = 2000, 8000, 32000 rows: time and t(n) / t(2000), linear = n / 2000.
3. `jacfwd` with k lanes against k separate jvps, k = 2, 4, 8, 16 (`relax_k`, whose sweep reads
   p[i % k]): jacfwd / one jvp, target <= 1.5 k.

Before anything is timed, jacfwd must equal the k stacked jvps (rtol 1e-12) and central
differences on a few entries; jacfwd_rows must equal a jvp along each column direction and
central differences on a few rows. A failed check or a crash shows as FAILED (error listed at
the end) and is not timed. Compilation is never timed: every function is called once first.
A call is timed as the best of 5 batches of calls adding up to >= 20 ms; a call of over 1 s is
timed once. A size whose time, extrapolated quadratically from the previous size, would exceed
--max-call seconds (default 20) is skipped (a quadratic build would otherwise take minutes).
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from typing import Any, Callable

import numpy as np

import adcompile

BACKENDS = ("numba", "llvm")
RTOL = 1e-12
FD_TOL = 1e-6
LANE_TARGET = 1.5        # jacfwd with k lanes <= 1.5 k one-direction jvps


def relax(u, p):
    n = u.shape[0]
    for s in range(20):
        for i in range(n):
            u[i] += 0.1 * (p[0] - u[i] ** 2)
    return u


def relax_k(u, p):
    n = u.shape[0]
    k = p.shape[0]
    for s in range(20):
        for i in range(n):
            u[i] += 0.1 * (p[i % k] - u[i] ** 2)
    return u


def resid_acc(x):
    n = x.shape[0]
    r = np.zeros((n, 2))
    for i in range(n):
        r[i, 0] += x[i, 0] * x[i, 1]
        r[i, 1] += np.sin(x[i, 2]) - x[i, 0] * x[i, 2]
    return r


def resid_set(x):
    n = x.shape[0]
    r = np.zeros((n, 2))
    for i in range(n):
        a = x[i, 0] * x[i, 1]
        b = np.sin(x[i, 2]) - x[i, 0] * x[i, 2]
        r[i, 0] = a
        r[i, 1] = b
    return r


def timed(fn: Callable[[], Any]) -> float:
    """Seconds per call (fn already called once): best of 5 batches of >= 20 ms."""
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    if one > 1.0:
        return one
    reps = max(1, int(0.02 / max(one, 1e-7)))
    best = one
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def unit(k: int, j: int) -> np.ndarray:
    e = np.zeros(k)
    e[j] = 1.0
    return e


def fd_param(f, u, p, j, h=1e-6) -> np.ndarray:
    return (f(u.copy(), p + h * unit(len(p), j)) - f(u.copy(), p - h * unit(len(p), j))) / (2 * h)


def check_jacfwd(f, u, p, backend) -> tuple[Callable, Callable, float]:
    """jacfwd and one jvp, checked against stacked jvps and central differences."""
    J = adcompile.jacfwd(f, argnums=1, backend=backend)
    k = len(p)
    jac = J(u.copy(), p)
    cols = [adcompile.jvp(f, (u.copy(), p), (None, unit(k, j)), backend=backend)[1]
            for j in range(k)]
    d = rel(jac, np.stack(cols, axis=-1))
    if d > RTOL:
        raise AssertionError(f"jacfwd differs from {k} jvps: max rel {d:.2e}")
    fd = rel(jac[:, 0], fd_param(f, u, p, 0))
    if fd > FD_TOL:
        raise AssertionError(f"jacfwd column 0 differs from central differences: {fd:.2e}")
    e0 = unit(k, 0)
    return (lambda: J(u, p)), (lambda: adcompile.jvp(f, (u, p), (None, e0), backend=backend)), fd


def check_rows(f, x, backend) -> tuple[Callable, float]:
    R = adcompile.jacfwd_rows(f, backend=backend)
    jr = R(x)                                   # (n, 2, 3)
    worst = 0.0
    for j in range(x.shape[1]):
        t = np.zeros_like(x)
        t[:, j] = 1.0
        col = adcompile.jvp(f, (x,), (t,), backend=backend)[1]
        d = rel(jr[:, :, j], col)
        if d > RTOL:
            raise AssertionError(f"jacfwd_rows column {j} differs from a jvp: {d:.2e}")
        h = 1e-6
        rows = slice(0, min(8, x.shape[0]))
        xp, xm = x.copy(), x.copy()
        xp[rows, j] += h
        xm[rows, j] -= h
        fd = (f(xp)[rows] - f(xm)[rows]) / (2 * h)
        worst = max(worst, rel(jr[rows, :, j], fd))
    if worst > FD_TOL:
        raise AssertionError(f"jacfwd_rows differs from central differences: {worst:.2e}")
    return (lambda: R(x)), worst


def table(cols: list[tuple[str, int]], rows: list[list[str]]) -> None:
    print("  ".join(f"{c:>{w}}" for c, w in cols))
    for r in rows:
        print("  ".join(f"{c:>{w}}" for c, (_, w) in zip(r, cols)))
    print()


def ms(t: float | None) -> str:
    return "skipped" if t is None else f"{t * 1e3:.3f}"


def section_relax(quick: bool, errors: list[str]) -> None:
    n = 512 if quick else 4096
    u = np.linspace(0.0, 1.0, n)
    p = np.array([0.5, 0.2])
    rows = []
    for b in BACKENDS:
        try:
            jac, one, fd = check_jacfwd(relax, u, p, b)
            tj, tv = timed(jac), timed(one)
            rows.append([b, ms(tj), ms(tv), f"{tj / tv:.2f}", f"{fd:.1e}"])
        except Exception as e:
            errors.append(f"relax {b}: {type(e).__name__}: {e}")
            traceback.print_exc()
            rows.append([b, "FAILED", "", "", ""])
    print(f"1. relax: jacfwd w.r.t. p (2 lanes), n = {n}, 20 sweeps of u[i] += ...")
    table([("backend", 7), ("jacfwd ms", 10), ("1 jvp ms", 9), ("ratio", 6),
           ("FD relerr", 9)], rows)


def section_rows(quick: bool, max_call: float, errors: list[str]) -> None:
    sizes = (500, 2000) if quick else (2000, 8000, 32000)
    rng = np.random.default_rng(0)
    rows = []
    for b in BACKENDS:
        for f in (resid_acc, resid_set):
            cells = [b, f.__name__]
            base = prev = None
            for n in sizes:
                x = rng.uniform(0.5, 1.5, (n, 3))
                if prev is not None and prev[1] * (n / prev[0]) ** 2 > max_call:
                    cells += ["skipped", ""]
                    prev = None
                    continue
                try:
                    call, _ = check_rows(f, x, b)
                    t = timed(call)
                except Exception as e:
                    errors.append(f"jacfwd_rows {f.__name__} {b} n={n}: "
                                  f"{type(e).__name__}: {e}")
                    cells += ["FAILED", ""]
                    prev = None
                    continue
                base = t if base is None else base
                cells += [ms(t), f"{t / base:.1f}"]
                prev = (n, t)
            rows.append(cells)
    cols = [("backend", 7), ("residual", 9)]
    for n in sizes:
        cols += [(f"n={n} ms", 11), (f"/{sizes[0]}", 6)]
    print(f"2. jacfwd_rows (3 lanes) by rows; linear scaling: t(n)/t({sizes[0]}) = "
          f"{', '.join(str(n // sizes[0]) for n in sizes)}")
    table(cols, rows)


def section_k(quick: bool, errors: list[str]) -> None:
    n = 512 if quick else 4096
    u = np.linspace(0.0, 1.0, n)
    rows = []
    worst = {}
    for b in BACKENDS:
        for k in (2, 4, 8, 16):
            p = np.linspace(0.2, 0.8, k)
            try:
                jac, one, fd = check_jacfwd(relax_k, u, p, b)
                tj, tv = timed(jac), timed(one)
                r = tj / tv
                worst[b] = max(worst.get(b, 0.0), r / k)
                rows.append([b, str(k), ms(tj), ms(tv), ms(k * tv), f"{r:.2f}",
                             f"{r / k:.2f}", f"{fd:.1e}"])
            except Exception as e:
                errors.append(f"relax_k {b} k={k}: {type(e).__name__}: {e}")
                rows.append([b, str(k), "FAILED", "", "", "", "", ""])
    print(f"3. jacfwd with k lanes against k jvps (relax_k, n = {n}, 20 sweeps)")
    table([("backend", 7), ("k", 3), ("jacfwd ms", 10), ("1 jvp ms", 9), ("k jvp ms", 9),
           ("jacfwd/jvp", 10), ("/k", 5), ("FD relerr", 9)], rows)
    for b, w in worst.items():
        print(f"target ({b}): jacfwd / (k jvps) <= {LANE_TARGET}: worst {w:.2f} "
              f"({'met' if w <= LANE_TARGET else 'MISSED'})")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--max-call", type=float, default=20.0,
                    help="skip a size whose predicted call time exceeds this (seconds)")
    ap.add_argument("--only", choices=("relax", "rows", "lanes"), help="run one table")
    args = ap.parse_args()
    errors: list[str] = []
    if args.only in (None, "relax"):
        section_relax(args.quick, errors)
    if args.only in (None, "rows"):
        section_rows(args.quick, args.max_call, errors)
    if args.only in (None, "lanes"):
        section_k(args.quick, errors)
    if errors:
        print("FAILED:")
        for e in errors:
            print("  " + e)
        sys.exit(1)


if __name__ == "__main__":
    main()
