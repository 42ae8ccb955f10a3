"""Derivatives of element and slice reads and writes (getitem, getslice, setitem, setslice).

A read's adjoint is a scatter-add into the array's adjoint, written in place (O(1) per element
read); a write's adjoint splits into the written value's part (the adjoint read at the index)
and the array's part (the adjoint with the written place zeroed). Rule signatures: see
`arrays.py`.
"""
from __future__ import annotations

from .common import ndim, same_op


def scatter_add(rv, e, x, g, idx, spec=None):
    """x_bar[idx] += g, in place on x's adjoint array."""
    if x.id not in rv.varied:
        return
    xb = rv.adj.get(x.id)
    if xb is None:
        xb = rv.zeros(e, x)
    if spec is None:
        cur = e("getitem", xb, *idx, name=x.name + "_bar_i")
        rv.adj[x.id] = e("setitem", xb, e("add", cur, g), *idx, name=x.name + "_bar")
    else:
        cur = e("getslice", xb, *idx, spec=spec, name=x.name + "_bar_s")
        rv.adj[x.id] = e("setslice", xb, e("add", cur, g), *idx, spec=spec,
                         name=x.name + "_bar")


def vjp_getitem(rv, e, op, g):
    scatter_add(rv, e, op.operands[0], g, [rv.primal_at(i) for i in op.operands[1:]])


def vjp_getslice(rv, e, op, g):
    scatter_add(rv, e, op.operands[0], g, [rv.primal_at(i) for i in op.operands[1:]],
                op.attrs["spec"])


def jvp_setitem(fw, e, op, d, name):
    x = op.operands[0]
    tx = d[0] if d[0] is not None else fw.zero(e, x)
    tv = d[1] if d[1] is not None else e.c(0.0, x)
    return e(op.prim, tx, tv, *op.operands[2:], name=name, **op.attrs)


def vjp_setitem(rv, e, op, g):
    x, v = op.operands[0], op.operands[1]
    idx = [rv.primal_at(i) for i in op.operands[2:]]
    spec = op.attrs.get("spec")
    if v.id in rv.varied:
        part = e("getitem", g, *idx, name=v.name + "_bar") if spec is None else \
            e("getslice", g, *idx, spec=spec, name=v.name + "_bar")
        if ndim(part) > ndim(v) or ndim(v):
            part = rv.unbroadcast(e, part, v)
        rv.accumulate(e, v, part)
    if x.id in rv.varied:
        zero = e.c(0.0, g)
        rv.accumulate(e, x, e(op.prim, g, zero, *idx, name=x.name + "_bar", **op.attrs))


JVP = {"getitem": same_op("getitem"), "getslice": same_op("getslice"),
       "setitem": jvp_setitem, "setslice": jvp_setitem}
VJP = {"getitem": vjp_getitem, "getslice": vjp_getslice, "setitem": vjp_setitem,
       "setslice": vjp_setitem}
