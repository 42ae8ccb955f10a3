"""np.linalg.norm's ord/axis forms: values against NumPy (interpreter, LLVM, numba for one),
Jacobians from both modes against central finite differences, and the rejected forms."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad


def n_default(x):
    return np.linalg.norm(x)


def n_one(x):
    return np.linalg.norm(x, 1)


def n_inf(x):
    return np.linalg.norm(x, np.inf)


def n_minus_inf(x):
    return np.linalg.norm(x, ord=-np.inf)


def n_three(x):
    return np.linalg.norm(x, 3)


def n_fro(a):
    return np.linalg.norm(a, 'fro')


def n_mat_one(a):
    return np.linalg.norm(a, 1)


def n_mat_minus_inf(a):
    return np.linalg.norm(a, -np.inf)


def n_rows(a):
    return np.linalg.norm(a, axis=1)


def n_cols_one(a):
    return np.linalg.norm(a, 1, 0)


def n_spectral(a):
    return np.linalg.norm(a, 2)


def n_nuclear(a):
    return np.linalg.norm(a, "nuc")


def n_half(x):
    return np.linalg.norm(x, 0.5)


X = np.array([1.0, -3.0, 2.0])
A = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
CASES = [(n_default, X), (n_one, X), (n_inf, X), (n_minus_inf, X), (n_three, X), (n_fro, A),
         (n_mat_one, A), (n_mat_minus_inf, A), (n_rows, A), (n_cols_one, A), (n_spectral, A)]


@pytest.mark.parametrize("f,a", CASES, ids=[c[0].__name__ for c in CASES])
def test_norm_values_and_derivatives(f, a):
    want = f(a)
    np.testing.assert_allclose(ad.interpret(f, a), want)
    np.testing.assert_allclose(ad.jit(f, backend="llvm")(a), want)
    h = 1e-6
    fd = np.stack([(f(a + h * e.reshape(a.shape)) - f(a - h * e.reshape(a.shape))) / (2 * h)
                   for e in np.eye(a.size)], -1).reshape(np.shape(want) + a.shape)
    np.testing.assert_allclose(ad.jacrev(f, backend="llvm")(a), fd, atol=1e-6)
    np.testing.assert_allclose(ad.jacfwd(f, backend="llvm")(a), fd, atol=1e-6)


def test_norm_numba():
    np.testing.assert_allclose(ad.jit(n_rows, backend="numba")(A), n_rows(A))


@pytest.mark.parametrize("f,a,msg", [(n_nuclear, A, "matrix norm ord='nuc'"),
                                     (n_half, X, "ord=0.5")])
def test_unsupported_ord_names_norm(f, a, msg):
    with pytest.raises(ad.UnsupportedSyntax, match=msg) as info:
        ad.interpret(f, a)
    assert "np.linalg.norm" in str(info.value) and info.value.hint
