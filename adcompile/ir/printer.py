"""Deterministic text form of the IR; `parser.parse_function` reads it back.

    func @f(%x: f64[:], %n: i64) -> (f64) {
      %s: f64 = const() {value=0.0, type='f64'}
      %s.1: f64 = for(%c0, %n, %c1, %s) {
      ^(%i: i64, %s.2: f64):
        ...
        yield(%t)
      }
      return(%s.1)
    }

Names come from the values' hints, made unique by numbering in order of definition.
"""
from __future__ import annotations

import math
from typing import Any

from .core import Block, Function, Op, Value


class _Namer:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.taken: set[str] = set()
        self.count: dict[str, int] = {}

    def define(self, v: Value) -> str:
        base = _clean(v.name)
        name, n = base, self.count.get(base, 0)
        while name in self.taken:
            n += 1
            name = f"{base}.{n}"
        self.count[base] = n
        self.taken.add(name)
        self.names[v.id] = name
        return name

    def ref(self, v: Value) -> str:
        return "%" + self.names.get(v.id, f"<undefined {v.name}#{v.id}>")


def _clean(name: str) -> str:
    out = "".join(c if (c.isalnum() or c == "_") else "_" for c in name) or "t"
    return out


def format_attr(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(format_attr(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return repr(v)


def print_function(fn: Function) -> str:
    namer = _Namer()
    lines: list[str] = []
    args = ", ".join(f"%{namer.define(a)}: {a.type}" for a in fn.args)
    rets = ", ".join(str(t) for t in fn.result_types)
    tup = " tuple" if fn.returns_tuple else ""
    lines.append(f"func @{fn.name}({args}) -> ({rets}){tup} {{")
    _print_block_ops(fn.body, namer, lines, 1)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _print_block_ops(block: Block, namer: _Namer, lines: list[str], depth: int) -> None:
    for op in block.ops:
        _print_op(op, namer, lines, depth)


def _print_op(op: Op, namer: _Namer, lines: list[str], depth: int) -> None:
    ind = "  " * depth
    operands = ", ".join(namer.ref(v) for v in op.operands)
    attrs = ""
    if op.attrs:
        attrs = " {" + ", ".join(f"{k}={format_attr(op.attrs[k])}"
                                 for k in sorted(op.attrs)) + "}"
    # Results are named after the regions are printed would break definition order for
    # readers; define them first (they are not visible inside their own regions anyway).
    res = ", ".join(f"%{namer.define(r)}: {r.type}" for r in op.results)
    head = f"{ind}{res} = " if op.results else ind
    if not op.regions:
        lines.append(f"{head}{op.prim}({operands}){attrs}")
        return
    lines.append(f"{head}{op.prim}({operands}){attrs} {{")
    for i, region in enumerate(op.regions):
        if i:
            lines.append(f"{ind}}} {{")
        bargs = ", ".join(f"%{namer.define(a)}: {a.type}" for a in region.args)
        lines.append(f"{ind}^({bargs}):")
        _print_block_ops(region, namer, lines, depth + 1)
    lines.append(f"{ind}}}")
