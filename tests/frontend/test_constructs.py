"""Every construct of the supported subset compiles and matches CPython.

For each function of `construct_programs.py` and each of its argument sets:
CPython result == `adcompile.interpret` result == `adcompile.jit` result, with
rtol 1e-12 for float64 (1e-6 for float32 results), exact equality for integers and booleans,
and the same kind of result: ints stay integers, bools stay booleans, arrays keep their shape
and dtype (float32 in -> float32 out).  Neither runner may modify its arguments.

One test per function (all its argument sets inside) so that a function is compiled once
per worker; numba compiles dominate the runtime.
"""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

import adcompile

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name: str):
    """Import a sibling module by path (independent of pytest's rootdir/sys.path handling)."""
    modname = f"_adcompile_tests_frontend_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, os.path.join(_HERE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


cp = _load("construct_programs")

RTOL64, ATOL64 = 1e-12, 1e-13
RTOL32, ATOL32 = 1e-6, 1e-6


# ---- argument data (built fresh for every call) ---------------------------------------------

def vec(n=6, lo=0.3, hi=2.7):
    return np.linspace(lo, hi, n)


def signed_vec():
    return np.array([1.5, -0.5, 3.0, 12.0, 2.0, -4.0, 0.25])


def mat(n=3, m=4):
    return np.linspace(-1.0, 2.0, n * m).reshape(n, m)


def sq(n=3, shift=0.0):
    return np.linspace(0.5, 3.0, n * n).reshape(n, n) + shift


def cube():
    return np.linspace(-2.0, 3.0, 2 * 3 * 4).reshape(2, 3, 4)


def f32(a):
    return np.asarray(a, dtype=np.float32)


# name -> list of argument-tuple factories
ARGS = {
    "c_float_arith": [lambda: (1.7, 0.6), lambda: (2.5, -3.0)],
    "c_int_arith": [lambda: (7, 3), lambda: (-7, 3), lambda: (7, -3), lambda: (-8, -3)],
    "c_int_true_division": [lambda: (7, 2), lambda: (-9, 4)],
    "c_mixed_int_float": [lambda: (3, 0.25), lambda: (-2, 1.5)],
    "c_bool_logic": [lambda: (True, False), lambda: (True, True), lambda: (False, False)],
    "c_conversions": [lambda: (2.7, 3), lambda: (0.0, 0), lambda: (-1.25, -4)],
    "c_builtins": [lambda: (-1.5, 2.0, -3, 4), lambda: (2.5, 0.5, 5, -6)],
    "c_math_exp_log": [lambda: (0.7,), lambda: (3.2,)],
    "c_math_trig": [lambda: (0.4,), lambda: (-1.3,)],
    "c_math_inverse_trig": [lambda: (0.3, 2.0), lambda: (-0.8, -0.5)],
    "c_math_misc": [lambda: (-1.5, 2.5), lambda: (0.3, 0.7)],
    "c_math_floor_ceil": [lambda: (2.5,), lambda: (-2.5,), lambda: (3.0,)],
    "c_math_consts": [lambda: (0.5,), lambda: (-7.0,)],
    "c_if_elif_else": [lambda: (-3.0,), lambda: (0.5,), lambda: (1.0,), lambda: (4.0,)],
    "c_if_no_else": [lambda: (2.0,), lambda: (-2.0,)],
    "c_ifexp": [lambda: (1.5, 2), lambda: (1.5, -3)],
    "c_chained_compare": [lambda: (0.5, 1.0, 2.0), lambda: (0.5, 2.0, 1.0),
                          lambda: (1.0, 1.0, 1.0), lambda: (-1.0, 0.0, 0.0)],
    "c_short_circuit_index": [lambda: (np.array([1.0, 2.0, 3.0]), 3),
                              lambda: (np.array([1.0, -2.0, 3.0]), 3),
                              lambda: (np.array([-1.0, 2.0, 3.0]), 3)],
    "c_short_circuit_division": [lambda: (0.0,), lambda: (1.0,), lambda: (-4.0,)],
    "c_range_forms": [lambda: (10,), lambda: (0,), lambda: (2,)],
    "c_range_runtime_step": [lambda: (10, 0, -3), lambda: (0, 10, 3), lambda: (5, 5, 1),
                             lambda: (-2, -9, -1), lambda: (3, 1, 1)],
    "c_range_negative_const": [lambda: (5,), lambda: (0,)],
    "c_while": [lambda: (37.0,), lambda: (0.5,)],
    "c_while_true_break": [lambda: (0.0,), lambda: (100.0,)],
    "c_break_continue": [lambda: (signed_vec(),), lambda: (vec(),)],
    "c_early_return_in_loop": [lambda: (vec(), 1.0), lambda: (vec(), 5.0)],
    "c_early_return_nested_loops": [lambda: (mat(), 1.0), lambda: (mat(), 9.0)],
    "c_early_return_branch": [lambda: (-1.0,), lambda: (2.25,), lambda: (9.0,)],
    "c_nested_loops_2d": [lambda: (mat(),)],
    "c_tuple_swap": [lambda: (10,), lambda: (0,)],
    "c_tuple_pack_unpack": [lambda: (mat(),)],
    "c_augassign": [lambda: (1.5, 7), lambda: (-0.5, -4)],
    "c_multiple_results": [lambda: (signed_vec(),)],
    "c_helper_call": [lambda: (1.5,)],
    "c_helper_nested": [lambda: (3.0, 4.0)],
    "c_helper_early_return": [lambda: (signed_vec(),)],
    "c_helper_tuple": [lambda: (signed_vec(),)],
    "c_helper_array": [lambda: (vec(),), lambda: (mat(),)],
    "c_global_consts": [lambda: (2.0, 4), lambda: (-5.0, -1)],
    "c_closure": [lambda: (2.0,)],
    "c_create_filled": [lambda: (4, 3, 1.25)],
    "c_create_empty": [lambda: (5,)],
    "c_create_like": [lambda: (vec(),)],
    "c_copy_semantics": [lambda: (vec(),)],
    "c_arange": [lambda: (5, 2, 9), lambda: (1, -3, 4)],
    "c_index_1d": [lambda: (vec(), 2), lambda: (vec(), 0)],
    "c_index_2d": [lambda: (mat(), 1, 2), lambda: (mat(), 2, 0)],
    "c_index_3d": [lambda: (cube(),)],
    "c_setitem": [lambda: (vec(), mat())],
    "c_setitem_int_array": [lambda: (np.array([5, -7, 9, 4], dtype=np.int64),)],
    "c_setitem_row": [lambda: (mat(), vec(4))],
    "c_slices_read": [lambda: (vec(7),), lambda: (vec(6),)],
    "c_slices_2d": [lambda: (mat(4, 4),)],
    "c_slice_write": [lambda: (vec(8), 3.5)],
    "c_array_attrs": [lambda: (mat(), vec(5))],
    "c_attrs_3d": [lambda: (cube(),)],
    "c_zero_dim": [lambda: (np.array(0.75), 2.0)],
    "c_ufuncs": [lambda: (vec(),), lambda: (mat() + 1.5,)],
    "c_broadcast_arith": [lambda: (vec(4), mat(3, 4), 1.5)],
    "c_broadcast_column": [lambda: (mat(), np.array([[1.0], [-2.0], [0.5]]))],
    "c_matmul_dot": [lambda: (sq(), sq(shift=-1.0), vec(3), vec(3, -1.0, 1.0))],
    "c_reductions": [lambda: (mat(),)],
    "c_reduction_methods": [lambda: (mat(), signed_vec())],
    "c_where_max_min": [lambda: (signed_vec(), vec(7, -1.0, 2.0))],
    "c_fmin_fmax_ignore_nan": [lambda: (np.array([np.nan, 1.0, 2.0, np.nan, -1.0]),
                                        np.array([1.0, np.nan, 0.5, np.nan, 3.0]), np.nan),
                               lambda: (np.array([0.0, 1.0]), np.array([2.0, -1.0]), 1.5)],
    "c_array_and_loop": [lambda: (signed_vec(),)],
    "c_float32_arrays": [lambda: (f32(vec()), f32(vec(6, -1.0, 1.0)))],
    "c_float32_matmul": [lambda: (f32(sq()), f32(vec(3)))],
    "c_int64_arrays": [lambda: (np.array([-7, -1, 0, 4, 9], dtype=np.int64),
                                np.array([3, -2, 5, 1, -8], dtype=np.int64))],
    "c_int_result": [lambda: (signed_vec(), 1.0), lambda: (signed_vec(), 100.0)],
    "c_bool_arg": [lambda: (1.5, True), lambda: (1.5, False)],
}


# ---- comparison -----------------------------------------------------------------------------

def _is_f32(v) -> bool:
    return np.asarray(v).dtype == np.float32


def assert_same(expected, got, where: str = "result"):
    """`got` must equal CPython's `expected` in value and in kind (see module docstring)."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple), f"{where}: expected a tuple, got {type(got).__name__}"
        assert len(got) == len(expected), f"{where}: tuple length {len(got)} != {len(expected)}"
        for k, (e, g) in enumerate(zip(expected, got)):
            assert_same(e, g, f"{where}[{k}]")
        return
    if isinstance(expected, np.ndarray) and expected.ndim > 0:
        assert isinstance(got, np.ndarray), f"{where}: expected an array, got {type(got).__name__}"
        assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
        assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
        if expected.dtype.kind in "biu":
            np.testing.assert_array_equal(got, expected, err_msg=where)
        else:
            f32 = _is_f32(expected)
            np.testing.assert_allclose(got, expected, rtol=RTOL32 if f32 else RTOL64,
                                       atol=ATOL32 if f32 else ATOL64, err_msg=where)
        return
    # scalars (Python or NumPy) and 0-d arrays
    if isinstance(got, np.ndarray):
        assert got.ndim == 0, f"{where}: expected a scalar, got an array of shape {got.shape}"
    if isinstance(expected, (bool, np.bool_)):
        assert isinstance(got, (bool, np.bool_)) or (
            isinstance(got, np.ndarray) and got.dtype == np.bool_), \
            f"{where}: expected a bool, got {type(got).__name__} {got!r}"
        assert bool(got) == bool(expected), f"{where}: {got!r} != {expected!r}"
    elif isinstance(expected, (int, np.integer)):
        assert isinstance(got, (int, np.integer)) and not isinstance(got, (bool, np.bool_)), \
            f"{where}: expected an integer, got {type(got).__name__} {got!r}"
        assert int(got) == int(expected), f"{where}: {got!r} != {expected!r}"
    else:
        ok_types = (float, np.floating) + ((np.ndarray,) if isinstance(got, np.ndarray) else ())
        assert isinstance(got, ok_types) and not isinstance(got, (bool, np.bool_)), \
            f"{where}: expected a float, got {type(got).__name__} {got!r}"
        f32 = _is_f32(expected)
        np.testing.assert_allclose(float(got), float(expected),
                                   rtol=RTOL32 if f32 else RTOL64,
                                   atol=ATOL32 if f32 else ATOL64, err_msg=where)


def _copy_args(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _assert_args_unchanged(before, after, who):
    for k, (b, a) in enumerate(zip(before, after)):
        if isinstance(b, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f"{who} modified argument {k}")


_JITTED: dict = {}


def _jit(fn):
    if fn not in _JITTED:
        _JITTED[fn] = adcompile.jit(fn)
    return _JITTED[fn]


@pytest.mark.parametrize("name", sorted(ARGS))
def test_construct(name):
    fn = getattr(cp, name)
    for k, make in enumerate(ARGS[name]):
        args = make()
        expected = fn(*_copy_args(args))

        a = _copy_args(args)
        got = adcompile.interpret(fn, *a)
        _assert_args_unchanged(args, a, "interpret")
        assert_same(expected, got, f"interpret, args #{k}")

        a = _copy_args(args)
        got = _jit(fn)(*a)
        _assert_args_unchanged(args, a, "jit")
        assert_same(expected, got, f"jit, args #{k}")


def test_every_construct_has_arguments():
    defined = {n for n, v in vars(cp).items() if n.startswith("c_") and callable(v)}
    assert defined == set(ARGS), sorted(defined ^ set(ARGS))


def test_comparison_is_strict():
    """The checker itself: catches kind and dtype changes, not just values."""
    with pytest.raises(AssertionError):
        assert_same(3, 3.0)
    with pytest.raises(AssertionError):
        assert_same(True, 1)
    with pytest.raises(AssertionError):
        assert_same(np.ones(2, np.float32), np.ones(2))
    with pytest.raises(AssertionError):
        assert_same((1.0, 2.0), (1.0,))
    with pytest.raises(AssertionError):
        assert_same(1.0, 1.0 + 1e-9)
    assert_same((np.float64(1.0), 2, True), (1.0, np.int64(2), np.bool_(True)))
    assert_same(np.float32(1.5), 1.5)


def _int_power(i, j):
    return i ** j


def test_int_power_with_a_negative_runtime_exponent_raises():
    """Python gives a float (2 ** -1 == 0.5); compiled code has one int result type, so a
    negative exponent is an error on every path (NumPy's message), never a silent 0."""
    assert adcompile.interpret(_int_power, 2, 5) == 32
    with pytest.raises(ValueError, match="negative integer powers"):
        adcompile.interpret(_int_power, 2, -1)
    for backend in ("numba", "llvm"):
        f = adcompile.jit(_int_power, backend=backend)
        assert f(3, 4) == 81
        with pytest.raises(ValueError, match="negative integer powers"):
            f(2, -1)
