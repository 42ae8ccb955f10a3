"""Reverse mode: IR function -> IR function computing primal results and input adjoints.

`vjp_function(fn, active)` returns `f_vjp(*args, *out_bars) -> (*outs, *arg_bars)`. It is built
in named steps, each callable on its own:

1. `prepare`: copy the primal and make array chains linear (`insert_copies`), so no old array
   version is read after a newer one is written;
2. `activity.varied`: which values carry derivatives (others get no adjoint, no tape);
3. the *forward sweep* is the primal itself, augmented on demand: a `while` gets an iteration
   counter; a value defined inside a loop body or branch that the adjoint needs is pushed onto
   its own tape at the end of that region (only what the adjoint asks for is recorded);
4. the *reverse sweep* walks the ops backwards, accumulating adjoints: loops run backwards over
   their trip count, branches replay the recorded decision, each region pops its tapes first;
5. cleanup (DCE, copy insertion) is the normal pipeline after the transform.

Adjoints are symbolic zeros until something is accumulated; array adjoints are updated with
element writes, so a scatter from `x[i]` costs O(1).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..errors import NonDifferentiable
from ..ir.clone import clone_ops as _clone_ops
from ..ir.core import Block, Builder, Function, Op, Value
from ..ir.loops import trip_count
from ..ir.types import I64, ArrayType, ScalarType, scalar_of
from ..transforms.inplace import insert_copies
from .activity import varied
from .emitter import Emitter, Lazy, extremum_weights
from .rules import PARTIALS, partials


@dataclass
class Scope:
    """A forward region whose values the reverse region reads back from tapes."""

    forward: Block
    reverse: Block | None = None
    iv: Value | None = None
    rev_iv: Value | None = None
    placeholders: dict[int, tuple[Value, Value]] = field(default_factory=dict)


@dataclass
class _RevLoop:
    """A reverse loop being built: which results carry adjoints, its block and emitter."""

    slots: list[int]
    outer: list[Value]
    init_vals: list[Value]
    rblock: Block
    re: Emitter
    saved: dict[int, Value]


def _ndim(v: Value) -> int:
    return v.type.ndim if isinstance(v.type, ArrayType) else 0


def _is_float(v: Value) -> bool:
    return isinstance(v.type, (ScalarType, ArrayType)) and scalar_of(v.type).is_float


def free_uses(op: Op) -> list[Value]:
    """Values used inside op's regions but defined outside, in first-use order."""
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

    for r in op.regions:
        visit(r)
    return [v for k, v in out.items() if k not in defined]


class Reverse:
    def __init__(self, fn: Function, active: list[bool], checkpoint=None):
        from ..transforms.checkpoint import apply_checkpointing, parse_policy, tape_limit
        from ..transforms.inline_custom import inline_custom
        from .custom import REGISTRY
        self.fn = copy.deepcopy(fn)
        inline_custom(self.fn, keep=lambda op: REGISTRY[op.attrs["rule"]].jvp_rule is not None
                      or REGISTRY[op.attrs["rule"]].fwd is not None)
        insert_copies(self.fn)
        if apply_checkpointing(self.fn, parse_policy(checkpoint)):
            from ..transforms.pipeline import print_after
            print_after("checkpoint", self.fn)
        self._prepare_custom_vjp(self.fn.body)
        self.active = active
        self.varied = varied(self.fn, active)
        self.scope_of: dict[int, Block] = {}
        self._index_scopes(self.fn.body, self.fn.args)
        self.adj: dict[int, Value] = {}
        self.scopes: list[Scope] = []
        self.tapes: dict[int, Value] = {}
        self.remat_cache: dict[tuple[int, int], Value] = {}
        self.readonly = _readonly_arrays(self.fn)
        self.trips: dict[int, Value] = {}
        self.cur: Emitter | None = None
        # reverse-sweep blocks holding recomputed forward code: values defined there are
        # visible to the adjoint code after them, like top-level values
        self.visible: set[int] = set()
        # automatic checkpointing: without a policy, each top-level loop first checks its
        # tape estimate against the limit (the API then retries with a policy)
        self.budget = tape_limit() if checkpoint is None else None
        self.budget_sites: dict[int, tuple[Op, list[tuple[Value, Value]]]] = {}

    def _prepare_custom_vjp(self, block: Block) -> None:
        """A custom_vjp call runs the user's fwd rule; its residuals become extra results."""
        from ..ir.inline import inline_function
        from .custom import REGISTRY, rule_ir
        for op in block.ops:
            for r in op.regions:
                self._prepare_custom_vjp(r)
            if op.prim != "custom" or REGISTRY[op.attrs["rule"]].fwd is None:
                continue
            cf = REGISTRY[op.attrs["rule"]]
            fn = rule_ir(cf, "fwd", [a.type for a in op.operands], len(op.results))
            n = len(op.results)
            if [t for t in fn.result_types[:n]] != [r.type for r in op.results]:
                from ..errors import TypeInferenceError
                raise TypeInferenceError(
                    f"the fwd rule of '{cf.__name__}' must return (output, residuals) with "
                    "the output of the function itself", op.loc,
                    "return out, (res1, res2, ...)")
            region = Block([Value(a.name, a.type) for a in op.operands])
            vals = inline_function(fn, region, list(region.args), op.loc)
            Builder(region, op.loc).op("yield", vals, [])
            op.regions = [region]
            op.results += [Value("res", v.type) for v in vals[n:]]
            op.attrs = dict(op.attrs, nres=len(vals) - n)

    def _index_scopes(self, block: Block, extra=()) -> None:
        if not hasattr(self, "def_op"):
            self.def_op: dict[int, Op] = {}
        for a in list(extra) + list(block.args):
            self.scope_of[a.id] = block
        if not hasattr(self, "parent"):
            self.parent: dict[Block, tuple[Op, Block]] = {}
        for op in block.ops:
            for r in op.results:
                self.scope_of[r.id] = block
                self.def_op[r.id] = op
            for region in op.regions:
                self.parent[region] = (op, block)
            for region in op.regions:
                self._index_scopes(region)

    # -- primal values seen from the reverse sweep ---------------------------------------------
    def P(self, v: Value) -> Value:
        """Primal value `v` as visible at the current point of the reverse sweep.

        Top-level values are visible as they are; cheap integer arithmetic (index
        computations) is recomputed from visible values; anything else defined inside a loop
        body or branch is read back from a tape that the forward region fills.
        """
        home = self.scope_of.get(v.id)
        if home is None or home is self.fn.body or id(home) in self.visible:
            return v
        if self._cheap(v):
            return self._remat(v)
        for sc in reversed(self.scopes):
            if sc.forward is home:
                if sc.iv is v:
                    return sc.rev_iv
                got = sc.placeholders.get(v.id)
                if got is None:
                    got = (v, Value(v.name, v.type))
                    sc.placeholders[v.id] = got
                return got[1]
        raise AssertionError(f"value {v!r} is not visible from the reverse sweep")

    def _cheap(self, v: Value, depth: int = 0) -> bool:
        home = self.scope_of.get(v.id)
        if home is None or home is self.fn.body or id(home) in self.visible:
            return True
        if any(sc.iv is v for sc in self.scopes):
            return True
        op = self.def_op.get(v.id)
        if op is not None and op.prim == "const":
            return True
        if op is not None and op.prim == "getitem" and op.operands[0].id in self.readonly:
            return True  # re-read in the reverse sweep (indices via P) instead of taped
        if op is not None and op.prim in _FLOAT_REMAT and depth == 0 and \
                isinstance(v.type, ScalarType) and v.type.is_float:
            # one float op on values that are themselves free to get (e.g. x[i] - mu[k]
            # of read-only arrays): recomputed, cheaper than a tape push and pop
            return all(self._free(o) for o in op.operands)
        if op is None or depth > 6 or op.prim not in _REMAT or v.type != I64:
            return False
        return all(self._cheap(o, depth + 1) or self._outer_int(o, v) for o in op.operands)

    def _free(self, v: Value) -> bool:
        """Visible as is, a constant, or a re-read of a read-only array."""
        home = self.scope_of.get(v.id)
        if home is None or home is self.fn.body or id(home) in self.visible:
            return True
        op = self.def_op.get(v.id)
        return op is not None and (op.prim == "const" or (
            op.prim == "getitem" and op.operands[0].id in self.readonly))

    def _outer_int(self, o: Value, v: Value) -> bool:
        """An integer defined in a block enclosing v's: read once per trip of that outer block
        (through P), so index arithmetic on it (an offset carried by an outer loop plus the
        inner index) is recomputed per inner trip instead of taped per inner trip."""
        home_o, home_v = self.scope_of.get(o.id), self.scope_of.get(v.id)
        return o.type == I64 and home_o is not None and home_o is not home_v and \
            self._inside(v, home_o)

    def _remat(self, v: Value) -> Value:
        home = self.scope_of.get(v.id)
        if home is None or home is self.fn.body or id(home) in self.visible:
            return v
        for sc in reversed(self.scopes):
            if sc.iv is v:
                return sc.rev_iv
        op = self.def_op[v.id]
        key = (v.id, id(self.cur.block))
        got = self.remat_cache.get(key)
        if got is None:
            if op.prim == "getitem":
                args = [self.P(o) for o in op.operands]
            else:
                args = [self._remat(o) if self._cheap(o) else self.P(o) for o in op.operands]
            got = self.cur(op.prim, *args, name=v.name, **op.attrs)
            self.remat_cache[key] = got
        return got

    def tape_for(self, v: Value) -> Value:
        t = self.tapes.get(v.id)
        if t is None:
            op = Op("tape_new", [], [Value(f"{v.name}_tape", None)], {"type": str(v.type)})
            from ..ir.primitives import PRIMITIVES
            op.results[0].type = PRIMITIVES["tape_new"].rule([], op.attrs)[0]
            self.fn.body.ops.insert(0, op)
            t = self.tapes[v.id] = op.results[0]
        return t

    def _close_scope(self, sc: Scope) -> None:
        term = sc.forward.ops.pop()
        pops = []
        loop, home, anchor = self._enclosing_loop(sc.forward)
        for v, ph in sc.placeholders.values():
            tape = self.tape_for(v)
            attrs = {"checked": True} if loop is not None and loop.prim == "while" else {}
            sc.forward.ops.append(Op("tape_push", [tape, v], [], attrs, [], term.loc))
            pops.append(Op("tape_pop", [tape], [ph], {}, [], term.loc))
            if not attrs:
                self._reserve(tape, loop, home, anchor)
        sc.forward.ops.append(term)
        sc.reverse.ops[0:0] = pops

    def _enclosing_loop(self, block: Block):
        """(nearest loop op around block, the block holding it, the op to insert before)."""
        anchor = None
        while block in self.parent:
            op, outer = self.parent[block]
            anchor = (op, outer)
            if op.prim in ("for", "while"):
                return op, outer, op
            block = outer
        return None, block, anchor[0] if anchor else None

    def _inside(self, v: Value, region: Block) -> bool:
        """Is v defined in `region` or in a region nested in it?"""
        b = self.scope_of.get(v.id)
        while b is not None:
            if b is region:
                return True
            b = self.parent[b][1] if b in self.parent else None
        return False

    def _reserve(self, tape: Value, loop: Op | None, home: Block, anchor: Op) -> None:
        """Make room on `tape` before the loop whose body pushes at most once per trip."""
        if loop is None:
            count = Op("const", [], [Value("one", I64)], {"value": 1, "type": "i64"})
            ops = [count]
        else:
            chain = [loop]
            while home in self.parent:
                outer, outer_home = self.parent[home]
                if outer.prim != "for" or any(self._inside(v, home) for lp in chain
                                              for v in lp.operands[:3]):
                    break
                chain.append(outer)
                home, anchor = outer_home, outer
            key = tuple(id(lp) for lp in chain)
            if key not in self.trips:
                tmp = Block([])
                te = Emitter(tmp, anchor.loc)
                total = None
                for lp in chain:
                    t = self._trip(te, *lp.operands[:3])
                    total = t if total is None else te("mul", total, t, name="trips")
                self.trips[key] = total
                idx = home.ops.index(anchor)
                home.ops[idx:idx] = tmp.ops
            count = None
            ops = []
            loop = key
        n = count.results[0] if count is not None else self.trips[loop]
        if count is None and home is self.fn.body and self.budget is not None:
            self.budget_sites.setdefault(id(anchor), (anchor, []))[1].append((tape, n))
        ops.append(Op("tape_reserve", [tape, n], [], {}, [], anchor.loc if anchor else None))
        idx = home.ops.index(anchor)
        home.ops[idx:idx] = ops

    # -- adjoints ------------------------------------------------------------------------------
    def accumulate(self, e: Emitter, v: Value, g: Value) -> None:
        if v.id not in self.varied or g is None:
            return
        cur = self.adj.get(v.id)
        self.adj[v.id] = g if cur is None else e("add", cur, g, name=v.name + "_bar")

    def zeros(self, e: Emitter, v: Value) -> Value:
        if not isinstance(v.type, ArrayType):
            return e.c(0.0, v)
        return e.zeros_like(self.P(self._shape_source(v)), name=v.name + "_bar")

    def _write_root(self, v: Value) -> Value:
        """Follow element writes and copies back: they keep the array's shape."""
        while True:
            op = self.def_op.get(v.id)
            if op is None or op.prim not in ("setitem", "setslice", "copy"):
                return v
            v = op.operands[0]

    def _shape_source(self, v: Value) -> Value:
        """A value with v's shape that is visible as early as possible: an adjoint's zeros need
        only the shape, and reading a version from inside a loop would tape a copy of the
        whole array on every iteration."""
        for _ in range(64):
            v = self._write_root(v)
            op = self.def_op.get(v.id)
            if op is not None and op.prim == "for":
                k = op.results.index(v)
                body = op.regions[0]
                if self._write_root(body.ops[-1].operands[k]) is body.args[1 + k]:
                    v = op.operands[3 + k]
                    continue
                return v
            home = self.scope_of.get(v.id)
            loop = self.parent.get(home)[0] if home in self.parent else None
            if loop is not None and loop.prim == "for" and v in home.args[1:]:
                k = home.args.index(v) - 1
                if self._write_root(home.ops[-1].operands[k]) is v:
                    v = loop.operands[3 + k]
                    continue
            return v
        return v

    def unbroadcast(self, e: Emitter, g: Value, x: Value) -> Value:
        if _ndim(x) == 0:
            return e("sum", g, axis=None, name=x.name + "_bar") if _ndim(g) else g
        return e("sum_to", g, self.P(x), name=x.name + "_bar")

    # -- entry -----------------------------------------------------------------------------------
    def run(self) -> Function:
        fn = self.fn
        body = fn.body
        ret = body.ops.pop()
        e = Emitter(body, ret.loc)
        outs = list(ret.operands)
        bars = []
        for o in outs:
            if _is_float(o):
                b = Value(o.name + "_bar", o.type)
                bars.append(b)
                self.accumulate(e, o, b)
        self.backward_block(body.ops[:], e)
        results = []
        for a, act in zip(fn.args, self.active):
            if act:
                g = self.adj.get(a.id)
                results.append(g if g is not None else e.zeros_like(a, name=a.name + "_bar"))
        Builder(body, ret.loc).op("return", outs + results, [])
        _drop_unused_tapes(fn)
        self._emit_budget_checks()
        return Function(fn.name + "_vjp", fn.args + bars, body,
                        [v.type for v in outs + results], fn.loc, True, list(fn.shape_links))

    def _emit_budget_checks(self) -> None:
        """Before each top-level loop that fills tapes: estimate their bytes (reserved entries
        times entry size; an array entry counted as large as the loop's largest array) and
        stop with TapeBudgetExceeded above the limit, before any of it is recorded."""
        body = self.fn.body
        live = {op.results[0].id for op in body.ops if op.prim == "tape_new"}
        for anchor, sites in self.budget_sites.values():
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
                    nbytes = e("mul", nbytes, widest if widest is not None else e.c(1, I64))
                part = e("mul", n, nbytes)
                total = part if total is None else e("add", total, part, name="tape_bytes")
            Builder(tmp, anchor.loc).op("tape_budget", [total], [], {"limit": self.budget})
            idx = body.ops.index(anchor)
            body.ops[idx:idx] = tmp.ops

    def backward_block(self, ops: list[Op], e: Emitter) -> None:
        saved = self.cur
        self.cur = e
        self._backward_ops(ops, e)
        self.cur = saved

    def _backward_ops(self, ops: list[Op], e: Emitter) -> None:
        for op in reversed(ops):
            if op.prim in ("yield", "condition", "return", "tape_push", "tape_new"):
                continue
            if op.prim in ("for", "while", "if", "custom"):
                if any(r.id in self.adj for r in op.results):
                    getattr(self, "_rev_" + op.prim)(op, e)
                continue
            if not any(r.id in self.adj for r in op.results):
                continue
            e.loc = op.loc
            self.backward_op(op, e)

    def backward_op(self, op: Op, e: Emitter) -> None:
        y = op.results[0]
        g = self.adj[y.id]
        p = op.prim
        if p in PARTIALS:
            need = [v.id in self.varied for v in op.operands]
            xs = [Lazy(v, self.P) for v in op.operands]
            ps = partials(e, p, xs, Lazy(y, self.P), need)
            for x, part in zip(op.operands, ps):
                if part is None:
                    continue
                contrib = e.scale(part, g, x.name + "_bar")
                if _ndim(x) < _ndim(contrib) or (_ndim(x) and _ndim(contrib)):
                    contrib = self.unbroadcast(e, contrib, x)
                self.accumulate(e, x, contrib)
            return
        rule = _ADJOINT.get(p)
        if rule is None:
            raise NonDifferentiable(f"'{p}' has no reverse-mode rule", op.loc,
                                    "compute this value from inactive inputs, or give the "
                                    "function a custom_vjp rule")
        rule(self, e, op, g)

    # -- structured control flow ---------------------------------------------------------------
    def _trip(self, e: Emitter, lb: Value, ub: Value, step: Value) -> Value:
        return trip_count(e, lb, ub, step)

    def _open_reverse_loop(self, e: Emitter, body: Block, results: list[Value]) -> "_RevLoop":
        """Start `for back in range(trip - 1, -1, -1)` carrying the adjoints of the varied
        results and of varied outer values the body reads. Counting down keeps the index
        visibly in [0, trip), so backends can drop index checks and wrap-around."""
        slots = [k for k, r in enumerate(results) if r.id in self.varied]
        outer = [v for v in free_uses_block(body) if v.id in self.varied
                 and self.scope_of.get(v.id) is not body]
        init_vals = [self.adj.get(results[k].id) or self.zeros(e, results[k]) for k in slots]
        init_vals += [self.adj.get(v.id) or self.zeros(e, v) for v in outer]
        rblock = Block([Value("back", I64)] +
                       [Value(results[k].name + "_bar", results[k].type) for k in slots] +
                       [Value(v.name + "_bar", v.type) for v in outer])
        rl = _RevLoop(slots, outer, init_vals, rblock, Emitter(rblock, e.loc), self.adj)
        self.adj = dict(rl.saved)
        for i, v in enumerate(outer):
            self.adj[v.id] = rblock.args[1 + len(slots) + i]
        return rl

    def _seed_yields(self, rl: "_RevLoop", yields: list[Value]) -> None:
        for i, k in enumerate(rl.slots):
            self.accumulate(rl.re, yields[k], rl.rblock.args[1 + i])

    def _close_reverse_loop(self, e: Emitter, rl: "_RevLoop", slot_args: list[Value],
                            results: list[Value], inits: list[Value], trip: Value,
                            after_yield=None) -> None:
        """Yield the adjoints of the iteration's inputs, emit the loop, and pass what flowed
        out of it to the outer values and the loop's initial values."""
        self._yield_reverse_body(e, rl, slot_args, [], after_yield)
        minus1 = e.c(-1, I64)
        first = e("sub", trip, e.c(1, I64), name="last")
        loop = Builder(e.block, e.loc).op("for", [first, minus1, minus1] + rl.init_vals,
                                          [v.type for v in rl.init_vals], {}, [rl.rblock],
                                          [v.name for v in rl.rblock.args[1:]])
        self._bind_reverse_results(e, rl, loop.results, results, inits)

    def _yield_reverse_body(self, e: Emitter, rl: "_RevLoop", slot_args: list[Value],
                            extra: list[Value], after_yield=None) -> None:
        """End the reverse body: yield the adjoints of the iteration's inputs (then `extra`)."""
        out = []
        for i, k in enumerate(rl.slots):
            g = self.adj.get(slot_args[k].id)
            out.append(g if g is not None else rl.re.zeros_like(rl.rblock.args[1 + i]))
        out += [self.adj.get(v.id) for v in rl.outer]
        Builder(rl.rblock, e.loc).op("yield", out + list(extra), [])
        if after_yield is not None:
            after_yield()
        self.adj = rl.saved

    def _bind_reverse_results(self, e: Emitter, rl: "_RevLoop", loop_results: list[Value],
                              results: list[Value], inits: list[Value]) -> None:
        nslot = len(rl.slots)
        for i, v in enumerate(rl.outer):   # outer adjoints were carried: take the final value
            self.adj[v.id] = loop_results[nslot + i]
        for i, k in enumerate(rl.slots):    # then add what flowed into the initial values
            self.adj.pop(results[k].id, None)
            self.accumulate(e, inits[k], loop_results[i])

    def _reverse_loop(self, e: Emitter, body: Block, slot_args: list[Value],
                      results: list[Value], inits: list[Value], trip: Value,
                      iv_info=None) -> None:
        """Run `body` backwards, trip times; its values come back from tapes.

        slot_args/results/inits: the forward loop's carried body args, results and inits.
        """
        rl = self._open_reverse_loop(e, body, results)
        sc = Scope(body, rl.rblock)
        if iv_info is not None:
            lb, step, iv = iv_info
            sc.iv = iv
            sc.rev_iv = rl.re("add", lb, rl.re("mul", rl.rblock.args[0], step), name=iv.name)
        self._seed_yields(rl, body.ops[-1].operands)
        self.scopes.append(sc)
        self.backward_block(body.ops[:-1], rl.re)
        self.scopes.pop()
        self._close_reverse_loop(e, rl, slot_args, results, inits, trip,
                                 after_yield=lambda: self._close_scope(sc))

    def _rev_for(self, op: Op, e: Emitter) -> None:
        if op.attrs.get("recompute"):
            return self._rev_for_recompute(op, e)
        if "revolve_snapshots" in op.attrs or "revolve_memory" in op.attrs:
            from .revolve import reverse_revolve
            return reverse_revolve(self, op, e)
        lb, ub, step = (self.P(v) for v in op.operands[:3])
        trip = self._trip(e, lb, ub, step)
        body = op.regions[0]
        self._reverse_loop(e, body, body.args[1:], op.results, op.operands[3:], trip,
                           (lb, step, body.args[0]))

    def _rev_for_recompute(self, op: Op, e: Emitter) -> None:
        body = op.regions[0]
        lb, ub, step = (self.P(v) for v in op.operands[:3])
        trip = self._trip(e, lb, ub, step)

        def iv_of(re: Emitter, back: Value) -> dict[int, Value]:
            return {body.args[0].id: re("add", lb, re("mul", back, step),
                                        name=body.args[0].name)}
        self._rev_recompute(op, e, body, body.args[1:], op.results, op.operands[3:], trip,
                            iv_of, checked=False)

    def _rev_while_recompute(self, op: Op, e: Emitter) -> None:
        count = self._count_iterations(op)
        body = op.regions[1]
        self._rev_recompute(op, e, body, body.args, op.results[:-1], op.operands[:-1],
                            self.P(count), lambda re, back: {}, checked=True)

    def _rev_recompute(self, op: Op, e: Emitter, body: Block, carried: list[Value],
                       results: list[Value], inits: list[Value], trip: Value, iv_of,
                       checked: bool) -> None:
        """A checkpointed loop: the forward sweep snapshots the carried state at the start of
        every iteration; the reverse sweep restores it, re-runs the iteration (taping only
        inside it) and runs that iteration's adjoint, last iteration first."""
        home = self.parent[body][1]
        # forward: push the state at the start of each iteration (a while loop cannot
        # reserve room ahead: its pushes grow the tape)
        pushes, snaps = [], []
        for c in carried:
            tape = self.tape_for(c)
            pushes.append(Op("tape_push", [tape, c], [], {"checked": True} if checked else {},
                             [], op.loc))
            snaps.append(tape)
            if not checked:
                self._reserve(tape, op, home, op)
        body.ops[0:0] = pushes
        rl = self._open_reverse_loop(e, body, results)
        rblock, re = rl.rblock, rl.re
        restored = [Value(c.name, c.type) for c in carried]
        for tape, r in zip(snaps, restored):
            rblock.ops.append(Op("tape_pop", [tape], [r], {}, [], op.loc))
        mapping = iv_of(re, rblock.args[0])
        ivs = list(mapping.values())
        mapping.update({c.id: r for c, r in zip(carried, restored)})
        clone = _clone_ops(body.ops[len(pushes):], mapping)
        rblock.ops.extend(clone[:-1])
        self._adopt_recomputed(mapping, clone[:-1], rblock, restored + ivs)
        self._seed_yields(rl, clone[-1].operands)
        self.backward_block(clone[:-1], re)
        self._close_reverse_loop(e, rl, restored, results, inits, trip)

    def _adopt_recomputed(self, mapping: dict[int, Value], ops: list[Op], rblock: Block,
                          new_args: list[Value]) -> None:
        """Index recomputed (cloned) forward code placed in reverse block `rblock` as forward
        code whose values are visible to the adjoint code after it."""
        for old, new in list(mapping.items()):
            if old in self.varied:
                self.varied.add(new.id)
            if old in self.readonly:
                self.readonly.add(new.id)
        for v in new_args:
            self.scope_of[v.id] = rblock
        for o in ops:
            for r in o.results:
                self.scope_of[r.id] = rblock
                self.def_op[r.id] = o
            for region in o.regions:
                self.parent[region] = (o, rblock)
                self._index_scopes(region)
        self.visible.add(id(rblock))

    def _rev_while(self, op: Op, e: Emitter) -> None:
        if op.attrs.get("recompute"):
            return self._rev_while_recompute(op, e)
        count = self._count_iterations(op)
        self._reverse_loop(e, op.regions[1], op.regions[1].args, op.results[:-1],
                           op.operands[:-1], self.P(count))

    def _count_iterations(self, op: Op) -> Value:
        """Give the forward `while` an iteration counter (its last carried value)."""
        home = self.scope_of[op.results[0].id]
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
        for v in (zero.results[0], count):
            self.scope_of[v.id] = home
        self.scope_of[c.id] = body
        self.scope_of[nxt.id] = body
        self.scope_of[cond.args[-1].id] = cond
        return count

    def _rev_custom(self, op: Op, e: Emitter) -> None:
        from ..ir.inline import inline_function
        from .custom import REGISTRY, rule_ir
        cf = REGISTRY[op.attrs["rule"]]
        nres = op.attrs.get("nres", 0)
        outs = op.results[:len(op.results) - nres]
        gs = [self.adj.get(r.id) or self.zeros(e, r) for r in outs]
        args = [self.P(a) for a in op.operands]
        if cf.bwd is not None:
            res = [self.P(r) for r in op.results[len(outs):]]
            fn = rule_ir(cf, "bwd", [v.type for v in res] + [g.type for g in gs], len(outs),
                         len(res))
            grads = inline_function(fn, e.block, res + gs, op.loc)
        else:   # transpose the JVP rule: reverse mode of the rule w.r.t. its tangents
            n = len(args)
            fn = rule_ir(cf, "jvp", [a.type for a in args] * 2, len(outs))
            rev = vjp_function(fn, [False] * n + [True] * n)
            zeros = [self.zeros(e, a) for a in op.operands]
            seeds = [self.zeros(e, r) for r in outs] + gs
            vals = inline_function(rev, e.block, args + zeros + seeds, op.loc)
            grads = vals[2 * len(outs):]
        if len(grads) != len(op.operands):
            from ..errors import TypeInferenceError
            raise TypeInferenceError(f"the derivative rule of '{cf.__name__}' must give one "
                                     "cotangent per argument", op.loc,
                                     "return a tuple (x_bar, y_bar, ...)")
        for a, g in zip(op.operands, grads):
            if a.id in self.varied:
                if g.type != a.type:
                    g = self.unbroadcast(e, g, a) if _ndim(g) >= _ndim(a) else g
                self.accumulate(e, a, g)

    def _rev_if(self, op: Op, e: Emitter) -> None:
        cond = self.P(op.operands[0])
        before = self.adj
        branches = []
        for region in op.regions:
            rblock = Block([])
            re = Emitter(rblock, e.loc)
            self.adj = dict(before)
            for k, r in enumerate(op.results):
                if r.id in before:
                    self.adj.pop(r.id, None)
            for k, r in enumerate(op.results):
                if r.id in before:
                    self.accumulate(re, region.ops[-1].operands[k], before[r.id])
            sc = Scope(region, rblock)
            self.scopes.append(sc)
            self.backward_block(region.ops[:-1], re)
            self.scopes.pop()
            branches.append((self.adj, rblock, sc))
        self.adj = before
        inner = {v.id for v in _defined_in(op)}
        changed: list[int] = []
        for adj_b, _, _ in branches:
            for vid, g in adj_b.items():
                if vid in inner or vid in changed or any(vid == r.id for r in op.results):
                    continue
                if before.get(vid) is not g:
                    changed.append(vid)
        values = {v.id: v for v in free_uses(op)}
        zero_of = {}
        for vid in changed:
            if vid not in before:
                zero_of[vid] = self.zeros(e, values[vid])
        for adj_b, rblock, sc in branches:
            vals = [adj_b.get(vid) or before.get(vid) or zero_of[vid] for vid in changed]
            Builder(rblock, e.loc).op("yield", vals, [])
            self._close_scope(sc)
        res = Builder(e.block, e.loc).op("if", [cond], [values[v].type for v in changed], {},
                                         [b[1] for b in branches],
                                         [values[v].name + "_bar" for v in changed])
        for r in op.results:
            self.adj.pop(r.id, None)
        for vid, r in zip(changed, res.results):
            self.adj[vid] = r


def _readonly_arrays(fn: Function) -> set[int]:
    """Top-level arrays never written or handed on (their contents never change)."""
    consumed: set[int] = set()

    def scan(block: Block) -> None:
        for op in block.ops:
            if op.prim in ("setitem", "setslice"):
                consumed.add(op.operands[0].id)
            elif op.prim in ("for", "while", "yield"):
                consumed.update(v.id for v in op.operands)
            for r in op.regions:
                scan(r)
    scan(fn.body)
    top = [a for a in fn.args] + [r for op in fn.body.ops for r in op.results]
    return {v.id for v in top if isinstance(v.type, ArrayType) and v.id not in consumed}


def _drop_unused_tapes(fn: Function) -> None:
    from ..transforms.dce import drop_dead_tapes
    drop_dead_tapes(fn)


_REMAT = {"const", "add", "sub", "mul", "neg", "floordiv", "mod", "dim", "minimum", "maximum",
          "cast"}
_FLOAT_REMAT = {"add", "sub", "mul", "neg"}


def free_uses_block(block: Block) -> list[Value]:
    return free_uses(Op("region", [], [], {}, [block]))


def _defined_in(op: Op) -> list[Value]:
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


# -- adjoint rules for structural primitives: one function each ---------------------------------
def _copy(rv, e, op, g):
    rv.accumulate(e, op.operands[0], g)


def _cast(rv, e, op, g):
    x = op.operands[0]
    if _is_float(x):
        rv.accumulate(e, x, e("cast", g, to=scalar_of(x.type).name, name=x.name + "_bar"))


def _transpose(rv, e, op, g):
    rv.accumulate(e, op.operands[0], e("transpose", g, name=op.operands[0].name + "_bar"))


def _scatter_add(rv, e, x, g, idx, spec=None):
    """x_bar[idx] += g, in place on x's adjoint array."""
    if x.id not in rv.varied:
        return
    xb = rv.adj.get(x.id)
    if xb is None:
        xb = rv.zeros(e, x)
    if spec is None:
        cur = e("getitem", xb, *idx, name=x.name + "_bar_i")
        rv.adj[x.id] = e("setitem", xb, e("add", cur, g), *idx, name=x.name + "_bar")
    else:
        cur = e("getslice", xb, *idx, spec=spec, name=x.name + "_bar_s")
        rv.adj[x.id] = e("setslice", xb, e("add", cur, g), *idx, spec=spec,
                         name=x.name + "_bar")


def _getitem(rv, e, op, g):
    _scatter_add(rv, e, op.operands[0], g, [rv.P(i) for i in op.operands[1:]])


def _getslice(rv, e, op, g):
    _scatter_add(rv, e, op.operands[0], g, [rv.P(i) for i in op.operands[1:]],
                 op.attrs["spec"])


def _setitem(rv, e, op, g):
    x, v = op.operands[0], op.operands[1]
    idx = [rv.P(i) for i in op.operands[2:]]
    spec = op.attrs.get("spec")
    if v.id in rv.varied:
        part = e("getitem", g, *idx, name=v.name + "_bar") if spec is None else \
            e("getslice", g, *idx, spec=spec, name=v.name + "_bar")
        if _ndim(part) > _ndim(v) or _ndim(v):
            part = rv.unbroadcast(e, part, v)
        rv.accumulate(e, v, part)
    if x.id in rv.varied:
        zero = e.c(0.0, g)
        rv.accumulate(e, x, e(op.prim, g, zero, *idx, name=x.name + "_bar", **op.attrs))


def _spread(rv, e, op, g):
    """broadcast the adjoint of a reduction back over the reduced axes."""
    x = op.operands[0]
    axis = op.attrs.get("axis")
    gg = g if axis is None else e("expand", g, axis=axis)
    return e("broadcast_like", gg, rv.P(x), name=x.name + "_bar")


def _sum(rv, e, op, g):
    rv.accumulate(e, op.operands[0], _spread(rv, e, op, g))


def _mean(rv, e, op, g):
    x = rv.P(op.operands[0])
    axis = op.attrs.get("axis")
    n = e("size", x) if axis is None else e("dim", x, axis=axis)
    full = _spread(rv, e, op, g)
    rv.accumulate(e, op.operands[0], e("div", full, e("cast", n, to=x.type.dtype.name),
                                         name=x.name + "_bar"))


def _extremum(rv, e, op, g):
    x, y = rv.P(op.operands[0]), rv.P(op.results[0])
    w = extremum_weights(e, x, y, op.attrs.get("axis"))
    rv.accumulate(e, op.operands[0], e("mul", w, _spread(rv, e, op, g), name=x.name + "_bar"))


def _prod(rv, e, op, g):
    x, y = rv.P(op.operands[0]), rv.P(op.results[0])
    axis = op.attrs.get("axis")
    yy = y if axis is None else e("expand", y, axis=axis)
    w = e("div", yy, x, name="w")
    rv.accumulate(e, op.operands[0], e("mul", w, _spread(rv, e, op, g), name=x.name + "_bar"))


def _matmul(rv, e, op, g):
    a0, b0 = op.operands
    a, b = rv.P(a0), rv.P(b0)
    na, nb = _ndim(a), _ndim(b)
    if a0.id in rv.varied:
        if nb == 1 and na == 1:
            ga = e("mul", b, g)
        elif nb == 1:       # (n,k)@(k,) -> (n,): outer(g, b)
            ga = e("mul", e("expand", g, axis=1), e("expand", b, axis=0))
        elif na == 1:       # (k,)@(k,m) -> (m,): b @ g
            ga = e("matmul", b, g)
        else:
            ga = e("matmul", g, e("transpose", b))
        rv.accumulate(e, a0, ga)
    if b0.id in rv.varied:
        if na == 1 and nb == 1:
            gb = e("mul", a, g)
        elif na == 1:       # (k,)@(k,m): outer(a, g)
            gb = e("mul", e("expand", a, axis=1), e("expand", g, axis=0))
        elif nb == 1:       # (n,k)@(k,): a.T @ g
            gb = e("matmul", e("transpose", a), g)
        else:
            gb = e("matmul", e("transpose", a), g)
        rv.accumulate(e, b0, gb)


def _select(rv, e, op, g):
    c, a, b = op.operands
    zero = e.c(0.0, g)
    pc = rv.P(c)
    if a.id in rv.varied:
        ga = e("select", pc, g, zero)
        rv.accumulate(e, a, rv.unbroadcast(e, ga, a) if _ndim(a) or _ndim(ga) else ga)
    if b.id in rv.varied:
        gb = e("select", pc, zero, g)
        rv.accumulate(e, b, rv.unbroadcast(e, gb, b) if _ndim(b) or _ndim(gb) else gb)


def _full(rv, e, op, g):
    rv.accumulate(e, op.operands[-1], e("sum", g, axis=None))


_ADJOINT = {
    "copy": _copy, "cast": _cast, "transpose": _transpose, "getitem": _getitem,
    "getslice": _getslice, "setitem": _setitem, "setslice": _setitem, "sum": _sum,
    "mean": _mean, "max": _extremum, "min": _extremum, "prod": _prod, "matmul": _matmul,
    "select": _select, "full": _full,
}


def vjp_function(fn: Function, active: list[bool], checkpoint=None) -> Function:
    return Reverse(fn, active, checkpoint).run()
