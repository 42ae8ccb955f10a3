"""Array lowering: every whole-array op becomes loop nests over scalars.

After this pass the IR holds arrays only as memory: `empty`, `dim`, `size`, element
`getitem`/`setitem` (every index given), `copy` (inserted later by `inplace`) and tapes. What
lowers here: elementwise ops (ufuncs with broadcasting, comparisons, `np.where`, casts),
reductions (`sum`, `prod`, `max`, `min`, `mean`, over everything or one axis), `matmul` and
its lane variant `lmatmul`, slices (`getslice`/`setslice`, row access `x[i]` and row writes),
`transpose`, `expand`, `broadcast_like`, `sum_to`, `arange`, the fills (`zeros`, `ones`,
`full`) and array `undef`. Backends (LLVM, a GPU backend) then see loops, element access and
scalar arithmetic only.

Lowering fuses as it goes: an elementwise result used once, by another elementwise op, a
reduction or `sum_to` in the same block, is not materialised; its scalar expression is
computed inside its user's loop (`np.sum(u * u)` is one loop with no temporary). Views
(slices without index parts, `transpose`, `expand`, `broadcast_like`) whose every use is such
a consumer in the same block are read through their index arithmetic, never copied
(`np.sum(x[1:] * x[:-1])` reads x twice in one loop). This runs before copy insertion
(`inplace`), which then sees the reads where they really happen.

Broadcasting follows NumPy: each axis's extent is the operands' common extent, an operand of
extent 1 is read at index 0, other mismatches stop the program through a `check` op ("array
shapes do not broadcast together"). Slices follow Python: negative and omitted bounds, negative
steps, bounds clamped to the axis, a zero step stops the program. A user index (`x[i]`,
`x[i, 1:]`) is read with `getitem` without `inbounds` on its axis, so the backend wraps and
checks it as for any element access. Reductions accumulate in source order (contiguous
reads); a whole-array float reduction marks its adds `reassoc` so the backend may vectorise
it. Every other index the lowering emits is in range by construction (`inbounds`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import messages
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import ELEMENTWISE_KINDS, PRIMITIVES
from ..ir.slices import SliceSpec
from ..ir.types import I64, ArrayType, ScalarType, scalar_of
from ..ir.walk import replace_uses

REDUCTIONS = ("sum", "prod", "max", "min", "mean", "reduce_or")
FILLS = ("zeros", "ones", "full")
VIEWS = ("getslice", "getitem", "transpose", "expand", "broadcast_like", "reshape", "permute")
# what this pass leaves for the backend, besides scalar ops and control flow
MEMORY_OPS = ("empty", "dim", "size", "copy", "getitem", "setitem")
# the array primitives that no longer occur after it (element getitem/setitem stay)
REMOVES = frozenset(n for n, p in PRIMITIVES.items()
                    if p.kind in ("alloc", "array", "index", "reduce", "linalg")) \
    - frozenset(MEMORY_OPS)
# (matmul operand ndims) -> index letters of a, b and the result (einsum style)
_MM = {(2, 2): ("ik", "kj", "ij"), (2, 1): ("ik", "k", "i"), (1, 2): ("k", "kj", "j"),
       (1, 1): ("k", "k", "")}


def _is_array(v: Value) -> bool:
    return isinstance(v.type, ArrayType)


def _elementwise(op: Op) -> bool:
    return PRIMITIVES[op.prim].kind in ELEMENTWISE_KINDS and _is_array(op.results[0])


def _lowerable_reduce(op: Op) -> bool:
    return op.prim in REDUCTIONS and not op.operands[0].type.dtype.is_bool


def _view(op: Op) -> bool:
    if op.prim == "getitem":
        return _is_array(op.results[0])
    return op.prim in VIEWS


def _partial_setitem(op: Op) -> bool:
    return op.prim == "setitem" and len(op.operands) - 2 < op.operands[0].type.ndim


def lowers(op: Op) -> bool:
    """Whether this pass rewrites op (everything with an array result or operand but the
    memory ops, control flow and tapes)."""
    p = op.prim
    if _elementwise(op) or _lowerable_reduce(op) or _view(op) or _partial_setitem(op):
        return True
    if p == "undef":
        return _is_array(op.results[0])
    return p in FILLS or p in ("arange", "matmul", "lmatmul", "setslice", "sum_to")


def slice_parts(spec: str | None, operands: list[Value]) -> list[tuple]:
    """A getslice/setslice spec with its operands: ('i', index) or ('s', start, stop, step)
    per leading axis, None for an omitted bound. `spec` None is plain indexing."""
    if spec is None:
        return [("i", v) for v in operands]
    return [("i", b.index) if b.is_index else ("s", b.start, b.stop, b.step)
            for b in SliceSpec.parse(spec).bind(operands)]


def _fuses_into(user: Op, v: Value) -> bool:
    """user reads v only elementwise at in-range indices, through `_Lowerer.element`, or
    only its extents."""
    if _elementwise(user) or _lowerable_reduce(user) or user.prim in ("dim", "size"):
        return True
    if user.prim in ("sum_to", "transpose", "expand", "broadcast_like", "reshape", "permute"):
        return user.operands[0] is v
    if user.prim == "getslice":   # index parts read the source with getitem directly
        return user.operands[0] is v and "i" not in user.attrs["spec"].split(",")
    return False


class _Emit(Builder):
    """The IR builder, with the clamp that slice bounds need."""

    def clamp(self, x: Value, lo: Value, hi: Value) -> Value:
        x = self("select", self("lt", x, lo), lo, x)
        return self("select", self("gt", x, hi), hi, x)


def _nest(e: _Emit, dims: list[Value], carried: list[Value], body, names=("i", "j", "k", "l")):
    """for i0 in range(dims[0]): for i1 in ...: carried = body(e_inner, ivs, carried).
    Returns the carried values after the nest."""
    def level(e: _Emit, k: int, ivs: list[Value], vals: list[Value]) -> list[Value]:
        if k == len(dims):
            return body(e, ivs, vals)
        iv = Value(names[k % len(names)] + ("" if k < len(names) else str(k)), I64)
        args = [Value(v.name, v.type) for v in vals]
        blk = Block([iv] + args)
        out = level(_Emit(blk, e.loc), k + 1, ivs + [iv], args)
        Builder(blk, e.loc).op("yield", out, [])
        loop = Builder(e.block, e.loc).op("for", [e.c(0), dims[k], e.c(1)] + vals,
                                          [v.type for v in vals], {}, [blk],
                                          [v.name for v in vals])
        return loop.results
    return level(e, 0, [], list(carried))


@dataclass
class _LazyView:
    """An array value never materialised: `at(e, ivs)` is its element at in-range indices
    ivs (one per dim of `dims`), read through the source's index arithmetic."""

    dims: list[Value]
    at: Callable[[_Emit, list[Value]], Value]



def element_attrs(op: Op) -> dict:
    """The attributes of the scalar op computing one element of whole-array `op`: a float
    array division (/, //, %) and integer power are NumPy's, IEEE (x / 0 = inf,
    0.0 ** -1 = inf), also where the scalar operator raises (numba, scalar_semantics)."""
    if op.prim in ("div", "mod", "floordiv", "powi") and \
            isinstance(op.results[0].type, ArrayType) and op.results[0].type.dtype.is_float:
        return dict(op.attrs, ieee=True)
    return op.attrs

class _Lowerer:
    def __init__(self, fn: Function):
        self.fn = fn
        self.user: dict[int, Op] = {}
        self.users: dict[int, list[Op]] = {}
        self.consts: dict[int, object] = {}
        self._count(fn.body)
        self.deferred: dict[int, Op] = {}      # value id -> elementwise op computed at its use
        self.views: dict[int, _LazyView] = {}  # value id -> a view read at its uses
        # array value id -> (block defining them, its extents): valid in that block and below
        self.known: dict[int, tuple[Block, list[Value]]] = {}
        self.active: list[Block] = []
        self.renames: dict[int, Value] = {}
        self.memo: dict[tuple, Value] = {}     # (value, indices, block) -> its scalar
        self.current: set[int] = set()         # ids of the ops of the block being lowered

    @property
    def dims(self) -> "_Dims":
        return _Dims(self)

    def _count(self, block: Block) -> None:
        for op in block.ops:
            if op.prim == "const":
                self.consts[op.results[0].id] = op.attrs["value"]
            for v in op.operands:
                self.users.setdefault(v.id, []).append(op)
                if self.user.setdefault(v.id, op) is not op:
                    self.user[v.id] = None    # used by more than one op
            for r in op.regions:
                self._count(r)

    # -- shapes ----------------------------------------------------------------------------------
    def extents(self, e: _Emit, v: Value) -> list[Value]:
        got = self.dims.get(v.id)
        if got is None:
            got = [e("dim", v, axis=k, name="n") for k in range(v.type.ndim)]
            self.dims[v.id] = got
        return got

    def out_dims(self, e: _Emit, operands: list[Value], ndim: int) -> list[Value]:
        out: list[Value | None] = [None] * ndim
        for v in operands:
            if not _is_array(v):
                continue
            ext = self.extents(e, v)
            for a, d in enumerate(ext):
                k = a + ndim - len(ext)
                cur = out[k]
                if cur is None or cur is d:
                    out[k] = d
                    continue
                one = e.c(1)
                ok = e("or", e("or", e("eq", cur, d), e("eq", cur, one)), e("eq", d, one))
                e.check(ok, messages.BROADCAST)
                out[k] = e("select", e("eq", cur, one), d, cur, name="n")
        return out

    def check_broadcasts_to(self, e: _Emit, ext: list[Value], dims: list[Value]) -> None:
        """ext (right-aligned) must broadcast to dims: each extent is 1 or dims' extent."""
        off = len(dims) - len(ext)
        for a, d in enumerate(ext):
            full = dims[a + off]
            if d is not full:
                ok = e("or", e("eq", d, full), e("eq", d, e.c(1)))
                e.check(ok, messages.BROADCAST)

    def index(self, e: _Emit, v: Value, ivs: list[Value], dims: list[Value]) -> list[Value]:
        """Indices into v (right-aligned to ivs over `dims`): an axis whose extent may be 1
        where the result's is not is read through `_bcast`. Every index the lowering emits is
        in range by construction (`inbounds`: the backend neither wraps nor checks it)."""
        ext = self.extents(e, v)
        off = len(ivs) - len(ext)
        out = []
        for a, d in enumerate(ext):
            i = ivs[a + off]
            out.append(i if d is dims[a + off] else self._bcast(e, i, d))
        return out

    def _bcast(self, e: _Emit, i: Value, extent: Value) -> Value:
        """i where the operand's extent is the result's, 0 where it is 1: i * (extent != 1),
        an affine index with a loop-invariant stride the backend can version on."""
        return e("mul", i, e("cast", e("ne", extent, e.c(1)), to="i64"), name="b")

    def _size(self, e: _Emit, dims: list[Value]) -> Value:
        n = e.c(1)
        for d in dims:
            n = e("mul", n, d, name="size")
        return n

    # -- scalar expression of an array value at an index ----------------------------------------
    def element(self, e: _Emit, v: Value, ivs: list[Value], dims: list[Value]) -> Value:
        if not _is_array(v):
            return v
        key = (v.id, tuple(i.id for i in ivs), id(e.block))
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self._element(e, v, ivs, dims)
        return got

    def _element(self, e: _Emit, v: Value, ivs: list[Value], dims: list[Value]) -> Value:
        op = self.deferred.get(v.id)
        view = self.views.get(v.id)
        if op is None and view is None:
            return e("getitem", v, *self.index(e, v, ivs, dims), inbounds=True, name=v.name)
        # a fused producer or a view: indexed through its own (broadcast) extents
        mine = self.dims[v.id]
        off = len(ivs) - len(mine)
        sub = [iv if d is mine[k] else self._bcast(e, iv, mine[k])
               for k, (iv, d) in enumerate(zip(ivs[off:], dims[off:]))]
        if view is not None:
            return view.at(e, sub)
        xs = [self.element(e, x, sub, mine) for x in op.operands]
        return e(op.prim, *xs, name=op.results[0].name, **element_attrs(op))

    def fused_dims(self, e: _Emit, op: Op) -> list[Value]:
        """Extents of an elementwise op's result, its fused producers' shapes checked first."""
        for x in op.operands:
            if x.id in self.deferred:
                self.fused_dims(e, self.deferred[x.id])
        dims = self.out_dims(e, op.operands, op.results[0].type.ndim)
        self.dims[op.results[0].id] = dims
        return dims

    def read_dims(self, e: _Emit, x: Value) -> list[Value]:
        """Extents of an operand read through `element` (a fused producer's checked first)."""
        return self.fused_dims(e, self.deferred[x.id]) if x.id in self.deferred else \
            self.extents(e, x)

    # -- building blocks -------------------------------------------------------------------------
    def fill(self, e: _Emit, dims: list[Value], value: Value, dtype: ScalarType,
             name: str) -> Value:
        out = e("empty", *dims, dtype=dtype.name, name=name)
        (res,) = _nest(e, dims, [out], lambda be, ivs, vals: [
            be("setitem", vals[0], value, *ivs, inbounds=True, name=name)])
        self.dims[res.id] = dims
        return res

    def materialise(self, e: _Emit, dims: list[Value], dtype: ScalarType, name: str,
                    at: Callable[[_Emit, list[Value]], Value]) -> Value:
        out = e("empty", *dims, dtype=dtype.name, name=name)
        (res,) = _nest(e, dims, [out], lambda be, ivs, vals: [
            be("setitem", vals[0], at(be, ivs), *ivs, inbounds=True, name=name)])
        self.dims[res.id] = dims
        return res

    def slice_axis(self, e: _Emit, n: Value, start, stop, step):
        """(first, step, length, known step) of Python's slice(start, stop, step) on an axis
        of extent n; a zero step stops the program."""
        k = 1 if step is None else self.consts.get(step.id)
        zero, one = e.c(0), e.c(1)
        if step is None:
            step = one
        if not k:   # unknown or zero
            e.check(e("ne", step, zero), messages.SLICE_STEP, "value")
            k = None
        if k is None:
            neg = e("lt", step, zero)
            lo, hi = e("select", neg, e.c(-1), zero), e("select", neg, e("sub", n, one), n)
            first0, last0 = e("select", neg, hi, zero), e("select", neg, lo, n)
        elif k > 0:
            lo, hi, first0, last0 = zero, n, zero, n
        else:
            lo, hi = e.c(-1), e("sub", n, one)
            first0, last0 = hi, lo

        def norm(x, default):
            if x is None:
                return default
            return e.clamp(e("select", e("lt", x, zero), e("add", x, n), x), lo, hi)
        first, last = norm(start, first0), norm(stop, last0)
        span = e("sub", last, first)
        if k == 1:
            length = span
        else:   # ceil(span / step), written with a floor division: (span -+ 1 + step) // step
            if k is None:
                adj = e("select", neg, e("add", span, one), e("sub", span, one))
            else:
                adj = e("add", span, e.c(1 if k < 0 else -1))
            length = e("floordiv", e("add", adj, step), step)
        length = e("select", e("lt", length, zero), zero, length, name="len")
        return first, step, length, k

    def region(self, e: _Emit, arr: Value, parts: list[tuple]):
        """The part of arr that an index/slice expression selects: its extents and a map from
        in-range region indices to (indices into arr, which of them are in range)."""
        ext = self.extents(e, arr)
        axes, dims = [], []
        for k, part in enumerate(parts):
            if part[0] == "i":
                axes.append(("i", part[1]))
                continue
            first, step, length, known = self.slice_axis(e, ext[k], *part[1:])
            unit = known == 1 and part[1] is None     # x[:n]: index iv itself
            axes.append(("a",) if unit else ("s", first, step, known))
            dims.append(length)
        for k in range(len(parts), len(ext)):
            axes.append(("a",))
            dims.append(ext[k])

        def where(be: _Emit, ivs: list[Value]) -> tuple[list[Value], tuple]:
            it = iter(ivs)
            idx, ok = [], []
            for ax in axes:
                if ax[0] == "i":
                    idx.append(ax[1])
                elif ax[0] == "a":
                    idx.append(next(it))
                else:
                    iv = next(it)
                    off = iv if ax[3] == 1 else be("mul", iv, ax[2])
                    idx.append(be("add", ax[1], off, name="s"))
                ok.append(ax[0] != "i")
            return idx, tuple(ok)
        return dims, where, any(ax[0] == "i" for ax in axes)

    # -- lowering ----------------------------------------------------------------------------------
    def map(self, e: _Emit, op: Op) -> Value:
        y = op.results[0]
        dims = self.fused_dims(e, op)
        out = e("empty", *dims, dtype=y.type.dtype.name, name=y.name)

        def body(be: _Emit, ivs, vals):
            x = be(op.prim, *[self.element(be, v, ivs, dims) for v in op.operands],
                   name=y.name, **element_attrs(op))
            return [be("setitem", vals[0], x, *ivs, inbounds=True, name=y.name)]
        (res,) = _nest(e, dims, [out], body)
        self.dims[res.id] = dims
        return res

    def reduce(self, e: _Emit, op: Op) -> Value:
        x = op.operands[0]
        y = op.results[0]
        t = x.type.dtype
        p = op.prim
        axis = op.attrs.get("axis")
        dims = self.read_dims(e, x)
        if p in ("max", "min"):
            n = dims[axis] if axis is not None else self._size(e, dims)
            e.check(e("gt", n, e.c(0)), f"{p}() of an empty array" if axis is None else
                    f"{p}() along an empty axis", "value")
        if p in ("sum", "mean", "prod", "reduce_or"):
            init = e.c(1 if p == "prod" else 0, t)
        elif t.is_float:
            init = e.c(float("-inf") if p == "max" else float("inf"), t)
        else:
            info = np.iinfo(t.np_dtype)
            init = e.c(int(info.min) if p == "max" else int(info.max), t)
        step = {"sum": "add", "mean": "add", "prod": "mul", "max": "maximum",
                "min": "minimum", "reduce_or": "bitor"}[p]
        flags = {"reassoc": True} if t.is_float and step in ("add", "mul") else {}
        if axis is None or not _is_array(y):   # all axes, or the only axis of a vector
            def body(be: _Emit, ivs, vals):
                return [be(step, vals[0], self.element(be, x, ivs, dims), name="acc", **flags)]
            (acc,) = _nest(e, dims, [init], body)
            if p == "mean":
                # NumPy's mean of nothing is nan (a warning), never ZeroDivisionError
                acc = e("div", acc, e("cast", self._size(e, dims), to=t.name), name=y.name,
                        ieee=True)
            return acc
        odims = [d for k, d in enumerate(dims) if k != axis]
        if axis == len(dims) - 1:   # contiguous: a scalar accumulator per output element
            out = e("empty", *odims, dtype=t.name, name=y.name)
            last = dims[axis]

            def row(be: _Emit, ivs, vals):
                (acc,) = _nest(be, [last], [init], lambda ie, jv, a: [ie(
                    step, a[0], self.element(ie, x, ivs + jv, dims), name="acc", **flags)])
                if p == "mean":
                    acc = be("div", acc, be("cast", last, to=t.name), name=y.name, ieee=True)
                return [be("setitem", vals[0], acc, *ivs, inbounds=True, name=y.name)]
            (res,) = _nest(e, odims, [out], row)
            self.dims[res.id] = odims
            return res
        out = self.fill(e, odims, init, t, y.name)

        def body(be: _Emit, ivs, vals):   # source order: out[i without axis] op= x[i]
            oi = [iv for k, iv in enumerate(ivs) if k != axis]
            cur = be("getitem", vals[0], *oi, name="acc", inbounds=True)
            nxt = be(step, cur, self.element(be, x, ivs, dims), name="acc")
            return [be("setitem", vals[0], nxt, *oi, inbounds=True, name=y.name)]
        (res,) = _nest(e, dims, [out], body)
        if p == "mean":
            n = e("cast", dims[axis], to=t.name)
            def scale(be: _Emit, ivs, vals):
                q = be("div", be("getitem", vals[0], *ivs, inbounds=True), n, ieee=True)
                return [be("setitem", vals[0], q, *ivs, inbounds=True, name=y.name)]
            (res,) = _nest(e, odims, [res], scale)
        self.dims[res.id] = odims
        return res

    def matmul(self, e: _Emit, op: Op) -> Value:
        """(n,k)@(k,m) and (k,)@(k,m): loops i, k, j with the output row innermost
        (contiguous, vectorisable), accumulating into the output; (n,k)@(k,) and (k,)@(k,):
        a dot product per output element in a scalar accumulator."""
        a, b = op.operands
        y = op.results[0]
        t = a.type.dtype
        da, db = self.extents(e, a), self.extents(e, b)
        ka, kb = da[-1], db[0]
        if ka is not kb:
            e.check(e("eq", ka, kb), messages.MATMUL, "shape")
        rows = da[:-1]
        cols = db[1:]
        zero = e.c(0, t)
        if not cols:   # (n,k)@(k,) and (k,)@(k,): one dot product per output element
            flags = {"reassoc": True} if t.is_float else {}

            def dots(be: _Emit, ivs, vals):
                def dot(ie: _Emit, kv, acc):
                    prod = ie("mul", ie("getitem", a, *(ivs + kv), inbounds=True),
                              ie("getitem", b, *kv, inbounds=True))
                    return [ie("add", acc[0], prod, name="acc", **flags)]
                (acc,) = _nest(be, [ka], [zero], dot)
                if not rows:
                    return [acc]
                return [be("setitem", vals[0], acc, *ivs, inbounds=True, name=y.name)]
            if not rows:
                return dots(e, [], [None])[0]
            out = e("empty", *rows, dtype=t.name, name=y.name)
            (res,) = _nest(e, rows, [out], dots)
            self.dims[res.id] = rows
            return res
        out = self.fill(e, rows + cols, zero, t, y.name)

        def body(be: _Emit, ivs, vals):
            i = ivs[:len(rows)]
            k = ivs[len(rows)]
            j = ivs[len(rows) + 1:]
            prod = be("mul", be("getitem", a, *(i + [k]), inbounds=True),
                      be("getitem", b, *([k] + j), inbounds=True))
            cur = be("getitem", vals[0], *(i + j), name="acc", inbounds=True)
            return [be("setitem", vals[0], be("add", cur, prod, name="acc"), *(i + j),
                       inbounds=True, name=y.name)]
        (res,) = _nest(e, rows + [ka] + cols, [out], body)
        self.dims[res.id] = rows + cols
        return res

    def lmatmul(self, e: _Emit, op: Op) -> Value:
        """matmul with a trailing lane axis `l` on one operand and on the result: an einsum
        over index letters, loops in the order the letters first appear in a then b."""
        a, b = op.operands
        y = op.results[0]
        t = a.type.dtype
        side = op.attrs["lanes"]
        sa, sb, so = _MM[(a.type.ndim - (side == "a"), b.type.ndim - (side == "b"))]
        sa, sb, so = sa + "l" * (side == "a"), sb + "l" * (side == "b"), so + "l"
        ext: dict[str, Value] = {}
        for s, v in ((sa, a), (sb, b)):
            for ch, d in zip(s, self.extents(e, v)):
                if ch not in ext:
                    ext[ch] = d
                elif ext[ch] is not d:
                    e.check(e("eq", ext[ch], d), messages.MATMUL, "shape")
        order = list(dict.fromkeys(sa + sb))
        out = self.fill(e, [ext[c] for c in so], e.c(0, t), t, y.name)
        flags = {"reassoc": True} if t.is_float else {}

        def body(be: _Emit, ivs, vals):
            at = dict(zip(order, ivs))
            prod = be("mul", be("getitem", a, *[at[c] for c in sa], inbounds=True),
                      be("getitem", b, *[at[c] for c in sb], inbounds=True))
            oi = [at[c] for c in so]
            cur = be("getitem", vals[0], *oi, name="acc", inbounds=True)
            return [be("setitem", vals[0], be("add", cur, prod, name="acc", **flags), *oi,
                       inbounds=True, name=y.name)]
        (res,) = _nest(e, [ext[c] for c in order], [out], body)
        self.dims[res.id] = [ext[c] for c in so]
        return res

    def sum_to(self, e: _Emit, op: Op) -> Value:
        """g summed down to like's shape: its leading axes and the axes where like has
        extent 1 (a broadcast's adjoint); like must broadcast to g."""
        g, like = op.operands
        y = op.results[0]
        t = scalar_of(y.type)
        if not _is_array(g):
            return self.fill(e, self.extents(e, like), g, t, y.name) if _is_array(like) else g
        gdims = self.read_dims(e, g)
        if not _is_array(like):
            (acc,) = _nest(e, gdims, [e.c(0, t)], lambda be, ivs, vals: [be(
                "add", vals[0], self.element(be, g, ivs, gdims), name="acc",
                **({"reassoc": True} if t.is_float else {}))])
            return acc
        ldims = self.extents(e, like)
        self.check_broadcasts_to(e, ldims, gdims)
        out = self.fill(e, ldims, e.c(0, t), t, y.name)

        def body(be: _Emit, ivs, vals):
            oi = self.index(be, like, ivs, gdims)
            cur = be("getitem", vals[0], *oi, name="acc", inbounds=True)
            nxt = be("add", cur, self.element(be, g, ivs, gdims), name="acc")
            return [be("setitem", vals[0], nxt, *oi, inbounds=True, name=y.name)]
        (res,) = _nest(e, gdims, [out], body)
        self.dims[res.id] = ldims
        return res

    def arange(self, e: _Emit, op: Op) -> Value:
        start, stop, step = op.operands
        y = op.results[0]
        t = y.type.dtype
        zero = e.c(0)
        if t.is_float:
            span = e("div", e("sub", stop, start), step)
            n = e("cast", e("ceil", span), to="i64")
        else:
            k = self.consts.get(step.id)
            if not k:
                e.check(e("ne", step, zero), messages.ARANGE_STEP, "value")
            span = e("sub", stop, start)
            if k:
                adj = e("add", span, e.c(1 if k < 0 else -1))
            else:
                adj = e("select", e("lt", step, zero), e("add", span, e.c(1)),
                        e("sub", span, e.c(1)))
            n = e("floordiv", e("add", adj, step), step) if k != 1 else span
        n = e("select", e("lt", n, zero), zero, n, name="n")

        def at(be: _Emit, ivs):
            i = ivs[0] if not t.is_float else be("cast", ivs[0], to=t.name)
            return be("add", start, be("mul", i, step), name=y.name)
        return self.materialise(e, [n], t, y.name, at)

    def view(self, e: _Emit, op: Op) -> _LazyView | Value:
        """A view op's extents (checked here, at the op) and how to read its elements; a
        Value where the result is a scalar (broadcast_like of scalars)."""
        p, x = op.prim, op.operands[0]
        if p in ("getslice", "getitem"):
            parts = slice_parts(op.attrs.get("spec"), op.operands[1:])
            dims, where, user_index = self.region(e, x, parts)
            if user_index:   # read x itself, the user's indices wrapped/checked by getitem
                def at(be, ivs):
                    idx, ok = where(be, ivs)
                    return be("getitem", x, *idx, inbounds=ok, name=x.name)
            else:
                xdims = self.extents(e, x)
                def at(be, ivs):
                    return self.element(be, x, where(be, ivs)[0], xdims)
            return _LazyView(dims, at)
        if p == "transpose":
            xd = self.extents(e, x)
            return _LazyView([xd[1], xd[0]] + xd[2:], lambda be, ivs: self.element(
                be, x, [ivs[1], ivs[0]] + ivs[2:], xd))
        if p == "expand":
            axis = op.attrs["axis"]
            xd = self.extents(e, x) if _is_array(x) else []
            return _LazyView(xd[:axis] + [e.c(1)] + xd[axis:], lambda be, ivs: self.element(
                be, x, ivs[:axis] + ivs[axis + 1:], xd))
        if p == "reshape":
            return self.reshape_view(e, op)
        if p == "permute":
            axes = list(op.attrs["axes"])
            xd = self.extents(e, x)
            r = len(axes)

            def at_permuted(be, ivs):
                idx = list(ivs)
                for j, a in enumerate(axes):
                    idx[a] = ivs[j]
                return self.element(be, x, idx, xd)
            return _LazyView([xd[a] for a in axes] + xd[r:], at_permuted)
        # broadcast_like(x, like[, lanes])
        if not _is_array(op.results[0]):
            return x
        like = op.operands[1]
        dims = list(self.extents(e, like)) if _is_array(like) else []
        if len(op.operands) == 3:
            dims.append(op.operands[2])
        if _is_array(x):
            self.check_broadcasts_to(e, self.extents(e, x), dims)
        return _LazyView(dims, lambda be, ivs: self.element(be, x, ivs, dims))

    def reshape_view(self, e: _Emit, op: Op) -> _LazyView:
        """breadth: x read in C order under new extents: the flat index of the result's
        element, split back into x's indices (the frontend checked that the sizes agree)."""
        x, dims = op.operands[0], list(op.operands[1:])
        xd = self.extents(e, x)

        def at(be, ivs):
            flat = ivs[0]
            for d, i in zip(dims[1:], ivs[1:]):
                flat = be("add", be("mul", flat, d, name="flat"), i, name="flat")
            idx = []
            for d in reversed(xd[1:]):
                idx.append(be("mod", flat, d, name="r"))
                flat = be("floordiv", flat, d, name="q")
            idx.append(flat)
            return self.element(be, x, idx[::-1], xd)
        return _LazyView(dims, at)

    def store(self, e: _Emit, op: Op) -> Value:
        """setslice / a row write x[i] = v: a loop nest of element writes, v broadcast to the
        region (materialised first, so the loop never reads what it writes)."""
        arr, val = op.operands[:2]
        parts = slice_parts(op.attrs.get("spec"), op.operands[2:])
        dims, where, _ = self.region(e, arr, parts)
        vdims = self.extents(e, val) if _is_array(val) else []
        self.check_broadcasts_to(e, vdims, dims)

        def body(be: _Emit, ivs, vals):
            idx, ok = where(be, ivs)
            x = self.element(be, val, ivs, dims)
            return [be("setitem", vals[0], x, *idx, inbounds=True if all(ok) else ok,
                       name=arr.name)]
        (res,) = _nest(e, dims, [arr], body)
        return res

    def lower(self, e: _Emit, op: Op) -> Value | None:
        """The lowered value of op's result (None: op was deferred to its uses)."""
        p = op.prim
        y = op.results[0]
        if _elementwise(op):
            user = self.user.get(y.id)
            if user is not None and id(user) in self.current and (
                    _elementwise(user) or _lowerable_reduce(user) or
                    (user.prim == "sum_to" and user.operands[0] is y)):
                self.deferred[y.id] = op   # computed inside its user's loop
                return None
            return self.map(e, op)
        if _view(op):
            v = self.view(e, op)
            if isinstance(v, Value):
                return v
            users = self.users.get(y.id, [])
            self.dims[y.id] = v.dims
            if users and all(id(u) in self.current and _fuses_into(u, y) for u in users):
                self.views[y.id] = v
                return None
            return self.materialise(e, v.dims, y.type.dtype, y.name, v.at)
        if _lowerable_reduce(op):
            return self.reduce(e, op)
        if p == "matmul":
            return self.matmul(e, op)
        if p == "lmatmul":
            return self.lmatmul(e, op)
        if p in ("setslice", "setitem"):
            return self.store(e, op)
        if p == "sum_to":
            return self.sum_to(e, op)
        if p == "arange":
            return self.arange(e, op)
        t = y.type.dtype
        if p == "undef":
            dims = [e.c(0) for _ in range(y.type.ndim)]
            out = e("empty", *dims, dtype=t.name, name=y.name)
            self.dims[out.id] = dims
            return out
        dims = list(op.operands[:y.type.ndim])
        value = op.operands[-1] if p == "full" else e.c(int(p == "ones"), t)
        return self.fill(e, dims, value, t, y.name)

    def block(self, block: Block) -> None:
        self.active.append(block)
        old = block.ops
        block.ops = []
        outer, mine = self.current, {id(o) for o in old}
        for op in old:
            for r in op.regions:
                self.block(r)
            self.current = mine
            if op.prim in ("dim", "size") and op.operands[0].id in self.views:
                dims = self.dims[op.operands[0].id]
                e = _Emit(block, op.loc)
                self._replace(op.results[0], dims[op.attrs["axis"]] if op.prim == "dim"
                              else self._size(e, dims))
                continue
            if not lowers(op):
                block.ops.append(op)
                continue
            res = self.lower(_Emit(block, op.loc), op)
            if res is not None:
                self._replace(op.results[0], res)
        self.current = outer
        self.active.pop()

    def _replace(self, old: Value, new: Value) -> None:
        self.renames[old.id] = new
        if new.id in self.dims:
            self.dims[old.id] = self.dims[new.id]


class _Dims:
    """`known` seen as a dict of extents valid at the block being lowered."""

    def __init__(self, lw: _Lowerer):
        self.lw = lw

    def get(self, key: int):
        got = self.lw.known.get(key)
        if got is None or not any(b is got[0] for b in self.lw.active):
            return None
        return got[1]

    def __getitem__(self, key: int) -> list[Value]:
        return self.lw.known[key][1]

    def __contains__(self, key: int) -> bool:
        return self.get(key) is not None

    def __setitem__(self, key: int, dims: list[Value]) -> None:
        self.lw.known[key] = (self.lw.active[-1], dims)


def lower_arrays(fn: Function) -> Function:
    lw = _Lowerer(fn)
    lw.block(fn.body)
    replace_uses(fn.body, lw.renames)
    return fn
