"""The batched program: one IR function running a per-instance program over a range of
instances.

`chunk_program(inner, ...)` builds `f_batch(args..., lo, hi)`: a loop over instances
`lo <= i < hi` that takes row `i` of every batched argument (axis 0), inlines the
per-instance program (a primal, or any derivative program: `grad`, `jvp`, a pullback,
`jacfwd`), writes each per-instance result into row `i - lo` of a stacked output and adds each
adjoint of a shared argument into one sum. The host driver (`cpu.py`) runs chunks
`[lo, hi)` of the batch on several threads and combines them in chunk order; the CUDA
emitters (`backends/cuda_codegen.py`, `backends/numba_cuda_codegen.py`) use the per-instance
program directly, one thread per instance.

Invariant: the chunk program's results are, per output, the stacked per-instance results
(first axis hi - lo) or, for an adjoint of a shared argument, their sum over the chunk;
nothing else differs from running the per-instance program once per instance.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AdError
from ..ir.builder import Builder
from ..ir.core import Block, Function, Value
from ..ir.types import BOOL, I64, ArrayType, Type, scalar_of
from ..ir.walk import inline_function


@dataclass(frozen=True)
class Layout:
    """How one batch maps onto the per-instance program.

    `batched[i]`: argument i is batched along axis 0 (else shared);
    `reduce[k]`: result k is the adjoint of shared argument `reduce[k]`, summed over the
    batch (None: stacked per instance)."""

    batched: tuple[bool, ...]
    reduce: tuple[int | None, ...]


def instance_type(t: Type) -> Type:
    """The per-instance type of a batched argument: one axis fewer (a 1-d array's rows are
    scalars)."""
    if not isinstance(t, ArrayType) or t.ndim == 0:
        raise AdError(f"a batched argument must be an array with a leading batch axis; got {t}",
                      hint="pass the instances stacked along axis 0, or in_axes=None for a "
                           "shared argument")
    return t.dtype if t.ndim == 1 else ArrayType(t.dtype, t.ndim - 1)


def stacked_type(t: Type) -> ArrayType:
    """A per-instance result of type t stacked along a new leading axis."""
    if isinstance(t, ArrayType):
        if t.ndim >= 3:
            raise AdError(f"a batched result of type {t} would need {t.ndim + 1} dimensions "
                          "(at most 3 are supported)",
                          hint="return fewer dimensions per instance (reshape inside f)")
        return ArrayType(t.dtype, t.ndim + 1)
    return ArrayType(t, 1)


def _hoist_tapes(lb: Builder, top: Block) -> None:
    """The per-instance program's tapes are empty again after each instance: made once, before
    the instance loop, instead of once per instance."""
    made = [op for op in lb.block.ops if op.prim == "tape_new" and not op.operands]
    lb.block.ops[:] = [op for op in lb.block.ops if op not in made]
    top.ops.extend(made)


def chunk_program(inner: Function, layout: Layout, name: str) -> Function:
    """`name(args..., lo, hi)` over instances [lo, hi) of `inner` (see the module docstring)."""
    args = [Value(a.name, a.type if not bat else
                  (stacked_type(a.type)))
            for a, bat in zip(inner.args, layout.batched)]
    lo, hi = Value("lo", I64), Value("hi", I64)
    body = Block([])
    b = Builder(body, inner.loc)
    m = b("sub", hi, lo, name="m")
    zero = b.const(0, I64)
    inits: list[Value] = []
    for k, t in enumerate(inner.result_types):
        shared = layout.reduce[k]
        dt = scalar_of(t)
        if shared is not None:
            like = args[shared]
            if isinstance(t, ArrayType):
                dims = [b("dim", like, axis=d, name="n") for d in range(t.ndim)]
                inits.append(b("zeros", *dims, dtype=dt.name, name=f"{like.name}_sum"))
            else:
                inits.append(b.const(0.0, dt, name=f"{like.name}_sum"))
        elif isinstance(t, ArrayType):   # allocated by the first instance (its shape)
            inits.append(b("undef", type=str(stacked_type(t)), name=f"out{k}"))
        else:
            inits.append(b("empty", m, dtype=dt.name, name=f"out{k}"))

    r = Value("r", I64)
    carried = [Value(v.name, v.type) for v in inits]
    loop = Block([r] + carried)
    lb = Builder(loop, inner.loc)
    i = lb("add", lo, r, name="inst")
    inst = [lb("getitem", a, i, name=a.name) if bat else a
            for a, bat in zip(args, layout.batched)]
    results = inline_function(inner, loop, inst)
    _hoist_tapes(lb, body)
    nexts: list[Value] = []
    for k, (v, cur) in enumerate(zip(results, carried)):
        if layout.reduce[k] is not None:
            nexts.append(lb("add", cur, v, name=cur.name))
            continue
        if isinstance(v.type, ArrayType):
            cur = _first_allocates(lb, cur, v, r, m, zero)
        nexts.append(lb("setitem", cur, v, r, name=cur.name))
    lb.op("yield", nexts, [])
    outs = b.op("for", [zero, m, b.const(1, I64)] + inits, [v.type for v in inits], {},
                [loop], [v.name for v in inits]).results
    b.op("return", list(outs), [])
    return Function(name, args + [lo, hi], body, [v.type for v in outs], inner.loc, True)


def _first_allocates(lb: Builder, cur: Value, v: Value, r: Value, m: Value, zero: Value
                     ) -> Value:
    """The stacked output, allocated at the first instance from its result's shape; later
    instances must have the same shape (a precise error, never a broadcast write)."""
    t = v.type
    first = lb("eq", r, zero, name="first")
    then = Block([])
    tb = Builder(then, lb.loc)
    dims = [tb("dim", v, axis=d, name="n") for d in range(t.ndim)]
    tb.op("yield", [tb("empty", m, *dims, dtype=t.dtype.name, name=cur.name)], [])
    orelse = Block([])
    Builder(orelse, lb.loc).op("yield", [cur], [])
    out = lb.op("if", [first], [cur.type], {}, [then, orelse], [cur.name]).results[0]
    same = None
    for d in range(t.ndim):
        eq = lb("eq", lb("dim", v, axis=d, name="n"), lb("dim", out, axis=d + 1, name="n"),
                name="same")
        same = eq if same is None else lb("and", same, eq, name="same")
    if same is not None and same.type == BOOL:
        lb.check(same, "batch: an instance's result has another shape than the first "
                 "instance's (batched results must have one shape)", "shape")
    return out
