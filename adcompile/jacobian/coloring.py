"""Colourings of a Jacobian's sparsity pattern: how few forward (or reverse) passes recover
every nonzero.

Two columns may share a colour (one tangent lane) when no row has a nonzero in both
(distance-2 colouring of the column intersection graph); rows likewise for reverse mode.
Greedy colouring in largest-first order (columns with the most neighbours first) gives BA's
camera blocks one set of colours shared by every camera and the points the next few, so the
count is independent of the number of observations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sps


@dataclass(frozen=True)
class Coloring:
    """`colors[j]`: the colour of column j (mode "column") or row j (mode "row")."""
    mode: str
    colors: np.ndarray
    ncolors: int

    def seed(self, dtype=np.float64) -> np.ndarray:
        """The compression matrix S (columns or rows x colours): J S (or Sᵀ J) holds every
        nonzero of J exactly once."""
        n = self.colors.size
        s = np.zeros((n, self.ncolors), dtype=dtype)
        s[np.arange(n), self.colors] = 1.0
        return s


def _greedy(adj: sps.csr_matrix, order: np.ndarray) -> tuple[np.ndarray, int]:
    """Greedy colouring of the graph `adj` (symmetric, diagonal ignored) in `order`."""
    n = adj.shape[0]
    colors = np.full(n, -1, dtype=np.int64)
    ptr, ind = adj.indptr, adj.indices
    mark = np.full(n + 1, -1, dtype=np.int64)   # mark[c] == v: colour c is used next to v
    for v in order:
        nb = colors[ind[ptr[v]:ptr[v + 1]]]
        mark[nb[nb >= 0]] = v
        c = 0
        while mark[c] == v:
            c += 1
        colors[v] = c
    return colors, int(colors.max()) + 1 if n else 0


def column_coloring(pattern) -> Coloring:
    """Distance-2 column colouring for forward mode (one tangent lane per colour)."""
    # int32 counts of shared rows: int8 wrapped to 0 at multiples of 256 and sparse products
    # drop zeros, losing the edge (a BA camera seen in 128k observations got one colour)
    p = sps.csc_matrix(pattern, dtype=bool).astype(np.int32)
    adj = (p.T @ p).tocsr()
    # three orders, the fewest colours kept: largest-first (most neighbours), most rows
    # first, and the columns' own order (parameters laid out block by block, as BA's
    # cameras | points | weights, keep their blocks together: block ordering)
    orders = (np.argsort(-np.diff(adj.indptr), kind="stable"),
              np.argsort(-np.diff(p.indptr), kind="stable"), np.arange(p.shape[1]))
    best = min((_greedy(adj, o) for o in orders), key=lambda cn: cn[1])
    return Coloring("column", *best)


def row_coloring(pattern) -> Coloring:
    """Distance-2 row colouring for reverse mode (one cotangent lane per colour)."""
    c = column_coloring(sps.csr_matrix(pattern, dtype=bool).T)
    return Coloring("row", c.colors, c.ncolors)


def best_coloring(pattern) -> Coloring:
    """The column or the row colouring, whichever needs fewer passes (column on ties)."""
    p = sps.csc_matrix(pattern, dtype=bool)
    col = column_coloring(p)
    # a column with k nonzeros needs k row colours: skip the (costly) row colouring when
    # that bound already loses (BA's camera columns touch thousands of rows)
    if p.shape[1] and int(np.diff(p.indptr).max()) >= col.ncolors:
        return col
    row = row_coloring(p)
    return row if row.ncolors < col.ncolors else col


@dataclass(frozen=True)
class Decompression:
    """Where each stored entry of the CSR pattern sits in the compressed matrix (flat
    indices), computed once per pattern: a call is then one gather."""
    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    gather: np.ndarray
    width: int

    def __call__(self, compressed: np.ndarray) -> sps.csr_matrix:
        vals = np.asarray(compressed).reshape(-1)[self.gather]
        return sps.csr_matrix((vals, self.indices.copy(), self.indptr.copy()),
                              shape=self.shape)


def decompression(pattern, coloring: Coloring) -> Decompression:
    p = sps.csr_matrix(pattern, dtype=bool)
    p.sort_indices()
    r = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    c = p.indices
    if coloring.mode == "column":
        width = coloring.ncolors
        gather = r * width + coloring.colors[c]
    else:
        width = p.shape[1]
        gather = coloring.colors[r] * width + c
    return Decompression(p.shape, p.indptr, p.indices, gather.astype(np.int64), width)


def decompress(pattern, coloring: Coloring, compressed: np.ndarray) -> sps.csr_matrix:
    """J from its compression: J[i, j] = (J S)[i, colour j] (column mode) or (Sᵀ J)[colour i,
    j] (row mode), for every (i, j) in the pattern."""
    return decompression(pattern, coloring)(compressed)
