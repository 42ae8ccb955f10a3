"""Seeds: the tangents or cotangents a Jacobian is built from."""
from __future__ import annotations

from typing import Iterator

import numpy as np


def identity_lanes(x) -> np.ndarray:
    """Tangent of `x` with one lane per entry (shape x.shape + (x.size,)): vector forward
    mode then yields every column of the Jacobian in one pass."""
    n = int(np.size(x))
    dt = np.asarray(x).dtype if isinstance(x, np.ndarray) else np.float64
    return np.eye(n, dtype=dt).reshape(np.shape(x) + (n,))


def row_block_lanes(args: tuple, nums: tuple[int, ...]) -> list[np.ndarray]:
    """Row-wise seeds for (n, m_k) arguments side by side on sum(m_k) lanes: argument k's
    entry (i, j) drives lane offset_k + j in every row i (the seed `jacfwd_rows` computes in
    the IR when it can; this is its array form)."""
    widths = [np.shape(args[i])[1] for i in nums]
    total, off, out = sum(widths), 0, []
    for i, w in zip(nums, widths):
        x = args[i]
        s = np.zeros(np.shape(x) + (total,), dtype=np.asarray(x).dtype)
        s[:, np.arange(w), off + np.arange(w)] = 1.0
        out.append(s)
        off += w
    return out


def unit_vectors(shape: tuple[int, ...], dtype) -> Iterator[np.ndarray | float]:
    """Every basis element of an array of `shape` in C order (a scalar 1.0 for shape ())."""
    m = int(np.prod(shape))
    for j in range(m):
        e = np.zeros(m, dtype=dtype)
        e[j] = 1.0
        yield e.reshape(shape) if shape else e[0]


def basis_tangent(args: tuple, i: int, e) -> list:
    """Tangents for `args` with `e` on argument i and None (held fixed) elsewhere."""
    t = [None] * len(args)
    t[i] = e if isinstance(args[i], np.ndarray) else float(np.asarray(e).reshape(-1)[0])
    return t
