"""Derivatives of matmul for every rank pairing (vector/matrix on either side). Under tangent
lanes forward mode uses `lmatmul`, a matmul that carries the lane axis of one operand. Rule
signatures: see `arrays.py`."""
from __future__ import annotations

from .common import ndim


def jvp_matmul(fw, e, op, d, name):
    a, b = op.operands
    acc = None
    if d[0] is not None:
        acc = e("lmatmul", d[0], b, lanes="a", name=name) if fw.lanes else \
            e("matmul", d[0], b, name=name)
    if d[1] is not None:
        t = e("lmatmul", a, d[1], lanes="b", name=name) if fw.lanes else \
            e("matmul", a, d[1], name=name)
        acc = t if acc is None else e("add", acc, t, name=name)
    return acc


def vjp_matmul(rv, e, op, g):
    a0, b0 = op.operands
    a, b = rv.primal_at(a0), rv.primal_at(b0)
    na, nb = ndim(a), ndim(b)
    if a0.id in rv.varied:
        if nb == 1 and na == 1:
            ga = e("mul", b, g)
        elif nb == 1:       # (n,k)@(k,) -> (n,): outer(g, b)
            ga = e("mul", e("expand", g, axis=1), e("expand", b, axis=0))
        elif na == 1:       # (k,)@(k,m) -> (m,): b @ g
            ga = e("matmul", b, g)
        else:
            ga = e("matmul", g, e("transpose", b))
        rv.accumulate(e, a0, ga)
    if b0.id in rv.varied:
        if na == 1 and nb == 1:
            gb = e("mul", a, g)
        elif na == 1:       # (k,)@(k,m): outer(a, g)
            gb = e("mul", e("expand", a, axis=1), e("expand", g, axis=0))
        else:               # (n,k)@(k,) and (n,k)@(k,m): a.T @ g
            gb = e("matmul", e("transpose", a), g)
        rv.accumulate(e, b0, gb)


JVP = {"matmul": jvp_matmul}
VJP = {"matmul": vjp_matmul}
