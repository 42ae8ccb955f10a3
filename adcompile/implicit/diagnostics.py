"""Run-time requirements of generated derivative code (a linear solve that converged).

`require(cond, detail)` in a generated rule lowers to one `check` op of kind
'convergence' whose message shows `detail` (the residual reached): every backend stops the
program with `ConvergenceError` there, so a derivative built on an unconverged solve is never
returned. With `warn` (on_failure="warn") the check reports a `ConvergenceWarning` with the
same message and the program goes on (CUDA kernels have no warning channel: they stop).
Called from Python (the interpreter path of a rule) it checks the same.
"""
from __future__ import annotations

from ..errors import ConvergenceError, Loc, TypeInferenceError, format_detail, warn_convergence
from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import BOOL, F64, ArrayType


class Requirement:
    """A named condition: `message` holds '{detail}' for the value reached; `loc` is where
    the error points (the user's solver, not the generated rule)."""

    def __init__(self, message: str, loc: Loc | None = None, warn: bool = False):
        self.message = message
        self.loc = loc
        self.warn = warn

    def __call__(self, cond, detail) -> None:
        if cond:
            return
        if self.warn:
            warn_convergence(self.message, detail)
        else:
            raise ConvergenceError(format_detail(self.message, detail), self.loc)

    def __adcompile_lower__(self, lw, args, kw, node):
        if kw or len(args) != 2 or not all(isinstance(a, Value) for a in args):
            raise lw.error(node, "require(cond, detail) takes a condition and a number", "",
                           TypeInferenceError)
        cond, detail = args
        if cond.type != BOOL or isinstance(detail.type, ArrayType):
            raise lw.error(node, "require(cond, detail): a bool and a scalar", "",
                           TypeInferenceError)
        if detail.type != F64:
            detail = lw.emit("cast", [detail], {"to": "f64"}, name="detail")
        Builder(lw.block, self.loc or lw.src.loc(node)).op(
            "check", [cond, detail], [],
            {"message": self.message, "kind": "convergence", **({"warn": True} if self.warn else {})})
        return None
