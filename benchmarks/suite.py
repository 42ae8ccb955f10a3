"""The adbench suite: workloads, peers, cross-check, timing, markdown tables."""
from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ad import _gmm_vectorised, _lower_index, gmm_args, gmm_objective

NOT_INCLUDED = {
    "BA sparse Jacobian": "not yet implemented in the suite (see bench_sparse.py)",
    "LSTM gradient": "not yet implemented in the suite (see bench_ad.py lstm rows)",
    "heat gradient with checkpointing": "not yet implemented",
    "hand tracking": "not included: needs ADBench's model files and a skinning model",
}


def timeit(fn, quick: bool) -> tuple[float, float]:
    budget, ts = (0.05 if quick else 0.5), []
    start = time.perf_counter()
    while not ts or (time.perf_counter() - start < budget and len(ts) < 1000):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


def scatter_lower(d: int) -> np.ndarray:
    """(d(d-1)/2, d*d) one-hot matrix: lv @ S places the packed lower entries into L (no
    in-place writes, so autograd and JAX can differentiate it)."""
    rows, cols = _lower_index(d)
    S = np.zeros((len(rows), d * d))
    S[np.arange(len(rows)), rows * d + cols] = 1.0
    return S


def array_peer(xp, args):
    x, gamma, m = args[3:]
    d = x.shape[1]
    S = scatter_lower(d)

    def set_lower(lv, K, d):
        return (lv @ S).reshape(K, d, d)

    def f(alphas, means, icf):
        return _gmm_vectorised(xp, math.lgamma, alphas, means, icf, x, gamma, m, set_lower)
    return f


def make_tool(name: str, args):
    """(primal(), grad() -> tuple of arrays, compile_seconds) or raises ImportError."""
    diff = args[:3]
    if name == "adcompile":
        import adcompile
        t0 = time.perf_counter()
        fj = adcompile.jit(gmm_objective)
        g = adcompile.grad(gmm_objective, argnums=(0, 1, 2))
        fj(*args)
        g(*args)
        return (lambda: fj(*args)), (lambda: tuple(g(*args))), time.perf_counter() - t0
    if name == "autograd":
        import autograd
        import autograd.numpy as anp
        f = array_peer(anp, args)
        gf = [autograd.grad(f, i) for i in range(3)]
        return (lambda: f(*diff)), (lambda: tuple(gi(*diff) for gi in gf)), 0.0
    if name == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        f = array_peer(jnp, args)
        jargs = tuple(jnp.asarray(a) for a in diff)
        pf = jax.jit(f)
        vg = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2)))
        t0 = time.perf_counter()
        pf(*jargs).block_until_ready()
        jax.block_until_ready(vg(*jargs))
        ct = time.perf_counter() - t0
        return ((lambda: pf(*jargs).block_until_ready()),
                (lambda: tuple(np.asarray(v) for v in jax.block_until_ready(vg(*jargs))[1])), ct)
    if name == "torch":
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        from torch.func import grad as tgrad

        class TorchNP:  # only what _gmm_vectorised uses
            sum = staticmethod(lambda a, axis=None: torch.sum(a) if axis is None
                               else torch.sum(a, dim=axis))
            exp, log, einsum = torch.exp, torch.log, torch.einsum
            max = staticmethod(lambda a, axis=None: torch.max(a) if axis is None
                               else torch.max(a, dim=axis).values)
        x, gamma, m = args[3:]
        d = x.shape[1]
        S = torch.tensor(scatter_lower(d))
        tx = torch.tensor(x)

        def f(alphas, means, icf):
            return _gmm_vectorised(TorchNP, math.lgamma, alphas, means, icf, tx, gamma, m,
                                   lambda lv, K, d: (lv @ S).reshape(K, d, d))
        targs = tuple(torch.tensor(a) for a in diff)
        gf = tgrad(f, argnums=(0, 1, 2))
        return ((lambda: f(*targs)),
                (lambda: tuple(v.numpy() for v in gf(*targs))), 0.0)
    raise ValueError(f"unknown tool {name!r}")


PIP = {"jax": 'pip install "jax[cpu]"', "torch": "pip install torch",
       "autograd": "pip install autograd", "adcompile": "pip install -e ."}


def rel_err(a, b) -> float:
    num = max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(a, b))
    den = max(float(np.max(np.abs(np.asarray(x)))) for x in a)
    return num / max(den, 1e-300)


def machine() -> str:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    vers = []
    for mod in ("numpy", "numba", "llvmlite", "jax", "autograd", "torch"):
        try:
            vers.append(f"{mod} {importlib.metadata.version(mod)}")
        except importlib.metadata.PackageNotFoundError:
            vers.append(f"{mod} missing")
    return (f"{cpu}, {os.cpu_count()} cores, python {platform.python_version()}, "
            + ", ".join(vers))


def run_suite(tools: list[str], quick: bool, out: str,
              sizes: list[tuple[int, int]] | None = None) -> int:
    grid = [(d, K) for d in (2, 10, 20, 32, 64) for K in (5, 10, 25, 50, 100)]
    sizes = sizes or ([(2, 5)] if quick else grid)
    lines = ["# adbench suite: GMM gradient (plain loops), n=1000", "", machine(), "",
             (f"| d | K | tool | grad min ms | grad median ms | J/F | ratio to {tools[0]} "
              "| compile s |"),
             "|---|---|---|---|---|---|---|---|"]
    for d, K in sizes:
        args = gmm_args(d, K, 1000)
        made, errors = {}, {}
        for t in tools:
            try:
                made[t] = make_tool(t, args)
            except ImportError:
                errors[t] = f"missing ({PIP.get(t, 'pip install ' + t)})"
            except ValueError as e:
                errors[t] = f"ERROR: {e}"
        ref = None
        grads = {}
        for t, (_, g, _) in made.items():
            grads[t] = g()
            ref = ref if ref is not None else grads[t]
        for t in list(made):
            e = rel_err(ref, grads[t])
            if e >= 1e-8:
                errors[t] = f"ERROR: gradient differs from {tools[0]} by rel {e:.2e}"
                del made[t]
        base = None
        for t in tools:
            if t in errors:
                lines.append(f"| {d} | {K} | {t} | {errors[t]} | | | | |")
                continue
            pf, g, ct = made[t]
            gmin, gmed = timeit(g, quick)
            pmin, _ = timeit(pf, quick)
            base = base or gmin
            lines.append(f"| {d} | {K} | {t} | {gmin * 1e3:.3f} | {gmed * 1e3:.3f} | "
                         f"{gmin / pmin:.1f} | {gmin / base:.2f} | {ct:.2f} |")
    lines += ["", "Not included:"] + [f"- {k}: {v}" for k, v in NOT_INCLUDED.items()]
    text = "\n".join(lines)
    print(text)
    os.makedirs(out, exist_ok=True)
    Path(out, "adbench.md").write_text(text + "\n")
    return 0
