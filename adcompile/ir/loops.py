"""Small IR-building helpers shared by the passes that restructure loops (checkpointing,
scalar expansion) and by reverse mode."""
from __future__ import annotations

from .core import Value


def trip_count(e, lb: Value, ub: Value, step: Value) -> Value:
    """Number of iterations of `range(lb, ub, step)` (never negative), emitted through `e`,
    any builder called as `e(prim, *operands, name=..., **attrs)`."""
    def c(x: int) -> Value:
        return e("const", value=x, type="i64", name="c")
    one = c(1)
    sgn = e("select", e("gt", step, c(0)), one, c(-1), name="sgn")
    span = e("sub", e("add", e("sub", ub, lb), step), sgn, name="span")
    return e("maximum", e("floordiv", span, step), c(0), name="trips")
