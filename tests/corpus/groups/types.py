"""Type errors beyond tests/frontend/bad_programs.py: shapes, dtypes, axes, helper calls.
Each offending line is marked `# ERR`; where the hint matters, the case checks its text."""
# ruff: noqa
import math

import numpy as np

import adcompile as ad
from adcompile import AdError, TypeInferenceError, UnsupportedSyntax
from tests.corpus.make import rejects, same_as_python


def erf_of_array(x):
    return math.erf(x)  # ERR


def sin_of_array(x):
    return math.sin(x)  # ERR


def axis_out_of_range(x):
    return np.sum(x, axis=2)  # ERR


def axis_variable(x, k):
    return np.sum(x, axis=k)  # ERR


def float_shape(n):
    return np.zeros(n * 1.5)  # ERR


def int32_dtype(n):
    return np.zeros(n, dtype=np.int32)  # ERR


def ragged(x):
    return np.array([[x, x], [x]])  # ERR


def min_of_arrays(x, y):
    return min(x, y)  # ERR


def max_of_2d(a):
    return max(a)  # ERR


def int_of_array(x):
    return int(x)  # ERR


def unpack_three(x):
    a, b = x, x, x  # ERR
    return a


def branch_dtypes(x, c):
    if c > 0:
        y = np.zeros(3)
    else:
        y = np.zeros(3, dtype=np.int64)
    return y  # ERR


def loop_variable_after(n):
    for i in range(n):  # ERR
        pass
    return i  # ERR


def _helper(a, b):
    return a * b


def helper_unknown_keyword(x):
    return _helper(x, c=2.0)  # ERR


def helper_two_values(x):
    return _helper(x, a=2.0)  # ERR


def shape_index_out_of_range(x):
    return x.shape[5]  # ERR


def tuple_arithmetic(x):
    t = x.shape
    return t + 1  # ERR


def dot_3d(a):
    return np.dot(a, a)  # ERR


def inner_2d(a):
    return np.inner(a, a)  # ERR


def builtin_sum_2d(a):
    return sum(a)  # ERR


def where_two_args(x):
    return np.where(x > 0.0, x)  # ERR


def array_into_scalar_slot(x, y):
    s = 0.0
    s = x   # a name may be rebound to another type in straight-line code
    for i in range(3):
        s = s + y
    return s


@ad.custom_jvp
def cj(x):
    return x * 2.0


@cj.defjvp
def cj_jvp(p, t):
    return p[0] * 2.0, t[0] * 2.0


def custom_keyword(x):
    return cj(x=x)  # ERR


def len_of_tuple(x):
    return len(x.shape) * 1.0


def sum_of_bools(x):
    return np.sum(x > 0.0)


X = lambda: np.array([1.0, -2.0, 3.0])
M = lambda: np.arange(6.0).reshape(2, 3)
T3 = lambda: np.ones((2, 2, 2))
S, T = UnsupportedSyntax, TypeInferenceError
Y = "types"


def jit(f, *args, backend="numba"):
    return lambda: ad.jit(f, backend=backend)(*args)


CASES = [
    rejects("math_erf_of_array", jit(erf_of_array, X()), T, Y),
    rejects("math_erf_hint_names_no_missing_numpy_function", jit(erf_of_array, X()), T, Y,
            "in a loop"),
    rejects("math_sin_hint_names_np_sin", jit(sin_of_array, X()), T, Y, "np.sin"),
    rejects("axis_out_of_range", jit(axis_out_of_range, M()), T, Y),
    rejects("axis_variable", jit(axis_variable, M(), 0), T, Y),
    rejects("float_shape", jit(float_shape, 2), T, Y),
    rejects("int32_dtype", jit(int32_dtype, 2), T, Y),
    rejects("ragged_list", jit(ragged, 1.0), T, Y),
    rejects("min_of_arrays", jit(min_of_arrays, X(), X()), T, Y),
    rejects("max_of_2d", jit(max_of_2d, M()), T, Y),
    rejects("int_of_array", jit(int_of_array, X()), T, Y),
    rejects("unpack_three_into_two", jit(unpack_three, 1.0), AdError, Y),
    rejects("branch_array_dtypes", jit(branch_dtypes, 1.0, 1), T, Y),
    rejects("loop_variable_after_loop", jit(loop_variable_after, 3), T, Y),
    rejects("helper_unknown_keyword", jit(helper_unknown_keyword, 1.0), T, Y),
    rejects("helper_two_values", jit(helper_two_values, 1.0), T, Y),
    rejects("shape_index_out_of_range", jit(shape_index_out_of_range, M()), T, Y),
    rejects("tuple_arithmetic", jit(tuple_arithmetic, M()), AdError, Y),
    rejects("dot_3d", jit(dot_3d, T3()), T, Y),
    rejects("inner_2d", jit(inner_2d, M()), T, Y),
    rejects("builtin_sum_2d", jit(builtin_sum_2d, M()), T, Y),
    rejects("where_two_args", jit(where_two_args, X()), T, Y),
    same_as_python("rebinding_a_name_to_another_type", ad.jit(array_into_scalar_slot),
                   array_into_scalar_slot, lambda: (X(), 1.0), Y),
    rejects("custom_function_keyword", jit(custom_keyword, 1.0), T, Y),
    rejects("llvm_axis_out_of_range", jit(axis_out_of_range, M(), backend="llvm"), T, Y),
    same_as_python("len_of_shape", ad.jit(len_of_tuple), len_of_tuple, lambda: (M(),), Y),
    same_as_python("sum_of_bools", ad.jit(sum_of_bools), sum_of_bools, lambda: (X(),), Y),
]
