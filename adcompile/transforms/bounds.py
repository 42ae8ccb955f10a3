"""Bounds-check versioning: an innermost `for` loop whose element accesses are affine in its
counter runs a copy without per-access checks when one test in front of the loop proves every
access in range.

Why: a user index (`u[i - 1]`) is wrapped (negative counts from the end) and checked on every
access; the branch to the error exit and the wrap's `select` keep LLVM from vectorising the
loop, so the heat stencil's primal and both sweeps of its gradient ran scalar. For an index
`i + k` (`k` invariant, the step a constant) the accesses over the whole loop lie between the
values at the two ends of the range, so

    ok = empty range  or  (lo + k >= 0  and  hi + k < dim)   for every access

decides before the loop whether any access could wrap or fail. The loop becomes
`if ok { the loop, those accesses marked inbounds } else { the loop as it was }`: when `ok`
fails the checked loop runs and reports the error at the same access as before (or none, if
the loop leaves early), so behaviour never changes, only speed.

Arrays must have an extent known in front of the loop: defined outside it, or carried by it
and only written element-wise (`setitem` keeps the extent). Offsets are limited to small
magnitudes (and loop bounds are tested against `_LIMIT`) so that the test's own integer
arithmetic cannot wrap.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.types import BOOL, ArrayType, I64
from ..ir.views import ForOp
from ..ir.walk import clone_ops

# |loop bounds|, |offsets| below this: the test's sums of at most 6 of them cannot wrap; the
# test's `lb < 2**40`-style bounds also give LLVM the ranges it needs to vectorise (with no
# bound on the counter it cannot rule out overflow of address arithmetic)
_LIMIT = 1 << 40
_CONST_LIMIT = 1 << 20
_ACCESS = ("getitem", "setitem")


@dataclass(frozen=True)
class _Index:
    """`coef * iv + const + sum(sign * v for sign, v in terms)`, coef 0 or 1, the terms
    loop-invariant values."""
    coef: int
    const: int
    terms: tuple[tuple[int, Value], ...] = ()

    def key(self) -> tuple:
        return (self.coef, self.const, tuple(sorted((s, v.id) for s, v in self.terms)))

    def plus(self, other: "_Index", sign: int) -> "_Index | None":
        coef = self.coef + sign * other.coef
        const = self.const + sign * other.const
        signs: dict[int, int] = {}
        vals: dict[int, Value] = {}
        for s_, v in self.terms + tuple((sign * s_, v) for s_, v in other.terms):
            signs[v.id] = signs.get(v.id, 0) + s_
            vals[v.id] = v
        terms = tuple((k, vals[i]) for i, k in signs.items() if k)   # `idx + t - t` is idx
        if coef not in (0, 1) or abs(const) >= _CONST_LIMIT or len(terms) > 4 or \
                any(abs(k) != 1 for k, _ in terms):
            return None
        return _Index(coef, const, terms)


def version_bounds(fn: Function) -> Function:
    _visit(fn.body, _defs(fn), {})
    return fn


def _defs(fn: Function) -> dict[int, Op]:
    return {r.id: op for op in fn.walk() for r in op.results}


def _visit(block: Block, defs: dict[int, Op], outer: dict[int, Op]) -> None:
    """`outer`: the counters of the enclosing `for` loops (id -> loop)."""
    out: list[Op] = []
    for op in block.ops:
        inner = dict(outer)
        if op.prim == "for" and _const(ForOp(op).step, defs):
            inner[ForOp(op).iv.id] = op
        for r in op.regions:
            _visit(r, defs, inner)
        if op.prim == "for" and not op.attrs.get("remainder") and \
                not any(o.prim in ("for", "while") for o in _ops_in(op.regions[0])):
            out.extend(_version(op, defs, outer))
        else:
            out.append(op)
    block.ops = out


def _ops_in(block: Block):
    for op in block.ops:
        yield op
        for r in op.regions:
            yield from _ops_in(r)


def _const(v: Value, defs: dict[int, Op]) -> int | None:
    op = defs.get(v.id)
    if op is not None and op.prim == "const" and type(op.attrs.get("value")) is int:
        return op.attrs["value"]
    return None


def _version(loop: Op, defs: dict[int, Op], outer: dict[int, Op]) -> list[Op]:
    f = ForOp(loop)
    step = _const(f.step, defs)
    if not step:
        return [loop]
    inside = {a.id for a in f.body.args} | {r.id for o in _ops_in(f.body) for r in o.results}
    extent = _carried_extents(f, defs)
    checks: list[tuple[Op, int, _Index, Value, int]] = []   # op, axis, index, array, axis
    for op in _ops_in(f.body):
        if op.prim not in _ACCESS or not isinstance(op.operands[0].type, ArrayType):
            continue
        arr = op.operands[0]
        base = arr if arr.id not in inside else extent.get(arr.id)
        if base is None:
            continue
        idx = op.operands[2:] if op.prim == "setitem" else op.operands[1:]
        if len(idx) != arr.type.ndim:
            continue
        inb = op.attrs.get("inbounds", False)
        for axis, v in enumerate(idx):
            if inb is True or (isinstance(inb, tuple) and inb[axis]):
                continue
            form = _affine(v, f.iv, inside, defs)
            if form is not None:
                checks.append((op, axis, form, base, axis))
    if not checks:
        return [loop]
    pre: list[Op] = []
    x = _Fold(Builder(pre, loop.loc), defs)
    lb, ub = f.lb, f.ub
    # ends of the counter's range (conservative: `hi` may lie past the last value taken)
    if step > 0:
        lo, hi, empty = lb, x.add(ub, -1, "hi"), x.cmp("le", ub, lb, "empty")
    else:
        lo, hi, empty = x.add(ub, 1, "lo"), lb, x.cmp("ge", ub, lb, "empty")
    if empty is True:
        return [loop]
    conds: list = []
    small: set[int] = set()

    def bounded(v: Value) -> None:
        if v.id not in small:
            small.add(v.id)
            conds.extend([x.cmp("gt", v, -_LIMIT), x.cmp("lt", v, _LIMIT)])

    bounded(lb)
    bounded(ub)
    dims: dict[tuple[int, int], Value] = {}
    seen: set[tuple] = set()
    for op, axis, form, base, ax in checks:
        key = (form.key(), base.id, ax)
        if key in seen:
            continue
        seen.add(key)
        d = dims.get((base.id, ax))
        if d is None:
            d = dims[(base.id, ax)] = x.b("dim", base, axis=ax, name="n")
        # an enclosing loop's counter counts with its whole range: the test then depends only
        # on values from outside that loop, and licm takes it out of there (GMM's `k` in
        # `means[k, j]` is tested once, not once per trip of the `k` loop)
        first: Value | int = form.const
        last: Value | int = form.const
        for sign, v in form.terms:
            if v.id in outer:
                o = ForOp(outer[v.id])
                bounded(o.lb)
                bounded(o.ub)
                ends = (o.lb, x.add(o.ub, -1)) if _const(o.step, defs) > 0 else \
                    (x.add(o.ub, 1), o.lb)
                lo_v, hi_v = ends if sign > 0 else ends[::-1]
            else:
                bounded(v)
                lo_v = hi_v = v
            first = x.add(first, lo_v) if sign > 0 else x.sub(first, lo_v)
            last = x.add(last, hi_v) if sign > 0 else x.sub(last, hi_v)
        if form.coef:
            first, last = x.add(lo, first), x.add(hi, last)
        conds += [x.cmp("ge", first, 0), x.cmp("lt", last, d)]
    if any(c is False for c in conds):
        return [loop]      # some access is surely wrapped or out of range: keep the checks
    conds = [c for c in conds if c is not True]
    ok = conds[0] if conds else x.b.const(True, BOOL, name="ok")
    for c in conds[1:]:
        ok = x.b("and", ok, c, name="ok")
    if empty is not False:
        ok = x.b("or", empty, ok, name="in_range")
    else:
        ok.name = "in_range"
    fast = clone_ops([loop], {})[0]
    marked = {id(op): axes for op, axes in _axes(checks).items()}
    for old, new in zip(_ops_in(loop.regions[0]), _ops_in(fast.regions[0])):
        axes = marked.get(id(old))
        if axes is not None:
            n = old.operands[0].type.ndim
            prev = old.attrs.get("inbounds", False)
            flags = tuple(bool(prev is True or (isinstance(prev, tuple) and prev[a]) or a in axes)
                          for a in range(n))
            new.attrs["inbounds"] = True if all(flags) else flags
    then = Block([], [fast, Op("yield", list(fast.results), [], {}, [], loop.loc)])
    slow_results = [Value(r.name, r.type) for r in loop.results]
    orig_results = loop.results
    loop.results = slow_results
    orelse = Block([], [loop, Op("yield", list(slow_results), [], {}, [], loop.loc)])
    pre.append(Op("if", [ok], orig_results, {}, [then, orelse], loop.loc))
    for op in pre:
        for r in op.results:
            defs[r.id] = op
    return pre


class _Fold:
    """Emits the test's integer arithmetic, folding what is known at compile time (so the
    generated code reads `hi + 1 < n`, not `0 + 0 >= 0`)."""

    def __init__(self, b: Builder, defs: dict[int, Op]):
        self.b, self.defs = b, defs

    def num(self, v: Value | int) -> int | None:
        return v if isinstance(v, int) else _const(v, self.defs)

    def val(self, v: Value | int) -> Value:
        return self.b.c(v) if isinstance(v, int) else v

    def add(self, a: Value | int, c: Value | int, name: str = "t") -> Value | int:
        na, nc = self.num(a), self.num(c)
        if na is not None and nc is not None:
            return na + nc
        if na is not None:
            a, c, na, nc = c, a, nc, na
        if nc == 0:
            return a
        if nc is not None and nc < 0:
            return self.b("sub", a, self.b.c(-nc), name=name)
        return self.b("add", a, self.val(c), name=name)

    def sub(self, a: Value | int, c: Value | int) -> Value | int:
        nc = self.num(c)
        if nc is not None:
            return self.add(a, -nc)
        return self.b("sub", self.val(a), c)

    def cmp(self, prim: str, a: Value | int, c: Value | int, name: str = "t"):
        na, nc = self.num(a), self.num(c)
        if na is not None and nc is not None:
            return {"lt": na < nc, "le": na <= nc, "gt": na > nc, "ge": na >= nc}[prim]
        return self.b(prim, self.val(a), self.val(c), name=name)


def _axes(checks) -> dict[Op, set[int]]:
    out: dict[Op, set[int]] = {}
    for op, axis, *_ in checks:
        out.setdefault(op, set()).add(axis)
    return out


def _affine(v: Value, iv: Value, inside: set[int], defs: dict[int, Op],
            depth: int = 0) -> _Index | None:
    """`v` as an `_Index`, through chains of adds and subtracts; None if it is not one."""
    if v.type != I64 or depth > 8:
        return None
    if v.id == iv.id:
        return _Index(1, 0)
    k = _const(v, defs)
    if k is not None:
        return _Index(0, k) if abs(k) < _CONST_LIMIT else None
    if v.id not in inside:
        return _Index(0, 0, ((1, v),))
    op = defs.get(v.id)
    if op is None or op.prim not in ("add", "sub") or len(op.operands) != 2:
        return None
    a = _affine(op.operands[0], iv, inside, defs, depth + 1)
    c = _affine(op.operands[1], iv, inside, defs, depth + 1)
    if a is None or c is None:
        return None
    return a.plus(c, 1 if op.prim == "add" else -1)


def _carried_extents(f: ForOp, defs: dict[int, Op]) -> dict[int, Value]:
    """Carried arrays (and their element-wise updates in the body) whose extents are those of
    the loop's initial value: each iteration yields the same array with elements replaced."""
    out: dict[int, Value] = {}
    for arg, init, nxt in zip(f.carried, f.inits, f.yields):
        if not isinstance(arg.type, ArrayType):
            continue
        chain = {arg.id}
        v = nxt
        while v.id not in chain:
            op = defs.get(v.id)
            if op is None or op.prim != "setitem":
                break
            chain.add(v.id)
            v = op.operands[0]
        if v.id != arg.id:
            continue
        for op in _ops_in(f.body):
            if op.prim == "setitem" and op.operands[0].id in chain:
                chain.add(op.results[0].id)
        for vid in chain:
            out[vid] = init
    return out
