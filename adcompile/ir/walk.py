"""IR utilities every pass needs: walking, use counts, free uses, values defined inside an op,
replacing uses, and cloning with fresh SSA values.

One copy of each, so that a fix to how nested regions are visited is made once. Value sets are
keyed by `Value.id` (ids are unique: `clone_function` gives copies fresh ones, unlike
`copy.deepcopy`, whose copies would share ids with the original).
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator

from .core import Block, Function, Op, Value


def ops_in(blocks: Iterable[Block]) -> Iterator[Op]:
    """Every op of the blocks, nested regions included, in pre-order."""
    for block in blocks:
        for op in block.ops:
            yield op
            yield from ops_in(op.regions)


def use_counts(block: Block, counts: Counter | None = None) -> Counter:
    """How often each value (by id) is an operand in `block` and its nested regions."""
    counts = Counter() if counts is None else counts
    for op in ops_in([block]):
        for v in op.operands:
            counts[v.id] += 1
    return counts


def used_inside(op: Op) -> set[int]:
    """Ids of the operands of the ops nested in op's regions."""
    return {v.id for o in ops_in(op.regions) for v in o.operands}


def used_ids(op: Op) -> set[int]:
    """Ids of every operand of `op` and of the ops nested in its regions."""
    return {v.id for v in op.operands} | used_inside(op)


def defined_in(op: Op) -> list[Value]:
    """Values defined inside op's regions (block arguments and op results), in order."""
    out: list[Value] = []

    def visit(block: Block) -> None:
        out.extend(block.args)
        for o in block.ops:
            out.extend(o.results)
            for r in o.regions:
                visit(r)
    for r in op.regions:
        visit(r)
    return out


def defined_ids(blocks: Iterable[Block]) -> set[int]:
    """Ids of the values the blocks define, nested regions included."""
    out: set[int] = set()
    for block in blocks:
        out.update(a.id for a in block.args)
        for op in ops_in([block]):
            out.update(r.id for r in op.results)
            for r in op.regions:
                out.update(a.id for a in r.args)
    return out


def free_uses(regions: Iterable[Block]) -> list[Value]:
    """Values used inside the regions but defined outside them, in first-use order."""
    defined: set[int] = set()
    out: dict[int, Value] = {}

    def visit(block: Block) -> None:
        defined.update(a.id for a in block.args)
        for o in block.ops:
            for v in o.operands:
                if v.id not in defined:
                    out.setdefault(v.id, v)
            for r in o.regions:
                visit(r)
            defined.update(r.id for r in o.results)

    for r in regions:
        visit(r)
    return [v for k, v in out.items() if k not in defined]


def replace_uses(block: Block, mapping: dict[int, Value]) -> None:
    """Every operand in block (and its nested regions) whose id is in mapping is replaced."""
    for op in ops_in([block]):
        op.operands = [mapping.get(v.id, v) for v in op.operands]


def clone_ops(ops: list[Op], mapping: dict[int, Value]) -> list[Op]:
    """Deep copies of ops with fresh values; `mapping` (old id -> new value) is extended with
    every value they define, including block arguments of nested regions."""
    def clone_block(b: Block) -> Block:
        args = [_fresh(a, mapping) for a in b.args]
        return Block(args, clone_ops(b.ops, mapping))

    out = []
    for op in ops:
        regions = [clone_block(r) for r in op.regions]
        results = [_fresh(r, mapping) for r in op.results]
        out.append(Op(op.prim, [mapping.get(v.id, v) for v in op.operands], results,
                      dict(op.attrs), regions, op.loc))
    return out


def inline_function(fn: Function, block: Block, args: list[Value]) -> list[Value]:
    """Append a copy of `fn`'s body to `block` with its arguments bound to `args`; the values
    it returns. (Composed transforms: a derivative program called from another program.)"""
    mapping = {a.id: v for a, v in zip(fn.args, args)}
    ops = clone_ops(fn.body.ops, mapping)
    ret = ops.pop()
    block.ops.extend(ops)
    return list(ret.operands)


def clone_function(fn: Function) -> Function:
    """A copy of `fn` with fresh values throughout (safe to transform beside the original)."""
    mapping: dict[int, Value] = {}
    args = [_fresh(a, mapping) for a in fn.args]
    body = Block([_fresh(a, mapping) for a in fn.body.args], clone_ops(fn.body.ops, mapping))
    return Function(fn.name, args, body, list(fn.result_types), fn.loc, fn.returns_tuple,
                    list(fn.shape_links), list(fn.python_scalars))


def _fresh(v: Value, mapping: dict[int, Value]) -> Value:
    n = Value(v.name, v.type)
    mapping[v.id] = n
    return n
