"""The shortest tour of adcompile: grad, value_and_grad, jvp, jacobian, check_grad, `.source`.

Run: python examples/quickstart.py [--quick]
"""
import sys
import time

import numpy as np

import adcompile


def rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def residual(x):
    r = np.empty(x.shape[0] - 1)
    for i in range(x.shape[0] - 1):
        r[i] = 10.0 * (x[i + 1] - x[i] ** 2)
    return r


def main(quick: bool = False) -> None:
    n = 5 if quick else 1000
    x = np.linspace(-1.0, 1.0, n)
    g = adcompile.grad(rosen, backend="llvm")
    t = time.perf_counter()
    print("grad[:3]           ", g(x)[:3], f"(first call incl. compile {time.perf_counter() - t:.2f} s)")
    t = time.perf_counter()
    g(x)
    print(f"grad time          {1e6 * (time.perf_counter() - t):.1f} us")
    v, gv = adcompile.value_and_grad(rosen, backend="llvm")(x)
    print("value_and_grad     ", v, gv[:3])
    dx = np.ones(n)
    val, tan = adcompile.jvp(rosen, (x,), (dx,), backend="llvm")
    print("jvp                ", val, tan, " <grad, 1> =", float(gv.sum()))
    J = adcompile.jacobian(residual, backend="llvm")(x[:5])
    print("jacobian of residual (n=5):\n", J)
    print("check_grad         ", adcompile.check_grad(rosen, x[:5]))
    src = g.source.splitlines()
    print(f"generated source of grad ({len(src)} lines), first 8:")
    print("\n".join(src[:8]))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
