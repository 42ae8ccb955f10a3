"""Checkpointing policies for reverse mode: which loops recompute instead of taping.

Reverse mode normally tapes what each iteration's adjoint needs, so memory grows with the trip
count. A loop marked `recompute` instead saves only its carried state at the start of each
iteration (a snapshot) and, in the reverse sweep, re-runs that iteration from the snapshot with
tapes local to it (see `reverse_recompute` in ad/reverse/loops.py).

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

import os
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


@dataclass(frozen=True)
class Binomial:
    """The binomial (revolve) schedule: at most `snapshots` states kept, or as many as fit in
    `memory` bytes (counted at run time from the loop state's size); see ad/reverse/revolve.py."""

    snapshots: int | None = None
    memory: int | None = None

    def __post_init__(self):
        if (self.snapshots is None) == (self.memory is None):
            raise AdError("binomial checkpointing takes a number of snapshots or a memory "
                          "budget, not both", hint='checkpoint=("binomial", 64) or '
                          'checkpoint=("binomial", "50MB")')
        if self.snapshots is not None and (type(self.snapshots) is not int
                                           or self.snapshots < 1):
            raise AdError(f"binomial snapshots={self.snapshots!r}: expected a positive int")


@dataclass(frozen=True)
class StoreAll:
    """Tape everything, however long the loop (no automatic checkpointing)."""


Policy = Every | Snapshots | Sqrt | Binomial | StoreAll

DEFAULT_TAPE_LIMIT = "2GB"


def tape_limit() -> int | None:
    """Tape bytes a loop may record before reverse mode switches to checkpointing
    (ADCOMPILE_TAPE_LIMIT, default 2GB; "off" never switches)."""
    spec = os.environ.get("ADCOMPILE_TAPE_LIMIT", DEFAULT_TAPE_LIMIT).strip()
    if spec.lower() in ("off", "none", "0", ""):
        return None
    return parse_memory(int(spec) if spec.isdigit() else spec)


def auto_policy() -> "Binomial":
    """What the API retries with when a loop's tape would exceed the limit."""
    return Binomial(memory=max(tape_limit() // 4, 1))

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20,
          "gib": 2**30}


def parse_memory(spec) -> int:
    """Bytes from 50_000_000, "50MB", "1.5 GiB", "200kb"."""
    if isinstance(spec, int) and not isinstance(spec, bool) and spec > 0:
        return spec
    if isinstance(spec, str):
        text = spec.strip().lower().replace("_", "")
        num = text.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
        unit = text[len(num):].strip()
        try:
            value = float(num)
        except ValueError:
            value = -1.0
        if unit in _UNITS and value > 0:
            return max(1, int(value * _UNITS[unit]))
    raise AdError(f"memory={spec!r}: expected a positive number of bytes or a size such as "
                  '"50MB", "512KiB", "2GB"')


def parse_policy(spec, memory=None) -> Policy | None:
    """User-facing spellings: None, "sqrt", ("every", k), ("snapshots", s[, levels]),
    "binomial" (with `memory`), ("binomial", s), ("binomial", "50MB"), or a policy object."""
    if memory is not None and spec in (None, "binomial"):
        return Binomial(memory=parse_memory(memory))
    if memory is not None:
        raise AdError("memory= goes with checkpoint=\"binomial\"",
                      hint='grad(f, checkpoint="binomial", memory="50MB")')
    if spec is None or isinstance(spec, (Every, Snapshots, Sqrt, Binomial, StoreAll)):
        return spec
    if spec in ("store-all", False):
        return StoreAll()
    if spec == "sqrt":
        return Sqrt()
    if spec == "binomial":
        raise AdError('checkpoint="binomial" needs a budget',
                      hint='grad(f, checkpoint="binomial", memory="50MB") or '
                           'checkpoint=("binomial", 64) for 64 snapshots')
    if isinstance(spec, tuple) and spec and spec[0] == "every" and len(spec) == 2:
        return Every(spec[1])
    if isinstance(spec, tuple) and spec and spec[0] == "snapshots" and len(spec) in (2, 3):
        return Snapshots(*spec[1:])
    if isinstance(spec, tuple) and spec and spec[0] == "binomial" and len(spec) == 2:
        if isinstance(spec[1], int) and not isinstance(spec[1], bool):
            return Binomial(snapshots=spec[1])
        return Binomial(memory=parse_memory(spec[1]))
    raise AdError(f"unknown checkpoint policy {spec!r}",
                  hint='use checkpoint="store-all", "sqrt", ("every", k), ("snapshots", s), '
                       '("snapshots", s, 2), ("binomial", s) or "binomial" with memory=')


def checkpointed(iterable, every: int | None = None, snapshots: int | None = None,
                 levels: int = 1, binomial: int | None = None, memory: str | int | None = None):
    """Mark a loop for checkpointing in reverse mode instead of a tape that grows with its trip
    count n: `for t in checkpointed(range(n), binomial=64):` keeps at most 64 snapshots of the
    loop state and recomputes by the binomial (revolve) schedule; `memory="50MB"` sizes the
    snapshots by bytes; `snapshots=64` cuts n into 64 uniform segments; `every=k` snapshots
    every k steps; no argument: segments of sqrt(n) steps. In plain Python it is the identity."""
    return iterable


def policy_from_attrs(attrs: dict) -> Policy | None:
    if "checkpoint_binomial" in attrs:
        return Binomial(snapshots=attrs["checkpoint_binomial"])
    if "checkpoint_memory" in attrs:
        return Binomial(memory=attrs["checkpoint_memory"])
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


def _is_revolve(op: Op) -> bool:
    return "revolve_snapshots" in op.attrs or "revolve_memory" in op.attrs


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
            if op.prim in ("for", "while") and policy is None and top and default is not None \
                    and not isinstance(default, StoreAll):
                policy = default
            if isinstance(policy, Binomial) and op.prim == "for":
                # reverse mode builds the schedule around the loop as it is (ad/reverse/revolve.py)
                op.attrs = {k: v for k, v in op.attrs.items() if not k.startswith("checkpoint")}
                op.attrs.update({"revolve_snapshots": policy.snapshots} if policy.snapshots
                                else {"revolve_memory": policy.memory})
                count += 1
                out.append(op)
            elif policy is not None and not op.attrs.get("recompute") \
                    and not _is_revolve(op):
                out.extend(strip_mine(op, policy) if op.prim == "for" else
                           strip_mine_while(op, policy))
                count += 1
            else:
                out.append(op)
        block.ops = out
    visit(fn.body, True)
    return count



@dataclass(frozen=True)
class Checkpoint:
    """The `checkpoint` pass: `apply_checkpointing` with `default` as the policy of every
    outermost loop (None: only the loops marked in the source). Reverse mode runs it with the
    user's policy in its preparation pipeline (`REVERSE_PREP_PIPELINE`)."""

    default: Policy | None = None
    name: str = "checkpoint"

    def run(self, fn: Function) -> Function:
        apply_checkpointing(fn, self.default)
        return fn
