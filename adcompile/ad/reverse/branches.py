"""`if` in reverse mode: the adjoint of each branch in a branch of its own, on the same
condition (a value the reverse sweep reads like any other primal value, so it is taped
inside loops). Both reverse branches yield the adjoints of the outer values either branch
changed; a branch that did not touch one yields it unchanged (or a zero)."""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Block, Op
from ...ir.walk import defined_in, free_uses
from ..emitter import Emitter
from .context import ReverseContext, Scope
from .tapes import close_scope


def reverse_if(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    cond = ctx.primal_at(op.operands[0])
    before = ctx.adj
    branches = []
    for region in op.regions:
        rblock = Block([])
        re = Emitter(rblock, e.loc)
        ctx.adj = dict(before)
        for r in op.results:
            if r.id in before:
                ctx.adj.pop(r.id, None)
        for k, r in enumerate(op.results):
            if r.id in before:
                ctx.accumulate(re, region.ops[-1].operands[k], before[r.id])
        sc = Scope(region, rblock)
        ctx.scopes.append(sc)
        ctx.backward_block(region.ops[:-1], re)
        ctx.scopes.pop()
        branches.append((ctx.adj, rblock, sc))
    ctx.adj = before
    inner = {v.id for v in defined_in(op)}
    results = {r.id for r in op.results}
    changed: list[int] = []
    for adj_b, _, _ in branches:
        for vid, g in adj_b.items():
            if vid in inner or vid in changed or vid in results:
                continue
            if before.get(vid) is not g:
                changed.append(vid)
    values = {v.id: v for v in free_uses(op.regions)}
    zero_of = {}
    for vid in changed:
        if vid not in before:
            zero_of[vid] = ctx.zeros(e, values[vid])
    for adj_b, rblock, sc in branches:
        vals = [adj_b.get(vid) or before.get(vid) or zero_of[vid] for vid in changed]
        Builder(rblock, e.loc).op("yield", vals, [])
        close_scope(ctx, sc)
    res = Builder(e.block, e.loc).op("if", [cond], [values[v].type for v in changed], {},
                                     [b[1] for b in branches],
                                     [values[v].name + "_bar" for v in changed])
    for r in op.results:
        ctx.adj.pop(r.id, None)
    for vid, r in zip(changed, res.results):
        ctx.adj[vid] = r
