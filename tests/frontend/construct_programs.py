"""One small function per construct of the supported subset, for `test_constructs.py`.

Each function runs in CPython as written; the test checks that `adcompile.interpret` and
`adcompile.jit` give the same results (values, and dtypes where they mean something).
Functions never mutate their arguments (writes go to local copies or fresh arrays).
"""
# ruff: noqa
import math

import numpy as np

SCALE = 1.5
OFFSET = 3
NEG_LIMIT = -2.25


# --------------------------------------------------------------------------------------------
# Scalars
# --------------------------------------------------------------------------------------------

def c_float_arith(a, b):
    return a + b, a - b, a * b, a / b, a ** 2, a ** b, -a + (+b), a ** -1.5


def c_int_arith(i, j):
    # floor division and modulo follow Python's sign rules (round toward -inf)
    return i + j, i - j, i * j, i // j, i % j, -i // j, -i % j, i ** 2, i // 4 % 3


def c_int_true_division(i, j):
    return i / j, (i + 1) / 2


def c_mixed_int_float(i, x):
    return i * x, i + x, x - i, i * 2 + 1, (i + 0.5) * 2


def c_bool_logic(p, q):
    return p and q, p or q, not p, (not p) or q, p and not q


def c_conversions(x, i):
    return float(i), int(x), int(-x), bool(x), bool(i), float(i) / 3, int(x * 10) // 3


def c_builtins(x, y, i, j):
    return abs(x), abs(i), min(x, y), max(x, y), min(i, j), max(i, j), abs(-x - y)


def c_math_exp_log(x):
    return (math.exp(x), math.log(x), math.log1p(x), math.expm1(x), math.sqrt(x),
            math.pow(x, 1.7))


def c_math_trig(x):
    return (math.sin(x), math.cos(x), math.tan(x), math.tanh(x), math.sinh(x),
            math.cosh(x))


def c_math_inverse_trig(x, y):
    return math.asin(x), math.acos(x), math.atan(y), math.atan2(y, x), math.atan2(-y, -x)


def c_math_misc(x, y):
    return math.fabs(x), math.hypot(x, y), math.erf(x), math.lgamma(y), math.pow(y, -x)


def c_math_floor_ceil(x):
    # math.floor / math.ceil return ints in Python
    return math.floor(x), math.ceil(x)


def c_math_consts(x):
    lo = -math.inf
    m = min(x, math.inf)
    return math.pi * x, math.e + x, m, lo < x, max(lo, x)


# --------------------------------------------------------------------------------------------
# Control flow
# --------------------------------------------------------------------------------------------

def c_if_elif_else(x):
    if x < -1.0:
        y = -x
    elif x < 1.0:
        y = x * x
    elif x == 1.0:
        y = 10.0
    else:
        y = 2.0 * x - 1.0
    return y


def c_if_no_else(x):
    y = x
    if x > 0.0:
        y = y * 3.0
    return y


def c_ifexp(x, n):
    a = x if n > 0 else -x
    b = 1 if n % 2 == 0 else 2
    return a * b


def c_chained_compare(a, b, c):
    return a < b < c, a <= b != c, a < b > c, 0.0 <= a <= 1.0


def c_short_circuit_index(x, n):
    # `i < n and x[i] > 0` must not read x[n]
    i = 0
    while i < n and x[i] > 0.0:
        i += 1
    j = n - 1
    while not (j < 0 or x[j] < 0.0):
        j -= 1
    return i, j


def c_short_circuit_division(d):
    ok = d != 0.0 and 1.0 / d > 0.5
    bad = d == 0.0 or 1.0 / d < 0.0
    return ok, bad


def c_range_forms(n):
    s1 = 0
    for i in range(n):
        s1 += i
    s2 = 0.0
    for i in range(2, n):
        s2 += i * 0.5
    s3 = 0
    for i in range(1, n, 3):
        s3 += i
    return s1, s2, s3


def c_range_runtime_step(start, stop, step):
    # the sign of the step is only known at run time
    total = 0
    count = 0
    for i in range(start, stop, step):
        total += i
        count += 1
    return total, count


def c_range_negative_const(n):
    acc = 0.0
    for i in range(n - 1, -1, -1):
        acc = acc * 0.5 + i
    for k in range(-3, 3):
        acc += k
    return acc


def c_while(x):
    k = 0
    y = x
    while y > 1.0:
        y = y / 2.0
        k += 1
    return y, k


def c_while_true_break(x):
    y = x
    n = 0
    while True:
        y = y * 0.5 + 1.0
        n += 1
        if abs(y - 2.0) < 1e-6:
            break
    return y, n


def c_break_continue(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] < 0.0:
            continue
        if x[i] > 10.0:
            break
        s += x[i]
    return s


def c_early_return_in_loop(x, t):
    for i in range(len(x)):
        if x[i] > t:
            return i
    return -1


def c_early_return_nested_loops(a, t):
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] > t:
                return i, j, a[i, j]
    return -1, -1, 0.0


def c_early_return_branch(x):
    if x < 0.0:
        return -1.0
    y = math.sqrt(x)
    if y > 2.0:
        return 2.0
    return y


def c_nested_loops_2d(a):
    s = 0.0
    for i in range(a.shape[0]):
        row = 0.0
        for j in range(a.shape[1]):
            if j % 2 == 1:
                continue
            row += a[i, j] * (j + 1)
        s += row * row
    return s


# --------------------------------------------------------------------------------------------
# Tuples and assignment
# --------------------------------------------------------------------------------------------

def c_tuple_swap(n):
    a, b = 0.0, 1.0
    for i in range(n):
        a, b = b, a + b
    return a, b


def c_tuple_pack_unpack(a):
    t = (a.shape[0], a.shape[1])
    p, q = t
    r, c = a.shape
    u = (1.5, 2)
    v, w = u
    return p * q + r - c, v * w


def c_augassign(x, i):
    y = x
    y += 1.0
    y -= 0.25
    y *= 3.0
    y /= 2.0
    y **= 2
    k = i
    k += 3
    k -= 1
    k *= 2
    k //= 3
    k %= 5
    return y, k


def c_multiple_results(x):
    s = 0.0
    m = x[0]
    for i in range(len(x)):
        s += x[i]
        m = max(m, x[i])
    return s, m, s / len(x)


# --------------------------------------------------------------------------------------------
# Helpers, globals, closures
# --------------------------------------------------------------------------------------------

def _square(v):
    return v * v


def _sum_squares(a, b):
    return _square(a) + _square(b)


def _clip(v, lo, hi):
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


def _min_max(x):
    lo = x[0]
    hi = x[0]
    for i in range(1, len(x)):
        lo = min(lo, x[i])
        hi = max(hi, x[i])
    return lo, hi


def _scaled(x, c):
    return x * c + 1.0


def c_helper_call(x):
    return _square(x) + 1.0


def c_helper_nested(a, b):
    return math.sqrt(_sum_squares(a, b))


def c_helper_early_return(x):
    s = 0.0
    for i in range(len(x)):
        s += _clip(x[i], -1.0, 2.0)
    return s


def c_helper_tuple(x):
    lo, hi = _min_max(x)
    return hi - lo, lo


def c_helper_array(x):
    y = _scaled(x, 2.0)
    return _scaled(y, 0.5)


def c_global_consts(x, i):
    return x * SCALE + OFFSET, i + OFFSET, max(x, NEG_LIMIT)


def _make_closure(c, k):
    def closure(x):
        return c * x + k
    return closure


c_closure = _make_closure(2.5, 4)


# --------------------------------------------------------------------------------------------
# Arrays: creation, indexing, attributes
# --------------------------------------------------------------------------------------------

def c_create_filled(n, m, v):
    a = np.zeros(n)
    b = np.ones((n, m))
    c = np.full(n, v)
    d = np.full((n, m), 2.5)
    e = np.zeros((2, n, m))
    a[0] = v
    b[1, 2] = v * 2.0
    e[1, 0, 1] = 7.0
    return a, b, c, d, e


def c_create_empty(n):
    a = np.empty(n)
    for i in range(n):
        a[i] = i * 0.5
    b = np.empty((n, 2))
    for i in range(n):
        b[i, 0] = i
        b[i, 1] = -i
    return a, b


def c_create_like(x):
    a = np.zeros_like(x)
    b = np.ones_like(x)
    c = np.empty_like(x)
    for i in range(x.shape[0]):
        c[i] = x[i] + 1.0
    a[0] = 5.0
    return a, b, c


def c_copy_semantics(x):
    y = x.copy()
    z = np.copy(x)
    y[0] = -1.0
    z[1] = -2.0
    return x[0] + x[1], y, z


def c_arange(n, a, b):
    r1 = np.arange(n)
    r2 = np.arange(a, b)
    r3 = np.arange(b, a, -2)
    r4 = np.arange(n) * 0.5
    return r1, r2, r3, r4, np.sum(r1)


def c_index_1d(x, i):
    return x[i], x[-1], x[-i - 1], x[len(x) - 1] * x[0]


def c_index_2d(a, i, j):
    return a[i, j], a[i][j], a[-1, -2], a[-1][0], a[i, -j - 1]


def c_index_3d(t):
    s = 0.0
    for i in range(t.shape[0]):
        for j in range(t.shape[1]):
            for k in range(t.shape[2]):
                s += t[i, j, k] * (i + 2 * j + 3 * k)
    return s, t[1, 2, 3], t[-1, 0, -1], t[1][0][2]


def c_setitem(x, a):
    y = x.copy()
    b = a.copy()
    y[0] = 10.0
    y[-1] = -10.0
    y[1] += 2.5
    y[2] *= 3.0
    b[0, 1] = 4.0
    b[1, 0] += b[0, 1]
    b[-1, -1] -= 1.0
    return y, b


def c_setitem_int_array(k):
    y = k.copy()
    y[0] = 7
    y[1] += 3
    y[2] //= 2
    return y


def c_setitem_row(a, r):
    b = a.copy()
    b[0] = r
    b[1, :] = r * 2.0
    b[:, 0] = 9.0
    return b


def c_slices_read(x):
    n = len(x)
    a = x[1:n - 1]
    b = x[::2]
    c = x[2:]
    d = x[:3]
    e = x[1:-1]
    f = x[::-1]
    g = x[n - 2:0:-2]
    return a, b, c, d, e, f, g, np.sum(x[1:4])


def c_slices_2d(a):
    return a[1:, :2], a[:, 0], a[0, :], a[::2, 1], a[1:3, 1:3].sum()


def c_slice_write(x, v):
    y = x.copy()
    y[1:3] = v
    y[4:6] = x[0:2] * 2.0
    y[::3] = -1.0
    return y


def c_array_attrs(a, x):
    n, m = a.shape
    at = a.T
    return (a.shape[0], a.shape[1], len(a), len(x), a.size, x.size, a.ndim, x.ndim,
            at[1, 0], at.shape[0], n * m, x.shape[0])


def c_attrs_3d(t):
    return t.shape[0], t.shape[2], t.ndim, t.size, len(t)


def c_zero_dim(x0, y):
    # x0 is a 0-d float64 array
    return x0 * y + np.sin(x0), np.sum(x0)


# --------------------------------------------------------------------------------------------
# Whole-array NumPy
# --------------------------------------------------------------------------------------------

def c_ufuncs(x):
    return (np.sin(x), np.cos(x), np.exp(x), np.log(x), np.tanh(x), np.sqrt(x),
            np.abs(-x), np.log1p(x), np.arctan(x))


def c_broadcast_arith(x, a, s):
    return (x + s, s * x, x - 1.0, 2.0 / x, x * x, a + x, a * x - a, x ** 2, x ** 0.5,
            2.0 ** x, -x, a / (x + 1.0), x + 1)


def c_broadcast_column(a, c):
    # c has shape (n, 1)
    return a + c, a * c


def c_matmul_dot(a, b, v, w):
    return a @ b, a @ v, v @ w, np.dot(v, w), np.dot(a, v), np.dot(a, b), v @ a


def c_reductions(a):
    return (np.sum(a), np.sum(a, axis=0), np.sum(a, axis=1), np.max(a), np.max(a, axis=0),
            np.min(a, axis=1), np.mean(a), np.mean(a, axis=0), np.mean(a, axis=1))


def c_reduction_methods(a, x):
    return a.sum(), a.sum(axis=0), a.max(), a.min(), a.mean(), x.sum(), x.max(axis=0)


def c_where_max_min(x, y):
    return (np.where(x > 0.0, x, 0.0), np.where(x > y, x, y), np.maximum(x, 0.0),
            np.minimum(x, y), np.maximum(x, y) - np.minimum(x, y))


def c_fmin_fmax_ignore_nan(x, y, s):
    # NaN loses to a number (NaN only where both are NaN); minimum/maximum propagate it
    return (np.fmin(x, y), np.fmax(x, y), np.fmax(x, 0.5), np.fmin(s, 2.0), np.fmax(s, s),
            np.minimum(x, y))


def c_array_and_loop(x):
    y = np.exp(x) / np.sum(np.exp(x))
    acc = 0.0
    for i in range(len(y)):
        acc += y[i] * i
    return y, acc


def c_float32_arrays(x, y):
    # float32 with Python float literals stays float32 under NumPy 2 (NEP 50)
    return x * 2.0 + 1.0, np.sin(x), x * y, x / 3.0, np.exp(x) - y, x ** 2


def c_float32_matmul(a, v):
    return a @ v, np.sum(a, axis=0)


def c_int64_arrays(k, m):
    return k * 2 + 1, k + m, k - m * 3, k // 3, k % 3, np.sum(k), np.max(m), k * 0.5


def c_int_result(x, t):
    count = 0
    for i in range(len(x)):
        if x[i] > t:
            count += 1
    return count


def c_bool_arg(x, flag):
    if flag:
        return x * 2.0
    return x - 1.0
