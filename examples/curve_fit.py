"""Fit y = a * exp(-b t) + c with adcompile.solvers.least_squares (Levenberg-Marquardt,
Jacobian by forward-mode AD) and compare with scipy.optimize.least_squares (finite differences).

Then the same data with 10% gross outliers: the plain fit is pulled away, a robust
`loss="soft_l1"` fit (scipy's definition, f_scale=0.1) recovers the curve, as scipy's does.

Run: python examples/curve_fit.py [--quick]
"""
import sys
import time

import numpy as np
import scipy.optimize

from adcompile.solvers import least_squares


def residual(p, t, y):
    r = np.empty(t.shape[0])
    for i in range(t.shape[0]):
        r[i] = p[0] * np.exp(-p[1] * t[i]) + p[2] - y[i]
    return r


def main(quick: bool = False) -> None:
    m = 50 if quick else 2000
    rng = np.random.default_rng(0)
    truth = np.array([2.5, 1.3, 0.5])
    t = np.linspace(0.0, 4.0, m)
    y = truth[0] * np.exp(-truth[1] * t) + truth[2] + 0.01 * rng.standard_normal(m)
    p0 = np.array([1.0, 0.5, 0.0])
    t0 = time.perf_counter()
    res = least_squares(residual, p0, args=(t, y), method="lm", jac="dense")
    t_ad = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = least_squares(residual, p0, args=(t, y), method="lm", jac="dense")
    t_ad2 = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = scipy.optimize.least_squares(residual, p0, args=(t, y), method="lm")
    t_sp = time.perf_counter() - t0
    print(f"adcompile lm  params {res.x}  cost {res.cost:.6e}  nit {res.nit}  "
          f"{t_ad:.2f} s incl. compile, {1e3 * t_ad2:.1f} ms warm")
    print(f"scipy lm (FD) params {ref.x}  cost {ref.cost:.6e}  nfev {ref.nfev}  {1e3 * t_sp:.1f} ms")
    print(f"max |params difference| {np.max(np.abs(res.x - ref.x)):.3e}")
    y_out = y.copy()
    y_out[::10] += 2.0
    plain = least_squares(residual, p0, args=(t, y_out), jac="dense")
    rob = least_squares(residual, p0, args=(t, y_out), jac="dense", loss="soft_l1", f_scale=0.1)
    ref = scipy.optimize.least_squares(residual, p0, args=(t, y_out), loss="soft_l1", f_scale=0.1)
    print(f"10% outliers, linear loss:  params {plain.x}  max |error| "
          f"{np.max(np.abs(plain.x - truth)):.3e}")
    print(f"10% outliers, soft_l1 loss: params {rob.x}  max |error| "
          f"{np.max(np.abs(rob.x - truth)):.3e}  nit {rob.nit}")
    print(f"robust vs scipy soft_l1: cost {rob.cost:.6e} vs {ref.cost:.6e}, "
          f"max |params difference| {np.max(np.abs(rob.x - ref.x)):.3e}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
