"""Activity analysis: which values can carry a derivative from the chosen inputs.

A value is *varied* when it is a float that depends, through differentiable primitives, on an
active argument. Only varied values get tangents (forward mode) or adjoints (reverse mode), so
constants computed from inactive inputs need no derivative rule at all (e.g. `math.lgamma(n)`).
Loop-carried slots are solved to a fixed point; tapes are varied when a varied value is pushed.
"""
from __future__ import annotations

from ..ir.core import Block, Function, Op
from ..ir.types import TapeType, scalar_of
from .rules import NON_DIFFERENTIABLE, ZERO_DERIVATIVE

# ops whose result never depends differentiably on their operands
_CUT = NON_DIFFERENTIABLE | ZERO_DERIVATIVE


_SHAPE_ONLY_TAIL = {"broadcast_like", "sum_to"}


def _is_float(v) -> bool:
    t = v.type
    if isinstance(t, TapeType):
        return scalar_of(t.elem).is_float
    return scalar_of(t).is_float


def varied(fn: Function, active_args: list[bool]) -> set[int]:
    out = {a.id for a, act in zip(fn.args, active_args) if act and _is_float(a)}
    while True:
        before = len(out)
        _block(fn.body, out)
        if len(out) == before:
            return out


def _block(block: Block, out: set[int]) -> None:
    for op in block.ops:
        _op(op, out)


def _op(op: Op, out: set[int]) -> None:
    p = op.prim
    if p in ("for", "while"):
        off = 3 if p == "for" else 0
        body = op.regions[-1]
        boff = 1 if p == "for" else 0
        while True:
            changed = False
            for k, r in enumerate(op.results):
                args = [rg.args[k + (boff if rg is body else 0)] for rg in op.regions]
                y = body.ops[-1].operands[k]
                if (op.operands[off + k].id in out or y.id in out) and _is_float(r):
                    for v in args + [r]:
                        if v.id not in out:
                            out.add(v.id)
                            changed = True
            n = len(out)
            for rg in op.regions:
                _block(rg, out)
            if not changed and len(out) == n:
                break
        return
    if p == "if":
        for rg in op.regions:
            _block(rg, out)
        for k, r in enumerate(op.results):
            if any(rg.ops[-1].operands[k].id in out for rg in op.regions) and _is_float(r):
                out.add(r.id)
        return
    if p == "tape_push":
        if op.operands[1].id in out:
            out.add(op.operands[0].id)
        return
    if p in _CUT:
        return
    if p == "cast" and not scalar_of(op.results[0].type).is_float:
        return
    ops = op.operands
    if p in _SHAPE_ONLY_TAIL:      # later operands give only a shape or a condition
        ops = ops[:1]
    elif p == "select":
        ops = ops[1:]
    if any(v.id in out for v in ops):
        for r in op.results:
            if _is_float(r):
                out.add(r.id)
