"""Getting a user function's source and AST, and turning AST positions into `Loc`s."""
from __future__ import annotations

import inspect
import textwrap
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import gast

from ..errors import Loc, UnsupportedSyntax


@dataclass
class SourceInfo:
    """The parsed function and what is needed to point at its lines in the user's file."""

    func: object
    node: gast.FunctionDef
    filename: str
    first_line: int      # 1-based line number of the source's first line in the file
    indent: int          # columns removed by dedenting
    lines: list[str]     # the file's lines as the user wrote them (dedent undone)

    def loc(self, node) -> Loc:
        line = getattr(node, "lineno", None) or self.node.lineno
        col = getattr(node, "col_offset", 0) or 0
        end_line = getattr(node, "end_lineno", line)
        end_col = getattr(node, "end_col_offset", None)
        file_line = line + self.first_line - 1
        src = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if end_col is not None:
            end_col = end_col + self.indent if end_line == line else len(src)
        return Loc(self.filename, file_line, col + self.indent, end_col, src,
                   getattr(self.func, "__name__", ""))


# keyed by the function object itself (weakly): code objects compare by value, so two
# functions from different modules (or closures of one factory) could otherwise share an entry
_CACHE: "weakref.WeakKeyDictionary[object, SourceInfo]" = weakref.WeakKeyDictionary()


# while the compile driver builds a program: every function whose source it reads (the
# program's callees), so its disk cache can key the program by their sources too
_WATCHERS: list[list] = []


@contextmanager
def watching() -> Iterator[list]:
    """Collect the functions whose source `get_source` is asked for inside this block."""
    seen: list = []
    _WATCHERS.append(seen)
    try:
        yield seen
    finally:
        # by identity: nested builds' lists are often equal (the same callees)
        del _WATCHERS[next(i for i, w in enumerate(_WATCHERS) if w is seen)]


def get_source(func) -> SourceInfo:
    for seen in _WATCHERS:
        seen.append(func)
    code = getattr(func, "__code__", None)
    try:
        hit = _CACHE.get(func)
    except TypeError:       # not weak-referenceable: no caching
        hit = None
    if hit is not None:
        return hit
    try:
        raw_lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as e:
        raise UnsupportedSyntax(
            f"cannot read the source of {getattr(func, '__name__', func)!r}: {e}",
            hint="adcompile compiles Python source: define the function in a .py file "
                 "(not in an interactive prompt or with exec)") from None
    filename = inspect.getsourcefile(func) or code.co_filename
    if getattr(func, "__name__", "") == "<lambda>":
        # inspect gives the whole lines around a lambda (a for/if/call): never a function
        raise UnsupportedSyntax(
            "a lambda cannot be compiled or differentiated (adcompile compiles 'def' functions)",
            Loc(filename, first, 0, None, raw_lines[0].rstrip("\n") if raw_lines else ""),
            "define it with def at module level (def f(x): return ...) and pass that")
    raw = "".join(raw_lines)
    dedented = textwrap.dedent(raw)
    indent = 0
    for a, b in zip(raw_lines, dedented.splitlines(keepends=True)):
        if a.strip():
            indent = len(a) - len(b)
            break
    tree = gast.parse(dedented)
    node = next((n for n in tree.body if isinstance(n, gast.FunctionDef)), None)
    if node is None and tree.body and isinstance(tree.body[0], gast.AsyncFunctionDef):
        info = SourceInfo(func, tree.body[0], filename, first, indent,
                          [ln.rstrip("\n") for ln in raw_lines])
        raise UnsupportedSyntax("async functions cannot be compiled", info.loc(tree.body[0]),
                                "write a plain 'def' function")
    if node is None:
        raise UnsupportedSyntax(f"{getattr(func, '__name__', func)!r} is not a plain function "
                                "defined with 'def'",
                                hint="lambdas and other callables cannot be compiled")
    info = SourceInfo(func, node, filename, first, indent, [ln.rstrip("\n") for ln in raw_lines])
    try:
        _CACHE[func] = info
    except TypeError:
        pass
    return info
