"""Array lowering: whole-array NumPy ops become loop nests over scalars.

Elementwise ops (ufuncs with broadcasting, comparisons, `np.where`, casts), reductions (`sum`,
`prod`, `max`, `min`, `mean`, over everything or one axis) and `matmul` turn into `for` nests of
`getitem`, scalar ops and `setitem`, so that what follows (the LLVM backend, a GPU backend)
sees loops, element access and scalar arithmetic only.

Lowering fuses as it goes: an elementwise result used once, by another elementwise op or a
reduction in the same block, is not materialised; its scalar expression is computed inside its
user's loop (`np.sum(u * u)` is one loop with no temporary). This runs before copy insertion
(`inplace`), which then sees the reads where they really happen.

Broadcasting follows NumPy: each axis's extent is the operands' common extent, an operand of
extent 1 is read at index 0 (`minimum(i, n - 1)`), other mismatches stop the program through a
`check` op ("array shapes do not broadcast together"). Reductions accumulate in source order
(contiguous reads); a whole-array float reduction marks its adds `reassoc` so the backend may
vectorise it, as it does for its own reductions.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from ..ir.clone import replace_uses
from ..ir.core import Block, Builder, Function, Op, Value
from ..ir.primitives import ELEMENTWISE_KINDS, PRIMITIVES
from ..ir.types import I64, ArrayType, ScalarType

REDUCTIONS = ("sum", "prod", "max", "min", "mean")


def _elementwise(op: Op) -> bool:
    return PRIMITIVES[op.prim].kind in ELEMENTWISE_KINDS and \
        isinstance(op.results[0].type, ArrayType)


def _lowerable_reduce(op: Op) -> bool:
    if op.prim not in REDUCTIONS:
        return False
    t = op.operands[0].type.dtype
    return not t.is_bool and (t.is_float or op.prim != "mean")


class _Emit:
    """Appends ops to a block (result types from the type rules)."""

    def __init__(self, block: Block, loc):
        self.block, self.loc = block, loc

    def __call__(self, prim: str, *args: Value, name: str = "t", **attrs) -> Value:
        types = PRIMITIVES[prim].rule([a.type for a in args], attrs)
        op = Builder(self.block, self.loc).op(prim, list(args), types, attrs, None,
                                              [name] * len(types))
        return op.results[0] if op.results else None

    def c(self, value, t: ScalarType = I64) -> Value:
        v = float(value) if t.is_float else (bool(value) if t.is_bool else int(value))
        return self("const", value=v, type=t.name, name="c")

    def check(self, cond: Value, message: str, kind: str = "shape") -> None:
        Builder(self.block, self.loc).op("check", [cond], [], {"message": message,
                                                               "kind": kind})


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


class _Lowerer:
    def __init__(self, fn: Function):
        self.fn = fn
        self.uses: Counter = Counter()
        self.user: dict[int, Op] = {}
        self._count(fn.body)
        self.deferred: dict[int, Op] = {}      # value id -> elementwise op computed at its use
        # array value id -> (block defining them, its extents): valid in that block and below
        self.known: dict[int, tuple[Block, list[Value]]] = {}
        self.active: list[Block] = []
        self.renames: dict[int, Value] = {}
        self.memo: dict[tuple, Value] = {}     # (value, indices, block) -> its scalar

    @property
    def dims(self) -> "_Dims":
        return _Dims(self)

    def _count(self, block: Block) -> None:
        for op in block.ops:
            for v in op.operands:
                self.uses[v.id] += 1
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
            if not isinstance(v.type, ArrayType):
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
                e.check(ok, "array shapes do not broadcast together")
                out[k] = e("select", e("eq", cur, one), d, cur, name="n")
        return out

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

    # -- scalar expression of an array value at an index ----------------------------------------
    def element(self, e: _Emit, v: Value, ivs: list[Value], dims: list[Value]) -> Value:
        if not isinstance(v.type, ArrayType):
            return v
        key = (v.id, tuple(i.id for i in ivs), id(e.block))
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self._element(e, v, ivs, dims)
        return got

    def _element(self, e: _Emit, v: Value, ivs: list[Value], dims: list[Value]) -> Value:
        op = self.deferred.get(v.id)
        if op is None:
            return e("getitem", v, *self.index(e, v, ivs, dims), inbounds=True, name=v.name)
        # a fused producer: its own operands, indexed through its broadcast extents
        mine = self.dims[v.id]
        off = len(ivs) - len(mine)
        sub = [iv if d is mine[k] else self._bcast(e, iv, mine[k])
               for k, (iv, d) in enumerate(zip(ivs[off:], dims[off:]))]
        xs = [self.element(e, x, sub, mine) for x in op.operands]
        return e(op.prim, *xs, name=op.results[0].name, **op.attrs)

    def fused_dims(self, e: _Emit, op: Op) -> list[Value]:
        """Extents of an elementwise op's result, its fused producers' shapes checked first."""
        for x in op.operands:
            if x.id in self.deferred:
                self.fused_dims(e, self.deferred[x.id])
        dims = self.out_dims(e, op.operands, op.results[0].type.ndim)
        self.dims[op.results[0].id] = dims
        return dims

    # -- lowering ----------------------------------------------------------------------------------
    def map(self, e: _Emit, op: Op) -> Value:
        y = op.results[0]
        dims = self.fused_dims(e, op)
        out = e("empty", *dims, dtype=y.type.dtype.name, name=y.name)

        def body(be: _Emit, ivs, vals):
            x = be(op.prim, *[self.element(be, v, ivs, dims) for v in op.operands],
                   name=y.name, **op.attrs)
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
        dims = self.fused_dims(e, self.deferred[x.id]) if x.id in self.deferred else \
            self.extents(e, x)
        if p in ("max", "min"):
            n = dims[axis] if axis is not None else self._size(e, dims)
            e.check(e("gt", n, e.c(0)), f"{p}() of an empty array" if axis is None else
                    f"{p}() along an empty axis", "value")
        if p in ("sum", "mean", "prod"):
            init = e.c(1 if p == "prod" else 0, t)
        elif t.is_float:
            init = e.c(float("-inf") if p == "max" else float("inf"), t)
        else:
            info = np.iinfo(t.np_dtype)
            init = e.c(int(info.min) if p == "max" else int(info.max), t)
        step = {"sum": "add", "mean": "add", "prod": "mul", "max": "maximum",
                "min": "minimum"}[p]
        flags = {"reassoc": True} if t.is_float and step in ("add", "mul") else {}
        if axis is None:
            def body(be: _Emit, ivs, vals):
                return [be(step, vals[0], self.element(be, x, ivs, dims), name="acc", **flags)]
            (acc,) = _nest(e, dims, [init], body)
            if p == "mean":
                acc = e("div", acc, e("cast", self._size(e, dims), to=t.name), name=y.name)
            return acc
        odims = [d for k, d in enumerate(dims) if k != axis]
        if axis == len(dims) - 1:   # contiguous: a scalar accumulator per output element
            out = e("empty", *odims, dtype=t.name, name=y.name)
            last = dims[axis]

            def row(be: _Emit, ivs, vals):
                (acc,) = _nest(be, [last], [init], lambda ie, jv, a: [ie(
                    step, a[0], self.element(ie, x, ivs + jv, dims), name="acc", **flags)])
                if p == "mean":
                    acc = be("div", acc, be("cast", last, to=t.name), name=y.name)
                return [be("setitem", vals[0], acc, *ivs, inbounds=True, name=y.name)]
            (res,) = _nest(e, odims, [out], row)
            self.dims[res.id] = odims
            return res
        out = e("full", *odims, init, dtype=t.name, name=y.name)

        def body(be: _Emit, ivs, vals):   # source order: out[i without axis] op= x[i]
            oi = [iv for k, iv in enumerate(ivs) if k != axis]
            cur = be("getitem", vals[0], *oi, name="acc", inbounds=True)
            nxt = be(step, cur, self.element(be, x, ivs, dims), name="acc")
            return [be("setitem", vals[0], nxt, *oi, inbounds=True, name=y.name)]
        (res,) = _nest(e, dims, [out], body)
        if p == "mean":
            n = e("cast", dims[axis], to=t.name)
            def scale(be: _Emit, ivs, vals):
                q = be("div", be("getitem", vals[0], *ivs, inbounds=True), n)
                return [be("setitem", vals[0], q, *ivs, inbounds=True, name=y.name)]
            (res,) = _nest(e, odims, [res], scale)
        self.dims[res.id] = odims
        return res

    def _size(self, e: _Emit, dims: list[Value]) -> Value:
        n = e.c(1)
        for d in dims:
            n = e("mul", n, d, name="size")
        return n

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
            e.check(e("eq", ka, kb), "matmul: inner dimensions differ", "shape")
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
        out = e("full", *(rows + cols), zero, dtype=t.name, name=y.name)

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

    def block(self, block: Block) -> None:
        self.active.append(block)
        old = block.ops
        block.ops = []
        for op in old:
            for r in op.regions:
                self.block(r)
            e = _Emit(block, op.loc)
            if _elementwise(op) or (_lowerable_reduce(op)) or op.prim == "matmul":
                y = op.results[0]
                user = self.user.get(y.id)
                if _elementwise(op) and user is not None and \
                        user in old and (_elementwise(user) or _lowerable_reduce(user)):
                    self.deferred[y.id] = op   # computed inside its user's loop
                    continue
                if _elementwise(op):
                    res = self.map(e, op)
                elif op.prim == "matmul":
                    res = self.matmul(e, op)
                else:
                    res = self.reduce(e, op)
                self._replace(y, res)
                continue
            block.ops.append(op)
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
