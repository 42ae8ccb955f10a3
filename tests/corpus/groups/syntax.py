"""Syntax outside the subset (beyond tests/frontend/bad_programs.py), and long expressions
that must compile. Each offending line is marked `# ERR`."""
# ruff: noqa
import numpy as np

import adcompile as ad
from adcompile import AdError, TypeInferenceError, UnsupportedSyntax
from tests.corpus.make import rejects, same_as_python

G = np.ones(3)


def assert_(x):
    assert x > 0.0  # ERR
    return x


def raise_(x):
    if x < 0.0:
        raise ValueError("negative")  # ERR
    return x


def while_else(x):
    i = 0
    while i < 3:  # ERR
        i += 1
    else:
        x = x + 1.0
    return x


def is_(x):
    return x is None  # ERR


def in_(x):
    return x in (1.0, 2.0)  # ERR


def bitxor(k):
    return k ^ 3  # ERR


def shift(k):
    return k << 2  # ERR


def invert_int(k):
    return ~k


def ellipsis_index(x):
    return x[..., 0]  # ERR


def none_index(x):
    return x[:, None]  # ERR


def mask_read(x):
    return x[x > 0.0]


def mask_write(x):
    y = x.copy()
    y[y > 0.0] = 0.0
    return y


def fancy(x, idx):
    return x[idx]


def bare_return(x):
    if x > 0.0:
        return  # ERR
    return x


def missing_return(x):  # ERR
    if x > 0.0:  # ERR
        return x


def expression_statement(x):
    x + 1.0  # ERR
    return x


def for_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s += v
    return s


def for_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s += a * b
    return s


def range_keyword(n):
    s = 0
    for i in range(0, n, step=2):  # ERR
        s += i
    return s


def range_value(n):
    r = range(n)  # ERR
    return n


def keyword_only(x, *, y):  # ERR
    return x * y


def positional_only(x, /, y):  # ERR
    return x * y


def nested_tuple_return(x):
    return x, (x, x)  # ERR


def tuple_compare(x, y):
    return x.shape == y.shape  # ERR


def tuple_variable_index(x, k):
    return x.shape[k]  # ERR


def slice_of_slice_write(b):
    b[0:1][0] = 5.0
    return b


def cond_array_scalar(x, c):
    return x if c > 0.0 else 0.0  # ERR


def global_array(x):
    return x * G  # ERR


def matmul_assign(a, b):
    a @= b  # ERR
    return a


def string_method(x):
    s = "abc".upper()  # ERR
    return x


def chained_compare(x):
    return 0.0 < x < 1.0


def closure_factory(k):
    def scaled(x):
        return x * k
    return scaled


SCALED3 = closure_factory(3.0)


def long_sum(x):
    return (x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x
            + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x + x)


def long_product(x):
    y = x
    y = (y * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001 *
         1.001 * 1.001 * 1.001 * 1.001 * 1.001 * 1.001)
    return y


X = lambda: np.array([1.0, -2.0, 3.0])
M = lambda: np.arange(6.0).reshape(2, 3)
S, T = UnsupportedSyntax, TypeInferenceError
Y = "syntax"


def jit(f, *args):
    return lambda: ad.jit(f)(*args)


CASES = [
    rejects("assert", jit(assert_, 1.0), S, Y),
    rejects("raise", jit(raise_, 1.0), S, Y),
    rejects("while_else", jit(while_else, 1.0), S, Y),
    rejects("is_none", jit(is_, 1.0), S, Y),
    rejects("in_tuple", jit(in_, 1.0), S, Y),
    rejects("int_xor", jit(bitxor, 5), AdError, Y),
    rejects("int_shift", jit(shift, 5), AdError, Y),
    same_as_python("int_invert", ad.jit(invert_int), invert_int, lambda: (5,), Y),
    same_as_python("ellipsis_index", ad.jit(ellipsis_index), ellipsis_index, lambda: (M(),), Y),
    same_as_python("none_index", ad.jit(none_index), none_index, lambda: (M(),), Y),
    same_as_python("mask_read", ad.jit(mask_read), mask_read, lambda: (X(),), Y),
    same_as_python("mask_write", ad.jit(mask_write), mask_write, lambda: (X(),), Y),
    same_as_python("fancy_index", ad.jit(fancy), fancy, lambda: (X(), np.array([0, 1])), Y),
    rejects("bare_return", jit(bare_return, 1.0), S, Y),
    rejects("missing_return", jit(missing_return, 1.0), S, Y),
    rejects("expression_statement", jit(expression_statement, 1.0), S, Y),
    same_as_python("for_enumerate", ad.jit(for_enumerate), for_enumerate, lambda: (X(),), Y),
    same_as_python("for_zip", ad.jit(for_zip), for_zip, lambda: (X(), X()), Y),
    rejects("range_keyword", jit(range_keyword, 5), S, Y),
    rejects("range_as_value", jit(range_value, 5), S, Y),
    rejects("keyword_only_parameter", jit(keyword_only, 1.0), S, Y),
    rejects("positional_only_parameter", jit(positional_only, 1.0, 2.0), S, Y),
    rejects("nested_tuple_return", jit(nested_tuple_return, 1.0), T, Y),
    rejects("tuple_compare", jit(tuple_compare, X(), X()), T, Y),
    rejects("tuple_variable_index", jit(tuple_variable_index, M(), 1), T, Y),
    same_as_python("slice_of_slice_write", ad.jit(slice_of_slice_write), slice_of_slice_write,
                   lambda: (X(),), Y),
    rejects("conditional_array_or_scalar", jit(cond_array_scalar, X(), 1.0), T, Y),
    rejects("global_array", jit(global_array, X()), T, Y),
    rejects("string_method", jit(string_method, 1.0), S, Y),
    same_as_python("matmul_assign", ad.jit(matmul_assign), matmul_assign,
                   lambda: (np.eye(2), np.eye(2) * 2.0), Y),
    same_as_python("chained_compare", ad.jit(chained_compare), chained_compare,
                   lambda: (0.5,), Y),
    same_as_python("closure_variable", ad.jit(SCALED3), SCALED3, lambda: (2.0,), Y),
    same_as_python("long_sum_269_terms", ad.jit(long_sum), long_sum, lambda: (1.5,), Y),
    same_as_python("long_sum_269_terms_grad", ad.grad(long_sum), lambda x: 269.0,
                   lambda: (1.5,), Y),
    same_as_python("long_sum_269_terms_llvm", ad.jit(long_sum, backend="llvm"), long_sum,
                   lambda: (1.5,), Y),
    same_as_python("long_product_247_factors", ad.jit(long_product), long_product,
                   lambda: (2.0,), Y),
]
