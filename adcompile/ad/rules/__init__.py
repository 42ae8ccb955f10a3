"""Derivative rules, keyed by primitive name, read by forward mode and by reverse mode.

- `elementwise`: `PARTIALS`, the one table of scalar/elementwise partial derivatives both
  modes derive from (forward: tangent = sum of partial * operand tangent; reverse: operand
  adjoint += partial * result adjoint), and the non-differentiable classifications;
- structural primitives, one module per family, each primitive's JVP rule next to its VJP rule:
  `arrays` (copy, cast, transpose, select, full, shape helpers), `indexing` (element and slice
  reads and writes), `reductions` (sum, mean, max, min, prod), `linalg` (matmul), `tapes`
  (tangents of tape ops, for forward over reverse).

`JVP[prim](fw, e, op, d, name)` and `VJP[prim](rv, e, op, g)` merge the families' tables.
`tests/ad/test_primitives.py` ties them to the primitive set.
"""
from __future__ import annotations

from . import arrays, indexing, linalg, reductions, tapes
from .elementwise import NO_RULE, NON_DIFFERENTIABLE, PARTIALS, ZERO_DERIVATIVE, partials

JVP = {**arrays.JVP, **indexing.JVP, **reductions.JVP, **linalg.JVP, **tapes.JVP}
VJP = {**arrays.VJP, **indexing.VJP, **reductions.VJP, **linalg.VJP, **tapes.VJP}

__all__ = [
           "JVP",
           "NON_DIFFERENTIABLE",
           "NO_RULE",
           "PARTIALS",
           "VJP",
           "ZERO_DERIVATIVE",
           "partials",
]
