"""The LLVM backend's loops vectorise where the issue-12 passes make them able to: bounds-check
versioning (transforms/bounds.py) in the primal and both sweeps, split adjoint scatter-adds
(transforms/split_sums.py), reassociable adjoint sums (ad/reverse/loops.py `mark_sums`).

Read off LLVM's optimised module (a vectorised loop has a `vector.body` block), compiled in a
fresh cache folder so the optimiser runs."""
from __future__ import annotations

import math
import re
import weakref

import numpy as np
import pytest

import adcompile
from adcompile.backends import llvm_backend
from adcompile.driver import compile as compile_driver

from ..stencils import heat


def packed_lower(icf, c, k):
    # GMM's strictly-lower triangle of Q_k, packed column by column (ADBench)
    d = c.shape[0]
    y = np.zeros(d)
    idx = d
    for col in range(d):
        for row in range(col + 1, d):
            y[row] += icf[k, idx] * c[col]
            idx += 1
    s = 0.0
    for j in range(d):
        s += math.sin(y[j])
    return s


@pytest.fixture
def optimised(monkeypatch, tmp_path):
    monkeypatch.setenv("ADCOMPILE_CACHE_DIR", str(tmp_path))
    # programs another test of this worker built stay in the process: without this, the
    # optimiser would not run again and the module read would be another one
    monkeypatch.setattr(compile_driver, "BUILT", weakref.WeakKeyDictionary())
    seen: list[str] = []
    real = llvm_backend.optimize

    def spy(module, cpu="host"):
        mod, tm = real(module, cpu)
        seen.append(str(mod))
        return mod, tm
    monkeypatch.setattr(llvm_backend, "optimize", spy)
    return seen


def _vector_loops(text: str) -> int:
    return len(re.findall(r"^vector\.body\d*:", text, re.M))


def test_heat_primal_and_both_sweeps_vectorise(optimised):
    n, steps = 16, 3
    u0, data = np.linspace(0.0, 1.0, n) ** 2, np.ones(n)
    want = heat(u0, 0.2, data, steps)
    assert adcompile.jit(heat, backend="llvm")(u0, 0.2, data, steps) == pytest.approx(want)
    primal = optimised[-1]
    assert _vector_loops(primal) >= 1          # the stencil (and the copy) without checks
    g = adcompile.grad(heat, argnums=(0, 1), backend="llvm")(u0, 0.2, data, steps)
    eps = 1e-6
    fd = (heat(u0, 0.2 + eps, data, steps) - heat(u0, 0.2 - eps, data, steps)) / (2 * eps)
    assert g[1] == pytest.approx(fd, rel=1e-7)
    grad = optimised[-1]
    # forward stencil with its tape push, the loss's adjoint, the stencil adjoint's three
    # split scatter-adds and what stays of it (the alpha_bar sum, reassociated)
    assert _vector_loops(grad) >= 6, _vector_loops(grad)


def test_packed_triangle_vectorises(optimised):
    d = 9
    icf = np.linspace(-1.0, 1.0, 2 * (d + d * (d - 1) // 2)).reshape(2, -1)
    c = np.cos(np.arange(d))
    assert adcompile.jit(packed_lower, backend="llvm")(icf, c, 1) == \
        pytest.approx(packed_lower(icf, c, 1), rel=1e-14)
    assert _vector_loops(optimised[-1]) >= 1
