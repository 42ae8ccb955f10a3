"""The compile driver: frontend, passes, transform and backend for one signature, behind one
cache that `jit`, the derivative API and ahead-of-time builds share.

The cache is keyed by the function object (weakly), then by (signature, transform, the
options that change the program): a second call with the same key reuses the IR stages and
the built artifact, and a changed option (say the tape limit) compiles anew instead of being
ignored. The backends keep their own on-disk caches for the artifact itself.
"""
from __future__ import annotations

import sys
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

from ..backends import get_backend
from ..errors import AdError, InternalError, UnsupportedSyntax
from ..frontend.lower import lower
from ..frontend.reads import Read, unchanged
from ..frontend.source import get_source
from ..signature import check_backend
from ..ir.core import Function
from ..ir.walk import clone_function
from ..results import box, boxes
from ..transforms.pipeline import (
    PRIMAL_PIPELINE,
    backend_pipeline,
    check_frontend,
    run_passes,
    run_transform,
)
from .options import CompileOptions


@dataclass
class Specialization:
    """One compiled program: its IR at each stage, the generated source, the callable."""

    ir: dict[str, Function]
    source: str
    call: Callable
    observed: object = None   # the options it was built under, when they print or time
    reads: tuple[Read, ...] = ()   # the globals it baked in (frontend/reads.py)
    boxes: list = field(default_factory=list)   # per primal result: its NumPy 2 kind
    listings: dict[str, str] = field(default_factory=dict)
    """Backend-specific forms of the program besides `source` (LLVM: "llvm_ir")."""

    def box(self, vals) -> list:
        """The primal results among `vals` typed as NumPy 2 would (results.py)."""
        return box(self.boxes, vals)

    def listing(self, name: str, what: str) -> str:
        """One of `listings` (the LLVM IR: "llvm_ir"), or a precise error naming `what`."""
        text = self.listings.get(name)
        if text is None:
            raise AdError(f"{what} was compiled by a backend without a '{name}' listing",
                          hint="compile it with backend=\"llvm\" to see its LLVM IR; "
                               ".source shows the generated code on every backend")
        return text

    def stale(self) -> bool:
        """Has a global this program read changed since it was compiled?"""
        return not unchanged(self.reads)


_STAGES: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()
_BUILT: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()


def build_ir(func, sig, transform=None, options: CompileOptions | None = None
             ) -> dict[str, Function]:
    """Frontend + passes for one signature; the IR at each named stage ('frontend', 'primal',
    the transform's name, 'optimized', and 'backend', prepared for the options' backend).
    Cached: callers must not modify the returned stages."""
    return _cached_ir(func, sig, transform, options)[0]


def _cached_ir(func, sig, transform, options: CompileOptions | None
               ) -> tuple[dict[str, Function], tuple[Read, ...]]:
    """The stages and the globals they read; rebuilt when one of those globals changed."""
    options = options if options is not None else CompileOptions.from_env()
    if options.observes:      # printing or timing asked for: run the passes again
        return _build_ir(func, sig, transform, options)
    key = (tuple(sig), transform, options.key)
    table = _STAGES.setdefault(func, {})
    got = table.get(key)
    if got is None or not unchanged(got[1]):
        got = table[key] = _build_ir(func, sig, transform, options)
    return got


def _build_ir(func, sig, transform, options: CompileOptions
              ) -> tuple[dict[str, Function], tuple[Read, ...]]:
    stages: dict[str, Function] = {}
    reads: list[Read] = []
    t0 = time.perf_counter()
    program = getattr(func, "__adcompile_program__", None)
    try:
        if program is not None:   # a derivative object: its program, not its source
            fn = clone_function(program(sig).fn)
        else:
            fn = lower(func, [s.type for s in sig], [s.weak for s in sig], reads=reads)
    except AdError:
        raise
    except RecursionError:
        src = get_source(func) if program is None else None
        raise UnsupportedSyntax(f"an expression in '{func.__name__}' is nested too deeply to "
                                "compile", src.loc(src.node) if src else None,
                                "split long expressions into several statements "
                                "(s = a + b; s = s + c ...)") from None
    except Exception as e:  # a frontend bug: report with the user's function, not a traceback
        loc = None
        if program is None:
            src = get_source(func)
            loc = src.loc(src.node)
        raise InternalError(f"frontend failed on '{func.__name__}': {type(e).__name__}: {e}",
                            loc) from e
    if options.time_passes:
        sys.stderr.write(f"adcompile: frontend       {fn.name:<30} "
                         f"{(time.perf_counter() - t0) * 1e3:8.2f} ms\n")
    stages["frontend"] = clone_function(check_frontend(fn, options))
    fn = run_passes(fn, PRIMAL_PIPELINE, options)
    stages["primal"] = clone_function(fn)
    if transform is not None:
        fn = run_transform(transform, fn, options)
        stages[transform.name] = clone_function(fn)
        fn = run_passes(fn, PRIMAL_PIPELINE, options)
        stages["optimized"] = clone_function(fn)
    stages["backend"] = run_passes(fn, backend_pipeline(options), options)
    return stages, tuple(reads)


def compile_stages(stages: dict[str, Function], name: str, options: CompileOptions
                   ) -> Specialization:
    """Build the backend-stage IR; a failure inside a backend is reported as our bug."""
    backend = get_backend(options.backend)
    try:
        call, source, listings = backend.build(stages["backend"], name)
    except AdError:
        raise
    except Exception as e:
        raise InternalError(f"{backend.name} backend failed on {name}: {type(e).__name__}: "
                            f"{e}", stages["backend"].loc) from e
    return Specialization(stages, source, call, boxes=boxes(stages["primal"]),
                          listings=listings)


def specialize(func, sig, transform, options: CompileOptions) -> Specialization:
    """The compiled program of `func` for this signature, transform and options (cached)."""
    key = (tuple(sig), transform, options.key)
    table = _BUILT.setdefault(func, {})
    got = table.get(key)
    if got is None or (options.observes and got.observed is not options) or got.stale():
        check_backend(func, sig, options.backend,
                      get_backend(options.backend).requires_lowering or options.lower_arrays)
        stages, reads = _cached_ir(func, sig, transform, options)
        suffix = f"_{transform.name}" if transform is not None else ""
        got = table[key] = compile_stages(stages, f"{func.__name__}{suffix}", options)
        got.observed = options
        got.reads = reads
    return got


def signatures(func, transform, options: CompileOptions) -> list[tuple]:
    """The signatures `func` has been compiled for, with this transform and these options."""
    return [k[0] for k in _BUILT.get(func, {}) if k[1] == transform and k[2] == options.key]


def call_specialization(spec: Specialization, args) -> Any:
    """Run compiled code; a numba failure on generated code is reported as our bug."""
    try:
        return spec.call(*args)
    except AdError:
        raise
    except Exception as e:
        if type(e).__module__.startswith("numba") and not isinstance(e, ArithmeticError):
            raise InternalError(f"numba could not compile the generated code: {e}",
                                spec.ir["backend"].loc) from e
        raise
