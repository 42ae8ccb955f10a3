"""Constructs whose meaning must follow CPython/NumPy on every path (interpreter, numba, LLVM),
or be rejected precisely: unbound locals, globals changed between calls, result typing, ...

Compiled objects are module-level so each function compiles once per backend.
"""
from __future__ import annotations

import math

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
    text = adcompile.show_ir(unread_after_loop, np.arange(3.0), 3, stage="backend")
    assert "_bound" not in text and "kind='unbound'" not in text


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


# -- 5. constructs that had a different meaning ----------------------------------------------
def fib_tuple_for(n):
    t = (0.0, 1.0)
    for i in range(n):
        t = (t[1], t[0] + t[1])
    return t[0]


def fib_tuple_while(lim):
    t = (0, 1)
    while t[0] < lim:
        t = (t[1], t[0] + t[1])
    return t[0]


def fib_tuple_break(n):
    t = (0.0, 1.0)
    for i in range(n):
        if i > 5:
            break
        t = (t[1], t[0] * 1.5 + t[1])
    a, b = t
    return a + b


def and_or_values(a, b):
    return (a and b) + 10.0 * (a or b) + 100.0 * (b and a / b)


def invert(k, b):
    return ~k + ~b


def chain_scalar(a):
    return 0.0 < a < 3.0


def to_int(a):
    return int(a)


def int_matmul(a, b):
    return a @ b


def as_dtype(x):
    return np.asarray(x, dtype=np.int64), np.array(x, dtype=np.float32)


def f64_scalar_promotes(x32):
    return x32 * np.float64(2.0)


def int_array_negative_power(k):
    return k ** -1


def int_power_exact(k, e):
    return k ** e


_VALUES = [
    (fib_tuple_for, [(10,), (0,), (1,)]),
    (fib_tuple_while, [(100,), (0,)]),
    (fib_tuple_break, [(10,), (3,)]),
    (and_or_values, [(2.0, 3.0), (0.0, 3.0), (2.0, 0.0)]),
    (invert, [(5, True), (-3, False)]),
    (chain_scalar, [(1.0,), (-1.0,), (4.0,)]),
    (to_int, [(2.7,), (-3.9,), (float("nan"),), (float("inf"),), (1e20,), (-1e19,)]),
    (int_matmul, [(np.array([1, 2]), np.array([3, 4])),
                  (np.array([[1, 2], [3, 4]]), np.array([5, 6])),
                  (np.array([True, False]), np.array([True, True]))]),
    (as_dtype, [(np.array([1.5, -2.5, 3.0]),)]),
    (f64_scalar_promotes, [(np.ones(3, dtype=np.float32),)]),
    (int_array_negative_power, [(np.array([1, 2]),), (np.int64(2),), (2,)]),
    # exact beyond 2**53 (it was a float64 round trip)
    (int_power_exact, [(3, 39), (-3, 5), (7, 0), (np.array([2, -3, 5]), 3)]),
]


def _same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype, (got, want)
        np.testing.assert_array_equal(got, want)
        return
    assert type(got) is type(want) and got == want, (got, want)


@pytest.mark.parametrize("fn,cases", _VALUES, ids=[c[0].__name__ for c in _VALUES])
def test_construct_follows_cpython_numpy(fn, cases):
    for label, run in _runners(fn):
        for args in cases:
            try:
                want = fn(*args)
            except (ValueError, OverflowError) as e:
                with pytest.raises(type(e)):
                    run(*args)
                continue
            if fn is to_int and not -2 ** 63 <= want < 2 ** 63:
                with pytest.raises(OverflowError, match="int64"):
                    run(*args)
                continue
            _same(run(*args), want)


def chain_array(x):
    return 0.0 < x < 3.0


def and_array(x, c):
    return c and x


def big_int(x):
    return x + 2 ** 70


def big_index(x):
    return x[2 ** 63]


@pytest.mark.parametrize("fn,args,match", [
    (chain_array, (np.ones(3),), "chained comparison of arrays"),
    (and_array, (np.ones(3), 1.0), "'and'/'or' with"),
    (big_int, (1.0,), "does not fit in int64"),
    (big_index, (np.ones(3),), "does not fit in int64"),
], ids=["chain", "and", "big_int", "big_index"])
def test_rejected_precisely_at_the_line(fn, args, match):
    with pytest.raises(adcompile.TypeInferenceError, match=match) as info:
        adcompile.interpret(fn, *args)
    assert info.value.filename.endswith("test_semantics.py")
    assert info.value.lineno == fn.__code__.co_firstlineno + 1


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("make,match", [
    (lambda: np.matrix([[1.0, 2.0]]), "numpy.matrix"),
    (lambda: np.uint8(3), "uint8 scalar"),
    (lambda: np.int32(3), "int32 scalar"),
    (lambda: 2 ** 64, "outside the 64-bit range"),
], ids=["matrix", "uint8", "int32", "big_int"])
def test_arguments_with_other_semantics_are_refused(make, match):
    with pytest.raises(adcompile.TypeInferenceError, match=match):
        adcompile.interpret(to_int, make())


def _tuple_read_in_nested_loops(x0, a2):
    y0 = np.zeros(1)
    y1 = np.zeros(4)
    tp0 = (y1, y0)
    c0 = 0
    for i1 in range(x0.shape[0]):
        for i2 in range(i1, 0, -2):
            if x0[i2 % x0.shape[0]] <= i2 * 0.5 and i1 % 2 == 1:
                break
        for i3 in range(i1 + 1, i1):
            for i4 in range(i1 - 1, y0.shape[0], 2):
                t5 = tp0[0][len(tp0[0]) - 1] * math.cos(a2)
                if c0 % 2 == 1:
                    pass
                elif c0 % 2 == 0:
                    c0 += i1
    return np.sum(tp0[0]) + np.sum(tp0[1]) + c0


def test_tuple_read_in_nested_loops_keeps_its_elements():
    """From a random program: a branch merge inside nested loops left element names of a
    tuple that the loops never rebind; the outer loop carried them from undef (an empty array
    on the interpreter)."""
    x = np.zeros(6)
    want = _tuple_read_in_nested_loops(x, 0.3)
    assert adcompile.interpret(_tuple_read_in_nested_loops, x, 0.3) == want
    for b in ("numba", "llvm"):
        assert adcompile.jit(_tuple_read_in_nested_loops, backend=b)(x, 0.3) == want


def _tuple_bound_on_one_path(a0, x0):
    y0 = np.zeros(2)
    tp0 = (y0, y0)
    if a0 > 3.0:
        return 1.0
    if a0 > 1.0:
        y0 -= a0
        tp1 = (y0, tp0[1])
        if a0 > 2.0:
            return 2.0 + tp1[1][0]
    while a0 < 0.0:
        a0 += 1.0
    return a0 + np.sum(tp0[0])


def _tuple_bound_where_the_other_path_returns(a0, x0):
    y0 = np.zeros(2)
    if a0 > 1.0:
        tp1 = (y0 + a0, x0)
    else:
        return 5.0
    return np.sum(tp1[0]) + tp1[1][0]


def _tuple_maybe_unbound(a0, x0):
    if a0 > 1.0:
        tp1 = (x0, x0)
    return np.sum(tp1[0])


@pytest.mark.parametrize("fn", [_tuple_bound_on_one_path,
                                _tuple_bound_where_the_other_path_returns])
@pytest.mark.parametrize("a", [-1.5, 0.5, 1.5, 2.5, 3.5])
def test_tuple_bound_on_one_path_of_an_if(fn, a):
    """From a random program: a tuple bound in one branch only kept the branch's values after
    the if (invalid IR when an enclosing early-return guard merged it)."""
    x = np.array([0.75])
    want = fn(a, x.copy())
    assert adcompile.interpret(fn, a, x.copy()) == want
    assert adcompile.jit(fn, backend="llvm")(a, x.copy()) == want
    g = adcompile.grad(fn, backend="llvm")(a, x.copy())
    eps = 1e-6
    assert g == pytest.approx((fn(a + eps, x.copy()) - fn(a - eps, x.copy())) / (2 * eps),
                              abs=1e-6)


def test_tuple_maybe_unbound_is_refused():
    with pytest.raises(adcompile.TypeInferenceError, match="'tp1' may be used before"):
        adcompile.interpret(_tuple_maybe_unbound, 2.0, np.ones(2))


def test_lambda_inside_a_for_line_compiles():
    """grad of a lambda that inspect returns with its whole enclosing for line: the lambda
    is found from its code object's positions (was a precise rejection before lambdas were
    supported, tests/frontend/test_closures.py)."""
    import adcompile
    for _ in range(1): g = adcompile.grad(lambda x: x * x, backend="llvm")
    assert g(3.0) == 6.0
