"""LLVM backend, part 2: optimise, emit objects, link shared libraries, load them.

The JIT path (`adcompile.jit(f, backend="llvm")`, `grad(f, backend="llvm")`) and the
ahead-of-time CLI share one route: LLVM IR -> LLVM's O3 pipeline (vectorisers on) -> object
file -> `cc -shared` together with the C runtime (`runtime/src/*.c`, compiled once per
machine) -> a shared library, loaded with ctypes. Libraries are cached on disk under a hash
of the LLVM IR, so a second process only loads them.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import llvmlite.binding as llvm
import llvmlite.ir as ir

from .._version import __version__
from ..errors import AdError, ConvergenceError, InternalError, TapeBudgetExceeded
from ..ir.core import Function
from .abi import (ERR_ALLOC, ERR_CONVERGENCE, ERR_INDEX, ERR_INTERNAL, ERR_OVERFLOW,
                  ERR_SHAPE, ERR_TAPE_BUDGET, ERR_UNBOUND, ERR_VALUE, ERR_ZERO_DIVISION,
                  type_spec)
from .cache import cache_dir as _cache_dir
from .ctypes_stub import bind
from .llvm_codegen import LOWERS, FunctionCodegen  # noqa: F401  (LOWERS: the registry's)
from .llvm_source import lowered_source
from .llvm_types import Unsupported
from .llvm_wrapper import public_wrapper


class KernelError(AdError, RuntimeError):
    """A compiled kernel stopped with an error code (bad index, shapes, division by zero)."""

    default_hint = "the message names the line of your source (or the argument) that failed"

    def __init__(self, code: int, message: str):
        super().__init__(message or f"kernel failed with code {code}")
        self.code = code


class KernelIndexError(KernelError, IndexError):
    default_hint = "an index is outside its array's extent at this line"


class KernelValueError(KernelError, ValueError):
    default_hint = "the values passed at run time do not fit what this line needs"


class KernelTapeBudget(KernelError, TapeBudgetExceeded):
    pass


class KernelMemoryError(KernelError, MemoryError):
    """An allocation the kernel could not make: more memory than there is, or a size that
    does not fit in 64 bits (NumPy: "array is too big")."""

    default_hint = ("make the arrays smaller; for reverse mode, checkpoint the loop "
                    "(grad(f, checkpoint=\"binomial\", memory=\"50MB\"))")


class KernelInternalError(KernelError, InternalError):
    """ERR_INTERNAL: generated code caught its own bug (e.g. ADCOMPILE_CHECK_TAPES=1)."""

    default_hint = InternalError.default_hint


class KernelUnboundLocalError(KernelError, UnboundLocalError):
    pass


class KernelOverflowError(KernelError, OverflowError):
    pass


class KernelZeroDivisionError(KernelError, ZeroDivisionError):
    default_hint = "a divisor is zero at this line (Python raises here too)"


class KernelConvergenceError(KernelError, ConvergenceError):
    default_hint = ConvergenceError.default_hint


_ERRORS = {ERR_CONVERGENCE: KernelConvergenceError, ERR_INTERNAL: KernelInternalError, ERR_INDEX: KernelIndexError,
           ERR_VALUE: KernelValueError, ERR_SHAPE: KernelValueError,
           ERR_ALLOC: KernelMemoryError, ERR_TAPE_BUDGET: KernelTapeBudget,
           ERR_UNBOUND: KernelUnboundLocalError, ERR_OVERFLOW: KernelOverflowError,
           ERR_ZERO_DIVISION: KernelZeroDivisionError}

_initialized = False


def _init() -> None:
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True


def cache_dir() -> Path:
    return _cache_dir("llvm")


def runtime_dir() -> Path:
    """Sources of the C runtime: the repository's `runtime/` or the installed copy."""
    here = Path(__file__).resolve()
    for cand in (here.parents[2] / "runtime", here.parents[1] / "_runtime"):
        if (cand / "include" / "adcompile_runtime.h").exists():
            return cand
    raise AdError("the adcompile C runtime sources are missing from this installation",
                  hint="reinstall adcompile (pip install adcompile) from a complete checkout")


def c_compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise AdError("the LLVM backend needs a C compiler/linker to build shared libraries",
                      hint="install gcc or clang, or set CC; the numba backend needs neither")
    return cc


def run_command(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AdError(f"command failed: {' '.join(cmd)}\n{proc.stderr.strip()}",
                      hint="check that the C compiler works (cc --version)")


def runtime_objects() -> list[Path]:
    """The runtime compiled to position-independent objects, once per source version."""
    src = runtime_dir()
    files = sorted((src / "src").glob("*.c"))
    h = hashlib.sha256()
    for f in sorted((src / "src").iterdir()) + [src / "include" / "adcompile_runtime.h"]:
        h.update(f.name.encode() + f.read_bytes())
    out = cache_dir() / f"runtime-{h.hexdigest()[:16]}"
    if not out.exists():
        tmp = Path(tempfile.mkdtemp(dir=cache_dir(), prefix="rt-tmp-"))
        for f in files:
            run_command([c_compiler(), "-O2", "-fPIC", "-std=c99", "-I", str(src / "include"), "-c",
                  str(f), "-o", str(tmp / (f.stem + ".o"))])
        try:
            os.replace(tmp, out)
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    return sorted(out.glob("*.o"))


# -- building modules --------------------------------------------------------------------------
@dataclass
class Entry:
    """One function of a library: IR, C symbol, and names of its outputs (for the header)."""

    fn: Function
    symbol: str
    out_names: list[str]


def build_module(entries: list[Entry], boundscheck: bool = True,
                 public: bool = True) -> ir.Module:
    _init()
    module = ir.Module(name=entries[0].symbol)
    module.triple = llvm.get_process_triple()
    cores = []
    for e in entries:
        try:
            cores.append(FunctionCodegen(module, e.fn, e.symbol, boundscheck).generate())
        except Unsupported as ex:
            raise AdError(f"the LLVM backend cannot compile '{e.fn.name}': {ex}", e.fn.loc,
                          "use the numba backend for this function") from ex
    if public:   # after every core: each C function they call is declared by now
        for e, core in zip(entries, cores):
            if e.symbol in module.globals:
                raise AdError(f"the C symbol '{e.symbol}' of '{e.fn.name}' is the name of a "
                              "C library or runtime function the library calls", e.fn.loc,
                              "give the entry point another name")
            public_wrapper(module, core, e.fn, e.symbol, e.out_names)
    return module


def target_machine(cpu: str = "host"):
    _init()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    if cpu == "host":
        name, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
    else:
        name, features = cpu, ""
    return target.create_target_machine(cpu=name, features=features, opt=3, reloc="pic",
                                        codemodel="default")


# part of the cache key: changing how libraries are optimised must not reuse old ones
OPT_CONFIG = "O3 loop-vectorize no-slp v1"


def optimize(module: ir.Module, cpu: str = "host"):
    """Parse, verify and run LLVM's O3 pipeline with both vectorisers on."""
    tm = target_machine(cpu)
    mod = llvm.parse_assembly(str(module))
    mod.verify()
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = False
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod, tm


def link_shared(objects: list[Path], out: Path) -> None:
    run_command([c_compiler(), "-shared", "-o", str(out)] + [str(o) for o in objects] + ["-lm"])


def compile_library(entries: list[Entry], boundscheck: bool = True, cpu: str = "host"
                    ) -> tuple[Path, str]:
    """(path of a cached shared library, LLVM IR text) for these entries."""
    module = build_module(entries, boundscheck)
    text = str(module)
    rt = runtime_objects()
    key = hashlib.sha256(f"{__version__}\n{OPT_CONFIG}\n{cpu}\n{llvm.get_host_cpu_name()}\n{rt[0].parent.name}"
                         f"\n{text}".encode()).hexdigest()[:24]
    lib = cache_dir() / f"{entries[0].symbol}-{key}.so"
    if not lib.exists():
        mod, tm = optimize(module, cpu)
        with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
            obj = Path(tmp) / "kernel.o"
            obj.write_bytes(tm.emit_object(mod))
            part = Path(tmp) / "lib.so"
            link_shared([obj] + rt, part)
            os.replace(part, lib)
    return lib, text


# -- calling from Python -------------------------------------------------------------------------
def kernel_error(code: int, message: str) -> KernelError:
    """The Python error for a kernel's ADC_ERR_* return code and message (also for C
    callers' codes, e.g. in tests of generated libraries)."""
    return _ERRORS.get(code, KernelError)(code, message)


def build(fn: Function, pyname: str | None = None, boundscheck: bool = True):
    """Return (callable, readable source, {"llvm_ir": LLVM IR text}) for an IR function after
    backend passes (the source: `llvm_source.py`)."""
    # prefixed: a user function named like a C library function (`tanh`, `log1p`) must not
    # clash with the declaration of that function in the same module
    # (not `adc_`: the runtime's own prefix)
    symbol = "adcjit_" + _c_name(pyname or fn.name)
    lib_path, text = compile_library([Entry(fn, symbol, [f"out{i}" for i in
                                                         range(len(fn.result_types))])],
                                     boundscheck)
    lib = ctypes.CDLL(str(lib_path))
    call = bind(lib, symbol, [type_spec(a.type) for a in fn.args],
                [type_spec(t) for t in fn.result_types], fn.returns_tuple, kernel_error,
                [a.name for a in fn.args])
    call.library = str(lib_path)   # where backends/reload.py finds it in a later process
    return call, lowered_source(fn, pyname or fn.name), {"llvm_ir": text}


def _c_name(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else "f_" + out
