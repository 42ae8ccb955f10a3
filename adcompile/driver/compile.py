"""The compile driver: frontend, passes, transform and backend for one signature, behind one
cache that `jit`, the derivative API and ahead-of-time builds share.

The cache is keyed by the function object (weakly), then by (signature, transform, the
options that change the program): a second call with the same key reuses the IR stages and
the built program, and a changed option (say the tape limit) compiles anew instead of being
ignored. Below it sits the disk cache (disk_cache.py): a program built by an earlier process,
for the same function source, callees, globals, signature, transform and options, is loaded
from there without running the frontend or any pass; its IR and generated source are rebuilt
only if asked for (`.source`, `show_ir`). The backends keep their own on-disk caches of the
generated code.

`ADCOMPILE_TIME_PASSES=1` prints one line per stage to stderr: the disk-cache lookup (hit,
miss, or skip when the function cannot be cached on disk), the frontend, each pass, the
backend build, the disk-cache store, and the first call (where numba compiles or loads its
own cache).
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
from ..frontend.source import get_source, watching
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
from . import disk_cache
from .interface import Interface
from .options import CompileOptions


@dataclass
class Specialization:
    """One compiled program: the callable, what the call path needs to know about it
    (`primal`), and its IR at each stage and generated source, rebuilt on first use when
    the program came from the disk cache."""

    call: Callable
    primal: Interface
    name: str = ""   # the program's name (the function's, with the transform's suffix)
    boxes: list = field(default_factory=list)   # per primal result: its NumPy 2 kind
    observed: object = None   # the options it was built under, when they print or time
    reads: tuple[Read, ...] = ()   # the globals it baked in (frontend/reads.py)
    stages: dict[str, Function] | None = None
    generated: str | None = None
    listings: dict[str, str] = field(default_factory=dict)
    """Backend-specific forms of the program besides `source` (LLVM: "llvm_ir")."""
    rebuild: Callable[[], "Specialization"] | None = None   # for `stages`/`generated`
    time_first_call: bool = False   # ADCOMPILE_TIME_PASSES: report the first call's time
    artifact: dict | None = None   # where the backend left it (backends/reload.py), if known

    @property
    def ir(self) -> dict[str, Function]:
        """The IR at each stage ('frontend', 'primal', the transform's, 'backend')."""
        if self.stages is None:
            self._rebuild()
        return self.stages

    @property
    def source(self) -> str:
        """The generated source (Python for numba, LLVM IR for LLVM)."""
        if self.generated is None:
            self._rebuild()
        return self.generated

    def _rebuild(self) -> None:
        if self.rebuild is None:
            raise InternalError("a compiled program has neither its IR nor a way to rebuild it")
        again = self.rebuild()
        self.stages, self.generated = again.ir, again.source
        self.listings = again.listings

    def box(self, vals) -> list:
        """The primal results among `vals` typed as NumPy 2 would (results.py)."""
        return box(self.boxes, vals)

    def listing(self, name: str, what: str) -> str:
        """One of `listings` (the LLVM IR: "llvm_ir"), or a precise error naming `what`."""
        if self.stages is None and self.rebuild is not None:   # loaded from the disk cache
            self._rebuild()
        text = self.listings.get(name)
        if text is None:
            raise AdError(f"{what} was compiled by a backend without a '{name}' listing",
                          hint="compile it with backend=\"llvm\" to see its LLVM IR; "
                               ".source shows the generated code on every backend")
        return text

    def stale(self) -> bool:
        """Has a global this program read changed since it was compiled?"""
        return not unchanged(self.reads)


@dataclass
class Sources:
    """The functions whose source a build lowered (the program's callees, for the disk
    cache's key). `nested`: the build compiled another program inside it (a derivative
    called from compiled code), whose own sources and globals are not all listed here."""

    functions: list = field(default_factory=list)
    nested: bool = False


_STAGES: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()
BUILT: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()
_BUILDING: list[Sources] = []   # the builds under way, outermost first


def report(options: CompileOptions, stage: str, name: str, t0: float, note: str = "") -> None:
    """One ADCOMPILE_TIME_PASSES line: a stage, the program, milliseconds since `t0`."""
    if options.time_passes:
        sys.stderr.write(f"adcompile: {stage:<14} {name:<30} "
                         f"{(time.perf_counter() - t0) * 1e3:8.2f} ms{note}\n")


def build_ir(func, sig, transform=None, options: CompileOptions | None = None
             ) -> dict[str, Function]:
    """Frontend + passes for one signature; the IR at each named stage ('frontend', 'primal',
    the transform's name, 'optimized', and 'backend', prepared for the options' backend).
    Cached: callers must not modify the returned stages."""
    return _cached_ir(func, sig, transform, options)[0]


def _cached_ir(func, sig, transform, options: CompileOptions | None
               ) -> tuple[dict[str, Function], tuple[Read, ...], Sources]:
    """The stages, the globals they read and the sources they lowered; rebuilt when one of
    those globals changed."""
    for outer in _BUILDING:
        outer.nested = True
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
              ) -> tuple[dict[str, Function], tuple[Read, ...], Sources]:
    sources = Sources()
    _BUILDING.append(sources)
    try:
        with watching() as seen:
            stages, reads = _run_stages(func, sig, transform, options)
    finally:
        # by identity: nested builds hold equal (dataclass ==) but distinct Sources
        del _BUILDING[next(i for i, b in enumerate(_BUILDING) if b is sources)]
    sources.functions = seen
    return stages, reads, sources


def _run_stages(func, sig, transform, options: CompileOptions
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
    report(options, "frontend", fn.name, t0)
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
    t0 = time.perf_counter()
    try:
        call, source, listings = backend.build(stages["backend"], name)
    except AdError:
        raise
    except Exception as e:
        raise InternalError(f"{backend.name} backend failed on {name}: {type(e).__name__}: "
                            f"{e}", stages["backend"].loc) from e
    report(options, "backend build", name, t0,
           "  (numba compiles at the first call)" if backend.name == "numba" else "")
    return Specialization(call, Interface.of(stages["primal"], stages["backend"]), name,
                          boxes(stages["primal"]), stages=stages, generated=source,
                          listings=listings)


def specialize(func, sig, transform, options: CompileOptions) -> Specialization:
    """The compiled program of `func` for this signature, transform and options (cached in
    memory, then on disk)."""
    key = (tuple(sig), transform, options.key)
    table = BUILT.setdefault(func, {})
    got = table.get(key)
    if got is None or (options.observes and got.observed is not options) or got.stale():
        check_backend(func, sig, options.backend,
                      get_backend(options.backend).requires_lowering or options.lower_arrays)
        name = f"{func.__name__}{f'_{transform.name}' if transform is not None else ''}"
        disk_key = _disk_key(func, sig, transform, options, name)
        got = _from_disk(disk_key, func, sig, transform, options, name) if disk_key else None
        if got is None:
            got, sources = _compile(func, sig, transform, options, name)
            if disk_key and not sources.nested:
                t0 = time.perf_counter()
                kept = disk_cache.store(disk_key, func, options.backend, got.call, got.primal,
                                        got.ir["backend"], got.reads, sources.functions)
                report(options, "disk store", name, t0, "" if kept else
                       "  (not cacheable: it reads something only this process can check)")
        got.observed = options
        got.time_first_call = options.time_passes
        table[key] = got
    return got


def _compile(func, sig, transform, options: CompileOptions, name: str
             ) -> tuple[Specialization, Sources]:
    stages, reads, sources = _cached_ir(func, sig, transform, options)
    got = compile_stages(stages, name, options)
    got.reads = reads
    return got, sources


def compile_program(func, sig, transform, options: CompileOptions, name: str
                    ) -> Specialization:
    """Build one program from source (the frontend, the passes, the backend)."""
    return _compile(func, sig, transform, options, name)[0]


def _disk_key(func, sig, transform, options: CompileOptions, name: str) -> str | None:
    if not options.disk_cache:
        return None
    t0 = time.perf_counter()
    key = disk_cache.program_key(func, sig, transform, options)
    if key is None:
        report(options, "disk skip", name, t0, "  (no source file: not cached on disk)")
    return key


def _from_disk(key: str, func, sig, transform, options: CompileOptions, name: str
               ) -> Specialization | None:
    """The program from the disk cache, or None (printing the IR needs the passes run)."""
    if options.print_after:
        return None
    t0 = time.perf_counter()
    hit = disk_cache.lookup(key, func, options.backend)
    report(options, "disk hit" if hit else "disk miss", name, t0)
    if hit is None:
        return None
    ref = weakref.ref(func)

    def rebuild() -> Specialization:
        f = ref()
        if f is None:
            raise AdError(f"'{name}' no longer exists, so its IR cannot be rebuilt")
        return _compile(f, sig, transform, options, name)[0]
    return Specialization(hit.call, hit.interface, name, boxes(hit.interface),
                          reads=hit.reads, rebuild=rebuild, artifact=hit.facts)


def signatures(func, transform, options: CompileOptions) -> list[tuple]:
    """The signatures `func` has been compiled for, with this transform and these options."""
    return [k[0] for k in BUILT.get(func, {}) if k[1] == transform and k[2] == options.key]


def call_specialization(spec: Specialization, args) -> Any:
    """Run compiled code; a numba failure on generated code is reported as our bug."""
    try:
        if spec.time_first_call:
            return _first_call(spec, args)
        return spec.call(*args)
    except AdError:
        raise
    except Exception as e:
        if type(e).__module__.startswith("numba") and not isinstance(e, ArithmeticError):
            raise InternalError(f"numba could not compile the generated code: {e}",
                                spec.primal.backend_loc) from e
        raise


def _first_call(spec: Specialization, args) -> Any:
    spec.time_first_call = False
    t0 = time.perf_counter()
    try:
        return spec.call(*args)
    finally:
        report(spec.observed, "first call", spec.name, t0)
