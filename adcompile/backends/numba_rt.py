"""Small njit helpers that generated numba code calls where numba itself lacks a feature:
axis reductions other than sum, matrix products without a BLAS (numba's `@` needs SciPy), and
scalar IEEE division (numba's `/` raises ZeroDivisionError).
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit

from ..errors import AdError, ConvergenceError, TapeBoundsError, TapeBudgetExceeded, format_detail  # noqa: F401  (raised by generated code)
from ..errors import warn_convergence as _warn
from ..messages import INDEX, MATMUL

# shapes are checked as NumPy does (ValueError): the loops below would otherwise read past
# the shorter operand or stop early, a silently different answer


class MatmulShapeError(AdError, ValueError):
    """Operands of `@` whose inner dimensions differ; raised from njit code with the four
    extents (-1: no such axis), so the message shows both shapes."""

    default_hint = ("the last axis of the first operand must have the length of the first "
                    "axis of the second, as in NumPy")

    def __init__(self, a0: int, a1: int, b0: int, b1: int):
        a = tuple(d for d in (a0, a1) if d >= 0)
        b = tuple(d for d in (b0, b1) if d >= 0)
        super().__init__(f"{MATMUL}: shapes {a} @ {b}")


class CheckFailed(AdError, ValueError):
    """A run-time `check` of generated code failed (shapes that do not fit, a negative
    power of an int...): a ValueError as NumPy raises, with the user's line in front."""

    default_hint = "the values passed at run time do not fit what this line needs"


class ConvergenceFailed(ConvergenceError):
    """Raised by generated code with the residual reached as a second argument (numba passes
    run-time exception arguments through)."""

    def __init__(self, message: str, detail=None):
        super().__init__(format_detail(message, detail))


@njit(cache=True)
def warn_convergence(message, detail):
    """A failed check built with on_failure="warn": a ConvergenceWarning from compiled code
    (object mode only on this path; the program goes on)."""
    with numba.objmode():
        _warn(message, detail, 4)


@njit(cache=True, inline="always")
def ix(i, n, where=INDEX):
    """An index checked against its axis's length n (negative indices wrap later, as in
    NumPy): numba does not check bounds, so an index past the end would read other memory.
    `where`: the message, the user's file:line in front (a constant: it costs nothing until
    it is raised)."""
    if i >= n or i < -n:
        raise IndexError(where)
    return i


@njit(cache=True, error_model="numpy")
def fdiv(a, b):
    """NumPy's float division for `div` with `ieee` (derivative code, lowered array
    divisions): inf/nan instead of raising ZeroDivisionError."""
    return a / b


@njit(cache=True, error_model="numpy")
def fmod(a, b):
    """NumPy's float `%` (nan at b = 0) for `mod` with `ieee`."""
    return a % b


@njit(cache=True, error_model="numpy")
def ffloordiv(a, b):
    """NumPy's float `//` (+-inf or nan at b = 0) for `floordiv` with `ieee`."""
    return a // b


@njit(cache=True, error_model="numpy")
def fpow(a, b):
    """NumPy's float ** int for `powi` with `ieee` (lowered array powers), the exponent
    passed as a float: 0.0 ** -1 = inf instead of raising ZeroDivisionError."""
    return a ** b


@njit(cache=True)
def matmul_mm(a, b):
    n, k = a.shape
    if b.shape[0] != k:
        raise MatmulShapeError(n, k, b.shape[0], b.shape[1])
    m = b.shape[1]
    out = np.zeros((n, m), dtype=a.dtype)
    for i in range(n):
        for p in range(k):
            aip = a[i, p]
            for j in range(m):
                out[i, j] += aip * b[p, j]
    return out


@njit(cache=True)
def matmul_mv(a, x):
    n, k = a.shape
    if x.shape[0] != k:
        raise MatmulShapeError(n, k, x.shape[0], -1)
    out = np.zeros(n, dtype=a.dtype)
    for i in range(n):
        s = a.dtype.type(0)
        for p in range(k):
            s += a[i, p] * x[p]
        out[i] = s
    return out


@njit(cache=True)
def matmul_vm(x, b):
    k, m = b.shape
    if x.shape[0] != k:
        raise MatmulShapeError(x.shape[0], -1, k, m)
    out = np.zeros(m, dtype=b.dtype)
    for p in range(k):
        xp = x[p]
        for j in range(m):
            out[j] += xp * b[p, j]
    return out


@njit(cache=True)
def matmul_vv(x, y):
    if y.shape[0] != x.shape[0]:
        raise MatmulShapeError(x.shape[0], -1, y.shape[0], -1)
    s = x.dtype.type(0)
    for i in range(x.shape[0]):
        s += x[i] * y[i]
    return s


def _axis_reducer(kind: str):
    """Build an njit reduction over one axis of a 2-D or 3-D array, moved to the end."""
    def combine(acc, v):  # pragma: no cover - replaced per kind below
        return acc

    if kind == "max":
        @njit(cache=True)
        def red(v):
            acc = v[0]
            for i in range(1, v.shape[0]):
                if v[i] > acc or np.isnan(v[i]):
                    acc = v[i]
            return acc
    elif kind == "min":
        @njit(cache=True)
        def red(v):
            acc = v[0]
            for i in range(1, v.shape[0]):
                if v[i] < acc or np.isnan(v[i]):
                    acc = v[i]
            return acc
    elif kind == "prod":
        @njit(cache=True)
        def red(v):
            acc = v.dtype.type(1)
            for i in range(v.shape[0]):
                acc *= v[i]
            return acc
    elif kind == "reduce_or":
        @njit(cache=True)
        def red(v):
            acc = v.dtype.type(0)
            for i in range(v.shape[0]):
                acc |= v[i]
            return acc
    elif kind == "sum":
        @njit(cache=True)
        def red(v):
            acc = v.dtype.type(0)
            for i in range(v.shape[0]):
                acc += v[i]
            return acc
    else:
        @njit(cache=True)
        def red(v):
            acc = 0.0
            for i in range(v.shape[0]):
                acc += v[i]
            return acc / v.shape[0]
    return red


_RED = {k: _axis_reducer(k) for k in ("max", "min", "prod", "sum", "mean", "reduce_or")}
_max1, _min1, _prod1, _sum1, _mean1 = (_RED[k] for k in ("max", "min", "prod", "sum", "mean"))


def _make_axis2(red):
    @njit(cache=True)
    def f(x, axis):
        if axis == 0:
            out = np.empty(x.shape[1], dtype=x.dtype)
            for j in range(x.shape[1]):
                out[j] = red(np.ascontiguousarray(x[:, j]))
        else:
            out = np.empty(x.shape[0], dtype=x.dtype)
            for i in range(x.shape[0]):
                out[i] = red(np.ascontiguousarray(x[i, :]))
        return out
    return f


def _make_axis3(red):
    @njit(cache=True)
    def f(x, axis):
        if axis == 0:
            out = np.empty((x.shape[1], x.shape[2]), dtype=x.dtype)
            for i in range(x.shape[1]):
                for j in range(x.shape[2]):
                    out[i, j] = red(np.ascontiguousarray(x[:, i, j]))
        elif axis == 1:
            out = np.empty((x.shape[0], x.shape[2]), dtype=x.dtype)
            for i in range(x.shape[0]):
                for j in range(x.shape[2]):
                    out[i, j] = red(np.ascontiguousarray(x[i, :, j]))
        else:
            out = np.empty((x.shape[0], x.shape[1]), dtype=x.dtype)
            for i in range(x.shape[0]):
                for j in range(x.shape[1]):
                    out[i, j] = red(np.ascontiguousarray(x[i, j, :]))
        return out
    return f


max_axis2, min_axis2, prod_axis2, sum_axis2, mean_axis2 = (
    _make_axis2(_RED[k]) for k in ("max", "min", "prod", "sum", "mean"))
max_axis3, min_axis3, prod_axis3, sum_axis3, mean_axis3 = (
    _make_axis3(_RED[k]) for k in ("max", "min", "prod", "sum", "mean"))
reduce_or_axis2, reduce_or_axis3 = _make_axis2(_RED["reduce_or"]), _make_axis3(_RED["reduce_or"])
_or1 = _RED["reduce_or"]


@njit(cache=True)
def reduce_or_axis1(x, axis):
    return _or1(x)


@njit(cache=True)
def reduce_or_all(x):
    """Bitwise or of every element (sparsity bitsets: the union of their index sets)."""
    return _or1(np.ascontiguousarray(x).ravel())


@njit(cache=True)
def max_axis1(x, axis):
    return _max1(x)


@njit(cache=True)
def min_axis1(x, axis):
    return _min1(x)


@njit(cache=True)
def prod_axis1(x, axis):
    return _prod1(x)


@njit(cache=True)
def sum_axis1(x, axis):
    return _sum1(x)


@njit(cache=True)
def mean_axis1(x, axis):
    return _mean1(x)


# -- helpers for derivative code -------------------------------------------------------------
@njit(cache=True)
def sum_lead(g, k):
    """Sum over the first k axes (undo broadcasting of a lower-rank operand)."""
    out = g
    for _ in range(k):
        out = np.sum(out, axis=0)
    return out


@njit(cache=True)
def sum_to1(g, like):
    if g.shape[0] == like.shape[0]:
        return g
    return np.full(1, np.sum(g))


@njit(cache=True)
def sum_to2(g, like):
    out = g
    if like.shape[0] == 1 and g.shape[0] != 1:
        out = np.expand_dims(np.sum(out, axis=0), 0)
    if like.shape[1] == 1 and out.shape[1] != 1:
        out = np.expand_dims(np.sum(out, axis=1), 1)
    return np.ascontiguousarray(out)


@njit(cache=True)
def sum_to3(g, like):
    out = g
    if like.shape[0] == 1 and g.shape[0] != 1:
        out = np.expand_dims(np.sum(out, axis=0), 0)
    if like.shape[1] == 1 and out.shape[1] != 1:
        out = np.expand_dims(np.sum(out, axis=1), 1)
    if like.shape[2] == 1 and out.shape[2] != 1:
        out = np.expand_dims(np.sum(out, axis=2), 2)
    return np.ascontiguousarray(out)


@njit(cache=True)
def sum_to4(g, like):   # breadth (issue 16): 4-d intermediates (x[:, :, None] * ..., tile)
    out = g
    if like.shape[0] == 1 and g.shape[0] != 1:
        out = np.expand_dims(np.sum(out, axis=0), 0)
    if like.shape[1] == 1 and out.shape[1] != 1:
        out = np.expand_dims(np.sum(out, axis=1), 1)
    if like.shape[2] == 1 and out.shape[2] != 1:
        out = np.expand_dims(np.sum(out, axis=2), 2)
    if like.shape[3] == 1 and out.shape[3] != 1:
        out = np.expand_dims(np.sum(out, axis=3), 3)
    return np.ascontiguousarray(out)


def _make_lanes(kernel, side: str, nd_other: int):
    @njit(cache=True)
    def f(a, b):
        lanes = a.shape[-1] if side == "a" else b.shape[-1]
        first = kernel(np.ascontiguousarray(a[..., 0]) if side == "a" else a,
                       b if side == "a" else np.ascontiguousarray(b[..., 0]))
        out = np.empty(np.shape(first) + (lanes,), dtype=a.dtype)
        for lane in range(lanes):
            r = kernel(np.ascontiguousarray(a[..., lane]) if side == "a" else a,
                       b if side == "a" else np.ascontiguousarray(b[..., lane]))
            out[..., lane] = r
        return out
    return f


lmatmul_a_mm = _make_lanes(matmul_mm, "a", 2)
lmatmul_a_mv = _make_lanes(matmul_mv, "a", 1)
lmatmul_a_vm = _make_lanes(matmul_vm, "a", 2)
lmatmul_a_vv = _make_lanes(matmul_vv, "a", 1)
lmatmul_b_mm = _make_lanes(matmul_mm, "b", 2)
lmatmul_b_mv = _make_lanes(matmul_mv, "b", 1)
lmatmul_b_vm = _make_lanes(matmul_vm, "b", 2)
lmatmul_b_vv = _make_lanes(matmul_vv, "b", 1)


@njit(cache=True)
def grow(buf):
    """Room for one more element on a full tape (amortised O(1) per push)."""
    return reserve(buf, buf.shape[0] + 1)


@njit(cache=True)
def reserve(buf, need):
    """Room for `need` elements in a tape's storage, growing geometrically."""
    if need <= buf.shape[0]:
        return buf
    out = np.empty(max(need, 2 * buf.shape[0]), dtype=buf.dtype)
    out[:buf.shape[0]] = buf
    return out

