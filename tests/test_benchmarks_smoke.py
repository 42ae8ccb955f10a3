"""The benchmark objectives compute what their NumPy references (and JAX peers) compute.

bench_ad.py times adcompile's derivatives of loop-style objectives against JAX peers written
differently (vectorised, lax.scan); a wrong objective or peer would make its ratios meaningless.
These checks run the loop code in CPython at tiny sizes (no compilation, no timing).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples"))

import adbench_objectives as abo  # noqa: E402
import bench_ad  # noqa: E402


def test_lstm_loops_match_vectorised_reference():
    args = abo.lstm_inputs(2, 9, seed=5)
    assert abo.lstm_objective(*args) == pytest.approx(abo.lstm_np(*args), rel=1e-13)


def test_lstm_one_step_by_hand():
    """One layer, one step: the loss written out from ADBench's formulas (gates, the '+2' in
    the log-sum-exp), independently of both implementations."""
    main, extra, state, seq = abo.lstm_inputs(1, 2, b=3, seed=2)
    b = 3
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    x = seq[0] * extra[0]
    h, s = state[0], state[1]
    W, B = main[0], main[1]
    f, i = sig(x * W[:b] + B[:b]), sig(h * W[b:2 * b] + B[b:2 * b])
    o, g = sig(x * W[2 * b:3 * b] + B[2 * b:3 * b]), np.tanh(h * W[3 * b:] + B[3 * b:])
    hn = o * np.tanh(s * f + i * g)
    y = hn * extra[1] + extra[2]
    want = -np.sum(seq[1] * (y - math.log(2.0 + np.sum(np.exp(y))))) / b
    assert abo.lstm_objective(main, extra, state, seq) == pytest.approx(want, rel=1e-13)


def test_ba_loops_match_vectorised_reference():
    P, F = abo.ba_inputs(40, seed=1)
    np.testing.assert_allclose(abo.ba_residuals(P, F), abo.ba_np(P, F), rtol=1e-12)


def test_ba_rotation_branches():
    """A zero rotation takes the first-order branch (X - C unrotated); a tiny one goes
    through Rodrigues and must agree with it to first order."""
    P, F = abo.ba_inputs(2, seed=2)
    P[0, 0:3] = 0.0
    P[1, 0:3] = [1e-7, -2e-7, 3e-7]
    r = abo.ba_residuals(P, F)
    q = P[0, 11:14] - P[0, 3:6]
    uv = q[:2] / q[2]
    rsq = uv @ uv
    proj = uv * (1 + P[0, 9] * rsq + P[0, 10] * rsq ** 2) * P[0, 6] + P[0, 7:9]
    np.testing.assert_allclose(r[0], np.r_[P[0, 14] * (proj - F[0]), 1 - P[0, 14] ** 2],
                               rtol=1e-13)
    Q = P[1:2].copy()
    Q[0, 0:3] = 0.0
    np.testing.assert_allclose(r[1], abo.ba_residuals(Q, F[1:2])[0], rtol=1e-4)


def test_lanes_functions_match_references():
    rng = np.random.default_rng(0)
    p = 0.1 + 0.2 * rng.uniform(size=3)
    u0 = rng.normal(size=31)
    assert abo.heat_pieces(p, u0, 7) == pytest.approx(abo.heat_pieces_np(p, u0, 7), rel=1e-13)
    t = np.linspace(0.0, 3.0, 17)
    q = rng.normal(size=4)
    np.testing.assert_allclose(abo.fit_residual(q, t, np.sin(t)),
                               abo.fit_residual_np(q, t, np.sin(t)), rtol=1e-12, atol=1e-15)


def test_gmm_and_heat_loss_match_references():
    args = bench_ad.gmm_args(3, 4, 6)
    assert bench_ad.gmm_objective(*args) == pytest.approx(bench_ad.gmm_np(*args), rel=1e-12)
    hargs = bench_ad.heat_readme_args(40, 9)
    assert bench_ad.heat_stencil.loss(*hargs) == pytest.approx(bench_ad.heat_loss_np(*hargs),
                                                              rel=1e-12)


def test_jax_peers_match_references():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    args = abo.lstm_inputs(2, 6, seed=1)
    vg, jargs = abo.jax_lstm(args)
    assert float(vg(*jargs)[0]) == pytest.approx(abo.lstm_np(*args), rel=1e-12)
    hargs = bench_ad.heat_readme_args(30, 5)
    vg, jargs = abo.jax_heat_loss(hargs)
    assert float(vg(*jargs)[0]) == pytest.approx(bench_ad.heat_loss_np(*hargs), rel=1e-12)
    P, F = abo.ba_inputs(5, seed=3)
    J = np.asarray(abo.jax_ba_jacobian()(P, F))
    assert J.shape == (5, 3, abo.BA_WIDTH)
    # the weight residual 1 - w^2 depends only on w: its row is (0, ..., 0, -2w)
    np.testing.assert_array_equal(J[:, 2, :-1], 0.0)
    np.testing.assert_allclose(J[:, 2, -1], -2.0 * P[:, 14], rtol=1e-15)


def test_the_benchmark_checks_can_fail():
    """The FD check passes an exact gradient and rejects one wrong entry; the cross-tool
    comparison rejects a 1e-7 relative difference (plain Python, nothing compiled)."""
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=12)
    exact = np.zeros_like(x)
    exact[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    exact[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    w = bench_ad.Workload("r", "r", bench_ad.rosenbrock, (x,), (0,), bench_ad.rosenbrock_np)
    ref = bench_ad.fd_reference(w, bench_ad.rosenbrock, np.random.default_rng(1))
    assert bench_ad.fd_error(w, ref, (exact,)) <= bench_ad.FD_TOL
    wrong = exact.copy()
    wrong[-1] *= 1.001          # the last entry is always among the checked components
    assert bench_ad.fd_error(w, ref, (wrong,)) > bench_ad.FD_TOL
    assert bench_ad.max_rel_diff((exact,), (exact.copy(),)) == 0.0
    assert bench_ad.max_rel_diff((exact,), (exact * (1 + 1e-7),)) > bench_ad.CROSS_TOL
