"""Derivatives of reductions (sum, mean, max, min, prod), over all axes or one.

Forward mode reduces the tangent like the primal (under lanes, a full reduction keeps the
trailing lane axis); reverse mode spreads the adjoint back over the reduced axes. A max/min
shares its derivative equally among tied extremal elements (the NaN elements where the result
is NaN); prod's weight of an element is the product of the others, exact with zeros in x
(to the second derivative).
Rule signatures: see `arrays.py`.
"""
from __future__ import annotations

from ...ir.core import Value
from .elementwise import fdiv


def extremum_weights(e, x: Value, y: Value, axis) -> Value:
    """Weights of a max/min reduction's derivative: tied extremal elements share it equally;
    where the result is NaN (propagated from x), the NaN elements do."""
    m = y if axis is None else e("expand", y, axis=axis)
    mask = e("cast", e("or", e("eq", x, m), e("isnan", x)), to=x.type.dtype.name,
             name="at_ext")
    count = e("sum", mask, axis=axis)
    if axis is not None:
        count = e("expand", count, axis=axis)
    return fdiv(e, mask, count)


def prod_weights(e, x: Value, axis) -> Value:
    """d prod(x) / d x_i, the product of the other elements, exact with zeros in x and with
    an exact derivative itself (so hessians are exact too). With p the product of the nonzero
    elements, Z the product of the zero ones (1 if none, a differentiable 0 otherwise):
    p / x_i * Z at a nonzero x_i; at a zero x_i, p times the product of the other zeros
    (1 if there are none, the other zero itself if there is one, else 0)."""
    dt = x.type.dtype.name
    zero = e("eq", x, e.c(0.0, x))
    one, nil = e.c(1.0, x), e.c(0.0, x)
    nz = e("sum", e("cast", zero, to=dt), axis=axis, name="n0")
    x1 = e("select", zero, one, x, name="x1")
    p = e("prod", x1, axis=axis, name="p")
    zs = e("prod", e("select", zero, x, one), axis=axis, name="z")
    sz = e("sum", e("select", zero, x, nil), axis=axis, name="sz")
    if axis is not None:
        nz, p, zs, sz = (e("expand", v, axis=axis) for v in (nz, p, zs, sz))
    others = e("select", e("eq", nz, one), one,
               e("select", e("eq", nz, e.c(2.0, x)), e("sub", sz, x), nil), name="zo")
    return e("select", zero, e("mul", p, others), e("mul", fdiv(e, p, x1), zs), name="w")


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
    return e("div", s, e("cast", n, to=x.type.dtype.name), name=name, ieee=True)


def vjp_mean(rv, e, op, g):
    x = rv.primal_at(op.operands[0])
    axis = op.attrs.get("axis")
    n = e("size", x) if axis is None else e("dim", x, axis=axis)
    full = spread(rv, e, op, g)
    rv.accumulate(e, op.operands[0], e("div", full, e("cast", n, to=x.type.dtype.name),
                                         name=x.name + "_bar", ieee=True))


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
    x = op.operands[0]
    axis = op.attrs.get("axis")
    w = prod_weights(e, x, axis)
    return reduce_tangent(fw, e, e("mul", fw.expand(e, w, x), d[0]), axis, x.type.ndim)


def vjp_prod(rv, e, op, g):
    x = rv.primal_at(op.operands[0])
    axis = op.attrs.get("axis")
    w = prod_weights(e, x, axis)
    rv.accumulate(e, op.operands[0], e("mul", w, spread(rv, e, op, g), name=x.name + "_bar"))


JVP = {"sum": jvp_sum, "mean": jvp_mean, "max": jvp_extremum, "min": jvp_extremum,
       "prod": jvp_prod}
VJP = {"sum": vjp_sum, "mean": vjp_mean, "max": vjp_extremum, "min": vjp_extremum,
       "prod": vjp_prod}
