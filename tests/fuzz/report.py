"""Findings: runnable reproducer files and the run's summary.

A reproducer is a ``.py`` file holding the (shrunk) program's module text, its arguments, what
differed, and a main block rerunning the failing check through `tests.fuzz.checks.rerun`
(exit status 1 while it still fails).  The program's functions are defined in the file itself,
so the adcompile frontend reads their source from it.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
import textwrap

from tests.programs import format_args

from .generate import Drawn


@dataclasses.dataclass
class Finding:
    """A failing check (or a hang/crash of the worker) on one program."""

    index: int            # the program's number in this run
    drawn: Drawn          # the program as generated
    check: str            # the failing check (for hangs and crashes: the one running)
    kind: str             # "mismatch", "raised X", "timeout", "crash (exit N)"
    detail: str
    origin: str           # "seed S batch B position P"
    shrunk: Drawn | None = None
    shrunk_detail: str = ""
    shrink_note: str = ""
    path: str = ""

    @property
    def signature(self) -> tuple:
        return (self.check, self.kind)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40]


def _comment(text: str, width: int = 4000) -> str:
    text = text if len(text) <= width else text[:width] + "\n... (cut)"
    return textwrap.indent(text.replace('"""', "'''"), "    ")


def reproducer_text(f: Finding, command: str) -> str:
    d = f.shrunk or f.drawn
    p = d.program
    detail = f.shrunk_detail if f.shrunk is not None else f.detail
    shrunk = (f"shrunk from {len(f.drawn.program.source)} to {len(p.source)} characters "
              f"({f.shrink_note})" if f.shrunk is not None else
              f"not shrunk ({f.shrink_note or 'shrinking not run for this finding'})")
    return (
        f'"""adcompile fuzz finding: check {f.check} failed: {f.kind}.\n\n'
        f"Program {f.index} ({d.kind}) of `{command}`, {f.origin}; {shrunk}.\n"
        f"Run from the repository root: PYTHONPATH=. python <this file>  "
        f"(exit status 1 while it fails).\n\n"
        f"What differed:\n{_comment(detail)}\n"
        f'"""\n'
        f"{p.source}\n\n"
        f"ARGS = {format_args(p.args)}\n"
        f"ARG_KINDS = {p.arg_kinds!r}\n"
        f"CHECK = {f.check!r}\n"
        f"KIND = {f.kind!r}\n\n"
        f'if __name__ == "__main__":\n'
        f"    import sys\n"
        f"    from tests.fuzz.checks import rerun\n"
        f"    sys.exit(rerun({p.func_name}, ARGS, CHECK))\n"
    )


def write_reproducer(out_dir: str, f: Finding, command: str) -> str:
    name = f"{f.index:05d}_{_slug(f.check)}_{_slug(f.kind)}.py"
    path = os.path.join(out_dir, name)
    with open(path, "w") as fh:
        fh.write(reproducer_text(f, command))
    f.path = path
    return path


@dataclasses.dataclass
class Tally:
    """Counts per check and status, and time per check."""

    counts: dict = dataclasses.field(
        default_factory=lambda: collections.defaultdict(collections.Counter))
    seconds: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    kinds: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def add(self, outcomes) -> None:
        for o in outcomes:
            self.counts[o.check][o.status] += 1
            self.seconds[o.check] += o.seconds


def summary_text(tally: Tally, findings: list[Finding], programs: int, duplicates: int,
                 wall_s: float, jobs: int, extra: dict) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(tally.kinds.items()))
    lines = [f"programs checked: {programs} ({kinds}); duplicates skipped: {duplicates}"]
    per_min = programs / (wall_s / 60.0) if wall_s > 0 else 0.0
    lines.append(f"wall time: {wall_s:.0f} s with {jobs} job(s): {per_min:.1f} programs/min, "
                 f"{per_min / max(jobs, 1):.1f} programs/min per job")
    for k, v in extra.items():
        lines.append(f"{k}: {v}")
    lines.append("")
    lines.append(f"{'check':<20} {'pass':>7} {'fail':>6} {'skip':>6} {'seconds':>9}")
    for check in sorted(tally.counts, key=_check_order):
        c = tally.counts[check]
        lines.append(f"{check:<20} {c['pass']:>7} {c['fail']:>6} {c['skip']:>6} "
                     f"{tally.seconds[check]:>9.1f}")
    lines.append("")
    by_sig = collections.defaultdict(list)
    for f in findings:
        by_sig[f.signature].append(f)
    lines.append(f"findings: {len(findings)} in {len(by_sig)} group(s) (check, kind)")
    for (check, kind), fs in sorted(by_sig.items()):
        lines.append(f"  {check}: {kind}: {len(fs)} program(s)")
        for f in fs[:5]:
            first = (f.shrunk_detail or f.detail).strip().splitlines()
            lines.append(f"    {f.path}  {first[0][:100] if first else ''}")
        if len(fs) > 5:
            lines.append(f"    ... and {len(fs) - 5} more")
    return "\n".join(lines)


def _check_order(check: str) -> tuple:
    engine = check.split(".")[0]
    order = {"cpython": 0, "interpret": 1, "numba": 2, "llvm": 3}
    return (order.get(engine, 9), check)


def write_summary(out_dir: str, text: str, data: dict) -> None:
    with open(os.path.join(out_dir, "summary.txt"), "w") as fh:
        fh.write(text + "\n")
    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(data, fh, indent=1, default=str)
