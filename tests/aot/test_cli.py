"""`adcompile build` misuse from a shell: exit status 2 and one `adcompile: error:` line (plus
its hint, and the source line of a failing import), never a Python traceback or an LLVM
abort. The corpus group tests/corpus/groups/cli.py checks each message in-process; here a
few representative commands run as real processes."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
MODEL = f"{HERE / 'models.py'}:spring"


def _adcompile(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adcompile", *argv], capture_output=True,
                          text=True, cwd=cwd, env=dict(os.environ), timeout=300)


def _files(tmp: Path) -> dict:
    (tmp / "a_file").write_text("x\n")
    (tmp / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp / "model.txt").write_text("def f(x):\n    return x\n")
    return {"file": str(tmp / "a_file"), "broken": f"{tmp / 'broken.py'}:f",
            "txt": f"{tmp / 'model.txt'}:f"}


COMMANDS = [
    (["build", MODEL, "--out", "{file}"], "exists and is not a directory"),
    (["build", MODEL, "--out", "{file}/sub"], "cannot create the directory"),
    (["build", MODEL, "--mode", "", "--out", "o"], "names no program"),
    (["build", MODEL, "--mode", "primal,primal", "--out", "o"], "'primal' twice"),
    (["build", "{broken}", "--out", "o"], "RuntimeError: boom"),
    (["build", "{txt}", "--out", "o"], "not a Python file"),
    (["build", "missing.py:f", "--out", "o"], "no such file"),
    (["build", f"{HERE / 'models.py'}:nope", "--out", "o"], "no function named 'nope'"),
    (["build", MODEL, "--signature", "f64[:, f64", "--out", "o"], "'[' is never closed"),
    (["build", MODEL, "--cpu", "bogus", "--out", "o"], "--cpu 'bogus'"),
    (["build", MODEL], "required: --out"),
]


@pytest.mark.parametrize("argv,words", COMMANDS, ids=[" ".join(c[0][2:]) or c[0][1]
                                                      for c in COMMANDS])
def test_misuse_is_one_error_and_exit_2(argv, words, tmp_path):
    files = _files(tmp_path)
    proc = _adcompile(*[a.format(**files) for a in argv], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "LLVM ERROR" not in proc.stderr, proc.stderr
    assert "not a recognized processor" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert "error:" in first and words in first, proc.stderr
    assert proc.stdout == ""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="an x86-64 CPU name")
def test_a_known_cpu_builds(tmp_path):
    proc = _adcompile("build", MODEL, "--mode", "primal", "--cpu", "x86-64", "--out", "o",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "libspring.so").exists()


def test_a_lambda_builds_under_its_target_name(tmp_path):
    """A module-level `f = lambda x: ...` is named by FUNC (its own name, '<lambda>', is not
    a C identifier)."""
    (tmp_path / "lam.py").write_text("f = lambda x: x * x\n")
    proc = _adcompile("build", f"{tmp_path / 'lam.py'}:f", "--signature", "f64", "--mode",
                      "grad", "--out", "o", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "libf.so").exists() and (tmp_path / "o" / "f.h").exists()
