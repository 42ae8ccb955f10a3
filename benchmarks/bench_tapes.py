"""Tape bytes of each reverse-mode workload: how much the forward sweep stores for the adjoint.

Run: python benchmarks/bench_tapes.py

Reverse mode tapes only what the adjoint reads and cannot recompute more cheaply from visible
values (small float expressions on read-only data are recomputed, issue 12 item 1). This
counts the bytes pushed, by running each gradient's IR (the stage the backend compiles)
through the IR interpreter with counting tapes, at small sizes (tape bytes grow linearly
with the trip counts), and prints bytes per workload and per loop trip of the main loop.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import bench_ad  # noqa: E402
from heat_stencil import loss as heat_loss  # noqa: E402

import adcompile  # noqa: E402
from adcompile.ir import interpreter  # noqa: E402


def energy(u, k):
    e = 0.0
    for i in range(u.shape[0] - 1):
        d = u[i + 1] - u[i]
        e += 0.5 * k * d * d + np.cos(u[i])
    return e


def tape_bytes(fn, args, argnums) -> int:
    g = adcompile.grad(fn, argnums=argnums)
    g(*args)
    ir = g._last.ir["backend"]
    n_out = len(ir.args) - len(args)
    return interpreter.tape_bytes(ir, list(args) + [1.0] * n_out)


def workloads():
    rng = np.random.default_rng(0)
    n = 64
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-100.0 * (x - 0.5) ** 2)
    yield "energy (README) n=64", energy, (rng.random(n), 2.0), (0, 1), n - 1
    yield "heat stencil n=64 x10", heat_loss, (u0, 0.2, u0[::-1].copy(), 10), (0, 1), 10 * (n - 2)
    d, K, m = 4, 3, 8
    gm = (rng.normal(size=K), rng.normal(size=(K, d)), 0.1 * rng.normal(size=(K, d + d * (d - 1) // 2)),
          rng.normal(size=(m, d)), 1.0, 0)
    yield f"GMM loops d={d} K={K} n={m}", bench_ad.gmm_objective, gm, (0, 1, 2), m * K
    yield "RK4 pendulum 50 steps", bench_ad.rk4, (0.7, 0.1, 50), (0, 1), 50


def main() -> None:
    print(f"{'workload':34} {'tape bytes':>11} {'per trip':>9}")
    for name, fn, args, argnums, trips in workloads():
        b = tape_bytes(fn, args, argnums)
        print(f"{name:34} {b:11d} {b / trips:9.1f}")


if __name__ == "__main__":
    main()
