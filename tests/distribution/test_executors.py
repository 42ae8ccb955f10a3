"""adcompile.distributed on a ProcessPoolExecutor and a dask LocalCluster (2 processes).

The sharded GMM-like objective's value and gradient must equal the single-process ones (and
the gradient must match central differences); the sharded Gauss-Newton product J^T J v must
equal the one from the dense Jacobian of the whole residual.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import adcompile as ad
from adcompile import distributed as dist
from tests.distribution.models import gmm_like, residual

os.environ.setdefault("PYTHONPATH", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

RNG = np.random.default_rng(3)
MU = RNG.normal(size=3)
LOGS = RNG.normal(size=3) * 0.1
X = RNG.normal(size=400)
SHARDS = [(X[i:i + 100],) for i in range(0, 400, 100)]


def _single():
    return ad.value_and_grad(gmm_like, (0, 1), backend="llvm")(MU, LOGS, X)


def _check_gmm(value, grads):
    v0, g0 = _single()
    assert abs(value - v0) <= 1e-12 * abs(v0)
    for a, b in zip(grads, g0):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    h = 1e-6
    for i in range(3):
        e = np.zeros(3); e[i] = h
        fd = (gmm_like(MU + e, LOGS, X) - gmm_like(MU - e, LOGS, X)) / (2 * h)
        assert abs(grads[0][i] - fd) < 1e-5 * max(1.0, abs(fd))


def _check_gn(gn):
    p = np.array([0.5, -0.2])
    v = np.array([1.0, 2.0])
    jac = ad.jacfwd(residual, 0, backend="llvm")(p, X)
    np.testing.assert_allclose(gn[0], jac.T @ (jac @ v), rtol=1e-11, atol=1e-11)


def test_process_pool():
    with ProcessPoolExecutor(2) as pool:
        value, grads = dist.sum_value_and_grad(gmm_like, (MU, LOGS), SHARDS, client=pool,
                                               backend="llvm")
        gn = dist.gauss_newton_product(residual, (np.array([0.5, -0.2]),),
                                       (np.array([1.0, 2.0]),), SHARDS, client=pool,
                                       backend="llvm")
    _check_gmm(value, grads)
    _check_gn(gn)


def test_dask_local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        futs = [client.scatter(s) for s in SHARDS]   # shards live on the workers
        value, grads = dist.sum_value_and_grad(gmm_like, (MU, LOGS), futs, client=client,
                                               backend="llvm")
        gn = dist.gauss_newton_product(residual, (np.array([0.5, -0.2]),),
                                       (np.array([1.0, 2.0]),), futs, client=client,
                                       backend="llvm")
        client.run(_count_frontend)
        again = dist.sum_value_and_grad(gmm_like, (MU, LOGS), futs, client=client,
                                        backend="llvm")
        counts = client.run(_frontend_calls)
    _check_gmm(value, grads)
    _check_gn(gn)
    assert again[0] == value
    # each worker built its programs once; later tasks unpickle f and reuse them
    assert len(counts) == 2 and set(counts.values()) == {0}, counts


def _count_frontend():
    import adcompile.driver.compile as dc
    real = dc.lower
    calls = dc._distributed_test_calls = [0]

    def counting(*a, **k):
        calls[0] += 1
        return real(*a, **k)
    dc.lower = counting


def _frontend_calls():
    import adcompile.driver.compile as dc
    return dc._distributed_test_calls[0]


def test_bad_client():
    with pytest.raises(ad.AdError, match="Executor"):
        dist.sum_value_and_grad(gmm_like, (MU, LOGS), SHARDS, client=object())
