"""The reverse context: the state of one reverse-mode transform, and what every rule uses.

One `ReverseContext` per transform owns
- the prepared primal `fn`, whose body becomes the forward sweep (augmented in place with
  tape pushes and iteration counters), and its index: `scope_of` (value id -> the block that
  defines it), `def_op` (value id -> its op) and `parent` (region -> (op, enclosing block));
- `varied` (values carrying derivatives) and `readonly` (top-level arrays never written);
- `adj`: value id -> the adjoint accumulated so far; a missing entry is a symbolic zero;
- `scopes`: the forward regions being reversed, innermost last; a primal value of one of them
  that the adjoint reads becomes a placeholder, filled from a tape when the scope closes
  (`tapes.close_scope`);
- tape bookkeeping (`tapes`, `trips`, `budget`, `budget_sites`; see `tapes.py`) and `visible`:
  reverse blocks holding recomputed forward code, whose values the adjoint reads directly.

Invariant: during the sweep, `primal_at(v)` returns a value valid at the current insertion
point `cur` of the reverse sweep. Region ops (for, while, if, custom) are reversed by
`region_rules`, which the driver supplies; everything else by the rule tables of `ad.rules`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...errors import NonDifferentiable
from ...ir.core import Block, Function, Op, Value, walk_block
from ...ir.primitives import has
from ...ir.traits import Trait
from ...ir.types import I64, ArrayType, ScalarType
from ..activity import varied
from ..emitter import Emitter, Lazy
from ..rules import PARTIALS, VJP, partials
from ..rules.common import ndim

# ops the sweep skips: terminators and the forward sweep's own tape ops
SKIPPED = ("yield", "condition", "return", "tape_push", "tape_new")
REGION_OPS = ("for", "while", "if", "custom")

RegionRule = Callable[["ReverseContext", Op, Emitter], None]


@dataclass
class Scope:
    """A forward region whose values the reverse region reads back from tapes."""

    forward: Block
    reverse: Block | None = None
    iv: Value | None = None
    rev_iv: Value | None = None
    placeholders: dict[int, tuple[Value, Value]] = field(default_factory=dict)


def readonly_arrays(fn: Function) -> set[int]:
    """Top-level arrays never written or handed on (their contents never change)."""
    consumed: set[int] = set()

    def scan(block: Block) -> None:
        for op in block.ops:
            if op.prim in ("setitem", "setslice"):
                consumed.add(op.operands[0].id)
            elif op.prim in ("for", "while", "yield"):
                consumed.update(v.id for v in op.operands)
            for r in op.regions:
                scan(r)
    scan(fn.body)
    top = [a for a in fn.args] + [r for op in fn.body.ops for r in op.results]
    return {v.id for v in top if isinstance(v.type, ArrayType) and v.id not in consumed}


class ReverseContext:
    """The state of one reverse-mode transform (see the module docstring); rules and the
    loop, branch and tape modules read and update it through the methods below."""

    def __init__(self, fn: Function, active: list[bool], budget: int | None,
                 region_rules: dict[str, RegionRule]):
        self.fn = fn
        self.active = active
        self.region_rules = region_rules
        self.varied = varied(fn, active)
        self.scope_of: dict[int, Block] = {}
        self.def_op: dict[int, Op] = {}
        self.parent: dict[Block, tuple[Op, Block]] = {}
        self.index_block(fn.body, fn.args)
        self.adj: dict[int, Value] = {}
        self.scopes: list[Scope] = []
        self.tapes: dict[int, Value] = {}
        self.shadow: dict[int, Value] = {}   # a differentiated program's tape -> its adjoints
        self.remat_cache: dict[tuple[int, int], Value] = {}
        self.readonly = readonly_arrays(fn)
        self.trips: dict[tuple[int, ...], Value] = {}
        self.cur: Emitter | None = None
        self.visible: set[int] = set()
        # automatic checkpointing: without a policy, each top-level loop first checks its
        # tape estimate against the limit (the API then retries with a policy)
        self.budget = budget
        self.budget_sites: dict[int, tuple[Op, list[tuple[Value, Value]]]] = {}

    # -- where values live -----------------------------------------------------------------------
    def index_block(self, block: Block, extra=()) -> None:
        """Record where each value of `block` (and of the regions nested in it) is defined."""
        for a in list(extra) + list(block.args):
            self.scope_of[a.id] = block
        for op in block.ops:
            for r in op.results:
                self.scope_of[r.id] = block
                self.def_op[r.id] = op
            for region in op.regions:
                self.parent[region] = (op, block)
            for region in op.regions:
                self.index_block(region)

    def place_values(self, values, block: Block) -> None:
        """Values added to `block` by the transform (new block args, results of a grown op)."""
        for v in values:
            self.scope_of[v.id] = block

    def place_ops(self, ops: list[Op], block: Block) -> None:
        """Ops the transform inserted into `block`, indexed like the primal's."""
        for o in ops:
            for r in o.results:
                self.scope_of[r.id] = block
                self.def_op[r.id] = o
            for region in o.regions:
                self.parent[region] = (o, block)
                self.index_block(region)

    def adopt_recomputed(self, mapping: dict[int, Value], ops: list[Op], rblock: Block,
                         new_args: list[Value]) -> None:
        """Index recomputed (cloned) forward code placed in reverse block `rblock` as forward
        code whose values are visible to the adjoint code after it."""
        for old, new in list(mapping.items()):
            if old in self.varied:
                self.varied.add(new.id)
            if old in self.readonly:
                self.readonly.add(new.id)
        self.place_values(new_args, rblock)
        self.place_ops(ops, rblock)
        self.visible.add(id(rblock))

    def enclosing_loop(self, block: Block):
        """(nearest loop op around block, the block holding it, the op to insert before)."""
        anchor = None
        while block in self.parent:
            op, outer = self.parent[block]
            anchor = (op, outer)
            if op.prim in ("for", "while"):
                return op, outer, op
            block = outer
        return None, block, anchor[0] if anchor else None

    def inside(self, v: Value, region: Block) -> bool:
        """Is v defined in `region` or in a region nested in it?"""
        b = self.scope_of.get(v.id)
        while b is not None:
            if b is region:
                return True
            b = self.parent[b][1] if b in self.parent else None
        return False

    def _is_visible(self, v: Value) -> bool:
        home = self.scope_of.get(v.id)
        return home is None or home is self.fn.body or id(home) in self.visible

    # -- primal values seen from the reverse sweep ---------------------------------------------
    def primal_at(self, v: Value) -> Value:
        """Primal value `v` as visible at the current point of the reverse sweep.

        Top-level values are visible as they are; cheap integer arithmetic (index
        computations) is recomputed from visible values; anything else defined inside a loop
        body or branch is read back from a tape that the forward region fills.
        """
        if self._is_visible(v):
            return v
        if self._cheap(v):
            return self._remat(v)
        home = self.scope_of.get(v.id)
        for sc in reversed(self.scopes):
            if sc.forward is home:
                if sc.iv is v:
                    return sc.rev_iv
                got = sc.placeholders.get(v.id)
                if got is None:
                    got = (v, Value(v.name, v.type))
                    sc.placeholders[v.id] = got
                return got[1]
        raise AssertionError(f"value {v!r} is not visible from the reverse sweep")

    def _cheap(self, v: Value, depth: int = 0) -> bool:
        if self._is_visible(v):
            return True
        if any(sc.iv is v for sc in self.scopes):
            return True
        op = self.def_op.get(v.id)
        if op is not None and op.prim == "const":
            return True
        if op is not None and op.prim == "getitem" and op.operands[0].id in self.readonly:
            return True  # re-read in the reverse sweep (indices via primal_at) instead of taped
        # a small float expression on free operands is recomputed too: up to two levels of
        # add/sub/mul/neg (`0.5 * k * d` with `d = u[i + 1] - u[i]` of a read-only `u`) cost
        # less than a tape push and pop, and give the same bits (the same ops on the same
        # operands); the remat cache shares what the adjoint recomputes anyway (`d`)
        if op is not None and has(op, Trait.FLOAT_REMAT) and depth <= 1 and \
                isinstance(v.type, ScalarType) and v.type.is_float:
            return all(self._free(o) or self._cheap(o, depth + 1) for o in op.operands)
        # integer index arithmetic is recomputed in the reverse sweep instead of taped
        if op is None or depth > 6 or not has(op, Trait.REMAT) or v.type != I64:
            return False
        return all(self._cheap(o, depth + 1) or self._outer_int(o, v) for o in op.operands)

    def _free(self, v: Value) -> bool:
        """Visible as is, a constant, or a re-read of a read-only array."""
        if self._is_visible(v):
            return True
        op = self.def_op.get(v.id)
        return op is not None and (op.prim == "const" or (
            op.prim == "getitem" and op.operands[0].id in self.readonly))

    def _outer_int(self, o: Value, v: Value) -> bool:
        """An integer defined in a block enclosing v's: read once per trip of that outer block
        (through primal_at), so index arithmetic on it (an offset carried by an outer loop plus
        the inner index) is recomputed per inner trip instead of taped per inner trip."""
        home_o, home_v = self.scope_of.get(o.id), self.scope_of.get(v.id)
        return o.type == I64 and home_o is not None and home_o is not home_v and \
            self.inside(v, home_o)

    def _remat(self, v: Value) -> Value:
        if self._is_visible(v):
            return v
        for sc in reversed(self.scopes):
            if sc.iv is v:
                return sc.rev_iv
        op = self.def_op[v.id]
        key = (v.id, id(self.cur.block))
        got = self.remat_cache.get(key)
        if got is None:
            if op.prim == "getitem":
                args = [self.primal_at(o) for o in op.operands]
            else:
                args = [self._remat(o) if self._cheap(o) else self.primal_at(o)
                        for o in op.operands]
            got = self.cur(op.prim, *args, name=v.name, **op.attrs)
            self.remat_cache[key] = got
        return got

    # -- adjoints ------------------------------------------------------------------------------
    def accumulate(self, e: Emitter, v: Value, g: Value | None) -> None:
        """adjoint(v) += g (nothing for a value that carries no derivative)."""
        if v.id not in self.varied or g is None:
            return
        cur = self.adj.get(v.id)
        self.adj[v.id] = g if cur is None else e("add", cur, g, name=v.name + "_bar")

    def zeros(self, e: Emitter, v: Value) -> Value:
        """A materialised zero adjoint for `v` (where a symbolic zero must become a value)."""
        if not isinstance(v.type, ArrayType):
            return e.c(0.0, v)
        return e.zeros_like(self.primal_at(self._shape_source(v)), name=v.name + "_bar")

    def unbroadcast(self, e: Emitter, g: Value, x: Value) -> Value:
        """Sum adjoint `g` down to `x`'s shape (undoing broadcasting)."""
        if ndim(x) == 0:
            return e("sum", g, axis=None, name=x.name + "_bar") if ndim(g) else g
        return e("sum_to", g, self.primal_at(x), name=x.name + "_bar")

    def _write_root(self, v: Value) -> Value:
        """Follow element writes and copies back: they keep the array's shape."""
        while True:
            op = self.def_op.get(v.id)
            if op is None or op.prim not in ("setitem", "setslice", "copy"):
                return v
            v = op.operands[0]

    def _shape_source(self, v: Value) -> Value:
        """A value with v's shape that is visible as early as possible: an adjoint's zeros need
        only the shape, and reading a version from inside a loop would tape a copy of the
        whole array on every iteration."""
        for _ in range(64):
            v = self._write_root(v)
            op = self.def_op.get(v.id)
            if op is not None and op.prim == "for":
                k = op.results.index(v)
                body = op.regions[0]
                if self._write_root(body.ops[-1].operands[k]) is body.args[1 + k]:
                    v = op.operands[3 + k]
                    continue
                return v
            home = self.scope_of.get(v.id)
            loop = self.parent.get(home)[0] if home in self.parent else None
            if loop is not None and loop.prim == "for" and v in home.args[1:]:
                k = home.args.index(v) - 1
                if self._write_root(home.ops[-1].operands[k]) is v:
                    v = loop.operands[3 + k]
                    continue
            return v
        return v

    # -- the adjoint sweep ---------------------------------------------------------------------
    def backward_block(self, ops: list[Op], e: Emitter) -> None:
        """Emit into `e` the adjoint of `ops`, last op first."""
        saved = self.cur
        self.cur = e
        for op in reversed(ops):
            if op.prim in ("tape_push", "tape_pop") and op.operands[0].id in self.shadow:
                # every pop of a shadowed tape pushes an adjoint (zero if it has none), so
                # the pushes' adjoints pop in step
                e.loc = op.loc
                g = self.adj.get(op.results[0].id) if op.results else None
                if op.prim == "tape_pop" and g is None:
                    g = e.zeros_like(self.primal_at(op.results[0]))
                VJP[op.prim](self, e, op, g)
                continue
            if op.prim in SKIPPED:
                continue
            if not any(r.id in self.adj for r in op.results) and \
                    not (self.shadow and op.regions and self._pushes_shadowed(op)):
                continue
            if op.prim in REGION_OPS:
                self.region_rules[op.prim](self, op, e)
                continue
            e.loc = op.loc
            self.backward_op(op, e)
        self.cur = saved

    def _pushes_shadowed(self, op: Op) -> bool:
        """A region op pushing onto a shadowed tape has an adjoint (the pops' adjoints come
        back through the shadow) even when its results have none."""
        return any(o.prim == "tape_push" and o.operands[0].id in self.shadow
                   for r in op.regions for o in walk_block(r))

    def backward_op(self, op: Op, e: Emitter) -> None:
        """The adjoint of one op without regions: elementwise partials or a structural rule."""
        y = op.results[0]
        g = self.adj[y.id]
        p = op.prim
        if p in PARTIALS:
            need = [v.id in self.varied for v in op.operands]
            xs = [Lazy(v, self.primal_at) for v in op.operands]
            ps = partials(e, p, xs, Lazy(y, self.primal_at), need)
            for x, part in zip(op.operands, ps):
                if part is None:
                    continue
                contrib = e.scale(part, g, x.name + "_bar")
                if ndim(x) < ndim(contrib) or (ndim(x) and ndim(contrib)):
                    contrib = self.unbroadcast(e, contrib, x)
                self.accumulate(e, x, contrib)
            return
        rule = VJP.get(p)
        if rule is None:
            raise NonDifferentiable(f"'{p}' has no reverse-mode rule", op.loc,
                                    "compute this value from inactive inputs, or give the "
                                    "function a custom_vjp rule")
        rule(self, e, op, g)
