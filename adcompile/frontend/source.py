"""Getting a user function's source and AST, and turning AST positions into `Loc`s."""
from __future__ import annotations

import inspect
import linecache
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


def _no_source(func, why) -> UnsupportedSyntax:
    return UnsupportedSyntax(
        f"cannot read the source of {getattr(func, '__name__', func)!r}: {why}",
        hint="adcompile compiles Python source: define the function in a .py file "
             "(not in an interactive prompt or with exec)")


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
    if getattr(func, "__name__", "") == "<lambda>" and code is not None:
        info = _lambda_source(func)
        try:
            _CACHE[func] = info
        except TypeError:
            pass
        return info
    try:
        raw_lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as e:
        raise _no_source(func, e) from None
    filename = inspect.getsourcefile(func) or code.co_filename
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
                                hint="classes and callable objects cannot be compiled: pass a def or a lambda")
    info = SourceInfo(func, node, filename, first, indent, [ln.rstrip("\n") for ln in raw_lines])
    try:
        _CACHE[func] = info
    except TypeError:
        pass
    return info


# -- lambdas ------------------------------------------------------------------------------------
# A lambda has no source of its own: `inspect` returns the whole lines around it (a call, a
# for statement, two lambdas on one line). Its code object knows where its body is
# (`co_positions`: the line and column span of every instruction), so the file is parsed
# whole and the lambda whose body holds all of those positions, the innermost such, is it.
_PARSED: dict[tuple[str, int], object] = {}


def _parsed_file(filename: str, text: str):
    key = (filename, hash(text))
    tree = _PARSED.get(key)
    if tree is None:
        if len(_PARSED) > 64:
            _PARSED.clear()
        tree = _PARSED[key] = gast.parse(text)
    return tree


def _body_span(code) -> tuple | None:
    """(first line, first col, last line, last col) of a lambda's body, from its code."""
    spans = [p for p in code.co_positions()
             if None not in p and not (p[2] == 0 and p[3] == 0)]   # RESUME: no column
    if not spans:
        return None
    start = min((p[0], p[2]) for p in spans)
    end = max((p[1], p[3]) for p in spans)
    return start + end


def find_lambda(tree, code) -> gast.Lambda | None:
    """The Lambda node of `tree` that `code` was compiled from, or None."""
    span = _body_span(code)   # None without column tables (python -X no_debug_ranges)
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    best = None
    found = []
    for n in gast.walk(tree):
        if not isinstance(n, gast.Lambda) or n.lineno != code.co_firstlineno:
            continue
        a = n.args
        if [x.id for x in a.posonlyargs + a.args + a.kwonlyargs] != names:
            continue
        found.append(n)
        b = n.body
        if span is None or (b.lineno, b.col_offset) > span[:2] or \
                (b.end_lineno, b.end_col_offset) < span[2:]:
            continue
        if best is None or (b.lineno, b.col_offset) >= (best.body.lineno,
                                                       best.body.col_offset):
            best = n
    if span is None and len(found) == 1:   # by its line alone, where that is unambiguous
        return found[0]
    return best


def as_function_def(lam, name: str = "<lambda>") -> gast.FunctionDef:
    """`lambda args: e` as `def <lambda>(args): return e`, at the lambda's position (the
    frontend lowers both alike; `name` is what messages call it)."""
    ret = gast.copy_location(gast.Return(value=lam.body), lam.body)
    fn = gast.FunctionDef(name=name, args=lam.args, body=[ret], decorator_list=[],
                          returns=None, type_comment=None)
    if hasattr(gast.FunctionDef, "_fields") and "type_params" in gast.FunctionDef._fields:
        fn.type_params = []
    return gast.copy_location(fn, lam)


def _lambda_source(func) -> SourceInfo:
    code = func.__code__
    filename = inspect.getsourcefile(func) or code.co_filename
    lines = linecache.getlines(filename, getattr(func, "__globals__", None))
    if not lines:
        raise _no_source(func, "could not get source code (no file holds it)")
    try:
        tree = _parsed_file(filename, "".join(lines))
    except SyntaxError as e:
        raise _no_source(func, f"its file does not parse now ({e.msg})") from None
    lam = find_lambda(tree, code)
    if lam is None and _body_span(code) is None:
        raise UnsupportedSyntax(
            f"cannot tell which lambda of {filename}:{code.co_firstlineno} this is: Python "
            "runs without column positions (-X no_debug_ranges)",
            hint="put the lambda on a line of its own, or define it with def")
    if lam is None:
        raise _no_source(func, f"no lambda at {filename}:{code.co_firstlineno} matches it "
                               "(was the file edited after it was imported?)")
    return SourceInfo(func, as_function_def(lam), filename, 1, 0,
                      [ln.rstrip("\n") for ln in lines])


def lambda_text(func) -> tuple[str, int, int, str] | None:
    """(file, line, column, source text) of a lambda, for cache keys; None without source."""
    try:
        info = get_source(func)
    except UnsupportedSyntax:
        return None
    n = info.node
    text = "\n".join(info.lines[n.lineno - 1:n.end_lineno])
    return info.filename, n.lineno, n.col_offset, text
