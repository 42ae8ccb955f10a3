"""Deep copies of IR ops with fresh SSA values (for recomputation and strip-mining), and
replacing a value's uses (for passes that rewrite in place)."""
from __future__ import annotations

from .core import Block, Op, Value


def replace_uses(block: Block, mapping: dict[int, Value]) -> None:
    """Every operand in block (and its nested regions) whose id is in mapping is replaced."""
    for op in block.ops:
        op.operands = [mapping.get(v.id, v) for v in op.operands]
        for r in op.regions:
            replace_uses(r, mapping)


def clone_ops(ops: list[Op], mapping: dict[int, Value]) -> list[Op]:
    """Deep copies of ops with fresh values; `mapping` (old id -> new value) is extended with
    every value they define, including block arguments of nested regions."""
    def val(v: Value) -> Value:
        return mapping.get(v.id, v)

    def clone_block(b: Block) -> Block:
        args = []
        for a in b.args:
            n = Value(a.name, a.type)
            mapping[a.id] = n
            args.append(n)
        return Block(args, clone_ops(b.ops, mapping))

    out = []
    for op in ops:
        regions = [clone_block(r) for r in op.regions]
        results = []
        for r in op.results:
            n = Value(r.name, r.type)
            mapping[r.id] = n
            results.append(n)
        out.append(Op(op.prim, [val(v) for v in op.operands], results, dict(op.attrs),
                      regions, op.loc))
    return out
