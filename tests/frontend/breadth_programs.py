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
}
