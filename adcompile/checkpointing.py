"""User-facing checkpointing policies for reverse mode, and the `checkpointed` loop marker.

A leaf module: the frontend reads the marker, the API parses policies, and the checkpoint pass
(transforms/checkpoint.py) and reverse mode apply them; none of them imports another for it.
See docs/checkpointing.md for the schedules.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import AdError


@dataclass(frozen=True)
class Every:
    """Snapshot every `k` iterations."""

    k: int

    def __post_init__(self):
        if not isinstance(self.k, int) or self.k < 1:
            raise AdError(f"checkpoint every={self.k!r}: expected a positive int",
                          hint='checkpoint=("every", 100) keeps a snapshot every 100 steps')


@dataclass(frozen=True)
class Snapshots:
    """At most `count` snapshots per level; `levels` nested segmentations (1 or 2)."""

    count: int
    levels: int = 1

    def __post_init__(self):
        if not isinstance(self.count, int) or self.count < 1:
            raise AdError(f"checkpoint snapshots={self.count!r}: expected a positive int",
                          hint='checkpoint=("snapshots", 32)')
        if self.levels not in (1, 2):
            raise AdError(f"checkpoint levels={self.levels!r}: expected 1 or 2",
                          hint='checkpoint=("snapshots", 32, 2) for two levels')


@dataclass(frozen=True)
class Sqrt:
    """Segments of ceil(sqrt(n)) iterations."""


@dataclass(frozen=True)
class Binomial:
    """The binomial (revolve) schedule: at most `snapshots` states kept, or as many as fit in
    `memory` bytes (counted at run time from the loop state's size); see ad/revolve.py."""

    snapshots: int | None = None
    memory: int | None = None

    def __post_init__(self):
        if (self.snapshots is None) == (self.memory is None):
            raise AdError("binomial checkpointing takes a number of snapshots or a memory "
                          "budget, not both", hint='checkpoint=("binomial", 64) or '
                          'checkpoint=("binomial", "50MB")')
        if self.snapshots is not None and (type(self.snapshots) is not int
                                           or self.snapshots < 1):
            raise AdError(f"binomial snapshots={self.snapshots!r}: expected a positive int",
                          hint='checkpoint=("binomial", 64) or checkpoint=("binomial", "50MB")')


@dataclass(frozen=True)
class StoreAll:
    """Tape everything, however long the loop (no automatic checkpointing)."""


Policy = Every | Snapshots | Sqrt | Binomial | StoreAll

DEFAULT_TAPE_LIMIT = "2GB"


def auto_policy(tape_limit: int) -> "Binomial":
    """What the API retries with when a loop's tape would exceed `tape_limit` bytes."""
    return Binomial(memory=max(tape_limit // 4, 1))


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20,
          "gib": 2**30}


def parse_memory(spec) -> int:
    """Bytes from 50_000_000, "50MB", "1.5 GiB", "200kb"."""
    if isinstance(spec, int) and not isinstance(spec, bool) and spec > 0:
        return spec
    if isinstance(spec, str):
        text = spec.strip().lower().replace("_", "")
        num = text.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
        unit = text[len(num):].strip()
        try:
            value = float(num)
        except ValueError:
            value = -1.0
        if unit in _UNITS and value > 0:
            return max(1, int(value * _UNITS[unit]))
    raise AdError(f"memory={spec!r}: expected a positive number of bytes or a size such as "
                  '"50MB", "512KiB", "2GB"', hint='grad(f, checkpoint="binomial", memory="50MB")')


def parse_policy(spec, memory=None) -> Policy | None:
    """User-facing spellings: None, "sqrt", ("every", k), ("snapshots", s[, levels]),
    "binomial" (with `memory`), ("binomial", s), ("binomial", "50MB"), or a policy object."""
    if memory is not None and spec in (None, "binomial"):
        return Binomial(memory=parse_memory(memory))
    if memory is not None:
        raise AdError("memory= goes with checkpoint=\"binomial\"",
                      hint='grad(f, checkpoint="binomial", memory="50MB")')
    if spec is None or isinstance(spec, (Every, Snapshots, Sqrt, Binomial, StoreAll)):
        return spec
    if spec in ("store-all", False):
        return StoreAll()
    if spec == "sqrt":
        return Sqrt()
    if spec == "binomial":
        raise AdError('checkpoint="binomial" needs a budget',
                      hint='grad(f, checkpoint="binomial", memory="50MB") or '
                           'checkpoint=("binomial", 64) for 64 snapshots')
    if isinstance(spec, tuple) and spec and spec[0] == "every" and len(spec) == 2:
        return Every(spec[1])
    if isinstance(spec, tuple) and spec and spec[0] == "snapshots" and len(spec) in (2, 3):
        return Snapshots(*spec[1:])
    if isinstance(spec, tuple) and spec and spec[0] == "binomial" and len(spec) == 2:
        if isinstance(spec[1], int) and not isinstance(spec[1], bool):
            return Binomial(snapshots=spec[1])
        return Binomial(memory=parse_memory(spec[1]))
    raise AdError(f"unknown checkpoint policy {spec!r}",
                  hint='use checkpoint="store-all", "sqrt", ("every", k), ("snapshots", s), '
                       '("snapshots", s, 2), ("binomial", s) or "binomial" with memory=')


def checkpointed(iterable, every: int | None = None, snapshots: int | None = None,
                 levels: int = 1, binomial: int | None = None, memory: str | int | None = None):
    """Mark a loop for checkpointing in reverse mode instead of a tape that grows with its trip
    count n: `for t in checkpointed(range(n), binomial=64):` keeps at most 64 snapshots of the
    loop state and recomputes by the binomial (revolve) schedule; `memory="50MB"` sizes the
    snapshots by bytes; `snapshots=64` cuts n into 64 uniform segments; `every=k` snapshots
    every k steps; no argument: segments of sqrt(n) steps. In plain Python it is the identity."""
    return iterable
