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
by `strip_mine_while`. The user-facing policy types live in `adcompile.checkpointing`.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..checkpointing import Binomial, Every, Policy, Snapshots, Sqrt, StoreAll
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.loops import trip_count
from ..ir.types import I64
from ..ir.views import ForOp
from ..ir.walk import clone_ops


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


def _ceil_div(e: Builder, a: Value, b: Value, name: str) -> Value:
    return e("floordiv", e("sub", e("add", a, b), e.c(1)), b, name=name)


def _segment(e: Builder, policy: Policy, trips: Value) -> Value:
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
    loop = ForOp(op)
    lb, ub, step = loop.bounds
    inits, body, iv, carried = loop.inits, loop.body, loop.iv, loop.carried
    pre: list[Op] = []
    e = Builder(pre, op.loc)
    trips = trip_count(e, lb, ub, step)
    k = _segment(e, policy, trips)
    nseg = _ceil_div(e, trips, k, "segments")
    # inner loop: j in [s*k, min(s*k + k, trips)); the user's iv is recomputed from j
    s = Value("seg", I64)
    outer_args = [Value(c.name, c.type) for c in carried]
    inner_ops: list[Op] = []
    ie = Builder(inner_ops, op.loc)
    lo = ie("mul", s, k, name="lo")
    hi = ie("minimum", ie("add", lo, k), trips, name="hi")
    j = Value("j", I64)
    head: list[Op] = []
    he = Builder(head, op.loc)
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
    e = Builder(pre, loc)
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
    be = Builder(obody_ops, loc)
    k = be.c(policy.k) if isinstance(policy, Every) else be("add", bseg, be.c(1), name="seg")
    iargs = [Value(a.name, a.type) for a in cond.args]
    ij = Value("j", I64)
    m = {a.id: n for a, n in zip(cond.args, iargs)}
    icond_ops = clone_ops(cond.ops, m)
    term = icond_ops.pop()
    ie = Builder(icond_ops, loc)
    inb = ie("lt", ij, k, name="inseg")
    go = ie("and", term.operands[0], inb, name="go")
    icond_ops.append(Op("condition", [go], [], {}, [], term.loc))
    icond = Block(iargs + [ij], icond_ops)
    jb = Value("j", I64)
    yield_op = body.ops.pop()
    te = Builder(body.ops, loc)
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
