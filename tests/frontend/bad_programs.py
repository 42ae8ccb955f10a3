"""Programs outside the adcompile subset, one per case of `test_bad_programs.py`.

Each function (or a helper it calls) marks the line the error must point at with a trailing
`# ERR` comment; the test finds the marker with `inspect.getsourcelines`, so this file can be
edited freely.  A few cases mark more than one line where either one is a fair place to
report (they say so in a comment).  Keep this a real module: line numbers must be stable and
the functions are compiled straight from this file.
"""
# ruff: noqa
import math
import os
import time

import numpy as np

SCALE = 2.0


# --------------------------------------------------------------------------------------------
# Syntax outside the subset -> UnsupportedSyntax
# --------------------------------------------------------------------------------------------

def bad_class_def(x):
    class Point:  # ERR
        pass
    return x


def bad_generator(x):
    for i in range(3):
        yield x * i  # ERR


def bad_yield_from(x):
    yield from range(3)  # ERR


def bad_try_except(x):
    try:  # ERR
        y = 1.0 / x
    except ZeroDivisionError:
        y = 0.0
    return y


def bad_try_finally(x):
    y = 0.0
    try:  # ERR
        y = x * 2.0
    finally:
        y = y + 1.0
    return y


def bad_with(x):
    with open("data.txt") as fh:  # ERR
        pass
    return x


def bad_lambda(x):
    # a lambda is supported (tests/frontend/test_closures.py); returning one is not
    sq = lambda v: v * v
    return sq  # ERR


def bad_star_args(*args):  # ERR
    return args[0]


def bad_kwargs(x, **kwargs):  # ERR
    return x


def bad_dict_value(x):
    d = {"a": x}  # ERR
    return x


def bad_set_value(x):
    s = {x, 2.0}  # ERR
    return x


def bad_str_value(x):
    name = "energy"  # ERR
    return x


def bad_bytes_value(x):
    tag = b"raw"  # ERR
    return x


def bad_list_value(x):
    vals = [x, 2.0 * x]  # ERR
    return vals[0]


def bad_list_comprehension(x):
    vals = [x * i for i in range(3)]  # ERR
    return x


def bad_dict_comprehension(x):
    d = {i: x for i in range(3)}  # ERR
    return x


def bad_set_comprehension(x):
    s = {x * i for i in range(3)}  # ERR
    return x


def bad_generator_expression(x):
    t = sum(x * i for i in range(3))  # ERR
    return t


def bad_global(x):
    global SCALE  # ERR
    SCALE = x
    return x


def _make_nonlocal():
    total = 0.0

    def bad_nonlocal(x):
        nonlocal total  # ERR
        total = total + x
        return total

    return bad_nonlocal


bad_nonlocal = _make_nonlocal()


def bad_del(x):
    y = x * 2.0
    del y  # ERR
    return x


def bad_import_inside(x):
    import cmath  # ERR
    return x


def bad_import_from_inside(x):
    from math import exp  # ERR
    return exp(x)


async def bad_async(x):  # ERR
    return x


def bad_walrus(x):
    if (y := x * 2.0) > 1.0:  # ERR
        return y
    return x


def bad_fstring(x):
    label = f"x={x}"  # ERR
    return x


def bad_starred_call(x):
    t = (x, 2.0)
    return math.atan2(*t)  # ERR


def bad_starred_assign(x):
    a, *rest = (x, 1.0, 2.0)  # ERR
    return a


def bad_decorated_inner(x):
    # Either the decorator line or the `def` line is a fair place for this one.
    @staticmethod  # ERR
    def inner(v):  # ERR
        return v
    return x


def bad_nested_def(x):
    # a nested def is supported (tests/frontend/test_closures.py); a decorated one is not
    @staticmethod  # ERR
    def inner(v):
        return v * 2.0
    return inner(x)


def bad_match(x):
    match x:  # ERR
        case 0:
            return 1.0
    return x


def bad_print(x):
    y = x * 2.0
    print(y)  # ERR
    return y


def bad_open(x):
    fh = open("out.txt")  # ERR
    return x


def bad_sorted(x):
    y = sorted(x)  # ERR
    return x[0]


def bad_unknown_builtin(x):
    k = id(x)  # ERR
    return x


def bad_np_linalg_svd(a):
    b = np.linalg.svd(a)  # ERR
    return b


def bad_np_random(n):
    r = np.random.rand(n)  # ERR
    return r


def bad_unknown_module_attr(x):
    t = time.time()  # ERR
    return x * t


def bad_os_module(x):
    p = os.getpid()  # ERR
    return x


def bad_recursion(n):
    if n <= 1:
        return 1.0
    return n * bad_recursion(n - 1)  # ERR


def bad_mutual_a(n):
    # Either call that closes the cycle is a fair place to report mutual recursion.
    if n <= 0:
        return 0.0
    return _mutual_b(n - 1) + 1.0  # ERR


def _mutual_b(n):
    if n <= 0:
        return 0.0
    return bad_mutual_a(n - 1) * 2.0  # ERR


def bad_slice_runtime_step(x, k):
    y = x[::k]  # ERR
    return y


def _helper_with_print(v):
    print(v)  # ERR
    return v


def bad_error_in_helper(x):
    return _helper_with_print(x) + 1.0


def bad_double_star_call(x):
    return _plain_helper(**{"v": x})  # ERR


def _plain_helper(v):
    return v * 2.0


# --------------------------------------------------------------------------------------------
# Type problems -> TypeInferenceError
# --------------------------------------------------------------------------------------------

def bad_branch_scalar_vs_array(x, n):
    # Reported at the join of the branches (the use) or at the conflicting assignment.
    if n > 0:
        y = 1.0
    else:
        y = np.zeros(3)  # ERR
    return y * 2.0  # ERR


def bad_loop_scalar_to_array(x, n):
    # The carried variable starts as a scalar and becomes an array inside the loop: the loop,
    # the conflicting assignment or the use after the loop are all fair places to report.
    y = 0.0
    for i in range(n):  # ERR
        y = x * 2.0  # ERR
    return y + 1.0  # ERR


def bad_return_scalar_or_array(x, n):
    # The two returns disagree; either one may be named.
    if n > 0:
        return 1.0  # ERR
    return x * 2.0  # ERR


def bad_return_tuple_or_scalar(x, n):
    if n > 0:
        return x, x  # ERR
    return x  # ERR


def bad_complex_array_arg(x):  # ERR
    return x[0]


def bad_string_array_arg(x):  # ERR
    return x[0]


def bad_list_arg(x):  # ERR
    return x[0]


def bad_str_arg(x):  # ERR
    return x


def bad_none_arg(x):  # ERR
    return x


def bad_dict_arg(x):  # ERR
    return x


def bad_setitem_wrong_ndim(x, y):
    z = x.copy()
    z[0] = y  # ERR
    return z


def bad_setitem_2d_into_row(a, b):
    c = a.copy()
    c[0] = b  # ERR
    return c


def bad_iadd_array_into_element(x, y):
    z = x.copy()
    z[1] += y  # ERR
    return z


def _two_arg_helper(a, b):
    return a + b


def bad_helper_too_few_args(x):
    return _two_arg_helper(x)  # ERR


def bad_helper_too_many_args(x):
    return _two_arg_helper(x, x, x)  # ERR


def bad_index_scalar(a):
    return a[0]  # ERR


def bad_setitem_scalar(a):
    b = a
    b[0] = 1.0  # ERR
    return b


def bad_too_many_indices(x):
    return x[0, 1]  # ERR


def bad_too_many_indices_3d(x):
    return x[0, 1, 2, 0]  # ERR


def bad_shape_of_scalar(a):
    return a.shape  # ERR


def bad_shape0_of_scalar(a):
    n = a.shape[0]  # ERR
    return n


def bad_size_of_scalar(a):
    return a.size  # ERR


def bad_len_of_scalar(a):
    return len(a)  # ERR


def bad_transpose_scalar(a):
    return a.T  # ERR


def bad_range_float(x):
    s = 0.0
    for i in range(x):  # ERR
        s += i
    return s


def bad_matmul_scalars(a, b):
    return a @ b  # ERR


def bad_math_on_array(x):
    return math.sin(x)  # ERR


def bad_float_index(x, t):
    return x[t]  # ERR


def bad_bool_index(x, b):
    # NumPy: x[True] is a mask adding an axis, not x[1]
    return x[b]  # ERR


def bad_if_on_array(x):
    if x:  # ERR
        return 1.0
    return 0.0


def bad_if_on_array_compare(x):
    if x > 0.0:  # ERR
        return 1.0
    return 0.0


def bad_unpack_scalar(a):
    p, q = a  # ERR
    return p + q


def _helper_indexes_2d(v):
    return v[0, 0]  # ERR


def bad_error_in_helper_types(x):
    return _helper_indexes_2d(x) + 1.0


# --------------------------------------------------------------------------------------------
# Rejected, class not pinned down by the spec -> AdError (see the test for the reasoning)
# --------------------------------------------------------------------------------------------

def bad_for_else(n):
    s = 0.0
    # `for ... else`: the `for` line or the first statement of the `else` block.
    for i in range(n):  # ERR
        s += i
    else:
        s = -1.0  # ERR
    return s


def bad_complex_literal(x):
    z = 1j  # ERR
    return x


def bad_float16_arg(x):  # ERR
    return x[0]


def bad_5d_array_arg(x):  # ERR
    return x[0, 0, 0, 0, 0]


def bad_undefined_name(x):
    return x + undefined_thing  # ERR


def bad_unpack_length(x):
    a, b = (x, x, x)  # ERR
    return a + b


def bad_method_sort(x):
    y = x.copy()
    y.sort()  # ERR
    return y


def bad_shape_index_out_of_range(a):
    return a.shape[3]  # ERR


def bad_none_value(x):
    # `None` as a value: the constant or its use.
    y = None  # ERR
    return x * y  # ERR


def bad_method_append(x):
    y = x.copy()
    y.append(1.0)  # ERR
    return y


def bad_attribute_assign(x):
    y = x.copy()
    y.shape = (2, 2)  # ERR
    return y


SHADOWED = 5.0


def bad_local_read_before_assignment(x):
    # `SHADOWED` is a local of this function (assigned below): CPython raises
    # UnboundLocalError; it must not read the module global of that name.
    y = x + SHADOWED  # ERR
    SHADOWED = 1.0
    return y + SHADOWED

