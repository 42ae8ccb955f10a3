"""Forward mode: IR function -> IR function computing primal results and their tangents.

`jvp_function(fn, active)` returns `f_jvp(*args, *arg_dots) -> (*outs, *out_dots)`, one tangent
argument per active argument. With `lanes=True` every tangent carries a trailing axis of
directions (vector forward mode): a scalar's tangent is 1-d, an (n,)-array's is (n, L), so
indexing, slicing and writes apply to tangents unchanged and elementwise rules only expand the
primal partial by one trailing axis.

Invariant: every varied value has a tangent value after its defining op; values that are not
varied have none (symbolic zero). Where a structured op merges a varied slot with a
non-varied path, zeros are materialised.
"""
from __future__ import annotations

from ..custom.functions import REGISTRY
from ..custom.lowering import check_extents, rule_ir
from ..errors import NonDifferentiable, TypeInferenceError
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.inline import inline_function
from ..ir.types import ArrayType
from ..ir.walk import clone_function
from ..transforms.inline_custom import inline_custom
from .activity import varied
from .emitter import Emitter
from .rules import JVP, PARTIALS, partials
from .rules.common import ndim as _ndim
from .rules.common import tangent_type


def _keeps_rule(op: Op, lanes: bool) -> bool:
    cf = REGISTRY[op.attrs["rule"]]
    cf.require_rules(op.loc)
    if cf.kind == "custom_root":   # its iterations are not its derivative: always the rule
        return True
    return (not lanes or cf.lanes_rule) and cf.jvp_rule is not None


class Forward:
    def __init__(self, fn: Function, active: list[bool], lanes: bool):
        self.fn = clone_function(fn)
        self.active = active
        self.lanes = lanes
        # without a JVP rule (or under lanes) a custom function is differentiated as written
        inline_custom(self.fn, keep=self.keeps_rule)
        self.dot: dict[int, Value] = {}
        self.L: Value | None = None
        self.lane_ids: set[int] = set()
        self.varied = varied(self.fn, active)

    def keeps_rule(self, op: Op) -> bool:
        """Whether custom op `op` stays (its rule is used) rather than being inlined."""
        return _keeps_rule(op, self.lanes)

    def tangent_type(self, t):
        return tangent_type(t, self.lanes)

    def emitter(self, block: Block, loc) -> Emitter:
        return Emitter(block, loc)

    # -- entry -------------------------------------------------------------------------------
    def run(self) -> Function:
        fn = self.fn
        dargs = []
        links = list(fn.shape_links)
        for i, (a, act) in enumerate(zip(fn.args, self.active)):
            if act and a.id in self.varied:
                d = Value(a.name + "_dot", self.tangent_type(a.type))
                self.dot[a.id] = d
                if isinstance(a.type, ArrayType):
                    links.append((len(fn.args) + len(dargs), i))
                dargs.append(d)
        body = Block(list(fn.body.args))
        e = self.emitter(body, fn.loc)
        if self.lanes and dargs:
            self.L = e("dim", dargs[0], axis=dargs[0].type.ndim - 1, name="lanes")
        self.block(fn.body, body)
        ret = body.ops.pop()
        e = self.emitter(body, ret.loc)
        outs = list(ret.operands)
        douts = [self.tangent_or_zero(e, v) for v in outs]
        Builder(body, ret.loc).op("return", outs + douts, [])
        types = [v.type for v in outs] + [v.type for v in douts]
        return Function(fn.name + "_jvp", fn.args + dargs, body, types, fn.loc, True, links)

    def tangent_or_zero(self, e: Emitter, v: Value) -> Value:
        d = self.dot.get(v.id)
        if d is not None:
            return d
        return e.zeros_like(v, self.L if self.lanes else None, name=v.name + "_dot")

    # -- blocks and ops ----------------------------------------------------------------------
    def block(self, src: Block, dst: Block) -> None:
        for op in src.ops:
            if op.prim in ("yield", "condition", "return"):
                dst.ops.append(op)
                continue
            if op.prim in ("for", "while", "if"):
                self.structured(op, dst)
                continue
            if op.prim == "custom":
                dst.ops.append(op)
                if any(r.id in self.varied for r in op.results):
                    self.custom(op, dst)
                continue
            dst.ops.append(op)
            if any(r.id in self.varied for r in op.results) or \
                    op.prim in ("tape_push", "tape_reserve"):
                start = len(dst.ops)
                self.tangent(op, self.emitter(dst, op.loc))
                if self.lanes:
                    self._mark_lane_ops(dst.ops[start:])

    def _mark_lane_ops(self, ops: list[Op]) -> None:
        """Mark tangent code that computes on lanes (it reads a tangent, directly or through
        other lane ops) for `fuse_lanes`; primal-only helpers such as the weights of a max
        stay unmarked (their arrays have the primal's length, not L lanes)."""
        lanes = self.lane_ids
        lanes.update(d.id for d in self.dot.values())
        if self.L is not None:
            lanes.add(self.L.id)
        for t in ops:
            if not t.regions and any(v.id in lanes for v in t.operands):
                t.attrs["lane_op"] = True
                lanes.update(r.id for r in t.results)

    def expand(self, e: Emitter, p: Value, like: Value) -> Value:
        """A primal-shaped partial, made to broadcast against lane-carrying tangents."""
        if not self.lanes or _ndim(p) == 0:
            return p
        return e("expand", p, axis=_ndim(p), name=p.name)

    def fit(self, e: Emitter, t: Value, like: Value) -> Value:
        """Broadcast tangent `t` up to the full tangent shape of primal `like`."""
        want = _ndim(like) + (1 if self.lanes else 0)
        if _ndim(t) == want:
            return t
        return e("broadcast_like", t, like, *( [self.L] if self.lanes else []),
                 name=like.name + "_dot")

    def tangent(self, op: Op, e: Emitter) -> None:
        p = op.prim
        d = [self.dot.get(v.id) for v in op.operands]
        y = op.results[0] if op.results else None
        name = (y.name if y is not None else "t") + "_dot"
        if p in PARTIALS:
            ps = partials(e, p, op.operands, y, [t is not None for t in d])
            acc = None
            for part, t in zip(ps, d):
                if t is None or part is None:
                    continue
                term = e.scale(self.expand(e, part, y), t, name)
                acc = term if acc is None else e("add", acc, term, name=name)
            if acc is not None:
                self.dot[y.id] = self.fit(e, acc, y)
            return
        rule = JVP.get(p)
        if rule is None:
            raise NonDifferentiable(f"'{p}' has no derivative rule", op.loc,
                                    "the value flowing through it cannot be differentiated; "
                                    "compute it from inactive inputs or mark a custom rule")
        out = rule(self, e, op, d, name)
        if out is not None and y is not None:
            self.dot[y.id] = out

    def custom(self, op: Op, dst: Block) -> None:
        """Inline the user's JVP rule: its tangent outputs become the results' tangents."""
        cf = REGISTRY[op.attrs["rule"]]
        e = self.emitter(dst, op.loc)
        dots = [self.tangent_or_zero(e, a) for a in op.operands]
        # after reverse mode (forward over reverse) trailing results are the fwd rule's
        # residuals: their tangents are those of the outputs and arguments they stand for
        n = len(op.results) - op.attrs.get("nres", 0)
        fn = rule_ir(cf, "jvp", [a.type for a in op.operands] + [d.type for d in dots], n,
                     expect=[self.tangent_type(r.type) for r in op.results[:n]])
        vals = inline_function(fn, dst, list(op.operands) + dots, op.loc)
        if len(vals) != 2 * n:
            raise TypeInferenceError(f"the JVP rule of '{cf.__name__}' must return "
                                     "(outputs, output tangents)", op.loc,
                                     "return out, out_dot (tuples for several outputs)")
        for i, (r, d) in enumerate(zip(op.results, vals[n:])):
            if r.id in self.varied:
                check_extents(e, d, r, cf, "jvp", f"a tangent for output {i}",
                              "the output")
                self.dot[r.id] = self.fit(e, d, r)
        if n == len(op.results):
            return
        sources = cf.residual_sources(len(op.operands), n)
        if sources is None or len(sources) != len(op.results) - n:
            raise NonDifferentiable(f"forward mode over reverse mode of '{cf.__name__}' "
                                    "needs the tangents of its fwd rule's residuals", op.loc,
                                    "give it a custom_jvp rule, or use reverse mode only")
        for r, (what, k) in zip(op.results[n:], sources):
            if r.id in self.varied:
                src = op.results[k] if what == "out" else op.operands[k]
                self.dot[r.id] = self.tangent_or_zero(e, src)

    def zero(self, e: Emitter, v: Value) -> Value:
        return e.zeros_like(v, self.L if self.lanes else None, name=v.name + "_dot")

    # -- structured control flow ---------------------------------------------------------------
    def structured(self, op: Op, dst: Block) -> None:
        e = self.emitter(dst, op.loc)
        slots = [k for k, r in enumerate(op.results) if r.id in self.varied]
        if op.prim == "if":
            for region in op.regions:
                new = Block([])
                self.block(region, new)
                y = new.ops[-1]
                ye = self.emitter(new, y.loc)
                new.ops.pop()
                extra = [self.tangent_or_zero(ye, y.operands[k]) for k in slots]
                Builder(new, y.loc).op("yield", list(y.operands) + extra, [])
                region.ops = new.ops
            self._add_results(op, slots)
            dst.ops.append(op)
            return
        off = 3 if op.prim == "for" else 0
        inits = [self.tangent_or_zero(e, op.operands[off + k]) for k in slots]
        for region in op.regions:
            boff = 1 if (op.prim == "for") else 0
            new_args = []
            for k in slots:
                a = region.args[boff + k]
                d = Value(a.name + "_dot", self.tangent_type(a.type))
                self.dot[a.id] = d
                new_args.append(d)
            region.args = region.args + new_args
        for i, region in enumerate(op.regions):
            new = Block(region.args)
            self.block(region, new)
            term = new.ops[-1]
            if term.prim == "yield":
                new.ops.pop()
                ye = self.emitter(new, term.loc)
                extra = [self.tangent_or_zero(ye, term.operands[k]) for k in slots]
                Builder(new, term.loc).op("yield", list(term.operands) + extra, [])
            region.ops = new.ops
        op.operands = op.operands + inits
        self._add_results(op, slots)
        dst.ops.append(op)

    def _add_results(self, op: Op, slots: list[int]) -> None:
        for k in slots:
            r = op.results[k]
            d = Value(r.name + "_dot", self.tangent_type(r.type))
            self.dot[r.id] = d
            op.results.append(d)


def jvp_function(fn: Function, active: list[bool], lanes: bool = False) -> Function:
    return Forward(fn, active, lanes).run()
