"""Bilevel optimisation with implicit differentiation: tune the ridge strength of a fit by
the gradient of its validation loss.

The inner problem (ridge regression) is solved by plain gradient descent written in the
supported subset. Three gradients of the validation loss w.r.t. the ridge strength lam:

- implicit: `adcompile.custom_root` differentiates the solver through its optimality condition
  A^T (A w - y) + lam w = 0 (one compiled CG solve, whatever the number of inner iterations);
- unrolled: reverse mode through every gradient-descent step (its tape grows with them);
- closed form: w = (A^T A + lam I)^-1 A^T y.

Then a few steps of gradient descent on log(lam) with the implicit gradient.
Run: python examples/bilevel.py [--backend llvm|numba]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import adcompile


def optimality(w, lam, A, y, iters):
    return A.T @ (A @ w - y) + lam * w


def ridge_gd(w0, lam, A, y, iters):
    w = w0
    step = 1.0 / (np.sum(A * A) + lam)
    for it in range(iters):
        w = w - step * (A.T @ (A @ w - y) + lam * w)
    return w


ridge_implicit = adcompile.custom_root(optimality, solve="cg")(ridge_gd)


def val_loss_implicit(lam, A, y, Av, yv, iters):
    w = ridge_implicit(np.zeros(A.shape[1]), lam, A, y, iters)
    r = Av @ w - yv
    return np.sum(r * r) / yv.shape[0]


def val_loss_unrolled(lam, A, y, Av, yv, iters):
    w = ridge_gd(np.zeros(A.shape[1]), lam, A, y, iters)
    r = Av @ w - yv
    return np.sum(r * r) / yv.shape[0]


def closed_form(lam, A, y, Av, yv):
    M = A.T @ A + lam * np.eye(A.shape[1])
    w = np.linalg.solve(M, A.T @ y)
    r = Av @ w - yv
    dw = -np.linalg.solve(M, w)
    return np.sum(r * r) / len(yv), 2 * r @ (Av @ dw) / len(yv)


def best_time(f, *args, repeat=5):
    f(*args)
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f(*args)
        t.append(time.perf_counter() - t0)
    return min(t)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="llvm", choices=["llvm", "numba"])
    ap.add_argument("--quick", action="store_true", help="small sizes (the test runs this)")
    opts = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    n, d = (60, 10) if opts.quick else (400, 40)
    w_true = rng.normal(size=d)
    A = rng.normal(size=(n, d))
    y = A @ w_true + 0.5 * rng.normal(size=n)
    Av = rng.normal(size=(n, d))
    yv = Av @ w_true + 0.5 * rng.normal(size=n)
    g_imp = adcompile.grad(val_loss_implicit, backend=opts.backend)
    g_unr = adcompile.grad(val_loss_unrolled, backend=opts.backend)
    lam = 3.0
    _, exact = closed_form(lam, A, y, Av, yv)
    print(f"ridge n={n} d={d}, lam={lam}: d(validation loss)/d(lam)")
    print(f"{'inner iters':>11} {'implicit':>14} {'unrolled':>14} {'closed form':>14} "
          f"{'t implicit':>11} {'t unrolled':>11}")
    for iters in ((1000, 2000, 4000) if opts.quick else (2000, 4000, 8000)):
        gi = g_imp(lam, A, y, Av, yv, iters)
        gu = g_unr(lam, A, y, Av, yv, iters)
        ti = best_time(g_imp, lam, A, y, Av, yv, iters)
        tu = best_time(g_unr, lam, A, y, Av, yv, iters)
        print(f"{iters:>11} {gi:>14.8e} {gu:>14.8e} {exact:>14.8e} {ti * 1e3:>9.2f}ms "
              f"{tu * 1e3:>9.2f}ms")
    print("(the unrolled gradient tapes every inner step: its memory grows with the iteration "
          "count; the implicit one keeps only the solution)")
    # tune log(lam) by gradient descent with the implicit gradient
    log_lam = np.log(lam)
    for step in range(8):
        lam = float(np.exp(log_lam))
        v, g = adcompile.value_and_grad(val_loss_implicit, backend=opts.backend)(
            lam, A, y, Av, yv, 4000)
        print(f"step {step}: lam={lam:.4f} validation loss={v:.6f}")
        log_lam -= 2.0 * g * lam
    print(f"closed-form loss at the final lam: {closed_form(lam, A, y, Av, yv)[0]:.6f}")


if __name__ == "__main__":
    main()
