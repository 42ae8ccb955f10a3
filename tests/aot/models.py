"""Functions built ahead of time by the AOT tests (a real module: the CLI reads its source)."""
import math

import numpy as np


def spring(x: "f64[:]", k: float, c: float, steps: int):
    """Damped spring chain, explicit Euler; returns (energy, final positions)."""
    n = x.shape[0]
    v = np.zeros(n)
    p = x.copy()
    dt = 0.01
    for t in range(steps):
        for i in range(n):
            left = p[i - 1] if i > 0 else 0.0
            right = p[i + 1] if i < n - 1 else 0.0
            f = k * (left - 2.0 * p[i] + right) - c * v[i]
            v[i] = v[i] + dt * f
        for i in range(n):
            p[i] = p[i] + dt * v[i]
    e = 0.5 * np.sum(v * v) + 0.5 * k * np.sum(p * p)
    return e, p


def softplus32(x: "f32[:]", w: "f32[:, :]"):
    y = w @ x
    return np.sum(np.log1p(np.exp(y))) + np.float32(0.5) * np.sum(x * x)


def clipped(x: "f64[:]", lo: float, flag: bool):
    s = 0.0
    for i in range(x.shape[0]):
        xi = max(x[i], lo) if flag else x[i]
        s += math.exp(-xi * xi)
    return s


def reads_past_end(x: "f64[:]", n: int):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def uses_dict(x: float):
    d = {"a": x}
    return d["a"]


def relax(x: "f64[:]", a: float, steps: int):
    """A nonlinear relaxation loop: long enough to need checkpointing when steps is large."""
    u = x.copy()
    for t in range(steps):
        for i in range(u.shape[0]):
            u[i] = u[i] + a * math.sin(u[i])
    return np.sum(u * u)


def pair(x: "f64[:]", k: float):
    """An array and a scalar output: the C ABI's checks of both kinds of output."""
    return x * k, k * np.sum(x)


def square_zeros(n: int):
    """Allocates n * n doubles: n = 2**32 overflows the byte count."""
    a = np.zeros((n, n))
    return a[0, 0] + 1.0


def steps_sum(x: "f64[:]", n: int):
    s = 0.0
    for i in range(n):
        s = s + np.sum(x) * 0.5
    return s


def mixed(x: "f64[:]", n: int):
    """Float, int and bool outputs: jvp programs return tangents of the float ones only."""
    return np.sum(x * x), n * 2, x > 0.5
