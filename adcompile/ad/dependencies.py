"""Dependency mode: forward mode over the boolean semiring, for Jacobian sparsity patterns.

A tangent here is a bitset of input entries (int64 words along the trailing lane axis: lane w,
bit k stands for input entry 64*w + k of the pass): the set of inputs the value depends on.
The program is vector-forward mode (`forward.py`, every derivative rule reused) with its tangent
arithmetic read in the semiring where + is union and multiplying by a primal value is the
identity: `a*t + b*u` becomes `t | u`, `-t` and casts are `t`, a sum of tangents is the union of
their sets, a matmul's contraction the union over the contracted axis, and `np.where`/min/max
take the union of both sides (their partials are weights, which the semiring drops). Integer
values, index arrays and loop bounds are the primal's, computed from the given arguments, so
gathers and scatters by index arrays (BA's `obs_cam`) give exactly the pattern they decide.

The pattern is structural at the point: no cancellation (x - x) or zero partial (y * x at
y == 0) removes an entry. A branch (`if`) on a float takes the side the point takes, as the
program does. A rule whose tangent code this mapping does not know raises `Unmapped`; the
caller (`jacobian/sparsity.py`) then falls back to NaN-seeded float passes, which cover every
rule at 64 inputs per pass instead of 64 per word.
"""
from __future__ import annotations

from ..custom.functions import REGISTRY
from ..errors import AdError
from ..ir.core import Block, Function, Op, Value
from ..ir.types import I64, ArrayType, TapeType
from .emitter import Emitter, resolve
from .forward import Forward

BITS = I64   # the word type of a bitset lane

# ops that move or copy tangent elements without arithmetic: unchanged on bitsets
_STRUCTURAL = {"getitem", "getslice", "copy", "transpose", "expand", "broadcast_like",
               "reshape", "permute"}
_METADATA = {"dim", "size"}   # read a tangent's shape: primal (integer) results


class Unmapped(AdError):
    """Tangent code with no meaning on bitsets (a user JVP rule, a tape, an op not mapped
    here): sparsity detection falls back to float passes."""


class DependencyEmitter(Emitter):
    """The emitter derivative rules write through: ops on bitset values are rewritten to
    their semiring form as they are emitted; ops on primal values only are emitted as is
    (partials nobody reads are removed by DCE)."""

    def __init__(self, block, loc, fw: "Dependencies"):
        super().__init__(block, loc)
        self.fw = fw

    def _lane(self, v) -> bool:
        return getattr(v, "id", None) in self.fw.bit_ids

    def _mark(self, v: Value) -> Value:
        self.fw.bit_ids.add(v.id)
        return v

    def __call__(self, prim, *operands, name="t", **attrs):
        ops = [resolve(v) for v in operands]
        lane = [self._lane(v) for v in ops]
        if not any(lane) or prim in _METADATA:
            return super().__call__(prim, *ops, name=name, **attrs)
        out = self._semiring(prim, ops, lane, name, attrs)
        return self._mark(out)

    def _semiring(self, prim, ops, lane, name, attrs) -> Value:
        emit = super().__call__
        if prim in ("add", "sub") and all(lane):
            return emit("bitor", *ops, name=name)
        if prim in ("neg", "cast") and lane[0]:
            return ops[0]
        if prim in ("mul", "div") and sum(lane) == 1 and (lane[0] or prim == "mul"):
            t, p = (ops[0], ops[1]) if lane[0] else (ops[1], ops[0])
            if not isinstance(p.type, ArrayType):
                return t   # a scalar factor changes no shape
            ones = emit("ones", *self.dims(p), dtype=BITS.name, name="ones")
            return emit("mul", t, ones, name=name)   # x * 1 == x on words: broadcasting only
        if prim == "select" and not lane[0]:
            a, b = ops[1:]
            if lane[1] and lane[2]:
                return emit("bitor", a, b, name=name)
            return a if lane[1] else b
        if prim in ("sum", "mean") and attrs.get("axis") is not None:
            return emit("reduce_or", ops[0], axis=attrs["axis"], name=name)
        if prim == "lmatmul":
            return self._contract(ops, attrs["lanes"], name)
        if prim in ("setitem", "setslice") and lane[0] and not any(lane[2:]):
            v = ops[1] if lane[1] else self.c(0, BITS)   # a primal (zero) value written
            return emit(prim, ops[0], v, *ops[2:], name=name, **attrs)
        if prim in _STRUCTURAL and lane[0] and not any(lane[1:]):
            return emit(prim, *ops, name=name, **attrs)
        raise Unmapped(f"dependency mode: no bitset form of '{prim}' on tangents")

    def _contract(self, ops, side, name) -> Value:
        """`lmatmul` on bitsets: every output row depends on every contracted entry (as NaN
        through a float matmul): the union over the contracted axis, broadcast."""
        a, b = ops
        if side == "b":   # a (n,k) or (k,); tangent b (k,L) or (k,m,L): contract axis 0
            u = super().__call__("reduce_or", b, axis=0, name=name)
            if a.type.ndim == 1:
                return u
            u = super().__call__("expand", u, axis=0, name=name)
            ones = super().__call__("ones", self("dim", a, axis=0), *[self.c(1, I64)] * (u.type.ndim - 1),
                                    dtype=BITS.name, name="ones")
            return super().__call__("mul", u, ones, name=name)
        # tangent a (n,k,L) or (k,L); b (k,m) or (k,): contract a's axis ndim-2
        u = super().__call__("reduce_or", a, axis=a.type.ndim - 2, name=name)
        if b.type.ndim == 1:
            return u
        u = super().__call__("expand", u, axis=u.type.ndim - 1, name=name)   # (..., 1, L)
        lead = [self.c(1, I64)] * (u.type.ndim - 2)
        ones = super().__call__("ones", *lead, self("dim", b, axis=1), self.c(1, I64),
                                dtype=BITS.name, name="ones")
        return super().__call__("mul", u, ones, name=name)

    def c(self, value, like):
        if self._lane(like):
            if value != 0:
                raise Unmapped("dependency mode: a nonzero constant of tangent type")
            like = BITS
        return super().c(value, like)

    def scale(self, part, g, name):
        return self("mul", part, g, name=name)

    def zeros_like(self, v, lanes=None, name="z"):
        if lanes is None:
            return super().zeros_like(v, lanes, name)
        dims = self.dims(v) if isinstance(v.type, ArrayType) else []
        return self._mark(super().__call__("zeros", *dims, lanes, dtype=BITS.name, name=name))


class _Dots(dict):
    """Forward's value -> tangent map, recording every tangent as a bitset value."""

    def __init__(self, ids: set[int]):
        super().__init__()
        self.ids = ids

    def __setitem__(self, k, v):
        self.ids.add(v.id)
        super().__setitem__(k, v)


class Dependencies(Forward):
    """Vector forward mode whose tangents are int64 bitsets (see the module docstring)."""

    def __init__(self, fn: Function, active: list[bool]):
        super().__init__(fn, active, lanes=True)
        self.bit_ids: set[int] = set()
        self.dot = _Dots(self.bit_ids)

    def keeps_rule(self, op: Op) -> bool:
        # user rules compute float tangents: differentiate the code as written; a custom
        # root keeps its rule (and so falls back: see `custom`)
        return REGISTRY[op.attrs["rule"]].kind == "custom_root"

    def tangent_type(self, t):
        if isinstance(t, TapeType):
            raise Unmapped("dependency mode: a program with tapes")
        nd = t.ndim if isinstance(t, ArrayType) else 0
        return ArrayType(BITS, nd + 1)

    def emitter(self, block: Block, loc) -> Emitter:
        return DependencyEmitter(block, loc, self)

    def custom(self, op: Op, dst: Block) -> None:
        raise Unmapped("dependency mode: a custom derivative rule")


def dependency_function(fn: Function, active: list[bool]) -> Function:
    """`f_deps(*args, x_bits) -> (*outs, *out_bits)`: the bitsets of every output element, for
    the bitset seed `x_bits` (x's shape plus a trailing axis of int64 words)."""
    return Dependencies(fn, active).run()


