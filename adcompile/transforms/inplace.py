"""Make array writes in place: insert `copy` ops wherever the IR's value semantics need one.

After this pass the invariant the backends rely on holds: for every `setitem`/`setslice`, no
value sharing storage with its array operand is used afterwards, so the write may reuse the
operand's storage. Storage is shared along `setitem` chains, between loop/if operands, block
arguments, yields and results. A copy is inserted only when the old version is still live
(e.g. the user reads `x_old` after writing `x`), so a loop of element writes stays O(1) each.

Liveness is computed backwards over the structured regions; values used anywhere inside a loop
count as live for the whole loop, because the next iteration may read them.
"""
from __future__ import annotations

from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import ArrayType
from ..ir.views import Access, Loop
from ..ir.walk import free_uses


def _is_array(v: Value) -> bool:
    return isinstance(v.type, ArrayType)


def _free_uses(op: Op) -> set[int]:
    """Array values used inside op's regions but defined outside them."""
    return {v.id for v in free_uses(op.regions) if _is_array(v)}


def _copy_op(v: Value, loc) -> Op:
    return Op("copy", [v], [Value(v.name, v.type)], {}, [], loc)


def _process(block: Block, live_out: set[int]) -> set[int]:
    """Rewrite block in place; return the array values live at its start."""
    live = set(live_out)
    new_ops: list[Op] = []
    for op in reversed(block.ops):
        after = set(live)
        inserted: list[Op] = []
        if has(op, Trait.WRITES_ARRAY) and Access(op).array.id in after:
            c = _copy_op(op.operands[0], op.loc)
            op.operands[0] = c.results[0]
            inserted.append(c)
        elif op.prim == "yield" or op.prim in ("for", "while"):
            start = Loop(op).offset if op.regions else 0
            inside = _free_uses(op) if op.regions else set()
            seen: set[int] = set()
            for k in range(start, len(op.operands)):
                v = op.operands[k]
                if not _is_array(v):
                    continue
                if v.id in after or v.id in inside or v.id in seen:
                    c = _copy_op(v, op.loc)
                    op.operands[k] = c.results[0]
                    inserted.append(c)
                seen.add(v.id)
        if op.regions:
            region_live = after | (_free_uses(op) if op.prim in ("for", "while") else set())
            for r in op.regions:
                _process(r, region_live)
        live = after - {r.id for r in op.results}
        live |= {v.id for v in op.operands if _is_array(v)}
        if op.regions:
            live |= _free_uses(op)
        new_ops.append(op)
        for c in inserted:
            live.discard(c.results[0].id)
            live.add(c.operands[0].id)
            new_ops.append(c)
    block.ops = list(reversed(new_ops))
    return live


def insert_copies(fn: Function) -> Function:
    # The caller keeps its argument arrays: writing one needs a copy first.
    _process(fn.body, {a.id for a in fn.args if _is_array(a)})
    return fn
