"""Reads the printer's text form back into IR (used by golden-file tests and tooling)."""
from __future__ import annotations

import math
import re
from typing import Any

from .core import Block, Function, Op, Value
from .types import parse_type


class IRParseError(Exception):
    pass


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets, parentheses or quotes."""
    parts, depth, cur, quote = [], 0, [], None
    for c in text:
        if quote:
            cur.append(c)
            if c == quote:
                quote = None
            continue
        if c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


_ATTR_NAMES = {"inf": math.inf, "nan": math.nan, "None": None, "True": True, "False": False}


def _parse_attr(text: str) -> Any:
    return eval(text, {"__builtins__": {}}, _ATTR_NAMES)  # literals only: no builtins


_OP_RE = re.compile(r"^(?:(?P<res>.*?) = )?(?P<prim>[A-Za-z_][\w]*)\((?P<ops>[^)]*)\)"
                    r"(?: \{(?P<attrs>.*?)\})?(?P<open> \{)?$")


class _Parser:
    def __init__(self, text: str):
        self.lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        self.pos = 0
        self.env: dict[str, Value] = {}

    def _define(self, decl: str) -> Value:
        name, ty = decl.split(":", 1)
        name = name.strip().lstrip("%")
        if name in self.env:
            raise IRParseError(f"value %{name} defined twice")
        hint = name.split(".")[0]
        v = Value(hint, parse_type(ty))
        self.env[name] = v
        return v

    def _use(self, ref: str) -> Value:
        name = ref.strip().lstrip("%")
        if name not in self.env:
            raise IRParseError(f"use of undefined value %{name} (line {self.pos + 1})")
        return self.env[name]

    def parse(self) -> Function:
        m = re.match(r"^func @(\w+)\((.*)\) -> \((.*)\)( tuple)? \{$", self.lines[0])
        if not m:
            raise IRParseError(f"bad function header: {self.lines[0]!r}")
        args = [self._define(a) for a in _split_top(m.group(2))]
        rtypes = [parse_type(t) for t in _split_top(m.group(3))]
        self.pos = 1
        body = Block([], [])
        self._parse_ops(body)
        if self.lines[self.pos] != "}":
            raise IRParseError(f"expected '}}' at line {self.pos + 1}")
        return Function(m.group(1), args, body, rtypes, returns_tuple=bool(m.group(4)))

    def _parse_ops(self, block: Block) -> None:
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.startswith("}"):
                return
            m = _OP_RE.match(line)
            if not m:
                raise IRParseError(f"cannot parse line {self.pos + 1}: {line!r}")
            self.pos += 1
            operands = [self._use(r) for r in _split_top(m.group("ops"))]
            attrs = {}
            if m.group("attrs"):
                for item in _split_top(m.group("attrs")):
                    k, v = item.split("=", 1)
                    attrs[k.strip()] = _parse_attr(v)
            results = [self._define(d) for d in _split_top(m.group("res") or "")]
            regions: list[Block] = []
            if m.group("open"):
                while True:
                    hdr = re.match(r"^\^\((.*)\):$", self.lines[self.pos])
                    if not hdr:
                        raise IRParseError(f"expected block header at line {self.pos + 1}")
                    self.pos += 1
                    region = Block([self._define(a) for a in _split_top(hdr.group(1))], [])
                    self._parse_ops(region)
                    regions.append(region)
                    closing = self.lines[self.pos]
                    self.pos += 1
                    if closing == "}":
                        break
                    if closing != "} {":
                        raise IRParseError(f"expected '}}' or '}} {{' at line {self.pos}")
            block.ops.append(Op(m.group("prim"), operands, results, attrs, regions))


def parse_function(text: str) -> Function:
    return _Parser(text).parse()
