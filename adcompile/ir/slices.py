"""The slice spec of `getslice`/`setslice`: which leading axes are indexed, which are sliced,
and which slice bounds are dynamic operands.

A spec is one entry per leading axis, comma separated: `i` (an integer index operand: the axis
is dropped), or `s` followed by three flags saying whether a start, stop and step operand is
present, e.g. `s110` is `a:b`, `s001` is `::k`. This module is the one parser of that text; the
type rule, the interpreter and every backend read specs through it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Axis:
    """One leading axis of a slice spec: an index, or a slice with optional bounds."""

    is_index: bool
    has_start: bool = False
    has_stop: bool = False
    has_step: bool = False

    @property
    def nops(self) -> int:
        return 1 if self.is_index else self.has_start + self.has_stop + self.has_step

    @property
    def text(self) -> str:
        if self.is_index:
            return "i"
        return "s" + "".join("1" if f else "0" for f in (self.has_start, self.has_stop,
                                                          self.has_step))


@dataclass(frozen=True)
class Bound:
    """An axis with its operands bound: `index` for an index axis, else start/stop/step
    (None where the spec leaves the bound out)."""

    is_index: bool
    index: object = None
    start: object = None
    stop: object = None
    step: object = None


@dataclass(frozen=True)
class SliceSpec:
    axes: tuple[Axis, ...]

    @staticmethod
    def parse(text: str) -> "SliceSpec":
        return _parse(text)

    @staticmethod
    def of(axes: Sequence[Axis]) -> "SliceSpec":
        return SliceSpec(tuple(axes))

    @property
    def text(self) -> str:
        return ",".join(a.text for a in self.axes)

    @property
    def nops(self) -> int:
        """Number of dynamic operands (indices and present bounds)."""
        return sum(a.nops for a in self.axes)

    @property
    def kept(self) -> int:
        """Number of the spec's axes that survive (the sliced ones)."""
        return sum(not a.is_index for a in self.axes)

    def result_ndim(self, ndim: int) -> int:
        return ndim - len(self.axes) + self.kept

    def bind(self, operands: Sequence[T]) -> list[Bound]:
        """Split the dynamic operands over the axes, in spec order."""
        if len(operands) != self.nops:
            raise ValueError(f"slice spec {self.text!r} takes {self.nops} operands, "
                             f"got {len(operands)}")
        out, it = [], iter(operands)
        for a in self.axes:
            if a.is_index:
                out.append(Bound(True, index=next(it)))
            else:
                out.append(Bound(False, start=next(it) if a.has_start else None,
                                 stop=next(it) if a.has_stop else None,
                                 step=next(it) if a.has_step else None))
        return out


@lru_cache(maxsize=None)
def _parse(text: str) -> SliceSpec:
    axes = []
    for part in text.split(","):
        if part == "i":
            axes.append(Axis(True))
        elif len(part) == 4 and part[0] == "s" and set(part[1:]) <= {"0", "1"}:
            axes.append(Axis(False, part[1] == "1", part[2] == "1", part[3] == "1"))
        else:
            raise ValueError(f"bad slice spec entry {part!r} in {text!r}")
    return SliceSpec(tuple(axes))
