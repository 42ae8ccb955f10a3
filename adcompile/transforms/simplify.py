"""Simplification: constant folding, algebraic identities, CSE, and branches on constants.

Runs on primal and derivative code. Derivative rules emit `1.0 * g`, `x ** (2 - 1)` and
repeated index arithmetic freely; this pass is where those disappear, so the rules stay simple.
Invariants: only pure ops are folded, merged or removed (tape ops are effectful and kept in
order); a value is only replaced by one of the same type; CSE keys include attributes and
see values of enclosing regions, never of sibling ones.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.core import Block, Function, Op, Value
from ..ir.interpreter import IMPL
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import ArrayType, ScalarType
from ..ir.slices import SliceSpec
from ..ir.views import IfOp, Loop


class _Simplifier:
    def __init__(self) -> None:
        self.sub: dict[int, Value] = {}
        self.const: dict[int, Any] = {}
        self.defs: dict[int, Op] = {}

    def get(self, v: Value) -> Value:
        while v.id in self.sub:
            v = self.sub[v.id]
        return v

    def block(self, block: Block, table: dict) -> None:
        out: list[Op] = []
        for op in block.ops:
            op.operands = [self.get(v) for v in op.operands]
            if op.prim == "if" and IfOp(op).cond.id in self.const:
                branch = IfOp(op)
                taken = branch.then if self.const[branch.cond.id] else branch.orelse
                self.block(taken, table)  # its ops now live in this block's scope
                y = taken.ops[-1]
                out.extend(taken.ops[:-1])
                for r, v in zip(op.results, y.operands):
                    self.sub[r.id] = self.get(v)
                continue
            for r in op.regions:
                self.block(r, dict(table))
            if op.prim in ("for", "while"):
                self._drop_invariant_slots(op)
            if op.prim in ("for", "while", "if") or has(op, Trait.EFFECT) or len(op.results) != 1 \
                    or has(op, Trait.TERMINATOR):
                out.append(op)
                continue
            y = op.results[0]
            if op.prim == "const":
                self.const[y.id] = op.attrs["value"]
            else:
                repl = self.rewrite(op)
                if repl is not None:
                    self.sub[y.id] = repl
                    continue
            key = self.key(op)
            if key is not None:
                prev = table.get(key)
                if prev is not None and prev.type == y.type:
                    self.sub[y.id] = prev
                    continue
                table[key] = y
            self.defs[y.id] = op
            out.append(op)
        block.ops = out

    def _drop_invariant_slots(self, op: Op) -> None:
        """A carried value the body yields back unchanged is just its initial value."""
        loop = Loop(op)
        keep = []
        for k, (r, arg, y, init) in enumerate(zip(op.results, loop.carried, loop.yields,
                                                  loop.inits)):
            if y is arg:
                self.sub[r.id] = init
                for rg in op.regions:
                    self.sub[loop.slot_args(rg)[k].id] = init
            else:
                keep.append(k)
        if len(keep) == len(op.results):
            return
        loop.keep_slots(keep)
        for rg in op.regions:
            _substitute(rg, self)

    def key(self, op: Op):
        if has(op, Trait.ALLOCATES):
            return None  # fresh storage each time: never merge
        try:
            attrs = tuple(sorted((k, v if not isinstance(v, list) else tuple(v))
                                 for k, v in op.attrs.items()))
            return (op.prim, tuple(v.id for v in op.operands), attrs, str(op.results[0].type))
        except TypeError:
            return None

    def rewrite(self, op: Op) -> Value | None:
        """A replacement for op's result, or None; may turn op into a const in place."""
        p, xs, y = op.prim, op.operands, op.results[0]
        ks = [self.const.get(v.id) for v in xs]
        if has(p, Trait.FOLDABLE) and xs and all(k is not None for k in ks) and \
                isinstance(y.type, ScalarType):
            try:
                with np.errstate(all="ignore"):
                    val = IMPL[p](*[x.type.np_dtype.type(k) for x, k in zip(xs, ks)])
                val = y.type.np_dtype.type(val).item()
            except (ZeroDivisionError, OverflowError, ValueError, TypeError):
                return None
            if isinstance(val, float) and not np.isfinite(val):
                return None
            op.prim, op.operands, op.attrs = "const", [], {"value": val, "type": y.type.name}
            self.const[y.id] = val
            return None
        if p == "cast" and len(xs) == 1 and ks[0] is not None and \
                isinstance(y.type, ScalarType):
            try:
                v = y.type.np_dtype.type(ks[0]).item()
            except (OverflowError, ValueError):   # left to the run-time conversion
                return None
            op.prim, op.operands, op.attrs = "const", [], {"value": v, "type": y.type.name}
            self.const[y.id] = v
            return None

        def same(v: Value) -> Value | None:
            return v if v.type == y.type else None

        if p == "getitem":
            d = self.defs.get(xs[0].id)
            if d is not None and d.prim == "setitem" and \
                    [v.id for v in d.operands[2:]] == [v.id for v in xs[1:]]:
                return same(d.operands[1])   # read of the element just written
            if d is not None and d.prim == "getitem" and d.attrs == op.attrs:
                # r = q[i]; r[j] is q[i, j]: the row (a view in NumPy) need not be made
                op.operands = [d.operands[0]] + d.operands[1:] + xs[1:]
                return None
            if d is not None and d.prim == "getslice" and not op.attrs:
                idx = _through_full_slices(d.attrs["spec"], d.operands[1:], xs[1:])
                if idx is not None:   # c = q[:, j]; c[i] is q[i, j]
                    op.operands = [d.operands[0]] + idx
                    return None
        if p == "setslice" and set(op.attrs) == {"spec"}:
            # q[:, j] = setitem(q[:, j], v, i) is q[i, j] = v (a write through a column view)
            w = self.defs.get(xs[1].id)
            r = self.defs.get(w.operands[0].id) if w is not None and w.prim == "setitem" \
                and not w.attrs else None
            if r is not None and r.prim == "getslice" and r.attrs == op.attrs and \
                    r.operands[0] is xs[0] and \
                    [v.id for v in r.operands[1:]] == [v.id for v in xs[2:]]:
                idx = _through_full_slices(op.attrs["spec"], xs[2:], w.operands[2:])
                if idx is not None:
                    op.prim, op.operands, op.attrs = "setitem", [xs[0], w.operands[1]] + idx, {}
                    return None
        if p in ("add", "sub") and str(y.type) == "i64" and ks[1] is not None:
            d = self.defs.get(xs[0].id)
            if d is not None and d.prim in ("add", "sub") and \
                    self.const.get(d.operands[1].id) is not None:
                inner = self.const[d.operands[1].id] * (1 if d.prim == "add" else -1)
                total = inner + ks[1] * (1 if p == "add" else -1)
                if total == 0:
                    return same(d.operands[0])
        if p == "mul":
            if ks[1] == 1:
                return same(xs[0])
            if ks[0] == 1:
                return same(xs[1])
        if p == "add":
            if ks[1] == 0:
                return same(xs[0])
            if ks[0] == 0:
                return same(xs[1])
        if p == "sub" and ks[1] == 0:
            return same(xs[0])
        if p in ("div", "floordiv") and ks[1] == 1:
            return same(xs[0])
        if p == "powi" and ks[1] == 1:
            return same(xs[0])
        if p == "powi" and ks[1] == 2:
            op.prim, op.operands = "mul", [xs[0], xs[0]]
            return None
        if p in ("dim", "size"):
            src = xs[0]
            while src.id in self.shape_of:
                src = self.get(self.shape_of[src.id])
            alloc = self.defs.get(src.id)
            if p == "dim" and alloc is not None and alloc.prim in ("empty", "zeros", "ones",
                                                                    "full"):
                return same(alloc.operands[op.attrs["axis"]])   # the extent it was made with
            if src is not xs[0]:
                op.operands = [src]
                return None
        if p == "neg":
            d = self.defs.get(xs[0].id)
            if d is not None and d.prim == "neg":
                return same(d.operands[0])
        if p == "select":
            if ks[0] is not None:
                return same(xs[1] if ks[0] else xs[2])
            if xs[1] is xs[2]:
                return same(xs[1])
        return None


def _through_full_slices(spec: str, ops: list[Value], idx: list[Value]) -> list[Value] | None:
    """The base indices of element `idx` of the view `a[spec]`, where every sliced axis of the
    spec is a whole axis (`:`), so the view's indices are the base's; else None."""
    out, rest = [], list(idx)
    bound = SliceSpec.parse(spec).bind(ops)
    for k, b in enumerate(bound):
        if b.is_index:
            out.append(b.index)
        elif b.start is not None or b.stop is not None or b.step is not None:
            return None
        elif rest:
            out.append(rest.pop(0))
        elif any(x.is_index for x in bound[k:]):
            return None     # an index after an axis the element access leaves whole
        else:
            return out
    return out + rest


def simplify(fn: Function) -> Function:
    s = _Simplifier()
    s.shape_of = _shape_sources(fn)
    s.block(fn.body, {})
    return fn


def _shape_sources(fn: Function) -> dict[int, Value]:
    """Array value -> an earlier value of the same shape: element writes and copies keep the
    shape, and so do a loop slot whose every iteration writes into what it was given and an
    `if` result whose branches both write into the same array. Lets
    `dim(u)` of a loop-carried array read the loop's initial value, which is invariant (inner
    loop bounds become invariant: one tape reservation, vectorisable loops)."""
    alias: dict[int, Value] = {}

    def root(v: Value) -> Value:
        while v.id in alias:
            v = alias[v.id]
        return v

    def visit(block: Block) -> None:
        for op in block.ops:
            for r in op.regions:
                visit(r)
            if op.prim in ("setitem", "setslice", "copy"):
                alias[op.results[0].id] = op.operands[0]
            elif op.prim == "if":
                # both branches yield (writes into) one array from outside: its shape
                ys = [rg.ops[-1].operands for rg in op.regions]
                for k, r in enumerate(op.results):
                    if isinstance(r.type, ArrayType):
                        a, b = root(ys[0][k]), root(ys[1][k])
                        if a is b:
                            alias[r.id] = a
            elif op.prim in ("for", "while"):
                loop = Loop(op)
                for k, (a, y, init) in enumerate(zip(loop.carried, loop.yields, loop.inits)):
                    if isinstance(a.type, ArrayType) and root(y) is a:
                        for rg in op.regions:
                            alias[loop.slot_args(rg)[k].id] = init
                        alias[op.results[k].id] = init
    visit(fn.body)
    return alias


def _substitute(block: Block, s: _Simplifier) -> None:
    for op in block.ops:
        op.operands = [s.get(v) for v in op.operands]
        for r in op.regions:
            _substitute(r, s)
