"""The compile driver's disk cache: a program built in one process is loaded by the next
without running the frontend or any pass.

Layout, under `<cache dir>/programs/` (the cache dir: `$ADCOMPILE_CACHE_DIR`, else
`~/.cache/adcompile`):

    <key>/<variant>.json

`key` hashes what is known before anything is compiled: the build stamp (adcompile's version
and the size and mtime of its source files and C runtime, Python, NumPy, the backend's
toolchain, the CPU), the backend and every option that changes the program
(`CompileOptions.key`), the signature, the transform, and the function: its module, qualified
name, file, first line and source text.

`variant` hashes what only the frontend finds out: the program's dependencies, every global and
closure cell it read (where, name, and a fingerprint of the value: numbers by value, arrays by
content, modules by name, library functions by their import path, user functions by their
source) and every other function whose source it lowered (inlined callees at any depth, by
module, qualified name and a hash of file, first line and source). A lookup reads the key's
variants and takes the first whose dependencies all still hold in this process; a global
switched back to an old value finds its old variant again.

Each entry is JSON: the dependencies, the program's `Interface` (what the call path needs:
result types, boxing, locations) and the backend's artifact facts (`backends/reload.py`:
which generated module or shared library, and how to bind it). Entries are written to a
temporary file and renamed into place, so a concurrent process sees a whole entry or none; an
entry that does not parse, or whose artifact is gone or altered, is skipped (the program is
compiled and the entry rewritten).

Not cached on disk (they compile as before, in-memory cache and backend caches still apply):
functions without readable source, derivatives of derivatives and programs that inline a
derivative (their pieces are cached separately), and programs that read something this module
cannot fingerprint across processes (an object of a user class, a closure cell of a callee, a
custom_jvp/custom_vjp function).
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
import platform
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from .._version import __version__
from ..backends import reload
from ..backends.cache import cache_dir
from ..frontend.reads import MISSING, Read
from ..frontend.source import lambda_text
from .interface import Interface

FORMAT = 1   # bump when an entry's layout or meaning changes

# objects of these packages are fingerprinted by where they are imported from (their code is
# covered by the package versions in the stamp, or is adcompile's own)
_LIBRARIES = frozenset({"numpy", "math", "cmath", "builtins", "operator", "adcompile"})
_PLAIN = (bool, int, float, complex, str, bytes, type(None))


@dataclass
class Hit:
    """A program found on disk: its callable, its interface, and the globals it read (as
    `Read`s with this process's objects, for the in-memory cache's staleness check)."""

    call: Callable
    interface: Interface
    reads: tuple[Read, ...]
    facts: dict | None = None   # the backend's artifact facts (backends/reload.py)


# -- the key -------------------------------------------------------------------------------------
def program_key(func, sig, transform, options) -> str | None:
    """The entry folder's name for this compile; None when `func` is not cached on disk."""
    if type(func) is not types.FunctionType:
        return None
    src = source_fingerprint(func)
    if src is None:
        return None
    text = "\n".join([str(FORMAT), stamp(options.backend), repr(options.key),
                      repr(tuple(sig)), repr(transform), str(func.__module__),
                      func.__qualname__, src])
    return _sha(text)[:32]


def source_fingerprint(func) -> str | None:
    """A hash of a function's file, first line and source text (None: no readable source).
    The line matters: error messages built into the program name the user's lines."""
    if getattr(func, "__name__", None) == "<lambda>":
        # inspect gives the whole lines around a lambda, which two lambdas on one line share:
        # the lambda's own text and column tell them apart
        got = lambda_text(func)
        if got is None:
            return None
        file, first, col, text = got
        return _sha(f"{file}\n{first}\n{col}\n{text}")
    try:
        lines, first = inspect.getsourcelines(func)
        file = inspect.getsourcefile(func) or func.__code__.co_filename
    except (OSError, TypeError):
        return None
    return _sha(f"{file}\n{first}\n{''.join(lines)}")


def callee_fingerprint(func) -> str | None:
    """A callee's source and its default values (the frontend bakes those in as constants;
    the compiled function's own defaults are arguments, bound at the API)."""
    src = source_fingerprint(func)
    defaults = fingerprint((tuple(func.__defaults__ or ()),
                            tuple(sorted((func.__kwdefaults__ or {}).items()))))
    return None if src is None or defaults is None else _sha(src + defaults)


@functools.lru_cache(maxsize=None)
def stamp(backend: str) -> str:
    """What else a built program depends on: adcompile itself (version, and the size and
    mtime of every source file, so an edited checkout never reuses old programs), Python,
    NumPy, the backend's toolchain and the CPU the code was optimised for."""
    h = hashlib.sha256()
    for part in (__version__, sys.version, np.__version__, _toolchain(backend), cpu_description()):
        h.update(part.encode() + b"\0")
    pkg = Path(__file__).resolve().parents[1]
    for root in (pkg, pkg.parent / "runtime", pkg / "_runtime"):
        for path, st in _tree(root):
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def _tree(root: Path) -> list[tuple[str, os.stat_result]]:
    out = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return out
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            if e.name != "__pycache__":
                out += _tree(Path(e.path))
        elif e.name.endswith((".py", ".c", ".h")):
            out.append((e.path, e.stat()))
    return sorted(out)


def _toolchain(backend: str) -> str:
    if backend == "numba":
        import numba
        return f"numba {numba.__version__}"
    if backend == "llvm":
        import llvmlite   # the package root only: cheap, unlike llvmlite.binding
        return f"llvmlite {llvmlite.__version__}"
    return backend


def cpu_description() -> str:
    info = ""
    try:
        with open("/proc/cpuinfo") as fh:
            seen = set()
            for line in fh:
                k = line.split(":", 1)[0].strip()
                if k in ("model name", "flags", "Features", "CPU part") and k not in seen:
                    seen.add(k)
                    info += line
                if not line.strip() and seen:
                    break
    except OSError:
        info = platform.processor()
    return f"{platform.machine()}\n{info}"


# -- dependencies --------------------------------------------------------------------------------
def dependencies(func, reads: Iterable[Read], sources: Iterable) -> list | None:
    """The program's dependencies as JSON-able rows; None if one cannot be checked in another
    process (then the program is not cached on disk)."""
    rows: list = []
    for r in reads:
        where = _where(func, r)
        fp = fingerprint(r.value)
        if where is None or fp is None:
            return None
        rows.append(["read", where, r.name, fp])
    done: set[int] = set()
    for f in sources:
        if f is func or id(f) in done:
            continue
        done.add(id(f))
        name = _import_path(f)
        fp = callee_fingerprint(f) if name is not None else None
        if fp is None:
            return None
        rows.append(["source", name[0], name[1], fp])
    return rows


def _where(func, r: Read) -> list | None:
    """How to find the place of a read again: a module's globals by the module's name, or
    one of `func`'s own closure cells by its variable name."""
    if r.name is None:
        cells = func.__closure__ or ()
        for name, cell in zip(func.__code__.co_freevars, cells):
            if cell is r.where:
                return ["cell", name]
        return None
    mod = sys.modules.get(r.where.get("__name__") or "") if isinstance(r.where, dict) else None
    if mod is not None and vars(mod) is r.where:
        return ["module", mod.__name__]
    return None


def _current(func, where: list, name: str | None) -> tuple[Any, Any]:
    """(place, value now) of a dependency row's read; LookupError if the place is gone."""
    if where[0] == "cell":
        names = func.__code__.co_freevars
        if where[1] not in names or not func.__closure__:
            raise LookupError(where[1])
        cell = func.__closure__[names.index(where[1])]
        try:
            return cell, cell.cell_contents
        except ValueError:
            return cell, MISSING
    mod = sys.modules.get(where[1])
    if mod is None:
        raise LookupError(where[1])
    return vars(mod), vars(mod).get(name, MISSING)


def _import_path(obj) -> tuple[str, str] | None:
    """(module, qualified name) under which `obj` itself is found, or None."""
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual:
        return None
    got = _resolve(mod, qual)
    if got is not obj and not (getattr(got, "__adcompile__", False) and
                               getattr(got, "py_func", None) is obj):   # under @jit
        return None
    return mod, qual


def _resolve(mod: str, qual: str):
    got = sys.modules.get(mod)
    for part in qual.split("."):
        got = getattr(got, part, None)
    return got


def fingerprint(value) -> str | None:
    """A hash of what the frontend may bake in from `value`, equal across processes exactly
    when the compiled program would be; None for values it cannot vouch for."""
    desc = _describe(value, 0)
    return None if desc is None else _sha(repr(desc))[:32]


def _describe(v, depth: int):
    if v is MISSING:
        return ("missing",)
    t = type(v)
    if t in _PLAIN:
        return (t.__name__, repr(v))
    if isinstance(v, np.generic) and t.__module__ == "numpy":
        return ("np", t.__name__, v.tobytes().hex())
    if t is tuple and depth < 8:
        items = tuple(_describe(x, depth + 1) for x in v)
        return None if any(x is None for x in items) else ("tuple",) + items
    if t is np.ndarray and v.dtype.kind in "biuf":
        return ("ndarray", v.dtype.str, v.shape,
                hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest())
    if isinstance(v, types.ModuleType):
        return ("module", v.__name__)
    name = _import_path(v)
    if name is not None and name[0].split(".")[0] in _LIBRARIES:
        return ("library", name[0], name[1])
    if isinstance(v, types.FunctionType):
        src = callee_fingerprint(v) if name is not None and v.__closure__ is None else None
        return None if src is None else ("function", name[0], name[1], src)
    py = getattr(v, "py_func", None)   # a jit object: the frontend inlines its function
    if getattr(v, "__adcompile__", False) and not hasattr(v, "__adcompile_call__") and \
            isinstance(py, types.FunctionType):
        inner = _describe(py, depth + 1)
        return None if inner is None else ("jit", inner)
    return None


# -- entries -------------------------------------------------------------------------------------
def lookup(key: str, func, backend: str) -> Hit | None:
    """The first entry under `key` whose dependencies hold and whose artifact loads."""
    folder = cache_dir("programs") / key
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return None
    for n in names:
        try:
            entry = json.loads((folder / n).read_text())
            if entry.get("format") != FORMAT:
                continue
            reads = _holding(func, entry["deps"])
            if reads is None:
                continue
            interface = Interface.from_json(entry["interface"])
            return Hit(reload.load(backend, entry["artifact"]), interface, reads,
                       entry["artifact"])
        except Exception:   # noqa: BLE001 - a partial, corrupt or foreign entry is a miss
            continue
    return None


def _holding(func, rows: list) -> tuple[Read, ...] | None:
    """The reads of `rows` with this process's values, or None if one no longer holds."""
    reads: list[Read] = []
    for row in rows:
        if row[0] == "read":
            _, where, name, fp = row
            try:
                place, value = _current(func, where, name)
            except LookupError:
                return None
            if fingerprint(value) != fp:
                return None
            reads.append(Read(place, name, value))
        elif row[0] == "source":
            f = _resolve(row[1], row[2])
            f = getattr(f, "py_func", f) if getattr(f, "__adcompile__", False) else f
            if not isinstance(f, types.FunctionType) or callee_fingerprint(f) != row[3]:
                return None
        else:
            return None
    return tuple(reads)


def store(key: str, func, backend: str, call: Callable, interface: Interface,
          backend_fn, reads: Iterable[Read], sources: Iterable) -> bool:
    """Write the entry for a program just built; False if it cannot be cached on disk."""
    deps = dependencies(func, reads, sources)
    if deps is None:
        return False
    artifact = reload.describe(backend, call, backend_fn)
    if artifact is None:
        return False
    text = json.dumps({"format": FORMAT, "deps": deps, "interface": interface.to_json(),
                       "artifact": artifact}, sort_keys=True)
    folder = cache_dir("programs") / key
    final = folder / f"{_sha(json.dumps(deps, sort_keys=True))[:24]}.json"
    tmp = folder / f".{final.stem}.{os.getpid()}.{id(text):x}.tmp"
    try:
        folder.mkdir(exist_ok=True)
        tmp.write_text(text)
        os.replace(tmp, final)   # atomic: a concurrent reader sees the old entry or this one
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
    return True


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
