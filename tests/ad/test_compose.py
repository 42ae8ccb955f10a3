"""Transforms compose: every derivative object is itself a function that the other
transforms accept (`grad(grad(f))`, `jacfwd(grad(f))`, `jit(grad(f))`, `vjp` of a function
calling `jvp`...), compiled as one program. Each pair is checked against central finite
differences of the inner derivative and, where two paths exist, against each other
(forward vs reverse, `hessian`)."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad
from adcompile import AdError, TypeInferenceError

from . import compose_programs as cp

BACKENDS = ["numba", "llvm"]
X = np.array([0.3, -0.5, 0.8])
K = 0.7
ARRAY_FUNCS = [cp.array_update, cp.while_loop, cp.checkpointed_loop]


def _pairs(funcs, on_numba):
    """Every function on LLVM; on numba (compiles ~10x slower) the ones named: the
    compositions are IR transforms shared by both backends, numba adds its emission."""
    return [(b, f) for b in BACKENDS for f in funcs if b == "llvm" or f in on_numba]


def _ids(x):
    return x if isinstance(x, str) else x.__name__


def fd_grad(fun, x, *rest, h=1e-6):
    """Central differences of `fun` (scalar or array valued) w.r.t. its first argument."""
    x = np.asarray(x, dtype=float)
    cols = []
    for e in np.eye(x.size).reshape((x.size,) + x.shape) if x.ndim else [1.0]:
        cols.append((np.asarray(fun(x + h * e, *rest)) - np.asarray(fun(x - h * e, *rest)))
                    / (2 * h))
    return np.stack(cols, axis=-1) if x.ndim else cols[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_issue_reproducers(backend):
    g = ad.grad(cp.cube, backend=backend)
    assert ad.grad(g, backend=backend)(1.5) == pytest.approx(9.0)
    assert ad.jit(g, backend=backend)(1.5) == pytest.approx(6.75)
    assert ad.jvp(g, (1.5,), (1.0,), backend=backend) == pytest.approx((6.75, 9.0))
    assert ad.grad(ad.grad(g))(1.5) == pytest.approx(6.0)       # third order
    x = np.array([1.0, 2.0, 3.0])
    assert ad.jit(cp.use_grad, backend=backend)(x) == pytest.approx(42.0)
    assert ad.interpret(cp.use_grad, x) == pytest.approx(42.0)
    assert ad.jit(cp.use_jit_grad, backend=backend)(x) == pytest.approx(42.0)
    np.testing.assert_allclose(ad.grad(cp.use_grad, backend=backend)(x), 6 * x)
    np.testing.assert_allclose(ad.jit(cp.newton_step, backend=backend)(x), x - 0.3 * x * x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_of_grad_scalar(backend):
    g = ad.grad(cp.scalar_loop, backend=backend)
    gg = ad.grad(g, backend=backend)
    for a in (0.7, -0.4, 1.9):
        assert gg(a, K) == pytest.approx(fd_grad(g, a, K), rel=1e-6, abs=1e-8)
    ggg = ad.grad(gg, backend=backend)
    assert ggg(0.7, K) == pytest.approx(fd_grad(gg, 0.7, K), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("backend,f", _pairs(ARRAY_FUNCS, [cp.while_loop]), ids=_ids)
def test_hessian_paths_agree(backend, f):
    g = ad.grad(f, backend=backend)
    h_fwd = ad.jacfwd(g, backend=backend)(X, K)
    h_rev = ad.jacrev(g, backend=backend)(X, K)
    np.testing.assert_allclose(h_fwd, fd_grad(g, X, K), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h_rev, h_fwd, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ad.hessian(f, backend=backend)(X, K), h_fwd, rtol=1e-9,
                               atol=1e-11)


@pytest.mark.parametrize("backend,f", _pairs(ARRAY_FUNCS, [cp.checkpointed_loop]), ids=_ids)
def test_jit_jvp_vjp_of_grad(backend, f):
    g = ad.grad(f, backend=backend)
    vg = ad.value_and_grad(f, backend=backend)
    np.testing.assert_allclose(ad.jit(g, backend=backend)(X, K), g(X, K), rtol=1e-12)
    v, gx = ad.jit(vg, backend=backend)(X, K)
    assert v == pytest.approx(vg(X, K)[0], rel=1e-12)
    np.testing.assert_allclose(gx, g(X, K), rtol=1e-12)
    rng = np.random.default_rng(0)
    v_dir, w = rng.normal(size=3), rng.normal(size=3)
    out, hv = ad.jvp(g, (X, K), (v_dir, None), backend=backend)
    np.testing.assert_allclose(out, g(X, K), rtol=1e-12)
    _, pullback = ad.vjp(g, X, K, backend=backend)
    htw, _ = pullback(w)
    assert np.dot(hv, w) == pytest.approx(np.dot(v_dir, htw), rel=1e-9)   # dot-product test
    np.testing.assert_allclose(hv, fd_grad(g, X, K) @ v_dir, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend,f", _pairs(
    [cp.calls_grad, cp.calls_value_and_grad, cp.calls_jvp, cp.calls_vjp, cp.calls_jacfwd,
     cp.calls_hessian, cp.calls_jacrev, cp.calls_jacrev_vector],
    [cp.calls_grad, cp.calls_vjp, cp.calls_jacfwd]), ids=_ids)
def test_compiled_code_calls_derivatives(backend, f):
    """CPython runs `f` calling the derivative objects from Python: the reference."""
    assert ad.jit(f, backend=backend)(X, K) == pytest.approx(f(X, K), rel=1e-12)
    assert ad.interpret(f, X, K) == pytest.approx(f(X, K), rel=1e-12)
    gx, gk = ad.grad(f, argnums=(0, 1), backend=backend)(X, K)
    np.testing.assert_allclose(gx, fd_grad(f, X, K), rtol=1e-5, atol=1e-7)
    assert gk == pytest.approx(fd_grad(lambda k, x: f(x, k), K, X), rel=1e-5, abs=1e-7)
    v = np.array([0.2, -1.0, 0.4])
    _, t = ad.jvp(f, (X, K), (v, None), backend=backend)
    assert t == pytest.approx(np.dot(gx, v), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jit_of_jacobians(backend):
    for argnums in (0, 1, (0, 1)):
        got = ad.jit(ad.jacfwd(cp.array_update, argnums=argnums), backend=backend)(X, K)
        want = ad.jacfwd(cp.array_update, argnums=argnums)(X, K)
        for g, w in zip(np.atleast_1d(got) if argnums != (0, 1) else got,
                        np.atleast_1d(want) if argnums != (0, 1) else want):
            np.testing.assert_allclose(g, w, rtol=1e-12)
    np.testing.assert_allclose(ad.jit(ad.hessian(cp.array_update), backend=backend)(X, K),
                               ad.hessian(cp.array_update)(X, K), rtol=1e-12)
    assert ad.jit(ad.hessian(cp.scalar_loop), backend=backend)(0.4, K) == \
        pytest.approx(ad.hessian(cp.scalar_loop)(0.4, K), rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jit_of_jacrev(backend):
    """jacrev as one program (a pullback per output element) equals jacrev and jacfwd from
    Python, for scalar and vector outputs and every argnums."""
    for argnums in (0, 1, (0, 1)):
        got = ad.jit(ad.jacrev(cp.residuals, argnums=argnums), backend=backend)(X, K)
        want = ad.jacrev(cp.residuals, argnums=argnums)(X, K)
        fwd = ad.jacfwd(cp.residuals, argnums=argnums)(X, K)
        for g, w, f in zip(*(v if argnums == (0, 1) else (v,) for v in (got, want, fwd))):
            assert np.shape(g) == np.shape(w)
            np.testing.assert_allclose(g, w, rtol=1e-12)
            np.testing.assert_allclose(g, f, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ad.jit(ad.jacrev(cp.array_update), backend=backend)(X, K),
                               ad.grad(cp.array_update)(X, K), rtol=1e-12)
    # jacfwd of jacrev of a gradient's function: a Hessian by a third path
    H = ad.jacfwd(ad.jacrev(cp.array_update), backend=backend)(X, K)
    np.testing.assert_allclose(H, ad.hessian(cp.array_update)(X, K), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_jacfwd_rows_is_one_program(backend):
    """jit of jacfwd_rows (element reads: the seed computed where read; whole-array use: the
    seed built in the program) equals the Python-assembled result; compiled code calling a
    jacfwd_rows object is differentiated through it (a second derivative per row)."""
    rng = np.random.default_rng(3)
    P, W = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    for d, args in ((cp.ROWS2, (P, W)), (cp.ROWS, (P,))):
        want = d(*args)
        got = ad.jit(d, backend=backend)(*args)
        for g, w in zip(got if isinstance(want, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(ad.jit(cp.calls_rows, backend=backend)(P, W),
                               cp.calls_rows(P, W), rtol=1e-13)
    gP, gW = ad.grad(cp.calls_rows, argnums=(0, 1), backend=backend)(P, W)
    for i, a in enumerate((P, W)):
        fd = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            e = np.zeros_like(a)
            e[idx] = 1e-6
            hi = [P, W]
            lo = [P, W]
            hi[i], lo[i] = a + e, a - e
            fd[idx] = (cp.calls_rows(*hi) - cp.calls_rows(*lo)) / 2e-6
        np.testing.assert_allclose((gP, gW)[i], fd, rtol=1e-6, atol=1e-7)


def test_assembled_jacobians_are_rejected_precisely():
    with pytest.raises(TypeInferenceError, match="one float scalar"):
        ad.grad(ad.value_and_grad(cp.array_update))(X, K)
    X2 = np.ones((2, 2))
    with pytest.raises(AdError, match="1-d arrays"):
        ad.jit(ad.jacfwd(cp.array_update))(X2, K)


def test_derivative_built_inside_compiled_code():
    """adcompile.grad(h)(x) in a compiled function: the derivative is built when the function
    is compiled, inlined, and differentiable again (second derivatives through it)."""
    x, k = np.array([0.3, 0.5, -1.0]), 1.5
    want = np.sum((np.cos(x) * k) ** 2) + np.sum(np.sin(x)) + 2 * k
    assert abs(ad.interpret(cp.builds_grad_inside, x, k) - want) < 1e-12
    assert abs(ad.jit(cp.builds_grad_inside, backend="llvm")(x, k) - want) < 1e-12
    g = ad.grad(cp.builds_grad_inside, backend="llvm")(x, k)
    np.testing.assert_allclose(g, -2 * k * k * np.cos(x) * np.sin(x) + np.cos(x), rtol=1e-12)
    np.testing.assert_allclose(g, fd_grad(cp.builds_grad_inside, x, k), rtol=1e-6)
    with pytest.raises(TypeInferenceError, match="known at compile time") as info:
        ad.interpret(cp.builds_grad_with_runtime_argnums, x, 1)
    assert info.value.loc.filename.endswith("compose_programs.py")
