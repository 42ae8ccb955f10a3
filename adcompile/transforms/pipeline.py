"""Pass pipelines, assembled in one place, with verification and observable output.

`ADCOMPILE_PRINT_AFTER=<pass>|all` prints the IR after a pass; the verifier runs after every
pass (it is cheap next to a numba compile), so a pass that breaks an invariant is named at once.
`ADCOMPILE_TIME_PASSES=1` prints each pass's wall time to stderr. `ADCOMPILE_CLEANUP=0` skips
the cleanup passes (simplify, licm, expand, fuse, dce), keeping only what correctness needs: for measuring
what cleanup buys (benchmarks), never for production.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import AdError, InternalError
from ..ir.core import Function
from ..ir.printer import print_function
from ..ir.verifier import VerifyError, verify
from .checkpoint import Checkpoint
from .dce import dce
from .expand import expand
from .fuse import fuse
from .fuse_lanes import fuse_lanes
from .induction import induction
from .inline_custom import inline_custom
from .inplace import insert_copies
from .licm import licm
from .lower_arrays import lower_arrays
from .reuse_buffers import reuse_buffers
from .simplify import simplify


@dataclass(frozen=True)
class Pass:
    name: str
    run: Callable[[Function], Function]


PASSES: dict[str, Pass] = {p.name: p for p in (
    Pass("simplify", simplify),
    Pass("licm", licm),
    Pass("dce", dce),
    Pass("fuse", fuse),
    Pass("expand", expand),
    Pass("fuse_lanes", fuse_lanes),
    Pass("inplace", insert_copies),
    Pass("inline_custom", inline_custom),
    Pass("lower_arrays", lower_arrays),
    Pass("reuse_buffers", reuse_buffers),
    Pass("induction", induction),
    Pass("checkpoint", Checkpoint().run),
)}

PRIMAL_PIPELINE = ("simplify", "induction", "simplify", "licm", "expand", "fuse", "simplify", "dce",
                   "fuse_lanes")
BACKEND_PIPELINE = ("inline_custom", "simplify", "dce", "reuse_buffers", "inplace")
# backends that want loops only: whole-array ops lowered (and fused) before copy insertion
LOWERED_PIPELINE = ("inline_custom", "simplify", "dce", "lower_arrays", "simplify", "licm", "dce",
                    "reuse_buffers", "inplace")


# reverse mode's preparation of the primal, before its transform: inline custom functions
# without derivative rules, copy insertion (linear array chains), checkpointing, custom_vjp
# calls running their fwd rule. Reverse mode supplies the parameterised passes
# (ad/reverse/driver.py: which custom ops keep their rule, the policy, the fwd rules).
REVERSE_PREP_PIPELINE = ("inline_custom", "inplace", "checkpoint", "custom_vjp")


def backend_pipeline(backend: str) -> tuple[str, ...]:
    """numba keeps NumPy's array form (often faster there); LLVM gets loops. Setting
    ADCOMPILE_LOWER_ARRAYS=0 (or 1) overrides, for measuring what lowering buys."""
    flag = os.environ.get("ADCOMPILE_LOWER_ARRAYS", "")
    lowered = flag == "1" if flag in ("0", "1") else backend == "llvm"
    return LOWERED_PIPELINE if lowered else BACKEND_PIPELINE


def print_after(name: str, fn: Function) -> None:
    """Print fn's IR if ADCOMPILE_PRINT_AFTER names this stage (for steps inside transforms)."""
    _print_after(name, fn)


def _print_after(name: str, fn: Function) -> None:
    want = os.environ.get("ADCOMPILE_PRINT_AFTER", "")
    if want and (want == "all" or name in want.split(",")):
        sys.stderr.write(f"// ---- IR after {name} ----\n{print_function(fn)}")


CLEANUP = frozenset({"simplify", "licm", "dce", "fuse", "expand", "fuse_lanes", "induction",
                     "reuse_buffers"})


def run_passes(fn: Function, names: Sequence[str | Pass]) -> Function:
    """Run passes by registered name, or pass objects (anything with `.name` and `.run`, e.g.
    one holding options as fields), verifying, timing and printing after each."""
    passes = [PASSES[n] if isinstance(n, str) else n for n in names]
    if os.environ.get("ADCOMPILE_CLEANUP", "1") == "0":
        passes = [p for p in passes if p.name not in CLEANUP]
    timing = os.environ.get("ADCOMPILE_TIME_PASSES", "") not in ("", "0")
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
        if timing:
            sys.stderr.write(f"adcompile: pass {name:<14} {fn.name:<30} "
                             f"{(time.perf_counter() - t0) * 1e3:8.2f} ms\n")
        _print_after(name, fn)
    return fn


def run_transform(transform, fn: Function) -> Function:
    """Run a derivative transform (an object with `.stage` and `.run(fn)`) like a pass."""
    try:
        out = transform.run(fn)
        verify(out)
    except AdError:
        raise
    except Exception as e:
        raise InternalError(f"transform '{transform.stage}' failed: {type(e).__name__}: {e}",
                            fn.loc) from e
    _print_after(transform.stage, out)
    return out


def check_frontend(fn: Function) -> Function:
    try:
        verify(fn)
    except VerifyError as e:
        raise InternalError(f"the frontend produced invalid IR: {e}", fn.loc) from e
    _print_after("frontend", fn)
    return fn
