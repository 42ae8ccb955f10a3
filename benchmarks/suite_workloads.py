"""The workloads of the adbench suite (benchmarks/suite.py) and each tool's implementation of
them.

A workload names its sizes, builds its inputs for one size and, for each tool, the two timed
calls (primal and gradient) with the seconds the tool spent compiling them. Every tool computes
the same gradient with respect to the same arguments, so the suite can compare them entry by
entry. Peers are written the way their users write them: whole-array code, `lax.scan` for the
time loops of JAX. A tool that cannot be imported raises ImportError (a "missing" row);
`Skipped` and `NotImplementedError` give rows that say why there is no time.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import adbench_objectives as abo
import bundle_adjustment as bal
import heat_stencil  # the README's main job: the loss of a heat simulation
from bench_ad import _gmm_vectorised, _lower_index, gmm_args, gmm_objective

Grads = tuple[np.ndarray, ...]
HEAT_POLICY = "sqrt"          # adcompile's checkpoint policy; the JAX peer segments the same way
AUTOGRAD_MAX_STEPS = 10_000   # autograd records every step of a Python loop: heat beyond is skipped


class Skipped(Exception):
    """A tool that exists but is not run at this size; the message says why."""


@dataclass
class Tool:
    primal: Callable[[], Any]
    grad: Callable[[], Grads]
    compile_s: float
    # the value cross-checked, when the timed `grad` returns something else (a sparse matrix,
    # per-observation blocks); None: grad()'s result
    check: Callable[[], Grads] | None = None
    note: str = ""                             # a line under the table (e.g. colours found)


@dataclass
class Workload:
    key: str                                   # file stem of the plot
    title: str
    size_names: tuple[str, ...]                # the size columns of the table
    sizes: list[tuple[int, ...]]
    quick_sizes: list[tuple[int, ...]]
    make_args: Callable[[tuple[int, ...]], tuple]
    make_tool: Callable[[str, tuple], Tool]
    cost: Callable[[tuple[int, ...]], float]   # x axis of the plots
    cost_label: str
    # gradients computed only to check the tools against (name -> gradient), never timed
    checks: Callable[[tuple], dict[str, Grads]] = lambda args: {}
    # workloads with the same peer_group and size share their peers' measurements
    peer_group: str | None = None
    # join a tool's points by lines (False for a grid of sizes, whose cost order zigzags)
    plot_lines: bool = True
    notes: list[str] = field(default_factory=list)


def timed_first_calls(*calls: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    for c in calls:
        c()
    return time.perf_counter() - t0


def adcompile_tool(f: Callable, args: tuple, argnums: tuple[int, ...], **grad_kw) -> Tool:
    import adcompile
    fj = adcompile.jit(f)
    g = adcompile.grad(f, argnums=argnums, **grad_kw)
    ct = timed_first_calls(lambda: fj(*args), lambda: g(*args))
    return Tool(lambda: fj(*args), lambda: tuple(g(*args)), ct)


def jax_setup():
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_tool(f: Callable, diff: tuple, argnums: tuple[int, ...]) -> Tool:
    """jit(f) and jit(value_and_grad(f)); compile time = the first call of each."""
    jax = jax_setup()
    import jax.numpy as jnp
    jargs = tuple(jnp.asarray(a) for a in diff)
    pf = jax.jit(f)
    vg = jax.jit(jax.value_and_grad(f, argnums=argnums))
    ct = timed_first_calls(lambda: pf(*jargs).block_until_ready(),
                           lambda: jax.block_until_ready(vg(*jargs)))
    return Tool(lambda: pf(*jargs).block_until_ready(),
                lambda: tuple(np.asarray(v) for v in jax.block_until_ready(vg(*jargs))[1]), ct)


def autograd_tool(f: Callable, diff: tuple, argnums: tuple[int, ...]) -> Tool:
    import autograd
    gf = autograd.grad(f, argnum=tuple(argnums))
    return Tool(lambda: f(*diff), lambda: tuple(np.asarray(v) for v in gf(*diff)), 0.0)


def torch_missing_or_unimplemented(name: str):
    if name == "torch":
        import torch  # noqa: F401  (ImportError: a "missing" row)
    raise NotImplementedError(name)


# == GMM (ADBench 1.1) ===========================================================================
GMM_GRID = [(d, K) for d in (2, 10, 20, 32, 64) for K in (5, 10, 25, 50, 100)]
GMM_N = 1000


def scatter_lower(d: int) -> np.ndarray:
    """(d(d-1)/2, d*d) one-hot matrix: lv @ S places the packed lower entries into L (no
    in-place writes, so autograd and JAX can differentiate it)."""
    rows, cols = _lower_index(d)
    S = np.zeros((len(rows), d * d))
    S[np.arange(len(rows)), rows * d + cols] = 1.0
    return S


def gmm_array_peer(xp, args):
    x, gamma, m = args[3:]
    S = scatter_lower(x.shape[1])

    def set_lower(lv, K, d):
        return (lv @ S).reshape(K, d, d)

    def f(alphas, means, icf):
        return _gmm_vectorised(xp, math.lgamma, alphas, means, icf, x, gamma, m, set_lower)
    return f


def gmm_torch(args) -> Tool:
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
    S = torch.tensor(scatter_lower(x.shape[1]))
    tx = torch.tensor(x)

    def f(alphas, means, icf):
        return _gmm_vectorised(TorchNP, math.lgamma, alphas, means, icf, tx, gamma, m,
                               lambda lv, K, d: (lv @ S).reshape(K, d, d))
    targs = tuple(torch.tensor(a) for a in args[:3])
    gf = tgrad(f, argnums=(0, 1, 2))
    return Tool(lambda: f(*targs), lambda: tuple(v.numpy() for v in gf(*targs)), 0.0)


def gmm_maker(adcompile_fn: Callable) -> Callable[[str, tuple], Tool]:
    def make(name: str, args: tuple) -> Tool:
        diff = args[:3]
        if name == "adcompile":
            return adcompile_tool(adcompile_fn, args, (0, 1, 2))
        if name == "jax":
            jax_setup()
            import jax.numpy as jnp
            return jax_tool(gmm_array_peer(jnp, args), diff, (0, 1, 2))
        if name == "autograd":
            import autograd.numpy as anp
            return autograd_tool(gmm_array_peer(anp, args), diff, (0, 1, 2))
        if name == "torch":
            return gmm_torch(args)
        raise ValueError(f"unknown tool {name!r}")
    return make


def gmm_loop_check(args) -> dict[str, Grads]:
    import adcompile
    return {"adcompile, loop style": tuple(adcompile.grad(gmm_objective, argnums=(0, 1, 2))(*args))}


def gmm_workloads() -> list[Workload]:
    common: dict[str, Any] = {
        "size_names": ("d", "K"), "sizes": GMM_GRID, "quick_sizes": [(2, 5)],
        "make_args": lambda s: gmm_args(s[0], s[1], GMM_N),
        "cost": lambda s: GMM_N * s[1] * s[0] * s[0] / 2,
        "cost_label": "n K d^2 / 2 (multiply-adds of the triangular products)",
        "peer_group": "gmm", "plot_lines": False}
    peers = ("Peers (jax.jit(value_and_grad), autograd, torch.func.grad) run the whole-array "
             "formula with the packed lower triangle placed by a one-hot matrix product.")
    return [
        Workload("gmm_loops", f"GMM gradient, plain loops (n = {GMM_N})",
                 make_tool=gmm_maker(gmm_objective),
                 notes=[("adcompile: `bench_ad.gmm_objective`, ADBench's pseudo-code as nested "
                        "loops."), peers], **common),
        Workload("gmm_numpy", f"GMM gradient, whole-array NumPy (n = {GMM_N})",
                 make_tool=gmm_maker(abo.gmm_objective_numpy), checks=gmm_loop_check,
                 notes=[("adcompile: `adbench_objectives.gmm_objective_numpy`, arrays over all "
                        "points and components, `np.einsum` for the triangular products, the "
                        "lower triangles filled one column slice at a time."),
                        ("Also checked against adcompile's loop-style gradient (not timed). "
                        "The peer rows are the measurements of the loop-style table (same "
                        "peer code, same inputs)."), peers], **common),
    ]


# == LSTM (ADBench 1.3) ==========================================================================
def lstm_peer(xp, args, steps):
    state, sequence = args[2], args[3]

    def f(main_params, extra_params):
        return abo._lstm_vectorised(xp, main_params, extra_params, state, sequence, steps)
    return f


def python_steps(body, carry, xs):
    total = 0.0
    for t in range(xs.shape[0]):
        carry, v = body(carry, xs[t])
        total = total + v
    return total


def make_lstm_tool(name: str, args: tuple) -> Tool:
    if name == "adcompile":
        return adcompile_tool(abo.lstm_objective, args, (0, 1))
    if name == "jax":
        jax_setup()
        import jax.numpy as jnp
        from jax import lax
        jstate = (jnp.asarray(args[2]), jnp.asarray(args[3]))

        def scan_steps(body, carry, xs):
            _, vals = lax.scan(body, carry, xs)
            return jnp.sum(vals)
        return jax_tool(lstm_peer(jnp, (None, None) + jstate, scan_steps), args[:2], (0, 1))
    if name == "autograd":
        import autograd.numpy as anp
        return autograd_tool(lstm_peer(anp, args, python_steps), args[:2], (0, 1))
    if name == "torch":
        torch_missing_or_unimplemented(name)
    raise ValueError(f"unknown tool {name!r}")


def lstm_workload() -> Workload:
    return Workload(
        "lstm", "LSTM gradient (ADBench's diagonal LSTM, b = 14)", ("l", "c"),
        sizes=[(2, 1024), (2, 4096), (4, 1024), (4, 4096)], quick_sizes=[(2, 256)],
        make_args=lambda s: abo.lstm_inputs(s[0], s[1]), make_tool=make_lstm_tool,
        cost=lambda s: s[0] * s[1], cost_label="l c (layer-steps)",
        notes=[("adcompile: `adbench_objectives.lstm_objective` (loops over steps, layers and "
               "bits); gradient w.r.t. main and extra parameters."),
               ("JAX: the same cell on whole rows with `lax.scan` over the steps; autograd: "
               "the same code with a Python loop over the steps.")])


# == heat equation, long time loop with checkpointing ============================================
def heat_args(size: tuple[int, ...]) -> tuple:
    """examples/heat_stencil.py's inverse problem: data simulated with alpha = 0.21 (vectorised
    NumPy), the loss evaluated at alpha = 0.15."""
    n, steps = size
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-100.0 * (x - 0.5) ** 2)
    data = u0.copy()
    for _ in range(steps):
        data[1:-1] = data[1:-1] + 0.21 * (data[:-2] - 2.0 * data[1:-1] + data[2:])
    return (u0, 0.15, data, steps)


def jax_heat_loss(data, steps: int):
    """The loss with sqrt(steps)-step segments under jax.checkpoint: the same memory class
    and the same one extra forward run as adcompile's "sqrt" policy."""
    jax = jax_setup()
    import jax.numpy as jnp
    from jax import lax
    seg = math.isqrt(steps - 1) + 1        # ceil(sqrt(steps)), steps >= 1
    nseg, rem = divmod(steps, seg)

    def f(u0, alpha):
        def step(u, _):
            return u.at[1:-1].set(u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])), None

        @jax.checkpoint
        def segment(u, _):
            return lax.scan(step, u, None, length=seg)[0], None
        u = lax.scan(segment, u0, None, length=nseg)[0]
        u = lax.scan(step, u, None, length=rem)[0]
        return 0.5 * jnp.sum((u - data) ** 2)
    return f


def autograd_heat_loss(data, steps: int):
    import autograd.numpy as anp

    def f(u0, alpha):
        u = u0
        for _ in range(steps):
            u = anp.concatenate([u[:1], u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:]),
                                 u[-1:]])
        return 0.5 * anp.sum((u - data) ** 2)
    return f


def make_heat_tool(name: str, args: tuple) -> Tool:
    data, steps = args[2], args[3]
    if name == "adcompile":
        return adcompile_tool(heat_stencil.loss, args, (0, 1), checkpoint=HEAT_POLICY)
    if name == "jax":
        jax_setup()
        import jax.numpy as jnp
        return jax_tool(jax_heat_loss(jnp.asarray(data), steps), args[:2], (0, 1))
    if name == "autograd":
        import autograd  # noqa: F401
        if steps > AUTOGRAD_MAX_STEPS:
            raise Skipped(f"over {AUTOGRAD_MAX_STEPS:,} steps (a Python loop recording every "
                          "step's arrays)")
        return autograd_tool(autograd_heat_loss(data, steps), args[:2], (0, 1))
    if name == "torch":
        torch_missing_or_unimplemented(name)
    raise ValueError(f"unknown tool {name!r}")


def heat_workload() -> Workload:
    return Workload(
        "heat", f'Heat-equation gradient, checkpointing "{HEAT_POLICY}"', ("n", "steps"),
        sizes=[(1000, 1_000), (1000, 10_000), (1000, 100_000)], quick_sizes=[(1000, 1_000)],
        make_args=heat_args, make_tool=make_heat_tool,
        cost=lambda s: s[0] * s[1], cost_label="n steps (stencil updates)",
        notes=[("adcompile: `examples/heat_stencil.py`'s `loss` (two buffers swapped each "
               f"step), `grad(loss, argnums=(0, 1), checkpoint=\"{HEAT_POLICY}\")`: "
               "ceil(sqrt(steps))-step segments, one snapshot each, each segment re-run once."),
               ("JAX: `lax.scan` over segments of a `jax.checkpoint`-ed inner `lax.scan` of the "
               "same length (the same schedule); autograd: a Python loop, only up to "
               f"{AUTOGRAD_MAX_STEPS:,} steps."),
               "Gradient w.r.t. the initial condition u0 and the diffusion number alpha."])


# == bundle adjustment (ADBench 1.2), sparse Jacobian =============================================
BA1 = (49, 7776, 31843)            # ADBench's ba1, BAL "problem-49-7776-pre" (shape only)
DUBROVNIK16 = bal.DUBROVNIK16      # BAL Dubrovnik problem-16-22106-pre (shape only)


def ba_args(size: tuple[int, ...]) -> tuple:
    """examples/bundle_adjustment.py's synthetic BAL-like problem of this shape (its number of
    observations is random around the target) and its start x0."""
    prob, _ = bal.synthetic_problem(*size)
    return (prob.x0(), *prob.args())


def csr_check(J, args: tuple) -> Grads:
    """What the BA tools are compared by: J's entries on the pattern written from the index
    arrays, and the largest |entry| off it (0 for a correct Jacobian). The dense matrix for
    small problems."""
    x, obs_cam, obs_pt, obs_xy, ncam = args
    if J.shape[0] * J.shape[1] <= 10_000_000:         # the --quick size
        return (J.toarray(),)
    import scipy.sparse as sps
    P = bal.index_sparsity(bal.BALProblem(x[:9 * ncam].reshape(ncam, 9),
                                          x[9 * ncam:].reshape(-1, 3), obs_cam, obs_pt,
                                          obs_xy)).tocoo()
    vals = np.asarray(J[P.row, P.col]).ravel()
    off = (J - sps.csr_matrix((vals, (P.row, P.col)), shape=J.shape)).tocsr()
    off.eliminate_zeros()
    return (vals, np.array([np.max(np.abs(off.data)) if off.nnz else 0.0]))


def ba_adcompile(args: tuple) -> Tool:
    import adcompile
    fj = adcompile.jit(bal.residual)
    J_of = adcompile.jacobian(bal.residual, argnums=0, sparse=True)
    ct = timed_first_calls(lambda: fj(*args), lambda: J_of(*args))
    note = (f"{args[1].size} observations; adcompile: {J_of.ncolors} colours ({J_of.coloring.mode} colouring), "
            f"{J_of.sparsity.nnz} nonzeros; pattern and colouring found in the first call "
            "(in compile s), reused by the timed calls")
    return Tool(lambda: fj(*args), lambda: J_of(*args), ct,
                check=lambda: csr_check(J_of(*args), args), note=note)


def jax_ba_per_obs():
    """One observation's two reprojection errors from its camera (9) and point (3): BAL's
    model as in `bundle_adjustment.residual`, the small-angle branch by `where` (with a safe
    square root so its derivative is finite there)."""
    jax_setup()
    import jax.numpy as jnp

    def per_obs(cam, X, xy):
        w = cam[:3]
        th2 = jnp.sum(w * w)
        big = th2 > 2.220446049250313e-16
        th = jnp.sqrt(jnp.where(big, th2, 1.0))
        a = w / th
        ct, st = jnp.cos(th), jnp.sin(th)
        rod = X * ct + jnp.cross(a, X) * st + a * jnp.dot(a, X) * (1.0 - ct)
        P = jnp.where(big, rod, X + jnp.cross(w, X)) + cam[3:6]
        p = -P[:2] / P[2]
        rr = jnp.dot(p, p)
        return cam[6] * (1.0 + cam[7] * rr + cam[8] * rr * rr) * p - xy
    return per_obs


def ba_jax(args: tuple) -> Tool:
    """jit(vmap(jacfwd(per_obs, argnums=(0, 1)))) over the observations: the (nobs, 2, 9)
    camera and (nobs, 2, 3) point blocks (timed), scattered into the CSR for the check."""
    jax = jax_setup()
    import jax.numpy as jnp
    import scipy.sparse as sps
    x, obs_cam, obs_pt, obs_xy, ncam = args
    per_obs = jax_ba_per_obs()
    jc, jp, jxy = jnp.asarray(obs_cam), jnp.asarray(obs_pt), jnp.asarray(obs_xy)
    jx = jnp.asarray(x)

    def split(x):
        return x[:9 * ncam].reshape(ncam, 9)[jc], x[9 * ncam:].reshape(-1, 3)[jp]

    @jax.jit
    def res(x):
        return jax.vmap(per_obs)(*split(x), jxy).ravel()

    @jax.jit
    def blocks(x):
        return jax.vmap(jax.jacfwd(per_obs, argnums=(0, 1)))(*split(x), jxy)

    ct = timed_first_calls(lambda: res(jx).block_until_ready(),
                           lambda: jax.block_until_ready(blocks(jx)))
    nobs = obs_cam.size
    cols = np.concatenate([obs_cam[:, None] * 9 + np.arange(9),
                           9 * ncam + obs_pt[:, None] * 3 + np.arange(3)], axis=1)
    indices = np.repeat(cols[:, None, :], 2, axis=1).ravel()   # sorted within each row
    indptr = np.arange(0, 24 * nobs + 1, 12)

    def assemble():
        Jc, Jp = blocks(jx)
        data = np.concatenate([np.asarray(Jc), np.asarray(Jp)], axis=2).ravel()
        return sps.csr_matrix((data, indices, indptr), shape=(2 * nobs, x.size))
    return Tool(lambda: res(jx).block_until_ready(),
                lambda: jax.block_until_ready(blocks(jx)), ct,
                check=lambda: csr_check(assemble(), args))


def make_ba_tool(name: str, args: tuple) -> Tool:
    if name == "adcompile":
        return ba_adcompile(args)
    if name == "jax":
        return ba_jax(args)
    if name in ("autograd", "torch"):
        __import__(name)        # ImportError: a "missing" row
        raise NotImplementedError(name)
    raise ValueError(f"unknown tool {name!r}")


def ba_workload() -> Workload:
    return Workload(
        "ba", "BA sparse Jacobian (BAL camera model, synthetic problems)",
        ("cameras", "points", "obs. target"), sizes=[BA1, DUBROVNIK16],
        quick_sizes=[(8, 500, 2000)], make_args=ba_args, make_tool=make_ba_tool,
        cost=lambda s: s[2], cost_label="observations (target)",
        notes=[("adcompile: `examples/bundle_adjustment.py`'s `residual` (one loop over the "
               "observations), `jacobian(residual, argnums=0, sparse=True)`: a CSR matrix "
               "(2 nobs x 9 ncam + 3 npt) from one vector-forward pass with a lane per colour "
               "of the detected pattern; primal = `jit(residual)`."),
               ("JAX: a per-observation residual, `jit(vmap(jacfwd(per_obs, argnums=(0, 1))))` "
               "over the observations (camera and point gathered inside the jit); the time is "
               "that call's (nobs, 2, 9) and (nobs, 2, 3) blocks, their scatter into the same "
               "CSR (for the check) is not timed; primal = `jit(vmap(per_obs))`."),
               ("Problems: `bundle_adjustment.synthetic_problem` of ba1's (49/7776/31843) and "
               "Dubrovnik-16's (16/22106/83718) shape; the observation count is random "
               "around the target. Checked: both CSRs entry by entry (dense for small "
               "problems, else on the index-built pattern plus the largest entry off it).")])


def all_workloads() -> list[Workload]:
    return gmm_workloads() + [lstm_workload(), heat_workload(), ba_workload()]
