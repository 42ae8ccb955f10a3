"""Sharded GMM-like gradient on a dask LocalCluster, 1 vs 2 worker processes, and the cost of
a worker's first task (it builds or loads f) against later tasks. Under a minute on 2 cores."""
from __future__ import annotations

import time

import numpy as np
from dask import distributed

from adcompile import distributed as dist
from tests.distribution.models import gmm_like

RNG = np.random.default_rng(0)
MU, LOGS = RNG.normal(size=3), RNG.normal(size=3) * 0.1
X = RNG.normal(size=2_000_000)
SHARDS = [(X[i:i + 250_000],) for i in range(0, X.size, 250_000)]


def main() -> None:
    for n in (1, 2):
        with distributed.LocalCluster(n_workers=n, processes=True, threads_per_worker=1,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            futs = [client.scatter(s) for s in SHARDS]
            t0 = time.perf_counter()
            dist.sum_value_and_grad(gmm_like, (MU, LOGS), futs[:n], client=client,
                                    backend="llvm")
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            dist.sum_value_and_grad(gmm_like, (MU, LOGS), futs, client=client, backend="llvm")
            warm = time.perf_counter() - t0
            print(f"{n} worker(s): first task round {first:.3f} s, "
                  f"{len(SHARDS)} shards x 250k obs {warm:.3f} s")


if __name__ == "__main__":
    main()
