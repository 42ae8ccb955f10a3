"""`python -m benchmarks run --quick` produces every workload's table with peers cross-checked,
and the plots (or says why there are none)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TITLES = {"GMM gradient, plain loops": "| 2 | 5 |",
          "GMM gradient, whole-array NumPy": "| 2 | 5 |",
          "LSTM gradient": "| 2 | 256 |",
          "Heat-equation gradient": "| 1000 | 1000 |",
          "BA sparse Jacobian": "| 8 | 500 | 2000 |"}
# tools with no timed row for a workload, and what their row says instead
UNTIMED = {("BA sparse Jacobian", "autograd"): "not implemented for this workload"}


def sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for ln in text.splitlines():
        if ln.startswith("## "):
            current = ln[3:]
            out[current] = []
        elif current is not None and ln.startswith("| "):
            out[current].append(ln)
    return out


def test_quick_suite_table(tmp_path):
    # the LLVM backend: cold numba compiles of the quick sizes take minutes on 2 cores
    env = dict(os.environ, ADCOMPILE_BACKEND="llvm",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "benchmarks", "run", "--quick",
                        "--tools", "adcompile,autograd,nosuchpeer", "--out", str(tmp_path)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=400, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "adbench.md").read_text()
    secs = sections(text)
    for title, prefix in TITLES.items():
        [name] = [s for s in secs if s.startswith(title)]
        rows = [ln for ln in secs[name] if ln.startswith(prefix)]
        for tool in ("adcompile", "autograd"):
            [row] = [ln for ln in rows if f"| {tool} | " in ln]
            cells = [c.strip() for c in row.split("|")[1:-1]]
            nsize = prefix.count("|") - 1
            if (title, tool) in UNTIMED:
                assert cells[nsize + 1] == UNTIMED[title, tool], (title, row)
                continue
            # grad min, grad median, primal min, J/F: numbers (timed only after the check)
            assert all(float(c) > 0 for c in cells[nsize + 1:nsize + 5]), (title, row)
        assert any("| nosuchpeer | ERROR: unknown tool" in ln for ln in rows), text
    assert "Not included:" in text
    # the colouring is optimal: every row has 12 nonzeros (its camera's 9, its point's 3)
    [ba] = [s for s in secs if s.startswith("BA sparse Jacobian")]
    assert "adcompile: 12 colours" in text.split("## " + ba, 1)[1], text
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "plots skipped: matplotlib not installed" in r.stdout
    else:
        pngs = [tmp_path / f"adbench_{key}.png" for key in ("gmm_loops", "gmm_numpy", "lstm",
                                                            "heat", "ba")]
        assert all(p.stat().st_size > 1000 for p in pngs)
        for p in pngs:
            p.unlink()
        # the plots are redrawn from the markdown alone
        r = subprocess.run([sys.executable, "-m", "benchmarks", "plot", "--out", str(tmp_path)],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                           check=False)
        assert r.returncode == 0, r.stderr[-2000:]
        assert all(p.stat().st_size > 1000 for p in pngs)


def test_cross_check_is_per_argument():
    """A wrong small gradient next to a large one is caught (the error is relative to each
    argument's own largest entry)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from suite import TOL, rel_err
    ref = (np.array([1e6, 2e6]), np.array([1e-3, 2e-3]))
    assert rel_err(ref, (ref[0].copy(), ref[1].copy())) == 0.0
    assert rel_err(ref, (ref[0], ref[1] * (1 + 1e-6))) > TOL
    assert rel_err(ref, (ref[0],)) == float("inf")


def test_rows_from_markdown():
    """The committed results parse back into every workload's rows (what `plot` redraws)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from suite import rows_from_markdown
    res = ROOT / "benchmarks" / "results"
    tables = rows_from_markdown((res / "adbench.md").read_text())
    assert [w.key for w, _, _ in tables] == ["gmm_loops", "gmm_numpy", "lstm", "heat"]
    ba = rows_from_markdown((res / "adbench_ba.md").read_text())   # run on its own
    assert [w.key for w, _, _ in ba] == ["ba"]
    tables += ba
    for w, rows, tools in tables:
        assert "adcompile" in tools
        timed = [r for r in rows if r.status is None]
        assert timed and all(r.gmin > 0 and r.pmin > 0 for r in timed), w.key


def test_plot_skipped_without_matplotlib(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from suite import plot
    from suite_workloads import lstm_workload
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib -> ImportError
    assert plot(lstm_workload(), [], ["adcompile"], str(tmp_path)) is None
    assert not list(tmp_path.iterdir())
