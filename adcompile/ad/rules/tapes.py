"""Derivatives of reverse mode's tape ops, so that a reverse-mode program can be differentiated
again.

Forward over reverse (Hessian-vector products): a tape of values gets a tape of tangents next
to it. Reverse over reverse (`grad(grad(f))`): a varied tape gets a *shadow* tape (created next
to it by the reverse transform, `ReverseContext.shadow`) that carries adjoints the other way:
the adjoint of `v = tape_pop(T)` pushes `v_bar` onto the shadow, and the adjoint of
`tape_push(T, v)` pops `v_bar` from it. The outer adjoint sweep meets the pops first and the
pushes last, in reverse order, so the shadow's last-in-first-out order matches.
Rule signature: see `arrays.py`."""
from __future__ import annotations

from .common import tangent_type


def jvp_tape_new(fw, e, op, d, name):
    return e("tape_new", type=str(tangent_type(op.results[0].type.elem, fw.lanes)), name=name)


def jvp_tape_push(fw, e, op, d, name):
    tape, v = op.operands
    td = fw.dot.get(tape.id)
    if td is None:
        return
    # keep the primal push's attributes: a `checked` push (one reverse mode could not reserve
    # room for, e.g. a snapshot taken inside the reverse sweep) must stay checked on the
    # tangent tape too, or it writes past the tape's capacity
    e("tape_push", td, d[1] if d[1] is not None else fw.zero(e, v), **dict(op.attrs))


def jvp_tape_reserve(fw, e, op, d, name):
    td = fw.dot.get(op.operands[0].id)
    if td is None:
        return
    like = op.operands[2:]
    if like and not fw.lanes:
        # an array tape's payload is sized from an array shaped like its elements; the
        # tangent of an array has the primal's shape (vector mode adds a lane axis, so its
        # payload is left to grow on demand: pushes of array payloads always check)
        e("tape_reserve", td, op.operands[1], like[0])
    else:
        e("tape_reserve", td, op.operands[1])


def jvp_tape_pop(fw, e, op, d, name):
    return e("tape_pop", d[0], name=name)


def vjp_tape_pop(rv, e, op, g):
    shadow = rv.shadow.get(op.operands[0].id)
    if shadow is not None:
        e("tape_push", shadow, g, checked=True)


def vjp_tape_push(rv, e, op, g):
    """Called for every push of a tape with a shadow (a push has no result to seed it)."""
    tape, v = op.operands
    shadow = rv.shadow.get(tape.id)
    if shadow is not None and v.id in rv.varied:
        rv.accumulate(e, v, e("tape_pop", shadow, name=v.name + "_bar"))


JVP = {"tape_new": jvp_tape_new, "tape_push": jvp_tape_push, "tape_reserve": jvp_tape_reserve,
       "tape_pop": jvp_tape_pop}

VJP = {"tape_pop": vjp_tape_pop, "tape_push": vjp_tape_push}
