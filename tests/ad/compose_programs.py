"""Functions for the transform-composition matrix (`test_compose.py`): loops that tape, an
in-place array update, a while loop, a branch and a checkpointed loop."""
# ruff: noqa
import math

import numpy as np

import adcompile


def scalar_loop(a, k):
    s = 0.0
    for i in range(4):
        if s < 1.0:
            s = s + math.sin(a * (i + 1)) * k
        else:
            s = s * 0.5 + a * a
    return s * a


def array_update(x, k):
    u = x.copy()
    for i in range(x.shape[0] - 1):
        u[i + 1] = u[i + 1] + k * u[i] * u[i]
    return np.sum(u * u) + np.sum(np.sin(x) * x)


def while_loop(x, k):
    u = x.copy()
    t = 0
    while t < 3:
        u = u * k + np.tanh(u[0] * u)
        t += 1
    return np.sum(u * x)


def checkpointed_loop(x, k):
    u = x.copy()
    for t in adcompile.checkpointed(range(6), every=2):
        u[0] = u[0] + 0.1 * k * u[1] * u[2]
        u[1] = u[1] - 0.1 * u[0] * u[0]
    return np.sum(u * u)


def calls_grad(x, k):
    g = GRAD_ARRAY(x, k)
    return np.sum(g * g) + k * g[0]


def calls_value_and_grad(x, k):
    v, g = VG_ARRAY(x, k)
    return v * np.sum(g)


def calls_jvp(x, k):
    out, t = adcompile.jvp(array_update, (x, k), (np.ones_like(x), None))
    return t * out


def calls_vjp(x, k):
    out, pb = adcompile.vjp(array_update, x, k)
    gx, gk = pb(1.0)
    return np.sum(gx * gx) + gk * out


def calls_jacfwd(x, k):
    return np.sum(JAC_ARRAY(x, k))


def calls_hessian(x, k):
    H = HESS_ARRAY(x, k)
    return np.sum(H * x) + H[0, 1]


def calls_jacrev(x, k):
    return np.sum(JACREV_ARRAY(x, k))


GRAD_ARRAY = adcompile.grad(array_update)
VG_ARRAY = adcompile.value_and_grad(array_update)
JAC_ARRAY = adcompile.jacfwd(array_update)
HESS_ARRAY = adcompile.hessian(array_update)
JACREV_ARRAY = adcompile.jacrev(array_update)


def residuals(x, k):
    """A vector output: jacrev runs its pullback once per element."""
    out = np.zeros(x.shape[0] + 1)
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i]) * k + x[0] * x[i]
    out[x.shape[0]] = k * k
    return out


JACREV_RES = adcompile.jacrev(residuals, argnums=(0, 1))


def calls_jacrev_vector(x, k):
    jx, jk = JACREV_RES(x, k)
    return np.sum(jx * jx) + np.dot(jk, jk) * x[1]


def rows(p):
    return p * p


ROWS = adcompile.jacfwd_rows(rows)


def per_row(P, W):
    n = P.shape[0]
    r = np.empty((n, 2))
    for i in range(n):
        a = P[i, 0] * W[i, 1] + math.sin(P[i, 2])
        r[i, 0] = a * a
        r[i, 1] = math.exp(0.1 * P[i, 1]) * W[i, 0]
    return r


ROWS2 = adcompile.jacfwd_rows(per_row, argnums=(0, 1))


def calls_rows(P, W):
    jp, jw = ROWS2(P, W)
    return np.sum(jp * jp) + np.sum(jw)


def cube(x):
    return x ** 3


def pot(x):
    return np.sum(x ** 3)


DPOT = adcompile.grad(pot)


def use_grad(x):
    return np.sum(DPOT(x))      # Python: sum(3 x^2)


JIT_DPOT = adcompile.jit(adcompile.grad(pot))


def use_jit_grad(x):
    return np.sum(JIT_DPOT(x))


def newton_step(x):
    g = DPOT(x)
    return x - 0.1 * g


def scalar_recurrence(a, k):
    s = a
    for i in range(10):
        s = math.sin(s) * k + 0.1 * a
    return s * s


def builds_grad_inside(x, k):
    g = adcompile.grad(sin_sum_k)(x, k)
    gk = adcompile.grad(sin_sum_k, argnums=1)(x, k)
    return np.sum(g * g) + gk


def sin_sum_k(x, k):
    return np.sum(np.sin(x) * k) + k * k


def builds_grad_with_runtime_argnums(x, n):
    return adcompile.grad(sin_sum_k, argnums=n)(x, 1.0)
