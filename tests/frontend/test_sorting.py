"""np.sort / np.argsort / np.searchsorted / np.interp (frontend/sorting.py): values against
NumPy on the interpreter and LLVM (numba for one), the derivative of sort as a permutation,
interp's derivatives against finite differences and forward against reverse."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad


def sort(x):
    return np.sort(x)


def argsort(x):
    return np.argsort(x)


def search(a, v):
    return np.searchsorted(a, v)


def search_right(a, v):
    return np.searchsorted(a, v, side='right')


def interp(x, xp, fp):
    return np.interp(x, xp, fp)


R = np.random.default_rng(9)
X = R.normal(size=6)
XP = np.array([0.0, 1.0, 2.5, 4.0])
FP = np.array([1.0, -1.0, 2.0, 0.5])
Q = np.array([-1.0, 0.0, 0.5, 1.0, 3.0, 4.0, 5.0])
CASES = [(sort, (X,)), (argsort, (X,)), (argsort, (np.array([1.0, 0.0, 1.0, 0.0]),)),
         (search, (XP, Q)), (search_right, (XP, Q)), (search, (XP, 1.0)),
         (interp, (Q, XP, FP)), (interp, (0.7, XP, FP))]


@pytest.mark.parametrize("f,args", CASES, ids=[f"{c[0].__name__}{i}" for i, c in
                                                enumerate(CASES)])
def test_values(f, args):
    want = f(*args)
    for got in (ad.interpret(f, *args), ad.jit(f, backend="llvm")(*args)):
        np.testing.assert_allclose(got, want)
        assert np.asarray(got).dtype == np.asarray(want).dtype


def test_sort_derivative_is_the_permutation():
    J = ad.jacrev(sort, backend="llvm")(X)
    np.testing.assert_array_equal(J, np.eye(6)[np.argsort(X)])
    np.testing.assert_array_equal(ad.jacfwd(sort, backend="llvm")(X), J)


def test_interp_derivatives():
    q = np.array([-1.0, 0.5, 3.0, 5.0])
    jf = ad.jacfwd(interp, argnums=(0, 2), backend="llvm")(q, XP, FP)
    jr = ad.jacrev(interp, argnums=(0, 2), backend="llvm")(q, XP, FP)
    for a, b in zip(jf, jr):
        np.testing.assert_allclose(a, b)
    h = 1e-6
    fd_x = np.diag((interp(q + h, XP, FP) - interp(q - h, XP, FP)) / (2 * h))
    np.testing.assert_allclose(jf[0], fd_x, atol=1e-6)
    fd_f = np.stack([(interp(q, XP, FP + h * e) - interp(q, XP, FP - h * e)) / (2 * h)
                     for e in np.eye(4)], -1)
    np.testing.assert_allclose(jf[1], fd_f, atol=1e-6)


def test_numba_and_nan():
    np.testing.assert_allclose(ad.jit(interp, backend="numba")(Q, XP, FP), interp(Q, XP, FP))
    with pytest.raises(ValueError, match="NaN"):
        ad.jit(sort, backend="llvm")(np.array([1.0, np.nan]))
