"""`adcompile.batch`: one program over many instances, on all CPU cores or on a CUDA GPU.

CPU: the chunk program (`program.chunk_program`, compiled by the numba or LLVM backend) runs
on a thread pool, one chunk `[lo, hi)` per task; both backends release the GIL while they run
(numba's `nogil=True`, ctypes calls into the LLVM library), so chunks run on all cores. The
per-instance results of the chunks are concatenated and the sums of shared adjoints added in
chunk order. `deterministic=True` (the default) cuts the batch into chunks by its length alone
(`CHUNKS` of them at most), so the sums are the same bits whatever the number of threads;
`deterministic=False` makes one chunk per thread.

CUDA: `cuda.py` (numba-cuda kernels, one thread per instance).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from ..api import Compiled, resolve_options
from ..derivatives import Derivative
from ..driver.compile import Specialization, call_specialization, specialize
from ..driver.options import CompileOptions
from ..errors import AdError
from ..frontend.env import unflatten
from ..ir.types import I64
from ..signature import ArgSpec, arg_spec, user_function
from .program import Layout, chunk_program, instance_type
from .sources import Reductions, instance_program, pullback, pushforward

CHUNKS = 64          # deterministic chunking: at most this many chunks, by batch length only
_POOL: list[ThreadPoolExecutor] = []


def cpu_threads() -> int:
    """Threads for CPU batches: ADCOMPILE_THREADS, else every core this process may use."""
    env = os.environ.get("ADCOMPILE_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor:
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(cpu_threads(), thread_name_prefix="adcompile-batch"))
    return _POOL[0]


def chunks(n: int, threads: int, deterministic: bool) -> list[tuple[int, int]]:
    """[lo, hi) ranges covering 0..n: by n alone when deterministic, else one per thread."""
    k = min(n, CHUNKS if deterministic else threads)
    k = max(k, 1)
    bounds = [n * j // k for j in range(k + 1)]
    return [(bounds[j], bounds[j + 1]) for j in range(k) if bounds[j] < bounds[j + 1]]


class _ChunkProgram:
    """What the compile driver compiles: the chunk program of `fn` for a batch signature (an
    object with `__adcompile_program__`, as derivative objects are)."""

    __adcompile__ = True

    def __init__(self, fn, batched_of: Callable[[int], tuple[bool, ...]], options, name: str):
        self.fn, self.batched_of, self.options = fn, batched_of, options
        self.__name__ = name
        self.layouts: dict[tuple, tuple] = {}

    def instance_sig(self, sig) -> tuple[ArgSpec, ...]:
        batched = self.batched_of(len(sig) - 2)
        return tuple(ArgSpec(instance_type(s.type), False) if bat else s
                     for s, bat in zip(sig[:-2], batched))

    def __adcompile_program__(self, sig):
        from ..driver.programs import Program
        batched = self.batched_of(len(sig) - 2)
        prog, adjoint_of = instance_program(self.fn, self.instance_sig(sig), self.options)
        reduce = Reductions(adjoint_of).layout(batched)
        self.layouts[tuple(sig)] = (prog.tree, reduce)
        return Program(chunk_program(prog.fn, Layout(batched, reduce), self.__name__), None)


class Batched:
    """`fn` over a batch of instances (see `batch`)."""

    __adcompile__ = True

    def __init__(self, fn, in_axes, target: str, deterministic: bool,
                 options: CompileOptions, threads: int | None):
        self.fn = fn
        self.in_axes = in_axes
        self.target = target
        self.deterministic = deterministic
        self.options = options
        self.threads = threads
        name = getattr(fn, "__name__", "f")
        self.__name__ = f"{name}_batch"
        self._chunk = _ChunkProgram(fn, self.batched, options, self.__name__)
        self._last: Specialization | None = None
        self._cuda = None

    def batched(self, nargs: int) -> tuple[bool, ...]:
        axes = self.in_axes
        if not isinstance(axes, (tuple, list)):
            axes = (axes,) * nargs
        if len(axes) != nargs:
            raise AdError(f"batch: in_axes has {len(axes)} entries for {nargs} arguments",
                          hint="one entry per argument: 0 (batched along axis 0) or None "
                               "(shared)")
        for a in axes:
            if a not in (0, None):
                raise AdError(f"batch: in_axes entry {a!r}: only 0 (batched along the first "
                              "axis) and None (shared) are supported",
                              hint="move the batch axis first with np.moveaxis(x, k, 0)")
        return tuple(a == 0 for a in axes)

    def signature(self, args) -> tuple[tuple[ArgSpec, ...], int]:
        batched = self.batched(len(args))
        f = user_function(self.fn.py_func if hasattr(self.fn, "py_func") else self.fn)
        sig, n = [], None
        for i, (a, bat) in enumerate(zip(args, batched)):
            if bat:
                if not isinstance(a, np.ndarray) or a.ndim == 0:
                    raise AdError(f"batch: argument {i} is batched (in_axes 0) but is not an "
                                  "array with a batch axis", hint="stack the instances along "
                                  "axis 0, or pass in_axes=None for it")
                if n is None:
                    n = a.shape[0]
                elif a.shape[0] != n:
                    raise AdError(f"batch: argument {i} has {a.shape[0]} instances, an "
                                  f"earlier batched argument {n}",
                                  hint="every batched argument needs the same length on axis 0")
            sig.append(arg_spec(f, i, a) if i < f.__code__.co_argcount
                       else arg_spec(None, i, a))
        if n is None:
            raise AdError("batch: no argument is batched", hint="in_axes=0 for at least one "
                                                                "argument")
        return tuple(sig) + (ArgSpec(I64, False), ArgSpec(I64, False)), n

    def compiled(self, args) -> tuple[Specialization, tuple, int]:
        """The chunk program for these arguments, its (tree, reductions) and batch length."""
        sig, n = self.signature(args)
        sp = specialize(self._chunk, sig, None, self.options)
        self._last = sp
        if tuple(sig) not in self._chunk.layouts:   # built in another Batched: rebuild layout
            self._chunk.__adcompile_program__(sig)
        return sp, self._chunk.layouts[tuple(sig)], n

    def __call__(self, *args):
        if self.target == "cuda":
            from .cuda import run_cuda
            return run_cuda(self, args)
        args = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args)
        sp, (tree, reduce), n = self.compiled(args)
        if n == 0:
            raise AdError("batch: the batch is empty (0 instances)",
                          hint="call it with at least one instance")
        threads = self.threads or cpu_threads()
        parts = chunks(n, threads, self.deterministic)
        if len(parts) == 1 or threads == 1:
            results = [call_specialization(sp, args + p) for p in parts]
        else:
            results = list(_pool().map(lambda p: call_specialization(sp, args + p), parts))
        flat = []
        for k, red in enumerate(reduce):
            vals = [r[k] for r in results]
            if red is None:
                flat.append(vals[0] if len(vals) == 1 else np.concatenate(vals))
            else:
                acc = np.array(vals[0], copy=True) if isinstance(vals[0], np.ndarray) \
                    else vals[0]
                for v in vals[1:]:   # in chunk order: the same bits every run
                    acc = acc + v
                flat.append(acc)
        return flat[0] if tree is None else unflatten(tree, flat)

    def single_threaded(self, *args):
        """The chunk program over the whole batch on the calling thread (benchmarks)."""
        args = tuple(np.ascontiguousarray(a) if isinstance(a, np.ndarray) else a for a in args)
        sp, _, n = self.compiled(args)
        return call_specialization(sp, args + (0, n))

    @property
    def source(self) -> str:
        """The generated source of the last batch (the chunk program; CUDA: the kernel)."""
        if self.target == "cuda" and self._cuda is not None:
            return self._cuda.source
        if self._last is None:
            raise AdError(f"'{self.__name__}' has not been compiled yet",
                          hint="call it once before reading .source")
        return self._last.source

    def __repr__(self) -> str:
        return f"<adcompile.batch of {self.fn!r} ({self.target})>"


def batch(fn: Callable, in_axes=0, *, target: str = "cpu", backend: str | None = None,
          deterministic: bool = True, threads: int | None = None,
          options: CompileOptions | None = None) -> Batched:
    """`fn` over a batch of instances: `batch(f)(X, Y)[i] == f(X[i], Y[i])`.

    `fn`: a function, a `jit` object or a derivative object (`grad`, `value_and_grad`,
    `jacfwd`, `jacrev`, `hessian`, `pushforward`, `pullback`). `in_axes`: 0 (every argument
    batched along axis 0), None (shared), or one of those per argument. Adjoints of shared
    arguments (from `grad`, `value_and_grad`, `pullback`) are summed over the batch; every
    other result is stacked along a new axis 0. `target`: "cpu" (all cores; `threads`
    overrides ADCOMPILE_THREADS) or "cuda" (one GPU thread per instance; see docs/cuda.md).
    `deterministic`: sums over the batch the same bits on any number of threads."""
    if target not in ("cpu", "cuda"):
        raise AdError(f"batch: unknown target {target!r}", hint='target="cpu" or "cuda"')
    if not callable(fn):
        raise AdError(f"batch: {fn!r} is not callable",
                      hint="pass a function or a derivative object such as grad(f)")
    base = fn.options if isinstance(fn, (Compiled, Derivative, pushforward, pullback)) \
        and options is None and backend is None else resolve_options(backend, options)
    return Batched(fn, in_axes, target, deterministic, base, threads)

