"""A catalog of small differentiable programs, for `test_catalog.py`.

Every program is a plain function in this (real) module, so that adcompile can read its source,
and is registered with `@case(...)`:

* `args`: a factory returning fresh arguments (never shared between calls, so a program that
  wrote into an argument would be caught);
* `argnums`: the float (scalar or array) arguments, the ones that are differentiated; int
  arguments are loop counts or indices;
* `hessian`: a scalar program, twice differentiable at its inputs, whose Hessian (w.r.t. its
  first float argument) is checked;
* `autograd`: numpy-style code without in-place writes, also checked against autograd (with `np`
  rebound to `autograd.numpy`);
* `jac`: small enough for dense `jacfwd`/`jacrev`;
* `f32`: float32 inputs, checked with looser tolerances (the finite-difference reference runs
  the same code on float64 copies of the inputs, so these programs are dtype-generic: they
  allocate with `*_like` / `.copy()`, never with an explicit float32 dtype).

Inputs are kept away from non-differentiable points (ties of min/max, zeros of abs, branch and
loop-exit thresholds: every threshold is crossed with a margin far larger than a finite
difference step) and away from overflow.  Programs never modify their arguments in CPython.
"""
# ruff: noqa: E731
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable
    args: Callable[[], tuple]
    argnums: tuple[int, ...]
    hessian: bool = False
    autograd: bool = False
    jac: bool = True
    f32: bool = False


CATALOG: dict[str, Case] = {}


def register(fn: Callable, args: Callable[[], tuple], argnums, *, name: str | None = None,
             **flags) -> Callable:
    name = name or fn.__name__
    assert name not in CATALOG, name
    CATALOG[name] = Case(name, fn, args, tuple(argnums), **flags)
    return fn


def case(args: Callable[[], tuple], argnums, **flags):
    """Decorator form of `register`."""
    return lambda fn: register(fn, args, argnums, **flags)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _vec(seed, n, lo=-1.0, hi=1.0, dtype=np.float64):
    return _rng(seed).uniform(lo, hi, n).astype(dtype)


def _mat(seed, n, m, lo=-1.0, hi=1.0, dtype=np.float64):
    return _rng(seed).uniform(lo, hi, (n, m)).astype(dtype)


# ===============================================================================================
# Scalar loops
# ===============================================================================================

@case(args=lambda: (0.7, 1.3, 5), argnums=(0, 1), hessian=True)
def horner_loop(a, b, n):
    s = 1.0
    for i in range(n):
        s = s * a + b / (i + 1.0)
    return s


@case(args=lambda: (0.4, 8), argnums=(0,), hessian=True)
def logistic_map(x, n):
    for _ in range(n):
        x = 3.1 * x * (1.0 - x)
    return x


@case(args=lambda: (0.5, 1.5), argnums=(0, 1), hessian=True)
def scalar_loop_transcendental(x, y):
    s = 0.0
    for i in range(6):
        s = s + math.sin(x * i) * math.exp(-y * i * 0.3) + math.log(1.0 + y * y * i)
    return s


@case(args=lambda: (1.2, 0.3, 6), argnums=(0, 1))
def scalar_loop_aug_ops(a, b, n):
    s = a
    p = 1.0
    for i in range(1, n):
        s += b * i
        s -= 0.1 * s * a
        p *= 1.0 + 0.05 * s
        s /= 1.0 + 0.01 * p
    return s + p


@case(args=lambda: (0.9, 0.25, 7), argnums=(0, 1))
def scalar_loop_negative_step(a, b, n):
    s = 0.0
    for i in range(n, 0, -2):
        s = math.tanh(s + a * i) * b + s * 0.5
    return s


# ===============================================================================================
# while loops with data-dependent exits, break / continue, early return
# ===============================================================================================

@case(args=lambda: (2.0,), argnums=(0,), hessian=True)
def newton_sqrt(a):
    # converges in 4 steps from x = a = 2 (residuals 2, .25, 7e-3, 6e-6, 5e-12)
    x = a
    while abs(x * x - a) > 1e-9 * a:
        x = 0.5 * (x + a / x)
    return x


@case(args=lambda: (0.3, 0.7), argnums=(0, 1))
def while_threshold(a, x):
    # exits after 9 iterations, s = 5.22 (margin .22 over the threshold)
    s = 0.0
    k = 0
    while s < 5.0:
        s = s + a + x * k * 0.1
        k += 1
    return s * x + k


@case(args=lambda: (np.array([0.6, 0.9, 0.4, 1.1, 0.8, 0.7]), 2.0), argnums=(0, 1))
def while_scan_array(x, c):
    # stops at i = 3 (s = 1.33 -> 2.54)
    i = 0
    s = 0.0
    while i < x.shape[0] and s < c:
        s = s + x[i] * x[i]
        i += 1
    return s * c + i


@case(args=lambda: (0.8,), argnums=(0,), hessian=True)
def fixed_point_break(a):
    # contraction x -> cos(a x); the loop leaves with `break` once converged
    x = 0.5
    for k in range(200):
        xn = math.cos(a * x)
        if abs(xn - x) < 1e-14:
            break
        x = xn
    return x


@case(args=lambda: (np.array([0.5, 1.2, -0.3, 0.8, 1.9, 0.4, 2.2]), 1.1), argnums=(0, 1))
def break_on_sum(x, a):
    # partial sums .275 1.859 1.958 2.662 6.63 -> break before i = 5
    s = 0.0
    for i in range(x.shape[0]):
        if s > 3.0:
            break
        s = s + a * x[i] * x[i]
    return s


@case(args=lambda: (np.array([0.5, -1.2, 0.3, -0.8, 1.9, 0.4]), 0.7), argnums=(0, 1))
def continue_negatives(x, a):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0.0:
            continue
        s = s + math.sin(a * x[i]) * x[i]
    return s


@case(args=lambda: (np.array([1.0, 1.5, 0.7, 2.0, 0.3]), 0.9), argnums=(0, 1), hessian=True)
def early_return_loop(x, a):
    # t = 1, 2.4, 2.86, 4.574 -> returns inside the loop at i = 3
    t = 0.0
    for i in range(x.shape[0]):
        t = t * a + x[i]
        if t > 4.0:
            return 2.0 * t
    return t


register(early_return_loop, lambda: (np.array([0.3, 0.5, 0.2, 0.4, 0.1]), 0.9), (0, 1),
         name="early_return_loop_not_taken")


@case(args=lambda: (_mat(11, 3, 4, 0.1, 0.6), 0.8), argnums=(0, 1))
def early_return_nested(A, c):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s = s + A[i, j] * c
            if s > 2.5:
                return s * s
    return s


@case(args=lambda: (np.array([0.3, -0.4, 0.9, 0.2, -0.7, 1.3]), 0.6), argnums=(0, 1), hessian=True)
def while_break_continue(x, a):
    i = 0
    s = 0.0
    while i < 20:
        k = i % x.shape[0]
        i += 1
        if x[k] < 0.0:
            continue
        s = s + a * x[k] + 0.1 * s * x[k]
        if s > 4.0:
            break
    return s


# ===============================================================================================
# Nested loops
# ===============================================================================================

@case(args=lambda: (_vec(1, 6),), argnums=(0,), hessian=True)
def nested_pairwise(x):
    s = 0.0
    n = x.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            d = x[i] - x[j]
            s = s + math.exp(-d * d)
    return s


@case(args=lambda: (_mat(2, 3, 4), _vec(3, 4)), argnums=(0, 1))
def nested_2d_rows(A, b):
    s = 0.0
    for i in range(A.shape[0]):
        r = 0.0
        for j in range(A.shape[1]):
            r = r + A[i, j] * b[j]
        s = s + math.tanh(r)
    return s


@case(args=lambda: (_vec(4, 5, 0.2, 0.9), 3), argnums=(0,))
def nested_three_levels(x, m):
    y = x.copy()
    for t in range(m):
        for i in range(y.shape[0]):
            acc = 0.0
            for j in range(i + 1):
                acc = acc + y[j] * 0.3
            y[i] = math.sin(acc) + 0.5 * y[i]
    return y


# ===============================================================================================
# In-place array stencils
# ===============================================================================================

@case(args=lambda: (_vec(5, 8), 0.2, 4), argnums=(0, 1))
def heat_jacobi(u, k, steps):
    n = u.shape[0]
    for t in range(steps):
        v = u.copy()
        for i in range(1, n - 1):
            v[i] = u[i] + k * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = v
    return u


@case(args=lambda: (_vec(6, 8), 0.3, 3), argnums=(0, 1), hessian=True)
def stencil_gauss_seidel(v, a, steps):
    w = v.copy()
    n = w.shape[0]
    for t in range(steps):
        for i in range(1, n - 1):
            w[i] = w[i] + a * math.tanh(w[i - 1] - 2.0 * w[i] + w[i + 1])
    return np.sum(w * w)


@case(args=lambda: (_vec(7, 7), 3), argnums=(0,))
def stencil_product(v, steps):
    w = v.copy()
    for t in range(steps):
        for i in range(1, w.shape[0] - 1):
            w[i] = 0.5 * w[i] + 0.25 * w[i - 1] * w[i + 1]
    return w


@case(args=lambda: (_vec(8, 7), 0.4, 3), argnums=(0, 1))
def stencil_backward_sweep(v, a, steps):
    w = v.copy()
    n = w.shape[0]
    for t in range(steps):
        for i in range(n - 2, 0, -1):
            w[i] = math.sin(w[i + 1]) * a + w[i] * w[i - 1] * 0.5
    return w[1] + 2.0 * w[n - 2]


@case(args=lambda: (_mat(9, 4, 5, 0.0, 1.0), 2), argnums=(0,))
def stencil_2d(U, steps):
    W = U.copy()
    for t in range(steps):
        for i in range(1, W.shape[0] - 1):
            for j in range(1, W.shape[1] - 1):
                W[i, j] = (0.2 * (W[i, j] + W[i - 1, j] + W[i + 1, j] + W[i, j - 1] + W[i, j + 1])
                           + 0.05 * W[i, j] * W[i, j])
    return np.sum(W * W)


# ===============================================================================================
# Array writes then reads
# ===============================================================================================

@case(args=lambda: (_vec(10, 5),), argnums=(0,))
def write_then_read(x):
    n = x.shape[0]
    y = np.zeros(n)
    for i in range(n):
        y[i] = x[i] * x[i] + 1.0
    s = 0.0
    for i in range(n):
        s = s + y[n - 1 - i] * x[i]
    y[0] = s
    return y


@case(args=lambda: (_vec(12, 3), 0.7), argnums=(0, 1))
def overwrite_same_slots(x, a):
    y = x.copy()
    for k in range(4):
        y[1] = y[0] * a + y[1] * y[2]
        y[0] = math.sin(y[1])
        y[2] = y[2] * 0.5 + y[0]
    return y[0] + y[1] * y[2]


@case(args=lambda: (_vec(13, 7), _vec(14, 7)), argnums=(0, 1))
def scatter_add(x, w):
    y = np.zeros(3)
    for i in range(x.shape[0]):
        y[i % 3] += x[i] * w[i]
    y[0] *= 1.5
    return y * y


@case(args=lambda: (_vec(15, 6, 0.5, 1.5),), argnums=(0,))
def prefix_products(x):
    y = np.empty_like(x)
    p = 1.0
    for i in range(len(x)):
        p = p * x[i]
        y[i] = p
    return y


@case(args=lambda: (np.array([0.3, -1.2, 2.5, 0.8, -0.4, 1.7]),), argnums=(0,), hessian=True)
def bubble_sort_weighted(x):
    y = x.copy()
    n = y.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                t = y[j]
                y[j] = y[j + 1]
                y[j + 1] = t
    w = 0.0
    for i in range(n):
        w = w + (i + 1.0) * y[i] * y[i]
    return w


# ===============================================================================================
# Helper functions
# ===============================================================================================

def _h_sq(a):
    return a * a


def _h_poly(a, b):
    return _h_sq(a) + 3.0 * a * b - _h_sq(b) * 0.5


@case(args=lambda: (0.4, -0.3), argnums=(0, 1), hessian=True)
def helpers_nested(x, y):
    s = 0.0
    for i in range(3):
        s = s + _h_poly(x + i, y) * 0.1
    return math.sin(s) + _h_sq(x)


def _h_piecewise(a):
    if a < 0.0:
        return -a * a
    if a > 1.0:
        return 2.0 * a - 1.0
    return a * a


@case(args=lambda: (np.array([-0.5, 0.3, 1.6, 0.8, -1.1, 2.2]),), argnums=(0,), hessian=True)
def helper_branches(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + _h_piecewise(x[i]) * (i + 1.0)
    return s


def _h_polar(a, b):
    return math.hypot(a, b), math.atan2(b, a)


@case(args=lambda: (0.8, 0.5), argnums=(0, 1))
def helper_tuple_return(a, b):
    r, th = _h_polar(a, b)
    r2, th2 = _h_polar(r * math.cos(2.0 * th), r * math.sin(2.0 * th))
    return r2 * th2 + r


def _h_first_above(x, c):
    for i in range(x.shape[0]):
        if x[i] > c:
            return x[i] * c
    return c


@case(args=lambda: (np.array([0.2, 0.4, 1.3, 0.1, 2.0]), 0.9), argnums=(0, 1))
def helper_early_return(x, c):
    return _h_first_above(x, c) + _h_first_above(x, 2.0 * c) * c


def _h_scale_inplace(y, a):
    for i in range(y.shape[0]):
        y[i] = y[i] * a + 0.1 * y[i] * y[i]


@case(args=lambda: (_vec(16, 5), 0.8), argnums=(0, 1))
def helper_fills_array(x, a):
    y = x.copy()
    _h_scale_inplace(y, a)
    _h_scale_inplace(y, a)
    return y


def _h_norm2(v):
    return np.sum(v * v)


def _h_normalize(v):
    return v / np.sqrt(_h_norm2(v))


@case(args=lambda: (_vec(17, 4), _vec(18, 4)), argnums=(0, 1), autograd=True)
def helper_numpy(x, y):
    u = _h_normalize(x)
    v = _h_normalize(y + u)
    return np.dot(u, v) + _h_norm2(u - v)


# ===============================================================================================
# NumPy-style whole-array code
# ===============================================================================================

@case(args=lambda: (_vec(19, 6),), argnums=(0,), hessian=True, autograd=True)
def np_ufuncs(x):
    return np.sum(np.exp(-x * x) + np.sin(x) * np.cos(2.0 * x) + np.log1p(x * x)
                  + np.tanh(x) + np.sqrt(x * x + 1.0) + np.arctan(x))


@case(args=lambda: (_vec(20, 5), 1.3), argnums=(0, 1), autograd=True)
def np_broadcast_scalar(x, a):
    return a * x + x * x / a - np.exp(a - x) + 2.0


@case(args=lambda: (_mat(21, 3, 4), _vec(22, 4)), argnums=(0, 1), autograd=True)
def np_matvec(A, x):
    return np.tanh(A @ x)


@case(args=lambda: (_vec(23, 3), _mat(24, 3, 4)), argnums=(0, 1), autograd=True)
def np_vecmat(x, A):
    return (x @ A) * 2.0 + 1.0


@case(args=lambda: (_mat(25, 3, 4), _mat(26, 4, 2)), argnums=(0, 1), hessian=True,
      autograd=True)
def np_matmat_sum(A, B):
    return np.sum((A @ B) ** 2)


@case(args=lambda: (_vec(27, 5), _vec(28, 5)), argnums=(0, 1), autograd=True)
def np_dot_1d(x, y):
    return np.dot(x, y) * np.dot(x, x)


@case(args=lambda: (_mat(29, 2, 3), _mat(30, 3, 3)), argnums=(0, 1), autograd=True)
def np_dot_2d(A, B):
    return np.dot(A, B) + np.dot(A, B.T) * 0.5


@case(args=lambda: (_mat(31, 3, 4),), argnums=(0,), hessian=True, autograd=True)
def np_reductions_axis(A):
    s0 = np.sum(A, axis=0)
    m1 = np.mean(A, axis=1)
    return np.sum(s0 * s0) + np.sum(np.exp(m1)) + np.mean(A) * np.sum(A)


@case(args=lambda: (_mat(32, 3, 4),), argnums=(0,), autograd=True)
def np_max_min_axis(A):
    return np.max(A, axis=1) * 2.0 + np.min(A, axis=1)


@case(args=lambda: (_vec(33, 6),), argnums=(0,), autograd=True)
def np_max_min_global(x):
    return np.max(x) * np.min(x) + np.sum(x * x)


@case(args=lambda: (np.array([0.5, -0.7, 1.2, -0.1, 0.9, -1.4]),), argnums=(0,),
      autograd=True)
def np_where(x):
    return np.sum(np.where(x > 0.0, x * x, -0.5 * x) + np.where(x < 0.7, np.sin(x), 1.0))


@case(args=lambda: (_vec(34, 7),), argnums=(0,), autograd=True)
def np_slices_read(x):
    d = x[1:] - x[:-1]
    return np.sum(d * d) + np.sum(x[1:-1] * x[2:]) + np.sum(x[::2]) * x[0]


@case(args=lambda: (_vec(35, 6),), argnums=(0,))
def np_slice_write(x):
    y = np.zeros_like(x)
    y[1:-1] = x[2:] - x[:-2]
    y[0] = x[0] * x[1]
    y[-1] = np.sum(x * x)
    return y * x


@case(args=lambda: (_vec(36, 6),), argnums=(0,), hessian=True, autograd=True)
def np_logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@case(args=lambda: (_vec(37, 5),), argnums=(0,), autograd=True)
def np_softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


@case(args=lambda: (_mat(38, 3, 4), _vec(39, 3), _vec(40, 3), _vec(41, 4)),
      argnums=(0, 1, 2, 3), hessian=True, autograd=True)
def np_mlp(W1, b1, w2, x):
    h = np.tanh(W1 @ x + b1)
    return np.dot(w2, h) + 0.1 * np.sum(W1 * W1)


@case(args=lambda: (_rng(42).uniform(-1.0, 1.0, (2, 3, 4)),), argnums=(0,), autograd=True)
def np_3d_reduction(T):
    s = np.sum(T, axis=2)
    return np.sum(s * s) + np.sum(np.mean(T, axis=0) ** 3)


@case(args=lambda: (_vec(43, 6, 0.3, 1.5), 1.7), argnums=(0, 1), autograd=True)
def np_powers(x, p):
    return np.sum(x ** p + x ** 3 + 2.0 ** x + np.power(x, 0.5) * p ** 2)


@case(args=lambda: (_vec(44, 5), 0.6, 6), argnums=(0, 1), hessian=True)
def np_loop_gradient_descent(x, lr, n):
    y = x.copy()
    for k in range(n):
        g = 2.0 * y - np.sin(y)
        y = y - lr * 0.2 * g
    return np.sum(y * y * y)


@case(args=lambda: (_mat(45, 3, 3),), argnums=(0,), autograd=True)
def np_transpose(A):
    B = A.T @ A
    return np.sum(B * A) + np.sum(A.T * A)


@case(args=lambda: (_vec(46, 5), 0.4), argnums=(0, 1))
def np_mean_var(x, a):
    m = np.mean(x)
    v = np.mean((x - m) ** 2)
    return m * a, v


# ===============================================================================================
# Conditional expressions, min / max / abs (away from ties and zeros)
# ===============================================================================================

@case(args=lambda: (0.9, 0.4), argnums=(0, 1))
def conditional_expr(a, b):
    c = a * b if a > b else a + b
    d = math.exp(c) if c < 1.0 else math.log(c) + 1.0
    return c * d + (a - b if b > 0.0 else b - a)


@case(args=lambda: (np.array([-1.7, -0.4, 0.3, 0.9, 1.6, 2.4]),), argnums=(0,))
def piecewise_elif(x):
    s = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v < -1.0:
            s = s + (-v) ** 1.5
        elif v < 0.5:
            s = s + math.sin(v)
        elif v < 2.0:
            s = s + v * v * 0.5
        else:
            s = s + math.log(v)
    return s


@case(args=lambda: (0.7, -0.4, np.array([0.3, -0.9, 1.4, 0.5])), argnums=(0, 1, 2))
def minmax_abs(a, b, x):
    return (max(a, b) * min(a, 2.0 * b) + abs(a - b) + abs(x[0]) * np.max(x)
            - min(x[1], x[2]) + max(abs(x[3]), 0.1) + math.fabs(b))


@case(args=lambda: (np.array([0.3, -0.9, 1.4, 0.5, -0.2]), np.array([0.1, -0.3, 2.0, 0.2, 0.4])),
      argnums=(0, 1), autograd=True)
def np_minimum_maximum_clip(x, y):
    return np.sum(np.maximum(x, y) * np.minimum(x, 0.8) + np.clip(x, -0.5, 0.9)
                  + np.abs(x - y))


# ===============================================================================================
# Tuple and vector outputs; several float arguments and an int loop count
# ===============================================================================================

@case(args=lambda: (1.0, 0.2, 1.3, 0.05, 20), argnums=(0, 1, 2, 3))
def oscillator_midpoint(x0, v0, omega, dt, n):
    x = x0
    v = v0
    for i in range(n):
        ax = -omega * omega * x - 0.1 * v
        xm = x + 0.5 * dt * v
        vm = v + 0.5 * dt * ax
        x = x + dt * vm
        v = v + dt * (-omega * omega * xm - 0.1 * vm)
    return x, v


@case(args=lambda: (_vec(47, 4), 1.5), argnums=(0, 1))
def tuple_scalar_and_array(x, a):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * a
    return s * s, x * a + s


@case(args=lambda: (0.6, 0.3), argnums=(0, 1))
def tuple_with_int(a, b):
    k = 0
    s = a
    while s < 3.0:
        s = s * 1.5 + b
        k += 1
    return s, k


@case(args=lambda: (_vec(48, 5, 0.2, 1.0), 0.9, 1.1, 4), argnums=(0, 1, 2))
def reaction_diffusion(u, d, r, steps):
    n = u.shape[0]
    w = u.copy()
    for t in range(steps):
        nw = np.zeros_like(w)
        for i in range(n):
            left = w[i - 1] if i > 0 else w[i]
            right = w[i + 1] if i < n - 1 else w[i]
            nw[i] = w[i] + 0.1 * d * (left - 2.0 * w[i] + right) + 0.05 * r * w[i] * (1.0 - w[i])
        w = nw
    return w


@case(args=lambda: (_vec(49, 5), 0.7), argnums=(0, 1))
def polyval_horner(c, x):
    s = 0.0
    for i in range(c.shape[0] - 1, -1, -1):
        s = s * x + c[i]
    return s


@case(args=lambda: (_vec(50, 9, 0.0, 2.0), 0.125), argnums=(0, 1))
def trapezoid(y, dx):
    s = 0.0
    for i in range(y.shape[0] - 1):
        s = s + 0.5 * dx * (y[i] + y[i + 1])
    return s * s


@case(args=lambda: (_vec(51, 4), 3, 1), argnums=(0,))
def int_index_args(x, k, j):
    return x[k] * x[j] + x[k - j] * math.sin(x[0]) + x[x.shape[0] - 1]


# ===============================================================================================
# float32 variants (looser tolerances; dense Jacobians for two of them only, to save compiles)
# ===============================================================================================

register(heat_jacobi, lambda: (_vec(5, 8, dtype=np.float32), 0.2, 4), (0, 1),
         name="heat_jacobi_f32", f32=True)
register(stencil_gauss_seidel, lambda: (_vec(6, 8, dtype=np.float32), 0.3, 3), (0, 1),
         name="stencil_gauss_seidel_f32", f32=True, jac=False)
register(np_ufuncs, lambda: (_vec(19, 6, dtype=np.float32),), (0,),
         name="np_ufuncs_f32", f32=True, jac=False)
register(np_matvec, lambda: (_mat(21, 3, 4, dtype=np.float32), _vec(22, 4, dtype=np.float32)),
         (0, 1), name="np_matvec_f32", f32=True)
register(np_reductions_axis, lambda: (_mat(31, 3, 4, dtype=np.float32),), (0,),
         name="np_reductions_axis_f32", f32=True, jac=False)
register(np_loop_gradient_descent, lambda: (_vec(44, 5, dtype=np.float32), 0.6, 6), (0, 1),
         name="np_loop_gradient_descent_f32", f32=True, jac=False)


@case(args=lambda: (_vec(52, 6, dtype=np.float32), np.float32(0.7)), argnums=(0, 1), f32=True)
def f32_scalar_arg_loop(x, a):
    y = x.copy()
    for i in range(1, y.shape[0]):
        y[i] = y[i] * a + np.sin(y[i - 1]) * a
    return np.sum(y * y) * a


# ===============================================================================================
# More loop shapes: array tapes in while loops, recurrences with matmul, helpers in loops
# ===============================================================================================

@case(args=lambda: (_vec(53, 5, 0.2, 0.8), 0.6), argnums=(0, 1))
def while_array_writes(x, a):
    # the while loop writes the array every iteration (array values on the tape); 8 rounds
    y = x.copy()
    k = 0
    while k < 8:
        j = k % y.shape[0]
        y[j] = math.sin(y[j] * a + y[(j + 1) % y.shape[0]])
        k += 1
    return np.sum(y * y) + y[0]


@case(args=lambda: (_vec(54, 6, 0.1, 0.9),), argnums=(0,))
def nested_while_in_for(x):
    s = 0.0
    for i in range(x.shape[0]):
        t = x[i]
        while t < 2.0:      # runs 2..5 times per element (t doubles from [0.1, 0.9])
            t = t * 2.0 + 0.01 * s
        s = s + t * x[i]
    return s


@case(args=lambda: (np.array([0.4, 0.7, 0.2, 0.9, 0.5]), 0.8), argnums=(0, 1))
def while_early_return(x, c):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        s = s + x[i] * c
        if s > 1.5:         # crossed at i = 2 (s = .32 .88 1.04 1.76)
            return s * x[i]
        i += 1
    return -s


@case(args=lambda: (_mat(55, 3, 3, -0.6, 0.6), _vec(56, 3), 4), argnums=(0, 1))
def rnn_matmul_loop(W, x, steps):
    h = x.copy()
    for t in range(steps):
        h = np.tanh(W @ h + 0.1 * x)
    return np.sum(h * h)


@case(args=lambda: (_vec(65, 3),), argnums=(0,))
def loop_write_then_array_use(x):
    # a whole-array op reads the array after an in-place element write, every iteration: the
    # reverse sweep needs each iteration's version of y
    y = x.copy()
    s = 0.0
    for t in range(2):
        y[0] += 1.0
        s = s + np.sum(np.sin(y))
    return s


def _h_axpy_inplace(y, x, a):
    for i in range(y.shape[0]):
        y[i] += a * x[i]


@case(args=lambda: (_vec(57, 4), _vec(58, 4), 0.5), argnums=(0, 1, 2))
def helper_inplace_in_loop(x, z, a):
    y = x.copy()
    for t in range(3):
        _h_axpy_inplace(y, z, a)
        z = np.sin(y)
    return y


@case(args=lambda: (_mat(59, 3, 4),), argnums=(0,))
def matrix_element_updates(A):
    B = A.copy()
    for i in range(B.shape[0]):
        for j in range(1, B.shape[1]):
            B[i, j] += B[i, j - 1] * 0.5
            B[i, j] *= 1.0 + 0.1 * B[i, 0]
    return B.T


@case(args=lambda: (_mat(60, 3, 4),), argnums=(0,), autograd=True)
def np_2d_slices(A):
    top = A[1:, :]
    col = A[:, 0]
    return np.sum(top * top) + np.sum(col * A[:, 2]) + np.sum(A[0, 1:] ** 2)


@case(args=lambda: (_vec(61, 8),), argnums=(0,))
def np_strided_slice_write(x):
    y = x.copy()
    y[::2] = x[1::2] * 2.0
    y[1::2] = np.sin(x[::2])
    return y * y


@case(args=lambda: (_vec(62, 5, 0.5, 1.5), 1.2), argnums=(0, 1), autograd=True)
def np_prod_norm_inner(x, a):
    return np.prod(x) * a + np.linalg.norm(x * a) + np.inner(x, x[::-1])


@case(args=lambda: (0.8, 7), argnums=(0,))
def np_full_from_scalar(a, n):
    y = np.full(n, a)
    for i in range(1, n):
        y[i] = y[i - 1] * a + y[i] * 0.5
    return np.sum(y) + np.mean(np.ones(n) * a)


@case(args=lambda: (0.3, 0.4, 10), argnums=(0, 1), hessian=True)
def tuple_swap_recurrence(a, b, n):
    for i in range(n):
        a, b = b, 0.5 * a + 0.4 * b + 0.1 * math.sin(a * b)
    return a * b


@case(args=lambda: (_vec(63, 6, 0.1, 1.0), 2), argnums=(0,))
def float_of_int_mixing(x, m):
    s = 0.0
    for i in range(x.shape[0]):
        w = float(i) / (x.shape[0] - 1) + m
        s = s + x[i] ** m * w + (i % 2) * x[i]
    return s


@case(args=lambda: (_vec(64, 7, dtype=np.float32),), argnums=(0,), f32=True)
def f32_upcast_accumulate(x):
    y = x.astype(np.float64)
    s = 0.0
    for i in range(y.shape[0]):
        s = s + y[i] * y[i] * (i + 1.0)
    return s + np.sum(x * x)


# ===============================================================================================
# Slice stencils, aliases, and zero-trip loops
# ===============================================================================================

@case(args=lambda: (_vec(66, 9), 0.3, 3), argnums=(0, 1))
def heat_slices(u, k, steps):
    v = u.copy()
    for t in range(steps):
        v[1:-1] = v[1:-1] + k * (v[:-2] - 2.0 * v[1:-1] + v[2:])
        v[0] = v[0] * (1.0 - k) + k * np.tanh(v[1])
    return v


@case(args=lambda: (_vec(67, 6), 0.5), argnums=(0, 1))
def slice_augassign(x, a):
    y = x * a
    y[1:] += x[:-1] * y[:-1]
    y[:3] *= 2.0
    return np.sum(np.sin(y))


@case(args=lambda: (_vec(68, 4), 1.5), argnums=(0, 1))
def write_through_alias(x, a):
    y = x.copy()
    z = y
    for i in range(z.shape[0]):
        z[i] = z[i] * a + y[0]
    return y * x


register(horner_loop, lambda: (0.7, 1.3, 0), (0, 1), name="horner_loop_zero_trips")
register(heat_jacobi, lambda: (_vec(5, 8), 0.2, 0), (0, 1), name="heat_jacobi_zero_steps")
register(while_scan_array, lambda: (np.array([0.6, 0.9, 0.4]), -1.0), (0, 1),
         name="while_scan_array_zero_trips")
register(stencil_gauss_seidel, lambda: (_vec(6, 2), 0.3, 3), (0, 1),
         name="stencil_gauss_seidel_empty_inner_loop")


# ===============================================================================================
# Rank broadcasting (a 1-d array against the rows of a 2-d one), in-place writes in while loops
# ===============================================================================================

@case(args=lambda: (_mat(69, 3, 4), _vec(70, 4)), argnums=(0, 1), autograd=True)
def np_broadcast_row(A, b):
    return np.sum(np.tanh(A * b + b), axis=1)


@case(args=lambda: (_mat(71, 4, 3),), argnums=(0,), autograd=True)
def np_center_columns(A):
    C = A - np.mean(A, axis=0)
    return np.sum(C * C, axis=1)


@case(args=lambda: (_vec(72, 4),), argnums=(0,))
def while_write_then_array_use(x):
    y = x.copy()
    k = 0
    s = 0.0
    while k < 3:
        y[k] = y[k] * 2.0
        s = s + np.sum(np.tanh(y) * y)
        k += 1
    return s
