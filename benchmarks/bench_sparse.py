"""Sparse Jacobians and LM on ADBench-shaped bundle adjustment (one run, under a minute by
default): pattern detection time, coloured sparse Jacobian time / residual time, and
adcompile's LM against scipy.optimize.least_squares(method="trf", jac_sparsity=...) with
finite differences, both from the same start to their own final cost.

    python benchmarks/bench_sparse.py [--obs 3200 --cams 10 --points 800]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import adcompile  # noqa: E402
from adcompile.solvers import levenberg_marquardt  # noqa: E402
from tests.jacobian.ba_problem import ba_case, ba_flat  # noqa: E402


def _best(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--obs", type=int, default=1600)
    ap.add_argument("--cams", type=int, default=8)
    ap.add_argument("--points", type=int, default=400)
    a = ap.parse_args(argv)
    x, oc, op, _, ncam, npt = ba_case(a.cams, a.points, a.obs)
    x[ncam * 11 + npt * 3:] = 1.0
    feats = ba_flat(x, oc, op, np.zeros((a.obs, 2)), ncam, npt)[:2 * a.obs].reshape(-1, 2)
    feats += np.random.default_rng(2).normal(scale=0.5, size=feats.shape)
    args = (oc, op, feats, ncam, npt)
    f = adcompile.jit(ba_flat)
    t = time.perf_counter()
    pat = adcompile.jacobian_sparsity(ba_flat)(x, *args)
    print(f"BA {ncam} cams, {npt} points, {a.obs} obs: {x.size} params, {pat.shape[0]} "
          f"residuals, {pat.nnz} nonzeros; pattern {time.perf_counter() - t:.2f} s "
          "(first call, compile included)")
    J = adcompile.jacobian(ba_flat, sparse=True)
    J(x, *args)
    f(x, *args)
    tj, tf = _best(lambda: J(x, *args), 10), _best(lambda: f(x, *args), 30)
    print(f"sparse Jacobian {tj * 1e3:.2f} ms ({J.ncolors} colours), residual "
          f"{tf * 1e3:.3f} ms, ratio {tj / tf:.1f}")
    x0 = x.copy()
    x0[ncam * 11:ncam * 11 + npt * 3] += np.random.default_rng(3).normal(scale=0.02,
                                                                       size=npt * 3)
    levenberg_marquardt(ba_flat, x0, args=args, jac="sparse", max_nfev=2)   # warm
    t = time.perf_counter()
    res = levenberg_marquardt(ba_flat, x0, args=args, jac="sparse", max_nfev=100)
    t_lm = time.perf_counter() - t
    print(f"adcompile LM: cost {res.cost:.6e}, {res.nit} iterations, {t_lm:.2f} s, "
          f"{t_lm / max(res.nit, 1) * 1e3:.1f} ms per iteration (Ceres, Dubrovnik-16: 48 ms)")
    from scipy.optimize import least_squares
    t = time.perf_counter()
    ref = least_squares(lambda z: f(z, *args), x0, method="trf", jac_sparsity=pat,
                        x_scale="jac", ftol=1e-10, max_nfev=50)
    t_sc = time.perf_counter() - t
    print(f"scipy trf + jac_sparsity (finite differences): cost {ref.cost:.6e}, "
          f"{ref.nfev} evaluations, {t_sc:.2f} s; adcompile LM {t_sc / t_lm:.1f}x faster")


if __name__ == "__main__":
    main()
