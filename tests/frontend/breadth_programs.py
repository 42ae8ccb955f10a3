"""One small function per NumPy function of the subset's breadth (issue 16), for
`test_numpy_breadth.py`. Each runs in CPython as written; `ROWS` says which arguments to call
it with and whether its result has a derivative. Functions never mutate their arguments.
"""
# ruff: noqa
import math

import numpy as np


# -- reductions: axis tuples, negative axes, keepdims -----------------------------------------
def r_max_keepdims(x):
    return np.max(x, axis=1, keepdims=True) * x


def r_min_keepdims_all(x):
    return np.min(x, keepdims=True) + x


def r_sum_tuple(x):
    return np.sum(x, axis=(0, 1))


def r_sum_neg_keep(x):
    return x - x.sum(axis=-1, keepdims=True)


def r_mean_tuple_keep(x):
    return x / np.mean(x * x, axis=(0, 2), keepdims=True)


def r_prod_axis(x):
    return np.prod(x, axis=0, keepdims=True)


def r_var(x):
    return np.var(x, axis=0)


def r_var_ddof(x):
    return np.var(x, ddof=1) + x.var(axis=1, keepdims=True)


def r_std(x):
    return np.std(x, axis=-1) + x.std()


def r_argmax(x):
    return np.argmax(x, axis=1) + np.argmax(x)


def r_argmin(x):
    return x.argmin(axis=0, keepdims=True) + np.argmin(x)


def r_any_all(x):
    return np.any(x > 0.5, axis=0) & np.all(x > -0.9, axis=0), np.any(x > 5.0), x.all()


def r_cumsum(x):
    return np.cumsum(x, axis=1) * 1.5


def r_cumsum_flat1(x):
    return np.cumsum(x[0]) + x.cumsum(axis=0)[1]


def r_cumprod(x):
    return np.cumprod(x, axis=0)


def r_diff(x):
    return np.diff(x, axis=0)


def r_diff2(x):
    return np.diff(x, n=2) * x[:, :1]


# -- np.newaxis / None / Ellipsis indexing -----------------------------------------------------
def i_outer_none(v):
    return v[:, None] * v[None, :]


def i_pairwise(x):
    return np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)


def i_ellipsis(x):
    return x[..., None] * x[:, None, :1] + x[np.newaxis, 0]


def i_write_through(v):
    w = v * 2.0
    col = w[:, None]
    col[1, 0] = 7.0 * v[0]
    return w


# -- shape functions ----------------------------------------------------------------------------
def s_reshape(x):
    return x.reshape(3, 4) * np.reshape(x, (-1, 3))[:, :1].reshape(4)[None, :3].reshape(3, 1)


def s_ravel_flatten(x):
    return x.ravel() * x.flatten() + np.ravel(x.T)


def s_transpose_axes(x):
    return np.transpose(x, (2, 0, 1)) * x.T.sum(axis=0)[None, :, :].transpose(0, 2, 1)[:, :, :1]


def s_swapaxes(x):
    return np.swapaxes(x, 0, 2) * x.swapaxes(0, 2)[:, :, :1], x.swapaxes(-1, 1)


def s_reshape_write(x):
    y = x * 1.0
    z = y.reshape(3, 4)
    z[1, 2] = z[0, 0] * z[2, 3]
    t = np.transpose(y.reshape(2, 3, 2), (1, 0, 2))
    t[0, 1, 1] = 3.0 * t[2, 1, 0]
    return y


def s_concatenate(x, y):
    return np.concatenate((x, y * y), axis=1), np.concatenate([x, y], axis=-2)


def s_stack(x, y):
    return np.stack([x, y], axis=1), np.stack((x, 2.0 * y))


def s_hvstack(x, y):
    return np.hstack((x, y)), np.vstack((x, y)), np.hstack((x[0], y[1])), np.vstack((x[0], y[0]))


def s_tile_repeat(x):
    return np.tile(x, (2, 3)), np.tile(x[0], 2), np.repeat(x, 3, axis=1), np.repeat(x, 2)


def s_flip_roll(x):
    return np.flip(x, axis=0) * x, np.flip(x), np.roll(x, 2), np.roll(x, -1, axis=1)


def s_broadcast_to(v):
    return np.broadcast_to(v, (3, 4)) * np.broadcast_to(v[:, None], (4, 2))[:3, :1]


def s_linspace(a, b):
    return np.linspace(a, b, 7) ** 2, np.linspace(a, b, 4, endpoint=False)


def s_tril_triu(x):
    return np.tril(x), np.triu(x, 1) * x, np.tril(x, -1)


def s_outer_kron(a, b):
    return np.outer(a, b), np.kron(a, b)


def s_kron2(a, b):
    return np.kron(a, b)


def s_trace_diag(x):
    return np.trace(x) * np.diag(x), np.diag(x, 1), x.diagonal(-1), x.trace(1)


def s_diag_matrix(v):
    return np.diag(v) @ np.diag(v, -1)[1:, :-1]


def s_select(x):
    return np.select([x > 0.5, x < -0.5], [x * 2.0, x * x], 0.0)


def s_4d(x):
    y = x[:, :, None, :] * x[:, None, :, :]
    return np.sum(y * y, axis=(1, 2)), np.transpose(y, (3, 2, 1, 0)).reshape(-1)


# -- elementwise ---------------------------------------------------------------------------------
def u_logaddexp(a, b):
    return np.logaddexp(a, b), np.logaddexp(a, a), np.logaddexp2(a, b)


def u_sinc_cbrt_exp2(x):
    return np.sinc(x), np.sinc(x * 0.0), np.cbrt(x + 2.0), np.exp2(x)


def u_round(x):
    return np.round(x) * x, np.rint(x * 3.0) + np.around(x, 1) * x, np.round(x, decimals=-1)


def u_ufuncs(x, y):
    return (np.add(x, y), np.subtract(x, y) * np.multiply(x, y), np.divide(x, y + 3.0),
            np.power(x * x + 1.0, y), np.mod(x + 5.0, 1.3), np.remainder(x, 0.7) * y,
            np.negative(x) * np.reciprocal(y + 3.0))


def u_float_words(x):
    lo = float('-inf')
    for i in range(x.shape[0]):
        lo = max(lo, x[i])
    big = 1.0 if min(math.inf, np.float64('inf')) > 1e300 else 0.0
    return x * lo + big + np.deg2rad(x)


def u_predicates(x, y):
    return (np.greater(x, y), np.logical_and(x > 0, y > 0), np.logical_xor(x > 0, y > 0),
            np.isclose(x, x + 1e-9), np.allclose(x, y), round(1.5) + round(-2.5))


# --- the table --------------------------------------------------------------------------------
def _mat(rng, *shape):
    return rng.uniform(-1.0, 1.0, shape)


def _pos(rng, *shape):
    return rng.uniform(0.5, 1.5, shape)


# name -> (argument maker, differentiable)
ROWS = {
    "r_max_keepdims": (lambda r: (_mat(r, 3, 4),), True),
    "r_min_keepdims_all": (lambda r: (_mat(r, 2, 3),), True),
    "r_sum_tuple": (lambda r: (_mat(r, 2, 3, 2),), True),
    "r_sum_neg_keep": (lambda r: (_mat(r, 3, 4),), True),
    "r_mean_tuple_keep": (lambda r: (_pos(r, 2, 3, 2),), True),
    "r_prod_axis": (lambda r: (_pos(r, 3, 2),), True),
    "r_var": (lambda r: (_mat(r, 4, 3),), True),
    "r_var_ddof": (lambda r: (_mat(r, 3, 4),), True),
    "r_std": (lambda r: (_mat(r, 3, 4),), True),
    "r_argmax": (lambda r: (_mat(r, 3, 4),), False),
    "r_argmin": (lambda r: (_mat(r, 3, 4),), False),
    "r_any_all": (lambda r: (_mat(r, 3, 4),), False),
    "r_cumsum": (lambda r: (_mat(r, 3, 4),), True),
    "r_cumsum_flat1": (lambda r: (_mat(r, 3, 4),), True),
    "r_cumprod": (lambda r: (_pos(r, 4, 2),), True),
    "r_diff": (lambda r: (_mat(r, 4, 3),), True),
    "r_diff2": (lambda r: (_mat(r, 3, 5),), True),
    "i_outer_none": (lambda r: (_mat(r, 4),), True),
    "i_pairwise": (lambda r: (_mat(r, 3, 2),), True),
    "i_ellipsis": (lambda r: (_mat(r, 2, 3),), True),
    "i_write_through": (lambda r: (_mat(r, 4),), True),
    "s_reshape": (lambda r: (_mat(r, 2, 6),), True),
    "s_ravel_flatten": (lambda r: (_mat(r, 3, 2),), True),
    "s_transpose_axes": (lambda r: (_mat(r, 2, 3, 4),), True),
    "s_swapaxes": (lambda r: (_mat(r, 2, 3, 4),), True),
    "s_reshape_write": (lambda r: (_mat(r, 12),), True),
    "s_concatenate": (lambda r: (_mat(r, 2, 3), _mat(r, 2, 3)), True),
    "s_stack": (lambda r: (_mat(r, 2, 3), _mat(r, 2, 3)), True),
    "s_hvstack": (lambda r: (_mat(r, 2, 3), _mat(r, 2, 3)), True),
    "s_tile_repeat": (lambda r: (_mat(r, 2, 3),), True),
    "s_flip_roll": (lambda r: (_mat(r, 3, 4),), True),
    "s_broadcast_to": (lambda r: (_mat(r, 4),), True),
    "s_linspace": (lambda r: (0.3, 1.7), True),
    "s_tril_triu": (lambda r: (_mat(r, 3, 4),), True),
    "s_outer_kron": (lambda r: (_mat(r, 3), _mat(r, 2)), True),
    "s_kron2": (lambda r: (_mat(r, 2, 3), _mat(r, 2, 2)), True),
    "s_trace_diag": (lambda r: (_mat(r, 3, 4),), True),
    "s_diag_matrix": (lambda r: (_mat(r, 3),), True),
    "s_select": (lambda r: (_mat(r, 3, 4),), True),
    "s_4d": (lambda r: (_mat(r, 2, 3, 2),), True),
    "u_logaddexp": (lambda r: (_mat(r, 5), _mat(r, 5)), True),
    "u_sinc_cbrt_exp2": (lambda r: (_mat(r, 5),), True),
    "u_round": (lambda r: (np.array([-1.32, -0.61, 0.23, 0.77, 1.12]),), True),
    "u_ufuncs": (lambda r: (_mat(r, 5), _mat(r, 5)), True),
    "u_float_words": (lambda r: (_mat(r, 4),), True),
    "u_predicates": (lambda r: (_mat(r, 5), _mat(r, 5)), False),
}
