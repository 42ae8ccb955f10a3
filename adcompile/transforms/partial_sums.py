"""Partial sums for the reassociable accumulations of adjoint loops (numba's pipeline).

An adjoint loop sums an outer value's adjoint over its iterations (`alpha_bar += d * t_bar`,
marked `reassoc` by reverse mode: the order of those additions is reverse mode's, not the
user's). As one chain of dependent float adds the loop runs at the adder's latency, four
or more cycles per iteration. LLVM's backend gives such adds fast-math flags and lets the
vectoriser split the chain; numba has only whole-function fast-math, which would reorder the
user's own sums too. So the loop is unrolled by four with one partial sum per copy:

    for k in range(q):   (the body four times, counters lb + 4k .. lb + 4k + 3, in order)
        s0 += e(i0); s1 += e(i1); s2 += e(i2); s3 += e(i3)
    for i in range(lb + 4q, ub): s0 += e(i)        (the rest)
    s = (s0 + s1) + (s2 + s3)

Everything else the body does (tape pops, element writes, checks) happens in the original
order; only the rounding of the marked sums changes. Only straight-line loops whose element
accesses bounds versioning proved in range (the copy that runs when nothing fails).
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.types import F64, I64
from ..ir.views import ForOp
from ..ir.walk import clone_ops
from .rewrite import rewrite_ops

UNROLL = 4


def partial_sums(fn: Function) -> Function:
    return rewrite_ops(fn, _rewrite)


def _rewrite(op: Op, consts: dict[int, int], gone: dict[int, Value]) -> list[Op] | None:
    sums = _sums(op, consts)
    return _unroll(op, sums, consts, gone) if sums else None


def _sums(op: Op, consts: dict[int, int]) -> list[int]:
    """Positions (among the carried values) of the loop's reassociable float sums."""
    if op.prim != "for" or not op.attrs.get("adjoint") or op.attrs.get("remainder") or \
            consts.get(ForOp(op).step.id) not in (1, -1):
        return []
    f = ForOp(op)
    body = f.body.ops
    if any(o.regions for o in body) or any(
            o.prim in ("getitem", "setitem") and o.attrs.get("inbounds") is not True
            for o in body):
        return []     # only the fast copy of a loop bounds versioned (the checked one stays)
    uses: dict[int, int] = {}
    for o in body:
        for v in o.operands:
            uses[v.id] = uses.get(v.id, 0) + 1
    defs = {r.id: o for o in body for r in o.results}
    out = []
    for k, (arg, y) in enumerate(zip(f.carried, f.yields)):
        add = defs.get(y.id)
        if arg.type != F64 or add is None or add.prim != "add" or \
                not add.attrs.get("reassoc") or arg not in add.operands or \
                uses.get(arg.id) != 1 or uses.get(y.id) != 1:
            continue
        out.append(k)
    return out


def _unroll(loop: Op, sums: list[int], consts: dict[int, int],
            gone: dict[int, Value]) -> list[Op]:
    f = ForOp(loop)
    pre: list[Op] = []
    b = Builder(pre, loop.loc)
    step = consts[f.step.id]
    zero_i, zero_f = b.const(0), b.const(0.0, F64)
    span = b("sub", f.ub, f.lb) if step == 1 else b("sub", f.lb, f.ub)
    trips = b("select", b("gt", span, zero_i), span, zero_i, name="trips")
    q = b("floordiv", trips, b.const(UNROLL), name="quads")
    # main loop: carried = the loop's own values (partial sum 0 in the sums' places), then
    # partial sums 1..3 of each sum
    k = Value("k", I64)
    carried = [Value(a.name, a.type) for a in f.carried]
    extra = {s: [Value(f.carried[s].name, F64) for _ in range(UNROLL - 1)] for s in sums}
    blk = Block([k] + carried + [v for s in sums for v in extra[s]])
    bb = Builder(blk, loop.loc)
    base = bb("add", f.lb, bb("mul", k, bb.const(UNROLL * step)), name=f.iv.name)
    cur = list(carried)
    parts = {s: [cur[s]] + extra[s] for s in sums}
    for c in range(UNROLL):
        iv = base if c == 0 else bb("add", base, bb.const(c * step), name=f.iv.name)
        mapping = {f.iv.id: iv}
        for j, a in enumerate(f.carried):
            mapping[a.id] = parts[j][c] if j in parts else cur[j]
        blk.ops.extend(clone_ops(f.body.ops[:-1], mapping))
        nxt = [mapping.get(y.id, y) for y in f.yields]
        for j in range(len(cur)):
            if j in parts:
                parts[j][c] = nxt[j]
            else:
                cur[j] = nxt[j]
    ys = [parts[j][0] if j in parts else cur[j] for j in range(len(cur))]
    ys += [v for s in sums for v in parts[s][1:]]
    bb.op("yield", ys, [])
    inits = list(f.inits) + [zero_f for s in sums for _ in range(UNROLL - 1)]
    main = Op("for", [zero_i, q, b.const(1)] + inits, [Value(v.name, v.type) for v in ys],
              dict(loop.attrs), [blk], loop.loc)
    pre.append(main)
    n_own = len(f.carried)
    # the rest: the original loop from where the main loop stopped
    start = b("add", f.lb, b("mul", q, b.const(UNROLL * step)), name=f.iv.name)
    loop.operands = [start, f.ub, f.step] + main.results[:n_own]
    pre.append(loop)
    extra_out = main.results[n_own:]
    post: list[Op] = []
    pb = Builder(post, loop.loc)
    for i, s in enumerate(sums):
        p = extra_out[i * (UNROLL - 1):(i + 1) * (UNROLL - 1)]
        old = loop.results[s]
        rest = Value(old.name, F64)        # partial sum 0, after the remainder loop
        loop.results[s] = rest
        gone[old.id] = pb("add", pb("add", rest, p[0], reassoc=True),
                          pb("add", p[1], p[2], reassoc=True), reassoc=True, name=old.name)
    return pre + post
