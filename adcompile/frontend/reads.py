"""The module globals and closure cells a compiled function read while it was lowered.

The frontend bakes what a global name holds into the program (a number becomes a constant, a
module or function is resolved once), so the compile cache must not outlive a change of it:
each read is recorded with the object found, and a cached program is reused only while every
recorded name still holds that object (or an equal number of the same type). A global changed
between calls therefore compiles anew, as if the function had been called in CPython.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MISSING = object()   # the name was not bound there (a builtin was used instead)


@dataclass(frozen=True)
class Read:
    """`where[name]` (a globals dict) or `where.cell_contents` (a closure cell, name None)
    held `value` when the function was lowered."""

    where: Any
    name: str | None
    value: Any

    def current(self) -> Any:
        if self.name is None:
            try:
                return self.where.cell_contents
            except ValueError:
                return MISSING
        return self.where.get(self.name, MISSING)

    def unchanged(self) -> bool:
        now = self.current()
        if now is self.value:
            return True
        if type(now) is not type(self.value):
            return False
        try:
            return bool(now == self.value)
        except (TypeError, ValueError):   # no usable ==: only identity counts
            return False


def record(reads: dict, where: Any, name: str | None, value: Any) -> None:
    """Remember one read (the first per place and name: the frontend sees one value)."""
    reads.setdefault((id(where), name), Read(where, name, value))


def unchanged(reads: tuple[Read, ...]) -> bool:
    """Does every recorded name still hold what the program was compiled with?"""
    return all(r.unchanged() for r in reads)
