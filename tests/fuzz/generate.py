"""Programs for the fuzzer, from the generator of `tests/programs.py`, and their shrinking.

Programs come in batches: batch `b` of a run with seed `s` is what one seeded hypothesis run
(generate phase only, no database) draws, so (seed, batch, position) names a program
reproducibly.  Shrinking a failure replays that run: the examples before the failing one pass
without being checked (hypothesis then draws exactly the same sequence), the failing one is
checked and fails, and hypothesis' shrinker takes over from it, rerunning only the failing check
on each candidate, within a time budget.

The mix of program kinds is drawn per program: general programs (int outputs too; primal checks
only), differentiable ones (float outputs) and smooth differentiable ones (no abs/min/max).
Hypothesis also draws constants harvested from the loaded non-test modules (adcompile, generated
modules), so the generator and a replay both run in processes that have imported neither
(`pool.py`).  Only the public strategies of `tests/programs.py` are used, so whatever constructs the
generator learns are fuzzed too.
"""
from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hyp_seed
from hypothesis import strategies as st

from tests.programs import GenConfig, Program, float_programs, format_args, programs

KINDS = ("general", "differentiable", "smooth", "large")
# "large": differentiable programs with about twice the statements and deeper expressions
LARGE = GenConfig(differentiable=True, max_args=5, max_stmts=30, max_expr_depth=4)


@dataclasses.dataclass(frozen=True)
class Drawn:
    """A program and where it came from (`kind`: one of KINDS)."""

    program: Program
    kind: str

    @property
    def digest(self) -> str:
        return program_digest(self.program)


def program_digest(p: Program) -> str:
    return hashlib.sha1((p.source + format_args(p.args)).encode()).hexdigest()[:16]


def fuzz_programs(large: bool = False) -> st.SearchStrategy[Drawn]:
    """Strategy: a program of one of the KINDS, tagged with its kind ("large" ones only when
    asked: they compile several times slower)."""
    kinds = [
        programs().map(lambda p: Drawn(p, "general")),
        float_programs().map(lambda p: Drawn(p, "differentiable")),
        float_programs(smooth=True).map(lambda p: Drawn(p, "smooth")),
    ]
    if large:
        kinds.append(programs(config=LARGE).map(lambda p: Drawn(p, "large")))
    return st.one_of(*kinds)


def batch_seed(seed: int, batch: int) -> int:
    return (seed * 1_000_003 + batch) % (2 ** 32)


def _settings(n: int, phases) -> settings:
    return settings(max_examples=n, database=None, deadline=None, phases=phases,
                    suppress_health_check=list(HealthCheck), derandomize=False,
                    report_multiple_bugs=False, verbosity=Verbosity.quiet, print_blob=False)


def generate_batch(seed: int, batch: int, size: int,
                   sink: Callable[[Drawn], None] | None = None, large: bool = False
                   ) -> list[Drawn]:
    """The `size` programs of batch `batch` (hypothesis may draw fewer if it runs dry).  With
    a `sink`, each program is handed to it as soon as it is drawn (and none are returned); the
    sink may raise `StopGenerating` to end the batch."""
    out: list[Drawn] = []

    @hyp_seed(batch_seed(seed, batch))
    @_settings(size, [Phase.generate])
    @given(fuzz_programs(large))
    def collect(d):
        if sink is None:
            out.append(d)
        else:
            sink(d)

    try:
        collect()
    except StopGenerating:
        pass
    return out


class StopGenerating(BaseException):
    """Raised by a sink of `generate_batch`: leave hypothesis' engine at once (it does not
    catch a BaseException)."""


class _Interesting(Exception):
    """The candidate still fails the check the same way."""


class _StopShrinking(BaseException):
    """The time budget is spent: leave hypothesis' engine at once (it does not catch this)."""


@dataclasses.dataclass
class ShrinkResult:
    best: Drawn | None        # the smallest candidate that still failed (None: replay failed)
    candidates: int           # candidates checked
    seconds: float
    note: str = ""


def _size(d: Drawn) -> tuple:
    return (len(d.program.source), len(format_args(d.program.args)))


def shrink(seed: int, batch: int, size: int, position: int, digest: str,
           still_fails: Callable[[Drawn], bool], budget_s: float,
           large: bool = False) -> ShrinkResult:
    """Replay batch `batch` up to `position` (the program with `digest`), then let hypothesis
    shrink it while `still_fails` holds, for at most `budget_s` seconds."""
    state = {"i": 0, "best": None, "n": 0, "note": "", "t0": time.monotonic()}
    t0 = time.monotonic()

    @hyp_seed(batch_seed(seed, batch))
    @_settings(size, [Phase.generate, Phase.shrink])
    @given(fuzz_programs(large))
    def replay(d):
        i = state["i"]
        state["i"] += 1
        if state["best"] is None:
            if i < position:
                return
            if i > position or d.digest != digest:
                state["note"] = f"replay diverged at example {i}"
                raise _StopShrinking
            state["t0"] = time.monotonic()   # the budget counts from the failing example
        if state["best"] is not None and time.monotonic() - state["t0"] > budget_s:
            state["note"] = "time budget spent"
            raise _StopShrinking
        state["n"] += 1
        try:
            failing = still_fails(d)
        except Exception:  # noqa: BLE001 - e.g. CPython itself fails: not this bug
            failing = False
        if not failing:
            if state["best"] is None:
                state["note"] = "the program no longer fails"
                raise _StopShrinking
            return
        if state["best"] is None or _size(d) <= _size(state["best"]):
            state["best"] = d
        raise _Interesting

    try:
        replay()
    except _StopShrinking:
        pass
    except Exception:  # noqa: BLE001 - _Interesting, or hypothesis' report of it
        state["note"] = state["note"] or "hypothesis finished shrinking"
    return ShrinkResult(state["best"], state["n"], time.monotonic() - t0, state["note"])
