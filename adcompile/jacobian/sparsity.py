"""Jacobian sparsity patterns from compiled vector-forward passes with NaN seeds.

Lane k of a pass seeds input entry b+k with NaN and every other entry with 0. NaN survives
every product and sum (0 * NaN is NaN), so an output tangent is nonzero in lane k exactly when
some chain of operations leads from input b+k to it at the given point: no cancellation
(x - x), no zero partial (y * x at y == 0) can hide a dependency. Integer values, index arrays
and loop bounds are the concrete ones of the arguments, as in the program itself. What this
pattern does not cover is the other side of a branch on a float value (or the other argument
of min/max/where): it is the point's pattern, and nothing re-checks it at other points (the
cache is per signature and integer-argument content; docs/api.md, `jacobian_sparsity`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sps

LANES = 64   # input entries per pass: the seed is n x LANES floats


def nan_pattern(run: Callable[[np.ndarray], Sequence], x_shape: tuple[int, ...],
                lanes: int = LANES) -> sps.csr_matrix:
    """Boolean (outputs x inputs) pattern; `run(seed)` returns the output tangents of one
    vector-forward pass for `seed` (x_shape + (lanes,)), outputs flattened in order."""
    n = int(np.prod(x_shape))
    width = max(1, min(lanes, n))
    rows, cols, m = [], [], None
    for b in range(0, n, width):
        k = min(width, n - b)
        seed = np.zeros((n, width))
        seed[np.arange(b, b + k), np.arange(k)] = np.nan
        outs = [np.asarray(d).reshape(-1, width) for d in run(seed.reshape(x_shape + (width,)))]
        d = np.concatenate(outs, axis=0) if outs else np.zeros((0, width))
        m = d.shape[0]
        r, c = np.nonzero(d[:, :k] != 0)   # NaN != 0: a dependency
        rows.append(r)
        cols.append(c + b)
    if m is None:   # an empty input: ask for the output size with an empty seed
        outs = [np.asarray(d) for d in run(np.zeros(x_shape + (1,)))]
        m = sum(o.size for o in outs)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return sps.csr_matrix((np.ones(r.size, dtype=bool), (r, c)), shape=(m, n))
