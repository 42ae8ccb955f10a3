"""Loop fusion: adjacent `for` loops over the same range become one loop.

Two loops fuse when they are neighbours in a block (only constants or index arithmetic that
does not depend on the first loop may sit between them; it moves in front), run over the same
range (the same bound values, or equal constants), the second does not use any result of
the first, they push or pop no common tape, and neither loop writes an array the other reads (arrays are values in the IR, so
fusing those would still be correct, but copy insertion would then copy the array once per
execution of the fused loop).

Fusing halves the loop overhead and lets the backend keep both bodies' loads in registers;
in reverse mode the fused loop is reversed once (one trip count, one reservation).
"""
from __future__ import annotations

from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import ArrayType, TapeType
from ..ir.views import ForOp
from ..ir.walk import replace_uses, used_ids


def _same(a: Value, b: Value, consts: dict[int, object]) -> bool:
    if a is b:
        return True
    return a.id in consts and b.id in consts and consts[a.id] == consts[b.id] and \
        a.type == b.type


def _fusable(a: Op, b: Op, consts) -> bool:
    if a.prim != "for" or b.prim != "for" or set(a.attrs) - {"adjoint"} or a.attrs != b.attrs:
        return False
    fa, fb = ForOp(a), ForOp(b)
    if not all(_same(x, y, consts) for x, y in zip(fa.bounds, fb.bounds)):
        return False
    results = {r.id for r in a.results}
    ua, ub = used_ids(a), used_ids(b)
    if results & ub:
        return False
    # a tape both loops push or pop: fusing would interleave its last-in-first-out order
    if any(isinstance(v.type, TapeType) for v in _operands(a) & _operands(b)):
        return False
    # an array one loop writes (carries) and the other reads would need a copy once fused
    written_a = {v.id for v in fa.inits if isinstance(v.type, ArrayType)}
    written_b = {v.id for v in fb.inits if isinstance(v.type, ArrayType)}
    return not (written_a & ub) and not (written_b & ua)


def _operands(op: Op) -> set[Value]:
    out: set[Value] = set()
    for region in op.regions:
        for inner in region.ops:
            out.update(inner.operands)
            out |= _operands(inner)
    return out


def _fuse(a: Op, b: Op) -> Op:
    fa, fb = ForOp(a), ForOp(b)
    ba, bb = fa.body, fb.body
    ya, yb = ba.ops[-1], bb.ops[-1]
    # the second body reads the first's induction variable in place of its own
    replace_uses(bb, {fb.iv.id: fa.iv})
    body = Block([fa.iv] + fa.carried + fb.carried,
                 ba.ops[:-1] + bb.ops[:-1] +
                 [Op("yield", ya.operands + yb.operands, [], {}, [], ya.loc)])
    return Op("for", fa.bounds + fa.inits + fb.inits, a.results + b.results, {}, [body], a.loc)


def _fuse_block(block: Block, consts: dict[int, object]) -> bool:
    changed = False
    for op in block.ops:
        if op.prim == "const":
            consts[op.results[0].id] = op.attrs["value"]
        for r in op.regions:
            changed |= _fuse_block(r, consts)
    i = 0
    ops = block.ops
    while i < len(ops):
        op = ops[i]
        if op.prim == "for" and not set(op.attrs) - {"adjoint"}:
            # look past movable index arithmetic that does not use this loop's results
            j = i + 1
            between: list[Op] = []
            results = {r.id for r in op.results}
            while j < len(ops) and has(ops[j], Trait.REMAT) and not ops[j].regions and \
                    not ({v.id for v in ops[j].operands} & results):
                between.append(ops[j])
                j += 1
            if j < len(ops) and _fusable(op, ops[j], consts):
                fused = _fuse(op, ops[j])
                ops = ops[:i] + between + [fused] + ops[j + 1:]
                i += len(between)
                changed = True
                continue   # the fused loop may fuse with the next one too
        i += 1
    block.ops = ops
    return changed


def fuse(fn: Function) -> Function:
    while _fuse_block(fn.body, {}):
        pass
    return fn
