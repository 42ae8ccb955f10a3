"""Reverse mode's recipe: prepare the primal (a named pipeline), then one transform that
builds the forward sweep in place and the adjoint sweep after it.

`vjp_function(fn, active, checkpoint)` returns `f_vjp(*args, *out_bars) -> (*outs, *arg_bars)`.
"""
from __future__ import annotations

from ...checkpointing import Policy, parse_policy
from ...driver.options import CompileOptions
from ...ir.builder import Builder
from ...ir.core import Function, Op, Value
from ...ir.types import ArrayType
from ...ir.walk import clone_function
from ...transforms.checkpoint import Checkpoint
from ...transforms.inline_custom import inline_custom
from ...transforms.pipeline import REVERSE_PREP_PIPELINE, Pass, run_passes
from ..emitter import Emitter
from ..rules.common import is_float
from .branches import reverse_if
from .context import RegionRule, ReverseContext
from .custom import has_rule, prepare_custom_vjp, reverse_custom
from .loops import reverse_for_recompute, reverse_for_store_all, reverse_while
from .revolve import reverse_revolve
from .tapes import drop_unused_tapes, emit_budget_checks, shadow_tapes


def _inline_ruleless_custom(fn: Function) -> Function:
    """Custom functions without a derivative rule are differentiated as written."""
    return inline_custom(fn, keep=has_rule)


def _prepare_custom_vjp(fn: Function) -> Function:
    prepare_custom_vjp(fn.body)
    return fn


def prepare(fn: Function, policy: Policy | None, options: CompileOptions) -> Function:
    """`REVERSE_PREP_PIPELINE` on `fn` (in place), with reverse mode's parameters; verified,
    timed and printed (`print_after=checkpoint`) like any pipeline."""
    own = {"inline_custom": Pass("inline_custom", _inline_ruleless_custom),
           "checkpoint": Checkpoint(policy),
           "custom_vjp": Pass("custom_vjp", _prepare_custom_vjp)}
    return run_passes(fn, [own.get(name, name) for name in REVERSE_PREP_PIPELINE], options)


def reverse_for(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    """A `for` is taped, recomputed per iteration (strip-mined segments) or binomial."""
    if op.attrs.get("recompute"):
        return reverse_for_recompute(ctx, op, e)
    if "revolve_snapshots" in op.attrs or "revolve_memory" in op.attrs:
        return reverse_revolve(ctx, op, e)
    return reverse_for_store_all(ctx, op, e)


def _reverse_custom(ctx: ReverseContext, op: Op, e: Emitter) -> None:
    reverse_custom(ctx, op, e, vjp_function)


REGION_RULES: dict[str, RegionRule] = {"for": reverse_for, "while": reverse_while,
                                       "if": reverse_if, "custom": _reverse_custom}


def transform(ctx: ReverseContext) -> Function:
    """Seed the outputs' adjoints, sweep the body backwards, return outputs and adjoints."""
    fn = ctx.fn
    body = fn.body
    shadow_tapes(ctx)
    ret = body.ops.pop()
    e = Emitter(body, ret.loc)
    outs = list(ret.operands)
    bars = []
    for k, o in enumerate(outs):
        if is_float(o):
            b = Value(o.name + "_bar", o.type)
            bars.append(b)
            _check_cotangent_shape(e, k, o, b)
            ctx.accumulate(e, o, b)
    ctx.backward_block(body.ops[:], e)
    results = []
    for a, act in zip(fn.args, ctx.active):
        if act:
            g = ctx.adj.get(a.id)
            results.append(g if g is not None else e.zeros_like(a, name=a.name + "_bar"))
    Builder(body, ret.loc).op("return", outs + results, [])
    drop_unused_tapes(ctx)
    emit_budget_checks(ctx)
    return Function(fn.name + "_vjp", fn.args + bars, body,
                    [v.type for v in outs + results], fn.loc, True, list(fn.shape_links))


def _check_cotangent_shape(e: Emitter, k: int, out: Value, bar: Value) -> None:
    """A cotangent of another shape than its output would broadcast into the adjoints (a
    silently different answer) or fail inside them with a message about the user's code:
    the program checks it first (C callers pass the cotangent's lengths themselves)."""
    if not isinstance(out.type, ArrayType):
        return
    for axis in range(out.type.ndim):
        same = e("eq", e("dim", bar, axis=axis, name="n"), e("dim", out, axis=axis, name="n"))
        e.check(same, f"the cotangent of output {k} does not have the output's shape (axis "
                      f"{axis} differs)")


def vjp_function(fn: Function, active: list[bool], checkpoint=None,
                 options: CompileOptions | None = None) -> Function:
    """Reverse mode of `fn` w.r.t. the arguments flagged in `active`. `checkpoint`: a policy
    (or its spelling) for every outermost loop; None also guards top-level loops with the
    options' tape limit (automatic checkpointing, ADCOMPILE_TAPE_LIMIT)."""
    options = options if options is not None else CompileOptions()
    prepared = prepare(clone_function(fn), parse_policy(checkpoint), options)
    budget = options.tape_limit if checkpoint is None else None
    return transform(ReverseContext(prepared, active, budget, REGION_RULES))
