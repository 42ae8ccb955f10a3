"""`adcompile build --target cuda`: batched derivative kernels as CUDA C.

The programs are those of the CPU build (`aot.make_programs`: primal, jvp, vjp, grad, lowered
as for the LLVM backend), each emitted by the CUDA backend as a `__host__ __device__` function
plus a `__global__` kernel with one thread per instance (backends/cuda_kernel.py documents the
launch parameters). Arguments named in `shared` are passed once for the whole batch; every
other argument is batched (stacked along a leading axis). In `grad` and `vjp`, the adjoint of
a shared argument is summed over the batch with atomics. Writes `<name>.cu`, `<name>.cuh`,
`adcompile_device.cuh` and, when nvcc is found, `<name>.sm_80.ptx` and `<name>.sm_90.ptx`.
"""
from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Callable

from .aot import make_programs
from .backends import cuda_backend
from .backends.cuda_kernel import KernelLayout, generate
from .errors import AdError
from .signature import ArgSpec

ARCHS = ("sm_80", "sm_90")


def _shared(func: Callable, shared: str | None) -> set[int]:
    params = list(inspect.signature(func).parameters)
    out = set()
    for item in (shared or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.isdigit() and int(item) < len(params):
            out.add(int(item))
        elif item in params:
            out.add(params.index(item))
        else:
            raise AdError(f"--shared {item!r} is not a parameter of '{func.__name__}'",
                          hint=f"its parameters: {', '.join(params)}")
    return out


def build_cuda(func: Callable, specs: list[ArgSpec], modes: list[str], out_dir: Path,
               name: str | None = None, argnums=None, checkpoint=None,
               shared: str | None = None, ptx: bool = True) -> dict[str, Path]:
    """Write the CUDA C of each mode (one kernel per mode) into `out_dir`; the paths."""
    name = name or func.__name__
    nparams = len(inspect.signature(func).parameters)
    common = _shared(func, shared)
    progs = make_programs(func, specs, modes, name, argnums, checkpoint)
    sources = []
    for p in progs:
        batched = tuple(i not in common for i in range(nparams)) + \
            (True,) * (len(p.fn.args) - nparams)    # tangents and cotangents: per instance
        params = list(inspect.signature(func).parameters)
        reduce = tuple(params.index(o[:-4]) if p.mode in ("grad", "vjp") and o.endswith("_bar")
                       and o[:-4] in params and params.index(o[:-4]) in common else None
                       for o in p.out_names)
        sources.append(generate(p.fn, p.symbol, KernelLayout(batched, reduce)))
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"cu": out_dir / f"{name}.cu", "cuh": out_dir / f"{name}.cuh"}
    files["cu"].write_text("\n".join(s.cu for s in sources))
    docs = "\n".join(f"/* {p.mode}: {p.doc} */" for p in progs)
    files["cuh"].write_text(docs + "\n" + "\n".join(s.cuh for s in sources))
    shutil.copy(cuda_backend.kernels_dir() / "adcompile_device.cuh",
                out_dir / "adcompile_device.cuh")
    files["device"] = out_dir / "adcompile_device.cuh"
    if ptx and cuda_backend.nvcc():
        for arch in ARCHS:
            dst = out_dir / f"{name}.{arch}.ptx"
            cuda_backend.ptx_file(files["cu"], arch, dst)
            files[arch] = dst
    return files
