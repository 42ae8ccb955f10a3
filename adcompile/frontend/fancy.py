"""Fancy (integer-array) and boolean-mask indexing, lowered by the frontend to loops of
element reads and writes.

    table[idx]        a gather: out[k] = table[idx[k]]
    x[:, idx]         on any axis, with `:` and integer indices on the others
    x[i_arr, j_arr]   several index arrays of one length (zipped, as NumPy broadcasts 1-d)
    x[mask]           a mask of x's shape selects in C order (1-d result); a 1-d mask on one
                      axis selects along it
    x[idx] = v        a scatter (v a scalar or broadcast to the gathered shape); with a
                      repeated index the last write wins, as in NumPy
    x[idx] += v       NumPy's read-modify-write: gather, add, scatter, so a repeated index is
                      added once (np.add.at accumulates; this does not, as NumPy's +=)
    x[mask] = v       v a scalar (a select per element) or a 1-d array of the selected count

Everything becomes `for` loops of `getitem`/`setitem` on scalars, so the interpreter, both
backends and both derivative modes need nothing new: the adjoint of a gather is the
scatter-add that reverse mode makes of a `getitem` in a loop (repeated indices accumulate),
and indices are bounds-checked like any element access (IndexError; negative ones count from
the end). Results are new arrays, as NumPy's fancy indexing copies.

Where NumPy's result layout is not a simple rule (index arrays separated by a slice move their
axis to the front) it is followed too; partial slices next to an index array are rejected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gast

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Block, Value
from ..ir.types import BOOL, I64, ArrayType

_HINT = "index with 1-d integer arrays (int64) or boolean masks, and ':' or integers elsewhere"


@dataclass
class Part:
    kind: str          # "all" (a full ':'), "int" (a scalar index), "arr" (1-d i64 array)
    value: Value | None = None


def is_fancy(parts: list[Any]) -> bool:
    """Whether lowered index parts hold an array (the fancy path) rather than ints/slices."""
    return any(isinstance(p, Value) and isinstance(p.type, ArrayType) for p in parts)


def _marker(n) -> bool:
    """A part that is not a value: a slice, `None`, `...`, `np.newaxis` (kept as its node)."""
    return isinstance(n, gast.Slice) or (isinstance(n, gast.Constant) and (
        n.value is None or n.value is Ellipsis)) or (isinstance(n, gast.Attribute) and
                                                     n.attr == "newaxis")


def lower_parts(lw, sl) -> list[Any]:
    """The index parts of a subscript, each lowered once (slices, None, ... and np.newaxis
    stay nodes)."""
    nodes = sl.elts if isinstance(sl, gast.Tuple) else [sl]
    return [n if _marker(n) else lw.lower_expr(n) for n in nodes]


def plain(parts: list[Any]) -> list[Any] | None:
    """The lowered parts for index_spec when they line up with its parts (no None, `...`
    or np.newaxis, which it expands); else None (it lowers them itself)."""
    if any(isinstance(p, gast.AST) and not isinstance(p, gast.Slice) for p in parts):
        return None
    return parts


# -- loop building ----------------------------------------------------------------------------
def loop(b: Builder, n: Value, inits: list[Value],
          body: Callable[[Builder, Value, list[Value]], list[Value]]) -> list[Value]:
    """`for i in range(n)` carrying `inits`; `body(builder, i, carried) -> next values`."""
    i = Value("k", I64)
    carried = [Value(v.name, v.type) for v in inits]
    blk = Block([i] + carried)
    lb = Builder(blk, b.loc)
    lb.op("yield", body(lb, i, carried), [])
    op = b.op("for", [b.const(0, I64), n, b.const(1, I64)] + inits, [v.type for v in inits],
              {}, [blk], [v.name for v in inits])
    return op.results


def nest(b: Builder, extents: list[Value], inits: list[Value], body) -> list[Value]:
    """Loops over every multi-index of `extents` (C order); body(b, idxs, carried)."""
    def level(lb: Builder, d: int, idxs: list[Value], carried: list[Value]) -> list[Value]:
        if d == len(extents):
            return body(lb, idxs, carried)
        return loop(lb, extents[d], carried,
                     lambda cb, i, cur: level(cb, d + 1, idxs + [i], cur))
    return level(b, 0, [], inits)


def if_(b: Builder, cond: Value, carried: list[Value], then) -> list[Value]:
    """`carried = then(carried) if cond else carried`."""
    yes, no = Block([]), Block([])
    yb = Builder(yes, b.loc)
    yb.op("yield", then(yb, carried), [])
    Builder(no, b.loc).op("yield", list(carried), [])
    return b.op("if", [cond], [v.type for v in carried], {}, [yes, no],
                [v.name for v in carried]).results


def _dims(b: Builder, x: Value) -> list[Value]:
    return [b("dim", x, axis=a, name="n") for a in range(x.type.ndim)]


# -- parts ------------------------------------------------------------------------------------
class Fancy:
    def __init__(self, lw, node):
        self.lw, self.node = lw, node

    @property
    def b(self) -> Builder:
        return Builder(self.lw.block, self.lw.loc)

    def error(self, msg: str, hint: str = _HINT, cls=UnsupportedSyntax):
        return self.lw.error(self.node, msg, hint, cls)

    def parts(self, base: Value, raw: list[Any]) -> list[Part]:
        nd = base.type.ndim
        if len(raw) > nd:
            raise self.error(f"too many indices ({len(raw)}) for a {nd}-d array",
                             "use at most one index per dimension", TypeInferenceError)
        out = []
        for p in raw:
            if isinstance(p, gast.Slice):
                if p.lower is not None or p.upper is not None or p.step is not None:
                    raise self.error("a partial slice next to an index array is not "
                                     "supported", "slice first (y = x[1:]), then index y "
                                     "with the array")
                out.append(Part("all"))
            elif isinstance(p, Value) and isinstance(p.type, ArrayType):
                dt = p.type.dtype
                if dt == BOOL:
                    out.append(Part("mask", p))
                elif dt.is_int:
                    if p.type.ndim != 1:
                        raise self.error(f"indexing with a {p.type.ndim}-d integer array is "
                                         "not supported")
                    out.append(Part("arr", p))
                else:
                    raise self.error(f"arrays used as indices must be integers or booleans, "
                                     f"got {p.type} (NumPy raises IndexError)",
                                     "convert with .astype(np.int64)", TypeInferenceError)
            elif p is None or isinstance(p, gast.AST):
                raise self.error("np.newaxis/None or '...' together with an index array is "
                                 "not supported", "index in two steps")
            elif isinstance(p, Value) and p.type == BOOL:
                raise self.error("a boolean scalar index is not supported with an index array",
                                 cls=TypeInferenceError)
            else:
                out.append(Part("int", self.lw.to_int(p, self.node)))
        out += [Part("all") for _ in range(nd - len(out))]
        masks = [p for p in out if p.kind == "mask"]
        if masks and (len(raw) > 1 or masks[0].value.type.ndim != nd) and \
                any(m.value.type.ndim != 1 for m in masks):
            raise self.error("a boolean mask must have the array's shape, or be 1-d on one "
                             "axis", "index x[mask] with mask.shape == x.shape, or x[m1d, :]",
                             TypeInferenceError)
        return out

    def full_mask(self, base: Value, raw: list[Any]) -> Value | None:
        """The mask when the index is one mask of the array's shape (C-order selection)."""
        if len(raw) == 1 and isinstance(raw[0], Value) and isinstance(raw[0].type, ArrayType) \
                and raw[0].type.dtype == BOOL and raw[0].type.ndim == base.type.ndim:
            return raw[0]
        return None

    def check_mask_shape(self, base: Value, mask: Value, axes: list[int]) -> None:
        b = self.b
        for ma, a in zip(range(mask.type.ndim), axes):
            same = b("eq", b("dim", mask, axis=ma, name="n"), b("dim", base, axis=a, name="n"),
                     name="fits")
            b.check(same, "boolean index did not match the indexed array in dimension "
                          f"{a} (IndexError in NumPy)")

    def count(self, mask: Value) -> Value:
        b = self.b
        one, zero = b.const(1, I64), b.const(0, I64)

        def body(lb, idxs, cur):
            m = lb("getitem", mask, *idxs, name="m")
            return [lb("add", cur[0], lb("select", m, one, zero, name="c"), name="count")]
        return nest(b, _dims(b, mask), [zero], body)[0]

    def mask_to_index(self, mask: Value) -> Value:
        """The positions where a 1-d mask holds, as an i64 array (np.nonzero(mask)[0])."""
        b = self.b
        n = self.count(mask)
        out = b("empty", n, dtype="i64", name="where")
        one = b.const(1, I64)

        def body(lb, i, cur):
            m = lb("getitem", mask, i, name="m")
            return if_(lb, m, cur, lambda tb, c: [
                tb("setitem", c[0], i, c[1], name="where", inbounds=True),
                tb("add", c[1], one, name="pos")])
        return loop(b, b("dim", mask, axis=0, name="n"), [out, b.const(0, I64)], body)[0]

    # -- the layout of an indexed read/write ------------------------------------------------
    def plan(self, base: Value, parts: list[Part]):
        """(length L, the array parts, per result axis: 'k' or an axis of base)."""
        b = self.b
        for a, p in enumerate(parts):
            if p.kind == "mask":
                self.check_mask_shape(base, p.value, [a])
                parts[a] = Part("arr", self.mask_to_index(p.value))
        arrs = [p.value for p in parts if p.kind == "arr"]
        L = b("dim", arrs[0], axis=0, name="len")
        for other in arrs[1:]:
            b.check(b("eq", b("dim", other, axis=0, name="len"), L, name="fits"),
                    "shape mismatch: indexing arrays could not be broadcast together")
        adv = [a for a, p in enumerate(parts) if p.kind in ("arr", "int")]
        contiguous = adv == list(range(adv[0], adv[-1] + 1))
        slices = [a for a, p in enumerate(parts) if p.kind == "all"]
        if contiguous:
            layout = [a for a in slices if a < adv[0]] + ["k"] + [a for a in slices
                                                                 if a > adv[0]]
        else:
            layout = ["k"] + slices
        return L, layout

    def extents(self, base: Value, L: Value, layout) -> list[Value]:
        b = self.b
        return [L if ax == "k" else b("dim", base, axis=ax, name="n") for ax in layout]

    def element_index(self, lb: Builder, parts: list[Part], layout, idxs: list[Value]):
        """The base index of the result element at loop indices `idxs`."""
        pos = dict(zip(layout, idxs))
        k = pos["k"]
        out = []
        for a, p in enumerate(parts):
            if p.kind == "all":
                out.append(pos[a])
            elif p.kind == "int":
                out.append(p.value)
            else:
                out.append(lb("getitem", p.value, k, name="j"))
        return out

    # -- reads --------------------------------------------------------------------------------
    def read(self, base: Value, raw: list[Any]) -> Value:
        mask = self.full_mask(base, raw)
        if mask is not None and base.type.ndim > 1:
            return self.read_masked(base, mask)
        parts = self.parts(base, raw)
        L, layout = self.plan(base, parts)
        b = self.b
        ext = self.extents(base, L, layout)
        out = b("empty", *ext, dtype=base.type.dtype.name, name=base.name + "_g")

        def body(lb, idxs, cur):
            v = lb("getitem", base, *self.element_index(lb, parts, layout, idxs),
                   name=base.name + "_e")
            return [lb("setitem", cur[0], v, *idxs, name=out.name, inbounds=True)]
        return nest(b, ext, [out], body)[0]

    def read_masked(self, base: Value, mask: Value) -> Value:
        self.check_mask_shape(base, mask, list(range(base.type.ndim)))
        n = self.count(mask)
        b = self.b
        out = b("empty", n, dtype=base.type.dtype.name, name=base.name + "_m")
        one = b.const(1, I64)

        def body(lb, idxs, cur):
            m = lb("getitem", mask, *idxs, name="m")
            return if_(lb, m, cur, lambda tb, c: [
                tb("setitem", c[0], tb("getitem", base, *idxs, name=base.name + "_e"), c[1],
                   name=out.name, inbounds=True),
                tb("add", c[1], one, name="pos")])
        return nest(b, _dims(b, mask), [out, b.const(0, I64)], body)[0]

    # -- writes -------------------------------------------------------------------------------
    def value_reader(self, value: Value, ext: list[Value]):
        """value[...] at the result's loop indices, broadcasting as NumPy (trailing axes
        aligned, extent 1 repeated); the extents are checked once, before the loops."""
        if not isinstance(value.type, ArrayType):
            return lambda lb, idxs: value
        r = value.type.ndim
        if r > len(ext):
            raise self.error(f"the value has {r} dimensions but the indexed target has "
                             f"{len(ext)}", "the value must broadcast to the selection's "
                             "shape", TypeInferenceError)
        b = self.b
        vd = _dims(b, value)
        one, zero = b.const(1, I64), b.const(0, I64)
        ones = []
        for q in range(r):
            e = ext[len(ext) - r + q]
            is1 = b("eq", vd[q], one, name="is1")
            b.check(b("or", is1, b("eq", vd[q], e, name="same"), name="fits"),
                    "could not broadcast the value to the indexed selection's shape")
            ones.append(is1)

        def read(lb, idxs):
            tail = idxs[len(idxs) - r:]
            at = [lb("select", is1, zero, i, name="i") for is1, i in zip(ones, tail)]
            return lb("getitem", value, *at, name=value.name + "_e")
        return read

    def write(self, base: Value, raw: list[Any], value: Value) -> Value:
        """The new version of `base` after base[raw] = value."""
        value = self.lw.to_dtype(value, base.type.dtype)
        mask = self.full_mask(base, raw)
        if mask is not None:
            return self.write_masked(base, mask, value)
        parts = self.parts(base, raw)
        L, layout = self.plan(base, parts)
        b = self.b
        ext = self.extents(base, L, layout)
        get = self.value_reader(value, ext)

        def body(lb, idxs, cur):
            at = self.element_index(lb, parts, layout, idxs)
            return [lb("setitem", cur[0], get(lb, idxs), *at, name=base.name)]
        return nest(b, ext, [base], body)[0]

    def write_masked(self, base: Value, mask: Value, value: Value) -> Value:
        self.check_mask_shape(base, mask, list(range(base.type.ndim)))
        b = self.b
        dims = _dims(b, mask)
        if not isinstance(value.type, ArrayType):
            def body(lb, idxs, cur):
                m = lb("getitem", mask, *idxs, name="m")
                old = lb("getitem", cur[0], *idxs, name=base.name + "_e", inbounds=True)
                new = lb("select", m, value, old, name=base.name + "_e")
                return [lb("setitem", cur[0], new, *idxs, name=base.name, inbounds=True)]
            return nest(b, dims, [base], body)[0]
        if value.type.ndim != 1:
            raise self.error("x[mask] = v takes a scalar v or a 1-d array of the selected "
                             "count", "write x[mask] = v with v a number, or v of shape "
                             "(np.count_nonzero(mask),)", TypeInferenceError)
        n = self.count(mask)
        b.check(b("eq", b("dim", value, axis=0, name="n"), n, name="fits"),
                "NumPy boolean array indexing assignment cannot assign this many values "
                "to the selected elements")
        one = b.const(1, I64)

        def body(lb, idxs, cur):
            m = lb("getitem", mask, *idxs, name="m")
            return if_(lb, m, cur, lambda tb, c: [
                tb("setitem", c[0], tb("getitem", value, c[1], name=value.name + "_e",
                                       inbounds=True), *idxs, name=base.name, inbounds=True),
                tb("add", c[1], one, name="pos")])
        return nest(b, dims, [base, b.const(0, I64)], body)[0]
