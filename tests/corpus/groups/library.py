"""Library calls outside the subset, and callables that are not `def` functions. Each
function marks the call with `# ERR`: it must be rejected there, or give CPython's answer."""
# ruff: noqa
import functools
import math
import random

import numpy as np

import adcompile as ad
from adcompile import UnsupportedSyntax
from tests.corpus.make import rejects, same_as_python

_EXEC_NS: dict = {}
exec("f = lambda v: v * 2.0", _EXEC_NS)  # noqa: S102 - a lambda with no source file
_EXEC_LAMBDA = _EXEC_NS["f"]


def eye(n):
    return np.eye(n)  # ERR


def identity(n):
    return np.identity(n)  # ERR


def tri(n):
    return np.tri(n)  # ERR


def isscalar(x):
    return np.isscalar(x)  # ERR


def hanning(n):
    return np.hanning(n)  # ERR


def broadcast_shapes(x, y):
    return np.broadcast_shapes(x.shape, y.shape)  # ERR


def any_(x):
    return np.any(x > 0.0)  # ERR


def all_(x):
    return np.all(x > 0.0)  # ERR


def argmax(x):
    return np.argmax(x)  # ERR


def cumsum(x):
    return np.cumsum(x)  # ERR


def sort(x):
    return np.sort(x)  # ERR


def concatenate(x, y):
    return np.concatenate((x, y))  # ERR


def outer(x, y):
    return np.outer(x, y)  # ERR


def linspace(n):
    return np.linspace(0.0, 1.0, n)  # ERR


def solve(a, b):
    return np.linalg.solve(a, b)  # ERR


def kron(x, y):
    return np.kron(x, y)  # ERR


def isclose(x, y):
    return np.isclose(x, y)  # ERR


def allclose(x, y):
    return np.allclose(x, y)  # ERR


def flip(x):
    return np.flip(x)  # ERR


def atleast_1d(x):
    return np.atleast_1d(x)  # ERR


def trace(a):
    return np.trace(a)  # ERR


def factorial(n):
    return math.factorial(n)  # ERR


def fsum(x):
    return math.fsum(x)  # ERR


def rand(x):
    return x * random.random()  # ERR


def isinstance_(x):
    return isinstance(x, float)  # ERR


def round_(x):
    return round(x)  # ERR


def reshape_method(x):
    return x.reshape(2, 2)  # ERR


def ravel_method(x):
    return x.ravel()  # ERR


def float16_cast(x):
    return np.float16(x)  # ERR


def helper_from_stdlib(x):
    return functools.reduce(max, (x, 1.0))  # ERR


class Affine:
    def __call__(self, x):
        return 2.0 * x + 1.0

    def apply(self, x):
        return 2.0 * x + 1.0


def two(x, y):
    return x * y


@ad.custom_vjp
def cust(x):
    return x * x


X4 = lambda: np.array([1.0, -2.0, 3.0, 4.0])
M22 = lambda: np.array([[2.0, 1.0], [1.0, 3.0]])
X2 = lambda: np.array([1.0, 2.0])

L = "library"


def case(name, f, args, backend="numba"):
    return same_as_python(name, ad.jit(f, backend=backend), f, args, L)


CASES = [
    case("np_eye", eye, lambda: (3,)),
    case("np_identity", identity, lambda: (3,)),
    case("np_tri", tri, lambda: (3,)),
    case("np_isscalar", isscalar, lambda: (1.0,)),
    case("np_hanning", hanning, lambda: (4,)),
    case("np_broadcast_shapes", broadcast_shapes, lambda: (X4(), X4())),
    case("np_any", any_, lambda: (X4(),)),
    case("np_all", all_, lambda: (X4(),)),
    case("np_argmax", argmax, lambda: (X4(),)),
    case("np_cumsum", cumsum, lambda: (X4(),)),
    case("np_sort", sort, lambda: (X4(),)),
    case("np_concatenate", concatenate, lambda: (X4(), X4())),
    case("np_outer", outer, lambda: (X4(), X4())),
    case("np_linspace", linspace, lambda: (5,)),
    case("np_linalg_solve", solve, lambda: (M22(), X2())),
    case("np_kron", kron, lambda: (X2(), X2())),
    case("np_isclose", isclose, lambda: (X4(), X4())),
    case("np_allclose", allclose, lambda: (X4(), X4())),
    case("np_flip", flip, lambda: (X4(),)),
    case("np_atleast_1d", atleast_1d, lambda: (1.0,)),
    case("np_trace", trace, lambda: (M22(),)),
    case("np_eye_llvm", eye, lambda: (3,), backend="llvm"),
    case("math_factorial", factorial, lambda: (5,)),
    case("math_fsum", fsum, lambda: (X4(),)),
    case("random_random", rand, lambda: (1.0,)),
    case("builtin_isinstance", isinstance_, lambda: (1.0,)),
    case("builtin_round", round_, lambda: (1.5,)),
    case("method_reshape", reshape_method, lambda: (X4(),)),
    case("method_ravel", ravel_method, lambda: (M22(),)),
    case("np_float16_cast", float16_cast, lambda: (1.0,)),
    case("functools_reduce", helper_from_stdlib, lambda: (2.0,)),
    rejects("jit_np_sin", lambda: ad.jit(np.sin)(1.0), UnsupportedSyntax, L, "np.sin"),
    rejects("grad_math_sin", lambda: ad.grad(math.sin)(1.0), UnsupportedSyntax, L, "math.sin"),
    rejects("jit_builtin_abs", lambda: ad.jit(abs)(1.0), UnsupportedSyntax, L, "'abs'"),
    rejects("jit_partial", lambda: ad.jit(functools.partial(two, 2.0))(1.0), UnsupportedSyntax,
            L, "partial"),
    rejects("grad_partial", lambda: ad.grad(functools.partial(two, 2.0))(1.0),
            UnsupportedSyntax, L, "partial"),
    rejects("jit_callable_object", lambda: ad.jit(Affine())(1.0), UnsupportedSyntax, L,
            "Affine"),
    rejects("jit_class", lambda: ad.jit(Affine)(1.0), UnsupportedSyntax, L, "'Affine'"),
    rejects("grad_bound_method", lambda: ad.grad(Affine().apply)(1.0), UnsupportedSyntax, L,
            "bound method"),
    rejects("jvp_ufunc", lambda: ad.jvp(np.exp, (1.0,), (1.0,)), UnsupportedSyntax, L,
            "np.exp"),
    rejects("vjp_builtin", lambda: ad.vjp(math.exp, 1.0), UnsupportedSyntax, L, "math.exp"),
    rejects("jit_custom_function_itself", lambda: ad.grad(cust)(1.0), UnsupportedSyntax, L,
            "custom_vjp"),
    rejects("specialize_ufunc", lambda: ad.jit(np.sin).specialize((1.0,)), UnsupportedSyntax, L,
            "np.sin"),
    rejects("interpret_ufunc", lambda: ad.interpret(np.sin, 1.0), UnsupportedSyntax, L,
            "np.sin"),
    rejects("show_ir_builtin", lambda: ad.show_ir(math.exp, 1.0), UnsupportedSyntax, L,
            "math.exp"),
    rejects("check_grad_ufunc", lambda: ad.check_grad(np.sin, 1.0), UnsupportedSyntax, L,
            "np.sin"),
    # a lambda in a file compiles (tests/frontend/test_closures.py); one made by exec has no
    # source to read
    rejects("jit_lambda_without_source", lambda: ad.jit(_EXEC_LAMBDA)(1.0), UnsupportedSyntax,
            L, "cannot read the source of '<lambda>'"),
]


# -- non-functions called from compiled code ----------------------------------------------------
AFFINE = Affine()
BOUND = AFFINE.apply
HALF = functools.partial(two, 0.5)


def calls_class(x):
    return Affine()  # ERR


def calls_object(x):
    return AFFINE(x)  # ERR


def calls_bound_method(x):
    return BOUND(x)  # ERR


def calls_partial(x):
    return HALF(x)  # ERR


def calls_ufunc_method(x):
    return np.add.reduce(x)  # ERR


def calls_nested_module_function(x):
    return np.linalg.norm(x, 0.5)  # ERR


CASES += [
    rejects("compiled_calls_class", lambda: ad.jit(calls_class)(1.0), UnsupportedSyntax, L),
    rejects("compiled_calls_object", lambda: ad.jit(calls_object)(1.0), UnsupportedSyntax, L),
    rejects("compiled_calls_bound_method", lambda: ad.jit(calls_bound_method)(1.0),
            UnsupportedSyntax, L),
    rejects("compiled_calls_partial", lambda: ad.jit(calls_partial)(1.0), UnsupportedSyntax, L),
    rejects("compiled_calls_ufunc_method_named", lambda: ad.jit(calls_ufunc_method)(X4()),
            UnsupportedSyntax, L, "np.add.reduce"),
    rejects("compiled_calls_nested_name", lambda: ad.jit(calls_nested_module_function)(X4()),
            UnsupportedSyntax, L, "np.linalg.norm()"),
]
