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
