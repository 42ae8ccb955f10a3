"""Make array writes in place: insert `copy` ops wherever the IR's value semantics need one.

After this pass the invariant the backends rely on holds: for every `setitem`/`setslice`, no
value sharing storage with its array operand is used afterwards, so the write may reuse the
operand's storage. Storage is shared along `setitem` chains, between loop/if operands, block
arguments, yields and results. A copy is inserted only when the old version is still live
(e.g. the user reads `x_old` after writing `x`), so a loop of element writes stays O(1) each.

Liveness is computed backwards over the structured regions; values used anywhere inside a loop
count as live for the whole loop, because the next iteration may read them. A result of a
`SHARES_STORAGE` op (a transpose of a vector, a `sum_to` with nothing to sum) may be its
operand's storage: a write to either copies first while the other is live.
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


def _sharing(fn: Function) -> dict[int, set[int]]:
    """Array value -> the other values that may share its storage (`SHARES_STORAGE` links)."""
    group: dict[int, set[int]] = {}
    for op in fn.walk():
        if has(op, Trait.SHARES_STORAGE) and _is_array(op.results[0]) and \
                _is_array(op.operands[0]):
            a, b = op.operands[0].id, op.results[0].id
            merged = group.get(a, {a}) | group.get(b, {b})
            for v in merged:
                group[v] = merged
    return group


def _shared_live(v: Value, after: set[int], shares: dict[int, set[int]]) -> bool:
    return v.id in after or any(o in after for o in shares.get(v.id, ()) if o != v.id)


def _process(block: Block, live_out: set[int], shares: dict[int, set[int]]) -> set[int]:
    """Rewrite block in place; return the array values live at its start."""
    live = set(live_out)
    new_ops: list[Op] = []
    for op in reversed(block.ops):
        after = set(live)
        inserted: list[Op] = []
        if has(op, Trait.WRITES_ARRAY) and _shared_live(Access(op).array, after, shares):
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
                if _shared_live(v, after, shares) or v.id in inside or v.id in seen:
                    c = _copy_op(v, op.loc)
                    op.operands[k] = c.results[0]
                    inserted.append(c)
                seen.add(v.id)
        if op.regions:
            region_live = after | (_free_uses(op) if op.prim in ("for", "while") else set())
            for r in op.regions:
                _process(r, region_live, shares)
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
    _process(fn.body, {a.id for a in fn.args if _is_array(a)}, _sharing(fn))
    return fn
