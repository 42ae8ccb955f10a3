"""adcompile.batch on all CPU cores against the same chunk program on one thread, and against
a Python loop over instances calling the single-instance derivative.

    python benchmarks/bench_batch.py [--n 200000] [--backend llvm|numba|both]

Prints, per model and backend: the time of one batched call on one thread, on all threads
(ADCOMPILE_THREADS or every core), their ratio (the speed-up), and the Python loop's time per
instance for scale.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch_models as bm  # noqa: E402

import adcompile as ad  # noqa: E402
from adcompile.batching.api import cpu_threads  # noqa: E402


def cores_used(fn) -> float:
    """Process CPU time over wall time of one call: how many cores the call kept busy (on a
    loaded machine the speed-up can stay near 1 while this shows the chunks ran in parallel)."""
    t, w = os.times(), time.perf_counter()
    fn()
    t2, w2 = os.times(), time.perf_counter()
    return (t2.user - t.user + t2.system - t.system) / (w2 - w)


def best(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cases(n, rng):
    X = rng.normal(size=(n, 3))
    k = np.array([1.3, 0.2, 0.01])
    yield "particle grad (while loop, shared k summed)", \
        lambda be: ad.grad(bm.particle, argnums=(0, 1), backend=be), (X, k), (0, None)
    cams = rng.normal(size=(n, 11)) * 0.1
    cams[:, 5] -= 5.0
    cams[:, 6] += 1.0
    pts = rng.normal(size=(n, 3))
    w = rng.uniform(0.5, 1.5, size=n)
    yield "BA residual jacfwd (15 in, 2 out)", \
        lambda be: ad.jacfwd(bm.reprojection, argnums=(0, 1), backend=be), (cams, pts, w), 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--backend", default="both")
    opts = ap.parse_args()
    backends = ["llvm", "numba"] if opts.backend == "both" else [opts.backend]
    rng = np.random.default_rng(0)
    print(f"threads: {cpu_threads()}, instances: {opts.n}")
    for name, make, args, axes in cases(opts.n, rng):
        for be in backends:
            d = make(be)
            b = ad.batch(d, in_axes=axes)
            b(*args)   # compile
            one = best(lambda: b.single_threaded(*args))
            many = best(lambda: b(*args))
            busy = cores_used(lambda: b(*args))
            m = 200
            small = tuple(a[:m] if isinstance(ax, int) or ax == 0 else a
                          for a, ax in zip(args, axes if isinstance(axes, tuple)
                                           else (axes,) * len(args)))
            d(*[a[0] if (axes if isinstance(axes, int) else axes[i]) == 0 else a
                for i, a in enumerate(small)])
            loop = best(lambda: [d(*[a[j] if (axes if isinstance(axes, int) else axes[i]) == 0
                                     else a for i, a in enumerate(small)])
                                 for j in range(m)], 2) / m
            print(f"{name:<46} {be:<6} 1 thread {one * 1e3:9.2f} ms  all threads "
                  f"{many * 1e3:9.2f} ms  speed-up {one / many:5.2f}x  cores busy {busy:4.2f}  "
                  f"(Python loop {loop * 1e6:7.2f} us/instance, batch "
                  f"{many / opts.n * 1e9:7.1f} ns/instance)")


if __name__ == "__main__":
    main()
