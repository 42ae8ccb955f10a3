"""Typed views of ops: named access to operands and regions (`ForOp(op).lb`, `.inits`,
`.body`) instead of operand-offset arithmetic spread over the passes.

A view holds no state of its own: it reads (and, through the setters, writes) the op it
wraps, so it can be made on the fly wherever a pass looks at an op.
"""
from __future__ import annotations

from .core import Block, Op, Value
from .slices import Bound, SliceSpec


class _View:
    __slots__ = ("op",)

    def __init__(self, op: Op):
        self.op = op

    @property
    def results(self) -> list[Value]:
        return self.op.results


class ForOp(_View):
    """`for(lb, ub, step, *inits) { ^(i, *carried): ... yield(*next) }`"""

    @property
    def lb(self) -> Value:
        return self.op.operands[0]

    @property
    def ub(self) -> Value:
        return self.op.operands[1]

    @property
    def step(self) -> Value:
        return self.op.operands[2]

    @property
    def bounds(self) -> list[Value]:
        return self.op.operands[:3]

    @property
    def inits(self) -> list[Value]:
        return self.op.operands[3:]

    @inits.setter
    def inits(self, values: list[Value]) -> None:
        self.op.operands = self.op.operands[:3] + list(values)

    @property
    def body(self) -> Block:
        return self.op.regions[0]

    @property
    def iv(self) -> Value:
        return self.body.args[0]

    @property
    def carried(self) -> list[Value]:
        return self.body.args[1:]

    @property
    def yields(self) -> list[Value]:
        return self.body.ops[-1].operands


class WhileOp(_View):
    """`while(*inits) { ^(*carried): ... condition(c) } { ^(*carried): ... yield(*next) }`"""

    @property
    def inits(self) -> list[Value]:
        return self.op.operands

    @inits.setter
    def inits(self, values: list[Value]) -> None:
        self.op.operands = list(values)

    @property
    def before(self) -> Block:
        return self.op.regions[0]

    @property
    def body(self) -> Block:
        return self.op.regions[1]

    @property
    def condition(self) -> Value:
        return self.before.ops[-1].operands[0]

    @property
    def carried(self) -> list[Value]:
        return self.body.args

    @property
    def yields(self) -> list[Value]:
        return self.body.ops[-1].operands


class IfOp(_View):
    """`if(cond) { ... yield(*a) } { ... yield(*b) }`"""

    @property
    def cond(self) -> Value:
        return self.op.operands[0]

    @property
    def then(self) -> Block:
        return self.op.regions[0]

    @property
    def orelse(self) -> Block:
        return self.op.regions[1]


class CustomOp(_View):
    """`custom(*args) {rule=k} { ^(*params): ... yield(*outs) }`: a call with its own rules."""

    @property
    def args(self) -> list[Value]:
        return self.op.operands

    @property
    def body(self) -> Block:
        return self.op.regions[0]

    @property
    def rule(self) -> int:
        return self.op.attrs["rule"]


class Access(_View):
    """getitem/setitem/getslice/setslice: the array, the value written (setters), and the
    index operands (for slices, bound per axis through the spec)."""

    @property
    def array(self) -> Value:
        return self.op.operands[0]

    @property
    def writes(self) -> bool:
        return self.op.prim in ("setitem", "setslice")

    @property
    def value(self) -> Value:
        assert self.writes, self.op.prim
        return self.op.operands[1]

    @property
    def indices(self) -> list[Value]:
        """Every index/bound operand, in operand order."""
        return self.op.operands[2 if self.writes else 1:]

    @property
    def spec(self) -> SliceSpec | None:
        text = self.op.attrs.get("spec")
        return SliceSpec.parse(text) if text is not None else None

    def bound(self) -> list[Bound]:
        """Per leading axis: the index, or the slice bounds (element access: all indices)."""
        spec = self.spec
        if spec is None:
            return [Bound(True, index=i) for i in self.indices]
        return spec.bind(self.indices)


class Loop(_View):
    """A for or while loop seen through its carried slots: slot k has an initial value, a
    block argument in each region, a yielded next value and a result."""

    @property
    def is_for(self) -> bool:
        return self.op.prim == "for"

    @property
    def offset(self) -> int:
        """Operands before the first initial value (for: lb, ub, step)."""
        return 3 if self.is_for else 0

    @property
    def inits(self) -> list[Value]:
        return self.op.operands[self.offset:]

    @property
    def body(self) -> Block:
        return self.op.regions[-1]

    def slot_args(self, region: Block) -> list[Value]:
        """The block arguments of `region` that carry the slots (the body's skip the index)."""
        return region.args[1:] if self.is_for and region is self.body else region.args

    @property
    def carried(self) -> list[Value]:
        return self.slot_args(self.body)

    @property
    def yields(self) -> list[Value]:
        return self.body.ops[-1].operands

    def keep_slots(self, keep: list[int]) -> None:
        """Drop every carried slot not in `keep` (positions, in order)."""
        for region in self.op.regions:
            head = region.args[:len(region.args) - len(self.slot_args(region))]
            args = self.slot_args(region)
            region.args = head + [args[k] for k in keep]
        y = self.body.ops[-1]
        y.operands = [y.operands[k] for k in keep]
        inits = self.inits
        self.op.operands = self.op.operands[:self.offset] + [inits[k] for k in keep]
        self.op.results = [self.op.results[k] for k in keep]
