"""Small helpers shared by the structural rule families (no rules here)."""
from __future__ import annotations

from ...ir.core import Value
from ...ir.types import ArrayType, ScalarType, TapeType, scalar_of


def ndim(v: Value) -> int:
    return v.type.ndim if isinstance(v.type, ArrayType) else 0


def is_float(v: Value) -> bool:
    return isinstance(v.type, (ScalarType, ArrayType)) and scalar_of(v.type).is_float


def same_op(prim: str):
    """JVP of an op linear in its first operand: the same op applied to the tangent."""
    def rule(fw, e, op, d, name):
        return e(prim, d[0], *op.operands[1:], name=name, **op.attrs)
    return rule


def tangent_type(t, lanes: bool):
    """The type of a tangent of a `t` value: `t` itself, or with a trailing lane axis."""
    if isinstance(t, TapeType):
        return TapeType(tangent_type(t.elem, lanes))
    if not lanes:
        return t
    return ArrayType(scalar_of(t), (t.ndim if isinstance(t, ArrayType) else 0) + 1)
