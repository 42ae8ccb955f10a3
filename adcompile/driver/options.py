"""Compile options, explicit: read from the environment once at the API boundary (when a
`jit`/`grad`/... object or an AOT build is made), then carried through every stage and part of
every cache key, so no pass reads the environment and changing a setting is never ignored.

Environment spellings (each overridable by a keyword of the API):
- `ADCOMPILE_BACKEND=numba|llvm`: the backend when the API is not given one;
- `ADCOMPILE_LOWER_ARRAYS=1`: lower whole-array ops to loops for numba too (LLVM always does);
- `ADCOMPILE_CLEANUP=0`: skip the cleanup passes (to measure what they buy);
- `ADCOMPILE_TAPE_LIMIT=2GB|off`: tape bytes above which reverse mode checkpoints a loop;
- `ADCOMPILE_PRINT_AFTER=pass[,pass]|all`: print the IR after those passes;
- `ADCOMPILE_TIME_PASSES=1`: print each pass's wall time;
- `ADCOMPILE_DISK_CACHE=0`: neither load programs from nor save them to the driver's disk
  cache (driver/disk_cache.py; the backends' own caches of generated code still apply);
- `ADCOMPILE_CHECK_TAPES=1`: check every tape push and pop against the tape's bounds (a
  debug option: an overflow is an internal error instead of a write past the tape).
"""
from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass

from ..backends import BACKENDS, get_backend
from ..checkpointing import DEFAULT_TAPE_LIMIT, parse_memory
from ..errors import AdError


@dataclass(frozen=True)
class CompileOptions:
    backend: str = "numba"
    lower_arrays: bool | None = None
    """Lower whole-array ops to loop nests even where the backend does not need it (numba);
    backends that need lowered IR (LLVM) always get it."""
    cleanup: bool = True
    tape_limit: int | None = parse_memory(DEFAULT_TAPE_LIMIT)
    """Bytes a top-level loop may tape before reverse mode switches to checkpointing."""
    print_after: frozenset[str] = frozenset()
    time_passes: bool = False
    check_tapes: bool = False
    """Guard every tape push and pop (pass `guard_tapes`): for debugging reverse mode."""
    disk_cache: bool = True
    """Load built programs from (and save them to) the driver's disk cache, so a second
    process skips the frontend and every pass. Not part of `key`: it changes no program."""

    def __post_init__(self):
        get_backend(self.backend)   # an unknown backend is reported here, at the API

    @classmethod
    def from_env(cls, env=None, **overrides) -> "CompileOptions":
        """Options from the environment, then `overrides` (keywords of the API; None values
        keep the environment's)."""
        env = os.environ if env is None else env
        opts = _from_env(tuple(env.get(k) for k in _ENV_KEYS))
        return opts.replace(**overrides) if overrides else opts

    def replace(self, **changes) -> "CompileOptions":
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise AdError(f"unknown compile option(s) {sorted(unknown)}",
                          hint=f"options: {[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def lowered(self) -> bool:
        """Whether this build lowers arrays (LLVM always; numba keeps NumPy form unless asked)."""
        return get_backend(self.backend).requires_lowering or bool(self.lower_arrays)

    @functools.cached_property
    def key(self) -> tuple:
        """What changes the generated program (printing and timing do not)."""
        return (self.backend, self.lowered, self.cleanup, self.tape_limit, self.check_tapes)

    @property
    def observes(self) -> bool:
        """Printing or timing asked for: caches must run the passes again to show them."""
        return bool(self.print_after) or self.time_passes

    def prints(self, stage: str) -> bool:
        return "all" in self.print_after or stage in self.print_after


_ENV_KEYS = ("ADCOMPILE_BACKEND", "ADCOMPILE_LOWER_ARRAYS", "ADCOMPILE_CLEANUP",
             "ADCOMPILE_TAPE_LIMIT", "ADCOMPILE_PRINT_AFTER", "ADCOMPILE_TIME_PASSES", "ADCOMPILE_CHECK_TAPES",
             "ADCOMPILE_DISK_CACHE")


@functools.lru_cache(maxsize=64)
def _from_env(values: tuple) -> CompileOptions:
    """Parsed once per distinct setting: API calls such as `jvp(...)` read the environment on
    every call, so this stays a dictionary lookup."""
    backend, flag, cleanup, limit, want, timing, guard, disk = (v or "" for v in values)
    backend = backend.strip() or CompileOptions.backend
    if backend not in BACKENDS:
        raise AdError(f"ADCOMPILE_BACKEND={backend!r} is not a backend",
                      hint=f"set it to one of: {', '.join(BACKENDS)} (or unset it)")
    return CompileOptions(
        backend=backend,
        lower_arrays=(flag == "1") if flag in ("0", "1") else None,
        cleanup=cleanup != "0",
        tape_limit=parse_tape_limit(limit or DEFAULT_TAPE_LIMIT),
        print_after=frozenset(p for p in want.split(",") if p),
        time_passes=timing not in ("", "0"),
        check_tapes=guard not in ("", "0"),
        disk_cache=disk != "0")


def parse_tape_limit(spec) -> int | None:
    """Bytes from "2GB", "20KB", an int; None for "off"/"none"/"0" (never switch)."""
    if spec is None:
        return None
    text = str(spec).strip()
    if text.lower() in ("off", "none", "0", ""):
        return None
    return parse_memory(int(text) if text.isdigit() else text)
