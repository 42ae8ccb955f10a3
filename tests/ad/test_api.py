"""The shapes, types and calling conventions of the derivative API (JAX-shaped), on tiny
functions; the numbers themselves are checked by test_catalog.py and test_primitives.py."""
from __future__ import annotations

import math

import numpy as np
import pytest

import adcompile as ad


def poly(x, a, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(a * x[i % x.shape[0]]) * a
    return s * np.sum(x * x)


def two_outputs(x, a):
    return np.sum(x) * a, x * a


X = np.array([0.3, -0.5, 0.8])


def test_bare_decorators_and_source():
    @ad.grad
    def sq(x):
        return x * x

    with pytest.raises(ad.AdError):
        sq.source  # noqa: B018 - not compiled yet
    assert sq(3.0) == 6.0 and isinstance(sq(3.0), float)
    assert "def " in sq.source and "sq" in sq.source

    @ad.value_and_grad
    def ssq(x):
        return np.sum(x * x)

    v, g = ssq(np.ones(2))
    assert v == 2.0 and np.array_equal(g, [2.0, 2.0])


def test_grad_argnums_int_vs_tuple():
    g = ad.grad(poly, argnums=0)(X, 1.3, 4)
    assert isinstance(g, np.ndarray) and g.shape == X.shape
    gs = ad.grad(poly, argnums=(0, 1))(X, 1.3, 4)
    assert isinstance(gs, tuple) and len(gs) == 2
    assert isinstance(gs[1], float)
    np.testing.assert_allclose(gs[0], g, rtol=1e-14)
    gneg = ad.grad(poly, argnums=-2)(X, 1.3, 4)
    assert gneg == pytest.approx(gs[1], rel=1e-14)


def test_float32_gradients_keep_dtype():
    x32 = X.astype(np.float32)
    g = ad.grad(poly, argnums=(0, 1))(x32, np.float32(1.3), 4)
    assert g[0].dtype == np.float32 and isinstance(g[1], np.float32)


def test_jacobians_with_tuple_argnums():
    jf = ad.jacfwd(poly, argnums=(0, 1))(X, 1.3, 4)
    jr = ad.jacrev(poly, argnums=(0, 1))(X, 1.3, 4)
    assert isinstance(jf, tuple) and isinstance(jr, tuple)
    assert [np.shape(j) for j in jf] == [np.shape(j) for j in jr] == [(3,), ()]
    for a, b in zip(jf, jr):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_jacfwd_of_tuple_output():
    J = ad.jacfwd(two_outputs, argnums=0)(X, 1.5)
    assert isinstance(J, tuple) and len(J) == 2
    assert np.shape(J[0]) == (3,) and np.shape(J[1]) == (3, 3)
    np.testing.assert_allclose(J[1], 1.5 * np.eye(3), rtol=1e-14)
    np.testing.assert_allclose(J[0], np.full(3, 1.5), rtol=1e-14)


def test_hessian_and_hvp_shapes():
    H = ad.hessian(poly, argnums=0)(X, 1.3, 4)
    assert isinstance(H, np.ndarray) and H.shape == (3, 3)
    h = ad.hessian(poly, argnums=1)(X, 1.3, 4)
    assert isinstance(h, float)
    g, hv = ad.hvp(poly, (X, 1.3, 4), (np.ones(3), None, None))
    assert g.shape == hv.shape == (3,)
    np.testing.assert_allclose(hv, H @ np.ones(3), rtol=1e-10)
    gs, hvs = ad.hvp(poly, (X, 1.3, 4), (np.ones(3), 1.0, None))
    assert isinstance(gs, tuple) and isinstance(hvs, tuple) and len(gs) == len(hvs) == 2
    assert hvs[0].shape == (3,) and np.ndim(hvs[1]) == 0


def test_jvp_and_vjp_conventions():
    out, dot = ad.jvp(poly, (X, 1.3, 4), (None, None, None))
    assert out == pytest.approx(poly(X, 1.3, 4), rel=1e-14) and dot == 0.0
    out, f_vjp = ad.vjp(poly, X, 1.3, 4)
    cts = f_vjp(1.0)
    assert len(cts) == 3 and cts[2] is None
    assert cts[0].shape == X.shape and isinstance(cts[1], float)
    (o1, o2), f_vjp = ad.vjp(two_outputs, X, 1.5)
    cx, ca = f_vjp((1.0, np.ones(3)))
    np.testing.assert_allclose(cx, np.full(3, 1.5 + 1.5), rtol=1e-14)
    assert ca == pytest.approx(np.sum(X) + np.sum(X), rel=1e-14)


def _per_row(P, W, M):
    n = P.shape[0]
    r = np.empty((n, 2))
    for i in range(n):
        a = P[i, 0] * W[i, 1] + math.sin(P[i, -1])
        r[i, 0] = a * a - M[i, 0]
        r[i, 1] = math.exp(0.1 * P[i, 1]) * W[i, 0] - M[i, 1]
    return r


def _per_row_numpy(P, W, M):
    return np.sin(P * 2.0)[:, :2] * W - M


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_jacfwd_rows_are_the_diagonal_blocks_of_jacfwd(backend):
    """Row i of the output depends on row i of P and W only: jacfwd_rows gives those blocks
    (several arguments side by side in the lanes), with the seed computed in place."""
    rng = np.random.default_rng(4)
    P, W, M = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    JP, JW = ad.jacfwd_rows(_per_row, argnums=(0, 1), backend=backend)(P, W, M)
    full_P = ad.jacfwd(_per_row, argnums=0, backend=backend)(P, W, M)   # (5, 2, 5, 3)
    full_W = ad.jacfwd(_per_row, argnums=1, backend=backend)(P, W, M)
    assert JP.shape == (5, 2, 3) and JW.shape == (5, 2, 2)
    for i in range(5):
        np.testing.assert_allclose(JP[i], full_P[i, :, i, :], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(JW[i], full_W[i, :, i, :], rtol=1e-13, atol=1e-15)
    g = ad.jacfwd_rows(_per_row, backend=backend)
    np.testing.assert_array_equal(g(P, W, M), JP)
    assert "P_dot" not in g.source     # no seed argument: computed where it is read
    # whole-array use of the argument: the seed goes in as an array, same numbers
    J = ad.jacfwd_rows(_per_row_numpy, argnums=(0, 1), backend=backend)(P, W, M)
    fP = ad.jacfwd(_per_row_numpy, argnums=0, backend=backend)(P, W, M)
    for i in range(5):
        np.testing.assert_allclose(J[0][i], fP[i, :, i, :], rtol=1e-13, atol=1e-15)


def test_jacfwd_rows_rejects_non_matrix_arguments():
    with pytest.raises(ad.AdError, match="2-d"):
        ad.jacfwd_rows(_per_row, argnums=2)(np.ones((3, 3)), np.ones((3, 2)), np.ones(3))
