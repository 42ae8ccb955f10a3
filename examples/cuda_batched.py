"""Per-particle gradients of a Lennard-Jones-like energy in a shared external field with
adcompile.batch(adcompile.grad(f), in_axes=(0, None), target="cuda"): one GPU thread per
particle. Without a GPU / numba-cuda it says so and uses target="cpu" (all cores).
Compared against a Python loop over the single-instance gradient.

Run: python examples/cuda_batched.py [--quick]
"""
import sys
import time

import numpy as np

import adcompile


def particle(x, k):
    """Energy of one particle at x (3,) in a field with parameters k (3,)."""
    r2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2] + 0.5
    inv6 = 1.0 / (r2 * r2 * r2)
    return k[0] * (inv6 * inv6 - inv6) + k[1] * np.sin(x[0]) * np.cos(x[1]) + k[2] * x[2]


def main(quick: bool = False) -> None:
    n = 200 if quick else 200_000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 3))
    k = np.array([1.0, 0.3, -0.2])
    g = adcompile.grad(particle, argnums=(0, 1))
    try:
        batched = adcompile.batch(g, in_axes=(0, None), target="cuda")
        gx, gk = batched(X, k)
        target = "cuda"
    except adcompile.AdError as err:
        print(f"target='cuda' unavailable ({str(err).splitlines()[0]}); using target='cpu'")
        batched = adcompile.batch(g, in_axes=(0, None), target="cpu")
        gx, gk = batched(X, k)
        target = "cpu"
    t0 = time.perf_counter()
    gx, gk = batched(X, k)
    t_batch = time.perf_counter() - t0
    m = min(n, 2000)
    t0 = time.perf_counter()
    loop = [g(X[i], k) for i in range(m)]
    t_loop = (time.perf_counter() - t0) * n / m
    ref_x = np.array([r[0] for r in loop])
    ref_k = sum(r[1] for r in loop)
    print(f"{n} particles, target={target}: batch {1e3 * t_batch:.2f} ms, Python loop of grad "
          f"{1e3 * t_loop:.1f} ms (extrapolated from {m}), speed-up {t_loop / t_batch:.0f}x")
    err_x = np.max(np.abs(gx[:m] - ref_x)) / np.max(np.abs(ref_x))
    print(f"max rel difference per-particle gradients vs loop: {err_x:.2e}")
    if m == n:
        print(f"max rel difference shared gradient vs loop: "
              f"{np.max(np.abs(gk - ref_k)) / np.max(np.abs(ref_k)):.2e}")
    print("shared gradient d(sum E)/dk:", gk)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
