"""Python reference for main.c: recover the diffusivity alpha of model.py by gradient descent.

Run:  python examples/embed_c/calibrate.py [--backend numba|llvm]

1. the initial state u0 is model.initial_state(N) (main.c computes the same numbers);
2. synthetic measurements: the compiled primal of model.measurements at TRUE_ALPHA with a
   deterministic error of amplitude NOISE (main.c calls the `measurements` kernel built by
   `adcompile build` for the same numbers);
3. ITERS steps of plain gradient descent  alpha -= LR * d misfit / d alpha  from ALPHA0, the
   gradient from adcompile.grad (reverse mode).  main.c does exactly the same with the generated
   `misfit_grad` kernel, so both print the same alpha (compare.py checks it to 1e-10).

The last line is machine readable:  alpha=<%.17g>
"""
import argparse
import os
import sys
import time

import numpy as np

import adcompile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model  # noqa: E402

# Keep these in sync with main.c.
ALPHA0 = 0.5    # initial guess
LR = 0.25       # fixed step size
ITERS = 60      # gradient-descent iterations


def synthetic_data(backend="numba"):
    u0 = model.initial_state(model.N)
    measurements = adcompile.jit(model.measurements, backend=backend)
    data = measurements(model.TRUE_ALPHA, u0, model.STEPS, model.OBS_EVERY, model.NOISE)
    return u0, data


def calibrate(backend="numba", verbose=True):
    """Runs the calibration; returns a dict with alpha, misfit, grad and seconds per gradient."""
    u0, data = synthetic_data(backend)
    args = (u0, data, model.STEPS, model.OBS_EVERY)
    grad = adcompile.grad(model.misfit, argnums=0, backend=backend)
    misfit = adcompile.jit(model.misfit, backend=backend)
    grad(ALPHA0, *args)                      # compile (or load from the disk cache) first

    alpha = ALPHA0
    t0 = time.perf_counter()
    for it in range(ITERS):
        g = grad(alpha, *args)
        alpha -= LR * g
        if verbose and (it < 3 or (it + 1) % 10 == 0):
            print("  iter %3d  d misfit/d alpha = % .6e  ->  alpha = %.17g" % (it, g, alpha))
    seconds = (time.perf_counter() - t0) / ITERS
    value = misfit(alpha, *args)
    g = grad(alpha, *args)
    return {"alpha": alpha, "misfit": value, "grad": g, "time_per_grad": seconds,
            "u0": u0, "data": data}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba", choices=("numba", "llvm"),
                        help="adcompile backend for the Python side (default numba)")
    opts = parser.parse_args(argv)
    print("heat equation: N=%d, %d steps, dt=%g, observations every %d steps, noise %g"
          % (model.N, model.STEPS, model.DT, model.OBS_EVERY, model.NOISE))
    print("gradient descent (Python, adcompile.grad, backend=%s): alpha0=%g, lr=%g, %d iterations"
          % (opts.backend, ALPHA0, LR, ITERS))
    r = calibrate(opts.backend)
    print("final alpha    = %.17g" % r["alpha"])
    print("true alpha     = %.17g" % model.TRUE_ALPHA)
    print("misfit         = %.6e" % r["misfit"])
    print("d misfit/dalpha= %.6e" % r["grad"])
    print("time per gradient call: %.3f us (Python call overhead included)" % (r["time_per_grad"] * 1e6))
    print("alpha=%.17g" % r["alpha"])


if __name__ == "__main__":
    main()
