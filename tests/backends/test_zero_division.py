"""Division by zero gives CPython's answer on every backend: a scalar `/`, `//`, `%` of
Python numbers (and a float to a negative integer power of 0.0) raises ZeroDivisionError with
CPython's words (the LLVM kernel and lowered numba code put the user's line in front); array
operations are NumPy's (inf, nan), also where they are lowered to scalar loops; derivative
code divides in IEEE arithmetic."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import adcompile as ad

BACKENDS = ("numba", "llvm")
OPTIONS = {"numba": ad.CompileOptions(backend="numba"),
           "numba-lowered": ad.CompileOptions(backend="numba", lower_arrays=True),
           "llvm": ad.CompileOptions(backend="llvm")}


def f_div(x, y): return x / y
def f_floordiv(x, y): return x // y
def f_mod(x, y): return x % y
def f_neg_power(x): return x ** -2
def i_floordiv(k, m): return k // m
def i_mod(k, m): return k % m


SCALAR_CASES = [(f_div, (1.0, 0.0)), (f_div, (0.0, 0.0)), (f_floordiv, (1.0, 0.0)),
                (f_mod, (-1.0, 0.0)), (f_neg_power, (0.0,)), (i_floordiv, (3, 0)),
                (i_mod, (-3, 0))]


def cpython_error(fn, args) -> str:
    with pytest.raises(ZeroDivisionError) as e:
        fn(*args)
    return str(e.value)


@pytest.mark.parametrize("kind", sorted(OPTIONS))
@pytest.mark.parametrize("fn,args", SCALAR_CASES, ids=[f"{f.__name__}{a}" for f, a in SCALAR_CASES])
def test_scalar_division_by_zero_raises_as_cpython(kind, fn, args):
    words = cpython_error(fn, args)
    with pytest.raises(ZeroDivisionError) as e:
        ad.jit(fn, options=OPTIONS[kind])(*args)
    if kind != "numba":   # numba's own operators word it their way, without a line
        first = str(e.value).splitlines()[0]
        assert first.startswith(f"{__file__}:") and first.endswith(words), first


@pytest.mark.parametrize("kind", sorted(OPTIONS))
@pytest.mark.parametrize("fn,args", SCALAR_CASES, ids=[f"{f.__name__}{a}" for f, a in SCALAR_CASES])
def test_nonzero_divisors_still_compute(kind, fn, args):
    at = tuple(a + 2 if i > 0 or fn is f_neg_power else a for i, a in enumerate(args))
    assert ad.jit(fn, options=OPTIONS[kind])(*at) == fn(*at)


def a_div(x, y): return x / y
def a_floordiv(x, y): return x // y
def a_mod(x, y): return x % y
def a_neg_power(x): return x ** -3


@pytest.mark.parametrize("kind", sorted(OPTIONS))
@pytest.mark.parametrize("fn", [a_div, a_floordiv, a_mod])
def test_array_division_by_zero_is_numpys(kind, fn):
    x = np.array([1.0, -1.0, 0.0, 2.5])
    y = np.array([0.0, 0.0, 0.0, 2.0])
    with np.errstate(all="ignore"):
        want = fn(x, y)
    got = ad.jit(fn, options=OPTIONS[kind])(x, y)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("kind", sorted(OPTIONS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_array_negative_integer_power_is_numpys(kind, dtype):
    x = np.array([0.0, -0.0, 2.0, -3.0], dtype=dtype)
    with np.errstate(all="ignore"):
        want = a_neg_power(x)
    got = ad.jit(a_neg_power, options=OPTIONS[kind])(x)
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_derivative_divisions_stay_ieee(backend):
    """The primal raises where Python does; the derivative's own divisions do not (log at 0:
    d/dx = 1/x = inf), and agree across backends."""
    def run():
        return ad.grad(_log_sum, backend=backend)(np.array([0.0, 2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = run()
    assert math.isinf(g[0]) and g[1] == pytest.approx(0.5)


def _log_sum(x):
    return np.sum(np.log(x))
