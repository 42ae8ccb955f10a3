"""The IR: typed SSA values, ops keyed by primitive, single-block regions, functions.

Invariants (checked by `verifier.verify`):
- every Value is defined exactly once: as a function argument, a block argument, or an op result;
- a use is dominated by its definition (structured regions: a value is visible in the block
  that defines it after its definition, and in every region nested below);
- control flow is structured: `for`, `while` and `if` ops own regions; each region is one
  `Block` with block arguments and ends in a terminator (`yield`, `condition`, `return`).
Arrays are values: `setitem` returns a new version, never mutates its operand.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import Loc
from .types import Type

_ids = itertools.count()


class Value:
    """An SSA value. Identity is the object; `name` is only a hint for printing/codegen."""

    __slots__ = ("name", "type", "id")

    def __init__(self, name: str, type: Type):
        self.name = name
        self.type = type
        self.id = next(_ids)

    def __repr__(self) -> str:
        return f"%{self.name}#{self.id}:{self.type}"


@dataclass(eq=False)
class Block:
    args: list[Value] = field(default_factory=list)
    ops: list["Op"] = field(default_factory=list)

    @property
    def terminator(self) -> "Op | None":
        return self.ops[-1] if self.ops else None


@dataclass(eq=False)
class Op:
    prim: str
    operands: list[Value]
    results: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)
    regions: list[Block] = field(default_factory=list)
    loc: Loc | None = None

    @property
    def result(self) -> Value:
        assert len(self.results) == 1, self.prim
        return self.results[0]


@dataclass(eq=False)
class Function:
    name: str
    args: list[Value]
    body: Block
    result_types: list[Type]
    loc: Loc | None = None
    # Which Python-level shape the results had: a single value or a tuple of them.
    returns_tuple: bool = False
    # (i, j): argument i has argument j's shape on j's dims (a tangent and its primal). The
    # entry points check it once, so backends may use j's lengths for i (fewer index checks).
    shape_links: list[tuple[int, int]] = field(default_factory=list)
    # Per result: a Python scalar (computed only from Python numbers, NumPy 2's "weak"
    # scalars) rather than a NumPy scalar; how the API types scalar results (results.py).
    python_scalars: list[bool] = field(default_factory=list)

    def walk(self) -> Iterator[Op]:
        return walk_block(self.body)


def walk_block(block: Block) -> Iterator[Op]:
    """All ops in pre-order, nested regions included."""
    for op in block.ops:
        yield op
        for r in op.regions:
            yield from walk_block(r)
