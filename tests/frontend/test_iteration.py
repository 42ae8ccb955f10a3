"""`for` over arrays, tuples, enumerate() and zip(): loops over indices with the items read
at the top of the body; values against CPython on both backends, gradients against central
differences and forward mode."""
import numpy as np
import pytest

import adcompile as ad
from adcompile import TypeInferenceError, UnsupportedSyntax

from ..ad._util import fd_gradient


def over_array(x):
    s = 0.0
    for v in x:
        s += v * v
    return s


def over_rows(M):
    s = 0.0
    for row in M:
        row[0] = row[0] * 2.0      # a row view: writes reach M, as in NumPy
        s += np.sum(row * row)
    return s + np.sum(M)


def enumerated(x):
    s = 0.0
    for i, v in enumerate(x, start=1):
        s += i * np.sin(v)
    return s


def zipped(x, y):
    s = 0.0
    for a, b in zip(x, y):         # stops at the shorter
        if a > b:
            break
        s += a * b
    return s


def over_tuple(x, y):
    s = 0.0
    for a in (x, y, 2.0):          # entries of different types: the body once per entry
        s += np.sum(a * a)
    return s


def evaluated_once(x):
    s = 0.0
    for v in x:
        x = x * 0.0                # rebinding x does not change what is iterated
        s += v
    return s


CASES = [(over_array, lambda: (np.array([1.0, -2.0, 0.5]),)),
         (over_rows, lambda: (np.arange(6.0).reshape(2, 3) / 5.0,)),
         (enumerated, lambda: (np.array([0.3, 1.2, -0.7, 2.0]),)),
         (zipped, lambda: (np.array([0.1, 0.2, 0.9, 0.3]), np.array([1.0, 0.5, 0.6]))),
         (over_tuple, lambda: (np.array([1.0, 2.0]), 3.0)),
         (evaluated_once, lambda: (np.array([1.0, 2.0, 3.0]),))]


@pytest.mark.parametrize("backend", ["llvm", "numba"])
@pytest.mark.parametrize("f,args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_value_and_gradient(f, args, backend):
    assert ad.jit(f, backend=backend)(*args()) == pytest.approx(f(*args()), rel=1e-13)
    if backend == "numba":
        return   # numba's value is its check; derivatives below on LLVM (shared IR)
    g = ad.grad(f, backend="llvm")(*args())
    a = args()
    np.testing.assert_allclose(g, fd_gradient(f, a, 0), rtol=1e-6, atol=1e-8)
    v = np.random.default_rng(1).normal(size=np.shape(a[0])) if np.ndim(a[0]) else 1.0
    _, t = ad.jvp(f, a, (v,) + (None,) * (len(a) - 1), backend="llvm")
    assert t == pytest.approx(np.sum(np.asarray(g) * v), rel=1e-10, abs=1e-12)


def scalar_iterable(x):
    s = 0.0
    for v in x[0]:
        s += v
    return s


def tuple_with_break(x, y):
    for a in (x, y):
        if a > 0.0:
            break
    return a


def enumerate_one_name(x):
    s = 0.0
    for p in enumerate(x):
        s += 1.0
    return s


@pytest.mark.parametrize("f,args,err,msg", [
    (scalar_iterable, (np.ones(3),), TypeInferenceError, "this is a scalar"),
    (tuple_with_break, (1.0, 2.0), UnsupportedSyntax, "loop over a tuple"),
    (enumerate_one_name, (np.ones(3),), UnsupportedSyntax, "two names"),
])
def test_precise_errors(f, args, err, msg):
    with pytest.raises(err, match=msg) as e:
        ad.jit(f, backend="llvm")(*args)
    assert "test_iteration.py" in str(e.value)
