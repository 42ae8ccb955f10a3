"""Loops in reverse mode: store-all (taped) and recomputed (checkpointed) `for`/`while`.

A reversed loop is `for back in range(trip - 1, -1, -1)`, carrying the adjoints of the loop's
varied results and of the varied outer values its body reads (counting down keeps the index
visibly in [0, trip), so backends can drop index checks and wrap-around). `ReversedLoop` is
the public API for building one, used here and by `revolve.py`:

    loop = ReversedLoop.open(ctx, e, body, results)   # block, emitter, carried adjoints
    loop.seed(yields)                        # the iteration's outputs get the carried adjoints
    ... adjoint of one iteration (ctx.backward_block, or loop.replay of a recomputed step) ...
    loop.close(e, slot_args, results, inits, trip)    # yield, emit the `for`, bind results
    (or loop.end_body(...) + loop.bind_results(...) around a loop of one's own)

- store-all (`reverse_store_all`): the forward body tapes what the adjoint reads;
- recompute (`reverse_recompute`, loops marked `recompute` by the checkpoint pass): the forward
  sweep snapshots the carried state at the start of each iteration; the reverse sweep restores
  it and replays the iteration (taping only inside it) before its adjoint;
- a `while` first gets an iteration counter (`count_iterations`), its trip count.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.builder import Builder
from ...ir.core import Block, Op, Value
from ...ir.loops import trip_count
from ...ir.types import I64, ScalarType
from ...ir.walk import clone_ops, free_uses
from ..emitter import Emitter
from .context import ReverseContext, Scope
from .tapes import close_scope, reserve, tape_for


@dataclass
class ReversedLoop:
    """A reverse loop being built: which results carry adjoints (`slots`), the varied outer
    values whose adjoints it carries, their initial adjoints, its block and emitter, and the
    adjoints outside it (restored when the body ends)."""

    ctx: ReverseContext
    slots: list[int]
    outer: list[Value]
    init_vals: list[Value]
    block: Block
    emitter: Emitter
    saved: dict[int, Value]

    @classmethod
    def open(cls, ctx: ReverseContext, e: Emitter, body: Block,
             results: list[Value]) -> ReversedLoop:
        """Start the reverse of the loop with body `body` and results `results`; inside it,
        the outer values' adjoints are the carried block arguments."""
        slots = [k for k, r in enumerate(results) if r.id in ctx.varied]
        outer = [v for v in free_uses([body]) if v.id in ctx.varied
                 and ctx.scope_of.get(v.id) is not body]
        init_vals = [ctx.adj.get(results[k].id) or ctx.zeros(e, results[k]) for k in slots]
        init_vals += [ctx.adj.get(v.id) or ctx.zeros(e, v) for v in outer]
        block = Block([Value("back", I64)] +
                      [Value(results[k].name + "_bar", results[k].type) for k in slots] +
                      [Value(v.name + "_bar", v.type) for v in outer])
        loop = cls(ctx, slots, outer, init_vals, block, Emitter(block, e.loc), ctx.adj)
        ctx.adj = dict(loop.saved)
        for i, v in enumerate(outer):
            ctx.adj[v.id] = block.args[1 + len(slots) + i]
        return loop

    @property
    def index(self) -> Value:
        """The reverse loop's counter (iteration trip - 1 down to 0)."""
        return self.block.args[0]

    def seed(self, yields: list[Value]) -> None:
        """The values one iteration yields receive the carried adjoints of the results."""
        for i, k in enumerate(self.slots):
            self.ctx.accumulate(self.emitter, yields[k], self.block.args[1 + i])

    def replay(self, ops: list[Op], mapping: dict[int, Value], new_args: list[Value]) -> None:
        """Recompute one forward step in the reverse body, then run its adjoint: clone `ops`
        (ending in the step's `yield`) with `mapping` (the step's inputs, restored), index the
        clone as visible forward code, seed its yields and sweep it backwards."""
        clone = clone_ops(ops, mapping)
        self.block.ops.extend(clone[:-1])
        self.ctx.adopt_recomputed(mapping, clone[:-1], self.block, new_args)
        self.seed(clone[-1].operands)
        self.ctx.backward_block(clone[:-1], self.emitter)

    def end_body(self, e: Emitter, slot_args: list[Value], extra: tuple | list = (),
                 after_yield=None) -> None:
        """End the reverse body: yield the adjoints of the iteration's inputs `slot_args`
        (then `extra`), and return to the adjoints outside the loop."""
        ctx = self.ctx
        out = []
        for i, k in enumerate(self.slots):
            g = ctx.adj.get(slot_args[k].id)
            out.append(g if g is not None else self.emitter.zeros_like(self.block.args[1 + i]))
        out += [ctx.adj.get(v.id) for v in self.outer]
        Builder(self.block, e.loc).op("yield", out + list(extra), [])
        if after_yield is not None:
            after_yield()
        ctx.adj = self.saved

    def bind_results(self, e: Emitter, loop_results: list[Value], results: list[Value],
                     inits: list[Value]) -> None:
        """What flowed out of the emitted loop: the outer values' final adjoints, and the
        adjoints of the forward loop's initial values."""
        ctx = self.ctx
        nslot = len(self.slots)
        for i, v in enumerate(self.outer):   # outer adjoints were carried: the final value
            ctx.adj[v.id] = loop_results[nslot + i]
        for i, k in enumerate(self.slots):    # then add what flowed into the initial values
            ctx.adj.pop(results[k].id, None)
            ctx.accumulate(e, inits[k], loop_results[i])

    def close(self, e: Emitter, slot_args: list[Value], results: list[Value],
              inits: list[Value], trip: Value, after_yield=None) -> None:
        """Yield the adjoints of the iteration's inputs, emit the loop over `trip` iterations,
        and pass what flowed out of it to the outer values and the loop's initial values."""
        self.end_body(e, slot_args, [], after_yield)
        minus1 = e.c(-1, I64)
        first = e("sub", trip, e.c(1, I64), name="last")
        loop = Builder(e.block, e.loc).op("for", [first, minus1, minus1] + self.init_vals,
                                          [v.type for v in self.init_vals],
                                          {"adjoint": True}, [self.block],
                                          [v.name for v in self.block.args[1:]])
        mark_sums(self.block, self.block.args[1 + len(self.slots):])
        self.bind_results(e, loop.results, results, inits)


def mark_sums(block: Block, accumulators: list[Value]) -> None:
    """Mark `reassoc` the float adds that sum an outer value's adjoint over the iterations.

    The order of those sums is reverse mode's, not the user's (the primal never adds them up),
    so a backend may reassociate them and vectorise the loop (`alpha_bar += d * t_bar` in a
    stencil's adjoint); only a chain of adds from the carried value to its yield qualifies."""
    uses: dict[int, list[Op]] = {}
    for op in block.ops:
        for v in op.operands:
            uses.setdefault(v.id, []).append(op)
    term = block.ops[-1]
    pos = {a.id: k for k, a in enumerate(block.args[1:])}
    for acc in accumulators:
        if not (isinstance(acc.type, ScalarType) and acc.type.is_float):
            continue
        chain, v = [], acc
        while True:
            us = uses.get(v.id, [])
            if len(us) != 1:
                break
            op = us[0]
            if op is term:
                if chain and term.operands.index(v) == pos[acc.id] \
                        and term.operands.count(v) == 1:
                    for add in chain:
                        add.attrs["reassoc"] = True
                break
            if op.prim != "add" or op.results[0].type != acc.type:
                break
            chain.append(op)
            v = op.results[0]


def reverse_store_all(ctx: ReverseContext, e: Emitter, body: Block, slot_args: list[Value],
                      results: list[Value], inits: list[Value], trip: Value,
                      iv_info=None) -> None:
    """Run `body` backwards, trip times; its values come back from tapes.

    slot_args/results/inits: the forward loop's carried body args, results and inits;
    iv_info: (lb, step, induction variable) of a `for`.
    """
    loop = ReversedLoop.open(ctx, e, body, results)
    sc = Scope(body, loop.block)
    if iv_info is not None:
        lb, step, iv = iv_info
        re = loop.emitter
        sc.iv = iv
        sc.rev_iv = re("add", lb, re("mul", loop.index, step), name=iv.name)
    loop.seed(body.ops[-1].operands)
    ctx.scopes.append(sc)
    ctx.backward_block(body.ops[:-1], loop.emitter)
    ctx.scopes.pop()
    loop.close(e, slot_args, results, inits, trip, after_yield=lambda: close_scope(ctx, sc))


def reverse_recompute(ctx: ReverseContext, op: Op, e: Emitter, body: Block,
                      carried: list[Value], results: list[Value], inits: list[Value],
                      trip: Value, iv_of, checked: bool) -> None:
    """A checkpointed loop: the forward sweep snapshots the carried state at the start of
    every iteration; the reverse sweep restores it, re-runs the iteration (taping only
    inside it) and runs that iteration's adjoint, last iteration first."""
    home = ctx.parent[body][1]
    # forward: push the state at the start of each iteration (a while loop cannot
    # reserve room ahead: its pushes grow the tape)
    pushes, snaps = [], []
    for c in carried:
        tape = tape_for(ctx, c)
        pushes.append(Op("tape_push", [tape, c], [], {"checked": True} if checked else {},
                         [], op.loc))
        snaps.append(tape)
        if not checked:
            reserve(ctx, tape, op, home, op)
    body.ops[0:0] = pushes
    loop = ReversedLoop.open(ctx, e, body, results)
    restored = [Value(c.name, c.type) for c in carried]
    for tape, r in zip(snaps, restored):
        loop.block.ops.append(Op("tape_pop", [tape], [r], {}, [], op.loc))
    mapping = iv_of(loop.emitter, loop.index)
    ivs = list(mapping.values())
    mapping.update({c.id: r for c, r in zip(carried, restored)})
    loop.replay(body.ops[len(pushes):], mapping, restored + ivs)
    loop.close(e, restored, results, inits, trip)


def count_iterations(ctx: ReverseContext, op: Op) -> Value:
    """Give the forward `while` an iteration counter (its last carried value)."""
    home = ctx.scope_of[op.results[0].id]
    zero = Op("const", [], [Value("iters", I64)], {"value": 0, "type": "i64"}, [], op.loc)
    home.ops.insert(home.ops.index(op), zero)
    cond, body = op.regions
    cond.args.append(Value("iters", I64))
    c = Value("iters", I64)
    body.args.append(c)
    term = body.ops.pop()
    be = Emitter(body, term.loc)
    nxt = be("add", c, be.c(1, I64), name="iters")
    term.operands.append(nxt)
    body.ops.append(term)
    count = Value("iters", I64)
    op.operands.append(zero.results[0])
    op.results.append(count)
    ctx.place_values((zero.results[0], count), home)
    ctx.place_values((c, nxt), body)
    ctx.place_values(cond.args[-1:], cond)
    return count


def reverse_for_store_all(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    lb, ub, step = (ctx.primal_at(v) for v in op.operands[:3])
    trip = trip_count(e, lb, ub, step)
    body = op.regions[0]
    reverse_store_all(ctx, e, body, body.args[1:], op.results, op.operands[3:], trip,
                      (lb, step, body.args[0]))


def reverse_for_recompute(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    body = op.regions[0]
    lb, ub, step = (ctx.primal_at(v) for v in op.operands[:3])
    trip = trip_count(e, lb, ub, step)

    def iv_of(re: Emitter, back: Value) -> dict[int, Value]:
        return {body.args[0].id: re("add", lb, re("mul", back, step),
                                    name=body.args[0].name)}
    reverse_recompute(ctx, op, e, body, body.args[1:], op.results, op.operands[3:], trip,
                      iv_of, checked=False)


def reverse_while(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    count = count_iterations(ctx, op)
    body = op.regions[1]
    if op.attrs.get("recompute"):
        reverse_recompute(ctx, op, e, body, body.args, op.results[:-1], op.operands[:-1],
                          ctx.primal_at(count), lambda re, back: {}, checked=True)
        return
    reverse_store_all(ctx, e, body, body.args, op.results[:-1], op.operands[:-1],
                      ctx.primal_at(count))
