"""Pass pipelines, assembled in one place, with verification and observable output.

Every pass and every derivative transform follows one contract (`Pass`: a name and
`run(fn) -> fn`) and runs through `run_passes`/`run_transform`, which verify the IR after it
(cheap next to a backend compile, so a pass that breaks an invariant is named at once), print
it when the compile options ask (`print_after`, ADCOMPILE_PRINT_AFTER=<pass>|all) and time it
(`time_passes`, ADCOMPILE_TIME_PASSES=1). `cleanup=False` (ADCOMPILE_CLEANUP=0) skips the
cleanup passes, keeping only what correctness needs: for measuring what cleanup buys
(benchmarks), never for production. Settings come from `CompileOptions`, never from the
environment inside a pass.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..driver.options import CompileOptions
from ..errors import AdError, InternalError
from ..ir.core import Function
from ..ir.printer import print_function
from ..ir.verifier import VerifyError, verify
from .bounds import version_bounds
from .checkpoint import Checkpoint
from .dce import dce
from .expand import expand
from .fuse import fuse
from .fuse_lanes import fuse_lanes
from .guard_tapes import guard_tapes
from .induction import induction
from .inline_custom import inline_custom
from .inplace import insert_copies
from .licm import licm
from .lower_arrays import REMOVES as lower_arrays_removes
from .lower_arrays import lower_arrays
from .reuse_buffers import reuse_buffers
from .scalar_semantics import EXPANDED as scalar_expanded
from .scalar_semantics import scalar_semantics
from .simplify import simplify
from .split_sums import split_sums
from .partial_sums import partial_sums


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[Function], Function]
    removes: frozenset[str] = frozenset()
    """Primitives that no longer occur after the pass (backends after it need no lowering)."""


PASSES: dict[str, Pass] = {p.name: p for p in (
    Pass("simplify", simplify),
    Pass("licm", licm),
    Pass("dce", dce),
    Pass("fuse", fuse),
    Pass("expand", expand),
    Pass("fuse_lanes", fuse_lanes),
    Pass("inplace", insert_copies),
    Pass("inline_custom", inline_custom, frozenset({"custom"})),
    Pass("lower_arrays", lower_arrays, lower_arrays_removes),
    Pass("scalar_semantics", scalar_semantics, frozenset(scalar_expanded)),
    Pass("reuse_buffers", reuse_buffers),
    Pass("guard_tapes", guard_tapes),
    Pass("induction", induction),
    Pass("checkpoint", Checkpoint().run),
    Pass("bounds", version_bounds),
    Pass("split_sums", split_sums),
    Pass("partial_sums", partial_sums),
)}

PRIMAL_PIPELINE = ("simplify", "induction", "simplify", "licm", "expand", "fuse", "simplify", "dce",
                   "fuse_lanes")
# split_sums on both: numba's indices proven in range are unsigned in its generated code (no
# wrap-around select), so split and gathered adjoint loops vectorise there too; partial_sums
# where the backend has no per-add reassociation (numba)
BACKEND_PIPELINE = ("inline_custom", "simplify", "dce", "reuse_buffers", "inplace", "split_sums",
                    "dce", "bounds", "simplify", "licm", "partial_sums")
# backends that want loops only: whole-array ops lowered (and fused) before copy insertion
LOWERED_PIPELINE = ("inline_custom", "simplify", "dce", "lower_arrays", "scalar_semantics",
                    "simplify", "licm", "dce", "reuse_buffers", "inplace", "split_sums", "dce",
                    "bounds", "simplify", "licm")


# reverse mode's preparation of the primal, before its transform: inline custom functions
# without derivative rules, copy insertion (linear array chains), checkpointing, custom_vjp
# calls running their fwd rule. Reverse mode supplies the parameterised passes
# (ad/reverse/driver.py: which custom ops keep their rule, the policy, the fwd rules).
REVERSE_PREP_PIPELINE = ("inline_custom", "inplace", "checkpoint", "custom_vjp")


def backend_pipeline(options: CompileOptions) -> tuple[str, ...]:
    """numba keeps NumPy's array form (often faster there); LLVM gets loops, always (its
    codegen handles only scalars, element access and memory). `lower_arrays=True`
    (ADCOMPILE_LOWER_ARRAYS=1) runs numba on the lowered form too, for measuring what lowering
    buys."""
    base = LOWERED_PIPELINE if options.lowered else BACKEND_PIPELINE
    return base + ("guard_tapes",) if options.check_tapes else base


def print_after(name: str, fn: Function, options: CompileOptions) -> None:
    """Print fn's IR if the options name this stage."""
    if options.prints(name):
        sys.stderr.write(f"// ---- IR after {name} ----\n{print_function(fn)}")


CLEANUP = frozenset({"bounds", "split_sums", "partial_sums", "simplify", "licm", "dce", "fuse", "expand",
                     "fuse_lanes", "induction",
                     "reuse_buffers"})


def run_passes(fn: Function, names: Sequence[str | Pass],
               options: CompileOptions | None = None) -> Function:
    """Run passes by registered name, or pass objects (anything with `.name` and `.run`, e.g.
    one holding its parameters as fields), verifying, timing and printing after each."""
    options = options if options is not None else CompileOptions()   # defaults: no env reads
    passes = [PASSES[n] if isinstance(n, str) else n for n in names]
    if not options.cleanup:
        passes = [p for p in passes if p.name not in CLEANUP]
    for p in passes:
        name = p.name
        t0 = time.perf_counter()
        try:
            fn = p.run(fn)
            verify(fn)
        except AdError:
            raise
        except (VerifyError, Exception) as e:
            raise InternalError(f"pass '{name}' failed: {type(e).__name__}: {e}",
                                fn.loc) from e
        _report(name, fn, t0, options)
    return fn


def _report(name: str, fn: Function, t0: float, options: CompileOptions) -> None:
    if options.time_passes:
        sys.stderr.write(f"adcompile: pass {name:<14} {fn.name:<30} "
                         f"{(time.perf_counter() - t0) * 1e3:8.2f} ms\n")
    print_after(name, fn, options)


def run_transform(transform, fn: Function, options: CompileOptions) -> Function:
    """Run a derivative transform (a parameterised pass: `.name`, `.run(fn, options)`) under
    the pass contract."""
    t0 = time.perf_counter()
    try:
        out = transform.run(fn, options)
        verify(out)
    except AdError:
        raise
    except Exception as e:
        raise InternalError(f"transform '{transform.name}' failed: {type(e).__name__}: {e}",
                            fn.loc) from e
    _report(transform.name, out, t0, options)
    return out


def check_frontend(fn: Function, options: CompileOptions) -> Function:
    try:
        verify(fn)
    except VerifyError as e:
        raise InternalError(f"the frontend produced invalid IR: {e}", fn.loc) from e
    print_after("frontend", fn, options)
    return fn
