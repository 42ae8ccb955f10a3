"""Misuse of generated libraries: the C entry points (called through ctypes with the lengths
and pointers a C caller passes) and the generated ctypes stub.

A C entry point returns an ADC_ERR_* code; a case turns it into the error the LLVM backend
raises for that code (`kernel_error(code, adc_last_error())`), so "precise" means the right
code with a message naming the output, argument or line. Libraries of this file's functions
are built once, on first use, into a temporary folder with `adcompile build`.
"""
# ruff: noqa
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np

from adcompile import AdError
from adcompile.backends.abi import ErrorCode
from adcompile.backends.llvm_backend import KernelError, KernelMemoryError, kernel_error
from adcompile.cli import run as cli_run
from tests.corpus.case import Case

HERE = os.path.abspath(__file__)
D, I64, P = ctypes.c_double, ctypes.c_int64, ctypes.c_void_p


def pair(x: "f64[:]", k: float):
    return x * k, k * np.sum(x)


def outer(x: "f64[:]", y: "f64[:]"):
    out = np.zeros((x.shape[0], y.shape[0]))
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            out[i, j] = x[i] * y[j]
    return out


def square_zeros(n: int):
    a = np.zeros((n, n))
    return a[0, 0] + 1.0


def reads(x: "f64[:]", n: int):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def divides(a: int, b: int):
    return a // b


def steps(x: "f64[:]", n: int):
    s = 0.0
    for i in range(n):
        s = s + np.sin(s + x[0])
    return s


def pick(idx: "i64[:]", x: "f64[:]"):
    s = 0.0
    for j in range(idx.shape[0]):
        s += x[idx[j]]
    return s


def flagged(x: "f64[:]", on: bool):
    return np.sum(x) if on else 0.0


BUILDS = {"pair": "primal,vjp", "outer": "primal", "square_zeros": "primal",
          "reads": "primal", "divides": "primal", "steps": "primal,grad", "pick": "primal",
          "flagged": "primal"}


@functools.lru_cache(maxsize=None)
def built() -> Path:
    root = Path(tempfile.mkdtemp(prefix="adc_corpus_abi_"))
    old = os.environ.get("ADCOMPILE_TAPE_LIMIT")
    os.environ["ADCOMPILE_TAPE_LIMIT"] = "4KB"   # `steps_grad` returns ADC_ERR_TAPE_BUDGET
    try:
        for name, modes in BUILDS.items():
            cli_run(["build", f"{HERE}:{name}", "--mode", modes, "--out", str(root / name)])
    finally:
        if old is None:
            os.environ.pop("ADCOMPILE_TAPE_LIMIT", None)
        else:
            os.environ["ADCOMPILE_TAPE_LIMIT"] = old
    return root


@functools.lru_cache(maxsize=None)
def lib(name: str):
    cdll = ctypes.CDLL(str(built() / name / f"lib{name}.so"))
    cdll.adc_last_error.restype = ctypes.c_char_p
    cdll.adc_strerror.restype = ctypes.c_char_p
    return cdll


@functools.lru_cache(maxsize=None)
def stub(name: str):
    spec = importlib.util.spec_from_file_location(f"_corpus_abi_{name}",
                                                  built() / name / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def c_call(name: str, symbol: str, argtypes: list, *args) -> None:
    """Call a C entry point; a nonzero code raises the backend's error for it."""
    cdll = lib(name)
    f = getattr(cdll, symbol)
    f.argtypes = argtypes
    rc = f(*args)
    if rc != 0:
        raise kernel_error(rc, cdll.adc_last_error().decode())


def ptr(a: np.ndarray | None):
    return None if a is None else a.ctypes.data_as(P)


PAIR = [P, I64, D, P, I64, P]
PAIR_VJP = [P, I64, D, P, I64, D, P, I64, P, P, I64, P]


def pair_call(n_in=4, n_out=4, data=True, out0=True, out1=True):
    x = np.arange(4.0)
    o0, o1 = np.full(max(n_out, 0) if out0 else 0, -7.0), D(-7.0)
    c_call("pair", "pair", PAIR, ptr(x) if data else None, n_in, 2.0,
           ptr(o0) if out0 else None, n_out, ctypes.byref(o1) if out1 else None)
    return o0, o1.value


def pair_untouched():
    """After a shape error nothing was written: (code, scalar output, array output)."""
    x, o0, o1 = np.arange(4.0), np.full(3, -7.0), D(-7.0)
    f = lib("pair").pair
    f.argtypes = PAIR
    rc = f(ptr(x), 4, 2.0, ptr(o0), 3, ctypes.byref(o1))
    return rc, o1.value, o0


def pair_vjp(n_cot: int):
    x, cot = np.arange(4.0), np.ones(n_cot)
    o0, xb = np.zeros(4), np.zeros(4)
    o1, kb = D(0.0), D(0.0)
    c_call("pair", "pair_vjp", PAIR_VJP, ptr(x), 4, 2.0, ptr(cot), n_cot, 1.0, ptr(o0), 4,
           ctypes.byref(o1), ptr(xb), 4, ctypes.byref(kb))
    return o0, o1.value, xb, kb.value


def outer_call(n0: int, n1: int, m0: int = 3, m1: int = 2):
    x, y, out = np.ones(3), np.ones(2), np.zeros(max(n0 * n1, 0))
    c_call("outer", "outer", [P, I64, P, I64, P, I64, I64], ptr(x), m0, ptr(y), m1,
           ptr(out), n0, n1)
    return out.reshape(n0, n1)


def scalar_call(name: str, argtypes: list, *args):
    out = D(-7.0) if name != "divides" else I64(-7)
    c_call(name, name, argtypes + [P], *args, ctypes.byref(out))
    return out.value


def error_names():
    return tuple(sorted(stub("pair").ERROR_NAMES.items()))


def case(name, runner, where, error=AdError):
    return Case(name, run=runner, expect="error", error=error, where=where, category="abi")


def same(name, runner, reference):
    return Case(name, run=runner, expect="python", python=reference, where=None,
                category="abi")


X4 = np.arange(4.0)

CASES = [
    # -- output buffers: checked before anything is written
    case("output_too_short", lambda: pair_call(n_out=3), "output 'out0'"),
    case("output_too_long", lambda: pair_call(n_out=5), "has shape (5)"),
    same("output_error_writes_nothing", pair_untouched,
         lambda: (int(ErrorCode.SHAPE), -7.0, np.full(3, -7.0))),
    case("output_2d_wrong_axis", lambda: outer_call(3, 3), "(3, 3)"),
    case("output_2d_transposed", lambda: outer_call(2, 3), "(2, 3)"),
    case("output_scalar_null", lambda: pair_call(out1=False), "output 'out1' is a NULL pointer"),
    case("output_array_null", lambda: pair_call(out0=False), "output 'out0' is a NULL pointer"),
    same("output_correct", lambda: pair_call(), lambda: (X4 * 2.0, 2.0 * X4.sum())),
    # -- inputs
    case("input_negative_length", lambda: pair_call(n_in=-1), "negative length"),
    case("input_null_data", lambda: pair_call(data=False), "argument 'x' is a NULL pointer"),
    case("input_length_overflows", lambda: pair_call(n_in=2**61), "64 bits"),
    case("input_length_bytes_overflow", lambda: outer_call(3, 2, 2**61, 2), "argument 'x'",
         KernelError),
    same("input_empty_may_be_null", lambda: outer_call(0, 2, 0, 2), lambda: np.zeros((0, 2))),
    # -- vjp cotangents
    case("cotangent_too_short", lambda: pair_vjp(3), "cotangent of output 0"),
    case("cotangent_broadcastable", lambda: pair_vjp(1), "cotangent of output 0"),
    case("cotangent_too_long", lambda: pair_vjp(5), "cotangent of output 0"),
    same("cotangent_correct", lambda: pair_vjp(4),
         lambda: (X4 * 2.0, 2.0 * X4.sum(), np.full(4, 4.0), 2.0 * X4.sum())),
    # -- what the kernels report
    case("alloc_bytes_wrap_2_64", lambda: scalar_call("square_zeros", [I64], 2**32), "too big",
         KernelMemoryError),
    case("alloc_bytes_wrap_2_65", lambda: scalar_call("square_zeros", [I64], 2**31), "too big",
         MemoryError),
    same("alloc_small", lambda: scalar_call("square_zeros", [I64], 3), lambda: 1.0),
    case("index_past_the_end", lambda: scalar_call("reads", [P, I64, I64], ptr(X4), 4, 9),
         "out of bounds"),
    case("integer_division_by_zero", lambda: scalar_call("divides", [I64, I64], 7, 0),
         "by zero"),
    case("tape_budget_code", lambda: stub("steps").steps_grad(np.ones(1), 100000),
         "ADC_ERR_TAPE_BUDGET"),
    same("strerror_knows_tape_budget",
         lambda: lib("pair").adc_strerror(int(ErrorCode.TAPE_BUDGET)) != b"unknown error code",
         lambda: True),
    same("stub_error_names", error_names,
         lambda: tuple(sorted((int(c), c.name) for c in ErrorCode))),
    # -- the ctypes stub: every value checked against its argument before the call
    case("stub_float_for_i64", lambda: stub("reads").reads(X4, 2.5), "'n' (i64) got float"),
    case("stub_bool_for_i64", lambda: stub("reads").reads(X4, True), "'n' (i64) got bool"),
    case("stub_int_beyond_64_bits", lambda: stub("reads").reads(X4, 2**64), "64 bits"),
    case("stub_str_for_f64", lambda: stub("pair").pair(X4, "2"), "'k' (f64) got str"),
    case("stub_none_for_f64", lambda: stub("pair").pair(X4, None), "'k' (f64) got NoneType"),
    case("stub_int_for_bool", lambda: stub("flagged").flagged(X4, 1), "'on' (bool)"),
    case("stub_wrong_ndim", lambda: stub("pair").pair(np.ones((2, 2)), 1.0), "2-d array"),
    case("stub_complex_array", lambda: stub("pair").pair(X4 + 1j, 1.0), "complex128"),
    case("stub_float_array_for_i64", lambda: stub("pick").pick(np.array([0.5]), X4),
         "'idx'"),
    case("stub_too_few_arguments", lambda: stub("pair").pair(X4), "takes 2 arguments (x, k)"),
    case("stub_too_many_arguments", lambda: stub("pair").pair(X4, 1.0, 2.0), "got 3"),
    case("stub_kernel_index_error", lambda: stub("reads").reads(X4, 9), "ADC_ERR_INDEX"),
    case("stub_kernel_alloc_error", lambda: stub("square_zeros").square_zeros(2**32),
         "ADC_ERR_ALLOC"),
    case("stub_vjp_cotangent", lambda: stub("pair").pair_vjp(X4, 1.0, np.ones(2), 1.0),
         "ADC_ERR_SHAPE"),
    same("stub_list_for_array", lambda: stub("pair").pair([0.0, 1.0, 2.0, 3.0], 2.0),
         lambda: pair(X4, 2.0)),
    same("stub_int_array_for_f64", lambda: stub("pair").pair(np.arange(4), 2.0),
         lambda: pair(X4, 2.0)),
    same("stub_numpy_scalars", lambda: stub("reads").reads(X4, np.int64(3)),
         lambda: reads(X4, 3)),
]
