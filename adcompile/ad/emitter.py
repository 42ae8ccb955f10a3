"""A tiny op builder for derivative code: `e(prim, *operands, **attrs)` returns the result."""
from __future__ import annotations

from typing import Any

from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import ArrayType, ScalarType, TapeType, scalar_of

# value id -> Python value, for constants built through `Emitter.c` (lets rules skip `1 * g`)
CONST_VALUES: dict[int, Any] = {}


class Lazy:
    """A primal value fetched only if a rule really uses it as an operand (not just its type)."""

    __slots__ = ("value", "fetch")

    def __init__(self, value: Value, fetch):
        self.value = value
        self.fetch = fetch

    @property
    def type(self):
        return self.value.type

    @property
    def name(self):
        return self.value.name

    def get(self) -> Value:
        return self.fetch(self.value)


def resolve(v):
    return v.get() if isinstance(v, Lazy) else v


class Emitter(Builder):
    """The IR builder for derivative code: operands may be `Lazy` primal values, constants
    remember their Python value (so rules can skip `1 * g`)."""

    def __call__(self, prim: str, *operands: Value, name: str = "t", **attrs: Any) -> Value:
        return super().__call__(prim, *(resolve(v) for v in operands), name=name, **attrs)

    def c(self, value: Any, like: Value | ScalarType) -> Value:
        t = like if isinstance(like, ScalarType) else scalar_of(like.type)
        v = float(value) if t.is_float else (int(value) if t.is_int else bool(value))
        out = self("const", value=v, type=t.name, name="c")
        CONST_VALUES[out.id] = v
        return out

    def scale(self, part: Value, g: Value, name: str) -> Value:
        """part * g, without multiplying by a literal 1 or -1."""
        k = CONST_VALUES.get(getattr(part, "id", None))
        if k == 1:
            return g
        if k == -1:
            return self("neg", g, name=name)
        return self("mul", part, g, name=name)

    def dims(self, v: Value) -> list[Value]:
        return [self("dim", v, axis=k, name="n") for k in range(v.type.ndim)]

    def zeros_like(self, v: Value, lanes: Value | None = None, name: str = "z") -> Value:
        """Zeros shaped like primal `v` (plus a trailing lane axis when `lanes` is given)."""
        t = v.type
        if isinstance(t, TapeType):
            raise TypeError("no zeros for tapes")
        dt = scalar_of(t)
        dims = self.dims(v) if isinstance(t, ArrayType) else []
        if lanes is not None:
            dims.append(lanes)
        if not dims:
            return self.c(0.0, dt)
        return self("zeros", *dims, dtype=dt.name, name=name)
