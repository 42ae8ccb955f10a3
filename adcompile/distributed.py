"""Derivatives of objectives and residuals that are sums over data shards, on a
`dask.distributed.Client` or any `concurrent.futures.Executor`.

Why here: the compiled objects pickle as recipes (pickling.py), so a task ships `f` and
each worker builds it once per process (once per cluster with a shared
`ADCOMPILE_CACHE_DIR`). Shards stay where they live: a shard may be a tuple of arrays or a
dask future of one; on dask the tree reduction of values and gradients runs on the cluster
and only the final sum comes back.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .errors import AdError


def _value_and_grad_shard(vg, params, shard):
    return vg(*params, *tuple(shard))


def _add(a, b):
    if isinstance(a, tuple):
        return tuple(_add(x, y) for x, y in zip(a, b))
    return a + b


def _jvp_shard(f, params, tangents, shard, backend):
    from .derivatives import jvp
    shard = tuple(shard)
    return jvp(f, tuple(params) + shard, tuple(tangents) + (None,) * len(shard),
               backend=backend)[1]


def _vjp_shard(f, params, shard, cotangent, backend):
    from .derivatives import vjp
    _, pull = vjp(f, *params, *tuple(shard), backend=backend)
    return tuple(pull(cotangent)[:len(params)])


def _is_dask(client) -> bool:
    return hasattr(client, "scatter") and hasattr(client, "gather")


def _check(client, shards) -> list:
    if not hasattr(client, "submit"):
        raise AdError(f"client={client!r}: expected a dask.distributed.Client or a "
                      "concurrent.futures.Executor",
                      hint="client=dask.distributed.Client(...) or "
                           "concurrent.futures.ProcessPoolExecutor(2)")
    shards = list(shards)
    if not shards:
        raise AdError("no shards given", hint="shards=[(x0, y0), (x1, y1), ...]")
    return shards


def _tree_sum(client, futures: list):
    """Pairwise sum: on the cluster for dask (futures as task arguments), else here."""
    if _is_dask(client):
        while len(futures) > 1:
            nxt = [client.submit(_add, a, b, pure=False)
                   for a, b in zip(futures[0::2], futures[1::2])]
            if len(futures) % 2:
                nxt.append(futures[-1])
            futures = nxt
        return futures[0].result()
    vals = [fut.result() for fut in futures]
    while len(vals) > 1:
        nxt = [_add(a, b) for a, b in zip(vals[0::2], vals[1::2])]
        if len(vals) % 2:
            nxt.append(vals[-1])
        vals = nxt
    return vals[0]


def sum_value_and_grad(f: Callable, params: Sequence, shards: Sequence, *, client,
                       backend: str | None = None):
    """(sum_s f(*params, *shard_s), its gradient w.r.t. every parameter), one task per shard.
    `params`: the leading arguments of `f` (differentiated); `shards`: per shard a tuple of
    the remaining arguments (or a dask future of one). Returns (value, tuple of gradients)."""
    from .derivatives import unwrap, value_and_grad
    shards = _check(client, shards)
    params = tuple(params)
    vg = value_and_grad(unwrap(f), tuple(range(len(params))), backend=backend)
    futures = [client.submit(_value_and_grad_shard, vg, params, s) for s in shards]
    value, grads = _tree_sum(client, futures)
    return value, tuple(grads)


def sharded_jvp(f: Callable, params: Sequence, tangents: Sequence, shards: Sequence, *,
                client, backend: str | None = None) -> list:
    """The residual tangent J_s t of each shard's residual `f(*params, *shard)`, as futures
    (left where they were computed: gather them, or pass them to `sharded_vjp`)."""
    from .api import Compiled
    shards = _check(client, shards)
    g = f.py_func if isinstance(f, Compiled) else f
    return [client.submit(_jvp_shard, g, tuple(params), tuple(tangents), s, backend)
            for s in shards]


def sharded_vjp(f: Callable, params: Sequence, shards: Sequence, cotangents: Sequence, *,
                client, backend: str | None = None) -> tuple:
    """sum_s J_s^T c_s w.r.t. the parameters: one cotangent (array or future) per shard's
    residual, tree-summed. With `sharded_jvp` this gives J^T J v for Gauss-Newton."""
    from .api import Compiled
    shards = _check(client, shards)
    if len(cotangents) != len(shards):
        raise AdError(f"{len(cotangents)} cotangents for {len(shards)} shards",
                      hint="pass one cotangent per shard, shaped like its residual")
    g = f.py_func if isinstance(f, Compiled) else f
    if not _is_dask(client):   # an executor's futures are not task arguments
        cotangents = [c.result() if hasattr(c, "result") else c for c in cotangents]
    futures = [client.submit(_vjp_shard, g, tuple(params), s, c, backend)
               for s, c in zip(shards, cotangents)]
    return tuple(_tree_sum(client, futures))


def gauss_newton_product(f, params, v, shards, *, client, backend=None) -> tuple:
    """J^T J v over the sharded residual, the residual tangents staying on the workers (dask)."""
    ts = sharded_jvp(f, params, v, shards, client=client, backend=backend)
    return sharded_vjp(f, params, shards, ts, client=client, backend=backend)


__all__ = ["sum_value_and_grad", "sharded_jvp", "sharded_vjp", "gauss_newton_product"]
