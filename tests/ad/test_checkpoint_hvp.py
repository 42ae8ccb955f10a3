"""Higher-order derivatives (forward over reverse) of checkpointed loops.

The tangent sweep keeps its own tapes next to the reverse pass's; a snapshot pushed inside the
reverse sweep (the binomial schedule) is a `checked` push, and its tangent push must be too:
it was not, and `hvp` of a `binomial=` loop wrote past the tangent tape on LLVM (a segfault).
Every policy is checked against central finite differences of the store-all gradient; the
reproducer runs in a subprocess so a crash fails one test instead of the session.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adcompile as ad
from adcompile.checkpointing import parse_policy
from adcompile.driver.compile import build_ir
from adcompile.driver.transforms import HVP
from adcompile.signature import signature_of


def _plain(u0, k, n):
    u = u0.copy()
    for t in range(n):
        u[0] = u[0] + 0.01 * k * np.sin(u[1])
        u[1] = u[1] - 0.01 * u[0] * u[0]
    return np.sum(u * u) * k


def _binomial(u0, k, n):
    u = u0.copy()
    for t in ad.checkpointed(range(n), binomial=4):
        u[0] = u[0] + 0.01 * k * np.sin(u[1])
        u[1] = u[1] - 0.01 * u[0] * u[0]
    return np.sum(u * u) * k


def _copies(u0, k, n):
    """Array state carried by value: snapshots and their tangents are array tapes."""
    u = u0.copy()
    for t in ad.checkpointed(range(n), binomial=3):
        v = u.copy()
        v[0] = u[0] + 0.01 * k * np.sin(u[1])
        v[1] = u[1] - 0.01 * v[0] * v[0]
        u = v
    return np.sum(u * u) * k


def _reported(u0, k, n):
    u = u0.copy()
    for t in range(n):
        u[0] = u[0] + 0.01 * k * u[1]
        u[1] = u[1] - 0.01 * u[0]
    return np.sum(u * u)


U0, K, N = np.array([0.5, 0.3]), 2.0, 20
V = (np.array([0.3, -0.7]), 0.4)
POLICIES = [None, "store-all", "sqrt", ("every", 3), ("snapshots", 3), ("snapshots", 2, 2),
            ("binomial", 3), ("binomial", "100B")]
GRADS = {b: ad.grad(_plain, argnums=(0, 1), backend=b) for b in ("numba", "llvm")}


def _fd_hvp(backend):
    """Central differences of the store-all gradient along V."""
    eps = 1e-6
    gr = GRADS[backend]
    a = gr(U0 + eps * V[0], K + eps * V[1], N)
    b = gr(U0 - eps * V[0], K - eps * V[1], N)
    return (a[0] - b[0]) / (2 * eps), (a[1] - b[1]) / (2 * eps)


def _close(got, want):
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-7)
    assert got[1] == pytest.approx(want[1], rel=1e-6, abs=1e-7)


def test_hvp_policies_are_checkpointed():
    sig = signature_of(_plain, (U0, K, N))
    st = build_ir(_plain, sig, HVP((True, True, False), parse_policy(("binomial", 3))))
    assert any("revolve_snapshots" in op.attrs for op in st["hvp"].walk())


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_hvp_under_every_policy_matches_finite_differences(backend):
    want = _fd_hvp(backend)
    # every policy on LLVM; numba (compiles ~10x slower) runs the same IR through one
    # periodic and one binomial schedule
    policies = POLICIES if backend == "llvm" else [("every", 3), ("binomial", 3)]
    for pol in policies:
        (gu, gk), hv = ad.hvp(_plain, (U0, K, N), V + (None,), backend=backend, checkpoint=pol)
        _close(hv, want)
    for f in (_binomial, _copies) if backend == "llvm" else (_binomial,):
        _, hv = ad.hvp(f, (U0, K, N), V + (None,), backend=backend)
        _close(hv, want)


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_hessian_of_a_binomial_loop(backend):
    eps = 1e-6
    gr = GRADS[backend]
    want = np.array([(gr(U0 + eps * e, K, N)[0] - gr(U0 - eps * e, K, N)[0]) / (2 * eps)
                     for e in np.eye(2)]).T
    got = ad.hessian(_binomial, backend=backend)(U0, K, N)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    got = ad.hessian(_plain, backend=backend, checkpoint=("binomial", 2))(U0, K, N)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_reported_binomial_hvp_does_not_crash(tmp_path):
    """The issue's reproducer (it segfaulted): in a subprocess, so a crash is one failure."""
    code = textwrap.dedent("""
        import numpy as np, adcompile
        def g(u0, k, n):
            u = u0.copy()
            for t in adcompile.checkpointed(range(n), binomial=4):
                u[0] = u[0] + 0.01 * k * u[1]
                u[1] = u[1] - 0.01 * u[0]
            return np.sum(u * u)
        print(adcompile.hvp(g, (np.array([0.5, 0.3]), 2.0, 20), (None, 1.0, None),
                            backend="llvm")[1])
    """)
    script = tmp_path / "reported.py"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # d/dk of the gradient w.r.t. k, by central differences of that gradient
    gk = ad.grad(_reported, argnums=1, backend="llvm")
    eps = 1e-6
    fd = (gk(np.array([0.5, 0.3]), 2.0 + eps, 20) - gk(np.array([0.5, 0.3]), 2.0 - eps, 20)) \
        / (2 * eps)
    assert float(proc.stdout) == pytest.approx(fd, rel=1e-6)


def test_tape_reservations_hold_under_the_guard():
    """ADCOMPILE_CHECK_TAPES=1 checks every push and pop: the gradient and the Hessian-vector
    product under every policy stay within their tapes (and give the same numbers)."""
    from adcompile.driver.options import CompileOptions
    guarded = CompileOptions(backend="llvm", check_tapes=True)
    want = _fd_hvp("llvm")
    g0 = GRADS["llvm"](U0, K, N)
    for pol in POLICIES:
        _, hv = ad.hvp(_plain, (U0, K, N), V + (None,), checkpoint=pol, options=guarded)
        _close(hv, want)
        g = ad.grad(_plain, argnums=(0, 1), checkpoint=pol, options=guarded)(U0, K, N)
        _close(g, g0)
    for f in (_binomial, _copies):
        _, hv = ad.hvp(f, (U0, K, N), V + (None,), options=guarded)
        _close(hv, want)


def _while(x, a):
    s = x
    t = 0
    while t < 30:
        s = s + 0.05 * np.sin(a * s)
        t += 1
    return s * s


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_hvp_of_a_checkpointed_while_loop(backend):
    """Online segmentation: the snapshots are `checked` pushes under a `while`."""
    g = ad.grad(_while, argnums=0, backend=backend)
    eps = 1e-6
    fd = (g(0.7 + eps, 1.3) - g(0.7 - eps, 1.3)) / (2 * eps)
    for pol in ("sqrt", ("binomial", 2)):
        _, hx = ad.hvp(_while, (0.7, 1.3), (1.0, None), backend=backend, checkpoint=pol)
        assert hx == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_hvp_above_the_tape_limit_retries_checkpointed(backend):
    from adcompile.driver.options import CompileOptions
    small = CompileOptions(backend=backend, tape_limit=64)   # bytes: N steps tape more
    with pytest.warns(RuntimeWarning, match="binomial checkpointing"):
        _, hv = ad.hvp(_plain, (U0, K, N), V + (None,), options=small)
    _close(hv, _fd_hvp(backend))
