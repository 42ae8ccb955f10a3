"""adcompile.solvers.least_squares inside compiled code: a fit differentiable with respect to
its args (hyperparameters, data weights) through the optimality condition Jᵀr = 0."""
import numpy as np
import pytest

import adcompile
from adcompile.solvers import least_squares

RNG = np.random.default_rng(0)
T = np.linspace(0.0, 3.0, 20)
Y = 2.0 * np.exp(-1.3 * T) + 0.05 * RNG.normal(size=20)
TV = np.linspace(0.0, 3.0, 15)
YV = 2.0 * np.exp(-1.3 * TV)
W0 = np.array([1.0, 0.5])
TIGHT = dict(gtol=1e-14, ftol=1e-15, xtol=1e-15)


def weighted_res(w, t, y, lam, weights):
    n = t.shape[0]
    r = np.empty(n + 2)
    for i in range(n):
        r[i] = weights[i] * (w[0] * np.exp(-w[1] * t[i]) - y[i])
    r[n] = lam * w[0]
    r[n + 1] = lam * w[1]
    return r


def validation(lam, weights, t, y, tv, yv):
    fit = least_squares(weighted_res, np.array([1.0, 0.5]), args=(t, y, lam, weights))
    w = fit.x
    e = w[0] * np.exp(-w[1] * tv) - yv
    return np.sum(e * e) + 1e-3 * fit.cost


def validation_py(lam, weights):
    fit = least_squares(weighted_res, W0, args=(T, Y, lam, weights), **TIGHT)
    e = fit.x[0] * np.exp(-fit.x[1] * TV) - YV
    return np.sum(e * e) + 1e-3 * fit.cost


ARGS = (0.3, np.ones(20), T, Y, TV, YV)


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_fit_value_and_hyperparameter_gradient(backend):
    v, (g_lam, g_w) = adcompile.value_and_grad(validation, argnums=(0, 1),
                                                backend=backend)(*ARGS)
    assert v == pytest.approx(validation_py(0.3, np.ones(20)), rel=1e-5)
    # central differences of the compiled fit (its LM runs to the same tolerance every call)
    primal = adcompile.jit(validation, backend=backend)
    h = 1e-4
    fd = (primal(0.3 + h, *ARGS[1:]) - primal(0.3 - h, *ARGS[1:])) / (2 * h)
    assert g_lam == pytest.approx(fd, rel=1e-5)
    # and of the Python fit (scipy-style stopping: noisier, so a wider step and tolerance)
    h = 1e-3
    fd = (validation_py(0.3 + h, np.ones(20)) - validation_py(0.3 - h, np.ones(20))) / (2 * h)
    assert g_lam == pytest.approx(fd, rel=1e-4)
    # data weights: every entry against central differences of the Python fit
    fdw = np.empty(20)
    for i in range(20):   # (a wider step: the fit's own stopping noise is ~1e-10)
        e = np.zeros(20)
        e[i] = 1e-3
        fdw[i] = (validation_py(0.3, 1 + e) - validation_py(0.3, 1 - e)) / 2e-3
    np.testing.assert_allclose(g_w, fdw, rtol=1e-4, atol=1e-6)
    # forward mode independently: <J v, 1> == <v, J^T 1>
    v_dir = RNG.normal(size=20)
    _, t = adcompile.jvp(validation, ARGS, (1.0, v_dir, None, None, None, None),
                         backend=backend)
    assert t == pytest.approx(g_lam + g_w @ v_dir, rel=1e-8)


def test_fit_result_fields_in_compiled_code():
    def uses_grad(lam, weights, t, y):
        fit = least_squares(weighted_res, np.array([1.0, 0.5]), args=(t, y, lam, weights))
        return fit.grad[0]
    with pytest.raises(adcompile.TypeInferenceError, match=r"\.grad is not available"):
        adcompile.jit(uses_grad, backend="llvm")(0.3, np.ones(20), T, Y)

    def gauss_newton(lam, weights, t, y):
        return least_squares(weighted_res, np.array([1.0, 0.5]), args=(t, y, lam, weights),
                             method="gn").x[0]
    with pytest.raises(adcompile.TypeInferenceError, match="Levenberg-Marquardt"):
        adcompile.jit(gauss_newton, backend="llvm")(0.3, np.ones(20), T, Y)
