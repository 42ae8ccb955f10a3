"""Replace each remaining `custom` op by its region's body, so backends never see one."""
from __future__ import annotations

from ..ir.core import Block, Function
from ..ir.inline import inline_region


def _block(block: Block, keep=None) -> None:
    out = Block(block.args, [])
    subst: dict[int, object] = {}
    for op in block.ops:
        op.operands = [subst.get(v.id, v) for v in op.operands]
        for r in op.regions:
            _block(r, keep)
        if op.prim == "custom" and (keep is None or not keep(op)):
            results = inline_region(op.regions[0], out, list(op.operands))
            for r, v in zip(op.results, results):
                subst[r.id] = v
            continue
        out.ops.append(op)
    block.ops = out.ops
    if subst:
        _rewrite(block, subst)


def _rewrite(block: Block, subst) -> None:
    for op in block.ops:
        op.operands = [subst.get(v.id, v) for v in op.operands]
        for r in op.regions:
            _rewrite(r, subst)


def inline_custom(fn: Function, keep=None) -> Function:
    """Inline every custom op, or those for which `keep(op)` is false."""
    _block(fn.body, keep)
    return fn
