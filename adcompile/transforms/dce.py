"""Dead-code elimination, including unused loop-carried values and if results.

All non-terminator ops are pure (arrays are values), so an op whose results are unused goes.
A carried value of a loop goes when its result is unused after the loop and, inside the loop,
its block arguments feed nothing but their own yield slot. Runs to a fixed point.
"""
from __future__ import annotations

from collections import Counter

from ..ir.core import Block, Function, Op
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.views import Loop, WhileOp
from ..ir.walk import ops_in, use_counts


def _drop_carried(op: Op, uses: Counter) -> bool:
    """Remove dead carried slots of a for/while/if op. Returns True if anything changed."""
    nres = len(op.results)
    if nres == 0:
        return False
    if op.prim == "if":
        keep = [i for i, r in enumerate(op.results) if uses[r.id] > 0]
        if len(keep) == nres:
            return False
        for region in op.regions:
            y = region.ops[-1]
            y.operands = [y.operands[i] for i in keep]
        op.results = [op.results[i] for i in keep]
        return True
    loop = Loop(op)
    live = {i for i, r in enumerate(op.results) if uses[r.id] > 0}
    while True:
        needed = {loop.yields[i].id for i in live}
        _mark(loop.body, needed)
        if op.prim == "while":
            needed.add(WhileOp(op).condition.id)
            _mark(WhileOp(op).before, needed)
        grown = live | {i for i in range(nres)
                        if any(loop.slot_args(rg)[i].id in needed for rg in op.regions)}
        if grown == live:
            break
        live = grown
    dead = [i for i in range(nres) if i not in live]
    if not dead:
        return False
    loop.keep_slots([i for i in range(nres) if i not in dead])
    return True


def _mark(block: Block, needed: set[int]) -> None:
    """Backward: add to `needed` the operands of every op whose results are needed."""
    for op in reversed(block.ops):
        if has(op, Trait.TERMINATOR):
            continue
        if op.prim == "if" and not _has_effect(op):
            if any(r.id in needed for r in op.results):   # only the needed slots' yields
                needed.add(op.operands[0].id)
                for region in op.regions:
                    y = region.ops[-1]
                    needed.update(v.id for r, v in zip(op.results, y.operands)
                                  if r.id in needed)
                    _mark(region, needed)
            continue
        if _has_effect(op) or any(r.id in needed for r in op.results):
            needed.update(v.id for v in op.operands)
            for r in op.regions:
                _mark_all(r, needed)


def _mark_all(block: Block, needed: set[int]) -> None:
    for op in block.ops:
        needed.update(v.id for v in op.operands)
        for r in op.regions:
            _mark_all(r, needed)


def _sweep(block: Block, uses: Counter) -> bool:
    changed = False
    kept = []
    for op in block.ops:
        for r in op.regions:
            changed |= _sweep(r, uses)
        if op.prim in ("for", "while", "if"):
            changed |= _drop_carried(op, uses)
        keep = has(op, Trait.TERMINATOR) or _has_effect(op)
        if not keep and all(uses[r.id] == 0 for r in op.results):
            changed = True
            continue
        kept.append(op)
    block.ops = kept
    return changed


def _has_effect(op: Op) -> bool:
    """An effectful op, or a loop/branch containing one (e.g. a recomputed loop that only
    refills tapes: its results are unused, its pushes are not)."""
    return has(op, Trait.EFFECT) or any(has(o, Trait.EFFECT) for o in ops_in(op.regions))


def drop_dead_tapes(fn: Function) -> bool:
    """Tapes whose popped values are never used are not recorded at all (their pushes, pops,
    reservations and the tape itself go). Returns True if anything was removed."""
    uses: Counter = Counter()
    pops: dict[int, list[Op]] = {}

    def scan(block: Block) -> None:
        for op in block.ops:
            for v in op.operands:
                uses[v.id] += 1
            if op.prim == "tape_pop":
                pops.setdefault(op.operands[0].id, []).append(op)
            for r in op.regions:
                scan(r)
    scan(fn.body)
    dead = {t for t, ops in pops.items() if all(uses[o.results[0].id] == 0 for o in ops)}
    if not dead:
        return False

    def strip(block: Block) -> None:
        block.ops = [op for op in block.ops
                     if not (has(op, Trait.EFFECT) and op.operands and
                             op.operands[0].id in dead)
                     and not (op.prim == "tape_new" and op.results[0].id in dead)]
        for op in block.ops:
            for r in op.regions:
                strip(r)
    strip(fn.body)
    return True


def dce(fn: Function) -> Function:
    while True:
        uses = use_counts(fn.body)
        if not _sweep(fn.body, uses) and not drop_dead_tapes(fn):
            return fn
