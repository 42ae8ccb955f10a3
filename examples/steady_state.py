"""The steady state of a nonlinear heat equation, differentiated w.r.t. the conductivity
field by implicit differentiation.

On n cells of a rod with fixed zero temperature at both ends, the steady state u solves

    F(u, k) = -(k_{i+1/2} (u_{i+1} - u_i) - k_{i-1/2} (u_i - u_{i-1})) / h^2 + u_i^3 - f_i = 0

with k > 0 a conductivity per cell face (n + 1 of them). The solver is Newton's method with a
tridiagonal (Thomas) solve per step, written in the supported subset. `custom_root` gives the
gradient of a misfit J(u(k)) = sum((u - u_obs)^2) w.r.t. all n + 1 conductivities from one
adjoint solve (CG: ∂F/∂u is symmetric positive definite), instead of reverse mode through
the Newton steps and their Thomas solves.
Run: python examples/steady_state.py [--n 2000] [--backend llvm|numba]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import adcompile


def residual(u, k, f, h):
    n = u.shape[0]
    r = u * u * u - f
    for i in range(n):
        left = 0.0
        if i > 0:
            left = u[i - 1]
        right = 0.0
        if i < n - 1:
            right = u[i + 1]
        r[i] -= (k[i + 1] * (right - u[i]) - k[i] * (u[i] - left)) / (h * h)
    return r


def newton(u0, k, f, h):
    n = u0.shape[0]
    u = u0.copy()
    diag = np.zeros(n)
    off = np.zeros(n)
    c = np.zeros(n)
    d = np.zeros(n)
    for it in range(50):
        r = residual(u, k, f, h)
        if np.sqrt(np.sum(r * r)) < 1e-12 * n:
            break
        for i in range(n):   # Jacobian: tridiagonal, symmetric
            diag[i] = (k[i] + k[i + 1]) / (h * h) + 3.0 * u[i] * u[i]
            off[i] = -k[i + 1] / (h * h)
        c[0] = off[0] / diag[0]   # Thomas algorithm for J du = r
        d[0] = r[0] / diag[0]
        for i in range(1, n):
            m = diag[i] - off[i - 1] * c[i - 1]
            c[i] = off[i] / m
            d[i] = (r[i] - off[i - 1] * d[i - 1]) / m
        for ii in range(n - 1):
            i = n - 2 - ii
            d[i] = d[i] - c[i] * d[i + 1]
        u = u - d
    return u


steady = adcompile.custom_root(residual, solve="cg")(newton)


def misfit(k, f, u_obs, h):
    u = steady(np.zeros(f.shape[0]), k, f, h)
    e = u - u_obs
    return np.sum(e * e)


def misfit_unrolled(k, f, u_obs, h):
    u = newton(np.zeros(f.shape[0]), k, f, h)
    e = u - u_obs
    return np.sum(e * e)


def best_time(f, *args, repeat=5):
    f(*args)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f(*args)
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--backend", default="llvm", choices=["llvm", "numba"])
    opts = ap.parse_args(argv)
    n = opts.n
    h = 1.0 / (n + 1)
    x = np.linspace(h, 1 - h, n)
    f = 50.0 * np.sin(np.pi * x) ** 2
    k = 1.0 + 0.5 * np.cos(3 * np.linspace(0, 1, n + 1))
    u_obs = newton(np.zeros(n), np.ones(n + 1), f, h)
    g_imp = adcompile.grad(misfit, backend=opts.backend)
    g_unr = adcompile.grad(misfit_unrolled, backend=opts.backend)
    gi = g_imp(k, f, u_obs, h)
    gu = g_unr(k, f, u_obs, h)
    rng = np.random.default_rng(0)
    v = rng.normal(size=n + 1)
    eps = 1e-6
    fd = (misfit_unrolled(k + eps * v, f, u_obs, h) -
          misfit_unrolled(k - eps * v, f, u_obs, h)) / (2 * eps)
    print(f"nonlinear steady heat, n={n} cells, gradient w.r.t. {n + 1} conductivities "
          f"({opts.backend})")
    print(f"  <grad, v>: implicit {gi @ v:.10e}  unrolled {gu @ v:.10e}  "
          f"finite differences {fd:.10e}")
    print(f"  max |implicit - unrolled| / max |unrolled| = "
          f"{np.max(np.abs(gi - gu)) / np.max(np.abs(gu)):.2e}")
    t_primal = best_time(adcompile.jit(misfit_unrolled, backend=opts.backend), k, f, u_obs, h)
    ti = best_time(g_imp, k, f, u_obs, h)
    tu = best_time(g_unr, k, f, u_obs, h)
    print(f"  primal {t_primal * 1e3:.2f} ms; gradient implicit {ti * 1e3:.2f} ms "
          f"({ti / t_primal:.1f}x), unrolled {tu * 1e3:.2f} ms ({tu / t_primal:.1f}x)")


if __name__ == "__main__":
    main()
