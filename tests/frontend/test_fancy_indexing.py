"""Fancy (integer-array) and boolean-mask indexing as reads and writes (frontend/fancy.py):
values against NumPy on the interpreter, LLVM and numba; derivatives (the gather's adjoint
is a scatter-add) against central finite differences and the forward-vs-reverse dot-product
test; NumPy's `x[idx] += v` semantics with repeated indices; bounds and shape errors."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad

RNG = np.random.default_rng(3)
T = RNG.normal(size=(4, 3))
T3 = RNG.normal(size=(2, 3, 4))
X = RNG.normal(size=5)
IDX = np.array([2, 0, 2, -1])
J = np.array([0, 2, 1, 1])
XI = np.array([1, 3, 1])
M1 = np.array([True, False, True, True])


def gather(t, idx):
    return t[idx]


def gather_col(t, idx):
    return t[:, idx]


def gather_pair(t, i, j):
    return t[i, j]


def gather_split(t, idx):
    return t[1, :, idx]     # index arrays apart: NumPy puts their axis first


def gather_last(t, idx):
    return t[:, 0, idx]


def masked(x, m):
    return x[m]


def masked_rows(x, m):
    return x[m, :]


def positive(x):
    return x[x > 0.0] * 2.0


def scatter(x, idx, v):
    y = x * 1.0
    y[idx] = v
    return y


def scatter_add(x, idx, v):
    y = x * 1.0
    y[idx] += v
    return y


def clip_negative(x):
    y = x * 1.0
    y[x < 0.0] = 0.0
    return y


def fill_mask(x, v):
    y = x * 1.0
    y[x > 0.0] = v
    return y


# (function, args, index of the float argument differentiated)
CASES = {
    "gather": (gather, (T, IDX), 0),
    "gather_col": (gather_col, (T, J[:2]), 0),
    "gather_pair": (gather_pair, (T, IDX, J), 0),
    "gather_split": (gather_split, (T3, J), 0),
    "gather_last": (gather_last, (T3, J), 0),
    "mask_full": (masked, (T, T > 0), 0),
    "mask_1d": (masked, (X, X > 0), 0),
    "mask_rows": (masked_rows, (T, M1), 0),
    "mask_expr": (positive, (X,), 0),
    "scatter_scalar": (scatter, (X, XI, 7.0), 0),
    "scatter_array": (scatter, (X, XI, np.array([1.0, 2.0, 3.0])), 2),
    "scatter_add": (scatter_add, (X, XI, np.array([1.0, 2.0, 3.0])), 2),
    "scatter_add_x": (scatter_add, (X, XI, 1.5), 0),
    "clip_negative": (clip_negative, (T,), 0),
    "fill_mask": (fill_mask, (X, np.array([4.0, 5.0])), 1),
}


@pytest.mark.parametrize("name", list(CASES))
def test_values_interpreter_and_llvm(name):
    f, args, _ = CASES[name]
    want = f(*args)
    for got in (ad.interpret(f, *args), ad.jit(f, backend="llvm")(*args)):
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("name", ["gather_pair", "mask_full", "scatter_add", "fill_mask"])
def test_values_numba(name):
    f, args, _ = CASES[name]
    np.testing.assert_allclose(ad.jit(f, backend="numba")(*args), f(*args))




@pytest.mark.parametrize("name", list(CASES))
def test_derivatives_fd_and_dot_product(name):
    f, args, k = CASES[name]
    x = np.asarray(args[k], dtype=float)
    out = f(*args)
    w = RNG.normal(size=np.shape(out))
    v = RNG.normal(size=x.shape)
    _, pullback = ad.vjp(f, *args, backend="llvm")
    g = pullback(w)[k]
    tangents = tuple(v if i == k else None for i in range(len(args)))
    _, dot = ad.jvp(f, args, tangents, backend="llvm")
    lhs, rhs = float(np.sum(dot * w)), float(np.sum(v * g))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))
    h = 1e-6

    def at(d):
        a = list(args)
        a[k] = x + d
        return f(*a)
    fd = float(np.sum((at(h * v) - at(-h * v)) * w)) / (2 * h)
    assert abs(fd - rhs) <= 1e-6 * max(1.0, abs(fd))


def test_repeated_indices():
    # reads: the adjoint accumulates (row 2 read twice gets twice the gradient)
    g = ad.grad(lambda_free_loss, backend="llvm")(T, IDX)
    want = np.zeros_like(T)
    np.add.at(want, IDX, 2 * T[IDX])
    np.testing.assert_allclose(g, want)
    # y[idx] += v with a repeated index adds once, as NumPy's += (not np.add.at)
    v = np.array([1.0, 2.0, 3.0])
    got = ad.jit(scatter_add, backend="llvm")(X, XI, v)
    want = X.copy()
    want[XI] += v
    np.testing.assert_allclose(got, want)
    assert np.isclose(got[1], X[1] + 3.0)


def lambda_free_loss(t, idx):
    return np.sum(t[idx] ** 2)


def test_out_of_bounds_and_shape_errors():
    with pytest.raises(IndexError, match="out of bounds"):
        ad.jit(gather, backend="llvm")(T, np.array([4]))
    with pytest.raises(IndexError):
        ad.interpret(gather, T, np.array([-5]))
    with pytest.raises(ValueError, match="boolean index did not match"):
        ad.jit(masked, backend="llvm")(X, np.array([True, False]))
    with pytest.raises(ValueError, match="could not be broadcast"):
        ad.jit(gather_pair, backend="llvm")(T, IDX, J[:2])
    with pytest.raises(ad.TypeInferenceError, match="integers or booleans"):
        ad.interpret(gather, T, np.array([0.0, 1.0]))


@pytest.mark.parametrize("dt", [np.int32, np.uint8, np.int16])
def test_narrow_index_dtypes(dt):
    idx = np.array([3, 0, 3], dtype=dt)
    want = gather(T, idx)
    np.testing.assert_allclose(ad.jit(gather, backend="llvm")(T, idx), want)
    np.testing.assert_allclose(ad.interpret(gather, T, idx), want)
    g = ad.grad(lambda_free_loss, backend="llvm")(T, idx)
    ref = np.zeros_like(T)
    np.add.at(ref, idx.astype(np.int64), 2 * T[idx])
    np.testing.assert_allclose(g, ref)
    with pytest.raises(ad.TypeInferenceError, match="uint64"):
        ad.jit(gather, backend="llvm")(T, idx.astype(np.uint64))
