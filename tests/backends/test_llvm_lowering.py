"""The split between IR lowering and the LLVM codegen: every primitive is either rewritten
before the backend (lower_arrays, scalar_semantics) or emitted by the codegen; Python slice
semantics at IR level (interpreter, LLVM, numba on the lowered form) equal NumPy; error codes
equal the C runtime header's."""
from __future__ import annotations

import copy
import re

import llvmlite.ir as lir
import numpy as np
import pytest

import adcompile as ad
from adcompile import messages
from adcompile.backends import abi, llvm_codegen
from adcompile.backends.llvm_backend import KernelIndexError, KernelValueError, build, runtime_dir
from adcompile.driver.compile import build_ir
from adcompile.ir.builder import Builder
from adcompile.ir.core import Block, Function, Value
from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.ir.primitives import PRIMITIVES
from adcompile.ir.types import BOOL, F32, F64, I64
from adcompile.ir.verifier import verify
from adcompile.signature import signature_of
from adcompile.transforms.lower_arrays import MEMORY_OPS, lower_arrays, lowers
from adcompile.transforms.pipeline import LOWERED_PIPELINE, run_passes
from adcompile.transforms.scalar_semantics import EXPANDED, scalar_semantics


# -- the ABI module against the C runtime ---------------------------------------------------------
def test_error_codes_equal_the_runtime_header():
    text = (runtime_dir() / "include" / "adcompile_runtime.h").read_text()
    header = {m[1]: int(m[2]) for m in re.finditer(r"#define ADC_(OK|ERR_\w+)\s+(\d+)", text)}
    python = {("OK" if c.name == "OK" else "ERR_" + c.name): int(c) for c in abi.ErrorCode}
    assert header == python
    assert len(header) >= 7


# -- which primitive goes where ------------------------------------------------------------------
CONTROL = {"yield", "condition", "return"}


def test_every_primitive_is_lowered_or_emitted():
    emitted = set(llvm_codegen._OPS) | llvm_codegen.SCALAR_OPS | CONTROL
    array_only = {p for p, prim in PRIMITIVES.items()
                  if prim.kind in ("alloc", "array", "index", "reduce", "linalg")}
    lowered = array_only - set(MEMORY_OPS)          # what lower_arrays removes entirely
    missing = set(PRIMITIVES) - emitted - lowered - set(EXPANDED)
    assert not missing, f"neither lowered nor emitted by the LLVM codegen: {sorted(missing)}"
    # what is lowered or expanded is really gone from the codegen's table
    assert not (lowered - {"undef"}) & set(llvm_codegen._OPS)
    assert not set(EXPANDED) & (set(llvm_codegen._OPS) | llvm_codegen.SCALAR_OPS)


def _scalar_cases(p: str):
    """(operand types) the type rule of scalar primitive p accepts."""
    out = []
    for ts in ([F64], [F32], [I64], [BOOL], [F64, F64], [F32, F32], [I64, I64], [BOOL, BOOL],
               [F64, I64], [BOOL, F64, F64], [BOOL, I64, I64]):
        try:
            PRIMITIVES[p].rule(ts, {"to": "f64"})
        except Exception:   # noqa: BLE001 - the rule rejects these operand types
            continue
        out.append(ts)
    return out


@pytest.mark.parametrize("p", sorted(llvm_codegen.SCALAR_OPS | set(EXPANDED) | {"abs"}))
def test_scalar_primitives_compile_after_scalar_semantics(p):
    """Every scalar primitive, on every dtype its rule accepts, reaches LLVM IR."""
    cases = _scalar_cases(p)
    assert cases, p
    for ts in cases:
        args = [Value(f"a{k}", t) for k, t in enumerate(ts)]
        body = Block()
        bld = Builder(body)
        attrs = {"to": "f64"} if p == "cast" else {}
        (t,) = PRIMITIVES[p].rule(ts, attrs)
        y = bld.op(p, args, [t], attrs).results[0]
        bld.op("return", [y], [])
        fn = scalar_semantics(Function(f"f_{p}", args, body, [t]))
        verify(fn)
        if p in EXPANDED or (p == "abs" and ts == [I64]):
            assert all(op.prim != p for op in fn.walk())
        llvm_codegen.FunctionCodegen(lir.Module(), fn, f"f_{p}").generate()


# -- slices: Python semantics at IR level ------------------------------------------------------
def slices(x, A, i, k):
    return (x[1:], x[::-1], x[-3:], x[:-2], x[1:-1:2], x[::-2], x[5:1:-1], x[-100:100], x[3:3],
            A[i], A[:, 1], A[1:, ::-1], A[-1, 1:], np.sum(x[1:] * x[:-1]),
            np.sum(A[:, ::2], axis=0), A.T, x[k:], x[:k:-1], x[-k::3], A[i, :k])


def writes(x, A, i, k):
    y = x.copy()
    y[1:4] = 7.0
    y[::-2] = x[: (x.shape[0] + 1) // 2] * 2.0
    B = A.copy()
    B[i] = x[:A.shape[1]]
    B[:, 0] = -1.0
    B[1:, k:] = A[:-1, k:] + 1.0
    return (y, B, np.zeros((2, 3)), np.ones(4), np.full(3, 2.5), np.arange(k, 17, 3),
            np.arange(0.5, 3.0, 0.25), np.arange(10, k, -2))


def views(x, A):
    d = x[1:] - x[:-1]
    return np.sum(d * d) + np.max(A.T[1:, ::2]) + np.sum(A[::-1, 1:] * A[:, :-1])


rng = np.random.default_rng(4)
X, A = rng.normal(size=9), rng.normal(size=(4, 5))
SLICE_CASES = [(slices, (X, A, -2, 2)), (slices, (X, A, 1, -4)), (slices, (X, A, 3, 7)),
               (writes, (X, A, 2, 2)), (writes, (X, A, -1, -3)), (views, (X, A)),
               (views, (X[:2], A[:1]))]


def _assert_equal(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("k", range(len(SLICE_CASES)))
def test_lowered_slices_follow_python_on_the_interpreter(k):
    f, args = SLICE_CASES[k]
    fn = build_ir(f, signature_of(f, args))["primal"]
    low = lower_arrays(copy.deepcopy(fn))
    verify(low)
    left = sorted({op.prim for op in low.walk() if lowers(op)})
    assert not left, f"not lowered: {left}"
    _assert_equal(run_function(low, list(args)), f(*args))


@pytest.mark.parametrize("k", range(len(SLICE_CASES)))
def test_lowered_slices_follow_python_on_llvm(k):
    f, args = SLICE_CASES[k]
    _assert_equal(ad.jit(f, backend="llvm")(*args), f(*args))


def test_numba_runs_the_lowered_form():
    lowered = ad.CompileOptions(backend="numba", lower_arrays=True)
    for f, args in (SLICE_CASES[0], SLICE_CASES[3], SLICE_CASES[5]):
        jf = ad.jit(f, options=lowered)
        _assert_equal(jf(*args), f(*args))
        assert "getslice" not in {op.prim for op in jf._last.ir["backend"].walk()}


def test_views_read_by_elementwise_consumers_are_not_copied():
    fn = build_ir(views, signature_of(views, (X, A)))["primal"]
    low = lower_arrays(copy.deepcopy(fn))
    # no array is written: the five slices and A.T are read in place, d (square(d) after
    # simplify) inside its sum's loop
    assert "getslice" in {op.prim for op in fn.walk()}
    assert not any(op.prim in ("empty", "setitem") for op in low.walk())


def _extent_of_view(x):
    y = x[1:]
    return np.sum(y * 2.0) / y.shape[0] + y.size


def test_extents_of_a_view_do_not_copy_it():
    fn = build_ir(_extent_of_view, signature_of(_extent_of_view, (X,)))["primal"]
    assert {"dim", "size", "getslice"} <= {op.prim for op in fn.walk()}
    low = lower_arrays(copy.deepcopy(fn))
    assert not any(op.prim in ("empty", "setitem") for op in low.walk())
    assert run_function(low, [X]) == pytest.approx(_extent_of_view(X), rel=1e-14)
    assert ad.jit(_extent_of_view, backend="llvm")(X) == pytest.approx(_extent_of_view(X),
                                                                       rel=1e-14)


def _row(A, i):
    return np.sum(A[i] * 2.0)


def _col(A, j):
    return A[:, j]


def test_row_and_column_indices_are_checked_like_element_access():
    M = np.arange(6.0).reshape(2, 3)
    assert ad.jit(_row, backend="llvm")(M, -1) == pytest.approx(2 * (3 + 4 + 5))
    np.testing.assert_array_equal(ad.jit(_col, backend="llvm")(M, -1), M[:, -1])
    with pytest.raises(KernelIndexError, match=r"test_llvm_lowering.py:\d+: index out of bounds"):
        ad.jit(_row, backend="llvm")(M, 2)
    with pytest.raises(KernelIndexError, match="index out of bounds"):
        ad.jit(_col, backend="llvm")(M, -4)


# a slice step that is not a constant (the frontend only makes constant steps), in IR text
DYNAMIC_STEP = """func @dyn(%x: f64[:], %lo: i64, %step: i64) -> (f64[:]) {
  %s: f64[:] = getslice(%x, %lo, %step) {spec='s101'}
  return(%s)
}
"""


@pytest.mark.parametrize("lo,step", [(0, 1), (1, 2), (-2, -1), (7, -3), (-100, 4), (5, -100)])
def test_dynamic_slice_steps(lo, step):
    x = np.arange(8.0)
    fn = run_passes(parse_function(DYNAMIC_STEP), LOWERED_PIPELINE)
    np.testing.assert_array_equal(run_function(copy.deepcopy(fn), [x, lo, step]),
                                  x[lo::step])
    call = build(fn, "dyn_step")[0]
    np.testing.assert_array_equal(call(x, lo, step), x[lo::step])


def test_zero_slice_step_stops_the_program():
    fn = run_passes(parse_function(DYNAMIC_STEP), LOWERED_PIPELINE)
    with pytest.raises(ValueError, match=messages.SLICE_STEP):
        run_function(copy.deepcopy(fn), [np.ones(3), 0, 0])
    call = build(fn, "dyn_step")[0]
    with pytest.raises(KernelValueError, match=messages.SLICE_STEP):
        call(np.ones(3), 0, 0)


# -- NumPy scalar semantics written out in IR ----------------------------------------------------
def _scalars(a, b, x, y):
    return (np.minimum(x, y), np.maximum(x, y), np.sign(x), np.sign(a), abs(a),
            np.minimum(a, b), np.maximum(a, b), a // b, a % b, x // y, x % y)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's x // 0.0 in the reference
@pytest.mark.parametrize("a,b,x,y", [(7, -2, np.nan, 1.0), (-7, 3, 2.5, np.nan),
                                     (0, 5, -0.0, 3.0), (-9, -4, -3.5, 2.0)])
def test_scalar_semantics_equal_numpy(a, b, x, y):
    """(Python floats divided by zero raise ZeroDivisionError, as in CPython:
    tests/backends/test_zero_division.py.)"""
    want = tuple(np.asarray(v).item() for v in _scalars(np.int64(a), np.int64(b),
                                                        np.float64(x), np.float64(y)))
    got = ad.jit(_scalars, backend="llvm")(a, b, x, y)
    for g, w in zip(got, want):
        assert (np.isnan(g) and np.isnan(w)) or (g == w and np.signbit(g) == np.signbit(w))



def _nan_reductions(x, A):
    return np.max(x), np.min(x), np.max(A, axis=0), np.min(A, axis=1), np.sum(x), np.mean(A)


def test_max_and_min_propagate_nan_as_numpy():
    x = np.array([1.0, np.nan, 3.0, -2.0])
    A = np.array([[1.0, 2.0, np.nan], [np.nan, 0.5, -1.0], [4.0, -3.0, 2.0]])
    got = ad.jit(_nan_reductions, backend="llvm")(x, A)
    for g, w in zip(got, _nan_reductions(x, A)):
        np.testing.assert_array_equal(g, w)    # NaN where NumPy has NaN

