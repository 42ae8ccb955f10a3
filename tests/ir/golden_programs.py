"""Representative functions whose IR is kept as golden files (tests/ir/golden/*.ir)."""
import math

import numpy as np


def horner(c, x):
    acc = 0.0
    for i in range(c.shape[0]):
        acc = acc * x + c[i]
    return acc


def early_exit(x, n):
    s = 0.0
    for i in range(n):
        if x[i] < 0.0:
            continue
        s += math.sqrt(x[i])
        if s > 10.0:
            return -s
    return s


def newton(a):
    x = 1.0
    it = 0
    while abs(x * x - a) > 1e-12 and it < 50:
        x = 0.5 * (x + a / x)
        it += 1
    return x, it


def stencil(u, steps):
    n = u.shape[0]
    v = u.copy()
    for t in range(steps):
        for i in range(1, n - 1):
            v[i] = v[i] + 0.1 * (v[i - 1] - 2.0 * v[i] + v[i + 1])
    return v


def helper(a, b):
    if a > b:
        return a - b
    return b * math.exp(-a)


def calls(v, t):
    s = 0.0
    for i in range(len(v)):
        s += helper(v[i], t)
    return s


def numpy_style(W, x):
    z = W @ x
    return np.sum(np.tanh(z) * z, axis=0) + np.dot(x, x)


def matrix_rows(A):
    out = np.zeros(A.shape[0])
    for i in range(A.shape[0]):
        r = A[i, :]
        out[i] = np.max(r) - np.min(r) if A.shape[1] > 1 else r[0]
    return out


CASES = {
    "horner": (horner, lambda r: (r.normal(size=5), 0.7)),
    "early_exit": (early_exit, lambda r: (r.normal(size=8) + 1.0, 8)),
    "newton": (newton, lambda r: (2.0,)),
    "stencil": (stencil, lambda r: (r.normal(size=9), 4)),
    "calls": (calls, lambda r: (r.normal(size=6), 0.3)),
    "numpy_style": (numpy_style, lambda r: (r.normal(size=(3, 4)), r.normal(size=4))),
    "matrix_rows": (matrix_rows, lambda r: (r.normal(size=(3, 4)),)),
}
