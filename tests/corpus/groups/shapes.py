"""Tangents, cotangents and custom-rule outputs of the wrong shape, count or dtype; matmul
shape mismatches. None may be broadcast, reshaped or summed into a different answer."""
# ruff: noqa
import numpy as np

import adcompile as ad
from adcompile import AdError, TypeInferenceError
from tests.corpus.make import rejects, same_as_python


def double(x):
    return x * 2.0


def total(x):
    return np.sum(x * x)


def pair(x):
    return x * 2.0, np.sum(x)


def mm(a, b):
    return a @ b


@ad.custom_vjp
def cv(x):
    return x * x


def cv_fwd(x):
    return x * x, (x,)


def cv_bwd(res, g):  # ERR
    (x,) = res
    return (np.zeros((2, x.shape[0])) + g,)


cv.defvjp(cv_fwd, cv_bwd)


def use_cv(x):
    return np.sum(cv(x))


@ad.custom_jvp
def cj(x):
    return x * x


@cj.defjvp
def cj_jvp(primals, tangents):  # ERR
    (x,), (t,) = primals, tangents
    return x * x, np.zeros((2, 2)) + t


def use_cj(x):
    return cj(x) + 1.0


@ad.custom_jvp
def cj1(x):
    return x * x


@cj1.defjvp
def cj1_jvp(primals):  # ERR
    return primals[0], primals[0]


def use_cj1(x):
    return cj1(x)


@ad.custom_vjp
def cv3(x, y):
    return x * y


def cv3_fwd(x, y):
    return x * y, (x, y)


def cv3_bwd(res, g, extra):  # ERR
    return (g, g)


cv3.defvjp(cv3_fwd, cv3_bwd)


def use_cv3(x, y):
    return cv3(x, y)


@ad.custom_vjp
def cv2(x, y):
    return x * y


def cv2_fwd(x, y):
    return x * y, (x, y)


def cv2_bwd(res, g):  # ERR
    return (g * res[1],)


cv2.defvjp(cv2_fwd, cv2_bwd)


def use_cv2(x, y):
    return cv2(x, y)


@ad.custom_vjp
def cvf(x, y):
    return x * y


def cvf_fwd(x):  # ERR
    return x, (x,)


def cvf_bwd(res, g):
    return (g, g)


cvf.defvjp(cvf_fwd, cvf_bwd)


def use_cvf(x, y):
    return cvf(x, y)


@ad.custom_vjp
def cvs(x):
    return x * x


def cvs_fwd(x):
    return x * x, (x,)


def cvs_bwd(res, g):
    (x,) = res
    return (np.ones(x.shape[0] - 1),)


cvs.defvjp(cvs_fwd, cvs_bwd)


def use_cvs(x):
    return np.sum(cvs(x))


@ad.custom_jvp
def cjs(x):
    return x * x


@cjs.defjvp
def cjs_jvp(p, t):
    return p[0] * p[0], np.zeros(p[0].shape[0] + 1) + t[0][0]


def use_cjs(x):
    return np.sum(cjs(x))


X3 = lambda: np.array([1.0, 2.0, 3.0])
X4 = lambda: np.array([1.0, 2.0, 3.0, 4.0])
M23 = lambda: np.arange(6.0).reshape(2, 3)
_, PULL4 = ad.vjp(double, X4())
_, PULL23 = ad.vjp(double, M23())
_, PULL_PAIR = ad.vjp(pair, X3())
_, PULL_TOTAL = ad.vjp(total, X3())

S = "shapes"
CASES = [
    rejects("vjp_cotangent_short", lambda: PULL4(np.ones(3)), AdError, S, "(3,)"),
    rejects("vjp_cotangent_transposed", lambda: PULL23(np.ones((3, 2))), AdError, S, "(2, 3)"),
    rejects("vjp_cotangent_flat", lambda: PULL23(np.ones(6)), AdError, S, "(6,)"),
    rejects("vjp_cotangent_scalar_for_array", lambda: PULL4(1.0), AdError, S, "()"),
    rejects("vjp_cotangent_array_for_scalar", lambda: PULL_TOTAL(np.ones(3)), AdError, S,
            "(3,)"),
    rejects("vjp_cotangent_complex", lambda: PULL4(np.ones(4) * 1j), AdError, S, "complex"),
    rejects("vjp_cotangent_none", lambda: PULL4(None), AdError, S, "None"),
    rejects("vjp_cotangent_string", lambda: PULL_TOTAL("1.0"), AdError, S, "cotangent"),
    rejects("vjp_tuple_cotangent_not_tuple", lambda: PULL_PAIR(np.ones(3)), AdError, S,
            "tuple"),
    rejects("vjp_tuple_cotangent_count", lambda: PULL_PAIR((np.ones(3),)), AdError, S,
            "2 values"),
    rejects("vjp_tuple_cotangent_shape", lambda: PULL_PAIR((np.ones(3), np.ones(3))), AdError,
            S, "output 1"),
    same_as_python("vjp_cotangent_list_ok", lambda: PULL4([1.0, 1.0, 1.0, 1.0])[0],
                   lambda: np.full(4, 2.0), lambda: (), S),
    same_as_python("vjp_cotangent_int_array_ok", lambda: PULL4(np.ones(4, dtype=np.int64))[0],
                   lambda: np.full(4, 2.0), lambda: (), S),
    rejects("jvp_tangent_shape", lambda: ad.jvp(double, (X4(),), (X3(),)), AdError, S, "(3,)"),
    rejects("jvp_tangent_complex", lambda: ad.jvp(double, (1.0,), (1j,)), AdError, S,
            "complex"),
    rejects("jvp_tangent_array_for_scalar", lambda: ad.jvp(double, (1.0,), (X3(),)), AdError,
            S, "(3,)"),
    rejects("hvp_tangent_shape", lambda: ad.hvp(total, (X3(),), (X4(),)), AdError, S, "(4,)"),
    rejects("hvp_tangent_complex", lambda: ad.hvp(total, (X3(),), (X3() * 1j,)), AdError, S,
            "complex"),
    rejects("custom_vjp_cotangent_rank", lambda: ad.grad(use_cv)(X3()), TypeInferenceError, S),
    rejects("custom_jvp_tangent_rank", lambda: ad.jvp(use_cj, (1.0,), (1.0,)),
            TypeInferenceError, S),
    rejects("custom_jvp_tangent_rank_reverse", lambda: ad.grad(use_cj)(1.0),
            TypeInferenceError, S),
    rejects("custom_jvp_rule_arity", lambda: ad.jvp(use_cj1, (1.0,), (1.0,)),
            TypeInferenceError, S),
    rejects("custom_vjp_bwd_arity", lambda: ad.grad(use_cv3)(1.0, 2.0), TypeInferenceError, S),
    rejects("custom_vjp_bwd_count", lambda: ad.grad(use_cv2, argnums=(0, 1))(1.0, 2.0),
            TypeInferenceError, S),
    rejects("custom_vjp_fwd_arity", lambda: ad.grad(use_cvf)(1.0, 2.0), TypeInferenceError, S),
    rejects("custom_vjp_cotangent_extent_numba",
            lambda: ad.grad(use_cvs, backend="numba")(X4()), ValueError, S, "'cvs_bwd'"),
    rejects("custom_vjp_cotangent_extent_llvm", lambda: ad.grad(use_cvs, backend="llvm")(X4()),
            ValueError, S, "'cvs_bwd'"),
    rejects("custom_jvp_tangent_extent_numba",
            lambda: ad.jvp(use_cjs, (X4(),), (X4(),), backend="numba"), ValueError, S,
            "'cjs_jvp'"),
    rejects("custom_jvp_tangent_extent_llvm",
            lambda: ad.jvp(use_cjs, (X4(),), (X4(),), backend="llvm"), ValueError, S,
            "'cjs_jvp'"),
    rejects("matmul_mismatch_names_both_shapes_numba",
            lambda: ad.jit(mm, backend="numba")(M23(), X4()), ValueError, S, "(2, 3) @ (4,)"),
    same_as_python("matmul_mismatch_numba", ad.jit(mm, backend="numba"), mm,
                   lambda: (M23(), X4()), S),
    same_as_python("matmul_mismatch_llvm", ad.jit(mm, backend="llvm"), mm,
                   lambda: (M23(), X4()), S),
    same_as_python("matmul_mismatch_mm_numba", ad.jit(mm, backend="numba"), mm,
                   lambda: (M23(), M23()), S),
    same_as_python("matmul_mismatch_vv_numba", ad.jit(mm, backend="numba"), mm,
                   lambda: (X3(), X4()), S),
    same_as_python("matmul_mismatch_vm_numba", ad.jit(mm, backend="numba"), mm,
                   lambda: (X4(), M23()), S),
]
