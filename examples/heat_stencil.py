"""Main job: compile a 1-D explicit heat-equation solver with adcompile and compare with NumPy.

Run: python examples/heat_stencil.py
Prints the result of the compiled solver, its agreement with plain Python, and timings.
"""
import math
import time

import numpy as np

import adcompile


def heat(u0, alpha, steps):
    """Explicit finite differences for u_t = alpha u_xx, fixed ends; returns the final energy."""
    n = u0.shape[0]
    u = u0.copy()
    new = np.empty(n)
    for t in range(steps):
        new[0] = u[0]
        new[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            new[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, new = new, u
    e = 0.0
    for i in range(n):
        e += u[i] * u[i]
    return math.sqrt(e / n)


def main():
    n, steps = 2000, 500
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-100.0 * (x - 0.5) ** 2)
    alpha = 0.2

    fast = adcompile.jit(heat)
    t0 = time.perf_counter()
    value = fast(u0, alpha, steps)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(5):
        fast(u0, alpha, steps)
    t_compiled = (time.perf_counter() - t0) / 5

    t0 = time.perf_counter()
    reference = heat(u0, alpha, 20)
    t_python = (time.perf_counter() - t0) * steps / 20
    check = fast(u0, alpha, 20)

    print(f"heat(n={n}, steps={steps}) = {value:.12f}")
    print(f"compiled vs CPython on 20 steps: {check:.15f} vs {reference:.15f} "
          f"(diff {abs(check - reference):.1e})")
    print(f"first call (compile or load from disk cache): {t_first * 1e3:8.1f} ms")
    print(f"compiled call:                                {t_compiled * 1e3:8.3f} ms")
    print(f"CPython (extrapolated):                       {t_python * 1e3:8.1f} ms "
          f"({t_python / t_compiled:.0f}x slower)")
    print("\ngenerated source (adcompile.jit(heat).source):\n")
    print(fast.source)


if __name__ == "__main__":
    main()
