"""Tangents of reverse mode's tape ops, for forward over reverse (Hessian-vector products):
a tape of values gets a tape of tangents next to it. Reverse mode never differentiates tapes.
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
    e("tape_push", td, d[1] if d[1] is not None else fw.zero(e, v))
    return


def jvp_tape_reserve(fw, e, op, d, name):
    td = fw.dot.get(op.operands[0].id)
    if td is not None:
        e("tape_reserve", td, op.operands[1])


def jvp_tape_pop(fw, e, op, d, name):
    return e("tape_pop", d[0], name=name)


JVP = {"tape_new": jvp_tape_new, "tape_push": jvp_tape_push, "tape_reserve": jvp_tape_reserve,
       "tape_pop": jvp_tape_pop}
