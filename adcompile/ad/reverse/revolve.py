"""Binomial checkpointing (the revolve schedule) of a `for` loop in reverse mode.

A loop marked `revolve_snapshots=s` (or `revolve_memory=bytes`: s = bytes / state size, at
run time) keeps at most s snapshots of its carried state instead of a tape growing with its
trip count n. With c snapshots and r forward repetitions per step, C(c + r, c) steps can be
reversed (Griewank's binomial bound), so r grows like the c-th root of n.

The schedule is the recursion "to reverse steps [a, b) from a snapshot at a with c slots:
advance to m, snapshot m, reverse [m, b) with c - 1 slots, then [a, m) with c slots", run
without recursion as a stack of snapshots on tapes:

    forward:  for j in range(n):  if j == next: push state, j; next = split(...)
                                  state = body(state)
    reverse:  end = n
              while end > 0:
                  a, state = pop(); push them back unless a == end - 1
                  for t in range(a, end - 1):      # advance, taking snapshots on the way
                      if t == next: push state, t; next = split(...)
                      state = body(state)
                  reverse step end - 1 from `state`, with a tape local to that step
                  end -= 1

`split` puts the next snapshot where the steps after it can be reversed with one snapshot
fewer and no more repetitions: the least r with C(c + r, c) >= length, and the part after the
snapshot gets min(C(c + r - 1, c - 1), length - 1) steps. Each step then runs at most r + 1
times forward; memory is s snapshots plus one step's tape.

The restored state is copied into a one-entry work tape before it is advanced in place, so
snapshots stay intact and no call allocates per step (the LLVM backend's arena only grows).

Built on the public API of the reverse context and `loops.ReversedLoop`: the reverse loop is
opened like any reversed loop, its step is `replay`ed from the restored state, and only the
loop itself (a `while` over `end` carrying the free slots) is emitted here.
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Block, Op, Value
from ...ir.loops import trip_count
from ...ir.types import I64, ArrayType, scalar_of
from ...ir.walk import clone_ops
from ..emitter import Emitter
from .context import ReverseContext
from .loops import ReversedLoop
from .tapes import tape_for

_CHECKED = {"checked": True}


def _i(e, x: int, name: str = "c") -> Value:
    return e("const", value=x, type="i64", name=name)


def _branch(e, cond: Value, then, other, names: list[str], loc) -> list[Value]:
    """`if cond` built from two callables that emit a branch and return what it yields."""
    blocks = [Block([]), Block([])]
    outs = [fn(Emitter(b, loc)) for fn, b in zip((then, other), blocks)]
    for b, vals in zip(blocks, outs):
        Builder(b, loc).op("yield", vals, [])
    return Builder(e.block, loc).op("if", [cond], [v.type for v in outs[0]], {}, blocks,
                                    names).results


def next_snapshot(e, pos: Value, length: Value, free: Value, loc) -> Value:
    """Where the schedule puts the next snapshot when `length` steps from `pos` remain to be
    reversed and `free` slots are left besides the one holding `pos`; -1 for none."""
    go = e("and", e("gt", free, _i(e, 0)), e("gt", length, _i(e, 1)), name="split")
    return _branch(e, go, lambda te: [_split(te, pos, length, free, loc)],
                   lambda oe: [_i(oe, -1)], ["next"], loc)[0]


def _split(te: Emitter, pos: Value, length: Value, free: Value, loc) -> Value:
    c = te("add", free, _i(te, 1), name="c")
    # least r with b = C(c + r, c) >= length
    cr, cb = Value("r", I64), Value("b", I64)
    cond = Block([cr, cb])
    ce = Emitter(cond, loc)
    Builder(cond, loc).op("condition", [ce("lt", cb, length)], [])
    br, bb = Value("r", I64), Value("b", I64)
    body = Block([br, bb])
    be = Emitter(body, loc)
    r1 = be("add", br, _i(be, 1), name="r")
    b1 = be("floordiv", be("mul", bb, be("add", c, r1)), r1, name="b")
    Builder(body, loc).op("yield", [r1, b1], [])
    loop = Builder(te.block, loc).op("while", [_i(te, 0), _i(te, 1)], [I64, I64], {},
                                 [cond, body], ["r", "b"])
    r, b = loop.results
    # C(c + r - 1, c - 1) = b * c / (c + r)
    after = te("minimum", te("floordiv", te("mul", b, c), te("add", c, r)),
               te("sub", length, _i(te, 1)), name="after")
    return te("add", pos, te("sub", length, after))


def take_snapshot(e, t: Value, nxt: Value, free: Value, end: Value, state: list[Value],
                  snaps: list[Value], pos_tape: Value, loc) -> tuple[Value, Value]:
    """At position t == nxt: push the state and t, and plan the next snapshot."""
    def push(te: Emitter) -> list[Value]:
        _push_all(te, pos_tape, t, snaps, state)
        f1 = te("sub", free, _i(te, 1), name="free")
        return [next_snapshot(te, t, te("sub", end, t), f1, loc), f1]
    n1, f1 = _branch(e, e("eq", t, nxt, name="snap"), push, lambda oe: [nxt, free],
                     ["next", "free"], loc)
    return n1, f1


def _push_all(e: Emitter, pos_tape: Value, pos: Value, snaps: list[Value],
              state: list[Value]) -> None:
    """One snapshot: the position and the state, each on its tape."""
    e("tape_push", pos_tape, pos, **_CHECKED)
    for tape, v in zip(snaps, state):
        e("tape_push", tape, v, **_CHECKED)


def _slots(e: Builder, op: Op, inits: list[Value]) -> Value:
    """Snapshot slots: the policy's count, or the memory budget over the state's bytes."""
    if "revolve_snapshots" in op.attrs:
        return e.c(op.attrs["revolve_snapshots"])
    total = e.c(0)
    for v in inits:
        item = e.c(scalar_of(v.type).np_dtype.itemsize)
        size = e("mul", e("size", v), item) if isinstance(v.type, ArrayType) else item
        total = e("add", total, size, name="state_bytes")
    per = e("maximum", total, e.c(1))
    return e("maximum", e("floordiv", e.c(op.attrs["revolve_memory"]), per), e.c(1),
             name="slots")


def reverse_revolve(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    """Forward sweep with snapshots at the schedule's positions, and the reverse sweep."""
    loc = op.loc
    body = op.regions[0]
    iv, carried = body.args[0], list(body.args[1:])
    lb, ub, step = op.operands[:3]
    inits, results = list(op.operands[3:]), list(op.results)
    home = ctx.parent[body][1]
    pristine = list(body.ops)   # the user's step, cloned for advancing and for reversing
    rloop = ReversedLoop.open(ctx, e, body, results)

    # -- forward sweep -----------------------------------------------------------------------
    pre: list[Op] = []
    pe = Builder(pre, loc)
    trips = trip_count(pe, lb, ub, step)
    slots = _slots(pe, op, inits)
    zero = pe.c(0)
    pos_tape = tape_for(ctx, Value("pos", I64))
    snaps = [tape_for(ctx, c) for c in carried]
    # room for every snapshot up front: a memory budget is not doubled by tape growth
    most = pe("minimum", slots, pe("add", trips, pe.c(1)), name="most")
    pre.append(Op("tape_reserve", [pos_tape, most], [], {}, [], loc))
    for tape, v in zip(snaps, inits):
        like = [v] if isinstance(v.type, ArrayType) else []
        pre.append(Op("tape_reserve", [tape, most] + like, [], {}, [], loc))
    home.ops[home.ops.index(op):home.ops.index(op)] = pre
    ctx.place_ops(pre, home)
    j, nxt, free = Value("j", I64), Value("next", I64), Value("free", I64)
    head = Block([])
    he = Emitter(head, loc)
    n1, f1 = take_snapshot(he, j, nxt, free, trips, carried, snaps, pos_tape, loc)
    term = body.ops.pop()
    te = Emitter(Block([]), loc)
    j1 = te("add", j, _i(te, 1), name="j")
    body.ops = head.ops + body.ops + te.block.ops
    body.ops.append(Op("yield", list(term.operands) + [j1, n1, f1], [], {}, [], term.loc))
    body.args += [j, nxt, free]
    op.operands += [zero, zero, slots]
    extra = [Value("j", I64), Value("next", I64), Value("free", I64)]
    op.results += extra
    ctx.place_values(extra, home)
    free_left = extra[2]

    # -- reverse sweep: a while loop over `end`, carrying the adjoints and the free slots -----
    rblock, re = rloop.block, rloop.emitter
    end = rloop.index
    end.name = "end"
    rfree = Value("free", I64)
    rblock.args.append(rfree)
    lb_r, step_r = ctx.primal_at(lb), ctx.primal_at(step)
    works = {k: tape_for(ctx, Value(c.name + "_work", c.type))
             for k, c in enumerate(carried) if isinstance(c.type, ArrayType)}
    a = re("tape_pop", pos_tape, name="at")
    state = []
    for k, (tape, c) in enumerate(zip(snaps, carried)):
        s = re("tape_pop", tape, name=c.name)
        if k in works:   # advance a private copy: the snapshot may go back on its tape
            re("tape_push", works[k], s, **_CHECKED)
            s = re("tape_pop", works[k], name=c.name)
        state.append(s)
    last = re("sub", end, re.c(1, I64), name="last")
    keep = re("lt", a, last, name="keep")
    _branch(re, keep, lambda ke: _push_all(ke, pos_tape, a, snaps, state) or [],
            lambda oe: [], [], loc)
    free0 = re("select", keep, rfree, re("add", rfree, re.c(1, I64)), name="free")
    nxt0 = next_snapshot(re, a, re("sub", end, a), free0, loc)
    # advance from the snapshot at `a` to step end - 1
    t = Value("t", I64)
    st_args = [Value(c.name, c.type) for c in carried]
    an, af = Value("next", I64), Value("free", I64)
    adv = Block([t] + st_args + [an, af])
    ae = Emitter(adv, loc)
    an1, af1 = take_snapshot(ae, t, an, af, end, st_args, snaps, pos_tape, loc)
    mapping = {iv.id: ae("add", lb_r, ae("mul", t, step_r), name=iv.name)}
    mapping.update({c.id: s for c, s in zip(carried, st_args)})
    step_ops = clone_ops(pristine, mapping)
    adv.ops += step_ops[:-1]
    Builder(adv, loc).op("yield", list(step_ops[-1].operands) + [an1, af1], [])
    advance = Builder(rblock, loc).op(
        "for", [a, last, re.c(1, I64)] + state + [nxt0, free0],
        [c.type for c in carried] + [I64, I64], {}, [adv],
        [c.name for c in carried] + ["next", "free"])
    restored = advance.results[:len(carried)]
    free1 = advance.results[-1]
    # reverse step end - 1 from the restored state
    mapping = {iv.id: re("add", lb_r, re("mul", last, step_r), name=iv.name)}
    ivs = list(mapping.values())
    mapping.update({c.id: r for c, r in zip(carried, restored)})
    rloop.replay(pristine, mapping, list(restored) + ivs)
    rloop.end_body(e, restored, [free1])
    rblock.ops[-1].operands.insert(0, last)

    cond = Block([Value("end", I64)] + [Value(v.name, v.type) for v in rblock.args[1:]])
    ce = Emitter(cond, loc)
    Builder(cond, loc).op("condition", [ce("gt", cond.args[0], ce.c(0, I64))], [])
    inits_r = [ctx.primal_at(trips)] + rloop.init_vals + [ctx.primal_at(free_left)]
    loop = Builder(e.block, loc).op("while", inits_r, [v.type for v in inits_r], {},
                                    [cond, rblock], [v.name for v in rblock.args])
    rloop.bind_results(e, loop.results[1:], results, inits)
