"""Inlining a function into the caller's block with its parameters bound to IR values:
how adcompile's own subset source (custom rules, np.linalg's numerics, solvers) enters a
user's program. A call written by the user goes through `calls.inline_call`, which binds
AST arguments, defaults and keywords first."""
from __future__ import annotations

from typing import Any

from ..ir.builder import Builder
from ..ir.core import Block, Value
from ..ir.types import BOOL
from ..errors import TypeInferenceError
from .env import unflatten
from .source import get_source


def lower_custom_values(lw, cf, args: list[Value], node) -> Any:
    """`lower_custom` with the arguments already lowered (adcompile's own callers)."""
    region = Block([Value(a.name, a.type) for a in args])
    outer_block = lw.block
    lw.block = region
    try:
        out = inline_call_values(lw, cf.fun, node, region.args)
    finally:
        lw.block = outer_block
    outs = list(out) if isinstance(out, tuple) else [out]
    if not all(isinstance(o, Value) for o in outs):
        raise lw.error(node, f"'{cf.__name__}' must return numbers or arrays", "",
                       TypeInferenceError)
    Builder(region, lw.src.loc(node)).op("yield", outs, [])
    op = Builder(lw.block, lw.src.loc(node)).op("custom", args, [o.type for o in outs],
                                               {"rule": cf.id}, [region],
                                               [cf.__name__] * len(outs))
    return tuple(op.results) if isinstance(out, tuple) else op.results[0]


def inline_call_values(lw, func, node, values: list[Value]) -> Any:
    """Inline `func` with its parameters bound to IR values (not AST arguments)."""
    if func in lw.ctx.stack:
        raise lw.error(node, f"recursive call to '{func.__name__}' is not supported",
                       "rewrite the recursion as a loop")
    src = get_source(func)
    params = [a.id for a in src.node.args.args]
    if len(params) != len(values):
        raise lw.error(node, f"{func.__name__}() takes {len(params)} arguments but "
                       f"{len(values)} were given", "", TypeInferenceError)
    child = type(lw)(src, lw.ctx, lw.block, lw.depth + 1)
    child._check_signature(src.node)
    for p, v in zip(params, values):
        child.env.bind(p, v)
    lw.ctx.stack.append(func)
    child.env.bind("return", child.const(False, BOOL, name="returned"))
    child.lower_body(src.node.body)
    lw.ctx.stack.pop()
    results = child._final_results(src.node)
    if not results:
        return None
    if child.ret_tree is not None:
        return unflatten(child.ret_tree, results)
    return tuple(results) if child.ret_tuple else results[0]
