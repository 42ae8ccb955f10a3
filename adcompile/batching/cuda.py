"""`batch(..., target="cuda")`: the per-instance program as a numba-cuda kernel, one thread per
instance, and the same program as CUDA C (`cuda_source`, for `adcompile build --target cuda`
and the host-build tests).

Both start from the per-instance program lowered as for the LLVM backend (the "cuda" backend's
pipeline); only the batch layout (which arguments are batched, which results are sums of
shared adjoints) is added here. Per-instance result lengths come from running instance 0
through the CPU chunk program, so the kernel writes into outputs allocated once.
"""
from __future__ import annotations

import numpy as np

from ..backends.cuda_kernel import CudaSource, KernelLayout, generate
from ..driver.compile import build_ir, call_specialization
from ..driver.programs import Program
from ..errors import AdError
from ..frontend.env import unflatten
from ..ir.core import Function
from .sources import Reductions, instance_program


class _Instance:
    """The per-instance program as an object the compile driver lowers (cached per batch)."""

    __adcompile__ = True

    def __init__(self, prog: Program, name: str):
        self.prog = prog
        self.__name__ = name

    def __adcompile_program__(self, sig) -> Program:
        return self.prog


def lowered(b, args) -> tuple[Function, KernelLayout, tuple | None, int]:
    """(the per-instance program lowered for CUDA, its layout, result tree, batch length)."""
    sig, n = b.signature(args)
    key = tuple(sig)
    hit = b.__dict__.setdefault("_cuda_programs", {}).get(key)
    if hit is None:
        inst_sig = b._chunk.instance_sig(sig)
        batched = b.batched(len(args))
        prog, adjoint_of = instance_program(b.fn, inst_sig, b.options)
        layout = KernelLayout(batched, Reductions(adjoint_of).layout(batched))
        holder = _Instance(prog, b.__name__.removesuffix("_batch"))
        fn = build_ir(holder, inst_sig, None, b.options.replace(backend="cuda"))["backend"]
        hit = b._cuda_programs[key] = (fn, layout, prog.tree, holder)
    return hit[0], hit[1], hit[2], n


def cuda_source(b, args, name: str | None = None) -> CudaSource:
    """The .cu and .cuh of this batch (CUDA C, one thread per instance)."""
    fn, layout, _, _ = lowered(b, args)
    return generate(fn, name or b.__name__, layout)


def _host(x):
    from ..backends.numba_cuda_backend import as_device, is_device
    return as_device(x).copy_to_host() if is_device(x) else x


def result_dims(b, args) -> list[tuple[int, ...]]:
    """Per result, its per-instance lengths: instance 0 through the CPU chunk program."""
    batched = b.batched(len(args))
    first = tuple(_host(a[0:1]) if bat else _host(a) for a, bat in zip(args, batched))
    first = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in first)
    sp, (_, reduce), _ = b.compiled(first)
    res = call_specialization(sp, first + (0, 1))
    return [tuple(np.shape(r)[1:]) if red is None else tuple(np.shape(r))
            for r, red in zip(res, reduce)]


def run_cuda(b, args):
    from ..backends.numba_cuda_backend import Kernel, missing
    reason = missing()
    if reason is not None:
        raise AdError(f"batch(target=\"cuda\") cannot run here: {reason}",
                      hint="run on a machine with an NVIDIA GPU and numba-cuda, set "
                           "NUMBA_ENABLE_CUDASIM=1 (the simulator, for tiny batches) before "
                           "numba is imported, or use target=\"cpu\"")
    fn, layout, tree, n = lowered(b, args)
    if n == 0:
        raise AdError("batch: the batch is empty (0 instances)",
                      hint="call it with at least one instance")
    kernels = b.__dict__.setdefault("_cuda_kernels", {})
    kernel = kernels.get(id(fn))
    if kernel is None:
        kernel = kernels[id(fn)] = Kernel(fn, layout, f"{b.__name__}_kernel")
    b._cuda = kernel
    flat = kernel.launch(list(args), n, result_dims(b, args), b.threads)
    return flat[0] if tree is None else unflatten(tree, flat)
