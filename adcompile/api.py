"""Public entry points: `jit`, `interpret`, `show_ir`.

A `Compiled` object specialises its function per argument signature through the compile
driver (which caches the IR and the built program in memory, and the backends on disk). Its
compile options are read once, when it is made.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from .driver.compile import Specialization, build_ir, call_specialization, signatures, specialize
from .driver import shipping
from . import pickling
from .driver.options import CompileOptions
from .errors import AdError
from .ir.interpreter import run_function
from .ir.printer import print_function
from .results import box_call, boxes
from .frontend.env import unflatten
from .signature import bind_defaults, signature_of


def resolve_options(backend: str | None, options: CompileOptions | None) -> CompileOptions:
    """The API boundary: explicit options (or the environment's), with `backend` on top."""
    if options is not None and not isinstance(options, CompileOptions):
        raise AdError(f"options={options!r}: expected an adcompile.CompileOptions",
                      hint="options=adcompile.CompileOptions(backend=\"llvm\"), or pass "
                      "backend= alone")
    base = options if options is not None else CompileOptions.from_env()
    return base.replace(backend=backend)


class Compiled:
    """A function compiled by adcompile; call it like the original."""

    __adcompile__ = True

    def __init__(self, func: Callable, backend: str | None = None,
                 options: CompileOptions | None = None):
        if isinstance(func, Compiled):
            func = func.py_func
        self.py_func = func
        self.options = resolve_options(backend, options)
        self._last: Specialization | None = None
        self._specs: dict[tuple, Specialization] = {}   # a front for the driver's cache
        self._trees: dict[int, tuple] = {}   # id(spec) -> nested results of a derivative
        functools.update_wrapper(self, func, updated=())

    @property
    def backend(self) -> str:
        return self.options.backend

    def specialize(self, args: tuple) -> Specialization:
        sig = signature_of(self.py_func, args)
        spec = self._specs.get(sig)
        if spec is None or self.options.observes or spec.stale():
            spec = self._specs[sig] = specialize(self.py_func, sig, None, self.options)
            program = getattr(self.py_func, "__adcompile_program__", None)
            tree = program(sig).tree if program is not None else None
            if tree is not None and any(t is not None for t in tree):
                self._trees[id(spec)] = tree   # jit(jacrev(f)) nests as jacrev(f) does
        self._last = spec
        return spec

    def __reduce__(self):
        return pickling.reduce(self, "jit", {"options": self.options})

    def __call__(self, *args, **kwargs):
        args = bind_defaults(self.py_func, args, kwargs)
        spec = self.specialize(args)
        out = box_call(spec.primal, spec.boxes, call_specialization(spec, args))
        tree = self._trees.get(id(spec))
        return out if tree is None else unflatten(tree, list(out))

    @property
    def source(self) -> str:
        """The generated source of the most recently used specialisation."""
        if self._last is None:
            raise AdError(f"'{self.py_func.__name__}' has not been compiled yet",
                          hint="call it once (or use .specialize(args)) before reading .source")
        return self._last.source

    @property
    def llvm_ir(self) -> str:
        """The LLVM IR (before optimisation) of the most recently used specialisation, for a
        function compiled by the LLVM backend (`.source` is its readable form)."""
        self.source   # noqa: B018 - not compiled yet: its error
        return self._last.listing("llvm_ir", f"'{self.py_func.__name__}'")

    def __repr__(self) -> str:
        n = len(signatures(self.py_func, None, self.options))
        return (f"<adcompile.jit {self.py_func.__qualname__} ({self.options.backend}, "
                f"{n} signatures)>")


def jit(func: Callable | None = None, *, backend: str | None = None,
        options: CompileOptions | None = None):
    """Compile `func` (decorator or call). Compilation happens at the first call per signature.
    `backend`: "numba" (default; `ADCOMPILE_BACKEND` changes it) or "llvm"; `options`: a `CompileOptions` (default: from the
    environment, read now)."""
    if func is None:
        return lambda f: Compiled(f, backend=backend, options=options)
    return Compiled(func, backend=backend, options=options)


pickling.register("jit", jit)
pickling.SHIPPING.update(export=shipping.export, install=shipping.install)


def _py(func):
    return func.py_func if isinstance(func, Compiled) else func


def interpret(func: Callable, *args) -> Any:
    """Run `func` through the IR reference interpreter (slow; the testing oracle)."""
    func = _py(func)
    args = bind_defaults(func, args)
    stages = build_ir(func, signature_of(func, args))
    fn = stages["primal"]
    return box_call(fn, boxes(fn), run_function(fn, list(args)))


def show_ir(func: Callable, *args, stage: str = "primal", file=None) -> str:
    """The IR of `func` for these example arguments at a stage ('frontend', 'primal',
    'backend'); printed to `file` if given. Without args, the last compiled signature."""
    if args:
        f = _py(func)
        opts = func.options if isinstance(func, Compiled) else None
        stages = build_ir(f, signature_of(f, bind_defaults(f, args)), None, opts)
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
