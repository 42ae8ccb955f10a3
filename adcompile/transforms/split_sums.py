"""Split an adjoint loop's scatter-adds into one loop per update, so each vectorises.

The adjoint of a stencil `new[i] = u[i] + a*(u[i-1] - 2*u[i] + u[i+1])` adds into `u_bar` at
three offsets per iteration; iteration `i` writes what iteration `i - 1` reads, so no backend
can vectorise the loop. But every access to `u_bar` there is an update `u_bar[k] += e` with
`e` independent of `u_bar`: the updates commute. Each such update is moved to a loop of its
own, in front of the rest, that recomputes `e` from what it reads:

    for i: u_bar[i + 1] += a * new_bar[i]        (one loop per update: no carried dependence)
    for i: u_bar[i - 1] += a * new_bar[i]
    ...
    for i: alpha_bar += d * new_bar[i]; new_bar[i] = 0     (what stays)

Only adjoint loops (`adjoint` attr: the order of their sums is reverse mode's, not the
user's) whose body is straight-line code qualify, and only updates whose `e` is pure
arithmetic on the counter, invariant values and element reads that see the values the
array had before the loop: of arrays the loop never writes, or of a carried array read at
the one index the same iteration later writes (`t_bar = new_bar[i]; new_bar[i] = 0`), an
index that differs between iterations. Reordering the additions changes rounding only.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import I64, ArrayType
from ..ir.views import ForOp
from ..ir.walk import clone_ops
from .rewrite import rewrite_ops


def split_sums(fn: Function) -> Function:
    return rewrite_ops(fn, _rewrite)


def _rewrite(op: Op, consts: dict[int, int], gone: dict[int, Value]) -> list[Op] | None:
    if op.prim == "for" and op.attrs.get("adjoint") and \
            not any(o.regions for o in op.regions[0].ops):
        return _split(op, consts, gone)
    return None


class _Body:
    """Def-use facts of one straight-line loop body."""

    def __init__(self, loop: Op, consts: dict[int, int]):
        self.consts = consts
        self.f = ForOp(loop)
        self.ops = self.f.body.ops
        self.defs = {r.id: op for op in self.ops for r in op.results}
        self.uses: dict[int, list[Op]] = {}
        for op in self.ops:
            for v in op.operands:
                self.uses.setdefault(v.id, []).append(op)
        self.inside = {a.id for a in self.f.body.args} | set(self.defs)

    def chain(self, arg: Value) -> list[Op] | None:
        """The setitems that version a carried array from its block arg to its yield (each
        version used only by element reads and the next write), or None."""
        k = self.f.carried.index(arg)
        out, v = [], arg
        while True:
            us = self.uses.get(v.id, [])
            writes = [u for u in us if u.prim == "setitem" and u.operands[0] is v]
            if any(u.prim != "getitem" and u not in writes and u is not self.ops[-1]
                   for u in us) or len(writes) > 1:
                return None
            if not writes:
                term = self.ops[-1]
                return out if term.operands.count(v) == 1 and \
                    term.operands.index(v) == k else None
            out.append(writes[0])
            v = writes[0].results[0]

    def index_unique(self, idx: list[Value]) -> bool:
        """An index that differs between iterations: counter + constant on some axis."""
        return any(_counter_offset(v, self) is not None for v in idx)


def _counter_offset(v: Value, body: _Body, depth: int = 0) -> int | None:
    if v.id == body.f.iv.id:
        return 0
    op = body.defs.get(v.id)
    if op is None or depth > 8 or op.prim not in ("add", "sub") or v.type != I64:
        return None
    a, c = op.operands
    for x, y, sign in ((a, c, 1), (c, a, 1)) if op.prim == "add" else ((a, c, -1),):
        k = body.consts.get(y.id)
        if k is not None:
            inner = _counter_offset(x, body, depth + 1)
            if inner is not None:
                return inner + sign * k
    return None


def _split(loop: Op, consts: dict[int, int], gone: dict[int, Value]) -> list[Op]:
    body = _Body(loop, consts)
    body.gone = gone
    f = body.f
    chains: dict[int, list[Op]] = {}
    for arg in f.carried:
        if isinstance(arg.type, ArrayType):
            c = body.chain(arg)
            if c is not None:
                chains[arg.id] = c
    version_of = {}    # array version id -> carried arg id
    for aid, c in chains.items():
        version_of[aid] = aid
        for w in c:
            version_of[w.results[0].id] = aid
    updates: list[tuple[Value, Op, Op, Op, Value]] = []    # arg, read, add, write, e
    for aid, c in chains.items():
        arg = next(a for a in f.carried if a.id == aid)
        ups = []
        for w in c:
            u = _update(w, body)
            if u is None:
                ups = None
                break
            ups.append(u)
        reads = {id(u[0]) for u in ups or []}
        versions = [arg] + [w.results[0] for w in c]
        if ups and all(u.prim != "getitem" or id(u) in reads
                       for v in versions for u in body.uses.get(v.id, [])):
            # every read of the array is one of its updates: moving them cannot be seen
            updates += [(arg, *u) for u in ups]
    accs = {u[0].id for u in updates}
    arrays = [init for a, init in zip(f.carried, f.inits) if isinstance(a.type, ArrayType)]
    if len({v.id for v in arrays}) != len(arrays):
        return [loop]     # two carried arrays start as one value: they may share storage
    movable = []
    for arg, read, add, write, e in updates:
        sl = _slice([e, *read.operands[1:]], body, chains, version_of, accs)
        if sl is not None:
            movable.append((arg, read, add, write, sl))
    if not movable:
        return [loop]
    pre: list[Op] = []
    cur = {a.id: init for a, init in zip(f.carried, f.inits)}
    gathered = _gather_groups(movable, body, consts)
    for arg, read, add, write, sl in movable:
        group = gathered.get(id(read))
        if group is not None:
            if group[0][3] is read:     # the group's loops go where its first update went
                cur[arg.id] = _emit_gather(group, f, loop, cur[arg.id], body, consts, pre)
        else:
            cur[arg.id] = _emit_update(arg, read, add, write, sl, f, loop, cur[arg.id], pre)
        # what stays: the write keeps the array as it was
        _forward(body, write.results[0], write.operands[0])
        body.ops.remove(write)
        body.ops.remove(add)
        body.ops.remove(read)
    f.inits = [cur[a.id] for a in f.carried]
    if all(y is a for y, a in zip(f.yields, f.carried)) and not any(
            has(op, Trait.EFFECT) or op.prim.startswith("tape_") for op in body.ops):
        # nothing left but recomputations nobody reads: the loop goes
        for r, init in zip(loop.results, f.inits):
            body.gone[r.id] = init
    else:
        pre.append(loop)
    return pre


def _emit_update(arg, read, add, write, sl, f: ForOp, loop: Op, acc_init: Value,
                 pre: list[Op]) -> Value:
    """One loop of its own for one update, over the loop's own range."""
    iv = Value(f.iv.name, I64)
    acc = Value(arg.name, arg.type)
    blk = Block([iv, acc])
    e_val, mapping = _clone_e(f, arg, sl, read, add, iv, acc, blk.ops)
    idx = [mapping.get(v.id, v) for v in read.operands[1:]]
    _add_at(Builder(blk, add.loc), acc, idx, e_val, read, add, write)
    new = Op("for", list(f.bounds) + [acc_init], [Value(arg.name, arg.type)],
             {"adjoint": True}, [blk], loop.loc)
    pre.append(new)
    return new.results[0]


def _clone_e(f: ForOp, arg: Value, sl: list[Op], read: Op, add: Op, counter: Value,
             acc: Value, ops: list[Op]) -> tuple[Value, dict[int, Value]]:
    """The update's `e` recomputed into `ops` for the loop counter value `counter`."""
    mapping = {f.iv.id: counter}
    for a, init in zip(f.carried, f.inits):
        if a.id != arg.id:
            mapping[a.id] = init      # reads see the values from before the loop
    mapping[arg.id] = acc
    ops.extend(clone_ops(sl, mapping))
    e = _other(add, read)
    return mapping.get(e.id, e), mapping


def _add_at(b: Builder, acc: Value, idx: list[Value], e: Value, read: Op, add: Op,
            write: Op) -> None:
    r = b("getitem", acc, *idx, name=read.results[0].name, **read.attrs)
    s = b("add", r, e, name=add.results[0].name, **add.attrs)
    w = b("setitem", acc, s, *idx, name=write.results[0].name, **write.attrs)
    b.op("yield", [w], [])


def _gather_groups(movable, body: _Body, consts: dict[int, int]) -> dict[int, list]:
    """Updates of one array at `counter + c_k` (one axis; the others the same invariant
    values), two or more, in a loop of step +-1: by id of each one's read, the group."""
    step = consts.get(body.f.step.id)
    if step not in (1, -1):
        return {}
    groups: dict[tuple, list] = {}
    for m in movable:
        arg, read = m[0], m[1]
        idx = list(read.operands[1:])
        offs = [_counter_offset(v, body) for v in idx]
        axes = [p for p, c in enumerate(offs) if c is not None]
        if len(axes) != 1 or any(v.id in body.inside for p, v in enumerate(idx)
                                 if p != axes[0]):
            continue
        key = (arg.id, axes[0], tuple(v.id for p, v in enumerate(idx) if p != axes[0]))
        groups.setdefault(key, []).append((offs[axes[0]], *m))
    out: dict[int, list] = {}
    for (_, axis, _), g in groups.items():
        if len(g) >= 2:
            for u in g:
                out[id(u[2])] = [(axis,) + u for u in g]
    return out


def _emit_gather(group, f: ForOp, loop: Op, acc_init: Value, body: _Body,
                 consts: dict[int, int], pre: list[Op]) -> Value:
    """The group's scatter-adds `a[i + c_k] += e_k(i)` as gathers `a[j] += sum_k e_k(j - c_k)`
    over the range where every k has an iteration, and one loop per k for the ends: one
    read and one write of `a[j]` per element instead of one per update (and per loop)."""
    b = Builder(pre, loop.loc)
    one = b.const(1)
    lb, ub = f.lb, f.ub
    if consts[f.step.id] == 1:
        lo, hi = lb, _max(b, ub, lb, name="hi")
    else:                         # range(lb, ub, -1) visits ub + 1 .. lb
        lo = b("add", ub, one, name="lo")
        hi = _max(b, b("add", lb, one), lo, name="hi")
    starts, stops = [], []
    for u in group:
        k = b.const(u[1])
        starts.append(b("add", lo, k, name="lo"))
        stops.append(b("add", hi, k, name="hi"))
    mid_lo = starts[0]
    for v in starts[1:]:
        mid_lo = _max(b, mid_lo, v, name="lo")
    mid_hi = stops[0]
    for v in stops[1:]:
        mid_hi = _min(b, mid_hi, v, name="hi")
    mid_hi = _max(b, mid_hi, mid_lo, name="hi")
    acc = acc_init
    for k, u in enumerate(group):     # each k's iterations below the common range
        acc = _gather_loop([u], f, loop, acc, starts[k], _min(b, stops[k], mid_lo),
                           one, pre, remainder=True)
    acc = _gather_loop(group, f, loop, acc, mid_lo, mid_hi, one, pre)
    for k, u in enumerate(group):     # and above it
        acc = _gather_loop([u], f, loop, acc, _max(b, mid_hi, starts[k]), stops[k],
                           one, pre, remainder=True)
    return acc


def _max(b: Builder, x: Value, y: Value, name: str = "t") -> Value:
    # as a select: this pass runs after scalar_semantics expanded minimum/maximum
    return b("select", b("gt", x, y), x, y, name=name)


def _min(b: Builder, x: Value, y: Value, name: str = "t") -> Value:
    return b("select", b("lt", x, y), x, y, name=name)


def _gather_loop(parts, f: ForOp, loop: Op, acc_init: Value, lo: Value, hi: Value,
                 one: Value, pre: list[Op], remainder: bool = False) -> Value:
    axis, _, arg, read, add, write, _ = parts[0]
    j = Value("j", I64)
    acc = Value(arg.name, arg.type)
    blk = Block([j, acc])
    bb = Builder(blk, add.loc)
    total = None
    for _, c, _, rd, ad, _, sl in parts:
        i = bb("sub", j, bb.const(c), name=f.iv.name)
        e, _ = _clone_e(f, arg, sl, rd, ad, i, acc, blk.ops)
        total = e if total is None else bb("add", total, e, name=e.name, **ad.attrs)
    idx = list(read.operands[1:])
    idx[axis] = j
    _add_at(bb, acc, idx, total, read, add, write)
    attrs = {"adjoint": True, "remainder": True} if remainder else {"adjoint": True}
    new = Op("for", [lo, hi, one, acc_init], [Value(arg.name, arg.type)], attrs, [blk],
             loop.loc)
    pre.append(new)
    return new.results[0]


def _other(add: Op, read: Op) -> Value:
    a, b = add.operands
    return b if a is read.results[0] else a


def _update(write: Op, body: _Body):
    """`a[idx] = a[idx] + e` as (read, add, write, e), with `e` not reading `a`."""
    arr, val, *idx = write.operands
    add = body.defs.get(val.id)
    if add is None or add.prim != "add" or len(body.uses.get(val.id, [])) != 1:
        return None
    for r_v, e in ((add.operands[0], add.operands[1]), (add.operands[1], add.operands[0])):
        read = body.defs.get(r_v.id)
        if read is not None and read.prim == "getitem" and read.operands[0] is arr and \
                list(read.operands[1:]) == idx and len(body.uses.get(r_v.id, [])) == 1 and \
                read.attrs.get("inbounds", False) == write.attrs.get("inbounds", False):
            return read, add, write, e
    return None


def _slice(vals: list[Value], body: _Body, chains, version_of, accs) -> list[Op] | None:
    """The ops computing `vals` inside the body, in order, if they can be recomputed before
    the loop (pure, no carried scalars, reads that see the arrays' values from before it)."""
    need: set[int] = set()
    todo = list(vals)
    while todo:
        v = todo.pop()
        if v.id in need or v.id not in body.inside:
            continue
        op = body.defs.get(v.id)
        if op is None:          # a block argument
            if v.id == body.f.iv.id:
                continue
            return None         # carried values differ per iteration
        if op.regions or not has(op, Trait.PURE) or has(op, Trait.EFFECT) or \
                op.prim.startswith("tape_") or op.prim == "setitem":
            return None
        if op.prim == "getitem" and op.operands[0].id in body.inside:
            arr = op.operands[0]
            aid = version_of.get(arr.id)
            if aid is None or aid in accs or arr.id != aid:
                return None      # only the carried array as it entered this iteration
            idx = list(op.operands[1:])
            if not body.index_unique(idx) or any(
                    list(w.operands[2:]) != idx for w in chains[aid]):
                return None
            todo += idx
        else:
            todo += op.operands
        need.add(v.id)
    return [op for op in body.ops if any(r.id in need for r in op.results)]


def _forward(body: _Body, old: Value, new: Value) -> None:
    for op in body.ops:
        op.operands = [new if v is old else v for v in op.operands]
