"""Loop-invariant code motion: pure ops whose operands are all defined outside a loop body are
moved in front of the loop.

In reverse mode this matters twice: the work is done once, and a hoisted value lives outside
the loop, so the adjoint reads it directly instead of from a tape filled on every iteration
(e.g. `exp(icf[k, j])` in the ADBench GMM point loop).

Not hoisted: anything with an effect or regions, allocations (each iteration may need fresh
storage), writes, `undef`, and integer division/modulo (numba raises on division by zero, so a
hoisted division could fail for a loop that would not have run). Element reads are hoisted when
their array is defined outside the loop: if the loop runs zero times the value is unused.
"""
from __future__ import annotations

from ..ir.core import Block, Function, Op
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import ArrayType, scalar_of

# fresh storage per trip, in-place writes, effects and regions stay where they are
_PINNED = (Trait.ALLOCATES, Trait.WRITES_ARRAY, Trait.EFFECT, Trait.TERMINATOR, Trait.CONTROL)


def hoistable(op: Op) -> bool:
    """Whether op may run once before its loop instead of on every trip (given invariant
    operands)."""
    if op.regions or any(has(op, t) for t in _PINNED):
        return False
    if has(op, Trait.HOIST_INT_UNSAFE) and not scalar_of(op.results[0].type).is_float:
        return False
    # whole-array ops allocate a result: hoisting is still a win (done once), keep them
    return True


def _licm_block(block: Block) -> None:
    out: list[Op] = []
    for op in block.ops:
        for r in op.regions:
            _licm_block(r)
        if op.prim in ("for", "while"):
            out.extend(_hoist_from(op))
        out.append(op)
    block.ops = out


def _hoist_from(loop: Op) -> list[Op]:
    body = loop.regions[-1]
    inside = {a.id for a in body.args}
    for op in body.ops:
        for r in op.results:
            inside.add(r.id)
    hoisted: list[Op] = []
    kept: list[Op] = []
    moved: set[int] = set()
    for op in body.ops:
        if hoistable(op) and all(v.id not in inside or v.id in moved for v in op.operands) \
                and not any(isinstance(v.type, ArrayType) and v.id in moved and
                            op.prim in ("getitem", "getslice") for v in op.operands):
            hoisted.append(op)
            for r in op.results:
                moved.add(r.id)
            continue
        kept.append(op)
    body.ops = kept
    return hoisted


def licm(fn: Function) -> Function:
    _licm_block(fn.body)
    return fn
