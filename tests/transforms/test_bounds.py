"""Bounds-check versioning (transforms/bounds.py): the fast copy of a loop runs only when every
access it marks `inbounds` is in range, so results and errors are those of the checked loop."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import adcompile

BACKENDS = ("numba", "llvm")


def stencil(u, a):
    n = u.shape[0]
    out = np.zeros(n)
    for i in range(1, n - 1):
        out[i] = u[i] + a * (u[i - 1] - 2.0 * u[i] + u[i + 1])
    return out


def wraps(u, k):
    # u[i - k] is negative for i < k: Python counts it from the end
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i - k] * (i + 1)
    return s


def past_end(u, m):
    s = 0.0
    for i in range(m):
        s += u[i + 1]
    return s


def reverse_steps(u):
    s = 0.0
    for i in range(u.shape[0] - 1, 0, -2):
        s = s * 0.5 + u[i] * u[i - 1]
    return s


def rows(a, j0):
    m, n = a.shape
    s = 0.0
    for i in range(m):
        for j in range(j0, n):
            s += a[i, j] * a[i, j - j0]
    return s


def leaves_early(u, m):
    # the access past the end sits behind a condition that never holds
    s = 0.0
    for i in range(m):
        if i < u.shape[0]:
            s += u[i]
        else:
            s += u[i + 100] if s < -1.0 else 0.0
    return s


def realloc(u, n):
    v = np.zeros(3)
    s = 0.0
    for i in range(n):
        v = np.zeros(i + 1)      # a new extent every trip: not versioned
        v[i] = u[i % u.shape[0]]
        s += v[i]
    return s


CASES = [
    (stencil, lambda: (np.linspace(0.0, 1.0, 9) ** 2, 0.3)),
    (stencil, lambda: (np.ones(2), 0.3)),             # empty range
    (wraps, lambda: (np.arange(6.0), 2)),
    (wraps, lambda: (np.arange(6.0), 0)),
    (past_end, lambda: (np.arange(6.0), 5)),
    (reverse_steps, lambda: (np.arange(7.0),)),
    (reverse_steps, lambda: (np.arange(1.0),)),
    (rows, lambda: (np.arange(12.0).reshape(3, 4), 1)),
    (rows, lambda: (np.arange(12.0).reshape(3, 4), 0)),
    (leaves_early, lambda: (np.arange(4.0), 7)),
    (realloc, lambda: (np.arange(4.0), 5)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,make", CASES, ids=[f"{c[0].__name__}{i}" for i, c in enumerate(CASES)])
def test_values_as_cpython(fn, make, backend):
    want = fn(*make())
    got = adcompile.jit(fn, backend=backend)(*make())
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_still_raises_at_its_line(backend):
    u = np.arange(6.0)
    assert adcompile.jit(past_end, backend=backend)(u, 5) == past_end(u, 5)
    with pytest.raises(IndexError) as e:
        adcompile.jit(past_end, backend=backend)(u, 6)
    if backend == "llvm":
        line = inspect.getsourcelines(past_end)[1] + 3      # `s += u[i + 1]`
        assert f"test_bounds.py:{line}:" in str(e.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_through_versioned_loops(backend):
    u = np.linspace(0.1, 1.0, 9)
    g = adcompile.grad(lambda_free_loss, backend=backend)(u, 0.2)
    eps = 1e-6
    fd = np.array([(lambda_free_loss(u + eps * e, 0.2) - lambda_free_loss(u - eps * e, 0.2))
                   / (2 * eps) for e in np.eye(u.size)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    # forward mode along a random direction: the dot-product test against the gradient
    v = np.cos(np.arange(u.size))
    _, jv = adcompile.jvp(lambda_free_loss, (u, 0.2), (v, 0.0), backend=backend)
    assert jv == pytest.approx(float(g @ v), rel=1e-12)


def lambda_free_loss(u, a):
    for _ in range(3):
        u = stencil(u, a)
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * u[i] * (i + 1)
    return s


def test_fast_copy_marks_only_proven_accesses():
    text = adcompile.show_ir(stencil, np.ones(5), 0.3, stage="backend")
    assert "in_range" in text
    fast = text.split("in_range) {", 1)[1].split("} {", 1)[0]
    assert fast.count("getitem(") == 3 and fast.count("{inbounds=True}") == 4
    # not versioned: a carried array given a new extent on every trip
    text = adcompile.show_ir(realloc, np.ones(5), 3, stage="backend")
    assert "in_range" not in text
