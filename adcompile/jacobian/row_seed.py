"""Implicit identity seeds for row-wise Jacobians (`adcompile.jacfwd_rows`).

Vector forward mode over (n, m) arguments whose rows are independent problems (one residual
per observation, one state per particle) needs the seed x_dot[i, j, lane] = (lane == off + j):
the identity for every row, with the lanes of several arguments side by side. Passed as an
array it is n*m*L floats that every lane op reads from memory. This pass removes the tangent
arguments instead and computes the seed where it is read:

    getitem(x_dot, i, j, lane)  ->  cast(lane == off + j)     (j wrapped like x[i, j])
    dim(x_dot, 0 | 1 | 2)       ->  dim(x, 0) | dim(x, 1) | L

Any other use of a tangent argument (whole-array math on x, row slices) leaves the function
alone (`None`); the API then passes the seed as an array.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op
from ..ir.types import ArrayType


def _uses_ok(block: Block, tangents: set[int]) -> bool:
    for op in block.ops:
        for k, v in enumerate(op.operands):
            if v.id not in tangents:
                continue
            if op.prim == "dim" or (op.prim == "getitem" and k == 0 and len(op.operands) == 4):
                continue
            return False
        for r in op.regions:
            if not _uses_ok(r, tangents):
                return False
    return True


def seed_rows(fn: Function, nprimal: int, primal_of: list[int]) -> Function | None:
    """fn: a lanes JVP whose args are the primals then one tangent per active argument
    (`primal_of[k]`: the primal index of tangent k). Returns fn without the tangent args, or
    None when a tangent is used other than by element reads and dims."""
    tang = fn.args[nprimal:]
    prims = [fn.args[i] for i in primal_of]
    if not all(isinstance(p.type, ArrayType) and p.type.ndim == 2 for p in prims):
        return None
    if not _uses_ok(fn.body, {t.id for t in tang}):
        return None
    head: list[Op] = []
    e = Builder(head, fn.loc)
    widths = [e("dim", p, axis=1, name=f"{p.name}_cols") for p in prims]
    offs, total = [], e.c(0)
    for w in widths:
        offs.append(total)
        total = e("add", total, w, name="lanes")
    info = {t.id: (p, w, off) for t, p, w, off in zip(tang, prims, widths, offs)}

    def rewrite(block: Block) -> None:
        out: list[Op] = []
        for op in block.ops:
            for r in op.regions:
                rewrite(r)
            src = op.operands[0] if op.operands else None
            if src is None or src.id not in info or op.prim not in ("dim", "getitem"):
                out.append(op)
                continue
            p, w, off = info[src.id]
            oe = Builder(out, op.loc)
            y = op.results[0]
            if op.prim == "dim":
                ax = op.attrs["axis"]
                val = total if ax == 2 else w if ax == 1 else oe("dim", p, axis=0, name="n")
                out.append(Op("add", [val, oe.c(0)], [y], {}, [], op.loc))
                continue
            _, _, j, lane = op.operands
            jw = oe("select", oe("lt", j, oe.c(0)), oe("add", j, w), j, name="j")
            hit = oe("eq", lane, oe("add", off, jw), name="seed")
            out.append(Op("cast", [hit], [y], {"to": y.type.name}, [], op.loc))
        block.ops = out

    rewrite(fn.body)
    fn.body.ops[0:0] = head
    fn.args = fn.args[:nprimal]
    fn.body.args = list(fn.body.args[:nprimal]) if fn.body.args else fn.body.args
    fn.shape_links = [(i, j) for i, j in fn.shape_links if i < nprimal and j < nprimal]
    return fn
