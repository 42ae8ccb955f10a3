"""Inlining one IR function into a block (custom derivative rules, custom-call bodies)."""
from __future__ import annotations

from .core import Block, Function, Value
from .walk import clone_ops, replace_uses


def inline_function(fn: Function, block: Block, args: list[Value], loc=None) -> list[Value]:
    """Append a fresh copy of `fn`'s body (new values: `fn` may be inlined again) to `block`
    with its arguments bound to `args`; return the values it returns."""
    ops = clone_ops(fn.body.ops, {a.id: v for a, v in zip(fn.args, args)})
    ret = ops[-1]
    for op in ops[:-1]:
        if loc is not None and op.loc is None:
            op.loc = loc
        block.ops.append(op)
    return list(ret.operands)


def inline_region(region: Block, block: Block, args: list[Value]) -> list[Value]:
    """Append the ops of a single-block region (ending in yield) with its args bound."""
    replace_uses(region, {a.id: v for a, v in zip(region.args, args)})
    block.ops.extend(region.ops[:-1])
    return list(region.ops[-1].operands)
