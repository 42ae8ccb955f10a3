"""Backends: turn IR after the backend pipeline into something callable.

Each backend module has `build(fn, name) -> (callable, source_text)`; `BACKENDS` names them.
"""
from __future__ import annotations

BACKENDS = ("numba", "llvm")


def builder(name: str):
    """The `build` function of a backend, imported lazily (llvm needs a C compiler)."""
    from ..errors import AdError
    if name == "numba":
        from .numba_backend import build
        return build
    if name == "llvm":
        from .llvm_backend import build
        return build
    raise AdError(f"unknown backend {name!r}", hint=f"available: {', '.join(BACKENDS)}")
