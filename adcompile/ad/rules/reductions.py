"""Derivatives of reductions (sum, mean, max, min, prod), over all axes or one.

Forward mode reduces the tangent like the primal (under lanes, a full reduction keeps the
trailing lane axis); reverse mode spreads the adjoint back over the reduced axes. A max/min
shares its derivative equally among tied extremal elements; prod's weights y / x need nonzero
x (documented). Rule signatures: see `arrays.py`.
"""
from __future__ import annotations

from ...ir.core import Value


def extremum_weights(e, x: Value, y: Value, axis) -> Value:
    """Weights of a max/min reduction's derivative: tied extremal elements share it equally."""
    m = y if axis is None else e("expand", y, axis=axis)
    mask = e("cast", e("eq", x, m), to=x.type.dtype.name, name="at_ext")
    count = e("sum", mask, axis=axis)
    if axis is not None:
        count = e("expand", count, axis=axis)
    return e("div", mask, count, name="w")


def reduce_tangent(fw, e, t, axis, nd):
    """Sum tangent `t` like the primal reduction (all `nd` axes or one), keeping lanes."""
    if axis is not None:
        return e("sum", t, axis=axis, name=t.name)
    if not fw.lanes:
        return e("sum", t, axis=None, name=t.name)
    for _ in range(nd):
        t = e("sum", t, axis=0, name=t.name)
    return t


def spread(rv, e, op, g):
    """Broadcast the adjoint of a reduction back over the reduced axes."""
    x = op.operands[0]
    axis = op.attrs.get("axis")
    gg = g if axis is None else e("expand", g, axis=axis)
    return e("broadcast_like", gg, rv.primal_at(x), name=x.name + "_bar")


def jvp_sum(fw, e, op, d, name):
    return reduce_tangent(fw, e, d[0], op.attrs.get("axis"), op.operands[0].type.ndim)


def vjp_sum(rv, e, op, g):
    rv.accumulate(e, op.operands[0], spread(rv, e, op, g))


def jvp_mean(fw, e, op, d, name):
    x = op.operands[0]
    axis = op.attrs.get("axis")
    s = reduce_tangent(fw, e, d[0], axis, x.type.ndim)
    n = e("size", x) if axis is None else e("dim", x, axis=axis)
    return e("div", s, e("cast", n, to=x.type.dtype.name), name=name)


def vjp_mean(rv, e, op, g):
    x = rv.primal_at(op.operands[0])
    axis = op.attrs.get("axis")
    n = e("size", x) if axis is None else e("dim", x, axis=axis)
    full = spread(rv, e, op, g)
    rv.accumulate(e, op.operands[0], e("div", full, e("cast", n, to=x.type.dtype.name),
                                         name=x.name + "_bar"))


def jvp_extremum(fw, e, op, d, name):
    x, y = op.operands[0], op.results[0]
    axis = op.attrs.get("axis")
    w = extremum_weights(e, x, y, axis)
    return reduce_tangent(fw, e, e("mul", fw.expand(e, w, x), d[0]), axis, x.type.ndim)


def vjp_extremum(rv, e, op, g):
    x, y = rv.primal_at(op.operands[0]), rv.primal_at(op.results[0])
    w = extremum_weights(e, x, y, op.attrs.get("axis"))
    rv.accumulate(e, op.operands[0], e("mul", w, spread(rv, e, op, g), name=x.name + "_bar"))


def jvp_prod(fw, e, op, d, name):
    x, y = op.operands[0], op.results[0]
    axis = op.attrs.get("axis")
    yy = y if axis is None else e("expand", y, axis=axis)
    w = e("div", yy, x, name="w")
    return reduce_tangent(fw, e, e("mul", fw.expand(e, w, x), d[0]), axis, x.type.ndim)


def vjp_prod(rv, e, op, g):
    x, y = rv.primal_at(op.operands[0]), rv.primal_at(op.results[0])
    axis = op.attrs.get("axis")
    yy = y if axis is None else e("expand", y, axis=axis)
    w = e("div", yy, x, name="w")
    rv.accumulate(e, op.operands[0], e("mul", w, spread(rv, e, op, g), name=x.name + "_bar"))


JVP = {"sum": jvp_sum, "mean": jvp_mean, "max": jvp_extremum, "min": jvp_extremum,
       "prod": jvp_prod}
VJP = {"sum": vjp_sum, "mean": vjp_mean, "max": vjp_extremum, "min": vjp_extremum,
       "prod": vjp_prod}
