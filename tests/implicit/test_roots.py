"""custom_root / fixed_point: implicit derivatives against closed forms, unrolled solvers,
finite differences and the forward/reverse dot-product test, on the interpreter-free
backends (LLVM for every linear solver; numba for the default ones: its compiles of the
dense/gmres loops are slow)."""
import numpy as np
import pytest

import adcompile

RNG = np.random.default_rng(0)
A = RNG.normal(size=(30, 8))
Y = RNG.normal(size=30)
AV = RNG.normal(size=(20, 8))
YV = RNG.normal(size=20)
LAM = 0.7


def ridge_F(w, lam, A, y):
    return A.T @ (A @ w - y) + lam * w


def ridge_gd(w0, lam, A, y):
    w = w0
    step = 1.0 / (np.sum(A * A) + lam)
    for it in range(3000):
        w = w - step * ridge_F(w, lam, A, y)
    return w


ROOTS = {m: adcompile.custom_root(ridge_F, solve=m)(ridge_gd)
         for m in ("cg", "bicgstab", "gmres", "dense")}


def _outer(root):
    def outer(lam, A, y, Av, yv):
        w = root(np.zeros(A.shape[1]), lam, A, y)
        r = Av @ w - yv
        return np.sum(r * r)
    return outer


def ridge_closed_form(lam):
    M = A.T @ A + lam * np.eye(A.shape[1])
    w = np.linalg.solve(M, A.T @ Y)
    dw = -np.linalg.solve(M, w)
    r = AV @ w - YV
    return np.sum(r * r), 2 * r @ (AV @ dw)


CASES = [("cg", "numba"), ("cg", "llvm"), ("bicgstab", "llvm"),
         ("gmres", "llvm"), ("dense", "llvm")]


@pytest.mark.parametrize("method,backend", CASES)
def test_ridge_matches_closed_form(method, backend):
    outer = _outer(ROOTS[method])
    value, exact = ridge_closed_form(LAM)
    v, g = adcompile.value_and_grad(outer, backend=backend)(LAM, A, Y, AV, YV)
    assert v == pytest.approx(value, rel=1e-10)
    assert g == pytest.approx(exact, rel=1e-8)
    _, t = adcompile.jvp(outer, (LAM, A, Y, AV, YV), (1.0, None, None, None, None),
                         backend=backend)
    assert t == pytest.approx(exact, rel=1e-8)   # forward and reverse, independently


def test_ridge_against_finite_differences_and_unrolled():
    outer = _outer(ROOTS["cg"])
    h = 1e-5
    fd = (ridge_closed_form(LAM + h)[0] - ridge_closed_form(LAM - h)[0]) / (2 * h)
    g = adcompile.grad(outer, backend="llvm")(LAM, A, Y, AV, YV)
    assert g == pytest.approx(fd, rel=1e-6)
    unrolled = adcompile.grad(_outer(ridge_gd), backend="llvm")(LAM, A, Y, AV, YV)
    assert g == pytest.approx(unrolled, rel=1e-6)


def data_F(w, lam, A, y):
    return A.T @ (A @ w - y) + lam * w


DATA_ROOT = adcompile.custom_root(data_F, solve="cg")(ridge_gd)


def fit_loss(y, lam, A, Av, yv):
    w = DATA_ROOT(np.zeros(A.shape[1]), lam, A, y)
    r = Av @ w - yv
    return np.sum(r * r) + np.sum(w)


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_array_parameter_dot_product(backend):
    """Gradient w.r.t. an array parameter (the data y): vjp vs jvp on random directions."""
    rng = np.random.default_rng(3)
    g = adcompile.grad(fit_loss, backend=backend)(Y, LAM, A, AV, YV)
    for _ in range(2):
        v = rng.normal(size=Y.shape)
        _, t = adcompile.jvp(fit_loss, (Y, LAM, A, AV, YV), (v, None, None, None, None),
                             backend=backend)
        assert t == pytest.approx(g @ v, rel=1e-8)
    h = 1e-6
    v = rng.normal(size=Y.shape)
    fd = (fit_loss(Y + h * v, LAM, A, AV, YV) - fit_loss(Y - h * v, LAM, A, AV, YV)) / (2 * h)
    assert g @ v == pytest.approx(fd, rel=1e-6)


def sq_F(x, a):
    return x * x - a


@adcompile.custom_root(sq_F)
def newton_sqrt(x0, a):
    x = x0
    while abs(x * x - a) > 1e-14 * a:
        x = x - (x * x - a) / (2.0 * x)
    return x


def scaled_sqrt(a):
    return 3.0 * newton_sqrt(1.0, a)


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_scalar_root_with_while_solver(backend):
    g = adcompile.grad(scaled_sqrt, backend=backend)
    for a in (2.0, 9.0):
        assert g(a) == pytest.approx(1.5 / np.sqrt(a), rel=1e-12)
    _, t = adcompile.jvp(scaled_sqrt, (2.0,), (1.0,), backend=backend)
    assert t == pytest.approx(1.5 / np.sqrt(2.0), rel=1e-12)


def test_x_init_gets_no_derivative_and_solution_is_not_unrolled():
    """A solver returning x_init unchanged (already converged) still has the implicit
    derivative: its iterations are not what is differentiated."""
    def f_(x, a):
        return x * x - a

    @adcompile.custom_root(f_)
    def lazy(x0, a):
        return x0

    def outer(x0, a):
        return lazy(x0, a)
    gx, ga = adcompile.grad(outer, argnums=(0, 1), backend="llvm")(2.0, 4.0)
    assert gx == 0.0
    assert ga == pytest.approx(0.25, rel=1e-12)


def T_map(x, a, W):
    return 0.5 * np.tanh(W @ x) + a


def iterate(x0, a, W):
    x = x0
    for k in range(200):
        x = T_map(x, a, W)
    return x


W = RNG.normal(size=(5, 5)) / 5.0
A5 = RNG.normal(size=5)


@pytest.mark.parametrize("solve", ["fixed_point", "bicgstab"])
def test_fixed_point(solve):
    root = adcompile.fixed_point(T_map, solve=solve)(iterate)

    def outer(a, W):
        x = root(np.zeros(5), a, W)
        return np.sum(x * x * x)
    g = adcompile.grad(outer, backend="llvm")(A5, W)
    unrolled = adcompile.grad(lambda_outer, backend="llvm")(A5, W)
    np.testing.assert_allclose(g, unrolled, rtol=1e-8)
    x = iterate(np.zeros(5), A5, W)
    J = 0.5 * (1 - np.tanh(W @ x) ** 2)[:, None] * W
    exact = np.linalg.solve((np.eye(5) - J).T, 3 * x * x)
    np.testing.assert_allclose(g, exact, rtol=1e-8)


def lambda_outer(a, W):
    x = iterate(np.zeros(5), a, W)
    return np.sum(x * x * x)


def test_unconverged_linear_solve_raises_with_residual():
    root = adcompile.custom_root(ridge_F, solve="cg", maxiter=1)(ridge_gd)
    outer = _outer(root)
    for backend in ("llvm", "numba"):
        with pytest.raises(adcompile.ConvergenceError, match="relative residual of [0-9.]+e"):
            adcompile.grad(outer, backend=backend)(LAM, A, Y, AV, YV)
    assert outer(LAM, A, Y, AV, YV) > 0   # the primal is unaffected


@pytest.mark.parametrize("backend", ["llvm", "numba", "interpret"])
def test_unconverged_linear_solve_warns_by_option(backend):
    """on_failure="warn": the gradient comes back with a ConvergenceWarning naming the solver
    and the residual reached; it is the inaccurate gradient of a 1-step CG (not the exact one),
    and a converged solve with the same option warns nothing."""
    root = adcompile.custom_root(ridge_F, solve="cg", maxiter=1, on_failure="warn")(ridge_gd)
    outer = _outer(root)

    def gradient(o):
        if backend != "interpret":
            return adcompile.grad(o, backend=backend)(LAM, A, Y, AV, YV)
        g = adcompile.grad(o)

        def use(lam, A, y, Av, yv):
            return g(lam, A, y, Av, yv)
        return adcompile.interpret(use, LAM, A, Y, AV, YV)
    with pytest.warns(adcompile.ConvergenceWarning,
                      match=r"adjoint linear solve \(cg\).*'ridge_gd'.*relative residual of "
                            r"[0-9.]+e[-+][0-9]+ \(required") as rec:
        g = gradient(outer)
    assert len(rec) == 1
    rel = float(str(rec[0].message).split("relative residual of ")[1].split()[0])
    assert rel > 1e-8   # the residual reported is the one that missed check_tol
    _, exact = ridge_closed_form(LAM)
    assert np.isfinite(g) and abs(g - exact) > 1e-8 * abs(exact)
    good = _outer(adcompile.custom_root(ridge_F, solve="cg", on_failure="warn")(ridge_gd))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradient(good) == pytest.approx(exact, rel=1e-8)


def test_inner_solver_that_stopped_early_warns_by_option():
    outer = _outer(adcompile.custom_root(ridge_F, solve="cg", on_failure="warn")(short_gd))
    with pytest.warns(adcompile.ConvergenceWarning, match="short_gd.*relative residual"):
        assert np.isfinite(adcompile.grad(outer, backend="llvm")(LAM, A, Y, AV, YV))


def test_bad_input():
    def two(x, a):
        return x - a

    def three(x0, a, b):
        return x0
    with pytest.raises(adcompile.TypeError, match="takes 2 arguments but the solver"):
        adcompile.custom_root(two)(three)
    with pytest.raises(adcompile.AdError, match="unknown linear solver"):
        adcompile.custom_root(two, solve="lu")(lambda x0, a: x0)
    with pytest.raises(adcompile.AdError, match="on_failure must be one of 'raise', 'warn'"):
        adcompile.custom_root(two, on_failure="ignore")(lambda x0, a: x0)

    def not_square(x, a):
        return np.sum(x) - a

    @adcompile.custom_root(not_square)
    def s(x0, a):
        return x0

    def outer(a):
        return np.sum(s(np.ones(3), a))
    with pytest.raises(adcompile.TypeError, match="must be square"):
        adcompile.grad(outer, backend="llvm")(1.0)


def short_gd(w0, lam, A, y):
    w = w0
    for it in range(5):
        w = w - 1e-3 * ridge_F(w, lam, A, y)
    return w


def test_inner_solver_that_stopped_early_raises():
    outer = _outer(adcompile.custom_root(ridge_F, solve="cg")(short_gd))
    with pytest.raises(adcompile.ConvergenceError, match="short_gd.*relative residual"):
        adcompile.grad(outer, backend="llvm")(LAM, A, Y, AV, YV)
    loose = _outer(adcompile.custom_root(ridge_F, solve="cg", root_tol=None)(short_gd))
    assert np.isfinite(adcompile.grad(loose, backend="llvm")(LAM, A, Y, AV, YV))


def test_bilevel_example_runs(capsys):
    import runpy
    import sys
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "examples" / "bilevel.py"
    argv = sys.argv
    sys.argv = [str(path), "--quick"]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:4].isdigit()]
    assert len(rows) == 3
    for row in rows:   # implicit, unrolled and closed form agree once the inner fit converged
        imp, unr, exact = map(float, row[1:4])
        assert imp == pytest.approx(exact, rel=1e-6) and unr == pytest.approx(exact, rel=1e-6)


def test_steady_state_example_and_check_grad(capsys):
    import runpy
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "examples" / "steady_state.py"
    mod = runpy.run_path(str(path))
    mod["main"](["--n", "40"])
    out = capsys.readouterr().out
    ratio = float(out.split("max |implicit - unrolled| / max |unrolled| = ")[1].split()[0])
    assert ratio < 1e-8
    n = 12
    h = 1.0 / (n + 1)
    f = 50.0 * np.sin(np.pi * np.linspace(h, 1 - h, n)) ** 2
    k = 1.0 + 0.3 * np.cos(np.arange(n + 1.0))
    u_obs = np.linspace(0.0, 0.1, n)
    report = adcompile.check_grad(mod["misfit"], k, f, u_obs, h, argnums=0)
    assert report, report


def _tape_bytes(fn, args) -> int:
    """Bytes reverse mode records for one gradient (its IR run with counting tapes)."""
    from adcompile.ir import interpreter
    g = adcompile.grad(fn, backend="llvm")
    g(*args)
    ir = g._last.ir["backend"]
    return interpreter.tape_bytes(ir, list(args) + [1.0] * (len(ir.args) - len(args)))


def iters_gd(w0, lam, A, y, iters):
    w = w0
    for it in range(iters):
        w = w - 0.5 * (A.T @ (A @ w - y) + lam * w)
    return w


def iters_F(w, lam, A, y, iters):
    return A.T @ (A @ w - y) + lam * w


ITERS_ROOT = adcompile.custom_root(iters_F, solve="cg")(iters_gd)


def iters_loss(lam, A, y, iters):
    return np.sum(ITERS_ROOT(np.zeros(A.shape[1]), lam, A, y, iters) ** 2)


def iters_loss_unrolled(lam, A, y, iters):
    return np.sum(iters_gd(np.zeros(A.shape[1]), lam, A, y, iters) ** 2)


def test_memory_does_not_grow_with_inner_iterations():
    A_, y_ = A[:6, :3] / 3.0, Y[:6]
    few, many = (_tape_bytes(iters_loss, (LAM, A_, y_, n)) for n in (100, 500))
    assert few == many
    unrolled = [_tape_bytes(iters_loss_unrolled, (LAM, A_, y_, n)) for n in (100, 500)]
    assert unrolled[1] > 4 * unrolled[0] and unrolled[0] > few


def sq(x, a):
    return x * x - a


@adcompile.custom_root(sq)
def lazy_sqrt(x0, a):
    return x0


def lanes_outer(a):
    return lazy_sqrt(np.sqrt(a), a) * 2.0


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_jacfwd_and_jacrev_are_implicit(backend):
    """Vector forward mode solves once per lane; the solver (which returns its x_init, the
    root) is never differentiated, so d/da of 2 sqrt(a) comes from F alone."""
    a = np.array([4.0, 9.0])
    want = np.diag(1.0 / np.sqrt(a))
    np.testing.assert_allclose(adcompile.jacrev(lanes_outer, backend=backend)(a), want,
                               rtol=1e-12)
    np.testing.assert_allclose(adcompile.jacfwd(lanes_outer, backend=backend)(a), want,
                               rtol=1e-10)


def test_jacfwd_of_a_scalar_hyperparameter_and_hessian():
    outer = _outer(ROOTS["cg"])
    _, exact = ridge_closed_form(LAM)
    J = adcompile.jacfwd(outer, argnums=(0, 1), backend="llvm")(LAM, A, Y, AV, YV)
    assert J[0] == pytest.approx(exact, rel=1e-8)
    gA = adcompile.grad(outer, argnums=1, backend="llvm")(LAM, A, Y, AV, YV)
    np.testing.assert_allclose(J[1], gA, rtol=1e-7, atol=1e-10)
    h = 1e-4
    H = adcompile.hessian(outer, backend="llvm")(LAM, A, Y, AV, YV)
    fd = (ridge_closed_form(LAM + h)[1] - ridge_closed_form(LAM - h)[1]) / (2 * h)
    assert H == pytest.approx(fd, rel=1e-5)
