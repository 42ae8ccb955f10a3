"""Dependency mode: forward mode over the boolean semiring, for Jacobian sparsity patterns.

A tangent here is a bitset of input entries (int64 words along the trailing lane axis: lane w,
bit k stands for input entry 64*w + k of the pass): the set of inputs the value depends on.
The program is vector-forward mode (`forward.py`, every derivative rule reused) with its tangent
arithmetic read in the semiring where + is union and multiplying by a primal value is the
identity: `a*t + b*u` becomes `t | u`, `-t` and casts are `t`, a sum of tangents is the union of
their sets, a matmul's contraction the union over the contracted axis, and `np.where`/min/max
take the union of both sides (their partials are weights, which the semiring drops). Integer
values, index arrays and loop bounds are the primal's, computed from the given arguments, so
gathers and scatters by index arrays (BA's `obs_cam`) give exactly the pattern they decide.

The pattern is structural at the point: no cancellation (x - x) or zero partial (y * x at
y == 0) removes an entry. A branch (`if`) on a float runs the side the point takes; the sets of
what the other side reads from outside (`branch_reads`: scalars, and array elements at indices
computable outside the `if`, read before it) join the results too, so the pattern holds at
points on either side. Where a side computes its own index, the union cannot be formed without
running it: the result keeps the side taken. Such branches and loops whose trip count floats
decide make the pattern the point's only; the program reports them (`Dependencies.run`), and
`jacobian_sparsity` then keeps patterns per point, with a `SparsityWarning`. A rule whose tangent code this mapping does not know raises `Unmapped`; the
caller (`jacobian/sparsity.py`) then falls back to NaN-seeded float passes, which cover every
rule at 64 inputs per pass instead of 64 per word.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..custom.functions import REGISTRY
from ..errors import AdError
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import I64, ArrayType, TapeType
from ..ir.walk import clone_ops
from .emitter import Emitter, resolve
from .forward import Forward
from .rules import PARTIALS, ZERO_DERIVATIVE

BITS = I64   # the word type of a bitset lane

# ops that move or copy tangent elements without arithmetic: unchanged on bitsets
_STRUCTURAL = {"getitem", "getslice", "copy", "transpose", "expand", "broadcast_like",
               "reshape", "permute"}
_METADATA = {"dim", "size"}   # read a tangent's shape: primal (integer) results


class Unmapped(AdError):
    """Tangent code with no meaning on bitsets (a user JVP rule, a tape, an op not mapped
    here): sparsity detection falls back to float passes."""


class DependencyEmitter(Emitter):
    """The emitter derivative rules write through: ops on bitset values are rewritten to
    their semiring form as they are emitted; ops on primal values only are emitted as is
    (partials nobody reads are removed by DCE)."""

    def __init__(self, block, loc, fw: Dependencies):
        super().__init__(block, loc)
        self.fw = fw

    def _lane(self, v) -> bool:
        return getattr(v, "id", None) in self.fw.bit_ids

    def _mark(self, v: Value) -> Value:
        self.fw.bit_ids.add(v.id)
        return v

    def __call__(self, prim, *operands, name="t", **attrs):
        ops = [resolve(v) for v in operands]
        lane = [self._lane(v) for v in ops]
        if not any(lane) or prim in _METADATA:
            return super().__call__(prim, *ops, name=name, **attrs)
        out = self._semiring(prim, ops, lane, name, attrs)
        return self._mark(out)

    def _semiring(self, prim, ops, lane, name, attrs) -> Value:
        emit = super().__call__
        if prim in ("add", "sub") and all(lane):
            return emit("bitor", *ops, name=name)
        if prim in ("neg", "cast") and lane[0]:
            return ops[0]
        if prim in ("mul", "div") and sum(lane) == 1 and (lane[0] or prim == "mul"):
            t, p = (ops[0], ops[1]) if lane[0] else (ops[1], ops[0])
            if not isinstance(p.type, ArrayType):
                return t   # a scalar factor changes no shape
            ones = emit("ones", *self.dims(p), dtype=BITS.name, name="ones")
            return emit("mul", t, ones, name=name)   # x * 1 == x on words: broadcasting only
        if prim == "select" and not lane[0]:
            a, b = ops[1:]
            if lane[1] and lane[2]:
                return emit("bitor", a, b, name=name)
            return a if lane[1] else b
        if prim in ("sum", "mean") and attrs.get("axis") is not None:
            return emit("reduce_or", ops[0], axis=attrs["axis"], name=name)
        if prim == "lmatmul":
            return self._contract(ops, attrs["lanes"], name)
        if prim in ("setitem", "setslice") and lane[0] and not any(lane[2:]):
            v = ops[1] if lane[1] else self.c(0, BITS)   # a primal (zero) value written
            return emit(prim, ops[0], v, *ops[2:], name=name, **attrs)
        if prim in _STRUCTURAL and lane[0] and not any(lane[1:]):
            return emit(prim, *ops, name=name, **attrs)
        raise Unmapped(f"dependency mode: no bitset form of '{prim}' on tangents")

    def _contract(self, ops, side, name) -> Value:
        """`lmatmul` on bitsets: every output row depends on every contracted entry (as NaN
        through a float matmul): the union over the contracted axis, broadcast."""
        a, b = ops
        if side == "b":   # a (n,k) or (k,); tangent b (k,L) or (k,m,L): contract axis 0
            u = super().__call__("reduce_or", b, axis=0, name=name)
            if a.type.ndim == 1:
                return u
            u = super().__call__("expand", u, axis=0, name=name)
            ones = super().__call__("ones", self("dim", a, axis=0), *[self.c(1, I64)] * (u.type.ndim - 1),
                                    dtype=BITS.name, name="ones")
            return super().__call__("mul", u, ones, name=name)
        # tangent a (n,k,L) or (k,L); b (k,m) or (k,): contract a's axis ndim-2
        u = super().__call__("reduce_or", a, axis=a.type.ndim - 2, name=name)
        if b.type.ndim == 1:
            return u
        u = super().__call__("expand", u, axis=u.type.ndim - 1, name=name)   # (..., 1, L)
        lead = [self.c(1, I64)] * (u.type.ndim - 2)
        ones = super().__call__("ones", *lead, self("dim", b, axis=1), self.c(1, I64),
                                dtype=BITS.name, name="ones")
        return super().__call__("mul", u, ones, name=name)

    def c(self, value, like):
        if self._lane(like):
            if value != 0:
                raise Unmapped("dependency mode: a nonzero constant of tangent type")
            like = BITS
        return super().c(value, like)

    def scale(self, part, g, name):
        return self("mul", part, g, name=name)

    def zeros_like(self, v, lanes=None, name="z"):
        if lanes is None:
            return super().zeros_like(v, lanes, name)
        dims = self.dims(v) if isinstance(v.type, ArrayType) else []
        return self._mark(super().__call__("zeros", *dims, lanes, dtype=BITS.name, name=name))


class _Dots(dict):
    """Forward's value -> tangent map, recording every tangent as a bitset value."""

    def __init__(self, ids: set[int]):
        super().__init__()
        self.ids = ids

    def __setitem__(self, k, v):
        self.ids.add(v.id)
        super().__setitem__(k, v)


class Dependencies(Forward):
    """Vector forward mode whose tangents are int64 bitsets (see the module docstring)."""

    def __init__(self, fn: Function, active: list[bool]):
        super().__init__(fn, active, lanes=True)
        self.bit_ids: set[int] = set()
        self.dot = _Dots(self.bit_ids)
        self.tainted = _tainted(self.fn, self.varied)
        self.one_sided: list = []   # locations of branches whose other side is not added
        self.trip_counts: list = []   # loops whose trip count floats decide

    def run(self) -> Function:
        """The program, returning after the bitsets what makes its pattern the point's only
        (so that a program loaded from the disk cache still reports it): the number of
        branches whose other side could not be added, the number of loops whose trip count
        floats decide, and the line of the first of either."""
        fn = super().run()
        ret = fn.body.ops.pop()
        b = Builder(fn.body, ret.loc)
        first = [loc for loc in self.one_sided + self.trip_counts if loc]
        flags = [b.const(len(self.one_sided), I64, "one_sided"),
                 b.const(len(self.trip_counts), I64, "trip_counts"),
                 b.const(first[0].line if first else 0, I64, "line")]
        b.op("return", list(ret.operands) + flags, [])
        fn.result_types = list(fn.result_types) + [I64] * len(flags)
        return fn

    def keeps_rule(self, op: Op) -> bool:
        # user rules compute float tangents: differentiate the code as written; a custom
        # root keeps its rule (and so falls back: see `custom`)
        return REGISTRY[op.attrs["rule"]].kind == "custom_root"

    def tangent_type(self, t):
        if isinstance(t, TapeType):
            raise Unmapped("dependency mode: a program with tapes")
        nd = t.ndim if isinstance(t, ArrayType) else 0
        return ArrayType(BITS, nd + 1)

    def emitter(self, block: Block, loc) -> Emitter:
        return DependencyEmitter(block, loc, self)

    def custom(self, op: Op, dst: Block) -> None:
        raise Unmapped("dependency mode: a custom derivative rule")

    def structured(self, op: Op, dst: Block) -> None:
        if op.prim == "while" and any(v.id in self.tainted for o in _walk(op.regions[0])
                                      for v in o.operands) or op.prim == "for" and \
                any(v.id in self.tainted for v in op.operands[:3]):
            self.trip_counts.append(op.loc)   # runs as often as floats decide: the point's
        if op.prim != "if" or op.operands[0].id not in self.tainted:
            return super().structured(op, dst)   # an integer condition: the pattern's own
        slots = [k for k, r in enumerate(op.results) if r.id in self.varied]
        reads = branch_reads(op, slots, lambda v: v.id in self.varied)
        if reads is None:
            super().structured(op, dst)
            self.one_sided.append(op.loc)
            return
        # every element read (and the old value of every written element) before the `if`:
        # reading the bitset arrays after it would make copy insertion copy them
        got: dict[int, tuple] = {}
        for entry in (x for slot in reads for x in slot):
            for rd in _element_reads(entry):
                if id(rd) not in got:
                    arr = rd.base if isinstance(rd, ArrayWrite) else rd.op.operands[0]
                    got[id(rd)] = self.read_element(dst, arr, rd)
        exact = [_exact_reads(reg, op, slots, lambda v: v.id in self.varied)
                 for reg in op.regions]
        super().structured(op, dst)
        # scalars from outside: joined inside each side that does not already carry them
        for reg, have in zip(op.regions, exact):
            y = reg.ops.pop()
            e = self.emitter(reg, y.loc)
            operands = list(y.operands)
            for j, (k, free) in enumerate(zip(slots, reads)):
                pos = len(y.operands) - len(slots) + j   # the slot's tangent in the yield
                for v in free:
                    if isinstance(v, Value) and v.id not in have[j] and \
                            not isinstance(v.type, ArrayType) and v.id in self.dot:
                        operands[pos] = e("add", operands[pos], self.dot[v.id],
                                          name=op.results[k].name + "_dot")
            Builder(reg, y.loc).op("yield", operands, [])
        e = self.emitter(dst, op.loc)
        for k, free in zip(slots, reads):
            r = op.results[k]
            d = self.dot[r.id]
            for v in free:
                if isinstance(v, ArrayWrite):
                    d = self.write_union(dst, d, v, got)
                elif isinstance(v, ElementRead) and got[id(v)][0] is not None:
                    d = e("add", d, got[id(v)][0], name=r.name + "_dot")
            self.dot[r.id] = d

    def read_element(self, dst: Block, arr: Value, rd) -> tuple:
        """(bits of arr[idx] or None, idx, in-range flag) for an element read or write `rd`
        of a side that may not run: its index ops cloned before the `if`, the read guarded
        (an index out of range there reads nothing)."""
        mapping: dict[int, Value] = {}
        dst.ops.extend(clone_ops(rd.chain, mapping))
        idx = [mapping.get(i.id, i) for i in rd.indices]
        b = Builder(dst, rd.op.loc)
        ok = None
        for axis, i in enumerate(idx):
            n = b("dim", arr, axis=axis, name="n")
            inside = b("and", b("ge", i, b("neg", n)), b("lt", i, n), name="in_range")
            ok = inside if ok is None else b("and", ok, inside, name="in_range")
        bits = self.dot.get(arr.id)
        if bits is None:
            return None, idx, ok
        then, other = Block([]), Block([])
        tb = Builder(then, rd.op.loc)
        tb.op("yield", [tb("getitem", bits, *idx, name=arr.name + "_bits")], [])
        ob = Builder(other, rd.op.loc)
        ob.op("yield", [ob("zeros", self.L, dtype=BITS.name, name="none")], [])
        val = b.op("if", [ok], [ArrayType(BITS, 1)], regions=[then, other],
                   names=[arr.name + "_bits"]).results[0]
        self.bit_ids.add(val.id)
        return val, idx, ok

    def write_union(self, dst: Block, d: Value, w: ArrayWrite, got: dict) -> Value:
        """Element idx of a side's write `base[idx] = value` may hold, at another point, the
        old element or the written value: both sets join the element after the `if`."""
        old, idx, ok = got[id(w)]
        add = old
        for v in w.value_deps:
            t = got[id(v)][0] if isinstance(v, ElementRead) else self.dot.get(v.id)
            if t is not None:
                add = t if add is None else self._or(dst, w.op.loc, add, t)
        if add is None:
            return d
        then, other = Block([]), Block([])
        tb = Builder(then, w.op.loc)
        cur = tb("getitem", d, *idx, name=d.name)
        tb.op("yield", [tb("setitem", d, tb("bitor", cur, add), *idx, name=d.name)], [])
        Builder(other, w.op.loc).op("yield", [d], [])
        out = Builder(dst, w.op.loc).op("if", [ok], [d.type], regions=[then, other],
                                        names=[d.name]).results[0]
        self.bit_ids.add(out.id)
        return out

    @staticmethod
    def _or(dst: Block, loc, a: Value, b: Value) -> Value:
        return Builder(dst, loc)("bitor", a, b, name=a.name)


def _tainted(fn: Function, varied: set[int]) -> set[int]:
    """Ids of values computed from varied ones, comparisons and conditions included (a
    branch on them is a branch on a float); a structured op is tainted as a whole by anything
    it reads. Swept to a fixed point (loop-carried values)."""
    out = set(varied)
    while True:
        n = len(out)
        for o in _walk(fn.body):
            used = [v.id for v in o.operands]
            for reg in o.regions:
                used += [v.id for inner in _walk(reg) for v in inner.operands]
            if any(u in out for u in used):
                out.update(r.id for r in o.results)
                for reg in o.regions:
                    out.update(a.id for a in reg.args)
        if len(out) == n:
            return out


@dataclass(eq=False)
class ElementRead:
    """A side's read `array[idx]` of a varied array from outside the `if`, at indices computed
    from values from outside (its index ops `chain`: pure integer arithmetic, cloned before the
    `if`): its set is the element's."""

    op: Op
    chain: list[Op]

    @property
    def indices(self) -> list[Value]:
        return list(self.op.operands[1:])


@dataclass(eq=False)
class ArrayWrite:
    """A side's write `base[idx] = value` into a varied array from outside the `if` (indices
    as for `ElementRead`; `value_deps`: the written value's scalars and element reads)."""

    op: Op
    chain: list[Op]
    base: Value
    value_deps: list

    @property
    def indices(self) -> list[Value]:
        return list(self.op.operands[2:])


def _element_reads(entry) -> list:
    if isinstance(entry, ArrayWrite):
        return [entry] + [v for v in entry.value_deps if isinstance(v, ElementRead)]
    return [entry] if isinstance(entry, ElementRead) else []


def branch_reads(op: Op, slots: list[int], varied) -> list[list] | None:
    """Per result slot of `if` op: what the slot's yielded value depends on from outside the
    `if`, on either side (data flow; a nested loop or branch depends on everything it reads):
    varied scalars, element reads of varied arrays (`ElementRead`) and element writes into
    them (`ArrayWrite`) at indices computable outside. None where that does not describe a
    slot (a slice, a nested loop's reads, indices computed from the side's own reads): which
    elements matter is known only when the side runs."""
    inside: set[int] = set()

    def define(block: Block) -> None:
        inside.update(a.id for a in block.args)
        for o in block.ops:
            inside.update(r.id for r in o.results)
            for reg in o.regions:
                define(reg)
    for reg in op.regions:
        define(reg)
    out: list[dict[int, object]] = [{} for _ in slots]
    for reg in op.regions:
        deps: dict[int, dict[int, object]] = {}
        made: dict[int, Op] = {o.results[0].id: o for o in reg.ops if len(o.results) == 1}

        def free(v: Value) -> dict[int, object]:
            if v.id in inside:
                return deps.get(v.id, {})
            return {v.id: v} if varied(v) else {}

        def chain(v: Value, acc: list[Op]) -> bool:
            """Collect the ops computing integer `v` inside the side (pure, no regions)."""
            if v.id not in inside:
                return True
            o = made.get(v.id)
            if o is None or o.regions or not has(o, Trait.PURE) or varied(v) or \
                    isinstance(v.type, ArrayType) or o.prim in ("getitem", "getslice"):
                return False
            if o in acc:
                return True
            if not all(chain(u, acc) for u in o.operands):
                return False
            acc.append(o)
            return True

        def scalar_deps(v: Value) -> list | None:
            ds = list(free(v).values())
            ok = all(not isinstance(x, (Value, ArrayWrite)) or
                     (isinstance(x, Value) and not isinstance(x.type, ArrayType)) for x in ds)
            return ds if ok else None
        for o in reg.ops:
            acc: dict[int, object] = {}
            a = o.operands[0] if o.operands else None
            idx_ops: list[Op] = []
            if o.prim == "getitem" and a.id not in inside and varied(a) and \
                    not isinstance(o.results[0].type, ArrayType) and \
                    all(chain(i, idx_ops) for i in o.operands[1:]):
                acc[id(o)] = ElementRead(o, idx_ops)
            elif o.prim == "setitem" and varied(o.results[0]) and \
                    all(chain(i, idx_ops) for i in o.operands[2:]) and \
                    scalar_deps(o.operands[1]) is not None and \
                    not isinstance(o.operands[1].type, ArrayType) and (
                        (a.id not in inside and varied(a)) or _one_base(free(a))):
                base = a if a.id not in inside else _one_base(free(a))
                acc.update({k: v for k, v in free(a).items()} if a.id in inside else {})
                acc[id(o)] = ArrayWrite(o, idx_ops, base, scalar_deps(o.operands[1]))
            else:
                for v in o.operands:
                    acc.update(free(v))
            for reg2 in o.regions:
                for inner in _walk(reg2):
                    for v in inner.operands:
                        acc.update(free(v))
            if o.prim not in ("yield", "setitem") and \
                    any(isinstance(x, ArrayWrite) for x in acc.values()):
                return None   # reads an array the side wrote: not followed here
            if o.prim == "yield":
                for j, k in enumerate(slots):
                    out[j].update(free(o.operands[k]))
                continue
            for r in o.results:
                deps[r.id] = acc
    result = []
    for k, slot in zip(slots, out):
        vals = list(slot.values())
        if any(isinstance(v, ArrayWrite) and v.base.type != op.results[k].type for v in vals):
            return None
        arrays = {v.id for v in vals if isinstance(v, Value) and isinstance(v.type, ArrayType)}
        bases = {v.base.id for v in vals if isinstance(v, ArrayWrite)}
        if arrays - bases or len(bases | arrays) > 1 or (bases and any(
                isinstance(v, (Value, ElementRead)) and not isinstance(v, ArrayWrite)
                and not (isinstance(v, Value) and v.id in bases) for v in vals)):
            return None
        result.append(vals)
    return result


def _exact_reads(reg: Block, op: Op, slots: list[int], varied) -> list[set[int]]:
    """Per slot: the scalars from outside the `if` whose sets this side's tangent code
    certainly joins into the slot (through arithmetic with nonzero partials only: no
    piecewise-constant op, comparison or nested region on the way). The other side's scalars
    beyond these are joined explicitly."""
    inside = {r.id for o in reg.ops for r in o.results}
    ex: dict[int, set[int]] = {}

    def of(v: Value) -> set[int]:
        if v.id in inside:
            return ex.get(v.id, set())
        return {v.id} if varied(v) and not isinstance(v.type, ArrayType) else set()
    for o in reg.ops:
        if o.prim == "yield":
            return [set().union(*[of(o.operands[k])]) for k in slots]
        got: set[int] = set()
        if o.regions or o.prim in ZERO_DERIVATIVE:
            pass
        elif o.prim in PARTIALS and o.prim != "powi":
            got = set().union(*[of(v) for v in o.operands])
        elif o.prim == "powi":
            got = of(o.operands[0])
        elif o.prim == "select":
            got = of(o.operands[1]) | of(o.operands[2])
        elif o.prim == "cast" and o.results[0].type.name in ("f64", "f32"):
            got = of(o.operands[0])
        for r in o.results:
            ex[r.id] = got
    return [set() for _ in slots]


def _one_base(ds: dict) -> Value | None:
    """The array an inside value is a chain of writes into (all its deps are writes into one
    base), or None."""
    bases = {v.base.id: v.base for v in ds.values() if isinstance(v, ArrayWrite)}
    if len(bases) != 1 or any(not isinstance(v, ArrayWrite) for v in ds.values()):
        return None
    return next(iter(bases.values()))


def _walk(block: Block):
    for o in block.ops:
        yield o
        for reg in o.regions:
            yield from _walk(reg)


def dependency_function(fn: Function, active: list[bool]) -> Function:
    """`f_deps(*args, x_bits) -> (*outs, *out_bits, n_one_sided, n_trip_counts, line)`: the
    bitsets of every output element, for the bitset seed `x_bits` (x's shape plus a trailing
    axis of int64 words), and what makes them the point's only (`Dependencies.run`)."""
    return Dependencies(fn, active).run()


