"""Inlining one IR function into a block (custom derivative rules, custom-call bodies)."""
from __future__ import annotations

import copy

from .core import Block, Function, Value


def _substitute(block: Block, mapping: dict[int, Value]) -> None:
    for op in block.ops:
        op.operands = [mapping.get(v.id, v) for v in op.operands]
        for r in op.regions:
            _substitute(r, mapping)


def inline_function(fn: Function, block: Block, args: list[Value], loc=None) -> list[Value]:
    """Append a fresh copy of `fn`'s body to `block` with its arguments bound to `args`;
    return the values it returns."""
    fn = copy.deepcopy(fn)
    mapping = {a.id: v for a, v in zip(fn.args, args)}
    _substitute(fn.body, mapping)
    ret = fn.body.ops[-1]
    for op in fn.body.ops[:-1]:
        if loc is not None and op.loc is None:
            op.loc = loc
        block.ops.append(op)
    return list(ret.operands)


def inline_region(region: Block, block: Block, args: list[Value]) -> list[Value]:
    """Append the ops of a single-block region (ending in yield) with its args bound."""
    mapping = {a.id: v for a, v in zip(region.args, args)}
    _substitute(region, mapping)
    block.ops.extend(region.ops[:-1])
    return list(region.ops[-1].operands)
