"""The driver shared by loop rewrites (split_sums, partial_sums): visit every op bottom-up
(nested regions first), let the rewrite replace it by a list of ops, then redirect uses of the
values it retired. Rewrites read the function's integer constants (`consts`: value id ->
int) to reason about trip counts and offsets."""
from __future__ import annotations

from collections.abc import Callable

from ..ir.core import Block, Function, Op, Value
from ..ir.walk import replace_uses

# rewrite(op, consts, gone) -> the ops replacing op, or None to keep it; it records in `gone`
# (old value id -> new value) the values later ops must read instead
Rewrite = Callable[[Op, dict[int, int], dict[int, Value]], "list[Op] | None"]


def rewrite_ops(fn: Function, rewrite: Rewrite) -> Function:
    consts = {op.results[0].id: op.attrs["value"] for op in fn.walk()
              if op.prim == "const" and type(op.attrs.get("value")) is int}
    gone: dict[int, Value] = {}
    _visit(fn.body, rewrite, consts, gone)
    if gone:
        replace_uses(fn.body, gone)
    return fn


def _visit(block: Block, rewrite: Rewrite, consts: dict[int, int],
           gone: dict[int, Value]) -> None:
    out: list[Op] = []
    for op in block.ops:
        for r in op.regions:
            _visit(r, rewrite, consts, gone)
        new = rewrite(op, consts, gone)
        out.extend([op] if new is None else new)
    block.ops = out
