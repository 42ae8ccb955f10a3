"""np.einsum with explicit subscripts (frontend/einsum.py): values against NumPy on the
interpreter and LLVM (numba for one), derivatives against central finite differences and
the forward-vs-reverse dot-product test, and the rejected forms."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad


def mm(a, b):
    return np.einsum('ij,jk->ik', a, b)


def dot(x, y):
    return np.einsum('i,i->', x, y)


def bmm(a, b):
    return np.einsum('bij,bjk->bik', a, b)


def trace(a):
    return np.einsum('ii->', a)


def diag(a):
    return np.einsum('ii->i', a)


def transposed(a):
    return np.einsum('ij->ji', a)


def outer(x, y):
    return np.einsum('i,j->ij', x, y)


def implicit(a, b):
    return np.einsum('ij,jk', a, b)


R = np.random.default_rng(5)
A = R.normal(size=(3, 3))
B = R.normal(size=(3, 2))
V3 = R.normal(size=3)
W3 = R.normal(size=3)
A3 = R.normal(size=(2, 3, 4))
B3 = R.normal(size=(2, 4, 2))
CASES = [(mm, (A, B)), (dot, (V3, W3)), (bmm, (A3, B3)), (trace, (A,)), (diag, (A,)),
         (transposed, (B,)), (outer, (V3, W3))]


@pytest.mark.parametrize("f,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_einsum(f, args):
    want = f(*args)
    np.testing.assert_allclose(ad.interpret(f, *args), want)
    np.testing.assert_allclose(ad.jit(f, backend="llvm")(*args), want)
    w = R.normal(size=np.shape(want))
    v = R.normal(size=args[0].shape)
    _, pullback = ad.vjp(f, *args, backend="llvm")
    g = pullback(w)[0]
    _, d = ad.jvp(f, args, (v,) + (None,) * (len(args) - 1), backend="llvm")
    rhs = float(np.sum(v * g))
    assert np.isclose(float(np.sum(d * w)), rhs)
    h = 1e-6
    fd = float(np.sum((f(args[0] + h * v, *args[1:]) - f(args[0] - h * v, *args[1:])) * w))
    assert np.isclose(fd / (2 * h), rhs, rtol=1e-6, atol=1e-8)


def test_einsum_numba():
    np.testing.assert_allclose(ad.jit(bmm, backend="numba")(A3, B3), bmm(A3, B3))


def test_einsum_errors():
    with pytest.raises(ad.UnsupportedSyntax, match="explicit subscripts"):
        ad.interpret(implicit, A, B)
    with pytest.raises(ValueError, match="extent of index 'j'"):
        ad.jit(mm, backend="llvm")(A, B[:2])
    with pytest.raises(ad.TypeInferenceError, match="must be a 2-d array"):
        ad.interpret(mm, V3, B)


def vdot(a, b):
    return np.vdot(a, b)


def tensordot1(a, b):
    return np.tensordot(a, b, 1)


def tensordot_lists(a, b):
    return np.tensordot(a, b, axes=([0], [1]))


def cross(a, b):
    return np.cross(a, b)


M23 = R.normal(size=(2, 3))
MORE = [(vdot, (M23, R.normal(size=(2, 3)))), (tensordot1, (M23, B)),
        (tensordot_lists, (M23, R.normal(size=(4, 2)))), (cross, (V3, W3))]


@pytest.mark.parametrize("f,args", MORE, ids=[c[0].__name__ for c in MORE])
def test_products_built_on_einsum(f, args):
    test_einsum(f, args)
    np.testing.assert_allclose(ad.jacrev(f, backend="llvm")(*args),
                               ad.jacfwd(f, backend="llvm")(*args))
