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


# sizes reverse mode computes from trip counts saturate here: far above any memory, so a
# saturated count fails its allocation, and small enough that adding a few never wraps
SIZE_CAP = 2 ** 61


def saturating_mul(e, a: Value, b: Value, name: str = "n") -> Value:
    """min(a * b, SIZE_CAP) for 0 <= a, b <= SIZE_CAP without wrapping: the product of the
    trip counts of nested loops (or a count times an entry size) sizes a tape, and a wrapped
    size would be small enough to allocate and then be overrun."""
    def c(x: int) -> Value:
        return e("const", value=x, type="i64", name="c")
    cap = c(SIZE_CAP)
    room = e("floordiv", cap, e("maximum", b, c(1)), name="room")
    prod = e("minimum", e("mul", a, b), cap)
    return e("select", e("gt", a, room), cap, prod, name=name)


def saturating_add(e, a: Value, b: Value, name: str = "n") -> Value:
    """min(a + b, SIZE_CAP) for 0 <= a, b <= SIZE_CAP (their sum cannot wrap)."""
    return e("minimum", e("add", a, b), e("const", value=SIZE_CAP, type="i64", name="c"),
             name=name)
