"""adcompile.solvers: convergence to known solutions and agreement with scipy."""
import numpy as np
import pytest

pytest.importorskip("scipy")
from scipy.optimize import least_squares as scipy_lsq  # noqa: E402

import adcompile  # noqa: E402
from adcompile.solvers import gauss_newton, least_squares, levenberg_marquardt  # noqa: E402


def rosenbrock(x):
    r = np.empty(2 * (x.shape[0] - 1))
    for i in range(x.shape[0] - 1):
        r[2 * i] = 10.0 * (x[i + 1] - x[i] * x[i])
        r[2 * i + 1] = 1.0 - x[i]
    return r


def expfit(p, t, y):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


@pytest.mark.parametrize("jac", ["dense", "sparse", "matrix-free"])
def test_rosenbrock(jac):
    x0 = np.full(6, -1.2)
    res = levenberg_marquardt(rosenbrock, x0, jac=jac)
    assert res.success and res.cost < 1e-20
    np.testing.assert_allclose(res.x, 1.0, atol=1e-8)


def test_expfit_gn_agrees_with_scipy():
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(7 * t)
    p0 = np.array([1.0, 1.0, 0.0])
    res = gauss_newton(expfit, p0, args=(t, y))
    ref = scipy_lsq(lambda p: expfit(p, t, y), p0, method="lm", xtol=1e-14, ftol=1e-14)
    assert res.success
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-8)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-6)
    lm = levenberg_marquardt(expfit, p0, args=(t, y))
    np.testing.assert_allclose(lm.cost, ref.cost, rtol=1e-8)


def test_singular_reports_status():
    def degenerate(x):
        r = np.empty(2)
        r[0] = (x[0] + x[1]) - 1.0
        r[1] = 2.0 * (x[0] + x[1]) + 1.0
        return r
    res = least_squares(degenerate, np.zeros(2), jac="dense", method="gn")
    assert res.status in (-1, 1, 2, 3) and np.isfinite(res.cost)
    # min over s = x0 + x1 of (s - 1)^2 + (2s + 1)^2: s = -0.2, residuals (-1.2, 0.6)
    np.testing.assert_allclose(res.cost, 0.9, rtol=1e-8)
    np.testing.assert_allclose(res.x.sum(), -0.2, rtol=1e-6)


def test_bad_input():
    with pytest.raises(adcompile.AdError, match="1-d"):
        least_squares(rosenbrock, np.ones((2, 3)))
    with pytest.raises(adcompile.AdError, match="not finite"):
        least_squares(expfit, np.array([1.0, 1.0, 0.0]),
                      args=(np.array([0.0, 1.0]), np.array([np.nan, 1.0])))

    def scalar(x):
        return x[0] * x[0] + x[1]
    with pytest.raises(adcompile.AdError, match="1-d array"):
        least_squares(scalar, np.ones(2))


def test_noise_free_ba_sparse_lm():
    from .ba_problem import ba_case, ba_flat
    x, oc, op, _, ncam, npt = ba_case(3, 12, 60, seed=5)
    x[ncam * 11 + npt * 3:] = 1.0   # weights at their optimum
    feats = ba_flat(x, oc, op, np.zeros((oc.size, 2)), ncam, npt)[:2 * oc.size].reshape(-1, 2)
    rng = np.random.default_rng(1)
    x0 = x.copy()
    x0[ncam * 11:ncam * 11 + npt * 3] += rng.normal(scale=1e-2, size=npt * 3)   # points
    args = (oc, op, feats, ncam, npt)
    res = levenberg_marquardt(ba_flat, x0, args=args, jac="sparse")
    assert 0.5 * np.sum(ba_flat(x0, *args) ** 2) > 1.0
    assert res.success and res.cost < 1e-12, res.message
    assert res.jac.shape == (3 * oc.size, x.size) and res.nit < 50


@pytest.mark.parametrize("loss", ["huber", "soft_l1", "cauchy", "arctan"])
def test_robust_losses_agree_with_scipy(loss):
    """A decay fit with 10% gross outliers: the robust fits reach scipy's cost and
    parameters (scipy's definitions of rho and f_scale), and stay near the truth where the
    linear loss is pulled away."""
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 4.0, 80)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * rng.normal(size=t.size)
    y[::10] += 3.0
    p0 = np.array([1.0, 1.0, 0.0])
    res = least_squares(expfit, p0, args=(t, y), loss=loss, f_scale=0.1, jac="dense")
    ref = scipy_lsq(lambda p: expfit(p, t, y), p0, loss=loss, f_scale=0.1, ftol=1e-15,
                    xtol=1e-15, gtol=1e-15)
    assert res.success
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-10)
    np.testing.assert_allclose(res.x, ref.x, atol=1e-6)
    np.testing.assert_allclose(res.grad, ref.grad, atol=1e-6)
    plain = least_squares(expfit, p0, args=(t, y), jac="dense")
    truth = np.array([2.5, 1.3, 0.5])
    assert np.abs(res.x - truth).max() < 0.5 * np.abs(plain.x - truth).max()


def test_unknown_loss_is_an_error():
    with pytest.raises(adcompile.AdError, match="unknown loss 'l1'"):
        least_squares(rosenbrock, np.zeros(3), loss="l1")


@pytest.mark.parametrize("method", ["lm", "gn"])
def test_tiny_tolerances_stop_at_the_optimum(method):
    """At a converged point rounding rejects every step; the ftol test on the predicted
    reduction (MINPACK's) must end the fit there with success, not let the damping grow to
    status -1 (which "lm" reported here before)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * rng.standard_normal(t.size)
    p0 = np.array([1.0, 1.0, 0.0])
    res = least_squares(expfit, p0, args=(t, y), method=method, jac="dense", ftol=1e-15,
                        xtol=1e-15, gtol=1e-15)
    ref = scipy_lsq(lambda p: expfit(p, t, y), p0, method="lm", xtol=1e-15, ftol=1e-15,
                    gtol=1e-15)
    assert res.success and res.status in (2, 3), res.message
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-12)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-7)
    assert res.nfev < 100


def test_zero_tolerances_still_stop():
    """ftol = gtol = 0 leaves the step test: a rejected step within xtol ends the fit."""
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(7 * t)
    res = least_squares(expfit, np.array([1.0, 1.0, 0.0]), args=(t, y), jac="dense",
                        ftol=0.0, gtol=0.0, xtol=1e-15)
    assert res.status == 3 and res.success, res.message


def test_block_elimination_found_from_the_pattern_and_exact():
    """A BAL-shaped pattern (9 camera columns, 3 point columns per observation): the
    elimination takes every point as a 3x3 block and keeps the cameras; the Schur solve of
    damped normal equations with random values equals a dense solve. A pattern without
    such blocks (every column in every row) has none."""
    import scipy.sparse as sps

    from adcompile.solvers import _BlockElimination
    rng = np.random.default_rng(2)
    ncam, npt = 4, 30
    oc = np.concatenate([np.arange(npt) % ncam, (np.arange(npt) + 1) % ncam])
    op = np.concatenate([np.arange(npt), np.arange(npt)])
    cols = np.concatenate([oc[:, None] * 9 + np.arange(9),
                           ncam * 9 + op[:, None] * 3 + np.arange(3)], axis=1)
    rows = np.repeat(np.arange(2 * oc.size), 12)
    pat = sps.csr_matrix((np.ones(rows.size, bool), (rows, np.repeat(cols, 2, axis=0).ravel())),
                         shape=(2 * oc.size, ncam * 9 + npt * 3))
    e = _BlockElimination.of(pat)
    assert e is not None and e.blocks.shape == (npt, 3)
    np.testing.assert_array_equal(e.keep, np.arange(ncam * 9))
    np.testing.assert_array_equal(np.sort(e.blocks, axis=1),
                                  ncam * 9 + np.arange(npt * 3).reshape(npt, 3))
    J = pat.astype(float)
    J.data = rng.normal(size=J.nnz)
    A = (J.T @ J).tocsc()
    M = A + 1e-3 * sps.diags(A.diagonal())
    b = rng.normal(size=M.shape[0])
    np.testing.assert_allclose(e.solve(M, b), np.linalg.solve(M.toarray(), b), rtol=1e-9,
                               atol=1e-12)
    assert _BlockElimination.of(np.ones((5, 4), dtype=bool)) is None


def test_matrix_free_agrees_with_scipy_and_exposes_the_operator():
    """jac="matrix-free": J v and J^T u from compiled jvp/vjp, CG steps; the fit reaches
    scipy's cost (also with a robust loss), and res.jac is J as a LinearOperator."""
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(7 * t)
    p0 = np.array([1.0, 1.0, 0.0])
    ref = scipy_lsq(lambda p: expfit(p, t, y), p0, method="lm", xtol=1e-14, ftol=1e-14)
    res = least_squares(expfit, p0, args=(t, y), jac="matrix-free")
    assert res.success
    np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-8)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-6)
    dense = adcompile.jacfwd(expfit)(res.x, t, y)
    v, u = np.array([0.3, -1.0, 2.0]), np.sin(t)
    np.testing.assert_allclose(res.jac @ v, dense @ v, rtol=1e-12)
    np.testing.assert_allclose(res.jac.T @ u, dense.T @ u, rtol=1e-12)
    robust = least_squares(expfit, p0, args=(t, y), jac="matrix-free", loss="cauchy",
                           f_scale=0.1)
    want = scipy_lsq(lambda p: expfit(p, t, y), p0, loss="cauchy", f_scale=0.1, ftol=1e-15,
                     xtol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(robust.cost, want.cost, rtol=1e-8)


def test_x_scale():
    """x_scale as scipy's: a fixed damping diag(1/x_scale**2) reaches the same optimum;
    bad scales are errors."""
    t = np.linspace(0.0, 4.0, 50)
    y = 2.5 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(7 * t)
    p0 = np.array([1.0, 1.0, 0.0])
    ref = least_squares(expfit, p0, args=(t, y), jac="dense")
    for jac in ("dense", "matrix-free"):
        res = least_squares(expfit, p0, args=(t, y), jac=jac, x_scale=np.array([1.0, 0.5, 1.0]))
        assert res.success
        np.testing.assert_allclose(res.cost, ref.cost, rtol=1e-8)
    with pytest.raises(adcompile.AdError, match="positive"):
        least_squares(expfit, p0, args=(t, y), x_scale=np.array([1.0, 0.0, 1.0]))
    with pytest.raises(adcompile.AdError, match="x_scale"):
        least_squares(expfit, p0, args=(t, y), x_scale="auto")
