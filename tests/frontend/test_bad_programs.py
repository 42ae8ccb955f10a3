"""Programs outside the subset are rejected with the right error class at the right line.

The programs live in `bad_programs.py`; the line each error must name is marked there with a
trailing `# ERR` comment and located here with `inspect.getsourcelines`, so the module can be
edited without touching this file.  Compilation (and so every frontend error) happens at the
first call with concrete arguments.

Each case checks: the error class, `.lineno` is a marked line, `.filename` is the module's
file, `.hint` is non-empty, and `str(err)` shows `file:line` and a caret.
"""
from __future__ import annotations

import importlib.util
import inspect
import os
import sys

import numpy as np
import pytest

import adcompile
from adcompile import AdError, TypeInferenceError, UnsupportedSyntax

_HERE = os.path.dirname(os.path.abspath(__file__))
_MODULE_FILE = "bad_programs.py"


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


bp = _load("bad_programs")


def marker_lines(*fns) -> set[int]:
    """1-based file lines carrying a `# ERR` marker inside the given functions."""
    lines: set[int] = set()
    for fn in fns:
        src, start = inspect.getsourcelines(fn)
        for k, text in enumerate(src):
            if text.rstrip().endswith("# ERR"):
                lines.add(start + k)
    return lines


# Argument factories (fresh arrays per call).
def f1():
    return np.array([1.0, 2.0, 3.0, 4.0])


def f2():
    return np.arange(9.0).reshape(3, 3) + 1.0


def f3():
    return np.ones((2, 3, 4))


S = UnsupportedSyntax
T = TypeInferenceError
A = AdError  # rejected, but the spec does not pin the class (see notes on each case)

# (entry function name, argument factory, expected class, extra functions holding markers)
CASES = [
    # ---- syntax outside the subset -> UnsupportedSyntax
    ("bad_class_def", lambda: (1.0,), S, ()),
    ("bad_generator", lambda: (1.0,), S, ()),
    ("bad_yield_from", lambda: (1.0,), S, ()),
    ("bad_try_except", lambda: (1.0,), S, ()),
    ("bad_try_finally", lambda: (1.0,), S, ()),
    ("bad_with", lambda: (1.0,), S, ()),
    ("bad_lambda", lambda: (1.0,), S, ()),
    ("bad_star_args", lambda: (1.0,), S, ()),
    ("bad_kwargs", lambda: (1.0,), S, ()),
    ("bad_dict_value", lambda: (1.0,), S, ()),
    ("bad_set_value", lambda: (1.0,), S, ()),
    ("bad_str_value", lambda: (1.0,), S, ()),
    ("bad_bytes_value", lambda: (1.0,), S, ()),
    ("bad_list_value", lambda: (1.0,), S, ()),
    ("bad_list_comprehension", lambda: (1.0,), S, ()),
    ("bad_dict_comprehension", lambda: (1.0,), S, ()),
    ("bad_set_comprehension", lambda: (1.0,), S, ()),
    ("bad_generator_expression", lambda: (1.0,), S, ()),
    ("bad_global", lambda: (1.0,), S, ()),
    ("bad_nonlocal", lambda: (1.0,), S, ()),
    ("bad_del", lambda: (1.0,), S, ()),
    ("bad_import_inside", lambda: (1.0,), S, ()),
    ("bad_import_from_inside", lambda: (1.0,), S, ()),
    ("bad_async", lambda: (1.0,), S, ()),
    ("bad_walrus", lambda: (1.0,), S, ()),
    ("bad_fstring", lambda: (1.0,), S, ()),
    ("bad_starred_call", lambda: (1.0,), S, ()),
    ("bad_starred_assign", lambda: (1.0,), S, ()),
    ("bad_decorated_inner", lambda: (1.0,), S, ()),
    ("bad_nested_def", lambda: (1.0,), S, ()),
    ("bad_match", lambda: (1.0,), S, ()),
    ("bad_print", lambda: (1.0,), S, ()),
    ("bad_open", lambda: (1.0,), S, ()),
    ("bad_sorted", lambda: (f1(),), S, ()),
    ("bad_unknown_builtin", lambda: (1.0,), S, ()),
    ("bad_np_linalg_svd", lambda: (f2(),), S, ()),
    ("bad_np_random", lambda: (3,), S, ()),
    ("bad_unknown_module_attr", lambda: (1.0,), S, ()),
    ("bad_os_module", lambda: (1.0,), S, ()),
    ("bad_recursion", lambda: (5,), S, ()),
    ("bad_mutual_a", lambda: (5,), S, ("_mutual_b",)),
    ("bad_slice_runtime_step", lambda: (f1(), 2), S, ()),
    ("bad_error_in_helper", lambda: (1.0,), S, ("_helper_with_print",)),
    ("bad_double_star_call", lambda: (1.0,), S, ()),
    # ---- type problems -> TypeInferenceError
    ("bad_branch_scalar_vs_array", lambda: (f1(), 1), T, ()),
    ("bad_loop_scalar_to_array", lambda: (f1(), 3), T, ()),
    ("bad_return_scalar_or_array", lambda: (f1(), 1), T, ()),
    ("bad_return_tuple_or_scalar", lambda: (1.0, 1), T, ()),
    ("bad_complex_array_arg", lambda: (np.zeros(3, dtype=np.complex128),), T, ()),
    ("bad_string_array_arg", lambda: (np.array(["a", "b"]),), T, ()),
    ("bad_list_arg", lambda: ([1.0, 2.0],), T, ()),
    ("bad_str_arg", lambda: ("abc",), T, ()),
    ("bad_none_arg", lambda: (None,), T, ()),
    ("bad_dict_arg", lambda: ({"a": 1.0},), T, ()),
    ("bad_setitem_wrong_ndim", lambda: (f1(), f1()), T, ()),
    ("bad_setitem_2d_into_row", lambda: (f2(), f2()), T, ()),
    ("bad_iadd_array_into_element", lambda: (f1(), f1()), T, ()),
    ("bad_helper_too_few_args", lambda: (1.0,), T, ()),
    ("bad_helper_too_many_args", lambda: (1.0,), T, ()),
    ("bad_index_scalar", lambda: (1.0,), T, ()),
    ("bad_setitem_scalar", lambda: (1.0,), T, ()),
    ("bad_too_many_indices", lambda: (f1(),), T, ()),
    ("bad_too_many_indices_3d", lambda: (f3(),), T, ()),
    ("bad_shape_of_scalar", lambda: (1.0,), T, ()),
    ("bad_shape0_of_scalar", lambda: (1.0,), T, ()),
    ("bad_size_of_scalar", lambda: (1.0,), T, ()),
    ("bad_len_of_scalar", lambda: (1.0,), T, ()),
    ("bad_transpose_scalar", lambda: (1.0,), T, ()),
    ("bad_range_float", lambda: (3.5,), T, ()),
    ("bad_matmul_scalars", lambda: (1.0, 2.0), T, ()),
    ("bad_math_on_array", lambda: (f1(),), T, ()),
    ("bad_float_index", lambda: (f1(), 1.0), T, ()),
    ("bad_bool_index", lambda: (f1(), True), T, ()),
    ("bad_if_on_array", lambda: (f1(),), T, ()),
    ("bad_if_on_array_compare", lambda: (f1(),), T, ()),
    ("bad_unpack_scalar", lambda: (1.0,), T, ()),
    ("bad_error_in_helper_types", lambda: (f1(),), T, ("_helper_indexes_2d",)),
    # ---- rejected; the spec does not say which class -> AdError
    ("bad_for_else", lambda: (3,), A, ()),
    ("bad_complex_literal", lambda: (1.0,), A, ()),
    ("bad_float16_arg", lambda: (np.ones(3, dtype=np.float16),), A, ()),
    ("bad_5d_array_arg", lambda: (np.ones((2, 2, 2, 2, 2)),), A, ()),
    ("bad_undefined_name", lambda: (1.0,), A, ()),
    ("bad_unpack_length", lambda: (1.0,), A, ()),
    ("bad_method_sort", lambda: (f1(),), A, ()),
    ("bad_shape_index_out_of_range", lambda: (f2(),), A, ()),
    ("bad_none_value", lambda: (1.0,), A, ()),
    ("bad_method_append", lambda: (f1(),), A, ()),
    ("bad_attribute_assign", lambda: (f1(),), A, ()),
    ("bad_local_read_before_assignment", lambda: (1.0,), T, ()),
]


@pytest.mark.parametrize("name,make_args,cls,helpers", CASES, ids=[c[0] for c in CASES])
def test_bad_program(name, make_args, cls, helpers):
    fn = getattr(bp, name)
    expected = marker_lines(fn, *(getattr(bp, h) for h in helpers))
    assert expected, f"no '# ERR' marker for {name}"
    with pytest.raises(AdError) as info:
        adcompile.jit(fn)(*make_args())
    err = info.value
    assert isinstance(err, cls), f"expected {cls.__name__}, got {type(err).__name__}: {err}"
    assert err.lineno in expected, f"line {err.lineno}, expected one of {sorted(expected)}:\n{err}"
    assert err.filename is not None and err.filename.endswith(_MODULE_FILE), err.filename
    assert isinstance(err.hint, str) and err.hint.strip(), "empty hint"
    text = str(err)
    assert f"{_MODULE_FILE}:{err.lineno}" in text, text
    assert "^" in text, text
    assert "hint:" in text, text


def test_catalog_is_large_and_every_case_has_a_marker():
    """Runs without the compiler: every case names a real function with a marker."""
    assert len(CASES) >= 45
    assert len({c[0] for c in CASES}) == len(CASES)
    for name, _, _, helpers in CASES:
        fn = getattr(bp, name)
        assert marker_lines(fn, *(getattr(bp, h) for h in helpers)), name


def test_every_bad_function_is_in_the_catalog():
    names = {c[0] for c in CASES}
    defined = {n for n, v in vars(bp).items()
               if n.startswith("bad_") and callable(v)}
    assert defined == names, sorted(defined ^ names)
