"""Induction variables: a counter carried through a `for` loop becomes a function of the index.

    for i in range(lb, ub, step):          for i in range(lb, ub, step):
        ... idx ...                  ->        idx_i = idx0 + ((i - lb) // step) * c
        idx = idx + c                          ... idx_i ...
                                           idx_final = idx0 + trips * c

for an integer slot whose only update is adding a loop-invariant `c` (packed-matrix offsets,
output cursors, ADBench's `idx += 1`). The slot then dies (DCE removes it) and the loop's
iterations no longer depend on each other through it: reverse mode recomputes `idx_i` from the
index instead of taping it on every trip, and element reads through it (`icf[k, idx]`) are
re-read rather than taped.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.loops import trip_count
from ..ir.types import I64
from ..ir.views import ForOp
from ..ir.walk import defined_ids, replace_uses


def _step_of(arg: Value, y: Value, defs: dict[int, Op], inside: set[int]) -> tuple | None:
    """(prim, c) when y = arg + c or arg - c with c invariant (defined outside the loop, or a
    constant); else None."""
    op = defs.get(y.id)
    if op is None or op.prim not in ("add", "sub"):
        return None
    a, b = op.operands

    def invariant(v: Value) -> bool:
        return v.id not in inside or (v.id in defs and defs[v.id].prim == "const")
    if a is arg and invariant(b):
        return op.prim, b
    if op.prim == "add" and b is arg and invariant(a):
        return "add", a
    return None


def _convert(loop: Op, home: Block) -> bool:
    view = ForOp(loop)
    body, iv = view.body, view.iv
    lb, ub, step = view.bounds
    y = body.ops[-1]
    defs = {r.id: o for o in body.ops for r in o.results}
    inside = defined_ids([body])
    changed = False
    for k, arg in enumerate(view.carried):
        if arg.type != I64:
            continue
        got = _step_of(arg, y.operands[k], defs, inside)
        if got is None:
            continue
        prim, c = got
        init = view.inits[k]
        head: list[Op] = []
        e = Builder(head, loop.loc)
        const = defs[c.id].attrs if c.id in inside else None   # a constant of the body
        if const is not None:
            c = e("const", name=c.name, **const)
        count = e("floordiv", e("sub", iv, lb), step, name="trip")
        val = e(prim, init, e("mul", count, c), name=arg.name)
        replace_uses(body, {arg.id: val})
        body.ops[0:0] = head
        # after the loop: the final value from the trip count
        res = loop.results[k]
        tail: list[Op] = []
        te = Builder(tail, loop.loc)
        if const is not None:
            c = te("const", name=c.name, **const)
        final = te(prim, init, te("mul", trip_count(te, lb, ub, step), c), name=res.name)
        idx = home.ops.index(loop) + 1
        replace_uses(home, {res.id: final})
        home.ops[idx:idx] = tail
        changed = True
    return changed


def induction(fn: Function) -> Function:
    def visit(block: Block) -> None:
        for op in list(block.ops):
            for r in op.regions:
                visit(r)
            if op.prim == "for":
                _convert(op, block)
    visit(fn.body)
    return fn
