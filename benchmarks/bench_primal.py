"""Primal speed: adcompile.jit(f) vs numba.njit(f) on loop-heavy functions, and O(1) writes.

Run: python benchmarks/bench_primal.py
Prints, per workload, the best-of-N time of each and the ratio adcompile/numba (target <= 1.2),
then the time of an element-write loop at growing sizes (linear growth = O(1) per write).
"""
from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

import adcompile


def stencil(u0, steps):
    n = u0.shape[0]
    u = u0.copy()
    v = np.empty(n)
    for t in range(steps):
        v[0] = u[0]
        v[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            v[i] = u[i] + 0.2 * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, v = v, u
    return u


def matrix_loop(A, B):
    n, k = A.shape
    m = B.shape[1]
    C = np.zeros((n, m))
    for i in range(n):
        for p in range(k):
            a = A[i, p]
            for j in range(m):
                C[i, j] += a * B[p, j]
    return C


def time_stepping(k, c, steps):
    pos = 1.0
    vel = 0.0
    dt = 1e-4
    for i in range(steps):
        acc = -k * math.sin(pos) - c * vel
        vel = vel + dt * acc
        pos = pos + dt * vel
    return pos * pos + vel * vel


def writes(n):
    y = np.zeros(n)
    for i in range(n):
        y[i] = i * 0.5
        y[(i * 7) % n] += 1.0
    return y[n - 1]


def best(f, args, repeat=7):
    f(*args)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f(*args)
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main() -> None:
    rng = np.random.default_rng(0)
    cases = [
        ("stencil n=10^4, 200 steps", stencil, (rng.normal(size=10_000), 200)),
        ("matrix loop 200x200x200", matrix_loop, (rng.normal(size=(200, 200)),
                                                  rng.normal(size=(200, 200)))),
        ("time stepping 10^6 steps", time_stepping, (4.0, 0.3, 1_000_000)),
    ]
    print(f"{'workload':32s} {'numba ms':>10s} {'adcompile ms':>13s} {'ratio':>7s}")
    for name, f, args in cases:
        t_nb = best(njit(f), args)
        t_ad = best(adcompile.jit(f), args)
        print(f"{name:32s} {t_nb * 1e3:10.3f} {t_ad * 1e3:13.3f} {t_ad / t_nb:7.2f}")
    print("\nelement writes (2 per iteration): time per write should stay flat")
    jw = adcompile.jit(writes)
    for n in (10_000, 100_000, 1_000_000, 10_000_000):
        t = best(jw, (n,), repeat=3)
        print(f"  n={n:>10,d}  {t * 1e3:9.3f} ms   {t / (2 * n) * 1e9:6.2f} ns/write")


if __name__ == "__main__":
    main()
