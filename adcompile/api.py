"""Public entry points: `jit`, `interpret`, `show_ir`.

A `Compiled` object specialises its function per argument signature, caching the IR and the
numba dispatcher in memory (and, through numba, on disk).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Callable

from .errors import AdError, InternalError
from .frontend.lower import lower
from .ir.core import Function
from .ir.interpreter import run_function
from .ir.printer import print_function
from .signature import bind_defaults, signature_of
from .transforms.pipeline import (backend_pipeline, PRIMAL_PIPELINE, check_frontend, run_passes,
                                  run_transform)


@dataclass
class Specialization:
    ir: dict[str, Function]
    source: str
    call: Callable


def build_ir(func, sig, transform=None, backend: str = "numba") -> dict[str, Function]:
    """Frontend + passes for one signature; returns the IR at each named stage (the last,
    'backend', prepared for that backend: see `backend_pipeline`).

    `transform(primal_ir) -> (stage_name, ir)` runs a derivative transform on the primal IR.
    """
    import copy
    stages: dict[str, Function] = {}
    try:
        fn = lower(func, [s.type for s in sig], [s.weak for s in sig])
    except AdError:
        raise
    except RecursionError as e:
        raise InternalError(f"the frontend recursed too deeply: {e}") from e
    except Exception as e:  # a frontend bug: report with the user's function, not a traceback
        from .frontend.source import get_source
        src = get_source(func)
        raise InternalError(f"frontend failed on '{func.__name__}': {type(e).__name__}: {e}",
                            src.loc(src.node)) from e
    stages["frontend"] = copy.deepcopy(check_frontend(fn))
    fn = run_passes(fn, PRIMAL_PIPELINE)
    stages["primal"] = copy.deepcopy(fn)
    if transform is not None:
        fn = run_transform(transform, fn)
        stages[transform.stage] = copy.deepcopy(fn)
        fn = run_passes(fn, PRIMAL_PIPELINE)
        stages["optimized"] = copy.deepcopy(fn)
    fn = run_passes(fn, backend_pipeline(backend))
    stages["backend"] = fn
    return stages


def compile_stages(stages: dict[str, Function], name: str, backend: str = "numba"
                   ) -> Specialization:
    """Compile the backend-stage IR; a failure inside a backend is reported as our bug."""
    from .backends import builder
    build = builder(backend)
    try:
        call, source = build(stages["backend"], name)
    except AdError:
        raise
    except Exception as e:
        raise InternalError(f"{backend} backend failed on {name}: {type(e).__name__}: {e}",
                            stages["backend"].loc) from e
    return Specialization(stages, source, call)


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


class Compiled:
    """A function compiled by adcompile; call it like the original."""

    __adcompile__ = True

    def __init__(self, func: Callable, backend: str = "numba"):
        if isinstance(func, Compiled):
            func = func.py_func
        from .backends import builder
        self._build = builder(backend)
        self.py_func = func
        self.backend = backend
        self._specs: dict[tuple, Specialization] = {}
        self._last: Specialization | None = None
        functools.update_wrapper(self, func)

    def specialize(self, args: tuple) -> Specialization:
        sig = signature_of(self.py_func, args)
        spec = self._specs.get(sig)
        if spec is None:
            stages = build_ir(self.py_func, sig, backend=self.backend)
            spec = compile_stages(stages, self.py_func.__name__, self.backend)
            self._specs[sig] = spec
        self._last = spec
        return spec

    def __call__(self, *args):
        args = bind_defaults(self.py_func, args)
        return call_specialization(self.specialize(args), args)

    @property
    def source(self) -> str:
        """The generated Python source of the most recently used specialisation."""
        if self._last is None:
            raise AdError(f"'{self.py_func.__name__}' has not been compiled yet",
                          hint="call it once (or use .specialize(args)) before reading .source")
        return self._last.source

    def __repr__(self) -> str:
        return f"<adcompile.jit {self.py_func.__qualname__} ({len(self._specs)} signatures)>"


def jit(func: Callable | None = None, *, backend: str = "numba"):
    """Compile `func` (decorator or call). Compilation happens at the first call per signature."""
    if func is None:
        return lambda f: Compiled(f, backend=backend)
    return Compiled(func, backend=backend)


def _py(func):
    return func.py_func if isinstance(func, Compiled) else func


def interpret(func: Callable, *args) -> Any:
    """Run `func` through the IR reference interpreter (slow; the testing oracle)."""
    func = _py(func)
    args = bind_defaults(func, args)
    stages = build_ir(func, signature_of(func, args))
    return run_function(stages["primal"], list(args))


def show_ir(func: Callable, *args, stage: str = "primal", file=None) -> str:
    """The IR of `func` for these example arguments at a stage ('frontend', 'primal',
    'backend'); printed to `file` if given. Without args, the last compiled signature."""
    if args:
        f = _py(func)
        stages = build_ir(f, signature_of(f, bind_defaults(f, args)))
    elif isinstance(func, Compiled) and func._last is not None:
        stages = func._last.ir
    else:
        raise AdError("show_ir needs example arguments (or a compiled function that has been "
                      "called)", hint="show_ir(f, 1.0, np.zeros(3))")
    if stage not in stages:
        raise AdError(f"unknown stage {stage!r}", hint=f"one of {sorted(stages)}")
    text = print_function(stages[stage])
    if file is not None:
        file.write(text)
    return text


_ = os
