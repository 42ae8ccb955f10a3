"""The derivative transforms as parameterised passes: each is a frozen dataclass (hashable:
part of the compile cache key) with a `name` (the IR stage it produces) and
`run(fn, options) -> fn`, run under the pass contract by `run_transform`."""
from __future__ import annotations

from dataclasses import dataclass

from ..ad.dependencies import dependency_function
from ..ad.forward import jvp_function
from ..ad.reverse import vjp_function
from ..errors import AdError
from ..ir.builder import Builder
from ..ir.core import Function
from ..ir.walk import replace_uses
from ..jacobian.row_seed import seed_rows
from ..transforms.pipeline import PRIMAL_PIPELINE, run_passes
from .options import CompileOptions


class SeedUnsupported(AdError):
    """The function reads a row-seeded argument other than by elements (the API then passes
    the seed as an array)."""


@dataclass(frozen=True)
class JVP:
    """Forward mode. `lanes`: many tangent directions at once (a trailing lane axis);
    `seed_rows`: lanes seeded by the row-wise identity inside the program (no tangent
    arguments), for per-observation Jacobians."""

    active: tuple[bool, ...]
    lanes: bool = False
    seed_rows: bool = False
    name: str = "jvp"

    def run(self, fn: Function, options: CompileOptions) -> Function:
        out = jvp_function(fn, list(self.active), self.lanes)
        if not self.seed_rows:
            return out
        out = run_passes(out, PRIMAL_PIPELINE, options)   # lane loops first: seeds per lane
        n = len(fn.args)
        link = dict(out.shape_links)
        seeded = seed_rows(out, n, [link[i] for i in range(n, len(out.args))])
        if seeded is None:
            raise SeedUnsupported("row seed needs element reads of the arguments")
        return seeded


@dataclass(frozen=True)
class Dependencies:
    """Dependency mode (sparsity detection): vector forward mode whose tangents are int64
    bitsets of the inputs the values depend on (ad/dependencies.py)."""

    active: tuple[bool, ...]
    name: str = "deps"

    def run(self, fn: Function, options: CompileOptions) -> Function:
        return dependency_function(fn, list(self.active))


@dataclass(frozen=True)
class VJP:
    """Reverse mode: the program takes the primal arguments and one cotangent per float
    output, and returns the outputs and the cotangents of the active arguments.
    `unit_cotangent`: the (scalar) output's cotangent is fixed to 1 and is no argument: the
    gradient program of ahead-of-time builds."""

    active: tuple[bool, ...]
    checkpoint: object = None   # a policy of adcompile.checkpointing (hashable)
    unit_cotangent: bool = False
    name: str = "vjp"

    def run(self, fn: Function, options: CompileOptions) -> Function:
        out = vjp_function(fn, list(self.active), self.checkpoint, options)
        if self.unit_cotangent:
            _fix_cotangent(out, len(fn.args))
        return out


@dataclass(frozen=True)
class HVP:
    """Forward over reverse: the tangent of the gradient (Hessian-vector products; with
    `lanes`, many at once: a dense Hessian in one pass).
    `checkpoint`: the reverse pass's policy, as for `VJP` (the tangent sweep follows the same
    schedule: its tapes sit next to the primal ones)."""

    active: tuple[bool, ...]
    checkpoint: object = None   # a policy of adcompile.checkpointing (hashable)
    lanes: bool = False         # many tangent directions at once (dense Hessians)
    name: str = "hvp"

    def run(self, fn: Function, options: CompileOptions) -> Function:
        rev = vjp_function(fn, list(self.active), self.checkpoint, options)
        nbar = len(rev.args) - len(fn.args)
        return jvp_function(rev, list(self.active) + [False] * nbar, self.lanes)


def _fix_cotangent(fn: Function, index: int) -> None:
    """Turn argument `index` (a scalar cotangent) into the constant 1."""
    cot = fn.args[index]
    if len(fn.args) != index + 1 or cot.type.name not in ("f64", "f32"):
        raise AdError(f"a unit cotangent needs one scalar float output; '{fn.name}' has "
                      f"cotangents {[str(a.type) for a in fn.args[index:]]}")
    one: list = []
    Builder(one, fn.loc).op("const", [], [cot.type], {"value": 1.0, "type": cot.type.name},
                            names=[cot.name])
    fn.body.ops[:0] = one
    fn.args = fn.args[:index]
    replace_uses(fn.body, {cot.id: one[0].results[0]})
