"""Array lowering: NumPy semantics (broadcasting, reductions, matmul, dtypes, empty arrays,
errors) kept by the loop nests, on the interpreter and compiled by the LLVM backend."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import adcompile as ad
from adcompile.driver.compile import build_ir
from adcompile.ir.interpreter import run_function
from adcompile.ir.verifier import verify
from adcompile.signature import signature_of
from adcompile.transforms.lower_arrays import lower_arrays


def bcast(a, b):
    return np.sum(np.exp(a) * b - a / (1.0 + b * b))


def outer_like(col, row):
    return np.sum(col * row, axis=0) + np.max(col + row, axis=0), np.min(col - row, axis=1)


def reductions(A):
    return (np.sum(A), np.prod(A[0]), np.max(A), np.min(A, axis=0), np.mean(A, axis=1),
            np.sum(A, axis=0))


def int_reductions(k):
    return np.sum(k * 2), np.max(k), np.min(k - 3)


def products(A, B, v):
    return A @ B.T, A @ v, v @ B.T, v @ v


def where_cast(x, t):
    return np.sum(np.where(x > t, x, 0.0)) + np.sum((x < t) * 1.0)


def f32_chain(x):
    return np.sum(np.sin(x) * x) + np.max(x)


rng = np.random.default_rng(0)
CASES = [
    (bcast, (rng.normal(size=(3, 4)), rng.normal(size=4))),
    (bcast, (rng.normal(size=(3, 1)), rng.normal(size=(1, 5)))),
    (bcast, (rng.normal(size=5), 0.5)),
    (outer_like, (rng.normal(size=(4, 1)), rng.normal(size=(1, 3)))),
    (reductions, (rng.normal(size=(3, 5)),)),
    (int_reductions, (np.arange(-4, 7),)),
    (products, (rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), rng.normal(size=4))),
    (where_cast, (rng.normal(size=7), 0.1)),
    (f32_chain, (rng.normal(size=6).astype(np.float32),)),
    (bcast, (np.zeros((0, 3)), np.ones(3))),      # empty arrays: sums are 0
]


def _lowered(f, args):
    fn = build_ir(f, signature_of(f, args))["primal"]
    low = lower_arrays(copy.deepcopy(fn))
    verify(low)
    return fn, low


def _close(got, want, f32: bool):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5 if f32 else 1e-12, atol=1e-12)


@pytest.mark.parametrize("k", range(len(CASES)))
def test_lowered_ir_matches_numpy(k):
    f, args = CASES[k]
    fn, low = _lowered(f, args)
    want = f(*args)
    f32 = any(np.asarray(a).dtype == np.float32 for a in args)
    _close(run_function(low, list(args)), want, f32)
    text = str(low.body.ops)
    for prim in ("'sum'", "'matmul'", "'max'", "'mean'"):
        assert f"prim={prim}" not in text


@pytest.mark.parametrize("k", range(len(CASES)))
def test_llvm_compiles_the_lowered_form(k):
    f, args = CASES[k]
    f32 = any(np.asarray(a).dtype == np.float32 for a in args)
    _close(ad.jit(f, backend="llvm")(*args), f(*args), f32)


def _max_of(x):
    return np.max(x * 2.0)


def _mismatch(a, b):
    return np.sum(a * b)


def test_errors_keep_numpy_meaning():
    fn, low = _lowered(_mismatch, (np.ones(3), np.ones(3)))
    with pytest.raises(ValueError, match="do not broadcast"):
        run_function(low, [np.ones(3), np.ones(4)])
    with pytest.raises(ad.AdError, match=r"test_lower_arrays.py:\d+: array shapes do not "
                                         r"broadcast"):
        ad.jit(_mismatch, backend="llvm")(np.ones(3), np.ones(4))
    with pytest.raises(ad.AdError, match=r"max\(\) of an empty array"):
        ad.jit(_max_of, backend="llvm")(np.ones(0))


def _grad_case(x, w):
    return np.sum(np.tanh(x * w) ** 2) + np.mean(np.exp(-x))


def test_lowered_gradients_equal_the_array_form(monkeypatch):
    x, w = rng.normal(size=50), rng.normal(size=50)
    lowered = ad.grad(_grad_case, argnums=(0, 1), backend="llvm")(x, w)
    want = ad.grad(_grad_case, argnums=(0, 1), backend="numba")(x, w)   # array form
    for g, r in zip(lowered, want):
        np.testing.assert_allclose(g, r, rtol=1e-12)


def _branch_scratch(x, n):
    total = 0.0
    for t in range(n):
        if t % 2 == 0:
            w = np.empty(x.shape[0])     # scratch inside a branch, never leaves it
            for i in range(x.shape[0]):
                w[i] = x[i] * t
            total += np.sum(w)
        else:
            total -= 1.0
    return total


def test_reuse_buffers_reaches_branch_scratch_arrays():
    from adcompile.ir.printer import print_function
    args = (np.linspace(0.0, 1.0, 4), 5)
    st = build_ir(_branch_scratch, signature_of(_branch_scratch, args))
    text = print_function(st["backend"])
    assert text.index("empty(") < text.index("= for(")      # allocated once, before the loop
    assert run_function(st["backend"], list(args)) == pytest.approx(_branch_scratch(*args))
    assert ad.jit(_branch_scratch)(*args) == pytest.approx(_branch_scratch(*args))
    assert ad.jit(_branch_scratch, backend="llvm")(*args) == pytest.approx(_branch_scratch(*args))
