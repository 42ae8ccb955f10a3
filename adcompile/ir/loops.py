"""Small IR-building helpers shared by the passes that restructure loops (checkpointing,
scalar expansion) and by reverse mode."""
from __future__ import annotations

from .core import Op, Value
from .primitives import PRIMITIVES


class OpList:
    """Appends ops to a list, result types from the primitives' type rules: for passes that
    build a piece of IR before deciding where it goes."""

    def __init__(self, ops: list[Op], loc):
        self.ops, self.loc = ops, loc

    def __call__(self, prim: str, *args: Value, name: str = "t", **attrs) -> Value:
        types = PRIMITIVES[prim].rule([a.type for a in args], attrs)
        v = Value(name, types[0])
        self.ops.append(Op(prim, list(args), [v], attrs, [], self.loc))
        return v

    def c(self, x: int) -> Value:
        return self("const", value=x, type="i64", name="c")


def trip_count(e, lb: Value, ub: Value, step: Value) -> Value:
    """Number of iterations of `range(lb, ub, step)` (never negative), emitted through `e`,
    any builder called as `e(prim, *operands, name=..., **attrs)`."""
    def c(x: int) -> Value:
        return e("const", value=x, type="i64", name="c")
    one = c(1)
    sgn = e("select", e("gt", step, c(0)), one, c(-1), name="sgn")
    span = e("sub", e("add", e("sub", ub, lb), step), sgn, name="span")
    return e("maximum", e("floordiv", span, step), c(0), name="trips")
