"""Programs with nested `def`s and lambdas (tests/frontend/test_closures.py).

`PROGRAMS` maps a name to (function, argument factory). The error programs mark the line the
error must point at with a `# error:` comment.
"""
import numpy as np

C = 0.5
TWICE = lambda v: 2.0 * v


def square_lambda(x):
    g = lambda v: v * v
    return g(x) + g(2.0 * x) + TWICE(x)


def euler(y, dt):
    """`step` calls its sibling `rhs`; both read `dt`/`C` from outside."""
    def rhs(u):
        return -C * u + np.sin(u) * dt

    def step(u):
        return u + dt * rhs(u)
    for _ in range(3):
        y = step(y)
    return np.sum(y * y)


def late_binding(x, c):
    g = lambda v: v * c
    a = g(x)
    c = c * 3.0           # the call below sees the new c (Python's late binding)
    return a + g(x)


def default_is_early(x, k):
    g = lambda v, k=k: v * k
    k = k + 10.0
    return g(x) + (lambda v: v + k)(x)  # noqa: PLC3002 - called where it is made


def rk4(f, y, h):
    k1 = f(y)
    k2 = f(y + 0.5 * h * k1)
    k3 = f(y + 0.5 * h * k2)
    k4 = f(y + h * k3)
    return y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def passed_to_helper(y, k, w):
    """A closure over the array `w` and the float `k`, passed to a module-level helper."""
    rhs = lambda u: -k * u + w * np.cos(u)
    for _ in range(2):
        y = rk4(rhs, y, 0.1)
    return y


def fill(f, n):
    for i in range(n):
        f(i)


def writes_captured(x, out):
    """A local function writing into a captured array: the caller's array changes."""
    def put(i):
        out[i] = x[i] * x[i] + out[i]
    for i in range(2):
        put(i)
    fill(put, out.shape[0])    # also through a helper it is passed to
    return out * 1.0


def nested_levels(x):
    def outer(a):
        def inner(b):
            return a * b * x
        return inner(a + 1.0)
    return outer(x) + outer(2.0 * x)


def defined_in_loop(x, n):
    s = 0.0
    for i in range(n):
        h = lambda v: v * (i + 1) + s  # noqa: B023 - late binding is the point
        s = h(x)
    return s


def view_capture(x):
    r = x[0:2]

    def bump():
        r[0] = r[0] * 3.0      # writes through the captured view into x
    bump()
    return np.sum(x * x)


def branches(x, flag):
    g = lambda v: v * 2.0
    if flag > 0:
        g = lambda v: np.exp(v) * x
        y = g(x)
    else:
        y = g(x)
    return y


def tuple_capture(x):
    t = (x, 2.0 * x)
    g = lambda: t[0] * t[1]
    return g()


def function_arguments(x):
    def sq(v):
        return v * v

    def twice(f, v):
        return f(f(v))
    return twice(sq, x) + twice(lambda v: v + 1.0, x)


def captured_in_while(x):
    s = x
    shrink = lambda v: v * 0.5
    while s > 0.1:
        s = shrink(s)
    return s * x


def alias_argument(x):
    """The argument `a` and the captured `x` are one array: a write through one is seen
    through the other."""
    def g(a):
        a[0] = a[0] * 5.0
        return x[0] * x[1]
    return g(x) + x[0]


def alias_view(x):
    r = x[1:]

    def g():
        x[1] = x[1] * x[0]
    g()
    return r[0] + x[1]


def alias_through_sibling(x):
    y = x

    def g():
        y[0] = 2.0 * y[0] * y[1]

    def h():
        g()
        return x[0]
    return h() + y[0]


def row_views(M):
    def g(i):
        row = M[i]
        row[0] = row[1] * row[0]
    for i in range(M.shape[0]):
        g(i)
    return M * 1.0



PROGRAMS = {
    "square_lambda": (square_lambda, lambda: (1.5,)),
    "euler": (euler, lambda: (np.array([0.3, 1.2, -0.4]), 0.1)),
    "late_binding": (late_binding, lambda: (2.0, 1.25)),
    "default_is_early": (default_is_early, lambda: (2.0, 0.75)),
    "passed_to_helper": (passed_to_helper, lambda: (np.array([1.0, 2.0]), 0.7,
                                                    np.array([0.3, -0.2]))),
    "writes_captured": (writes_captured, lambda: (np.array([0.5, 1.5, -1.0]),
                                                  np.array([1.0, 2.0, 3.0]))),
    "nested_levels": (nested_levels, lambda: (1.5,)),
    "defined_in_loop": (defined_in_loop, lambda: (0.8, 4)),
    "view_capture": (view_capture, lambda: (np.array([1.0, 2.0, 3.0]),)),
    "branches_taken": (branches, lambda: (0.4, 1)),
    "branches_other": (branches, lambda: (0.4, -1)),
    "tuple_capture": (tuple_capture, lambda: (1.5,)),
    "function_arguments": (function_arguments, lambda: (1.1,)),
    "captured_in_while": (captured_in_while, lambda: (3.0,)),
    "alias_argument": (alias_argument, lambda: (np.array([0.5, 1.5, 2.0]),)),
    "alias_view": (alias_view, lambda: (np.array([0.5, 1.5, 2.0]),)),
    "alias_through_sibling": (alias_through_sibling, lambda: (np.array([1.5, 2.0]),)),
    "row_views": (row_views, lambda: (np.array([[1.0, 2.0], [3.0, -1.0]]),)),
}


# -- rejected -------------------------------------------------------------------------------------
def recursive(x):
    def fact(n):
        return n * fact(n - 1.0)   # error: recursive call to 'fact'
    return fact(x)


def returns_function(x):
    g = lambda v: v
    return g          # error: cannot be returned


def in_a_tuple(x):
    t = (lambda v: v, 1.0)   # error: cannot be stored in a tuple
    return x + t[1]


def writes_nonlocal(x):
    c = 1.0

    def g(v):
        nonlocal c     # error: 'nonlocal statement' is not supported
        c = v
        return v
    return g(x) + c


def decorated(x):
    @staticmethod      # error: a decorator on the local function 'g'
    def g(v):
        return v
    return g(x)


def star_args(x):
    g = lambda v, *a: v   # error: \*args and \*\*kwargs are not supported
    return g(x)


def unassigned_capture(x):
    g = lambda v: v * later
    y = g(x)                  # error: cannot access free variable 'later'
    later = 2.0
    return y + later


def after_its_loop(x):
    for i in range(3):
        g = lambda v: v * i  # noqa: B023
    return g(x)   # error: defined inside a loop \(line \d+\) and cannot be used after it


def one_branch(x, f):
    if f > 0:
        g = lambda v: v
    return g(x)           # error: 'g' may be used before it is assigned


def array_default(x):
    g = lambda v, w=np.zeros(2): v   # error: must be a number  # noqa: B008
    return g(x)


def not_an_array(x):
    g = lambda v: v
    return np.sin(g)  # error: got the local function '<lambda>'


def too_many(x):
    g = lambda v: v
    return g(x, x)    # error: takes 1 arguments but 2 were given


ERRORS = [recursive, returns_function, in_a_tuple, writes_nonlocal, decorated, star_args,
          unassigned_capture, after_its_loop, one_branch, array_default, not_an_array, too_many]
ERROR_ARGS = {"one_branch": (2.0, 1.0)}


def rebound_in_loop(x):
    g = lambda v: v
    for _ in range(2):
        g = lambda v: v * x
    return g(x)   # error: defined inside a loop \(line \d+\) and cannot be used after it


ERRORS.append(rebound_in_loop)
