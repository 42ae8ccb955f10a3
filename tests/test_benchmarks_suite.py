"""`python -m benchmarks run --quick` produces the GMM table with peers cross-checked."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_suite_table(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "benchmarks", "run", "--quick",
                        "--tools", "adcompile,autograd,nosuchpeer", "--out", str(tmp_path)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=170, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "adbench.md").read_text()
    rows = [ln for ln in text.splitlines() if ln.startswith("| 2 | 5 |")]
    assert any("| adcompile | " in ln and "ERROR" not in ln for ln in rows)
    assert any("| autograd | " in ln and "ERROR" not in ln for ln in rows), text
    assert any("| nosuchpeer | ERROR: unknown tool" in ln for ln in rows), text
    assert "Not included:" in text
