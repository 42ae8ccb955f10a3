"""NumPy's scalar semantics written out in plain IR, so a backend emits only the plain ops.

Runs after `lower_arrays` (every elementwise op is scalar by then). Each rewrite is exact, the
same instructions a backend would emit for the op itself:
- `minimum`/`maximum` on floats propagate NaN: `select(x < y or isnan(x), x, y)`;
  on ints `select(x < y, x, y)`;
- `sign`: floats `select(isnan(x), x, select(x < 0, -1, select(x > 0, 1, 0)))`, ints
  `(x > 0) - (x < 0)`; `abs` of an int: `select(x < 0, -x, x)`;
- scalar `floordiv`, `mod` and `div` by zero stop the program with Python's ZeroDivisionError
  (a `check` of kind "zerodiv" before the op, unless the divisor is a non-zero constant): on
  integers always, on floats unless the op is `ieee` (derivative code, array elements), as
  numba's scalar operators do; so does a float to a negative integer power of 0.0 (`powi`).
Float `mod`/`floordiv` stay ops: their exact form needs a C remainder, which is no primitive.
"""
from __future__ import annotations

from .. import messages
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.types import ArrayType

EXPANDED = ("minimum", "maximum", "sign")
"""Ops this pass removes (for scalars; `abs` only for ints)."""


def _expand(e: Builder, op: Op, consts: dict[int, object]) -> Value | None:
    """The value replacing op's result, or None to keep op (after any check it needs)."""
    p, xs, y = op.prim, op.operands, op.results[0] if op.results else None
    if y is None or isinstance(y.type, ArrayType) or \
            any(isinstance(x.type, ArrayType) for x in xs):
        return None
    t = y.type
    if p in ("minimum", "maximum"):
        x, z = xs
        keep = e("lt" if p == "minimum" else "gt", x, z)
        if t.is_float:
            keep = e("or", keep, e("isnan", x))
        return e("select", keep, x, z, name=y.name)
    if p == "sign":
        x = xs[0]
        zero = e.c(0, t)
        if t.is_int:
            return e("sub", e("cast", e("gt", x, zero), to="i64"),
                     e("cast", e("lt", x, zero), to="i64"), name=y.name)
        pos = e("select", e("gt", x, zero), e.c(1, t), zero)
        s = e("select", e("lt", x, zero), e.c(-1, t), pos)
        return e("select", e("isnan", x), x, s, name=y.name)
    if p == "abs" and t.is_int:
        x = xs[0]
        return e("select", e("lt", x, e.c(0, t)), e("neg", x), x, name=y.name)
    if p in ("floordiv", "mod", "div") and not consts.get(xs[1].id) and \
            (t.is_int or (t.is_float and not op.attrs.get("ieee"))):
        ok = e("ne", xs[1], e.c(0, xs[1].type))
        text = (messages.INT_DIV_ZERO if t.is_int else messages.FLOAT_DIV_ZERO)[p]
        Builder(e.block, e.loc).op("check", [ok], [], {"message": text, "kind": "zerodiv"})
    if p == "powi" and t.is_float and not op.attrs.get("ieee"):
        x, n = xs
        ok = e("or", e("ne", x, e.c(0, x.type)), e("ge", n, e.c(0, n.type)))
        Builder(e.block, e.loc).op("check", [ok], [], {"message": messages.ZERO_NEGATIVE_POWER,
                                                       "kind": "zerodiv"})
    return None


def _block(block: Block, consts: dict[int, object], renames: dict[int, Value]) -> None:
    old, block.ops = block.ops, []
    for op in old:
        op.operands = [renames.get(v.id, v) for v in op.operands]
        for r in op.regions:
            _block(r, consts, renames)
        if op.prim == "const":
            consts[op.results[0].id] = op.attrs["value"]
        new = _expand(Builder(block, op.loc), op, consts)
        if new is None:
            block.ops.append(op)
        else:
            renames[op.results[0].id] = new


def scalar_semantics(fn: Function) -> Function:
    _block(fn.body, {}, {})
    return fn
