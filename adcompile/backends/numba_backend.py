"""numba backend, part 2: write generated source to the disk cache, import it, njit it.

Generated modules are real files under the cache directory, named by a hash of their source,
so numba's `cache=True` works and a second process neither regenerates nor recompiles.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from .._version import __version__
from ..ir.core import Function
from .cache import cache_dir as _cache_dir
from .numba_codegen import LOWERS, generate_module  # noqa: F401  (LOWERS: the registry's)


def cache_dir() -> Path:
    return _cache_dir("numba")


def _runtime_stamp() -> str:
    """A hash of the njit helpers generated code calls: numba's cache of a generated module
    keeps the helpers it compiled in, so a changed helper must change the module's name."""
    from . import numba_rt
    return hashlib.sha256(Path(numba_rt.__file__).read_bytes()).hexdigest()[:12]


_RT_STAMP: list[str] = []


def build(fn: Function, pyname: str | None = None):
    """Return (njit dispatcher, source text) for an IR function after backend passes."""
    pyname = pyname or fn.name
    source = generate_module(fn, pyname)
    if not _RT_STAMP:
        _RT_STAMP.append(_runtime_stamp())
    key = hashlib.sha256(f"{__version__}\n{_RT_STAMP[0]}\n{source}".encode()).hexdigest()[:20]
    modname = f"adcompile_gen_{pyname}_{key}"
    if modname in sys.modules:
        return getattr(sys.modules[modname], pyname), source
    path = cache_dir() / f"{modname}.py"
    if not path.exists() or path.read_text() != source:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(source)
        os.replace(tmp, path)  # atomic: concurrent processes never see half a file
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return getattr(mod, pyname), source
