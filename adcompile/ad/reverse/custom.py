"""Custom rules in reverse mode.

- `custom_vjp` (`prepare_custom_vjp`, the pass `custom_vjp` of the preparation pipeline): the call runs
  the user's fwd rule instead of the primal body, and the rule's residuals become extra
  results of the `custom` op (`nres` of them), so the reverse sweep reads them like any primal
  value (taped inside loops);
- `reverse_custom`: the bwd rule applied to the residuals and the results' adjoints; for a
  `custom_jvp` function, the JVP rule transposed by reverse mode itself (it is linear in the
  tangents). Either must give one cotangent per argument.
"""
from __future__ import annotations

from collections.abc import Callable

from ...custom.functions import REGISTRY
from ...custom.lowering import check_extents, rule_ir
from ...errors import TypeInferenceError
from ...ir.builder import Builder
from ...ir.core import Block, Function, Op, Value
from ...ir.inline import inline_function
from ..emitter import Emitter
from ..rules.common import ndim
from .context import ReverseContext


def has_rule(op: Op) -> bool:
    """A custom op reverse mode keeps (the others are differentiated as written)."""
    cf = REGISTRY[op.attrs["rule"]]
    cf.require_rules(op.loc)
    return cf.jvp_rule is not None or cf.fwd is not None


def prepare_custom_vjp(block: Block) -> None:
    """A custom_vjp call runs the user's fwd rule; its residuals become extra results."""
    for op in block.ops:
        for r in op.regions:
            prepare_custom_vjp(r)
        if op.prim != "custom" or REGISTRY[op.attrs["rule"]].fwd is None:
            continue
        cf = REGISTRY[op.attrs["rule"]]
        fn = rule_ir(cf, "fwd", [a.type for a in op.operands], len(op.results))
        n = len(op.results)
        if [t for t in fn.result_types[:n]] != [r.type for r in op.results]:
            raise TypeInferenceError(
                f"the fwd rule of '{cf.__name__}' must return (output, residuals) with "
                "the output of the function itself", op.loc,
                "return out, (res1, res2, ...)")
        region = Block([Value(a.name, a.type) for a in op.operands])
        vals = inline_function(fn, region, list(region.args), op.loc)
        Builder(region, op.loc).op("yield", vals, [])
        op.regions = [region]
        op.results += [Value("res", v.type) for v in vals[n:]]
        op.attrs = dict(op.attrs, nres=len(vals) - n)


def reverse_custom(ctx: ReverseContext, op: Op, e: Emitter,
                   vjp: Callable[[Function, list[bool]], Function]) -> None:
    """The adjoint of a `custom` op; `vjp` is reverse mode itself (to transpose a JVP rule)."""
    cf = REGISTRY[op.attrs["rule"]]
    nres = op.attrs.get("nres", 0)
    outs = op.results[:len(op.results) - nres]
    gs = [ctx.adj.get(r.id) or ctx.zeros(e, r) for r in outs]
    args = [ctx.primal_at(a) for a in op.operands]
    if cf.bwd is not None:
        res = [ctx.primal_at(r) for r in op.results[len(outs):]]
        fn = rule_ir(cf, "bwd", [v.type for v in res] + [g.type for g in gs], len(outs),
                     len(res), expect=[a.type for a in op.operands])
        grads = inline_function(fn, e.block, res + gs, op.loc)
    else:   # transpose the JVP rule: reverse mode of the rule w.r.t. its tangents
        n = len(args)
        fn = rule_ir(cf, "jvp", [a.type for a in args] * 2, len(outs),
                     expect=[r.type for r in outs])
        rev = vjp(fn, [False] * n + [True] * n)
        zeros = [ctx.zeros(e, a) for a in op.operands]
        seeds = [ctx.zeros(e, r) for r in outs] + gs
        vals = inline_function(rev, e.block, args + zeros + seeds, op.loc)
        grads = vals[2 * len(outs):]
    if len(grads) != len(op.operands):
        raise TypeInferenceError(f"the derivative rule of '{cf.__name__}' must give one "
                                 "cotangent per argument", op.loc,
                                 "return a tuple (x_bar, y_bar, ...)")
    names = cf.fun.__code__.co_varnames
    for i, (a, g) in enumerate(zip(op.operands, grads)):
        if a.id in ctx.varied:
            if cf.bwd is not None:
                check_extents(e, g, args[i], cf, "bwd", "a cotangent",
                              f"its argument '{names[i]}'")
            if g.type != a.type:
                g = ctx.unbroadcast(e, g, a) if ndim(g) >= ndim(a) else g
            ctx.accumulate(e, a, g)
