"""Shorthands for writing cases: compiled code against CPython on fresh arguments."""
from __future__ import annotations

from collections.abc import Callable

from .case import Case


def same_as_python(name: str, compiled: Callable, func: Callable, args: Callable[[], tuple],
                   category: str, where: str | None = "line") -> Case:
    """`compiled(*args())` must equal `func(*args())` run by CPython (or be rejected
    precisely, at a `# ERR` line of the group's file when `where="line"`)."""
    return Case(name, run=lambda: compiled(*args()), expect="python",
                python=lambda: func(*args()), where=where, category=category)


def rejects(name: str, run: Callable[[], object], error, category: str,
            where: str | None = "line") -> Case:
    """Misuse: `run()` must raise `error` with a hint and the location `where`."""
    return Case(name, run=run, expect="error", error=error, where=where, category=category)
