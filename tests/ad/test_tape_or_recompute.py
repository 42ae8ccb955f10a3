"""Tape or recompute (ad/reverse/context.py `_cheap`): small float expressions on read-only
data are recomputed in the adjoint instead of taped; what must be taped still is.

Each case checks the gradient against central differences and, independently, the dot-product
test against forward mode, and counts the tape pushes in the generated code."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile


def energy(u, k):
    e = 0.0
    for i in range(u.shape[0] - 1):
        d = u[i + 1] - u[i]
        e += 0.5 * k * d * d + np.cos(u[i])
    return e


def deep(u, k):
    # three levels of float ops: the innermost (`a`) is recomputed, `c * c` keeps a tape
    e = 0.0
    for i in range(u.shape[0] - 1):
        a = u[i + 1] - u[i]
        b = k * a + 1.0
        c = b * a - k
        e += np.sin(c * c)
    return e


def carried(u, k):
    # the adjoint needs each trip's s, which the next trip overwrites: taped
    s = 1.0
    for i in range(u.shape[0]):
        s = s * u[i] * k + 1.0
    return s


CASES = [(energy, 0), (deep, None), (carried, None)]


def _pushes(source: str) -> int:
    return sum("_tape[" in line and "] = " in line for line in source.splitlines())


@pytest.mark.parametrize("fn,pushes", CASES, ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_gradient_and_tapes(fn, pushes, backend):
    rng = np.random.default_rng(3)
    u, k = rng.random(9), 1.7
    g = adcompile.grad(fn, argnums=(0, 1), backend=backend)
    gu, gk = g(u, k)
    eps = 1e-6
    fd_k = (fn(u, k + eps) - fn(u, k - eps)) / (2 * eps)
    fd_u = np.array([(fn(u + eps * e, k) - fn(u - eps * e, k)) / (2 * eps)
                     for e in np.eye(u.size)])
    np.testing.assert_allclose(gu, fd_u, rtol=1e-6, atol=1e-8)
    assert gk == pytest.approx(fd_k, rel=1e-6)
    v = rng.normal(size=u.size)
    _, jv = adcompile.jvp(fn, (u, k), (v, 0.3), backend=backend)
    assert jv == pytest.approx(float(gu @ v) + 0.3 * gk, rel=1e-12)
    if backend == "numba":
        n = _pushes(g.source)
        if pushes is not None:
            assert n == pushes, g.source
        else:
            assert n >= 1, g.source
