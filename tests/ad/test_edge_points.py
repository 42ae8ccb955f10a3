"""Derivative conventions at edge points, as one table (the table of docs/derivatives.md).

Each row is (function, point, expected value, expected partials): the partials are the exact
derivative where one exists, else the documented convention (inf at the ends of sqrt/log/asin
domains, the first argument at min/max ties, 0 for x**0 and abs at 0, nan where the formula
gives nan). Every row is checked

- value: the IR interpreter, the numba and the LLVM backend (and CPython/NumPy itself, which
  must agree with the table wherever it does not raise);
- forward mode (`adcompile.jvp`, one unit tangent per float argument, the others None) and
  reverse mode (`adcompile.grad` over all float arguments) on numba and LLVM;
- finite differences of the Python function, for rows marked `smooth` (the function is
  differentiable there, so the table itself is checked).

Rows with `raises` give the exception both backends raise (as CPython does) for the value:
scalar division by zero. Rows with `domain` are math domain errors, where CPython raises
ValueError and compiled code gives C's value (docs/subset.md). Each function is compiled once per backend and mode (the
objects are cached by function) and evaluated at all its points.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np
import pytest

import adcompile as ad
from adcompile.errors import NonDifferentiable

inf, nan = math.inf, math.nan
BACKENDS = ("numba", "llvm")


# -- the functions (module level: compiled once per backend) ------------------------------------
def pow_0(x): return x ** 0
def pow_1(x): return x ** 1
def pow_2(x): return x ** 2
def pow_3(x): return x ** 3
def pow_m1(x): return x ** -1
def pow_0f(x): return x ** 0.0
def pow_1f(x): return x ** 1.0
def pow_2f(x): return x ** 2.0
def pow_half(x): return x ** 0.5
def pow_n(x, n): return x ** n          # integer exponent known only at run time
def pow_xy(x, y): return x ** y          # both active
def m_sqrt(x): return math.sqrt(x)
def np_sqrt(x): return np.sqrt(x)
def m_log(x): return np.log(x)
def log1p(x): return np.log1p(x)
def log10(x): return np.log10(x)
def log2(x): return np.log2(x)
def asin(x): return np.arcsin(x)
def acos(x): return np.arccos(x)
def atanh(x): return np.arctanh(x)
def acosh(x): return np.arccosh(x)
def atan(x): return math.atan(x)
def tanh(x): return math.tanh(x)
def exp(x): return np.exp(x)
def expm1(x): return np.expm1(x)
def erf(x): return math.erf(x)
def sin(x): return np.sin(x)
def absf(x): return abs(x)
def fabs(x): return math.fabs(x)
def sign(x): return np.sign(x)
def floor(x): return np.floor(x)
def ceil(x): return np.ceil(x)
def trunc(x): return np.trunc(x)
def floordiv(x): return x // 2.0
def mod(x, y): return x % y
def div(x, y): return x / y
def atan2(y, x): return math.atan2(y, x)
def hypot(x, y): return math.hypot(x, y)
def bmax(x, y): return max(x, y)
def bmin(x, y): return min(x, y)
def maximum(x, y): return np.maximum(x, y)
def minimum(x, y): return np.minimum(x, y)
def fmax(x, y): return np.fmax(x, y)
def clip(x, lo, hi): return np.clip(x, lo, hi)
def lgamma(x): return math.lgamma(x)
def prod(x): return np.prod(x)
def amax(x): return np.max(x)
def amin(x): return np.min(x)


@dataclass(frozen=True)
class Row:
    fn: Callable
    at: tuple
    value: object                   # float, or an array
    partials: object                # one per float argument, or an exception class
    smooth: bool = False            # differentiable here: check the partials by differences
    raises: type | None = None      # the numba backend (and CPython) raise this for the value
    domain: bool = False            # CPython's math raises ValueError; adcompile gives C's value

    def __str__(self) -> str:
        return f"{self.fn.__name__}{self.at}"


SQ = 1.0 / math.sqrt(math.pi) * 2.0
F32 = np.float32
ROWS = [
    # x ** n: exact at 0 for integer exponents (also as floats), NumPy's formula otherwise
    Row(pow_0, (0.0,), 1.0, (0.0,), smooth=True),
    Row(pow_0, (inf,), 1.0, (0.0,)),
    Row(pow_0, (nan,), 1.0, (0.0,)),
    Row(pow_1, (0.0,), 0.0, (1.0,), smooth=True),
    Row(pow_2, (0.0,), 0.0, (0.0,), smooth=True),
    Row(pow_3, (0.0,), 0.0, (0.0,), smooth=True),
    Row(pow_m1, (0.0,), inf, (-inf,), raises=ZeroDivisionError),
    Row(pow_0f, (0.0,), 1.0, (0.0,), smooth=True),
    Row(pow_0f, (inf,), 1.0, (0.0,)),
    Row(pow_1f, (0.0,), 0.0, (1.0,), smooth=True),
    Row(pow_2f, (0.0,), 0.0, (0.0,), smooth=True),
    Row(pow_half, (0.0,), 0.0, (inf,)),
    Row(pow_n, (0.0, 0), 1.0, (0.0,), smooth=True),
    Row(pow_n, (0.0, 1), 0.0, (1.0,), smooth=True),
    Row(pow_n, (0.0, 2), 0.0, (0.0,), smooth=True),
    Row(pow_n, (2.0, 3), 8.0, (12.0,), smooth=True),
    Row(pow_xy, (0.0, 0.0), 1.0, (0.0, 0.0)),
    Row(pow_xy, (0.0, 2.0), 0.0, (0.0, 0.0)),
    Row(pow_xy, (0.0, 0.5), 0.0, (inf, 0.0)),
    Row(pow_xy, (2.0, 3.0), 8.0, (12.0, 8.0 * math.log(2.0)), smooth=True),
    Row(pow_xy, (-2.0, 2.0), 4.0, (-4.0, nan)),
    # ends of domains: the formula's +-inf (IEEE division, never ZeroDivisionError)
    Row(m_sqrt, (0.0,), 0.0, (inf,)),
    Row(m_sqrt, (4.0,), 2.0, (0.25,), smooth=True),
    Row(m_sqrt, (inf,), inf, (0.0,)),
    Row(np_sqrt, (-1.0,), nan, (nan,)),
    Row(np_sqrt, (nan,), nan, (nan,)),
    Row(m_log, (0.0,), -inf, (inf,)),
    Row(m_log, (inf,), inf, (0.0,)),
    Row(m_log, (-1.0,), nan, (-1.0,)),
    Row(log1p, (-1.0,), -inf, (inf,)),
    Row(log10, (0.0,), -inf, (inf,)),
    Row(log2, (0.0,), -inf, (inf,)),
    Row(asin, (1.0,), math.pi / 2, (inf,)),
    Row(asin, (-1.0,), -math.pi / 2, (inf,)),
    Row(asin, (2.0,), nan, (nan,)),
    Row(acos, (1.0,), 0.0, (-inf,)),
    Row(acos, (-1.0,), math.pi, (-inf,)),
    Row(atanh, (1.0,), inf, (inf,)),
    Row(atanh, (-1.0,), -inf, (inf,)),
    Row(acosh, (1.0,), 0.0, (inf,)),
    # saturation and overflow
    Row(atan, (inf,), math.pi / 2, (0.0,)),
    Row(tanh, (20.0,), 1.0, (0.0,), smooth=True),
    Row(tanh, (inf,), 1.0, (0.0,)),
    Row(tanh, (-inf,), -1.0, (0.0,)),
    Row(exp, (1000.0,), inf, (inf,)),
    Row(exp, (-inf,), 0.0, (0.0,)),
    Row(expm1, (-inf,), -1.0, (0.0,)),
    Row(erf, (0.0,), 0.0, (SQ,), smooth=True),
    Row(erf, (inf,), 1.0, (0.0,)),
    Row(sin, (inf,), nan, (nan,)),
    # kinks: abs'(0) = sign(0) = 0
    Row(absf, (0.0,), 0.0, (0.0,)),
    Row(absf, (-2.0,), 2.0, (-1.0,), smooth=True),
    Row(absf, (nan,), nan, (nan,)),
    Row(fabs, (0.0,), 0.0, (0.0,)),
    Row(hypot, (0.0, 0.0), 0.0, (0.0, 0.0)),
    Row(hypot, (3.0, 4.0), 5.0, (0.6, 0.8), smooth=True),
    # piecewise constant: zero derivative, also at the jumps
    Row(sign, (0.0,), 0.0, (0.0,)),
    Row(sign, (-3.0,), -1.0, (0.0,), smooth=True),
    Row(floor, (2.0,), 2.0, (0.0,)),
    Row(floor, (2.5,), 2.0, (0.0,), smooth=True),
    Row(ceil, (2.0,), 2.0, (0.0,)),
    Row(trunc, (-2.5,), -2.0, (0.0,), smooth=True),
    Row(floordiv, (4.0,), 2.0, (0.0,)),
    # x % y: 1 and -floor(x / y), also at the jumps
    Row(mod, (7.0, 2.0), 1.0, (1.0, -3.0), smooth=True),
    Row(mod, (4.0, 2.0), 0.0, (1.0, -2.0)),
    Row(mod, (-7.5, 2.0), 0.5, (1.0, 4.0), smooth=True),
    Row(mod, (1.0, 0.0), nan, (1.0, -inf), raises=ZeroDivisionError),
    # x / 0: the formula's inf/nan where the value is inf (numba raises, as Python)
    Row(div, (1.0, 0.0), inf, (inf, -inf), raises=ZeroDivisionError),
    Row(div, (0.0, 0.0), nan, (inf, nan), raises=ZeroDivisionError),
    Row(div, (1.0, inf), 0.0, (0.0, -0.0)),
    # atan2 is discontinuous at the origin: nan (as JAX)
    Row(atan2, (0.0, 0.0), 0.0, (nan, nan)),
    Row(atan2, (1.0, 0.0), math.pi / 2, (0.0, -1.0), smooth=True),
    # ties: the first argument gets the whole derivative; a NaN the value comes from gets it
    Row(bmax, (1.0, 1.0), 1.0, (1.0, 0.0)),
    Row(bmin, (1.0, 1.0), 1.0, (1.0, 0.0)),
    Row(bmax, (1.0, nan), 1.0, (1.0, 0.0)),
    Row(bmax, (nan, 1.0), nan, (1.0, 0.0)),
    Row(bmin, (1.0, nan), 1.0, (1.0, 0.0)),
    Row(bmax, (1.0, 2.0), 2.0, (0.0, 1.0), smooth=True),
    Row(maximum, (1.0, 1.0), 1.0, (1.0, 0.0)),
    Row(maximum, (nan, 1.0), nan, (1.0, 0.0)),
    Row(maximum, (1.0, nan), nan, (0.0, 1.0)),
    Row(minimum, (1.0, 1.0), 1.0, (1.0, 0.0)),
    Row(minimum, (1.0, nan), nan, (0.0, 1.0)),
    Row(fmax, (nan, 1.0), 1.0, (0.0, 1.0)),
    Row(fmax, (1.0, nan), 1.0, (1.0, 0.0)),
    Row(clip, (0.0, 0.0, 1.0), 0.0, (1.0, 0.0, 0.0)),
    Row(clip, (1.0, 0.0, 1.0), 1.0, (1.0, 0.0, 0.0)),
    Row(clip, (2.0, 0.0, 1.0), 1.0, (0.0, 0.0, 1.0), smooth=True),
    Row(clip, (-1.0, 0.0, 1.0), 0.0, (0.0, 1.0, 0.0), smooth=True),
    # no derivative rule: an error naming the call, not a wrong number
    Row(lgamma, (2.5,), math.lgamma(2.5), NonDifferentiable),
    Row(lgamma, (0.0,), inf, NonDifferentiable, domain=True),
    Row(lgamma, (-2.0,), inf, NonDifferentiable, domain=True),
    # reductions: prod's derivative is the product of the others (exact with zeros); ties of
    # max/min share it equally; a NaN result gives it to the NaN elements
    Row(prod, (np.array([2.0, 0.0, 3.0]),), 0.0, (np.array([0.0, 6.0, 0.0]),), smooth=True),
    Row(prod, (np.array([2.0, 0.0, 0.0]),), 0.0, (np.array([0.0, 0.0, 0.0]),), smooth=True),
    Row(prod, (np.array([2.0, 5.0, 3.0]),), 30.0, (np.array([15.0, 6.0, 10.0]),),
        smooth=True),
    Row(amax, (np.array([3.0, 1.0, 3.0]),), 3.0, (np.array([0.5, 0.0, 0.5]),)),
    Row(amax, (np.array([1.0, nan, 3.0]),), nan, (np.array([0.0, 1.0, 0.0]),)),
    Row(amin, (np.array([1.0, 1.0, 3.0]),), 1.0, (np.array([0.5, 0.5, 0.0]),)),
    # float32 takes the same paths (NumPy ufuncs on scalars, the f32 IEEE helpers)
    Row(pow_0, (F32(0.0),), 1.0, (0.0,)),
    Row(np_sqrt, (F32(0.0),), 0.0, (inf,)),
    Row(m_log, (F32(0.0),), -inf, (inf,)),
    Row(asin, (F32(1.0),), float(np.arcsin(F32(1.0))), (inf,)),
    Row(hypot, (F32(0.0), F32(0.0)), 0.0, (0.0, 0.0)),
    Row(maximum, (F32(nan), F32(1.0)), nan, (1.0, 0.0)),
]


# -- compiled objects, one per (function, backend, mode) ------------------------------------------
_JIT: dict = {}
_GRAD: dict = {}


def float_args(at) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(at) if isinstance(a, (float, np.floating, np.ndarray)))


def jitted(fn, backend):
    key = (fn, backend)
    if key not in _JIT:
        _JIT[key] = ad.jit(fn, backend=backend)
    return _JIT[key]


def gradient(fn, backend, argnums):
    key = (fn, backend)
    if key not in _GRAD:
        _GRAD[key] = ad.grad(fn, argnums=argnums, backend=backend)
    return _GRAD[key]


def unit(a):
    return np.ones_like(a) if isinstance(a, np.ndarray) else 1.0


def forward(fn, backend, at, i):
    """The directional derivative along argument i alone (other tangents None, so an infinite
    partial of another argument is not multiplied by 0). For an array argument (the
    reductions) the all-ones tangent gives the sum of the partials."""
    tangents = tuple(unit(a) if j == i else None for j, a in enumerate(at))
    return ad.jvp(fn, at, tangents, backend=backend)


# -- comparison ---------------------------------------------------------------------------------
def same(got, want, atol: float = 1e-300) -> bool:
    """Equal as the table means it: nan matches nan, infinities match by sign, finite values
    to 1e-12 relative."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    ok = np.isclose(got, want, rtol=1e-12, atol=atol, equal_nan=True)
    return bool(np.all(ok))


def python_value(row: Row):
    """The function run by CPython/NumPy: its value, or the exception it raises."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return row.fn(*row.at)
        except Exception as ex:   # noqa: BLE001 - compared with the row's expectation
            return ex


def central(row: Row, i: int, h: float = 1e-6):
    """d f / d argument i by central differences (elementwise for an array argument)."""
    def at(delta):
        args = list(row.at)
        args[i] = args[i] + delta
        return row.fn(*args)
    a = row.at[i]
    if not isinstance(a, np.ndarray):
        return (at(h) - at(-h)) / (2 * h)
    out = np.zeros_like(a)
    for k in range(a.size):
        e = np.zeros_like(a)
        e.flat[k] = h
        out.flat[k] = (at(e) - at(-e)) / (2 * h)
    return out


IDS = [str(r) for r in ROWS]


# -- the checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_table_agrees_with_python(row: Row):
    """The table's value is CPython's/NumPy's (or CPython raises what numba raises); at smooth
    points its partials are the finite differences."""
    ref = python_value(row)
    if row.domain:   # docs/subset.md: math domain errors do not raise
        assert isinstance(ref, ValueError), (row, ref)
    elif isinstance(ref, Exception):
        assert row.raises is not None and isinstance(ref, row.raises), (row, ref)
    else:
        assert same(ref, row.value), (row, ref)
    if row.smooth:
        for i, want in zip(float_args(row.at), row.partials):
            fd = central(row, i)
            assert np.allclose(fd, want, rtol=1e-6, atol=1e-6), (row, i, fd)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_interpreter_value(row: Row):
    with np.errstate(all="ignore"):
        got = ad.interpret(row.fn, *row.at)
    assert same(got, row.value), (row, got)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_backend(row: Row, backend: str):
    nums = float_args(row.at)
    if row.raises is not None:
        with pytest.raises(row.raises):
            jitted(row.fn, backend)(*row.at)
        with pytest.raises(row.raises):
            gradient(row.fn, backend, nums)(*row.at)
        return
    got = jitted(row.fn, backend)(*row.at)
    assert same(got, row.value), ("value", row, got)
    if isinstance(row.partials, type):
        with pytest.raises(row.partials):
            gradient(row.fn, backend, nums)(*row.at)
        with pytest.raises(row.partials):
            forward(row.fn, backend, row.at, nums[0])
        return
    grads = gradient(row.fn, backend, nums)(*row.at)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for i, g, want in zip(nums, grads, row.partials):
        assert same(g, want), ("grad", row, i, g)
    for i, want in zip(nums, row.partials):
        val, tan = forward(row.fn, backend, row.at, i)
        assert same(val, row.value), ("jvp value", row, val)
        assert same(tan, np.sum(want)), ("jvp", row, i, tan)


# -- second derivatives (forward over reverse) at edge points -----------------------------------
def pow_v(v): return v[0] ** v[1]


HESSIAN_ROWS = [
    # (function, point, Hessian, smooth)
    (pow_0, 0.0, 0.0, True),
    (pow_2, 0.0, 2.0, True),
    (pow_3, 0.0, 0.0, True),
    (m_sqrt, 4.0, -1.0 / 32.0, True),
    (pow_v, np.array([2.0, 0.0]), np.array([[0.0, 0.5], [0.5, math.log(2.0) ** 2]]), True),
    (pow_v, np.array([0.0, 2.0]), np.array([[2.0, 0.0], [0.0, 0.0]]), False),
    (prod, np.array([2.0, 5.0, 3.0]), np.array([[0, 3, 5], [3, 0, 2], [5, 2, 0.0]]), True),
    (prod, np.array([2.0, 0.0, 3.0]), np.array([[0, 3, 0], [3, 0, 2], [0, 2, 0.0]]), True),
    (prod, np.array([2.0, 0.0, 0.0]), np.array([[0, 0, 0], [0, 0, 2], [0, 2, 0.0]]), True),
    (prod, np.array([0.0, 0.0, 0.0]), np.zeros((3, 3)), True),
]
H_IDS = [f"{f.__name__}({x})" for f, x, _, _ in HESSIAN_ROWS]


def fd_hessian(fn, x0, h=1e-4):
    """The Hessian by central differences of the Python function (n x n, also for a scalar)."""
    x = np.atleast_1d(np.asarray(x0, dtype=np.float64))
    n = x.size
    out = np.zeros((n, n))
    call = fn if isinstance(x0, np.ndarray) else (lambda v: fn(float(v[0])))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            out[i, j] = (call(x + ei + ej) - call(x + ei - ej) - call(x - ei + ej)
                         + call(x - ei - ej)) / (4 * h * h)
    return out


@pytest.mark.parametrize("row", HESSIAN_ROWS, ids=H_IDS)
def test_hessian_table_by_differences(row):
    fn, x, want, smooth = row
    if not smooth:
        pytest.skip("not smooth there: the table gives the convention")
    arr = isinstance(x, np.ndarray)
    fd = fd_hessian(fn, x) if arr else fd_hessian(fn, x)[0, 0]
    assert np.allclose(fd, want, atol=1e-5), fd


_HESS: dict = {}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("row", HESSIAN_ROWS, ids=H_IDS)
def test_hessian(row, backend):
    fn, x, want, _ = row
    key = (fn, backend)
    if key not in _HESS:
        _HESS[key] = ad.hessian(fn, backend=backend)
    got = _HESS[key](x)
    # p / x_i differentiated in x_i cancels to a rounding error where the exact value is 0
    assert same(got, want, atol=1e-12), (fn.__name__, x, got)
