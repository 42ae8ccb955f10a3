"""Built programs carried inside pickles, so a worker calls them without building anything.

A pickled `jit`/derivative object is a recipe (pickling.py); with this module it also carries
the programs this process built for it on the LLVM backend: per signature, the shared
library's bytes, the binding facts (`backends/reload.py`), the program's `Interface` and the
globals it baked in (by fingerprint). Unpickling writes the library into the worker's cache
(content-addressed, so workers on one machine share one file) and puts the loaded program
in the driver's in-memory table: the first call runs no frontend, no pass and no compiler.

A program is installed only where it is valid: the worker's platform must be the one it was
built for (adcompile version, machine, CPU model and features: the library is optimised for
the building CPU) — otherwise a `ShippingWarning` says so and the worker compiles; a global
whose value differs on the worker drops that program silently (it compiles, as it would
have without the pickle). numba programs are not carried (numba's cache cannot be moved
between machines by bytes reliably): a worker compiles them, or loads them from a shared
`ADCOMPILE_CACHE_DIR`.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..backends import reload
from ..backends.cache import cache_dir
from ..errors import AdError
from ..frontend.reads import MISSING, Read
from ..results import boxes
from .compile import BUILT, Specialization, compile_program
from .disk_cache import cpu_description, fingerprint
from .interface import Interface


class ShippingWarning(UserWarning):
    """A pickled program could not be used on this worker (another platform): it compiles."""


@dataclass
class ShippedProgram:
    """One built program as it travels in a pickle."""

    sig: tuple
    transform: Any
    name: str
    interface: dict
    facts: dict
    library: bytes
    platform: str
    globals_read: tuple   # (name, fingerprint) of the function's own globals it baked in
    foreign_reads: tuple  # (module, name, fingerprint) of other modules' globals


@functools.cache
def platform_stamp() -> str:
    """What a shipped LLVM library needs of the worker: the same adcompile (ABI and runtime),
    OS, machine and CPU (the code is optimised for the building CPU's features)."""
    text = f"{__version__}\0{sys.platform}\0{platform.machine()}\0{cpu_description()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def export(func, options) -> list[ShippedProgram]:
    """The programs built in this process for `func` under `options` that can travel."""
    if options.backend != "llvm":
        return []
    out: list[ShippedProgram] = []
    for (sig, transform, okey), spec in list(BUILT.get(func, {}).items()):
        if okey != options.key:
            continue
        got = _shippable(func, spec)
        if got is not None:
            facts, data, own, foreign = got
            out.append(ShippedProgram(sig, transform, spec.name, spec.primal.to_json(), facts,
                                      data, platform_stamp(), own, foreign))
    return out


def _shippable(func, spec: Specialization):
    facts = spec.artifact
    if facts is None and spec.stages is not None:
        facts = reload.describe("llvm", spec.call, spec.stages["backend"])
    if facts is None or "library" not in facts:
        return None
    own, foreign = [], []
    for r in spec.reads:
        fp = fingerprint(r.value)
        if fp is None or r.name is None:
            return None
        if r.where is getattr(func, "__globals__", None):
            own.append((r.name, fp))
            continue
        mod = sys.modules.get(r.where.get("__name__") or "") if isinstance(r.where, dict) else None
        if mod is None or vars(mod) is not r.where:
            return None
        foreign.append((mod.__name__, r.name, fp))
    try:
        data = (cache_dir("llvm") / facts["library"]).read_bytes()
    except OSError:
        return None
    return facts, data, tuple(own), tuple(foreign)


def install(func, options, shipped: list[ShippedProgram]) -> int:
    """Put the shipped programs that are valid here into the driver's table; how many."""
    done = 0
    for p in shipped:
        if p.platform != platform_stamp():
            warnings.warn(f"the pickled program '{p.name}' was built on another platform "
                          "(adcompile version, machine or CPU): this worker compiles it",
                          ShippingWarning, stacklevel=3)
            continue
        reads = _reads_here(func, p)
        if reads is None:
            continue
        try:
            call = reload.load("llvm", dict(p.facts, library=_store(p.library, p.facts)))
        except (reload.ArtifactMissing, OSError) as e:
            warnings.warn(f"the pickled program '{p.name}' does not load here ({e}): this "
                          "worker compiles it", ShippingWarning, stacklevel=3)
            continue
        interface = Interface.from_json(p.interface)
        spec = Specialization(call, interface, p.name, boxes(interface), reads=reads,
                              artifact=p.facts, rebuild=_rebuilder(func, p, options))
        BUILT.setdefault(func, {})[(p.sig, p.transform, options.key)] = spec
        done += 1
    return done


def _reads_here(func, p: ShippedProgram) -> tuple[Read, ...] | None:
    """The baked-in globals with this process's values; None if one differs here."""
    reads = []
    env = getattr(func, "__globals__", {})
    for name, fp in p.globals_read:
        value = env.get(name, MISSING)
        if fingerprint(value) != fp:
            return None
        reads.append(Read(env, name, value))
    for modname, name, fp in p.foreign_reads:
        mod = sys.modules.get(modname)
        value = vars(mod).get(name, MISSING) if mod is not None else MISSING
        if mod is None or fingerprint(value) != fp:
            return None
        reads.append(Read(vars(mod), name, value))
    return tuple(reads)


def _store(data: bytes, facts: dict) -> str:
    """The library written into this process's LLVM cache under its content hash (once)."""
    digest = hashlib.sha256(data).hexdigest()[:32]
    suffix = os.path.splitext(facts["library"])[1] or ".so"
    name = f"shipped_{digest}{suffix}"
    path = cache_dir("llvm") / name
    if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest()[:32] != digest:
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)   # atomic: a concurrent worker sees the whole file or none
    return name


def _rebuilder(func, p: ShippedProgram, options):
    """`.source`/`.ir` of a shipped program: built on demand (the only time it compiles)."""
    ref = weakref.ref(func)

    def rebuild() -> Specialization:
        f = ref()
        if f is None:
            raise AdError(f"'{p.name}' no longer exists, so its IR cannot be rebuilt")
        return compile_program(f, p.sig, p.transform, options, p.name)
    return rebuild
