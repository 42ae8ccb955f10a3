"""Recover a diffusion-coefficient field k(x) of a 1-D explicit heat equation from the final
states of a few experiments (different initial conditions), by L-BFGS-B on a Tikhonov-
regularised misfit whose gradient comes from adcompile.value_and_grad (reverse mode through
all the time steps).

Run: python examples/heat_inverse.py [--quick]
"""
import sys
import time

import numpy as np
import scipy.optimize

import adcompile


def final_states(k, U0, steps, r):
    """Explicit Euler for u_t = (k u_x)_x with u = 0 at both ends; k on the n nodes, face
    coefficients their means. r = dt / dx^2. Returns the states after `steps` steps."""
    e_count = U0.shape[0]
    n = U0.shape[1]
    U = U0.copy()
    V = np.zeros((e_count, n))
    for t in range(steps):
        for e in range(e_count):
            for i in range(n):
                left = 0.0
                right = 0.0
                if i > 0:
                    left = U[e, i - 1]
                if i < n - 1:
                    right = U[e, i + 1]
                kl = k[i]
                kr = k[i]
                if i > 0:
                    kl = 0.5 * (k[i - 1] + k[i])
                if i < n - 1:
                    kr = 0.5 * (k[i] + k[i + 1])
                V[e, i] = U[e, i] + r * (kr * (right - U[e, i]) - kl * (U[e, i] - left))
        for e in range(e_count):
            for i in range(n):
                U[e, i] = V[e, i]
    return U


def objective(k, U0, obs, steps, r, alpha):
    U = final_states(k, U0, steps, r)
    s = 0.0
    for e in range(U.shape[0]):
        for i in range(U.shape[1]):
            d = U[e, i] - obs[e, i]
            s += 0.5 * d * d
    for i in range(k.shape[0] - 1):
        d = k[i + 1] - k[i]
        s += 0.5 * alpha * d * d
    return s


def main(quick: bool = False) -> None:
    n, n_exp, steps = (16, 6, 150) if quick else (64, 12, 2000)
    x = np.linspace(0.0, 1.0, n + 2)[1:-1]
    dx = x[1] - x[0]
    k_true = 1.0 + 0.5 * np.sin(2 * np.pi * x) + 0.3 * np.exp(-((x - 0.7) / 0.1) ** 2)
    r = 0.2 / k_true.max() if quick else 0.2 / 2.0
    dt = r * dx * dx
    # final time ~ 0.02-0.05: diffusion has acted but the states still carry information
    rng = np.random.default_rng(0)
    U0 = np.array([np.sin((e + 1) * np.pi * x) + 0.3 * rng.standard_normal(n) for e in range(n_exp)])
    obs = final_states(k_true, U0, steps, r)
    alpha = 1e-6
    k0 = np.ones(n)
    vg = adcompile.value_and_grad(objective, backend="llvm")
    f = adcompile.jit(objective, backend="llvm")
    print(f"n={n} nodes, {n_exp} experiments, {steps} steps (final time {steps * dt:.3g})")
    f(k0, U0, obs, steps, r, alpha)
    vg(k0, U0, obs, steps, r, alpha)
    t0 = time.perf_counter()
    f(k0, U0, obs, steps, r, alpha)
    t_f = time.perf_counter() - t0
    t0 = time.perf_counter()
    vg(k0, U0, obs, steps, r, alpha)
    t_g = time.perf_counter() - t0
    print(f"primal {1e3 * t_f:.2f} ms, value_and_grad {1e3 * t_g:.2f} ms (ratio {t_g / t_f:.1f})")
    misfit0 = f(k0, U0, obs, steps, r, 0.0)
    t0 = time.perf_counter()
    res = scipy.optimize.minimize(lambda k: vg(k, U0, obs, steps, r, alpha), k0, jac=True,
                                  method="L-BFGS-B", bounds=[(0.1, 5.0)] * n,
                                  options={"maxiter": 2000, "ftol": 1e-16, "gtol": 1e-12})
    t_opt = time.perf_counter() - t0
    misfit1 = f(res.x, U0, obs, steps, r, 0.0)
    rel = np.linalg.norm(res.x - k_true) / np.linalg.norm(k_true)
    print(f"misfit before {misfit0:.3e}  after {misfit1:.3e}  ({res.nit} iterations, "
          f"{res.nfev} evaluations, {t_opt:.2f} s)")
    print(f"relative error of recovered k: {rel:.3e}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: plot skipped")
        return
    if quick:
        return
    plt.plot(x, k_true, label="true k")
    plt.plot(x, res.x, "--", label="recovered k")
    plt.legend()
    plt.xlabel("x")
    plt.savefig("heat_inverse.png", dpi=100)
    print("plot written to heat_inverse.png")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
