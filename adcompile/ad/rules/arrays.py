"""Derivatives of whole-array structural ops: copy, cast, transpose, select, full, and the
shape helpers that only derivative code contains (sum_to, broadcast_like, expand).

JVP rules take `(fw, e, op, d, name)`: the forward transform, an emitter, the op, the operand
tangents (None: zero) and the tangent's name; they return the result's tangent (None: zero).
VJP rules take `(rv, e, op, g)`: the reverse context, an emitter, the op and the result's
adjoint; they accumulate into the operands' adjoints.
"""
from __future__ import annotations

from ...errors import NonDifferentiable
from ...ir.types import scalar_of
from .common import is_float, ndim, same_op


def jvp_cast(fw, e, op, d, name):
    return e("cast", d[0], to=op.attrs["to"], name=name)


def vjp_cast(rv, e, op, g):
    x = op.operands[0]
    if is_float(x):
        rv.accumulate(e, x, e("cast", g, to=scalar_of(x.type).name, name=x.name + "_bar"))


def vjp_copy(rv, e, op, g):
    rv.accumulate(e, op.operands[0], g)


def vjp_transpose(rv, e, op, g):
    rv.accumulate(e, op.operands[0], e("transpose", g, name=op.operands[0].name + "_bar"))


def jvp_select(fw, e, op, d, name):
    c, a, b = op.operands
    y = op.results[0]
    ta = d[1] if d[1] is not None else fw.zero(e, a)
    tb = d[2] if d[2] is not None else fw.zero(e, b)
    return e("select", fw.expand(e, c, y), fw.fit(e, ta, y), fw.fit(e, tb, y), name=name)


def vjp_select(rv, e, op, g):
    c, a, b = op.operands
    zero = e.c(0.0, g)
    pc = rv.primal_at(c)
    if a.id in rv.varied:
        ga = e("select", pc, g, zero)
        rv.accumulate(e, a, rv.unbroadcast(e, ga, a) if ndim(a) or ndim(ga) else ga)
    if b.id in rv.varied:
        gb = e("select", pc, zero, g)
        rv.accumulate(e, b, rv.unbroadcast(e, gb, b) if ndim(b) or ndim(gb) else gb)


def jvp_full(fw, e, op, d, name):
    return fw.fit(e, d[-1], op.results[0]) if d[-1] is not None else None


def vjp_full(rv, e, op, g):
    rv.accumulate(e, op.operands[-1], e("sum", g, axis=None))


def jvp_sum_to(fw, e, op, d, name):
    like = op.operands[1]
    if fw.lanes:     # reduce to like's shape plus the trailing lane axis
        like = fw.dot.get(like.id) or fw.zero(e, like)
    return e("sum_to", d[0], like, name=name)


def jvp_broadcast_like(fw, e, op, d, name):
    if fw.lanes:
        if len(op.operands) == 3:
            raise NonDifferentiable("vector forward mode of a program that already carries "
                                    "tangent lanes is not supported", op.loc,
                                    "nest jacfwd inside a scalar transform (grad, jvp) "
                                    "instead")
        return e("broadcast_like", d[0], op.operands[1], fw.L, name=name)
    return e("broadcast_like", d[0], *op.operands[1:], name=name)


def jvp_expand(fw, e, op, d, name):
    return e("expand", d[0], axis=op.attrs["axis"], name=name)


# reverse mode of the shape helpers: a reverse-mode program differentiated again
def vjp_sum_to(rv, e, op, g):
    x = op.operands[0]
    rv.accumulate(e, x, e("broadcast_like", g, rv.primal_at(x), name=x.name + "_bar"))


def vjp_broadcast_like(rv, e, op, g):
    x = op.operands[0]
    rv.accumulate(e, x, e("sum_to", g, rv.primal_at(x), name=x.name + "_bar")
                  if ndim(x) else e("sum", g, axis=None, name=x.name + "_bar"))


def vjp_expand(rv, e, op, g):
    x = op.operands[0]
    rv.accumulate(e, x, e("sum", g, axis=op.attrs["axis"], name=x.name + "_bar"))


# breadth (issue 16): reshape and permute (linear; the adjoint is the inverse shape change)
def jvp_reshape(fw, e, op, d, name):
    dims = list(op.operands[1:]) + ([fw.L] if fw.lanes else [])
    return e("reshape", d[0], *dims, name=name)


def vjp_reshape(rv, e, op, g):
    x = rv.primal_at(op.operands[0])
    dims = [e("dim", x, axis=k, name="n") for k in range(x.type.ndim)]
    rv.accumulate(e, op.operands[0], e("reshape", g, *dims, name=x.name + "_bar"))


def vjp_permute(rv, e, op, g):
    axes = op.attrs["axes"]
    inverse = tuple(sorted(range(len(axes)), key=lambda j: axes[j]))
    rv.accumulate(e, op.operands[0], e("permute", g, axes=inverse,
                                       name=op.operands[0].name + "_bar"))


JVP = {"copy": same_op("copy"), "cast": jvp_cast, "transpose": same_op("transpose"),
       "select": jvp_select, "full": jvp_full, "sum_to": jvp_sum_to,
       "broadcast_like": jvp_broadcast_like, "expand": jvp_expand,
       "reshape": jvp_reshape, "permute": same_op("permute")}
VJP = {"copy": vjp_copy, "cast": vjp_cast, "transpose": vjp_transpose, "select": vjp_select,
       "full": vjp_full, "sum_to": vjp_sum_to, "broadcast_like": vjp_broadcast_like,
       "expand": vjp_expand, "reshape": vjp_reshape, "permute": vjp_permute}
