"""Constructs whose meaning must follow CPython/NumPy on every path (interpreter, numba, LLVM),
or be rejected precisely: unbound locals, globals changed between calls, result typing, ...

Compiled objects are module-level so each function compiles once per backend.
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompile

BACKENDS = ("numba", "llvm")


def _runners(fn):
    """(label, callable) for the interpreter and both backends."""
    return [("interpret", lambda *a: adcompile.interpret(fn, *a))] + \
        [(b, adcompile.jit(fn, backend=b)) for b in BACKENDS]


# -- 1. names bound only on some paths: UnboundLocalError at the read, as CPython -------------
def last_of_for(x, n):
    for i in range(n):
        last = x[i]
    return last


def last_of_while(x, n):
    i = 0
    while i < n:
        last = x[i]
        i += 1
    return last


def bound_in_branch(x, c):
    if c > 0.0:
        y = x * 2.0
    return y


def positive_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            last = x[i]
        s += x[i]
    return s + last


def unread_after_loop(x, n):
    s = 0.0
    for i in range(n):
        t = x[i] * 2.0
        s += t
    return s


_UNBOUND = [
    (last_of_for, [(np.arange(3.0), 3), (np.arange(3.0), 0)]),
    (last_of_while, [(np.arange(3.0), 2), (np.arange(3.0), 0)]),
    (bound_in_branch, [(1.5, 1.0), (1.5, -1.0)]),
    (positive_in_loop, [(np.array([-1.0, 2.0, -3.0]),), (np.array([-1.0, -2.0]),)]),
    (unread_after_loop, [(np.arange(3.0), 3), (np.arange(3.0), 0)]),
]


@pytest.mark.parametrize("fn,cases", _UNBOUND, ids=[c[0].__name__ for c in _UNBOUND])
def test_unbound_local_follows_cpython(fn, cases):
    for label, run in _runners(fn):
        for args in cases:
            try:
                want = fn(*args)
            except UnboundLocalError:
                with pytest.raises(UnboundLocalError, match=r"local variable '\w+'.*read at "
                                   r".*test_semantics\.py:\d+"):
                    run(*args)
                continue
            assert run(*args) == pytest.approx(want), (label, args)


def test_unbound_check_is_outside_the_loop():
    """The flag is tested once at the read after the loop, not in the loop body."""
    ir = adcompile.show_ir(last_of_for, np.arange(3.0), 3, stage="backend")
    loop_start = ir.index("for(")
    assert "check(" in ir[ir.index("}", loop_start):]
    assert "check(" not in ir[loop_start:ir.index("}", loop_start)]
    # a name never read after its loop costs nothing
    assert "bound" not in adcompile.show_ir(unread_after_loop, np.arange(3.0), 3,
                                            stage="backend")


def test_unbound_gradient_path():
    g = adcompile.grad(last_of_for)
    np.testing.assert_allclose(g(np.arange(3.0), 2), [0.0, 1.0, 0.0])
    with pytest.raises(UnboundLocalError):
        g(np.arange(3.0), 0)


# -- 2. a module global changed between calls is read anew (value and gradient) ---------------
SCALE = 2.0
OFFSET = (1.0, 3)


def scaled(x):
    return SCALE * x[0] * x[0] + OFFSET[0] * OFFSET[1]


def _helper_scale(v):
    return v * SCALE


def scaled_via_helper(x):
    return np.sum(_helper_scale(x))


_SCALED = {b: (adcompile.jit(scaled, backend=b), adcompile.grad(scaled, backend=b),
               adcompile.jit(scaled_via_helper, backend=b)) for b in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
def test_changed_global_recompiles(backend):
    global SCALE, OFFSET
    f, g, h = _SCALED[backend]
    x = np.array([3.0, 1.0])
    try:
        for scale, offset in ((2.0, (1.0, 3)), (5.0, (1.0, 3)), (5.0, (2.0, 4)), (2.0, (1.0, 3))):
            SCALE, OFFSET = scale, offset
            assert f(x) == scaled(x)
            assert adcompile.interpret(scaled, x) == scaled(x)
            np.testing.assert_allclose(g(x), [2 * scale * x[0], 0.0])
            assert h(x) == scaled_via_helper(x)
    finally:
        SCALE, OFFSET = 2.0, (1.0, 3)


# -- 3. scalar results typed as NumPy 2 types them, through every entry point -----------------
def rosen_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_loop(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def python_scalars(a, x):
    return a * 2.0 + x.shape[0], len(x) * 2, x[0] * x.shape[0]


def _rosen_grad(x):
    x = x.astype(np.float64)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


_ROSEN = {(b, fn.__name__): (adcompile.jit(fn, backend=b), adcompile.grad(fn, backend=b),
                             adcompile.value_and_grad(fn, backend=b))
          for b in BACKENDS for fn in (rosen_np, rosen_loop)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [rosen_np, rosen_loop], ids=["numpy", "loop"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_rosenbrock_result_types(backend, fn, dtype):
    x = np.array([0.5, 1.2, -0.3, 0.8], dtype=dtype)
    want = fn(x)
    assert type(want) is dtype
    f, g, vg = _ROSEN[backend, fn.__name__]
    rtol = 1e-5 if dtype is np.float32 else 1e-12
    for got in (f(x), adcompile.interpret(fn, x), vg(x)[0],
                adcompile.jvp(fn, (x,), (np.ones_like(x),), backend=backend)[0],
                adcompile.vjp(fn, x, backend=backend)[0]):
        assert type(got) is dtype, type(got)
        np.testing.assert_allclose(got, want, rtol=rtol)
    for grad in (g(x), vg(x)[1]):
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, _rosen_grad(x), rtol=10 * rtol)
    assert adcompile.check_grad(fn, x)


def test_python_scalar_results_stay_python():
    x32 = np.array([1.5, 2.0], dtype=np.float32)
    want = python_scalars(0.5, x32)
    for got in (adcompile.interpret(python_scalars, 0.5, x32),
                adcompile.jit(python_scalars)(0.5, x32)):
        assert [type(v) for v in got] == [type(v) for v in want] == [float, int, np.float32]
        assert got == want


# -- 4. jacfwd_rows refuses a function whose row i reads other rows ---------------------------
def cross_rows(P):
    n = P.shape[0]
    r = np.zeros(n)
    for i in range(n):
        r[i] = P[i, 0] * P[(i + 1) % n, 1]
    return r


def carried_across_rows(P):
    r = np.zeros(P.shape[0])
    s = 0.0
    for i in range(P.shape[0]):
        s = s + P[i, 0]
        r[i] = s
    return r


def cross_rows_numpy(P):
    return P[:, 0] * np.sum(P[:, 1])


def own_rows_numpy(P):
    return np.sin(P * 2.0)[:, 0] * np.sum(P, axis=1)


def own_rows(P):
    n = P.shape[0]
    r = np.zeros((n, 2))
    for i in range(n):
        a = P[i, 0]
        for k in range(2):
            a = a * P[i, 1] + k
        r[i, 0] = a
        r[i, 1] = np.sin(P[i, 1]) if P[i, 0] > 0 else 1.0
    return r * 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacfwd_rows_cross_row_dependency_is_refused(backend):
    P = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    for fn, line in ((cross_rows, "P[(i + 1) % n, 1]"), (carried_across_rows, "for i in"),
                     (cross_rows_numpy, "np.sum(P[:, 1])")):
        with pytest.raises(adcompile.AdError, match="depends on other rows") as info:
            adcompile.jacfwd_rows(fn, backend=backend)(P)
        assert info.value.filename.endswith("test_semantics.py")
        assert line in info.value.loc.source_line
    for fn in (own_rows, own_rows_numpy):
        J = adcompile.jacfwd_rows(fn, backend=backend)(P)
        full = adcompile.jacfwd(fn, backend=backend)(P)
        for i in range(P.shape[0]):
            np.testing.assert_allclose(J[i], full[i, ..., i, :], rtol=1e-12)
