"""Arrays follow Python's object semantics: aliases, views, tuples, branches, loops, helpers.

Each program below writes through one name and reads through another. The value must be
CPython's (on the IR interpreter, numba and LLVM) and `grad` must match central finite
differences; where the aliasing depends on run time in a way the compiler cannot follow, a
precise error names the write. The jit/grad objects are module level (numba compiles are
slow) and each test checks every argument set of its program.
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompile
from adcompile import TypeInferenceError

BACKENDS = ("numba", "llvm")


# -- programs -------------------------------------------------------------------------------------
def bump(a):
    a[0] = a[0] * 3.0
    return a                      # returns its (mutated) argument


def returned_alias(x):
    y = x.copy()
    z = bump(y)                   # z is y
    z[1] = 100.0 * x[1]
    return y[1] + y[0]


def kick(p, dt):
    p[0] += dt * p[1]


def row_view_to_helper(P):
    Q = P.copy()
    for i in range(Q.shape[0]):
        kick(Q[i], 0.5)           # Q[i] is a view: Q changes
    return np.sum(Q[:, 0] * Q[:, 0])


def column_view_to_helper(P):
    Q = P * 1.0
    kick(Q[:, 1], 2.0)            # writes Q[0, 1]
    return np.sum(Q * Q)


def named_row_view(P):
    Q = P.copy()
    r = Q[1]
    r[0] = 7.0 * P[0, 0]          # writes Q[1, 0]
    Q[1, 1] = 3.0 * r[0]          # seen through r
    return np.sum(Q * Q) + np.sum(r)


def named_slice_view(x):
    y = x.copy()
    v = y[1:3]
    v[0] = 5.0 * x[0]             # writes y[1]
    s = y[0:2]
    y[0] = 100.0 * x[1]           # seen through s
    return np.sum(y * y) + s[0] + s[1]


def nested_view_write(P):
    Q = P.copy()
    Q[0:2][1] = 4.0 * P[2, 1]     # writes row 1
    w = Q[2][1:]
    w[0] = w[0] * P[0, 0]         # writes Q[2, 1]
    return np.sum(Q * Q)


def view_aug_assign(x):
    y = x.copy()
    w = y[1:]
    w += x[0]                     # in place through the view
    w *= 2.0
    return np.sum(y * y)


def transpose_view(A):
    B = A.copy()
    T = B.T
    B[0, 1] = 5.0 * A[1, 0]       # seen through T
    T[0, 1] = T[0, 1] * A[0, 0]   # writes B[1, 0]
    return T[1, 0] + np.sum(B * B) + np.sum(np.transpose(B)[0])


def tuple_held(x):
    a = x.copy()
    b = x * 2.0
    t = (a, b)
    t[0][1] = 2.0 * x[2]          # writes a
    b[0] = 3.0 * x[1]             # seen through t[1]
    return np.sum(a * a) + np.sum(t[1] * t[0])


def branch_alias(x, c):
    a1 = x.copy()
    a2 = x * 3.0
    if c > 0.0:
        b = a1
    else:
        b = a2
    b[0] = 10.0 * x[1]            # lands in whichever b is
    a1[2] = a1[2] * x[0]          # seen through b when b is a1
    return np.sum(a1 * a1) + 2.0 * np.sum(a2 * a2) + np.sum(b)


def pick(a, b, c):
    if c > 0.0:
        return a
    return b


def helper_returns_either(x, c):
    a = x.copy()
    b = x * 2.0
    z = pick(a, b, c)
    z[0] = 9.0 * x[0]
    return np.sum(a * a) + 3.0 * np.sum(b * b)


def swap_loop(x):
    u = x.copy()
    v = x * 0.5
    for t in range(3):
        v[0] = u[0] + 0.5 * u[1]
        u, v = v, u
        u[1] = u[1] * 1.5
    return np.sum(u * u) + np.sum(v)


def time_step(x):
    u = x.copy()
    for t in range(3):
        un = u * 0.5
        un[0] = un[0] + u[1]
        u = un
        u[2] = u[2] * x[0]
    return np.sum(u * u)


def aug_assign_in_place(x):
    y = x.copy()
    z = y
    y += x                        # in place: z sees it
    y *= 2.0
    return np.sum(z * z)


def argument_alias(x):
    b = x
    b[0] = 5.0 * x[1]             # x is b (a private copy of the caller's array)
    return np.sum(b) + x[0] * x[2]


def row_views_in_loop(P):
    Q = P.copy()
    for i in range(Q.shape[0]):
        r = Q[i, :]
        r[1] = r[0] * r[1]
    return np.sum(Q * Q)


def ifexp_alias(x, c):
    a = x.copy()
    a2 = x * 2.0
    b = a if c > 0.0 else a2
    b[0] = 9.0 * x[1]
    return np.sum(a * a) + 2.0 * np.sum(a2)


def write_both(a, b):
    a[0] = a[0] + 1.0
    b[1] = a[0] * 2.0             # a and b may be one array
    return b[0]


def write_then_rebind(a):
    a[0] = 7.0 * a[1]             # seen by the caller
    a = a * 2.0
    a[1] = 5.0                    # not seen: a is a new array
    return np.sum(a)


def same_array_twice(x):
    y = x.copy()
    s = write_both(y, y) + write_then_rebind(y)
    return s + np.sum(y * y)


def row_of(A, i):
    return A[i]                   # a view of the caller's array


def views_through_helpers(P):
    Q = P.copy()
    z = bump(Q[1])                # returns the view it was given
    z[1] = z[1] * 5.0
    r = row_of(Q, 2)
    r[0] = 5.0 * P[0, 0]
    return np.sum(Q * Q)


def scale_all(v, p):
    for j in range(len(v)):
        v[j] = v[j] * 0.5 + p
    return v


def strided_views(x):
    y = x.copy()
    for i in range(3):
        w = y[::-1]
        w[0] = w[0] + x[1]
    z = scale_all(y[::2], x[0])
    z[0] += 3.0
    return np.sum(y * y) + np.sum(z)


def while_swap_break(x, n):
    u = x.copy()
    v = x * 2.0
    k = 0
    while k < n:
        k += 1
        u, v = v, u
        u[0] = u[0] + x[1]
        if k > 2:
            break
    return np.sum(u * u) + np.sum(v)


def tuple_in_loop(x, n):
    a = x.copy()
    b = x * 2.0
    t = (a, b)
    for i in range(n):
        t[0][0] = t[0][0] + t[1][1]
        b[1] = b[1] * 0.5
    return np.sum(a * a) + np.sum(t[1])


def choice_in_loop(x, c):
    a = x.copy()
    b = x * 2.0
    for i in range(3):
        if c > 0.0:
            z = a
        else:
            z = b
        z[0] = z[0] * x[1]
    return np.sum(a * a) + np.sum(b)


def loop_temp_alias(x, n):
    y = x.copy()
    z = y
    k = 0
    while k < n:
        k += 1
        t = (y, z)
        w = t[1]                  # first bound in the body: y's array in every iteration
        z[0] += w[1] * x[2]
        w[1] = w[1] * 0.5
    return np.sum(y * y) + np.sum(z)


def write_tuple_arg(t):
    t[0][0] = 3.0 * t[1][1]       # the caller's arrays, reached through a tuple argument


def tuple_argument(x):
    a = x.copy()
    b = x * 2.0
    write_tuple_arg((a, b))
    u = (b, a)
    write_tuple_arg(u)            # writes b[0] (and u[0])
    return a[0] + 10.0 * b[0] + u[0][0]


def asarray_alias(x):
    y = x.copy()
    z = np.asarray(y)             # y itself (np.array would copy)
    z[0] = 5.0 * x[1]
    w = np.array(y)
    w[1] = 0.0
    return y[0] + 10.0 * y[1]


def nested_loop_temp_alias(x, k):
    y = x.copy()
    z = y
    n = k
    while n > 0:
        n -= 1
        m = n - 1
        while m > 0:
            m -= 1
            s = np.sum(z)
            w = y                 # first bound in the inner body
            if x[0] > s * 0.1:
                w += x[1]
    return np.sum(y * y) + np.sum(z)


def first_row(Q, c):
    r = Q[0]
    if c > 0.0:
        return r
    Q[0, 0] = 5.0
    return r                      # a view of the caller's array, seen after the call


def returned_view(P, c):
    Q = P.copy()
    z = first_row(Q, c)
    Q[0, 1] = 7.0 * P[1, 1]       # seen through z
    return np.sum(z * z) + np.sum(Q)


def view_early_return(P, n):
    Q = P.copy()
    r = Q[1]
    for i in range(n):
        Q[1, 0] = Q[1, 0] + r[1] * P[0, 1]
        if r[0] > 20.0:
            return r[0] * P[0, 0]
    return np.sum(r) + np.sum(Q)


def pick_written(v, w, p):
    if p > 0.5:
        v[0] += 1.0
        return v
    w[0] += p
    return w


def choice_of_temporary_view(x, c):
    y = x.copy()
    z = pick_written(y[::-1], y, c)   # a choice between a temporary view and its base
    z[1] = z[1] * x[1]
    z[0] = z[0] * x[0]
    return np.sum(y * y) + np.sum(z) + y[2] * y[0]


def sibling_views_to_helper(x):
    y = x.copy()
    z0 = pick_written(y[::2], y[::2], 2.0 * x[0])   # two views of y, y itself not passed
    z1 = pick_written(y[1:], y[:2], x[1] * 0.1)
    return np.sum(y * y) + np.sum(z0) + np.sum(z1 * z1)


X = np.array([1.0, 2.0, 3.0])
P = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
A = np.array([[1.0, 2.0], [3.0, 4.0]])

CASES = [
    (returned_alias, [(X,)]),
    (row_view_to_helper, [(P,)]),
    (column_view_to_helper, [(P,)]),
    (named_row_view, [(P,)]),
    (named_slice_view, [(X,)]),
    (nested_view_write, [(P,)]),
    (view_aug_assign, [(X,)]),
    (transpose_view, [(A,)]),
    (tuple_held, [(X,)]),
    (branch_alias, [(X, 1.0), (X, -1.0)]),
    (helper_returns_either, [(X, 1.0), (X, -1.0)]),
    (swap_loop, [(X,)]),
    (time_step, [(X,)]),
    (aug_assign_in_place, [(X,)]),
    (argument_alias, [(X,)]),
    (row_views_in_loop, [(P,)]),
    (ifexp_alias, [(X, 1.0), (X, -1.0)]),
    (same_array_twice, [(X,)]),
    (views_through_helpers, [(P,)]),
    (strided_views, [(X,)]),
    (while_swap_break, [(X, 2), (X, 5)]),
    (tuple_in_loop, [(X, 3)]),
    (choice_in_loop, [(X, 1.0), (X, -1.0)]),
    (loop_temp_alias, [(X, 3)]),
    (nested_loop_temp_alias, [(X, 4)]),
    (returned_view, [(A, 1.0), (A, -1.0)]),
    (view_early_return, [(A, 2), (A, 40)]),
    (choice_of_temporary_view, [(X, 1.0), (X, 0.25)]),
    (sibling_views_to_helper, [(X,), (X * 0.1,)]),
    (tuple_argument, [(X,)]),
    (asarray_alias, [(X,)]),
]
IDS = [f.__name__ for f, _ in CASES]

JITS = {(f.__name__, b): adcompile.jit(f, backend=b) for f, _ in CASES for b in BACKENDS}
GRADS = {(f.__name__, b): adcompile.grad(f, backend=b) for f, _ in CASES for b in BACKENDS}


def _python(f, args):
    return f(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])


def _fd(f, args, h=1e-6):
    x = args[0]
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (_python(f, (xp,) + args[1:]) - _python(f, (xm,) + args[1:])) / (2 * h)
    return g


@pytest.mark.parametrize("f,argsets", CASES, ids=IDS)
def test_value(f, argsets):
    for args in argsets:
        want = _python(f, args)
        saved = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        np.testing.assert_allclose(adcompile.interpret(f, *args), want, rtol=1e-12)
        for b in BACKENDS:
            got = JITS[f.__name__, b](*args)
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=b)
        for a, s in zip(args, saved):     # arguments are never modified
            np.testing.assert_array_equal(a, s)


@pytest.mark.parametrize("f,argsets", CASES, ids=IDS)
def test_grad(f, argsets):
    for args in argsets:
        want = _fd(f, args)
        for b in BACKENDS:
            got = GRADS[f.__name__, b](*args)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=b)


def test_brief_values():
    """The two reproducers of the reliability issue, with their CPython answers."""
    def f1(x):
        y = x.copy()
        z = bump(y)
        z[1] = 100.0 * x[1]
        return y[1]
    assert adcompile.interpret(f1, X) == 200.0
    np.testing.assert_allclose(adcompile.grad(f1, backend="llvm")(X), [0.0, 100.0, 0.0])
    assert JITS["row_view_to_helper", "numba"](P) == row_view_to_helper(P.copy())


# -- aliasing the compiler cannot follow: precise errors ----------------------------------------
def loop_dependent_alias(x, n):
    a = x.copy()
    b = x * 2.0
    for t in range(n):
        b = a                     # b is a only if the loop ran
    b[0] = 1.0                    # ERR
    return np.sum(a)


def view_made_in_branch(x, c):
    y = x.copy()
    if c > 0.0:
        r = y[0:2]
    else:
        r = y[1:3]
    r[0] = 7.0                    # ERR
    return np.sum(y)


def aug_assign_changes_dtype(k):
    y = np.zeros(3, dtype=np.int64) + k
    y += 0.5                      # ERR
    return y


def aug_assign_changes_rank(x, P):
    y = x.copy()
    y += P                        # ERR
    return np.sum(y)


def _err_line(f):
    import inspect
    lines, first = inspect.getsourcelines(f)
    return next(first + i for i, ln in enumerate(lines) if "# ERR" in ln)


@pytest.mark.parametrize("f,args,words", [
    (loop_dependent_alias, (X, 2), "may be the same array"),
    (view_made_in_branch, (X, 1.0), "may be the same array"),
    (aug_assign_changes_dtype, (2,), "casting"),
    (aug_assign_changes_rank, (X, P), "shape"),
], ids=["loop_dependent_alias", "view_made_in_branch", "aug_dtype", "aug_rank"])
def test_precise_errors(f, args, words):
    with pytest.raises(TypeInferenceError) as info:
        adcompile.interpret(f, *args)
    err = info.value
    assert words in str(err)
    assert f"{__file__}:{_err_line(f)}:" in str(err), str(err)
