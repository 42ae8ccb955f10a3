"""What the call path needs to know about a compiled program, without its IR.

The API boxes results, checks that a gradient's function returns one float, and points error
messages at the user's function: all of that reads the primal's result types, whether it
returns a tuple, which results are Python scalars and its location. A program loaded from the
disk cache has no IR (that would mean running the frontend), so it carries this summary
instead; its fields mirror `ir.core.Function`'s, so code written against a Function reads it
too. It round-trips through JSON for the cache's manifests.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import Loc
from ..ir.core import Function
from ..ir.types import SCALARS, ArrayType, Type


@dataclass(frozen=True)
class Interface:
    """The primal's outward shape (`result_types`, `returns_tuple`, `python_scalars`, `loc`,
    `name`) and the location of the backend-stage program (for internal errors)."""

    name: str
    result_types: list[Type]
    returns_tuple: bool
    python_scalars: list[bool] = field(default_factory=list)
    loc: Loc | None = None
    backend_loc: Loc | None = None

    @classmethod
    def of(cls, primal: Function, backend: Function) -> "Interface":
        return cls(primal.name, list(primal.result_types), primal.returns_tuple,
                   list(primal.python_scalars), primal.loc, backend.loc)

    def to_json(self) -> dict:
        return {"name": self.name, "result_types": [str(t) for t in self.result_types],
                "returns_tuple": self.returns_tuple, "python_scalars": self.python_scalars,
                "loc": asdict(self.loc) if self.loc else None,
                "backend_loc": asdict(self.backend_loc) if self.backend_loc else None}

    @classmethod
    def from_json(cls, d: dict) -> "Interface":
        return cls(d["name"], [parse_type(t) for t in d["result_types"]],
                   bool(d["returns_tuple"]), [bool(w) for w in d["python_scalars"]],
                   Loc(**d["loc"]) if d["loc"] else None,
                   Loc(**d["backend_loc"]) if d["backend_loc"] else None)


def parse_type(text: str) -> Type:
    """A result type from its printed form (`f64`, `f32[:, :]`); results are never tapes."""
    name, _, dims = text.partition("[")
    scalar = SCALARS[name]
    return ArrayType(scalar, dims.count(":")) if dims else scalar
