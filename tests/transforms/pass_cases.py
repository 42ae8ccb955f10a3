"""Small functions whose frontend IR exercises one pass each (inputs of the golden pass tests)."""
import math

import numpy as np


def simplify_case(x, n):
    a = x * 1.0 + 0.0
    b = 2.0 * 3.0 + a
    c = math.sin(a) + math.sin(a)
    s = 0.0
    for i in range(n):
        s += b * c - (a - a)
    return s


def licm_case(icf, x):
    total = 0.0
    for p in range(x.shape[0]):
        for k in range(icf.shape[0]):
            w = math.exp(icf[k]) * 2.0
            total += w * x[p]
    return total


def dce_case(x, n):
    unused = math.cos(x) * 3.0
    s = 0.0
    t = 0.0
    for i in range(n):
        s += x * i
        t += math.exp(x)       # carried but never used after the loop
    return s


def inplace_case(u, k):
    v = u.copy()
    u[0] = k                   # writes an argument: needs a private copy
    for i in range(1, v.shape[0]):
        v[i] = v[i - 1] + u[i]
    w = v
    w[0] = 1.0                 # w aliases v, v is not used again: in place
    return np.sum(w) + np.sum(u)


def checkpoint_case(x, n):
    s = 0.0
    y = x
    for t in range(n):
        y = math.sin(y) + 0.1
        s += y * y
    return s


CASES = {
    "simplify": (simplify_case, (0.7, 5)),
    "licm": (licm_case, (np.linspace(0.0, 1.0, 4), np.linspace(1.0, 2.0, 3))),
    "dce": (dce_case, (0.3, 4)),
    "inplace": (inplace_case, (np.linspace(0.0, 1.0, 5), 2.0)),
    "checkpoint": (checkpoint_case, (0.4, 10)),
}


def fuse_case(x, y):
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    t = 0.0
    for j in range(n):
        t += math.sin(y[j])
    z = x.copy()
    for k in range(n):          # reads s: depends on the first loop, stays separate
        z[k] = z[k] * s
    return s + t + np.sum(z)


CASES["fuse"] = (fuse_case, (np.linspace(0.0, 1.0, 5), np.linspace(1.0, 2.0, 5)))


def expand_case(icf, means, x):
    total = 0.0
    for i in range(x.shape[0]):
        for k in range(icf.shape[0]):
            q = 0.0
            for j in range(icf.shape[1]):
                y = math.exp(icf[k, j]) * (x[i, j] - means[k, j])   # exp: not per point
                q += y * y
            total += math.exp(-0.5 * q)                            # depends on i: stays
    return total


_g = np.random.default_rng(3)
CASES["expand"] = (expand_case, (_g.random((3, 2)), _g.random((3, 2)), _g.random((4, 2))))


def lower_arrays_case(x, A, a):
    z = np.sin(x) * x + a          # fused into the reduction below: no temporary
    s = np.sum(z * z)
    col = np.max(A, axis=0)        # source-order accumulation into the output
    y = A @ x                      # loops i, k with the output row innermost
    w = np.where(x > 0.5, x, -x) + col   # a materialised map (w is used twice)
    return s + np.sum(y) + np.sum(w * w) + np.mean(w)


CASES["lower_arrays"] = (lower_arrays_case, (np.linspace(0.0, 1.0, 4),
                                             np.linspace(-1.0, 1.0, 12).reshape(3, 4), 0.5))


def induction_case(icf, d):
    s = 0.0
    idx = d                     # a packed-matrix cursor: idx += 1 per inner trip
    for col in range(d):
        for row in range(col + 1, d):
            s += icf[idx] * row
            idx += 1
    return s + idx


CASES["induction"] = (induction_case, (np.linspace(0.0, 1.0, 10), 4))


def reuse_buffers_case(x, n):
    total = 0.0
    for t in range(n):
        w = np.empty(x.shape[0])    # scratch, fully rewritten every trip
        for i in range(x.shape[0]):
            w[i] = x[i] * t
        total += np.sum(w * w)
    return total


CASES["reuse_buffers"] = (reuse_buffers_case, (np.linspace(0.0, 1.0, 5), 3))
