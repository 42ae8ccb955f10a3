"""Loading what a backend built in an earlier process, without building anything.

`build(fn, name)` of a backend leaves its artifact in the backend's disk cache (a generated
Python module for numba, a shared library for LLVM). `describe` says, in a few JSON-able facts,
how to get the callable back from that artifact; `load` does so in a fresh process, from those
facts alone: no IR, no code generation, and for LLVM not even llvmlite (a kernel's error is
turned into its Python exception by the LLVM backend, imported only when one happens).
Anything missing or altered on disk is an `ArtifactMissing`: the caller compiles instead.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Callable

from ..ir.core import Function
from .abi import type_spec
from .cache import cache_dir


class ArtifactMissing(Exception):
    """The artifact is gone or is not what was described (the cache was cleaned or edited)."""


def describe(backend: str, call: Callable, fn: Function) -> dict | None:
    """The facts `load` needs for `call`, which `build` returned for the backend-stage `fn`;
    None if this call cannot be found again from disk."""
    if backend == "numba":
        py = getattr(call, "py_func", None)
        mod = sys.modules.get(getattr(py, "__module__", None) or "")
        path = Path(getattr(mod, "__file__", None) or "")
        if py is None or mod is None or path.parent != cache_dir("numba"):
            return None
        return {"module": mod.__name__, "file": path.name, "function": py.__name__,
                "sha256": _sha(path)}
    if backend == "llvm":
        lib = Path(getattr(call, "library", None) or "")
        if lib.parent != cache_dir("llvm"):
            return None
        return {"library": lib.name, "symbol": call.__name__,
                "args": [list(type_spec(a.type)) for a in fn.args],
                "outs": [list(type_spec(t)) for t in fn.result_types],
                "returns_tuple": fn.returns_tuple, "names": [a.name for a in fn.args]}
    return None


def load(backend: str, facts: dict) -> Callable:
    """The callable `describe` described, from the artifact on disk."""
    if backend == "numba":
        return _load_numba(facts)
    if backend == "llvm":
        return _load_llvm(facts)
    raise ArtifactMissing(f"no loader for backend {backend!r}")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_numba(facts: dict) -> Callable:
    """Import the generated module (numba's own cache, next to it, then skips compiling)."""
    name = facts["module"]
    if name in sys.modules:
        return getattr(sys.modules[name], facts["function"])
    path = cache_dir("numba") / facts["file"]
    try:
        if _sha(path) != facts["sha256"]:
            raise ArtifactMissing(f"{path} changed since it was built")
    except OSError as e:
        raise ArtifactMissing(str(e)) from None
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
        return getattr(mod, facts["function"])
    except BaseException:
        del sys.modules[name]
        raise


def _load_llvm(facts: dict) -> Callable:
    import ctypes

    from .ctypes_stub import bind
    path = cache_dir("llvm") / facts["library"]
    if not path.exists():
        raise ArtifactMissing(f"{path} is gone")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise ArtifactMissing(f"{path}: {e}") from None
    call = bind(lib, facts["symbol"], [tuple(a) for a in facts["args"]],
                [tuple(o) for o in facts["outs"]], facts["returns_tuple"], _kernel_error,
                facts["names"])
    call.library = str(path)
    return call


def _kernel_error(code: int, message: str) -> Exception:
    """The LLVM backend's exception for a kernel's error code (imported on the error path)."""
    return importlib.import_module(f"{__package__}.llvm_backend").kernel_error(code, message)
