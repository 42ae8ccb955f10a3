"""Sparsity patterns, colourings and coloured sparse Jacobians (adcompile.jacobian_sparsity,
adcompile.jacobian(sparse=True)), against hand-written patterns, dense jacfwd and central
finite differences."""
import numpy as np
import pytest

sps = pytest.importorskip("scipy.sparse")

import adcompile  # noqa: E402
from adcompile.jacobian.coloring import (  # noqa: E402
    best_coloring, column_coloring, decompress, row_coloring)
from hypothesis import given, settings, strategies as st  # noqa: E402

from .ba_problem import ba_case, ba_flat, ba_true_pattern  # noqa: E402


def _synthetic_ba_pattern(ncam, npt, nobs, cam, pt, weights, seed=0):
    rng = np.random.default_rng(seed)
    oc, op = rng.integers(0, ncam, nobs), rng.integers(0, npt, nobs)
    k = cam + pt
    base = ncam * cam
    cols = np.concatenate([oc[:, None] * cam + np.arange(cam), base + op[:, None] * pt
                           + np.arange(pt)], axis=1)
    if weights:
        cols = np.concatenate([cols, (base + npt * pt + np.arange(nobs))[:, None]], axis=1)
        k += 1
    rows = np.repeat(np.arange(2 * nobs), k)
    cols = np.repeat(cols, 2, axis=0).ravel()
    ncol = base + npt * pt + (nobs if weights else 0)
    nrow = 2 * nobs
    if weights:
        rows = np.concatenate([rows, 2 * nobs + np.arange(nobs)])
        cols = np.concatenate([cols, base + npt * pt + np.arange(nobs)])
        nrow += nobs
    return sps.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(nrow, ncol))


def _valid_column_coloring(pattern, col):
    p = sps.csr_matrix(pattern)
    for i in range(p.shape[0]):
        c = col.colors[p.indices[p.indptr[i]:p.indptr[i + 1]]]
        assert np.unique(c).size == c.size, f"row {i}: two columns of one colour"


@pytest.mark.parametrize("nobs", [500, 5000])
def test_adbench_ba_colours(nobs):
    p = _synthetic_ba_pattern(49, 800, nobs, 11, 3, True)   # ba1: 49 cameras
    col = column_coloring(p)
    assert col.ncolors <= 15
    _valid_column_coloring(p, col)


@pytest.mark.parametrize("nobs", [500, 5000])
def test_bal_colours(nobs):
    p = _synthetic_ba_pattern(16, 600, nobs, 9, 3, False)
    col = best_coloring(p)
    assert col.mode == "column" and col.ncolors <= 12
    _valid_column_coloring(p, col)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.floats(0.05, 0.6), st.integers(0, 2**31))
def test_coloring_recovers_random_matrices(m, n, density, seed):
    rng = np.random.default_rng(seed)
    J = sps.random(m, n, density=density, random_state=rng, format="csr")
    J.data += 1.0   # no explicit zeros
    pat = J.astype(bool)
    for c in (column_coloring(pat), row_coloring(pat), best_coloring(pat)):
        dense = J.toarray()
        comp = dense @ c.seed() if c.mode == "column" else c.seed().T @ dense
        assert c.ncolors <= (n if c.mode == "column" else m)
        np.testing.assert_array_equal(decompress(pat, c, comp).toarray(), dense)


@pytest.fixture(scope="module")
def ba_derivs():
    return (adcompile.jacobian_sparsity(ba_flat), adcompile.jacobian(ba_flat, sparse=True),
            adcompile.jacfwd(ba_flat))


@pytest.mark.parametrize("seed", [0, 1])
def test_ba_pattern_exact_and_jacobian(ba_derivs, seed):
    pat_of, jac, dense = ba_derivs
    args = ba_case(4, 9, 25 + 10 * seed, seed)
    x, oc, op, _, ncam, npt = args
    pat = pat_of(*args)
    truth = ba_true_pattern(oc, op, ncam, npt)
    assert pat.dtype == bool and pat.shape == truth.shape
    assert (pat != truth).nnz == 0
    J = jac(*args)
    assert isinstance(J, sps.csr_matrix) and 0 < jac.ncolors <= 15
    assert (jac.sparsity != truth).nnz == 0
    D = dense(*args)
    np.testing.assert_allclose(J.toarray(), D, rtol=1e-12, atol=1e-12)
    # independent check: central differences along a random direction
    v = np.random.default_rng(seed).normal(size=x.size) * 1e-3
    h = 1e-5
    fd = (ba_flat(x + h * v, *args[1:]) - ba_flat(x - h * v, *args[1:])) / (2 * h)
    np.testing.assert_allclose(J @ v, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


def stencil(u, k):
    """An array-output program with a float branch, an index argument and a window sum."""
    n = u.shape[0]
    out = np.empty(n + 1)
    for i in range(n):
        left = u[i - 1] if i > 0 else 0.0
        right = u[(i + k) % n]
        if u[i] > 0.0:
            out[i] = u[i] * right - np.sin(left)
        else:
            out[i] = left * left
    out[n] = (u[0] + u[1] + u[2]) ** 2
    return out


def test_stencil_matches_jacfwd():
    u = np.random.default_rng(3).normal(size=40)
    jac = adcompile.jacobian(stencil, sparse=True)
    for k in (1, 5):
        J = jac(u, k)
        np.testing.assert_allclose(J.toarray(), adcompile.jacfwd(stencil)(u, k), rtol=1e-13)
        assert jac.ncolors <= 6
        assert jac.sparsity[u.size].nnz == 3


def test_bad_arguments():
    with pytest.raises(adcompile.AdError, match="one argument index"):
        adcompile.jacobian(stencil, argnums=(0,), sparse=True)
    with pytest.raises(adcompile.AdError, match="float array"):
        adcompile.jacobian_sparsity(stencil, argnums=1)(np.ones(4), 1)


STRIDE = 1


def coupled(x, idx):
    """Residual k couples x[idx[k]] with the entry STRIDE (a global) further on."""
    n = x.shape[0]
    r = np.empty(idx.shape[0])
    for k in range(idx.shape[0]):
        r[k] = x[idx[k]] * x[(idx[k] + STRIDE) % n] - 1.0
    return r


def test_pattern_cached_per_function_and_index_content(monkeypatch):
    """A solver builds a new sparse jacobian per call: the pattern is detected once per
    function, signature and index-array content, shared with jacobian_sparsity, and again
    when a global the residual reads changes."""
    from adcompile.jacobian import sparsity
    from adcompile.solvers import least_squares
    calls = []
    real = sparsity.bitset_pattern
    monkeypatch.setattr(sparsity, "bitset_pattern",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    x0 = np.linspace(0.5, 1.5, 8)
    idx = np.array([0, 2, 3, 5, 7, 1, 4, 6], dtype=np.int64)
    for _ in range(2):
        res = least_squares(coupled, x0, args=(idx,), jac="sparse", backend="llvm")
        assert res.success and res.cost < 1e-20
    pat = adcompile.jacobian_sparsity(coupled, backend="llvm")(x0, idx)
    assert len(calls) == 1
    assert sorted(pat[0].indices) == [0, 1]
    other = idx[::-1].copy()   # same shape and dtype, other content: another pattern
    assert sorted(adcompile.jacobian_sparsity(coupled, backend="llvm")(x0, other)[0].indices) \
        == [6, 7]
    assert len(calls) == 2
    least_squares(coupled, x0, args=(idx,), jac="sparse", backend="llvm")
    assert len(calls) == 2
    monkeypatch.setitem(globals(), "STRIDE", 3)
    pat = adcompile.jacobian_sparsity(coupled, backend="llvm")(x0, idx)
    assert len(calls) == 3 and sorted(pat[0].indices) == [0, 3]


def test_coloring_survives_shared_row_counts_of_256():
    """Two columns sharing exactly 256 rows (a BA camera's parameters in 128 observations):
    the count must not wrap to zero and drop the edge between them."""
    for nrows in (256, 512, 300):
        pat = sps.csr_matrix(np.ones((nrows, 3), dtype=bool))
        col = column_coloring(pat)
        assert col.ncolors == 3, nrows
        _valid_column_coloring(pat, col)


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def grid_energy(u, m):
    """A 5-point Laplacian energy with a quartic term on an m x m grid (flattened)."""
    U = u.reshape(m, m)
    e = 0.25 * np.sum(U ** 4)
    for i in range(m - 1):
        for j in range(m):
            e += (U[i + 1, j] - U[i, j]) ** 2 + (U[j, i + 1] - U[j, i]) ** 2
    return e


@pytest.mark.parametrize("f, args, most", [
    (rosenbrock, (np.linspace(-1.0, 1.2, 60),), 3),
    (grid_energy, (np.random.default_rng(4).normal(size=49), 7), 8)])
def test_sparse_hessian_equals_dense(f, args, most):
    H = adcompile.hessian(f, sparse=True, backend="llvm")
    S = H(*args)
    assert isinstance(S, sps.csr_matrix) and S.shape == (args[0].size,) * 2
    D = adcompile.hessian(f, backend="llvm")(*args)
    np.testing.assert_allclose(S.toarray(), D, rtol=1e-12, atol=1e-12)
    assert (S != S.T).nnz == 0
    assert 0 < H.ncolors <= most and H.sparsity.nnz >= S.nnz
    # independent: central differences of the compiled gradient along a random direction
    g = adcompile.grad(f, backend="llvm")
    v = np.random.default_rng(0).normal(size=args[0].size)
    h = 1e-6
    fd = (g(args[0] + h * v, *args[1:]) - g(args[0] - h * v, *args[1:])) / (2 * h)
    np.testing.assert_allclose(S @ v, fd, rtol=1e-5, atol=1e-5)


def dense_rows(x):
    """n diagonal rows and two dense ones: columns all collide (n column colours), rows need 3."""
    n = x.shape[0]
    r = np.empty(n + 2)
    for i in range(n):
        r[i] = x[i] ** 2
    r[n] = np.sum(np.sin(x))
    r[n + 1] = np.sum(x * x) * x[0]
    return r


def two_outputs(x):
    return np.sin(x[:3]) * 2.0, np.sum(x ** 3), np.cos(x[-4:])


@pytest.mark.parametrize("f", [dense_rows, two_outputs])
def test_reverse_mode_with_row_colours_when_fewer(f):
    x = np.linspace(0.1, 1.0, 120)
    jac = adcompile.jacobian(f, sparse=True, backend="llvm")
    J = jac(x)
    assert jac.coloring.mode == "row" and jac.ncolors <= 3
    D = adcompile.jacfwd(f, backend="llvm")(x)
    D = np.concatenate([np.reshape(d, (-1, x.size)) for d in (D if isinstance(D, tuple) else (D,))])
    np.testing.assert_allclose(J.toarray(), D, rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(2).normal(size=x.size)
    h = 1e-6

    def flat(z):
        out = f(z)
        return np.concatenate([np.ravel(o) for o in (out if isinstance(out, tuple) else (out,))])
    fd = (flat(x + h * v) - flat(x - h * v)) / (2 * h)
    np.testing.assert_allclose(J @ v, fd, rtol=1e-6, atol=1e-6)


def test_ba_keeps_column_colours():
    args = ba_case(4, 9, 40, 1)
    jac = adcompile.jacobian(ba_flat, sparse=True, backend="llvm")
    jac(*args)
    assert jac.coloring.mode == "column"


def _catalog_array_cases():
    from tests.ad import catalog
    out = []
    for c in catalog.CATALOG.values():
        a = c.args()[c.argnums[0]]
        if c.jac and isinstance(a, np.ndarray) and a.dtype == np.float64 and a.size > 1:
            out.append(c)
    return out


@pytest.mark.parametrize("case", _catalog_array_cases(), ids=lambda c: c.name)
def test_catalog_sparse_jacobians_equal_jacfwd(case):
    args = case.args()
    i = case.argnums[0]
    jac = adcompile.jacobian(case.fn, argnums=i, sparse=True, backend="llvm")
    J = jac(*args)
    D = adcompile.jacfwd(case.fn, argnums=i, backend="llvm")(*args)
    D = np.concatenate([np.reshape(d, (-1, args[i].size))
                        for d in (D if isinstance(D, tuple) else (D,))])
    assert J.shape == D.shape
    np.testing.assert_allclose(J.toarray(), D, rtol=1e-11, atol=1e-11 * max(1.0, np.abs(D).max()))
    assert not (D != 0)[~jac.sparsity.toarray()].any()
