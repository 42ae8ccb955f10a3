"""Hypergradient of a learning rate and a weight decay through 10^4 unrolled gradient-descent
steps on a small linear regression, by reverse-mode AD with binomial checkpointing (the tape
holds a few snapshots of the 5-element weight vector instead of 10^4 iterations).

Run: python examples/hypergradient.py [--quick]
"""
import sys
import time

import numpy as np

import adcompile


def val_loss_after_training(w0, lr, wd, X, y, Xv, yv, steps):
    """Validation loss after `steps` full-batch GD steps on 0.5*|Xw-y|^2/m + 0.5*wd*|w|^2."""
    m = X.shape[0]
    d = X.shape[1]
    w = w0.copy()
    g = np.zeros(d)
    for t in range(steps):
        for j in range(d):
            g[j] = wd * w[j]
        for i in range(m):
            r = -y[i]
            for j in range(d):
                r += X[i, j] * w[j]
            for j in range(d):
                g[j] += r * X[i, j] / m
        for j in range(d):
            w[j] = w[j] - lr * g[j]
    s = 0.0
    for i in range(Xv.shape[0]):
        r = -yv[i]
        for j in range(d):
            r += Xv[i, j] * w[j]
        s += 0.5 * r * r
    return s / Xv.shape[0]


def main(quick: bool = False) -> None:
    steps = 200 if quick else 10_000
    rng = np.random.default_rng(1)
    d, m = 5, 40
    w_true = rng.standard_normal(d)
    X, Xv = rng.standard_normal((m, d)), rng.standard_normal((m, d))
    y = X @ w_true + 0.3 * rng.standard_normal(m)
    yv = Xv @ w_true + 0.3 * rng.standard_normal(m)
    w0 = np.zeros(d)
    lr, wd = 1e-3, 0.05
    args = (w0, lr, wd, X, y, Xv, yv, steps)
    f = adcompile.jit(val_loss_after_training, backend="llvm")
    results = {}
    for name, policy in (("store-all", "store-all"), ("binomial, 16 snapshots", ("binomial", 16))):
        g = adcompile.grad(val_loss_after_training, argnums=(1, 2), backend="llvm",
                           checkpoint=policy)
        g(*args)
        t0 = time.perf_counter()
        results[name] = g(*args)
        dt = time.perf_counter() - t0
        print(f"{name:24s} d/dlr {results[name][0]: .10e}  d/dwd {results[name][1]: .10e}  "
              f"{1e3 * dt:.1f} ms")
    f(*args)
    t0 = time.perf_counter()
    f(*args)
    print(f"primal                   {1e3 * (time.perf_counter() - t0):.1f} ms")
    h = 1e-6
    fd_lr = (f(w0, lr + h, wd, *args[3:]) - f(w0, lr - h, wd, *args[3:])) / (2 * h)
    fd_wd = (f(w0, lr, wd + h, *args[3:]) - f(w0, lr, wd - h, *args[3:])) / (2 * h)
    print(f"central FD (h={h:g})    d/dlr {fd_lr: .10e}  d/dwd {fd_wd: .10e}")
    ck = results["binomial, 16 snapshots"]
    print(f"rel error vs FD          lr {abs(ck[0] - fd_lr) / abs(fd_lr):.2e}  "
          f"wd {abs(ck[1] - fd_wd) / abs(fd_wd):.2e}")
    sa = results["store-all"]
    print(f"checkpointed vs store-all max abs difference "
          f"{max(abs(ck[0] - sa[0]), abs(ck[1] - sa[1])):.2e}")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
