"""Tapes: where the forward sweep records what the reverse sweep reads back.

A value the adjoint needs from inside a loop body or branch gets its own tape (`tape_for`,
created at the top of the function). When the reverse region of a scope is complete,
`close_scope` pushes each value read through a placeholder at the end of the forward region
and pops it at the start of the reverse region, so pops run in the reverse order of pushes.
A tape pushed at most once per trip of a counted loop is reserved before the outermost loop
whose bounds do not depend on the loops inside it (`reserve`), so a push is one store; inside
a `while` the pushes are `checked` (the tape grows). `emit_budget_checks` guards each top-level
loop that fills reserved tapes with an estimate of their bytes (`tape_budget`).
"""
from __future__ import annotations

from ...ir.builder import Builder
from ...ir.core import Block, Op, Value
from ...ir.loops import SIZE_CAP, saturating_add, saturating_mul, trip_count
from ...ir.primitives import PRIMITIVES
from ...ir.types import I64, ArrayType, scalar_of
from ...transforms.dce import drop_dead_tapes
from ..emitter import Emitter
from .context import ReverseContext, Scope


def tape_for(ctx: ReverseContext, v: Value) -> Value:
    """The tape recording `v` (one per value), created on first use."""
    t = ctx.tapes.get(v.id)
    if t is None:
        op = Op("tape_new", [], [Value(f"{v.name}_tape", None)], {"type": str(v.type)})
        op.results[0].type = PRIMITIVES["tape_new"].rule([], op.attrs)[0]
        ctx.fn.body.ops.insert(0, op)
        t = ctx.tapes[v.id] = op.results[0]
    return t


def close_scope(ctx: ReverseContext, sc: Scope) -> None:
    """Push the scope's placeholders at the end of its forward region; pop them at the start of
    its reverse region."""
    term = sc.forward.ops.pop()
    pops = []
    loop, home, anchor = ctx.enclosing_loop(sc.forward)
    for v, ph in sc.placeholders.values():
        tape = tape_for(ctx, v)
        attrs = {"checked": True} if loop is not None and loop.prim == "while" else {}
        sc.forward.ops.append(Op("tape_push", [tape, v], [], attrs, [], term.loc))
        pops.append(Op("tape_pop", [tape], [ph], {}, [], term.loc))
        if not attrs:
            reserve(ctx, tape, loop, home, anchor)
    sc.forward.ops.append(term)
    sc.reverse.ops[0:0] = pops


def reserve(ctx: ReverseContext, tape: Value, loop: Op | None, home: Block,
            anchor: Op) -> None:
    """Make room on `tape` before the loop whose body pushes at most once per trip."""
    if loop is None:
        count = Op("const", [], [Value("one", I64)], {"value": 1, "type": "i64"})
        ops = [count]
    else:
        chain = [loop]
        while home in ctx.parent:
            outer, outer_home = ctx.parent[home]
            if outer.prim != "for" or any(ctx.inside(v, home) for lp in chain
                                          for v in lp.operands[:3]):
                break
            chain.append(outer)
            home, anchor = outer_home, outer
        key = tuple(id(lp) for lp in chain)
        if key not in ctx.trips:
            tmp = Block([])
            te = Emitter(tmp, anchor.loc)
            total = None
            for lp in chain:
                t = trip_count(te, *lp.operands[:3])
                t = te("minimum", t, te.c(SIZE_CAP, I64), name="trips")
                total = t if total is None else saturating_mul(te, total, t, name="trips")
            ctx.trips[key] = total
            idx = home.ops.index(anchor)
            home.ops[idx:idx] = tmp.ops
        count = None
        ops = []
        loop = key
    n = count.results[0] if count is not None else ctx.trips[loop]
    if count is None and home is ctx.fn.body and ctx.budget is not None:
        ctx.budget_sites.setdefault(id(anchor), (anchor, []))[1].append((tape, n))
    ops.append(Op("tape_reserve", [tape, n], [], {}, [], anchor.loc if anchor else None))
    idx = home.ops.index(anchor)
    home.ops[idx:idx] = ops


def shadow_tapes(ctx: ReverseContext) -> None:
    """Differentiating a reverse-mode program again: each of its varied tapes gets a shadow
    tape, created next to it, that carries the adjoints of what it holds (rules in
    `ad/rules/tapes.py`). The tape itself then carries no adjoint."""
    def visit(block: Block) -> None:
        i = 0
        while i < len(block.ops):
            op = block.ops[i]
            for region in op.regions:
                visit(region)
            if op.prim == "tape_new" and op.results[0].id in ctx.varied:
                tape = op.results[0]
                new = Op("tape_new", [], [Value(tape.name + "_bar", tape.type)],
                         dict(op.attrs), [], op.loc)
                block.ops.insert(i + 1, new)
                ctx.place_ops([new], block)
                ctx.shadow[tape.id] = new.results[0]
                ctx.varied.discard(tape.id)
                i += 1
            i += 1
    visit(ctx.fn.body)


def drop_unused_tapes(ctx: ReverseContext) -> None:
    """Tapes nothing pops (their reads were recomputed instead) go, with their pushes."""
    drop_dead_tapes(ctx.fn)


def emit_budget_checks(ctx: ReverseContext) -> None:
    """Before each top-level loop that fills tapes: estimate their bytes (reserved entries
    times entry size; an array entry counted as large as the loop's largest array) and
    stop with TapeBudgetExceeded above the limit, before any of it is recorded."""
    body = ctx.fn.body
    live = {op.results[0].id for op in body.ops if op.prim == "tape_new"}
    for anchor, sites in ctx.budget_sites.values():
        sites = [(t, n) for t, n in sites if t.id in live]
        if not sites or anchor not in body.ops:
            continue
        tmp = Block([])
        e = Emitter(tmp, anchor.loc)
        widest = None
        for v in anchor.operands:
            if isinstance(v.type, ArrayType):
                sz = e("size", v)
                widest = sz if widest is None else e("maximum", widest, sz)
        total = None
        for tape, n in sites:
            elem = tape.type.elem
            nbytes = e.c(scalar_of(elem).np_dtype.itemsize, I64)
            if isinstance(elem, ArrayType):
                nbytes = e("minimum", e("mul", nbytes, widest if widest is not None
                                        else e.c(1, I64)), e.c(SIZE_CAP, I64))
            part = saturating_mul(e, n, nbytes, name="tape_bytes")
            total = part if total is None else saturating_add(e, total, part,
                                                              name="tape_bytes")
        Builder(tmp, anchor.loc).op("tape_budget", [total], [], {"limit": ctx.budget})
        idx = body.ops.index(anchor)
        body.ops[idx:idx] = tmp.ops
