"""Is every output row of a function a function of the same row of its (n, m) arguments?

`jacfwd_rows` seeds the identity on every row at once, so a cross-row term (`r[i] = P[i, 0] *
P[i + 1, 1]`) would be added into row i's own columns: a silently wrong Jacobian. This
analysis runs on the primal IR of the element-read form (the one `row_seed` handles) and
proves row independence or names the first op that breaks it.

Each value gets a state: `None` (independent of the arguments), `Row(iv)` (a scalar depending
on row `iv` only, `iv` the index of an enclosing `for`), `ROWWISE` (an array whose row k
depends on row k only: the arguments themselves, an output filled row by row) or `Bad(loc)`.
A read `P[a, j]` is `Row(a)` when `a` is a loop index, else bad; `Row(i)` carried from one
iteration of loop i to the next, or out of it, is bad (it mixes rows); an array written at
row i with a `Row(i)` value is row-wise; whole-array ops other than elementwise ones on a
row-wise array are bad.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Loc
from ..ir.core import Block, Function, Op, Value
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import ArrayType
from ..ir.views import ForOp, IfOp, WhileOp


@dataclass(frozen=True)
class Row:
    iv: int   # id of the loop index


@dataclass(frozen=True)
class Bad:
    loc: Loc | None


ROWWISE = "rowwise"


def _join(a, b, loc):
    if a is None:
        return b
    if b is None or a == b:
        return a
    if isinstance(a, Bad):
        return a
    if isinstance(b, Bad):
        return b
    return Bad(loc)


class _Check:
    def __init__(self) -> None:
        self.st: dict[int, object] = {}
        self.ivs: list[int] = []          # indices of the enclosing for loops

    def get(self, v: Value):
        return self.st.get(v.id)

    def block(self, block: Block) -> None:
        for op in block.ops:
            self.op(op)

    def op(self, op: Op) -> None:
        p = op.prim
        ins = [self.get(v) for v in op.operands]
        if p in ("for", "while"):
            self.loop(op)
            return
        if p == "if":
            self.branch(op)
            return
        if p in ("yield", "condition", "return"):
            return
        if all(s is None for s in ins):
            return
        if p in ("dim", "size"):
            return
        if p == "getitem":
            self.set(op, self.read(op, ins))
            return
        if p == "setitem":
            self.set(op, self.write(op, ins))
            return
        if p in _WHOLE:
            self.set(op, _WHOLE[p](op, ins))
            return
        arrays = any(isinstance(v.type, ArrayType) for v in op.operands + op.results)
        if op.regions or (arrays and not has(op, Trait.ELEMENTWISE)):
            self.set(op, Bad(op.loc))
            return
        nd = _ndim(op.results[0]) if op.results else 0
        if any(s == ROWWISE and _ndim(v) != nd for v, s in zip(op.operands, ins)):
            self.set(op, Bad(op.loc))   # broadcasting would align rows with another axis
            return
        out = None
        for s in ins:
            out = _join(out, s, op.loc)
        self.set(op, out)

    def set(self, op: Op, state) -> None:
        for r in op.results:
            self.st[r.id] = state

    def read(self, op: Op, ins):
        src, idx = ins[0], op.operands[1]
        if any(s is not None for s in ins[1:]):
            return Bad(op.loc)          # an index computed from the arguments' values
        if src == ROWWISE:
            return Row(idx.id) if idx.id in self.ivs else Bad(op.loc)
        return src

    def write(self, op: Op, ins):
        arr, val = ins[0], ins[1]
        if any(s is not None for s in ins[2:]):
            return Bad(op.loc)
        if val is None:
            return arr
        if isinstance(val, Row) and op.operands[2].id == val.iv and arr in (None, ROWWISE):
            return ROWWISE
        return _join(arr, val, op.loc) if not isinstance(val, Row) else Bad(op.loc)

    def loop(self, op: Op) -> None:
        is_for = op.prim == "for"
        view = ForOp(op) if is_for else WhileOp(op)
        bounds = ForOp(op).bounds if is_for else []
        if any(self.get(b) is not None for b in bounds):
            self.set(op, Bad(op.loc))
            return
        carried, inits = view.carried, view.inits
        states = [self.get(v) for v in inits]
        if is_for:
            self.ivs.append(view.iv.id)
        for _ in range(4):
            for a, s in zip(carried, states):
                self.st[a.id] = s
            if not is_for:
                for a, s in zip(WhileOp(op).before.args, states):
                    self.st[a.id] = s
                self.block(WhileOp(op).before)
            self.block(view.body)
            new = [self._carry(op, s, self.get(y)) for s, y in zip(states, view.yields)]
            if new == states:
                break
            states = new
        if is_for:
            self.ivs.pop()
        for r, s in zip(op.results, states):
            self.st[r.id] = s

    def _carry(self, op: Op, before, after):
        """The state of a carried slot after one more iteration."""
        if isinstance(after, Row) and op.prim == "for" and after.iv == ForOp(op).iv.id:
            return Bad(op.loc)          # row i's value reaches the next row (or the exit)
        return _join(before, after, op.loc)

    def branch(self, op: Op) -> None:
        view = IfOp(op)
        cond = self.get(view.cond)
        self.block(view.then)
        self.block(view.orelse)
        for k, r in enumerate(op.results):
            s = _join(self.get(view.then.ops[-1].operands[k]),
                      self.get(view.orelse.ops[-1].operands[k]), op.loc)
            self.st[r.id] = _join(s, cond, op.loc) if s is not None or cond is not None \
                else None


def _ndim(v: Value) -> int:
    return v.type.ndim if isinstance(v.type, ArrayType) else 0


def _rows_kept(op: Op, ins):
    """Whole-array ops that keep row k of their (first) operand at row k."""
    src, rest = ins[0], ins[1:]
    if src != ROWWISE or any(s is not None for s in rest):
        return Bad(op.loc)
    p = op.prim
    if p == "getslice":
        ok = op.attrs["spec"].split(",")[0] == "s000"      # P[:, ...]
    elif p == "matmul":
        ok = _ndim(op.operands[0]) == 2                    # P @ W, W not an argument
    elif p in ("sum", "prod", "max", "min", "mean"):
        ok = op.attrs.get("axis") not in (None, 0) and _ndim(op.operands[0]) >= 2
    else:   # copy
        ok = True
    return ROWWISE if ok else Bad(op.loc)


_WHOLE = {p: _rows_kept for p in ("getslice", "matmul", "sum", "prod", "max", "min", "mean",
                                  "copy")}


def cross_row_use(fn: Function, active: list[int]) -> Loc | None | bool:
    """None if every output row depends only on the same row of the active arguments; else
    the location of the first op that mixes rows (True when it has no location)."""
    chk = _Check()
    for i in active:
        chk.st[fn.args[i].id] = ROWWISE
    chk.block(fn.body)
    for v in fn.body.ops[-1].operands:
        s = chk.get(v)
        if isinstance(s, Bad):
            return s.loc or True
        if isinstance(s, Row):
            return True
    return None
