"""numba-cuda backend, part 2: import the generated kernel and launch it.

Generated kernels are real files in the cache folder (numba-cuda compiles from them).
`Kernel.launch` takes host (NumPy) arrays, copied in and out, or device arrays (numba-cuda
or anything with `__cuda_array_interface__`, e.g. CuPy), left on the device. Without a GPU it
needs the simulator (`NUMBA_ENABLE_CUDASIM=1`, set before numba-cuda is imported), where every
thread is a Python thread: keep grids tiny there. `missing()` says what is absent.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys

import numpy as np

from .._version import __version__
from ..errors import AdError
from ..ir.core import Function
from ..ir.types import ArrayType, scalar_of
from .abi import ErrorCode
from .cache import cache_dir
from .cuda_kernel import KernelLayout
from .numba_cuda_codegen import DTYPES, LOWERS, generate_kernel  # noqa: F401 (LOWERS)

SCRATCH_ELEMS = 2048        # scratch elements per thread and dtype, first try
SCRATCH_MAX_ELEMS = 1 << 22
GPU_SCRATCH_BYTES = 1 << 30   # scratch of one launch on a GPU (the grid shrinks to fit)


def missing() -> str | None:
    """What a CUDA launch lacks here (None: nothing)."""
    try:
        from numba import cuda
    except ImportError:
        return ("numba-cuda is not installed (pip install 'adcompile[cuda]', i.e. "
                "numba-cuda==0.30.4)")
    if simulated():
        return None
    try:
        ok = cuda.is_available()
    except Exception as e:   # noqa: BLE001 - a broken driver install says why
        return f"the CUDA driver failed to load ({type(e).__name__}: {e})"
    if not ok:
        return "no CUDA GPU or driver was found (numba.cuda.is_available() is False)"
    return None


def simulated() -> bool:
    from numba import config
    return bool(getattr(config, "ENABLE_CUDASIM", 0))


def is_device(x) -> bool:
    """A device array: numba-cuda's, anything with `__cuda_array_interface__`, or the
    simulator's (which has no interface)."""
    from numba import cuda
    check = getattr(cuda, "is_cuda_array", None)
    return bool(check(x)) if check is not None and not simulated() else \
        hasattr(x, "copy_to_host") or hasattr(x, "__cuda_array_interface__")


def as_device(x):
    from numba import cuda
    conv = getattr(cuda, "as_cuda_array", None)
    return x if conv is None or simulated() or hasattr(x, "copy_to_host") else conv(x)


def _np(t) -> np.dtype:
    return scalar_of(t).np_dtype


class Kernel:
    """One generated kernel and how its arguments and results are laid out."""

    def __init__(self, fn: Function, layout: KernelLayout, name: str):
        self.fn, self.layout = fn, layout
        self.source, self.messages = generate_kernel(fn, name, layout)
        key = hashlib.sha256(f"{__version__}\n{self.source}".encode()).hexdigest()[:20]
        modname = f"adcompile_cuda_{name}_{key}"
        mod = sys.modules.get(modname)
        if mod is None:
            path = cache_dir("numba_cuda") / f"{modname}.py"
            if not path.exists():
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(self.source)
                os.replace(tmp, path)
            spec = importlib.util.spec_from_file_location(modname, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[modname] = mod
            spec.loader.exec_module(mod)
        self.kernel = getattr(mod, name)
        self.used = [d for d in DTYPES if f"top_{d} +=" in self.source]

    def launch(self, args, nbatch: int, dims: list[tuple[int, ...]], threads: int | None = None,
               scratch: int = SCRATCH_ELEMS) -> list:
        """Every instance, one thread each; results as `dims` (per-instance lengths of the
        stacked results) say. Device arrays in: device arrays out."""
        from numba import cuda
        on_device = any(is_device(a) for a in args)
        params: list = [nbatch]
        for a, bat, x in zip(self.fn.args, self.layout.batched, args):
            t = a.type
            if isinstance(t, ArrayType) or bat:
                d = as_device(x) if is_device(x) else \
                    cuda.to_device(np.ascontiguousarray(x, dtype=_np(t)))
                shape = d.shape[1:] if bat else d.shape
                params.append(d.reshape(d.size))
                if isinstance(t, ArrayType):
                    params += [int(n) for n in shape]
            else:
                params.append(x)
        outs = []
        for k, (t, red) in enumerate(zip(self.fn.result_types, self.layout.reduce)):
            if red is not None:
                shape = tuple(np.shape(args[red]))
                o = cuda.to_device(np.zeros(int(np.prod(shape)) if shape else 1, _np(t)))
                outs.append((o, shape, True))
                params.append(o)
            else:
                shape = (nbatch,) + tuple(dims[k])
                o = cuda.to_device(np.zeros(int(np.prod(shape)), _np(t)))
                outs.append((o, shape, False))
                params.append(o)
                if isinstance(t, ArrayType):
                    params += list(dims[k])
        while True:
            tpb = min(32 if simulated() else 128, max(nbatch, 1))
            if threads is not None:
                total = threads
            elif simulated():
                total = tpb
            else:
                fit = GPU_SCRATCH_BYTES // max(1, scratch * 8 * max(len(self.used), 1))
                total = max(tpb, min(nbatch, fit) // tpb * tpb)
            blocks = max(1, (total + tpb - 1) // tpb)
            total = blocks * tpb
            bufs = [cuda.device_array(total * scratch if d in self.used else 1,
                                      np.dtype(_np_name(d))) for d in DTYPES]
            caps = [scratch if d in self.used else 0 for d in DTYPES]
            err = cuda.to_device(np.zeros(3, np.int64))
            self.kernel[blocks, tpb](*params, *bufs, *caps, err)
            code, where, inst = (int(v) for v in err.copy_to_host())
            if code == ErrorCode.ALLOC and scratch < SCRATCH_MAX_ELEMS:
                scratch *= 4
                for o, shape, _ in outs:   # sums restart from zero
                    o.copy_to_device(np.zeros(o.size, o.dtype))
                continue
            if code:
                from .llvm_backend import kernel_error
                text = self.messages[where] if 0 <= where < len(self.messages) else ""
                raise kernel_error(code, f"{text} (instance {inst})")
            break
        res = []
        for (o, shape, summed), t in zip(outs, self.fn.result_types):
            if summed and not shape:
                res.append(o.copy_to_host()[0].item())
                continue
            res.append(o.reshape(shape) if on_device else o.copy_to_host().reshape(shape))
        return res


def _np_name(d: str) -> str:
    return {"f64": "float64", "f32": "float32", "i64": "int64", "bool": "bool"}[d]


def build(fn: Function, pyname: str | None = None):
    """(callable running one instance as a one-thread launch, the kernel source)."""
    reason = missing()
    if reason is not None:
        raise AdError(f"the numba_cuda backend cannot run here: {reason}",
                      hint="run on a machine with an NVIDIA GPU, or set NUMBA_ENABLE_CUDASIM=1 "
                           "(the simulator) before importing numba")
    name = "adcnc_" + "".join(c if c.isalnum() else "_" for c in (pyname or fn.name))
    kernel = Kernel(fn, KernelLayout.all_batched(fn), name)

    def call(*args):
        raise AdError("a numba_cuda program is launched through adcompile.batch(..., "
                      "target=\"cuda\")", hint="batch(f, target=\"cuda\")(X) runs one GPU "
                      "thread per instance")
    call.kernel = kernel
    return call, kernel.source
