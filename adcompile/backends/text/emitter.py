"""A structured-text emitter: IR after the backend pipeline -> source text with named
variables and `for`/`while`/`if` statements, loop-carried values as re-assigned variables.

What differs between target languages is the `Syntax` (how a loop header, a branch, an
assignment or an empty body is written, whether blocks close with a brace); what a backend
adds is how each non-control op becomes a statement (`StructuredEmitter.statement`, usually
through a table keyed by primitive). The control-flow logic — one variable per carried slot
shared by the block arguments and the results, yields as assignments, a `while` whose
condition needs statements of its own — is written once, here.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.core import Block, Function, Op, Value
from ...ir.views import ForOp, IfOp, WhileOp


class Names:
    """Identifiers for SSA values, derived from the user's names (`x`, `x_1`, `x_bar`)."""

    def __init__(self, reserved: set[str]) -> None:
        self.of: dict[int, str] = {}
        self.count: dict[str, int] = {}
        self.reserved = reserved

    def fresh(self, hint: str) -> str:
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in hint).strip("_") or "t"
        if base[0].isdigit():
            base = "v" + base
        if base in self.reserved:
            base = base + "_"
        n = self.count.get(base, 0)
        self.count[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def define(self, v: Value, name: str | None = None) -> str:
        self.of[v.id] = name or self.fresh(v.name)
        return self.of[v.id]

    def __getitem__(self, v: Value) -> str:
        return self.of[v.id]


@dataclass(frozen=True)
class Syntax:
    """How one language spells structured control flow (Python by default)."""

    indent: str = "    "
    block_open: str = ":"
    block_close: str | None = None
    empty_body: str | None = "pass"

    def for_header(self, iv: str, lb: str, ub: str, step: str) -> str:
        rng = ub if lb == "0" and step == "1" else \
            (f"{lb}, {ub}" if step == "1" else f"{lb}, {ub}, {step}")
        return f"for {iv} in range({rng})"

    def while_header(self, cond: str) -> str:
        return f"while {cond}"

    def if_header(self, cond: str) -> str:
        return f"if {cond}"

    def else_header(self) -> str:
        return "else"

    def break_unless(self, cond: str) -> list[str]:
        """Statements leaving the innermost loop when `cond` is false (depth-relative)."""
        return [f"if not {cond}{self.block_open}", f"{self.indent}break"]

    def assign(self, targets: list[str], values: list[str]) -> list[str]:
        """Simultaneous assignment (a swap of carried values must read the old ones)."""
        return [f"{', '.join(targets)} = {', '.join(values)}"]


class StructuredEmitter:
    """Emits a function's body; subclasses write the header and `statement` for each op."""

    syntax = Syntax()

    def __init__(self, fn: Function, names: Names):
        self.fn = fn
        self.names = names
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append(self.syntax.indent * depth + text)

    def block(self, block: Block, depth: int) -> None:
        for op in block.ops:
            self.op(op, depth)

    def op(self, op: Op, depth: int) -> None:
        if op.prim == "for":
            self.emit_for(op, depth)
        elif op.prim == "while":
            self.emit_while(op, depth)
        elif op.prim == "if":
            self.emit_if(op, depth)
        elif op.prim in ("yield", "condition"):
            raise AssertionError("terminators are emitted by their parent op")
        else:
            self.statement(op, depth)

    def statement(self, op: Op, depth: int) -> None:
        raise NotImplementedError

    # -- control flow ---------------------------------------------------------------------
    def assign(self, depth: int, targets: list[str], values: list[str]) -> None:
        pairs = [(t, v) for t, v in zip(targets, values) if t != v]
        if pairs:
            for line in self.syntax.assign([t for t, _ in pairs], [v for _, v in pairs]):
                self.emit(depth, line)

    def carried(self, op: Op, args: list[Value]) -> list[str]:
        """One variable per carried slot: its block argument and its result share it."""
        out = []
        for r, a in zip(op.results, args):
            name = self.names.fresh(r.name)
            self.names.define(r, name)
            self.names.define(a, name)
            out.append(name)
        return out

    def open(self, depth: int, header: str) -> int:
        self.emit(depth, header + self.syntax.block_open)
        return len(self.lines)

    def close(self, depth: int, start: int) -> None:
        if len(self.lines) == start and self.syntax.empty_body is not None:
            self.emit(depth + 1, self.syntax.empty_body)
        if self.syntax.block_close is not None:
            self.emit(depth, self.syntax.block_close)

    def body(self, block: Block, depth: int, targets: list[str]) -> None:
        """A region's ops, then its terminator's operands assigned to the carried names."""
        self.block(Block(block.args, block.ops[:-1]), depth)
        self.assign(depth, targets, [self.names[v] for v in block.ops[-1].operands])

    def emit_for(self, op: Op, depth: int) -> None:
        loop = ForOp(op)
        lb, ub, step = (self.names[v] for v in loop.bounds)
        inits = [self.names[v] for v in loop.inits]
        names = self.carried(op, loop.carried)
        self.assign(depth, names, inits)
        iv = self.names.define(loop.iv)
        start = self.open(depth, self.syntax.for_header(iv, lb, ub, step))
        self.body(loop.body, depth + 1, names)
        self.close(depth, start)

    def emit_while(self, op: Op, depth: int) -> None:
        loop = WhileOp(op)
        names = self.carried(op, loop.before.args)
        for a, nm in zip(loop.body.args, names):
            self.names.define(a, nm)
        self.assign(depth, names, [self.names[v] for v in loop.inits])
        before = loop.before
        if len(before.ops) == 1:
            start = self.open(depth, self.syntax.while_header(self.names[loop.condition]))
        else:
            self.open(depth, self.syntax.while_header("True"))
            self.block(Block(before.args, before.ops[:-1]), depth + 1)
            for line in self.syntax.break_unless(self.names[loop.condition]):
                self.emit(depth + 1, line)
            start = -1       # the loop has statements: no empty-body filler needed
        self.body(loop.body, depth + 1, names)
        self.close(depth, start)

    def emit_if(self, op: Op, depth: int) -> None:
        branch = IfOp(op)
        names = [self.names.define(r) for r in op.results]
        start = self.open(depth, self.syntax.if_header(self.names[branch.cond]))
        self.body(branch.then, depth + 1, names)
        self.close(depth, start)
        start = self.open(depth, self.syntax.else_header())
        self.body(branch.orelse, depth + 1, names)
        self.close(depth, start)
