"""Run the bad-input corpus: one subprocess per group, one JSON line per case.

    python -m tests.corpus.runner [groups...]      # a table (group x outcome) and the bad cases

Each group runs in its own interpreter (a crash or a hang takes down one group, not the
run) under a timeout. When a group crashes or hangs, the cases it did not report are rerun
one per subprocess, so the culprit is named. `classify` turns one case's result into one of
`case.OUTCOMES` (see case.py for what each expectation calls good).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .case import GOOD, OUTCOMES, Case

GROUPS_DIR = Path(__file__).resolve().parent / "groups"
REPO = Path(__file__).resolve().parents[2]
GROUP_TIMEOUT = float(os.environ.get("ADCOMPILE_CORPUS_TIMEOUT", "420"))
CASE_TIMEOUT = float(os.environ.get("ADCOMPILE_CORPUS_CASE_TIMEOUT", "180"))


@dataclass
class Result:
    group: str
    case: str
    category: str
    outcome: str
    detail: str = ""
    seconds: float = 0.0


# -- classification (runs in the child) -------------------------------------------------------
def marked_lines(path: str) -> set[int]:
    """1-based lines of a group file that end with a `# ERR` marker."""
    with open(path, encoding="utf-8") as fh:
        return {k + 1 for k, line in enumerate(fh) if line.rstrip().endswith("# ERR")}


def _same_file(a: str | None, b: str) -> bool:
    return a is not None and os.path.realpath(a) == os.path.realpath(b)


def _attempt(fn):
    """('value', v) or ('raised', exception) of calling fn."""
    try:
        return "value", fn()
    except Exception as e:   # noqa: BLE001 - every failure is an outcome to classify
        return "raised", e


def _describe(e: BaseException) -> str:
    text = f"{type(e).__module__}.{type(e).__name__}: {e}"
    return text if len(text) < 1200 else text[:1200] + " ..."


def _precision(case: Case, err, group_file: str) -> str:
    """'' when an AdError is precise for this case, else what is missing."""
    from adcompile.errors import AdError, InternalError
    if isinstance(err, InternalError):
        return "internal"
    assert isinstance(err, AdError)
    missing = []
    if not isinstance(err, case.error):
        want = case.error if isinstance(case.error, tuple) else (case.error,)
        missing.append(f"class {type(err).__name__}, wanted "
                       f"{' or '.join(c.__name__ for c in want)}")
    if not (err.hint or "").strip():
        missing.append("no hint")
    if case.where == "line":
        if not _same_file(err.filename, group_file):
            missing.append(f"file {err.filename}, wanted the group's file")
        elif err.lineno not in marked_lines(group_file):
            missing.append(f"line {err.lineno} is not marked # ERR")
    elif case.where is not None and case.where not in str(err):
        missing.append(f"{case.where!r} not in the message")
    return "; ".join(missing)


def same_value(a, b) -> bool:
    """Equal in structure, shape and kind; numbers by np.allclose with NaNs equal."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and
                len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b)))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) != isinstance(b, np.ndarray):
        return False
    try:
        x, y = np.asarray(a), np.asarray(b)
    except Exception:   # noqa: BLE001
        return False
    if x.shape != y.shape or x.dtype.kind != y.dtype.kind or x.dtype.kind not in "biuf":
        return x.shape == y.shape and x.dtype.kind == y.dtype.kind and bool(np.all(x == y))
    if x.dtype.kind == "f" and x.dtype != y.dtype and isinstance(a, np.ndarray):
        return False   # an array's float precision is part of the answer (a scalar's is not)
    return bool(np.allclose(x, y, rtol=1e-7, atol=1e-9, equal_nan=True))


def _short(v) -> str:
    text = repr(v)
    return text if len(text) < 300 else text[:300] + " ..."


def classify(case: Case, group_file: str) -> tuple[str, str]:
    """(outcome, detail) of running one case."""
    from adcompile.errors import AdError
    kind, got = _attempt(case.run)
    if case.expect == "error":
        if kind == "value":
            return "wrong", f"accepted, returned {_short(got)}"
        if not isinstance(got, AdError):
            return "internal", _describe(got)
        missing = _precision(case, got, group_file)
        if missing == "internal":
            return "internal", _describe(got)
        return ("vague", f"{missing}: {_describe(got)}") if missing else ("precise", "")
    if case.expect != "python" or case.python is None:
        return "internal", f"case error: expect={case.expect!r} needs python="
    ref_kind, ref = _attempt(case.python)
    if kind == "value":
        if ref_kind == "raised":
            return "wrong", f"accepted where CPython raises {_describe(ref)}; got {_short(got)}"
        if same_value(got, ref):
            return "equal", ""
        return "wrong", f"got {_short(got)}, CPython gives {_short(ref)}"
    if ref_kind == "raised" and isinstance(got, type(ref)):
        return "equal", ""
    if isinstance(got, AdError):
        missing = _precision(case, got, group_file)
        if missing == "internal":
            return "internal", _describe(got)
        return ("vague", f"{missing}: {_describe(got)}") if missing else ("precise", "")
    want = f"CPython raises {type(ref).__name__}" if ref_kind == "raised" else "CPython returns"
    return "internal", f"{_describe(got)} ({want})"


# -- the child: one group, or one case of it ---------------------------------------------------
def load_group(name: str):
    """A group by its name in groups/, or by a dotted module path (the runner's tests)."""
    return importlib.import_module(name if "." in name else f"tests.corpus.groups.{name}")


def _child(group: str, only: str | None, out: str) -> None:
    with open(out, "a", encoding="utf-8") as fh:
        try:
            mod = load_group(group)
        except Exception:   # noqa: BLE001
            r = Result(group, "<import>", "", "internal", traceback.format_exc(limit=5))
            fh.write(json.dumps(asdict(r)) + "\n")
            return
        for case in mod.CASES:
            if only is not None and case.name != only:
                continue
            t0 = time.perf_counter()
            try:
                outcome, detail = classify(case, mod.__file__)
            except Exception:   # noqa: BLE001 - a bug in the runner or the case itself
                outcome, detail = "internal", "classify failed: " + traceback.format_exc(limit=5)
            r = Result(group, case.name, case.category, outcome, detail,
                       round(time.perf_counter() - t0, 3))
            fh.write(json.dumps(asdict(r)) + "\n")
            fh.flush()


# -- the parent --------------------------------------------------------------------------------
def group_names() -> list[str]:
    return sorted(p.stem for p in GROUPS_DIR.glob("*.py") if not p.stem.startswith("_"))


def _env() -> dict:
    env = dict(os.environ)
    parts = [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parts))
    return env


def _spawn(group: str, only: str | None, timeout: float) -> tuple[list[dict], str, str]:
    """(reported results, 'ok' | 'crash' | 'hang', stderr tail) of one child process."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as tmp:
        path = tmp.name
    cmd = [sys.executable, "-m", "tests.corpus.runner", "--child", group, "--out", path]
    if only is not None:
        cmd += ["--case", only]
    status = "ok"
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
        err = proc.stderr
        if proc.returncode != 0:
            status = "crash"
            err = f"exit status {proc.returncode}\n{err}"
    except subprocess.TimeoutExpired as e:
        status = "hang"
        err = f"no answer after {timeout:.0f}s\n{e.stderr or ''}"
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    os.unlink(path)
    return rows, status, err[-1500:]


def case_names(group: str) -> list[tuple[str, str]]:
    """(name, category) of a group's cases, read in a subprocess-free way (an import)."""
    mod = load_group(group)
    return [(c.name, c.category) for c in mod.CASES]


def run_group(group: str, timeout: float = GROUP_TIMEOUT,
              case_timeout: float = CASE_TIMEOUT) -> list[Result]:
    rows, status, err = _spawn(group, None, timeout)
    results = [Result(**r) for r in rows]
    if status == "ok":
        return results
    done = {r.case for r in results}
    try:
        pending = [(n, c) for n, c in case_names(group) if n not in done]
    except Exception:   # noqa: BLE001 - the group does not even import here
        return results + [Result(group, "<group>", "", status, err)]
    for name, category in pending:
        rows, st, err = _spawn(group, name, case_timeout)
        if rows:
            results += [Result(**r) for r in rows]
        else:
            results.append(Result(group, name, category, st if st != "ok" else "crash", err))
    return results


def run_all(groups: list[str] | None = None, jobs: int = 2) -> list[Result]:
    groups = groups or group_names()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        per_group = list(pool.map(run_group, groups))
    return [r for rs in per_group for r in rs]


def table(results: list[Result]) -> str:
    groups = sorted({r.group for r in results})
    width = max([len(g) for g in groups] + [5])
    head = f"{'group':<{width}} " + " ".join(f"{o:>8}" for o in OUTCOMES) + f" {'total':>6}"
    lines = [head, "-" * len(head)]
    for g in groups + ["total"]:
        rs = [r for r in results if g == "total" or r.group == g]
        counts = [sum(r.outcome == o for r in rs) for o in OUTCOMES]
        lines.append(f"{g:<{width}} " + " ".join(f"{c:>8}" for c in counts) + f" {len(rs):>6}")
    return "\n".join(lines)


def bad(results: list[Result]) -> list[Result]:
    return [r for r in results if r.outcome not in GOOD]


def report(results: list[Result]) -> str:
    lines = [table(results)]
    for r in bad(results):
        lines.append(f"\n[{r.outcome}] {r.group}.{r.case} ({r.category}): {r.detail}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.corpus.runner")
    ap.add_argument("groups", nargs="*")
    ap.add_argument("--child")
    ap.add_argument("--case")
    ap.add_argument("--out")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON line per case")
    a = ap.parse_args(argv)
    if a.child:
        _child(a.child, a.case, a.out)
        return 0
    unknown = set(a.groups) - set(group_names())
    if unknown:
        ap.error(f"unknown groups {sorted(unknown)}; known: {group_names()}")
    results = run_all(a.groups or None, a.jobs)
    if a.json:
        for r in results:
            print(json.dumps(asdict(r)))
    print(report(results))
    return 0 if not bad(results) else 1


if __name__ == "__main__":
    sys.exit(main())
