"""Memory is sized without wrapping: an array or tape whose byte count does not fit in 64
bits is an allocation error, never a short block that later writes overrun (np.zeros((n, n))
with n = 2**32 allocated 0 bytes on LLVM and crashed; nested loops of 2**32 trips each
reserved a tape of 0 entries). Each case runs in a subprocess: a regression is a failed
test, not a dead test session."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import adcompile as ad
    from adcompile.driver.options import CompileOptions

    def square(n):
        a = np.zeros((n, n))
        return a[0, 0] + 1.0

    def cube(n, m):
        a = np.ones((n, n, m))
        return a[0, 0, 0]

    def nested(x, n):
        s = 0.0
        for i in range(n):
            for j in range(n):
                s = s + np.sin(x[0] * s)
        return s

    backend = sys.argv[1]
    opts = CompileOptions(backend=backend, tape_limit=None)   # no budget: the tape itself
    runs = [("square", lambda: ad.jit(square, backend=backend)(2**32)),
            ("square31", lambda: ad.jit(square, backend=backend)(2**31)),
            ("cube", lambda: ad.jit(cube, backend=backend)(2**21, 2**21)),
            ("tape", lambda: ad.grad(nested, options=opts)(np.ones(2), 2**32)),
            ("small", lambda: ad.jit(square, backend=backend)(3))]
    for name, run in runs:
        try:
            print(name, "value", run(), flush=True)
        except Exception as e:
            kinds = [c.__name__ for c in type(e).__mro__]
            print(name, "raised", ",".join(kinds), str(e).splitlines()[0], flush=True)
""")


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_sizes_that_overflow_are_allocation_errors(backend, tmp_path):
    script = tmp_path / "sizes.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), backend], capture_output=True,
                          text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = {line.split(" ", 1)[0]: line.split(" ", 3)[1:] for line in proc.stdout.splitlines()}
    assert got["small"][:2] == ["value", "1.0"]
    for name in ("square", "square31", "cube", "tape"):
        kind, classes, msg = got[name]
        assert kind == "raised", (name, got[name])
        if backend == "llvm":   # an adcompile error that is a MemoryError
            assert "KernelMemoryError" in classes and "MemoryError" in classes, got[name]
            assert "too big" in msg or "too large" in msg, got[name]
        else:                   # numba raises what NumPy raises
            assert "ValueError" in classes or "MemoryError" in classes, got[name]
