"""Checkpointing policies for reverse mode: which loops recompute instead of taping.

Reverse mode normally tapes what each iteration's adjoint needs, so memory grows with the trip
count. A loop marked `recompute` instead saves only its carried state at the start of each
iteration (a snapshot) and, in the reverse sweep, re-runs that iteration from the snapshot with
tapes local to it (see `Reverse._rev_for_recompute`).

`strip_mine` turns a long loop into segments so that recomputation pays off:

    for i in range(lb, ub, step): body          # n trips
->  for s in range(nseg):                       # `recompute`: one snapshot per segment
        for j in range(s * k, min(s * k + k, n)):   # taped as usual, k trips at a time
            i = lb + j * step; body

Memory: nseg snapshots of the carried state + the tape of one segment (k trips); time: one
extra forward run of the loop. `k` comes from the policy:

- `Every(k)`: fixed segment length;
- `Snapshots(s)`: at most s snapshots, k = ceil(n / s); with `levels=2` the segment loop is
  strip-mined again (about 2 s snapshots, tape of n / s^2 trips, two extra forward runs);
- `"sqrt"`: k = ceil(sqrt(n)), the classic O(sqrt(n)) memory schedule.

A policy applies to the loops marked with `adcompile.checkpointed(range(...), ...)` in the
source and, when given globally (`grad(f, checkpoint=...)`), to every outermost loop; `while`
loops (and `for` loops with `break`/`return`, which become `while` loops) are segmented online
by `strip_mine_while`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AdError
from ..ir.clone import clone_ops
from ..ir.core import Block, Function, Op, Value
from ..ir.loops import OpList, trip_count
from ..ir.types import I64


@dataclass(frozen=True)
class Every:
    """Snapshot every `k` iterations."""

    k: int

    def __post_init__(self):
        if not isinstance(self.k, int) or self.k < 1:
            raise AdError(f"checkpoint every={self.k!r}: expected a positive int")


@dataclass(frozen=True)
class Snapshots:
    """At most `count` snapshots per level; `levels` nested segmentations (1 or 2)."""

    count: int
    levels: int = 1

    def __post_init__(self):
        if not isinstance(self.count, int) or self.count < 1:
            raise AdError(f"checkpoint snapshots={self.count!r}: expected a positive int")
        if self.levels not in (1, 2):
            raise AdError(f"checkpoint levels={self.levels!r}: expected 1 or 2")


@dataclass(frozen=True)
class Sqrt:
    """Segments of ceil(sqrt(n)) iterations."""


Policy = Every | Snapshots | Sqrt


def parse_policy(spec) -> Policy | None:
    """User-facing spellings: None, "sqrt", ("every", k), ("snapshots", s[, levels]), or a
    policy object."""
    if spec is None or isinstance(spec, (Every, Snapshots, Sqrt)):
        return spec
    if spec == "sqrt":
        return Sqrt()
    if isinstance(spec, tuple) and spec and spec[0] == "every" and len(spec) == 2:
        return Every(spec[1])
    if isinstance(spec, tuple) and spec and spec[0] == "snapshots" and len(spec) in (2, 3):
        return Snapshots(*spec[1:])
    raise AdError(f"unknown checkpoint policy {spec!r}",
                  hint='use checkpoint="sqrt", ("every", k), ("snapshots", s) or '
                       '("snapshots", s, 2)')


def checkpointed(iterable, every: int | None = None, snapshots: int | None = None,
                 levels: int = 1):
    """Mark a loop for checkpointing in reverse mode: `for t in checkpointed(range(n),
    snapshots=64):` keeps at most 64 snapshots of the loop state instead of a tape that grows
    with n (no argument: segments of sqrt(n) steps). In plain Python it is the identity."""
    return iterable


def policy_from_attrs(attrs: dict) -> Policy | None:
    if "checkpoint_every" in attrs:
        return Every(attrs["checkpoint_every"])
    if "checkpoint_snapshots" in attrs:
        return Snapshots(attrs["checkpoint_snapshots"], attrs.get("checkpoint_levels", 1))
    if attrs.get("checkpoint_sqrt"):
        return Sqrt()
    return None


def _ceil_div(e: OpList, a: Value, b: Value, name: str) -> Value:
    return e("floordiv", e("sub", e("add", a, b), e.c(1)), b, name=name)


def _segment(e: OpList, policy: Policy, trips: Value) -> Value:
    if isinstance(policy, Every):
        return e.c(policy.k)
    if isinstance(policy, Snapshots):
        k = _ceil_div(e, trips, e.c(policy.count), "seg")
        return e("maximum", k, e.c(1), name="seg")
    root = e("sqrt", e("cast", trips, to="f64"))
    k = e("cast", e("ceil", root), to="i64", name="seg")
    return e("maximum", k, e.c(1), name="seg")


def strip_mine(op: Op, policy: Policy) -> list[Op]:
    """Ops replacing `op` (a `for` loop): the trip-count arithmetic and the segment loop."""
    lb, ub, step = op.operands[:3]
    inits = op.operands[3:]
    body = op.regions[0]
    iv, carried = body.args[0], body.args[1:]
    pre: list[Op] = []
    e = OpList(pre, op.loc)
    trips = trip_count(e, lb, ub, step)
    k = _segment(e, policy, trips)
    nseg = _ceil_div(e, trips, k, "segments")
    # inner loop: j in [s*k, min(s*k + k, trips)); the user's iv is recomputed from j
    s = Value("seg", I64)
    outer_args = [Value(c.name, c.type) for c in carried]
    inner_ops: list[Op] = []
    ie = OpList(inner_ops, op.loc)
    lo = ie("mul", s, k, name="lo")
    hi = ie("minimum", ie("add", lo, k), trips, name="hi")
    j = Value("j", I64)
    head: list[Op] = []
    he = OpList(head, op.loc)
    off = he("mul", j, step)
    head.append(Op("add", [lb, off], [iv], {}, [], op.loc))
    body.ops[0:0] = head
    body.args = [j] + list(carried)
    inner = Op("for", [lo, hi, ie.c(1)] + outer_args,
               [Value(r.name, r.type) for r in op.results], {}, [body], op.loc)
    inner_ops.append(inner)
    inner_ops.append(Op("yield", list(inner.results), [], {}, [], op.loc))
    outer_body = Block([s] + outer_args, inner_ops)
    attrs = {"recompute": True}
    outer = Op("for", [e.c(0), nseg, e.c(1)] + list(inits), list(op.results), attrs,
               [outer_body], op.loc)
    if isinstance(policy, Snapshots) and policy.levels == 2:
        # segment the taped inner loop again: snapshots at two levels
        inner_idx = inner_ops.index(inner)
        inner_ops[inner_idx:inner_idx + 1] = strip_mine(inner, Snapshots(policy.count))
    return pre + [outer]


def strip_mine_while(op: Op, policy: Policy) -> list[Op]:
    """A `while` loop in segments, decided online (no trip count needed):

        while cond(x): x = body(x)
    ->  seg = 0
        while cond(x):                       # `recompute`: one snapshot per segment
            j = 0
            while cond(x) and j < k(seg): x = body(x); j += 1
            seg += 1

    k(seg) = k for `Every(k)`; for `Sqrt` (and `Snapshots`, which needs a trip count) segments
    grow by one, k(seg) = seg + 1: after m segments n = m(m+1)/2 iterations ran, so both the
    snapshots and the tape of one segment stay O(sqrt(n)) for any n.
    """
    cond, body = op.regions
    loc = op.loc
    pre: list[Op] = []
    e = OpList(pre, loc)
    zero = e.c(0)
    # outer condition: a clone of the user's condition
    oargs = [Value(a.name, a.type) for a in cond.args]
    oseg = Value("seg", I64)
    m = {a.id: n for a, n in zip(cond.args, oargs)}
    ocond = Block(oargs + [oseg], clone_ops(cond.ops, m))
    # inner loop: the user's condition and the segment bound
    bargs = [Value(a.name, a.type) for a in body.args]
    bseg = Value("seg", I64)
    obody_ops: list[Op] = []
    be = OpList(obody_ops, loc)
    k = be.c(policy.k) if isinstance(policy, Every) else be("add", bseg, be.c(1), name="seg")
    iargs = [Value(a.name, a.type) for a in cond.args]
    ij = Value("j", I64)
    m = {a.id: n for a, n in zip(cond.args, iargs)}
    icond_ops = clone_ops(cond.ops, m)
    term = icond_ops.pop()
    ie = OpList(icond_ops, loc)
    inb = ie("lt", ij, k, name="inseg")
    go = ie("and", term.operands[0], inb, name="go")
    icond_ops.append(Op("condition", [go], [], {}, [], term.loc))
    icond = Block(iargs + [ij], icond_ops)
    jb = Value("j", I64)
    yield_op = body.ops.pop()
    te = OpList(body.ops, loc)
    nj = te("add", jb, te.c(1), name="j")
    body.ops.append(Op("yield", list(yield_op.operands) + [nj], [], {}, [], yield_op.loc))
    body.args = list(body.args) + [jb]
    inner = Op("while", bargs + [be.c(0)],
               [Value(r.name, r.type) for r in op.results] + [Value("j", I64)], {},
               [icond, body], loc)
    obody_ops.append(inner)
    nseg = be("add", bseg, be.c(1), name="seg")
    obody_ops.append(Op("yield", list(inner.results[:-1]) + [nseg], [], {}, [], loc))
    obody = Block(bargs + [bseg], obody_ops)
    outer = Op("while", list(op.operands) + [zero], list(op.results) + [Value("seg", I64)],
               {"recompute": True}, [ocond, obody], loc)
    return pre + [outer]


def apply_checkpointing(fn: Function, default: Policy | None) -> int:
    """Strip-mine loops marked in the source, and (with a default policy) every outermost
    `for` loop, in place; returns how many loops were strip-mined."""
    count = 0

    def visit(block: Block, top: bool) -> None:
        nonlocal count
        out: list[Op] = []
        for op in block.ops:
            for r in op.regions:
                visit(r, False)
            policy = policy_from_attrs(op.attrs) if op.prim in ("for", "while") else None
            if op.prim in ("for", "while") and policy is None and top and default is not None:
                policy = default
            if policy is not None and not op.attrs.get("recompute"):
                out.extend(strip_mine(op, policy) if op.prim == "for" else
                           strip_mine_while(op, policy))
                count += 1
            else:
                out.append(op)
        block.ops = out
    visit(fn.body, True)
    return count

