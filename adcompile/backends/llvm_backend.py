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
import numpy as np

from .. import __version__
from ..errors import AdError
from ..ir.core import Function
from ..ir.types import ArrayType
from .llvm_codegen import ERR_ALLOC, ERR_INDEX, ERR_SHAPE, ERR_VALUE, FunctionCodegen, \
    Unsupported, public_wrapper


class KernelError(AdError, RuntimeError):
    """A compiled kernel stopped with an error code (bad index, shapes, division by zero)."""

    def __init__(self, code: int, message: str):
        super().__init__(message or f"kernel failed with code {code}")
        self.code = code


class KernelIndexError(KernelError, IndexError):
    pass


class KernelValueError(KernelError, ValueError):
    pass


_ERRORS = {ERR_INDEX: KernelIndexError, ERR_VALUE: KernelValueError, ERR_SHAPE: KernelValueError,
           ERR_ALLOC: KernelError}

_initialized = False


def _init() -> None:
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True


def cache_dir() -> Path:
    root = os.environ.get("ADCOMPILE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "adcompile")
    path = Path(root) / "llvm"
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def _run(cmd: list[str]) -> None:
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
            _run([c_compiler(), "-O2", "-fPIC", "-std=c99", "-I", str(src / "include"), "-c",
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
    for e in entries:
        try:
            core = FunctionCodegen(module, e.fn, e.symbol, boundscheck).generate()
        except Unsupported as ex:
            raise AdError(f"the LLVM backend cannot compile '{e.fn.name}': {ex}", e.fn.loc,
                          "use the numba backend for this function") from ex
        if public:
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


def optimize(module: ir.Module, cpu: str = "host"):
    """Parse, verify and run LLVM's O3 pipeline with both vectorisers on."""
    tm = target_machine(cpu)
    mod = llvm.parse_assembly(str(module))
    mod.verify()
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod, tm


def link_shared(objects: list[Path], out: Path) -> None:
    _run([c_compiler(), "-shared", "-o", str(out)] + [str(o) for o in objects] + ["-lm"])


def compile_library(entries: list[Entry], boundscheck: bool = True, cpu: str = "host"
                    ) -> tuple[Path, str]:
    """(path of a cached shared library, LLVM IR text) for these entries."""
    module = build_module(entries, boundscheck)
    text = str(module)
    rt = runtime_objects()
    key = hashlib.sha256(f"{__version__}\n{cpu}\n{llvm.get_host_cpu_name()}\n{rt[0].parent.name}"
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
_CT = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
       "bool": ctypes.c_int8}


class Kernel:
    """A compiled IR function in a loaded library, callable with Python/NumPy values."""

    def __init__(self, lib: ctypes.CDLL, fn: Function, symbol: str):
        self.fn = fn
        self.lib = lib
        core = getattr(lib, f"{symbol}__core")
        argtypes: list = [ctypes.c_void_p]
        for a in fn.args:
            if isinstance(a.type, ArrayType):
                argtypes += [ctypes.c_void_p] + [ctypes.c_int64] * a.type.ndim
            else:
                argtypes.append(_CT[a.type.name])
        for t in fn.result_types:
            argtypes += [ctypes.c_void_p, ctypes.c_void_p] if isinstance(t, ArrayType) \
                else [ctypes.c_void_p]
        core.argtypes = argtypes
        core.restype = ctypes.c_int32
        self.core = core
        lib.adc_ctx_new.restype = ctypes.c_void_p
        lib.adc_ctx_free.argtypes = [ctypes.c_void_p]
        lib.adc_ctx_message.argtypes = [ctypes.c_void_p]
        lib.adc_ctx_message.restype = ctypes.c_char_p

    def __call__(self, *args):
        fn = self.fn
        cargs: list = []
        keep = []
        for a, x in zip(fn.args, args):
            t = a.type
            if isinstance(t, ArrayType):
                arr = np.ascontiguousarray(x, dtype=t.dtype.np_dtype)
                if arr.ndim != t.ndim:
                    raise AdError(f"argument '{a.name}' must have {t.ndim} dims")
                keep.append(arr)
                cargs += [arr.ctypes.data] + list(arr.shape)
            else:
                cargs.append(x)
        outs = []
        for t in fn.result_types:
            if isinstance(t, ArrayType):
                dp = ctypes.c_void_p()
                sp = (ctypes.c_int64 * t.ndim)()
                outs.append((t, dp, sp))
                cargs += [ctypes.addressof(dp), ctypes.addressof(sp)]
            else:
                slot = _CT[t.name]()
                outs.append((t, slot, None))
                cargs.append(ctypes.addressof(slot))
        ctx = self.lib.adc_ctx_new()
        if not ctx:
            raise MemoryError("adcompile runtime: out of memory")
        try:
            rc = self.core(ctx, *cargs)
            if rc != 0:
                msg = self.lib.adc_ctx_message(ctx).decode("utf-8", "replace")
                raise _ERRORS.get(rc, KernelError)(rc, msg)
            vals = [_fetch(t, a, b) for t, a, b in outs]
        finally:
            self.lib.adc_ctx_free(ctx)
        if fn.returns_tuple:
            return tuple(vals)
        return vals[0] if vals else None


def _fetch(t, slot, shape):
    if isinstance(t, ArrayType):
        dims = tuple(shape[j] for j in range(t.ndim))
        out = np.empty(dims, dtype=t.dtype.np_dtype)
        if out.nbytes:
            ctypes.memmove(out.ctypes.data, slot.value, out.nbytes)
        return out
    v = slot.value
    if t.name == "bool":
        return bool(v)
    if t.name == "i64":
        return int(v)
    return float(v)


def build(fn: Function, pyname: str | None = None, boundscheck: bool = True):
    """Return (callable, LLVM IR text) for an IR function after backend passes."""
    symbol = _c_name(pyname or fn.name)
    lib_path, text = compile_library([Entry(fn, symbol, [f"out{i}" for i in
                                                         range(len(fn.result_types))])],
                                     boundscheck)
    lib = ctypes.CDLL(str(lib_path))
    return Kernel(lib, fn, symbol), text


def _c_name(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return out if out and not out[0].isdigit() else "f_" + out
