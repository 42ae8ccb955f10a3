"""CUDA backend, part 3: compile the emitted CUDA C (host builds for the CPU, PTX for GPUs)
and call its host entries from Python.

`build(fn, name)` (the registry's build step) emits the program with every argument batched
and compiles it for the host: called from Python, it runs one instance through
`<name>_host` — the same `__host__ __device__` code a GPU runs, on the CPU, which is how the
numerics of the emitted CUDA C are tested without a GPU. The compiler is nvcc when found
(`ADCOMPILE_NVCC` or PATH), else the C++ compiler (`CXX`, g++, clang++), which compiles the
same file with the CUDA qualifiers defined away. `ptx(...)` needs nvcc. Libraries are cached
on disk under a hash of the source.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import AdError
from ..ir.core import Function
from ..ir.types import ArrayType, scalar_of
from .abi import ErrorCode
from .cache import cache_dir as _cache_dir
from .cuda_codegen import LOWERS  # noqa: F401  (the registry's coverage test reads it)
from .cuda_kernel import CudaSource, KernelLayout, generate

HOST_SCRATCH = 1 << 20        # first host scratch slice; doubled on ADC_ERR_ALLOC
HOST_SCRATCH_MAX = 1 << 30


class AdcError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("where", ctypes.c_int),
                ("instance", ctypes.c_longlong)]


def kernels_dir() -> Path:
    """Where adcompile_device.cuh lives: the repository's `kernels/` or the installed copy."""
    here = Path(__file__).resolve()
    for cand in (here.parents[2] / "kernels", here.parents[1] / "_kernels"):
        if (cand / "adcompile_device.cuh").exists():
            return cand
    raise AdError("the adcompile CUDA device runtime (kernels/adcompile_device.cuh) is "
                  "missing from this installation",
                  hint="reinstall adcompile from a complete checkout")


def nvcc() -> str | None:
    return os.environ.get("ADCOMPILE_NVCC") or shutil.which("nvcc")


def host_compiler() -> list[str]:
    """The command compiling a .cu for the host: nvcc, else a C++ compiler."""
    nv = nvcc()
    if nv:
        # ADC_HOST_ONLY: no __global__ kernels, so nvcc compiles no device code here
        return [nv, "-O1", "-shared", "-DADC_HOST_ONLY", "-diag-suppress=177,550",
                "-Xcompiler", "-fPIC,-ffp-contract=off"]
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        raise AdError("the CUDA backend's host build needs nvcc or a C++ compiler",
                      hint="install the CUDA toolkit (nvcc) or g++, or set ADCOMPILE_NVCC/CXX")
    return [cxx, "-x", "c++", "-std=c++14", "-O1", "-shared", "-fPIC", "-ffp-contract=off"]


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AdError(f"command failed: {' '.join(cmd)}\n{proc.stderr.strip()[-4000:]}",
                      hint="the emitted CUDA C did not compile: please report it")


def _stamp(text: str, *extra: str) -> str:
    rt = (kernels_dir() / "adcompile_device.cuh").read_bytes()
    h = hashlib.sha256(f"{__version__}\n".encode() + rt + "\n".join(extra).encode()
                       + text.encode())
    return h.hexdigest()[:24]


def compile_host(sources: list[CudaSource]) -> Path:
    """A shared library of these kernels' host entries (one translation unit, cached)."""
    cu = "\n".join(s.cu for s in sources)
    cmd = host_compiler()
    lib = _cache_dir("cuda") / f"{sources[0].name}-{_stamp(cu, *cmd)}.so"
    if not lib.exists():
        with tempfile.TemporaryDirectory(dir=_cache_dir("cuda")) as tmp:
            src = Path(tmp) / f"{sources[0].name}.cu"
            src.write_text(cu)
            part = Path(tmp) / "lib.so"
            _run(cmd + ["-I", str(kernels_dir()), "-o", str(part), str(src)])
            os.replace(part, lib)
    return lib


def ptx(source: CudaSource, arch: str, out: Path | None = None) -> str:
    """PTX of the kernel for `arch` (e.g. "sm_90"), by nvcc."""
    nv = nvcc()
    if not nv:
        raise AdError("PTX needs nvcc (the CUDA toolkit)",
                      hint="install the CUDA toolkit or set ADCOMPILE_NVCC")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{source.name}.cu"
        src.write_text(source.cu)
        dst = out or Path(tmp) / f"{source.name}.ptx"
        _run([nv, "-ptx", f"-arch={arch}", "-O3", "-I", str(kernels_dir()), "-o", str(dst),
              str(src)])
        return dst.read_text()


def ptx_file(cu: Path, arch: str, out: Path) -> Path:
    """PTX of every kernel in the file `cu` (next to adcompile_device.cuh or kernels/)."""
    nv = nvcc()
    if not nv:
        raise AdError("PTX needs nvcc (the CUDA toolkit)",
                      hint="install the CUDA toolkit or set ADCOMPILE_NVCC")
    _run([nv, "-ptx", f"-arch={arch}", "-O3", "-I", str(kernels_dir()), "-o", str(out),
          str(cu)])
    return out


_C = {"int64_t": ctypes.c_int64, "double": ctypes.c_double, "float": ctypes.c_float,
      "bool": ctypes.c_bool}


class HostKernel:
    """A kernel's host entries bound through ctypes: `run(args)` runs every instance."""

    def __init__(self, lib: ctypes.CDLL, source: CudaSource, fn: Function,
                 layout: KernelLayout):
        from .llvm_backend import kernel_error   # the KernelError classes of the CPU path
        self.source, self.fn, self.layout, self.kernel_error = source, fn, layout, kernel_error
        types = [_C.get(t, ctypes.c_void_p) for t, _ in source.params]
        self.host = getattr(lib, f"{source.name}_host")
        self.host.argtypes = types
        self.host.restype = ctypes.c_int
        self.shapes = getattr(lib, f"{source.name}_host_shapes")
        self.shapes.argtypes = types + [ctypes.c_void_p]
        self.shapes.restype = ctypes.c_int
        self.message = getattr(lib, f"{source.name}_message")
        self.message.argtypes = [ctypes.c_int]
        self.message.restype = ctypes.c_char_p

    def _args(self, args, nbatch: int) -> tuple[list, list]:
        cargs: list = [nbatch]
        keep = []
        for a, bat, x in zip(self.fn.args, self.layout.batched, args):
            t = a.type
            dt = scalar_of(t).np_dtype
            if isinstance(t, ArrayType) or bat:
                arr = np.ascontiguousarray(x, dtype=dt)
                keep.append(arr)
                cargs.append(arr.ctypes.data)
                if isinstance(t, ArrayType):
                    cargs += list(arr.shape[1:] if bat else arr.shape)
            else:
                cargs.append(x)
        return cargs, keep

    def out_dims(self, args, nbatch: int) -> list[tuple[int, ...]]:
        """Per result, its per-instance lengths (instance 0 run on the host)."""
        cargs, keep = self._args(args, nbatch)
        for t, red in zip(self.fn.result_types, self.layout.reduce):
            cargs.append(None)
            if red is None and isinstance(t, ArrayType):
                cargs += [0] * t.ndim
        nd = sum(t.ndim for t in self.fn.result_types if isinstance(t, ArrayType))
        shapes = (ctypes.c_int64 * max(nd, 1))()
        self._call(self.shapes, cargs, [ctypes.addressof(shapes)], 1)
        out, k = [], 0
        for t in self.fn.result_types:
            n = t.ndim if isinstance(t, ArrayType) else 0
            out.append(tuple(shapes[k:k + n]))
            k += n
        return out

    def _call(self, entry, cargs: list, tail: list, nbatch: int) -> None:
        scratch = HOST_SCRATCH
        while True:
            buf = np.empty(scratch, dtype=np.uint8)
            err = AdcError()
            rc = entry(*cargs, buf.ctypes.data, scratch, ctypes.addressof(err), *tail)
            if rc == ErrorCode.ALLOC and scratch < HOST_SCRATCH_MAX:
                scratch *= 4      # the host can afford a larger slice: try again
                continue
            if rc:
                text = self.message(err.where).decode("utf-8", "replace")
                where = f" (instance {err.instance})" if nbatch > 1 else ""
                raise self.kernel_error(rc, text + where)
            return

    def run(self, args, nbatch: int, dims: list[tuple[int, ...]] | None = None) -> list:
        """Every instance on the host: stacked results (nbatch rows) and summed ones."""
        if dims is None:
            dims = self.out_dims(args, nbatch)
        cargs, keep = self._args(args, nbatch)
        outs = []
        for k, (t, red) in enumerate(zip(self.fn.result_types, self.layout.reduce)):
            dt = scalar_of(t).np_dtype
            if red is not None:
                shape = np.shape(args[red])
                o = np.zeros(shape if shape else (1,), dtype=dt)
                cargs.append(o.ctypes.data)
            else:
                o = np.empty((nbatch,) + dims[k], dtype=dt)
                cargs.append(o.ctypes.data)
                if isinstance(t, ArrayType):
                    cargs += list(dims[k])
            outs.append(o)
        self._call(self.host, cargs, [], nbatch)
        return [o if not (red is not None and not isinstance(t, ArrayType)) else o[0]
                for o, t, red in zip(outs, self.fn.result_types, self.layout.reduce)]


def host_kernels(items: list[tuple[Function, str, KernelLayout | None]]) -> list[HostKernel]:
    """Several programs in one host library (one compile), each bound."""
    sources = [generate(fn, name, layout) for fn, name, layout in items]
    lib = ctypes.CDLL(str(compile_host(sources)))
    return [HostKernel(lib, s, fn, layout or KernelLayout.all_batched(fn))
            for s, (fn, _, layout) in zip(sources, items)]


def build(fn: Function, pyname: str | None = None):
    """(callable running one instance on the host, the .cu source, {"cuda_header": .cuh})."""
    name = "adccu_" + (pyname or fn.name)
    (kernel,) = host_kernels([(fn, name, None)])

    def call(*args):
        batched = [np.asarray(a)[None] for a in args]
        res = [r[0] for r in kernel.run(batched, 1)]
        res = [r if isinstance(r, np.ndarray) and r.ndim else r.item() for r in res]
        if fn.returns_tuple:
            return tuple(res)
        return res[0] if res else None
    call.kernel = kernel
    return call, kernel.source.cu, {"cuda_header": kernel.source.cuh}
