"""Main job: derivatives of a 1-D heat-equation simulation written as plain loops.

Run: python examples/heat_stencil.py

The simulation updates an array in place for many time steps; the loss compares the final state
with measured data. adcompile compiles the simulation and its derivatives (reverse mode for the
gradient, forward mode for a directional derivative), checks them against finite differences,
runs a few gradient-descent steps to recover the diffusion coefficient, and prints timings.
"""
import time

import numpy as np

import adcompile


def simulate(u0, alpha, steps):
    """Explicit finite differences for u_t = alpha u_xx with fixed ends."""
    n = u0.shape[0]
    u = u0.copy()
    new = np.empty(n)
    for t in range(steps):
        new[0] = u[0]
        new[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            new[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, new = new, u
    return u


def loss(u0, alpha, data, steps):
    u = simulate(u0, alpha, steps)
    s = 0.0
    for i in range(u.shape[0]):
        d = u[i] - data[i]
        s += d * d
    return 0.5 * s


def best_time(f, *args, repeat=5):
    f(*args)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f(*args)
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    n, steps = 1000, 200
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-100.0 * (x - 0.5) ** 2)
    true_alpha = 0.21
    data = simulate(u0, true_alpha, steps)

    primal = adcompile.jit(loss)
    grad = adcompile.grad(loss, argnums=(0, 1))      # reverse mode
    alpha = 0.15

    t0 = time.perf_counter()
    value = primal(u0, alpha, data, steps)
    g_u0, g_alpha = grad(u0, alpha, data, steps)
    compile_s = time.perf_counter() - t0
    _, dloss = adcompile.jvp(loss, (u0, alpha, data, steps), (None, 1.0, None, None))

    h = 1e-6
    fd = (loss(u0, alpha + h, data, steps) - loss(u0, alpha - h, data, steps)) / (2 * h)
    print(f"loss(alpha={alpha})             = {value:.10e}")
    print(f"d loss / d alpha  reverse mode = {g_alpha:.10e}")
    print(f"d loss / d alpha  forward mode = {dloss:.10e}")
    print(f"d loss / d alpha  central FD   = {fd:.10e}")
    print(f"|grad wrt u0| = {np.linalg.norm(g_u0):.6e}  (an array of {g_u0.size} values)")

    print("\ncalibrating alpha with Newton's method (gradient: reverse mode; second "
          "derivative: forward over reverse):")
    value_and_grad = adcompile.value_and_grad(loss, argnums=1)
    hessian = adcompile.hessian(loss, argnums=1)
    for it in range(6):
        v, ga = value_and_grad(u0, alpha, data, steps)
        h2 = hessian(u0, alpha, data, steps)
        alpha = min(max(alpha - ga / h2, 1e-3), 0.49) if h2 > 0 else alpha - 0.1 * ga
        print(f"  iter {it}: loss = {v:.3e}  d2loss = {h2:.3e}  ->  alpha = {alpha:.10f}")
    print(f"  true alpha = {true_alpha}")

    t_primal = best_time(primal, u0, alpha, data, steps)
    t_grad = best_time(grad, u0, alpha, data, steps)
    t_python = best_time(loss, u0, alpha, data, 2, repeat=1) * steps / 2
    llvm_primal = best_time(adcompile.jit(loss, backend="llvm"), u0, alpha, data, steps)
    print(f"\ntimings (n={n}, {steps} steps):")
    print(f"  first calls (compile, or load from the disk cache): {compile_s:8.2f} s")
    print(f"  compiled primal:   {t_primal * 1e3:9.3f} ms  (LLVM backend: "
          f"{llvm_primal * 1e3:.3f} ms)")
    print(f"  compiled gradient: {t_grad * 1e3:9.3f} ms  ({t_grad / t_primal:.1f}x the primal)")
    print(f"  CPython primal:    {t_python * 1e3:9.1f} ms  (extrapolated)")

    # the same gradient from the LLVM backend (the code `adcompile build` ships to C), and
    # with checkpointing: 8 snapshots by the binomial (revolve) schedule instead of a tape
    # that grows with the number of steps
    # (each ratio against the primal compiled by the same backend)
    variants = [("LLVM backend", adcompile.grad(loss, argnums=(0, 1), backend="llvm"),
                 llvm_primal),
                ("binomial, 8 snapshots", adcompile.grad(loss, argnums=(0, 1),
                                                         checkpoint=("binomial", 8)), t_primal)]
    a0 = 0.15   # away from the optimum, where the gradient is not ~0
    ref_u0, ref_alpha = grad(u0, a0, data, steps)
    for name, g, t_ref in variants:
        gu, ga = g(u0, a0, data, steps)
        same = np.allclose(gu, ref_u0, rtol=1e-10, atol=1e-12 * np.abs(ref_u0).max()) and \
            abs(ga - ref_alpha) <= 1e-10 * abs(ref_alpha) + 1e-30
        t = best_time(g, u0, a0, data, steps)
        print(f"  gradient, {name + ':':<23} {t * 1e3:7.3f} ms  ({t / t_ref:.1f}x its "
              f"primal; equal to the default gradient: {same})")


if __name__ == "__main__":
    main()
