"""Backends: turn IR after the backend pipeline into something callable.

A backend is a registry entry (`BackendSpec`: its name, whether it wants whole-array ops
lowered to loops, and the module holding it) plus, in that module, an expression table over
the IR's primitives (`LOWERS`, the primitives it writes) and a build step
`build(fn, name) -> (callable, source text[, {name: other listing}])`: the source text is
what `.source` shows and stays readable Python whatever the backend (LLVM's is its lowered
IR written as Python; its LLVM IR is the listing "llvm_ir"). The module
is imported on first use (the LLVM backend needs a C compiler, numba takes a while to import),
so this registry stays light. Adding a backend: an entry here, a module with `build` and a
per-primitive table, and the coverage test in tests/backends/test_registry.py.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from ..errors import AdError
from ..ir.core import Function


@dataclass(frozen=True)
class BackendSpec:
    name: str
    module: str
    """The module (relative to this package) with `build(fn, name)`."""
    requires_lowering: bool
    """Whether the backend needs whole-array ops as loop nests (`lower_arrays`): its
    expression table then covers scalars, element access, memory and control flow only."""
    description: str

    def load(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.module}")

    def build(self, fn: Function, name: str) -> tuple[Callable, str, dict[str, str]]:
        """(callable, readable source, other listings by name: {} unless the backend has).
        `name` becomes an identifier first (a lambda's is '<lambda>')."""
        call, source, *listings = self.load().build(fn, symbol(name))
        return call, source, (listings[0] if listings else {})


def symbol(name: str) -> str:
    """`name` as an identifier for generated code: '<lambda>_vjp' -> 'lambda_vjp'."""
    out = re.sub(r"\W", "_", name.replace("<", "").replace(">", ""))
    return out if out and not out[0].isdigit() else "f_" + out


BACKENDS: dict[str, BackendSpec] = {b.name: b for b in (
    BackendSpec("numba", "numba_backend", False,
                "readable Python source compiled by numba.njit (NumPy array form kept)"),
    BackendSpec("llvm", "llvm_backend", True,
                "LLVM IR through llvmlite, linked with the C runtime into a shared library"),
    # -- batched derivative kernels (issue 13): CUDA C over the same lowered IR ------------
    BackendSpec("cuda", "cuda_backend", True,
                "CUDA C (__host__ __device__ program + __global__ batched kernel); called from "
                "Python it runs the same code built for the host"),
    BackendSpec("numba_cuda", "numba_cuda_backend", True,
                "a self-contained numba-cuda kernel (one thread per instance), launched by "
                "adcompile.batch(..., target=\"cuda\")"),
)}


def get_backend(name: str) -> BackendSpec:
    spec = BACKENDS.get(name)
    if spec is None:
        raise AdError(f"unknown backend {name!r}", hint=f"available: {', '.join(BACKENDS)}")
    return spec
