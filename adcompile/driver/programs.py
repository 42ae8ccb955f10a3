"""Derivative programs as IR: what a derivative object computes for one signature, as one
`Function` with flat results and the nesting (`tree`) they have in Python.

This is what makes transforms compose. `grad(grad(f))`, `jacfwd(grad(f))`, `jit(grad(f))`
and a `grad` object called from compiled code all start from the inner derivative's program
instead of from `f`'s source: the compile driver lowers a derivative object through
`__adcompile_program__`, and the frontend inlines the program where compiled code calls one
(`__adcompile_call__`). The outer transform then differentiates the inner one's IR (tapes
included, see `ad/rules/tapes.py`), and the whole composition is compiled as one program.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import TypeInferenceError
from ..ir.builder import Builder
from ..ir.core import Block, Function, Value
from ..ir.types import ArrayType, scalar_of
from ..ir.walk import inline_function
from .compile import build_ir
from .options import CompileOptions
from .transforms import JVP, VJP


@dataclass(frozen=True)
class Program:
    fn: Function
    tree: tuple | None     # the results' nesting (frontend.env.unflatten); None: one value


def _wrap(name: str, inner: Function, nargs: int, extra, pick, tree) -> Program:
    """A program calling `inner` with its first `nargs` arguments and the values `extra(b)`
    makes, returning `pick(results)` nested as `tree`."""
    args = [Value(a.name, a.type) for a in inner.args[:nargs]]
    body = Block([])
    b = Builder(body, inner.loc)
    results = inline_function(inner, body, args + list(extra(b)))
    outs = pick(results)
    b.op("return", outs, [])
    fn = Function(name, args, body, [v.type for v in outs], inner.loc, tree is not None)
    return Program(fn, tree)


def _scalar_output(primal: Function, what: str, name: str):
    outs = primal.result_types
    if primal.returns_tuple or len(outs) != 1 or isinstance(outs[0], ArrayType) or \
            not scalar_of(outs[0]).is_float:
        shown = ", ".join(str(t) for t in outs) or "nothing"
        raise TypeInferenceError(
            f"{what} needs a function returning one float scalar; '{name}' returns ({shown})",
            primal.loc, "use adcompile.vjp or adcompile.jacrev for non-scalar outputs")
    return outs[0]


def gradient(f, sig, active: tuple[bool, ...], single: bool, with_value: bool,
             checkpoint, options: CompileOptions, what: str) -> Program:
    """`grad` (or `value_and_grad`) of scalar `f`: the reverse program with a unit cotangent."""
    stages = build_ir(f, sig, VJP(active, checkpoint=checkpoint), options)
    t = _scalar_output(stages["primal"], what, f.__name__)
    grads = None if single else (None,) * sum(active)
    tree = (None, grads) if with_value else grads
    return _wrap(f"{f.__name__}_{what}", stages["optimized"], len(sig),
                 lambda b: [b.const(1.0, t, name="one")],
                 lambda r: r if with_value else r[1:], tree)


def forward(f, sig, active: tuple[bool, ...], options: CompileOptions) -> Program:
    """`jvp(f, primals, tangents)`: arguments are the primals then the active tangents;
    results (outputs, output tangents), each nested as f returns them."""
    stages = build_ir(f, sig, JVP(active), options)
    fn = stages["optimized"]
    n = len(stages["primal"].result_types)
    half = tuple([None] * n) if stages["primal"].returns_tuple else None
    return _wrap(f"{f.__name__}_jvp", fn, len(fn.args), lambda b: [], lambda r: r,
                 (half, half))


def reverse(f, sig, active: tuple[bool, ...], options: CompileOptions) -> Program:
    """A pullback: arguments are the primals then one cotangent per float output; results
    the cotangents of the active arguments (a tuple over them)."""
    stages = build_ir(f, sig, VJP(active), options)
    fn = stages["optimized"]
    n = len(stages["primal"].result_types)
    return _wrap(f"{f.__name__}_pullback", fn, len(fn.args), lambda b: [],
                 lambda r: r[n:], (None,) * sum(active))


def primal(f, sig, options: CompileOptions) -> Program:
    stages = build_ir(f, sig, None, options)
    fn = stages["primal"]
    tree = tuple([None] * len(fn.result_types)) if fn.returns_tuple else None
    return _wrap(fn.name, fn, len(fn.args), lambda b: [], lambda r: r, tree)
