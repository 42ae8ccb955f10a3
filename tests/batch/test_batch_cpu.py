"""adcompile.batch on the CPU equals a Python loop over instances of the same derivative, for
plain functions and derivative objects, batched and shared arguments (shared adjoints summed),
a runtime-length while loop in reverse mode, on both backends; the sums are deterministic."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad
import batch_models as bm

RNG = np.random.default_rng(3)
X = RNG.normal(size=(37, 3))
K = np.array([1.3, 0.2, 0.05])
CAMS = RNG.normal(size=(9, 11)) * 0.1
CAMS[:, 5] -= 5.0
CAMS[:, 6] += 1.0
PTS = RNG.normal(size=(9, 3))
W = RNG.uniform(0.5, 1.5, size=9)

_BATCHES: dict = {}


def particle_grad(backend):
    """One compiled batch per backend, shared by the tests."""
    key = ("pgrad", backend)
    if key not in _BATCHES:
        g = ad.grad(bm.particle, argnums=(0, 1), backend=backend)
        _BATCHES[key] = (g, ad.batch(g, in_axes=(0, None)))
    return _BATCHES[key]


@pytest.mark.parametrize("backend", ["llvm", "numba"])
def test_batched_grad_of_a_while_loop_sums_shared_adjoints(backend):
    g, b = particle_grad(backend)
    gx, gk = b(X, K)
    loop = [g(X[i], K) for i in range(len(X))]
    np.testing.assert_allclose(gx, np.array([r[0] for r in loop]), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gk, np.sum([r[1] for r in loop], axis=0), rtol=1e-12)
    # the trip count is a runtime value: another step size runs another number of steps
    k2 = np.array([1.3, 0.2, 0.03])
    gx2, gk2 = b(X[:5], k2)
    np.testing.assert_allclose(gx2[3], g(X[3], k2)[0], rtol=1e-13)


def test_batched_grad_matches_finite_differences():
    _, b = particle_grad("llvm")
    gx, gk = b(X[:4], K)
    h = 1e-6
    for j in range(3):   # k[2] (the step) also sets the trip count: no FD across k[2]
        e = np.zeros(3)
        e[j] = h
        fd = 0.0 if j == 2 else np.sum([(bm.particle(x, K + e) - bm.particle(x, K - e)) / (2 * h) for x in X[:4]])
        if j < 2:
            assert gk[j] == pytest.approx(fd, rel=1e-6, abs=1e-8)
        fdx = (bm.particle(X[1] + e, K) - bm.particle(X[1] - e, K)) / (2 * h)
        assert gx[1, j] == pytest.approx(fdx, rel=1e-6, abs=1e-8)


def test_deterministic_sums_do_not_depend_on_threads():
    g = ad.grad(bm.particle, argnums=(0, 1), backend="llvm")
    big = RNG.normal(size=(301, 3))
    one = ad.batch(g, in_axes=(0, None), threads=1)(big, K)[1]
    two = ad.batch(g, in_axes=(0, None), threads=2)(big, K)[1]
    assert one.tobytes() == two.tobytes()
    _, b = particle_grad("llvm")
    np.testing.assert_allclose(b.single_threaded(big, K)[1], one, rtol=1e-12)


def test_batched_jacfwd_of_the_reprojection_residual():
    jf = ad.jacfwd(bm.reprojection, argnums=(0, 1), backend="llvm")
    jc, jx = ad.batch(jf)(CAMS, PTS, W)
    assert jc.shape == (9, 2, 11) and jx.shape == (9, 2, 3)
    for i in range(len(W)):
        rc, rx = jf(CAMS[i], PTS[i], W[i])
        np.testing.assert_allclose(jc[i], rc, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(jx[i], rx, rtol=1e-13, atol=1e-15)


def test_batched_primal_and_value_and_grad():
    f = ad.batch(bm.reprojection, backend="llvm")
    out = f(CAMS, PTS, W)
    np.testing.assert_allclose(out, [bm.reprojection(CAMS[i], PTS[i], W[i]) for i in range(9)],
                               rtol=1e-13)
    vg = ad.value_and_grad(bm.particle, argnums=1, backend="llvm")
    v, gk = ad.batch(vg, in_axes=(0, None))(X, K)
    np.testing.assert_allclose(v, [bm.particle(x, K) for x in X], rtol=1e-13)
    np.testing.assert_allclose(gk, particle_grad("llvm")[1](X, K)[1], rtol=1e-13)


def test_pushforward_and_pullback_batches_agree_by_the_dot_product_test():
    """<J v, w> == <v, J^T w> per instance, with the shared argument's cotangents summed."""
    V = RNG.normal(size=X.shape)
    vk = RNG.normal(size=3)
    w = RNG.normal(size=len(X))
    out, dout = ad.batch(ad.pushforward(bm.particle, backend="llvm"),
                         in_axes=(0, None, 0, None))(X, K, V, vk)
    np.testing.assert_allclose(out, [bm.particle(x, K) for x in X], rtol=1e-13)
    cx, ck = ad.batch(ad.pullback(bm.particle, backend="llvm"), in_axes=(0, None, 0))(X, K, w)
    assert np.dot(dout, w) == pytest.approx(np.sum(V * cx) + np.dot(vk, ck), rel=1e-12)


def test_bad_batches_are_named():
    _, b = particle_grad("llvm")
    with pytest.raises(ad.AdError, match="has 4 instances"):
        ad.batch(bm.reprojection, backend="llvm")(CAMS, PTS[:4], W)
    with pytest.raises(ad.AdError, match="in_axes has 1 entries for 2 arguments"):
        ad.batch(bm.particle, in_axes=(0,))(X, K)
    with pytest.raises(ad.AdError, match="only 0 .* and None"):
        ad.batch(bm.particle, in_axes=(1, None))(X, K)
    with pytest.raises(ad.AdError, match="unknown target"):
        ad.batch(bm.particle, target="tpu")
    with pytest.raises(ad.AdError, match="no argument is batched"):
        ad.batch(bm.particle, in_axes=None)(X[0], K)
