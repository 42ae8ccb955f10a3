"""The one op builder: the frontend, the passes and the derivative transforms append ops
through it, result types inferred from the primitives' type rules unless given.

    b = Builder(block, loc)
    n = b("dim", x, axis=0, name="n")        # one result, type from the rule
    b.op("for", [lb, ub, step, *inits], [t.type for t in inits], regions=[body])

The target is a block or a plain list of ops (for passes that build a piece of IR before
deciding where it goes).
"""
from __future__ import annotations

from typing import Any

from .core import Block, Loc, Op, Value
from .primitives import PRIMITIVES
from .types import I64, ScalarType, Type


class Builder:
    def __init__(self, target: Block | list[Op], loc: Loc | None = None):
        self.block: Block | None = target if isinstance(target, Block) else None
        self.ops: list[Op] = target.ops if isinstance(target, Block) else target
        self.loc = loc

    def op(self, prim: str, operands: list[Value], result_types: list[Type] | None = None,
           attrs: dict[str, Any] | None = None, regions: list[Block] | None = None,
           names: list[str] | None = None) -> Op:
        """Append one op; result types from the type rule when not given."""
        attrs = dict(attrs or {})
        if result_types is None:
            result_types = PRIMITIVES[prim].rule([v.type for v in operands], attrs)
        names = names or ["t"] * len(result_types)
        results = [Value(n, t) for n, t in zip(names, result_types)]
        op = Op(prim, list(operands), results, attrs, list(regions or []), self.loc)
        self.ops.append(op)
        return op

    def __call__(self, prim: str, *operands: Value, name: str = "t", **attrs: Any) -> Value | None:
        """Append a single-result (or no-result) op and return its result."""
        op = self.op(prim, list(operands), None, attrs)
        for r in op.results:
            r.name = name
        return op.results[0] if op.results else None

    def const(self, value: Any, type: ScalarType = I64, name: str = "c") -> Value:
        v = float(value) if type.is_float else (bool(value) if type.is_bool else int(value))
        return self("const", value=v, type=type.name, name=name)

    def c(self, value: Any, type: ScalarType = I64) -> Value:
        return self.const(value, type)

    def check(self, cond: Value, message: str, kind: str = "shape") -> None:
        """Stop the program with `message` unless `cond` holds (see the `check` primitive)."""
        self.op("check", [cond], [], {"message": message, "kind": kind})
