"""Jacobian sparsity patterns from compiled passes: bitsets first, NaN seeds as the fallback.

`bitset_pattern`: the dependency program (ad/dependencies.py: forward mode over the boolean
semiring) propagates the set of input entries each value depends on as int64 words, 64 inputs
per word, WORDS words per pass: a pass covers 4096 inputs (ba1's 23,769 parameters take 6
passes, about 0.3 s). Decoding reads only the nonzero words of the outputs' bitsets.

`nan_pattern`, for programs dependency mode cannot map (user JVP rules, implicit roots, tapes):
lane k of a vector-forward pass seeds input entry b+k with NaN and every other entry with 0.
NaN survives every product and sum (0 * NaN is NaN), so an output tangent is nonzero in lane k
exactly when some chain of operations leads from input b+k to it at the given point.

Both are structural at the point: no cancellation (x - x), no zero partial (y * x at y == 0)
hides a dependency; integer values, index arrays and loop bounds are the arguments' own, as in
the program. The bitsets take both sides of `np.where`, `min`, `max` and of an `if` on a float
(ad/dependencies.py says where they cannot, with a SparsityWarning); NaN seeds see the side
taken. Patterns that are only the point's (loops that floats stop, one-sided branches: the
dependency program reports them) are kept per point (docs/api.md, `jacobian_sparsity`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import scipy.sparse as sps

LANES = 64   # input entries per NaN pass: the seed is n x LANES floats
WORDS = 64   # int64 words per bitset pass: 4096 input entries


def bitset_pattern(run: Callable[[np.ndarray], Sequence], x_shape: tuple[int, ...],
                   words: int = WORDS) -> sps.csr_matrix:
    """Boolean (outputs x inputs) pattern; `run(seed)` returns the output bitsets of one
    dependency pass for the int64 seed `seed` (x_shape + (words,)), outputs flattened in order.
    Input entry b + 64*w + k of a pass is bit k of word w."""
    n = int(np.prod(x_shape))
    width = max(1, min(words, -(-n // 64)))
    per = 64 * width
    rows, cols, m = [], [], None
    for b in range(0, max(n, 1), per):
        k = min(per, n - b)
        seed = np.zeros((n, width), dtype=np.int64)
        j = np.arange(k)
        seed[b + j, j // 64] = np.left_shift(np.int64(1), (j % 64).astype(np.int64))
        outs = [np.asarray(d).reshape(-1, width) for d in run(seed.reshape(x_shape + (width,)))]
        d = np.concatenate(outs, axis=0) if outs else np.zeros((0, width), np.int64)
        m = d.shape[0]
        r, w = np.nonzero(d)
        if r.size:
            bits = np.unpackbits(np.ascontiguousarray(d[r, w], dtype="<i8").view(np.uint8).reshape(-1, 8),
                                 axis=1, bitorder="little")   # (nonzero words, 64)
            q, bit = np.nonzero(bits)
            rows.append(r[q])
            cols.append(b + 64 * w[q] + bit)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return sps.csr_matrix((np.ones(r.size, dtype=bool), (r, c)), shape=(m, n))


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
