"""Fuse the lane arithmetic of vector forward mode into one loop over the lanes.

Vector forward mode (`jacfwd`) carries L tangent directions at once: the tangent of a scalar is
a 1-d array of L lanes, and every scalar op of the primal becomes a few whole-array ops on
lanes, each allocating a small array. This pass takes each run of such ops (marked `lane_op`
by the forward transform) and turns it into

    for l in range(L):  <the same ops on scalars>; store only the lanes used later

so the tangent code of a straight-line stretch is one pass over L scalars per value, with no
temporaries. Row reads `x_dot[i]` become element reads `x_dot[i, l]`, row writes become element
writes; scalar primal ops between lane ops (partials such as `cos(x)`) move in front of the
loop, since they do not depend on the lanes.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import I64, ArrayType, ScalarType, scalar_of
from ..ir.views import Access
from ..ir.walk import used_ids


def _is_lane(v: Value) -> bool:
    return isinstance(v.type, ArrayType) and v.type.ndim == 1


def _groupable(op: Op) -> bool:
    if not op.attrs.get("lane_op") or op.regions:
        return False
    if has(op, Trait.ELEMENTWISE):
        r = op.results[0]
        return _is_lane(r) and all(_is_lane(v) or isinstance(v.type, ScalarType)
                                   for v in op.operands)
    if op.prim == "getitem":
        acc = Access(op)
        return _is_lane(op.results[0]) and acc.array.type.ndim == len(acc.indices) + 1
    if op.prim == "setitem":
        acc = Access(op)
        return _is_lane(acc.value) and acc.array.type.ndim == len(acc.indices) + 1
    return False


def _movable(op: Op, group_defs: set[int]) -> bool:
    """A primal op that can run before the lane loop: it does not read the group, and yields
    a scalar or writes an element of a primal array (`r[i, 0] = u` between the lane code of
    `u` and the next statement's; `_fuse_block` checks that no lane op reads that array)."""
    if op.regions or has(op, Trait.TERMINATOR) or has(op, Trait.EFFECT):
        return False
    if any(v.id in group_defs for v in op.operands) or op.attrs.get("lane_op"):
        return False
    if op.prim == "setitem":
        return isinstance(op.operands[1].type, ScalarType)
    return len(op.results) == 1 and isinstance(op.results[0].type, ScalarType)


def _uses_outside(ops: list[Op], start: int, end: int) -> set[int]:
    out: set[int] = set()
    for k, op in enumerate(ops):
        if start <= k < end:
            continue
        out |= used_ids(op)
    return out


def _emit(ops: list[Op], prim: str, operands: list[Value], attrs: dict, loc, name="t",
          result: Value | None = None) -> Value:
    """Append an op; `result` reuses an existing value as its result (a rewritten op)."""
    if result is None:
        return Builder(ops, loc)(prim, *operands, name=name, **attrs)
    ops.append(Op(prim, list(operands), [result], dict(attrs), [], loc))
    return result


def _donors(lane_ops: list[Op], outs: list[Value], defs: set[int], used_later: set[int],
            local: set[int]) -> dict[int, Value]:
    """Out value id -> a lane vector the group reads that may hold it instead of a fresh
    array: read only lane by lane (trip l reads element l before the trip's stores), of the
    same type, defined in this block (or its argument: a loop-carried tangent) and dead after
    the group. A scalar's tangent then stays in one vector across a loop's trips
    (`s_dot` of `s += ...`): no allocation per trip."""
    reads: list[Value] = []
    for op in lane_ops:
        if op.prim == "getitem":
            continue
        vals = op.operands[1:2] if op.prim == "setitem" else op.operands
        for v in vals:
            if _is_lane(v) and v.id not in defs and v.id in local and \
                    v.id not in used_later and all(r is not v for r in reads):
                reads.append(v)
    out: dict[int, Value] = {}
    for v in outs:
        for a in reads:
            if a.type == v.type and all(d is not a for d in out.values()):
                out[v.id] = a
                break
    return out


def _fuse_group(lane_ops: list[Op], used_later: set[int], local: set[int]
                ) -> list[Op] | None:
    """The ops replacing a group: the lane loop (with its allocations and L) in front.
    `local`: the values defined in the group's block before it (and the block's arguments)."""
    defs = {op.results[0].id for op in lane_ops}
    loc = lane_ops[0].loc
    # chains of in-place row writes: first array version -> current loop-local version
    chain_of: dict[int, int] = {}      # setitem result id -> chain index
    init_of: dict[int, int] = {}       # initial array id -> chain index
    chains: list[tuple[Value, Op]] = []   # (initial array from outside, last setitem)
    for op in lane_ops:
        if op.prim != "setitem":
            continue
        arr = op.operands[0]
        if arr.id in chain_of:
            k = chain_of[arr.id]
            if arr.id in used_later:    # an intermediate version read outside: give up
                return None
            if chains[k][1].results[0].id != arr.id:   # a fork of an older version
                return None
            chains[k] = (chains[k][0], op)
        elif arr.id in defs:
            return None
        else:
            k = len(chains)
            chains.append((arr, op))
            init_of.setdefault(arr.id, k)
        chain_of[op.results[0].id] = k
    # lane length from any outside lane array (or the last axis of an indexed array)
    src = None
    for op in lane_ops:
        for v in op.operands:
            if isinstance(v.type, ArrayType) and v.id not in defs:
                src = v
                break
        if src is not None:
            break
    if src is None:
        return None
    pre: list[Op] = []
    L = _emit(pre, "dim", [src], {"axis": src.type.ndim - 1}, loc, name="lanes")
    outs = [op.results[0] for op in lane_ops
            if op.prim != "setitem" and op.results[0].id in used_later]
    donor = _donors(lane_ops, outs, defs, used_later, local)
    allocs = [donor[v.id] if v.id in donor else
              _emit(pre, "empty", [L], {"dtype": scalar_of(v.type).name}, loc, name=v.name)
              for v in outs]
    # loop body
    lane = Value("lane", I64)
    out_args = [Value(v.name, v.type) for v in outs]
    # a donor is read through the loop's slot that holds it (else it stays live: a copy)
    held = {donor[v.id].id: a for v, a in zip(outs, out_args) if v.id in donor}
    chain_args = [Value(a.name, a.type) for a, _ in chains]
    body: list[Op] = []
    scal: dict[int, Value] = {}          # lane value id -> its scalar in this iteration
    cur_chain = list(chain_args)
    # the IR version each chain's loop value stands for at this point of the body (in one
    # trip the earlier trips wrote only other lanes, so the version read is this trip's)
    cur_version = [a.id for a, _ in chains]
    reads: dict[int, Value] = {}

    def scalar_of_operand(v: Value) -> Value:
        if not _is_lane(v):
            return v
        if v.id in scal:
            return scal[v.id]
        if v.id not in reads:
            reads[v.id] = _emit(body, "getitem", [held.get(v.id, v), lane], {}, loc,
                                name=v.name)
        return reads[v.id]

    for op in lane_ops:
        if op.prim == "getitem":
            arr = op.operands[0]
            k = chain_of.get(arr.id, init_of.get(arr.id))
            if k is not None and cur_version[k] == arr.id:
                # the version the chain carries: read the loop's value, so the array read
                # before a write is not also live outside the loop (that would copy the whole
                # tangent array on every trip)
                arr = cur_chain[k]
            elif arr.id in chain_of:    # a version overwritten earlier in this trip
                return None
            # else an outside array (an overwritten initial version stays as it was: copy
            # insertion keeps it)
            scal[op.results[0].id] = _emit(body, "getitem", [arr] + op.operands[1:] + [lane],
                                           {}, op.loc, name=op.results[0].name)
        elif op.prim == "setitem":
            k = chain_of[op.results[0].id]
            val = scalar_of_operand(op.operands[1])
            cur_chain[k] = _emit(body, "setitem", [cur_chain[k], val] + op.operands[2:] +
                                 [lane], {}, op.loc, name=op.results[0].name)
            cur_version[k] = op.results[0].id
        else:
            attrs = {a: b for a, b in op.attrs.items() if a != "lane_op"}
            scal[op.results[0].id] = _emit(body, op.prim,
                                           [scalar_of_operand(v) for v in op.operands],
                                           attrs, op.loc, name=op.results[0].name)
    stored = [_emit(body, "setitem", [a, scal[v.id], lane], {}, loc, name=v.name)
              for a, v in zip(out_args, outs)]
    body.append(Op("yield", stored + cur_chain, [], {}, [], loc))
    zero = _emit(pre, "const", [], {"value": 0, "type": "i64"}, loc, name="c")
    one = _emit(pre, "const", [], {"value": 1, "type": "i64"}, loc, name="c")
    results = list(outs) + [last.results[0] for _, last in chains]
    loop = Op("for", [zero, L, one] + allocs + [a for a, _ in chains], results, {},
              [Block([lane] + out_args + chain_args, body)], loc)
    return pre + [loop]


def _fuse_block(block: Block) -> None:
    # a block's values are visible only in it (and below): its own ops, including its
    # terminator, are all the uses that count
    for op in block.ops:
        for r in op.regions:
            _fuse_block(r)
    ops = block.ops
    out: list[Op] = []
    local = {a.id for a in block.args}     # defined in this block so far

    def emit(new: list[Op]) -> None:
        out.extend(new)
        local.update(r.id for op in new for r in op.results)

    i = 0
    while i < len(ops):
        if not _groupable(ops[i]):
            emit([ops[i]])
            i += 1
            continue
        # grow the group: lane ops, with movable scalar ops in between
        lane_ops: list[Op] = []
        moved: list[Op] = []
        defs: set[int] = set()
        j = i
        while j < len(ops):
            op = ops[j]
            if _groupable(op):
                lane_ops.append(op)
                defs.add(op.results[0].id)
            elif _movable(op, defs):
                moved.append(op)
            else:
                break
            j += 1
        # trailing movable ops stay where they were
        while j > i and ops[j - 1] in moved:
            moved.remove(ops[j - 1])
            j -= 1
        written = {v.id for m in moved if m.prim == "setitem"
                   for v in (m.operands[0], m.results[0])}
        if len(lane_ops) < 2 or any(v.id in written for op in lane_ops for v in op.operands):
            emit(ops[i:j])
            i = j
            continue
        used_later = _uses_outside(ops, i, j)
        # values used by moved scalar ops are computed earlier in the group only if lanes:
        # impossible (moved ops do not read the group), so order is preserved
        fused = _fuse_group(lane_ops, used_later, local)
        if fused is None:
            emit(ops[i:j])
        else:
            emit(moved)
            emit(fused)
        i = j
    block.ops = out


def fuse_lanes(fn: Function) -> Function:
    _fuse_block(fn.body)
    return fn
