"""np.linalg solvers and factorisations in compiled code (frontend/linalg.py over
numerics/linalg.py): values against NumPy, Jacobians of both modes against central finite
differences, the dot-product test between them, float32, and NumPy's failures."""
import numpy as np
import pytest

import adcompile as ad


def l_solve(a, b):
    return np.linalg.solve(a, b)


def l_solve_matrix(a, b):
    return np.linalg.solve(a, np.outer(b, b) + a.T)


def l_inv(a):
    return np.linalg.inv(a)


def l_det(a):
    return np.linalg.det(a)


def l_logdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet


def l_cholesky(s):
    return np.linalg.cholesky(s)


def l_cholesky_upper(s):
    return np.linalg.cholesky(s, upper=True)


def l_q(a):
    q, r = np.linalg.qr(a)
    return q


def l_r(a):
    return np.linalg.qr(a, mode="r")


def l_eigvals(s):
    w, v = np.linalg.eigh(s)
    return w


def l_eigvecs(s):
    w, v = np.linalg.eigh(s)
    return v


def l_eigvals_upper(s):
    return np.linalg.eigvalsh(s, UPLO="U")


def l_lstsq(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b, rcond=None)
    return x


def l_lstsq_residual(a, b):
    x, res, rank, sv = np.linalg.lstsq(a, b)
    return res[0] + np.sum(sv) + rank


def l_in_loop(a, b):
    x = b.copy()
    for k in range(3):
        x = np.linalg.solve(a + k * np.eye(3), x) + 0.1 * x
    return np.sum(x * x)


def f32_program(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2) + np.linalg.slogdet(a)[1]


def _signs(v):
    """Eigenvector columns with their largest entry positive (NumPy's signs are LAPACK's)."""
    idx = np.argmax(np.abs(v), axis=0)
    return v * np.sign(v[idx, np.arange(v.shape[1])])


RNG = np.random.default_rng(7)
A = RNG.normal(size=(4, 4)) + 3.0 * np.eye(4)
B = RNG.normal(size=4)
M = RNG.normal(size=(4, 4))
S = M @ M.T + 4.0 * np.eye(4)
T = RNG.normal(size=(6, 3))
Y = RNG.normal(size=6)
A3 = RNG.normal(size=(3, 3)) + 3.0 * np.eye(3)

CASES = [(l_solve, (A, B)), (l_solve_matrix, (A, B)), (l_inv, (A,)), (l_det, (A,)),
         (l_logdet, (A,)), (l_cholesky, (S,)), (l_cholesky_upper, (S,)), (l_q, (T,)),
         (l_r, (T,)), (l_eigvals, (S,)), (l_eigvecs, (S,)), (l_eigvals_upper, (S,)),
         (l_lstsq, (T, Y)), (l_lstsq_residual, (T, Y)), (l_in_loop, (A3, B[:3]))]
IDS = [c[0].__name__ for c in CASES]


def _want(f, args):
    out = f(*args)
    if f is l_eigvecs:
        out = _signs(out)
    return np.asarray(out)


def _fd(f, args, k, h=1e-6):
    x = args[k]
    cols = []
    for e in np.eye(x.size):
        up = list(args)
        dn = list(args)
        up[k] = x + h * e.reshape(x.shape)
        dn[k] = x - h * e.reshape(x.shape)
        cols.append((_want(f, up) - _want(f, dn)) / (2 * h))
    return np.stack(cols, -1).reshape(np.shape(_want(f, args)) + x.shape)


@pytest.mark.parametrize("f,args", CASES, ids=IDS)
def test_values_and_jacobians(f, args):
    want = _want(f, args)
    np.testing.assert_allclose(ad.interpret(f, *args), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ad.jit(f, backend="llvm")(*args), want, rtol=1e-10, atol=1e-12)
    argnums = tuple(range(len(args)))
    rev = ad.jacrev(f, argnums=argnums, backend="llvm")(*args)
    fwd = ad.jacfwd(f, argnums=argnums, backend="llvm")(*args)
    for k in argnums:
        fd = _fd(f, args, k)
        np.testing.assert_allclose(rev[k], fd, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(fwd[k], rev[k], rtol=1e-10, atol=1e-11)


def test_dot_product_of_vjp_and_jvp():
    """<J v, w> == <v, J^T w> through a solve, a Cholesky factor and an eigen-decomposition."""
    def f(a, s):
        w, v = np.linalg.eigh(s)
        return np.linalg.solve(a, np.linalg.cholesky(s) @ w) + v[:, 0] * v[1, 0]
    v = (RNG.normal(size=A.shape), RNG.normal(size=S.shape))
    w = RNG.normal(size=4)
    _, jv = ad.jvp(f, (A, S), v, backend="llvm")
    _, pull = ad.vjp(f, A, S, backend="llvm")
    bars = pull(w)
    lhs = float(np.dot(jv, w))
    rhs = sum(float(np.sum(a * b)) for a, b in zip(v, bars))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_gradient_and_hessian_of_a_gaussian_log_likelihood():
    """The usual use: log N(y; 0, S) with S = L L^T from parameters."""
    def nll(p, y):
        n = y.shape[0]
        s = np.outer(p, p) + np.eye(n) * (1.0 + p[0] * p[0])
        c = np.linalg.cholesky(s)
        z = np.linalg.solve(c, y)
        sign, logdet = np.linalg.slogdet(s)
        return 0.5 * np.dot(z, z) + 0.5 * logdet
    p, y = RNG.normal(size=4), RNG.normal(size=4)
    g = ad.grad(nll, backend="llvm")(p, y)
    h = 1e-6
    fd = np.array([(nll(p + h * e, y) - nll(p - h * e, y)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    hess = ad.hessian(nll, backend="llvm")(p, y)
    gfd = np.array([(ad.grad(nll, backend="llvm")(p + h * e, y) -
                     ad.grad(nll, backend="llvm")(p - h * e, y)) / (2 * h) for e in np.eye(4)])
    np.testing.assert_allclose(hess, gfd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-10, atol=1e-12)


def test_float32_and_integer_matrices():
    a32 = A.astype(np.float32)
    got = ad.jit(l_solve, backend="llvm")(a32, B.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.linalg.solve(A, B), rtol=1e-4)
    ai = np.array([[2, 1], [1, 3]])
    got = ad.jit(l_inv, backend="llvm")(ai)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, np.linalg.inv(ai))


def test_numba_backend():
    """One numba program (its compiles are slow: the LU loops make a large function)."""
    np.testing.assert_allclose(ad.grad(l_det, backend="numba")(A),
                               np.linalg.det(A) * np.linalg.inv(A).T, rtol=1e-10)


def test_float32_derivatives():
    a32, b32 = A.astype(np.float32), B.astype(np.float32)
    g = ad.grad(f32_program, argnums=(0, 1), backend="llvm")(a32, b32)
    want = ad.grad(f32_program, argnums=(0, 1), backend="llvm")(A, B)
    assert g[0].dtype == np.float32
    for got, ref in zip(g, want):
        np.testing.assert_allclose(got, ref, rtol=2e-4, atol=1e-5)


SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("f,args,msg", [
    (l_solve, (SINGULAR, np.ones(2)), "Singular matrix"),
    (l_inv, (SINGULAR,), "Singular matrix"),
    (l_cholesky, (-np.eye(2),), "not positive definite"),
    (l_q, (np.ones((2, 3)),), "m >= n"),
    (l_inv, (np.ones((2, 3)),), "must be square"),
    (l_solve, (np.eye(3), np.ones(2)), "different number of rows"),
    (l_lstsq, (np.ones((3, 2)), np.ones(3)), "full column rank")], ids=lambda v: str(v)[:20])
def test_numpy_failures_stop_with_its_message(f, args, msg):
    with pytest.raises(ValueError, match=msg):
        ad.jit(f, backend="llvm")(*args)
    with pytest.raises(ValueError, match=msg):
        ad.interpret(f, *args)


def test_singular_det_and_slogdet_as_numpy():
    assert ad.jit(l_det, backend="llvm")(SINGULAR) == 0.0
    def sl(a):
        return np.linalg.slogdet(a)
    sign, logdet = ad.jit(sl, backend="llvm")(SINGULAR)
    assert sign == 0.0 and logdet == -np.inf


def test_stacks_and_bad_options_are_rejected_at_the_call():
    def stack(a):
        return np.linalg.inv(a)

    def complete(a):
        return np.linalg.qr(a, mode="complete")
    with pytest.raises(ad.TypeError, match="2-d array") as info:
        ad.interpret(stack, np.ones((2, 3, 3)))
    assert "loop over the leading axis" in info.value.hint
    with pytest.raises(ad.UnsupportedSyntax, match="mode='complete'"):
        ad.interpret(complete, np.ones((3, 2)))
