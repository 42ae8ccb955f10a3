"""Forward mode writes tangent arrays in place: an element write or `+=` update of an array in a
loop costs O(lanes) in its tangent, never a copy of the whole (n, lanes) tangent array, and a
scalar carried by a loop (`s += ...`) keeps its tangent lanes in one vector, not a fresh one
per trip.

Checked three ways, on both backends: structurally (no `copy` inside a loop of the backend
IR, and no allocation in a loop bigger than a vector of lanes: deterministic), by values
(central differences and an independent path: one-lane jvps per direction, the Python
hessian's hvp columns), and by a loose timing ratio (a quadratic program is 16x slower per row
at 32,000 rows than at 2,000; the bound allows 4x noise on a loaded machine). The structural
check runs first, so a regression fails before the slow timing would.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import adcompile as ad
from adcompile.api import resolve_options
from adcompile.derivatives import specialize
from adcompile.driver.transforms import HVP, JVP
from adcompile.ir.primitives import has
from adcompile.ir.traits import Trait
from adcompile.ir.types import ArrayType

from ._util import fd_gradient, fd_jacobian

BACKENDS = ["numba", "llvm"]


def relax(u, p):
    n = u.shape[0]
    for s in range(5):
        for i in range(n):
            u[i] += 0.1 * (p[0] - u[i] ** 2) + 0.05 * p[1] * u[i]
    return u


def resid(x):
    n = x.shape[0]
    r = np.zeros((n, 2))
    for i in range(n):
        r[i, 0] += x[i, 0] * x[i, 1]
        r[i, 1] += np.sin(x[i, 2]) - x[i, 0] * x[i, 2]
    return r


def resid_p(x, c):
    n = x.shape[0]
    r = np.zeros((n, 2))
    for i in range(n):
        r[i, 0] += c[0] * x[i, 0] * x[i, 1]
        r[i, 1] += np.sin(c[1] * x[i, 2]) - x[i, 0]
        r[i, 0] += c[1] * r[i, 1]
    return r


def accumulate(x, p):
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += x[i] * p[0] + p[1] * s * 0.001
    return s


def chain_loss(x):
    n = x.shape[0]
    u = np.zeros(n)
    for i in range(n):
        u[i] += x[i] * x[i]
        if i > 0:
            u[i] += np.sin(x[i - 1]) * u[i - 1]
    s = 0.0
    for i in range(n):
        s += u[i] * x[i]
    return s


HESSIAN = ad.hessian(chain_loss)


def hessian_in_program(x):
    return HESSIAN(x)


# -- structure ------------------------------------------------------------------------------
def in_loops(fn) -> tuple[list[str], list[int]]:
    """The arrays copied inside loops, and the ndims of arrays allocated inside loops."""
    copies: list[str] = []
    allocs: list[int] = []

    def walk(block, depth):
        for op in block.ops:
            if depth and op.prim == "copy":
                copies.append(f"copy({op.operands[0].name}: {op.operands[0].type})")
            elif depth and has(op, Trait.ALLOCATES) and isinstance(op.results[0].type,
                                                                  ArrayType):
                allocs.append(op.results[0].type.ndim)
            for r in op.regions:
                walk(r, depth + (op.prim in ("for", "while")))
    walk(fn.body, 0)
    return copies, allocs


def assert_no_copy_in_loops(fn, lane_vectors_ok: bool = False) -> None:
    copies, allocs = in_loops(fn)
    assert copies == [], f"{fn.name}: arrays copied inside loops: {copies}"
    if lane_vectors_ok:   # taped tangents of scalars: one vector of lanes per trip at most
        assert all(d == 1 for d in allocs), f"{fn.name}: allocations in loops of ndims {allocs}"
    else:
        assert allocs == [], f"{fn.name}: arrays allocated inside loops (ndims {allocs})"


@pytest.mark.parametrize("backend", BACKENDS)
def test_tangent_writes_in_loops_copy_nothing(backend):
    o = resolve_options(backend, None)
    u, p = np.linspace(0.0, 1.0, 9), np.array([0.5, 0.2])
    x, c = np.random.default_rng(0).uniform(0.5, 1.5, (7, 3)), np.array([0.7, 1.3])
    v = np.linspace(0.1, 0.9, 6)
    for f, args, t in ((relax, (u, p), JVP((False, True), lanes=True)),
                       (relax, (u, p), JVP((True, True))),
                       (resid, (x,), JVP((True,), lanes=True, seed_rows=True)),
                       (resid, (x,), JVP((True,), lanes=True)),
                       (resid, (x,), JVP((True,))),
                       (resid_p, (x, c), JVP((False, True), lanes=True)),
                       (accumulate, (u, p), JVP((False, True), lanes=True))):
        assert_no_copy_in_loops(specialize(f, args, t, o).ir["backend"])
    assert_no_copy_in_loops(specialize(chain_loss, (v,), HVP((True,)), o).ir["backend"], True)
    h = ad.jit(hessian_in_program, backend=backend)
    h(v)
    assert_no_copy_in_loops(h._last.ir["backend"], True)
    if backend == "numba":       # what the user reads: no .copy() under the loops
        J = ad.jacfwd(relax, argnums=1, backend=backend)
        J(u, p)
        lines = J.source.splitlines()
        first = next(k for k, s in enumerate(lines) if s.lstrip().startswith("for "))
        indent = len(lines[first]) - len(lines[first].lstrip())
        inside = [s for s in lines[first + 1:] if len(s) - len(s.lstrip()) > indent]
        assert not any(".copy()" in s for s in inside), J.source


# -- values ---------------------------------------------------------------------------------
def unit(k: int, j: int) -> np.ndarray:
    e = np.zeros(k)
    e[j] = 1.0
    return e


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacfwd_of_element_updates_matches_jvps_and_differences(backend):
    u, p = np.linspace(0.0, 1.0, 9), np.array([0.5, 0.2])
    x, c = np.random.default_rng(1).uniform(0.5, 1.5, (7, 3)), np.array([0.7, 1.3])
    for f, args in ((relax, (u, p)), (resid_p, (x, c)), (accumulate, (u, p))):
        J = ad.jacfwd(f, argnums=1, backend=backend)(*[a.copy() for a in args])
        cols = [ad.jvp(f, tuple(a.copy() for a in args), (None, unit(2, j)),
                       backend=backend)[1] for j in range(2)]
        np.testing.assert_allclose(J, np.stack(cols, axis=-1), rtol=1e-13, atol=1e-15)
        fd = fd_jacobian(lambda *a: f(*[b.copy() for b in a]), args, 1)[0]
        np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacfwd_rows_of_accumulated_residual_matches_jvps_and_differences(backend):
    x = np.random.default_rng(2).uniform(0.5, 1.5, (6, 3))
    J = ad.jacfwd_rows(resid, backend=backend)(x)             # (6, 2, 3)
    for j in range(3):
        t = np.zeros_like(x)
        t[:, j] = 1.0           # rows are independent: column j of every row's Jacobian
        np.testing.assert_allclose(J[:, :, j], ad.jvp(resid, (x,), (t,), backend=backend)[1],
                                   rtol=1e-13, atol=1e-15)
    full = fd_jacobian(resid, (x,), 0)[0]                      # (6, 2, 6, 3)
    for i in range(6):
        np.testing.assert_allclose(J[i], full[i, :, i, :], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_element_updates_matches_hvps_and_differences(backend):
    v = np.linspace(0.1, 0.9, 6)
    H = ad.jit(hessian_in_program, backend=backend)(v)        # jacfwd(grad) in one program
    by_hvp = ad.hessian(chain_loss, backend=backend)(v)        # Python: one hvp per column
    np.testing.assert_allclose(H, by_hvp, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-14)
    g = ad.grad(chain_loss, backend=backend)
    fd = np.stack([fd_gradient(lambda y: g(y)[k], (v,), 0) for k in range(6)])
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)


# -- scaling --------------------------------------------------------------------------------
SMALL, LARGE = 2000, 32000
LINEAR = LARGE / SMALL
SLACK = 4.0             # timing noise allowed on a loaded 2-core machine


def best_of(call, batches: int = 7, batch_s: float = 0.01) -> float:
    call()
    t0 = time.perf_counter()
    call()
    reps = max(1, int(batch_s / max(time.perf_counter() - t0, 1e-7)))
    best = float("inf")
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(reps):
            call()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


@pytest.mark.parametrize("backend", BACKENDS)
def test_vector_forward_of_accumulated_residuals_scales_linearly(backend):
    o = resolve_options(backend, None)
    rng = np.random.default_rng(3)
    xs = {n: rng.uniform(0.5, 1.5, (n, 3)) for n in (SMALL, LARGE)}
    c = np.array([0.7, 1.3])
    rows = ad.jacfwd_rows(resid, backend=backend)
    jac = ad.jacfwd(resid_p, argnums=1, backend=backend)
    # the structure first: a copy per write would make the large size take minutes
    assert_no_copy_in_loops(specialize(resid, (xs[SMALL],), JVP((True,), lanes=True,
                                                                seed_rows=True), o).ir["backend"])
    assert_no_copy_in_loops(specialize(resid_p, (xs[SMALL], c), JVP((False, True), lanes=True),
                                       o).ir["backend"])
    for what, call in (("jacfwd_rows", lambda n: rows(xs[n])),
                       ("jacfwd", lambda n: jac(xs[n], c))):
        small = min(best_of(lambda: call(SMALL)) for _ in range(2))
        large = min(best_of(lambda: call(LARGE), batches=5) for _ in range(2))
        assert large / small < LINEAR * SLACK, \
            f"{what} ({backend}): t({LARGE}) / t({SMALL}) = {large / small:.1f}, linear is " \
            f"{LINEAR:.0f}: {small * 1e3:.3f} ms -> {large * 1e3:.3f} ms"
