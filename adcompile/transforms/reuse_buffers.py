"""Scratch arrays of a loop body reuse one buffer across iterations.

An `empty(d)` in a `for` body with loop-invariant extents, whose storage never outlives the
iteration (it is written through element writes and inner loops, read, copied or taped, but
never yielded, returned or aliased), becomes a loop-carried buffer allocated once before the
loop: the body starts from the carried buffer and yields the last version of it.

Vector forward mode makes such arrays: `fuse_lanes` turns each stretch of lane arithmetic
into a loop over lanes whose results live in small arrays of one value per lane, and an
observation loop would otherwise allocate them on every trip (the LLVM backend's arena keeps
them until the call returns; numba pays a malloc/free each). `empty`'s contents are undefined,
so starting from the previous iteration's data is the same program.
"""
from __future__ import annotations

from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.views import ForOp
from ..ir.walk import replace_uses


def _reads(op: Op) -> bool:
    """A use that only reads the storage (an array result is fresh storage of its own)."""
    return has(op, Trait.READS_ARRAY)


def _writes(op: Op) -> bool:
    return has(op, Trait.WRITES_ARRAY)


class _Uses:
    def __init__(self, fn: Function):
        self.uses: dict[int, list[tuple[Op, int, Block]]] = {}
        self.home: dict[int, Block] = {}
        self.defs: dict[int, Op] = {}
        self.parent: dict[int, Block] = {}   # id(block) -> the block holding its op
        self.fn = fn
        self._scan(fn.body, fn.args)

    def rescan(self) -> None:
        """After a rewrite: the maps again, from scratch."""
        self.__init__(self.fn)

    def _scan(self, block: Block, extra=()) -> None:
        for a in list(extra) + list(block.args):
            self.home[a.id] = block
        for op in block.ops:
            for k, v in enumerate(op.operands):
                self.uses.setdefault(v.id, []).append((op, k, block))
            for r in op.results:
                self.home[r.id] = block
                self.defs[r.id] = op
            for region in op.regions:
                self.parent[id(region)] = block
                self._scan(region)

    def inside(self, v: Value, block: Block) -> bool:
        b = self.home.get(v.id)
        while b is not None:
            if b is block:
                return True
            b = self.parent.get(id(b))
        return False


def _last_version(u: _Uses, v: Value, block: Block, top: bool = False) -> Value | None:
    """The last version of v's storage along writes in `block` (through inner `for` loops),
    or None if a use could keep or share the storage. `top`: block is the one whose scratch
    array this is, so a yield out of it is an escape (an inner loop's yield is not)."""
    cur = v
    while True:
        nxt = None
        for op, k, where in u.uses.get(cur.id, []):
            if _reads(op) or (_writes(op) and k == 1) or \
                    (op.prim == "tape_push" and k == 1):
                continue        # reads, and writes/pushes that copy the data elsewhere
            if op.prim == "yield":
                return None if nxt is not None or top else _yield_end(u, cur, op, where, block)
            if where is not block:
                return None
            if _writes(op) and k == 0:
                step = op.results[0]
            elif op.prim == "for" and k >= 3:
                loop, slot = ForOp(op), k - 3
                end = _last_version(u, loop.carried[slot], loop.body)
                if end is None or [x.id for x in loop.yields].count(end.id) != 1 or \
                        loop.yields[slot] is not end:
                    return None
                step = op.results[slot]
            else:
                return None
            if nxt is not None:
                return None     # two writes from one version: not a chain
            nxt = step
        if nxt is None:
            return cur
        cur = nxt


def _yield_end(u: _Uses, cur: Value, op: Op, where: Block, block: Block) -> Value | None:
    """`cur` reaches a yield: fine only as the last version handed to an inner loop's next
    iteration (checked by the caller), never out of `block` itself."""
    if where is block and op is block.ops[-1]:
        others = [w for w in u.uses.get(cur.id, []) if _writes(w[0]) and w[1] == 0]
        return None if others else cur
    return None


def _invariant_extents(e: Op, body: Block, u: _Uses):
    """(extents usable before the loop, ops to put there) for an `empty` in the loop body:
    extents defined outside it, or `dim`/`size`/`const` of values defined outside it (copied
    out); None if an extent varies with the iteration."""
    dims, pre = [], []
    for d in e.operands:
        if not u.inside(d, body):
            dims.append(d)
            continue
        op = u.defs.get(d.id)
        if op is None or op.prim not in ("dim", "size", "const") or \
                any(u.inside(o, body) for o in op.operands):
            return None
        c = Op(op.prim, list(op.operands), [Value(d.name, d.type)], dict(op.attrs), [], op.loc)
        pre.append(c)
        dims.append(c.results[0])
    return dims, pre


def _candidates(body: Block):
    """(block, branch op or None) for the body and each branch of an `if` directly in it."""
    yield body, None
    for op in list(body.ops):
        if op.prim == "if":
            for region in op.regions:
                yield region, op


def _reuse_in(loop: Op, home: Block, u: _Uses) -> bool:
    body = ForOp(loop).body
    changed = False
    for block, branch in list(_candidates(body)):
        for e in list(block.ops):
            if e.prim != "empty":
                continue
            dims = _invariant_extents(e, body, u)
            if dims is None:
                continue
            last = _last_version(u, e.results[0], block, top=True)
            if last is None:
                continue
            buf = Value(e.results[0].name, e.results[0].type)
            block.ops.remove(e)
            at = home.ops.index(loop)
            home.ops[at:at] = dims[1] + [e]
            e.operands = dims[0]
            replace_uses(block, {e.results[0].id: buf})
            if last is e.results[0]:
                last = buf
            if branch is not None:   # the branch hands its last version out; others pass buf
                for region in branch.regions:
                    region.ops[-1].operands.append(last if region is block else buf)
                last = Value(buf.name, buf.type)
                branch.results.append(last)
            body.args.append(buf)
            body.ops[-1].operands.append(last)
            loop.operands.append(e.results[0])
            loop.results.append(Value(buf.name, buf.type))
            changed = True
            u.rescan()
    return changed


def reuse_buffers(fn: Function) -> Function:
    u = _Uses(fn)

    def visit(block: Block) -> None:
        for op in list(block.ops):
            for r in op.regions:
                visit(r)
            if op.prim == "for":
                _reuse_in(op, block, u)
    visit(fn.body)
    return fn
