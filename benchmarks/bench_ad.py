"""Derivative speed: adcompile.grad / jvp / jacfwd_rows / jacfwd against the compiled primal
(adcompile.jit) and against JAX (issue 12's rows).

Run: python benchmarks/bench_ad.py [--quick] [--rows rosenbrock,heat,heat1000,gmm,gmm64,rk4,
lstm,ba,lanes,roofline]

Main table, one loop-style scalar loss per row (Rosenbrock, two heat stencils, the ADBench GMM
at two sizes, RK4, the ADBench LSTM): best-of-N time of the compiled primal, the reverse-mode
gradient and one jvp, their ratios to the primal and their targets, and, with JAX installed,
jax.jit(jax.value_and_grad(peer)) in float64 on one XLA thread with adcompile-grad / JAX. Then
the BA per-observation Jacobians (jacfwd_rows against vmap(jacfwd), bench_ad_sections.py), the
jacfwd lanes rows (k lanes against one jvp) and the GMM roofline (GFLOP/s next to a single-core
dgemm measured in the same run); the last line lists every missed target.

Nothing is timed before it is checked: the primal against a vectorised NumPy reference, every
gradient / jvp / Jacobian against central differences, and every pair of exact paths (grad and
jvp, adcompile and JAX) against each other to CROSS_TOL. A failure shows as FAILED, with the
error below the tables, and is not timed.

Timing follows ADBench: after a warm-up call (compilation is never timed), the repeat count is
doubled until one batch takes at least MIN_BATCH_S; a sample is the batch time / repeats; the
minimum over SAMPLES samples is reported.
"""
from __future__ import annotations

import math
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from pathlib import Path

import numpy as np

import adcompile

sys.path.insert(0, str(Path(__file__).resolve().parent))             # adbench_objectives
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import adbench_objectives as abo  # noqa: E402
import heat_stencil  # noqa: E402  (the README's main job)

MIN_BATCH_S = 0.05
SAMPLES = 9
ROUNDS = 2          # alternating rounds of every tool of a row (time_all)
LONG_CALL_S = 0.5
LONG_SAMPLES = 5
FD_STEP = 1e-5      # relative step of the central differences (observed AD-vs-FD error ~1e-7)
FD_TOL = 1e-5       # max relative error accepted between AD and central differences
CROSS_TOL = 1e-8    # max relative difference between two exact paths (tools, modes)
JVP_TARGET = 2.0


# -- workloads (natural loop-style code, as a user would write it) --------------------------------
def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        s += 100.0 * a * a + b * b
    return s


def heat(u0, alpha, steps):
    """Explicit heat equation, Dirichlet ends; two buffers swapped each step."""
    n = u0.shape[0]
    u = u0.copy()
    v = np.empty(n)
    for t in range(steps):
        v[0] = u[0]
        v[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            v[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, v = v, u
    s = 0.0
    for i in range(n):
        s += u[i] * u[i]
    return s


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench GMM objective (log-likelihood + Wishart prior), written with plain loops."""
    n = x.shape[0]
    d = x.shape[1]
    K = alphas.shape[0]
    sumq = np.zeros(K)
    qdiag = np.zeros((K, d))
    for k in range(K):
        s = 0.0
        for j in range(d):
            s += icf[k, j]
            qdiag[k, j] = math.exp(icf[k, j])
        sumq[k] = s
    c = np.zeros(d)
    y = np.zeros(d)
    t = np.zeros(K)
    slse = 0.0
    for i in range(n):
        for k in range(K):
            for j in range(d):
                c[j] = x[i, j] - means[k, j]
                y[j] = qdiag[k, j] * c[j]
            # strictly-lower part of Q_k, packed column by column
            idx = d
            for col in range(d):
                for row in range(col + 1, d):
                    y[row] += icf[k, idx] * c[col]
                    idx += 1
            sq = 0.0
            for j in range(d):
                sq += y[j] * y[j]
            t[k] = alphas[k] + sumq[k] - 0.5 * sq
        mx = t[0]
        for k in range(1, K):
            if t[k] > mx:
                mx = t[k]
        se = 0.0
        for k in range(K):
            se += math.exp(t[k] - mx)
        slse += mx + math.log(se)
    amx = alphas[0]
    for k in range(1, K):
        if alphas[k] > amx:
            amx = alphas[k]
    ase = 0.0
    for k in range(K):
        ase += math.exp(alphas[k] - amx)
    lse_alphas = amx + math.log(ase)
    # Wishart prior
    nprime = d + wishart_m + 1
    prior = 0.0
    for k in range(K):
        fro = 0.0
        for j in range(d):
            fro += qdiag[k, j] * qdiag[k, j]
        for j in range(d, icf.shape[1]):
            fro += icf[k, j] * icf[k, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * fro - wishart_m * sumq[k]
    lgd = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        lgd += math.lgamma(0.5 * nprime + 0.5 * (1 - j))
    cst = nprime * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - lgd
    prior -= K * cst
    return -0.5 * n * d * math.log(2.0 * math.pi) + slse - n * lse_alphas + prior


def pendulum_rhs(th, om, k, c):
    return om, -k * math.sin(th) - c * om


def rk4(k, c, steps):
    """Damped pendulum th'' = -k sin th - c th', classic RK4; returns th^2 + om^2 at the end."""
    th = 1.0
    om = 0.0
    h = 1e-4
    for s in range(steps):
        a1, b1 = pendulum_rhs(th, om, k, c)
        a2, b2 = pendulum_rhs(th + 0.5 * h * a1, om + 0.5 * h * b1, k, c)
        a3, b3 = pendulum_rhs(th + 0.5 * h * a2, om + 0.5 * h * b2, k, c)
        a4, b4 = pendulum_rhs(th + h * a3, om + h * b3, k, c)
        th = th + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
        om = om + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)
    return th * th + om * om


# -- vectorised NumPy references (check the compiled primal's value) ------------------------------
def rosenbrock_np(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def heat_np(u0, alpha, steps):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return float(np.sum(u * u))


def _lower_index(d):
    """(rows, cols) of the strictly-lower triangle in the packed column-by-column order."""
    rows, cols = [], []
    for col in range(d):
        for row in range(col + 1, d):
            rows.append(row)
            cols.append(col)
    return np.array(rows), np.array(cols)


def _gmm_vectorised(xp, lgamma, alphas, means, icf, x, gamma, m, set_lower):
    n, d = x.shape
    K = alphas.shape[0]
    q = icf[:, :d]
    sumq = xp.sum(q, axis=1)
    qdiag = xp.exp(q)
    L = set_lower(icf[:, d:], K, d)                                    # (K, d, d)
    xc = x[:, None, :] - means[None, :, :]                             # (n, K, d)
    y = qdiag[None, :, :] * xc + xp.einsum("kij,nkj->nki", L, xc)
    t = alphas[None, :] + sumq[None, :] - 0.5 * xp.sum(y * y, axis=2)  # (n, K)
    mx = xp.max(t, axis=1)
    slse = xp.sum(mx + xp.log(xp.sum(xp.exp(t - mx[:, None]), axis=1)))
    amx = xp.max(alphas)
    lse_a = amx + xp.log(xp.sum(xp.exp(alphas - amx)))
    nprime = d + m + 1
    lgd = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        lgamma(0.5 * nprime + 0.5 * (1 - j)) for j in range(1, d + 1))
    cst = nprime * d * (math.log(gamma) - 0.5 * math.log(2.0)) - lgd
    prior = xp.sum(0.5 * gamma * gamma * (xp.sum(qdiag * qdiag, axis=1)
                                          + xp.sum(icf[:, d:] ** 2, axis=1)) - m * sumq) - K * cst
    return -0.5 * n * d * math.log(2.0 * math.pi) + slse - n * lse_a + prior


def gmm_np(alphas, means, icf, x, gamma, m):
    d = x.shape[1]
    rows, cols = _lower_index(d)

    def set_lower(lv, K, d):
        L = np.zeros((K, d, d))
        L[:, rows, cols] = lv
        return L
    return float(_gmm_vectorised(np, math.lgamma, alphas, means, icf, x, gamma, m, set_lower))


def rk4_np(k, c, steps):
    return rk4(k, c, steps)   # scalar code: plain CPython is the reference


# -- JAX vectorised equivalents (optional) --------------------------------------------------------
def jax_equivalents():
    """{name: (function of the differentiated args, argnums)} or None when JAX is missing."""
    # one XLA thread, like numba's compiled code (GradBench also pins JAX to one CPU)
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=1")
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def j_rosenbrock(x):
        return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def make_heat(steps):
        def j_heat(u0, alpha):
            def body(_, u):
                return u.at[1:-1].set(u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:]))
            u = lax.fori_loop(0, steps, body, u0)
            return jnp.sum(u * u)
        return j_heat

    def make_gmm(x, gamma, m):
        d = x.shape[1]
        rows, cols = _lower_index(d)

        def set_lower(lv, K, d):
            return jnp.zeros((K, d, d)).at[:, rows, cols].set(lv)

        def j_gmm(alphas, means, icf):
            return _gmm_vectorised(jnp, math.lgamma, alphas, means, icf, x, gamma, m, set_lower)
        return j_gmm

    def make_rk4(steps):
        def j_rk4(k, c):
            h = 1e-4

            def rhs(th, om):
                return om, -k * jnp.sin(th) - c * om

            def body(_, s):
                th, om = s
                a1, b1 = rhs(th, om)
                a2, b2 = rhs(th + 0.5 * h * a1, om + 0.5 * h * b1)
                a3, b3 = rhs(th + 0.5 * h * a2, om + 0.5 * h * b2)
                a4, b4 = rhs(th + h * a3, om + h * b3)
                return (th + h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4),
                        om + h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4))
            th, om = lax.fori_loop(0, steps, body, (jnp.float64(1.0), jnp.float64(0.0)))
            return th * th + om * om
        return j_rk4

    def vg(f, argnums):
        return jax.jit(jax.value_and_grad(f, argnums=argnums))

    def gmm(args):
        return vg(make_gmm(*args[3:]), (0, 1, 2)), args[:3]
    return {"rosenbrock": lambda args: (vg(j_rosenbrock, 0), args[:1]),
            "heat": lambda args: (vg(make_heat(args[2]), (0, 1)), args[:2]),
            "heat1000": abo.jax_heat_loss,
            "gmm": gmm, "gmm64": gmm,
            "rk4": lambda args: (vg(make_rk4(args[2]), (0, 1)), args[:2]),
            "lstm": abo.jax_lstm}


# -- harness --------------------------------------------------------------------------------------
@dataclass
class Workload:
    key: str
    label: str
    f: Callable
    args: tuple
    argnums: tuple[int, ...]
    reference: Callable
    grad_target: float = 3.0            # grad / primal
    jax_target: float | None = None     # adcompile grad time / JAX value_and_grad time
    macs: float | None = None           # multiply-adds of one primal call (roofline rows)
    results: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# The clock best_time reads. Wall time is ADBench's; on an idle machine running one thread it
# equals the process CPU time. On a shared, oversubscribed machine it does not, and not evenly:
# the scheduler favours a thread that sleeps and wakes (JAX's compute thread, idle between
# calls) over one that computes without pause (a numba call on the main thread), so wall-time
# ratios there are biased towards JAX. bench_ad.py's --clock cpu reads the process CPU time
# (all threads, so JAX's worker threads are counted) instead.
CLOCK: Callable[[], float] = time.perf_counter
WALL_OVER_CPU: list[float] = []     # wall / CPU time of every timed batch: the contention seen


def best_time(fn: Callable[[], Any]) -> float:
    """Seconds per call: minimum over SAMPLES samples of an adaptively sized batch (at most
    LONG_SAMPLES when one call takes over LONG_CALL_S: those batches are long enough)."""
    t0 = CLOCK()
    fn()
    long_call = CLOCK() - t0 > LONG_CALL_S
    nsamples = min(SAMPLES, LONG_SAMPLES) if long_call else SAMPLES
    reps = 1
    while True:
        t0 = CLOCK()
        for _ in range(reps):
            fn()
        dt = CLOCK() - t0
        if dt >= MIN_BATCH_S:
            break
        reps *= 2
    samples = [dt / reps]
    for _ in range(nsamples - 1):
        w0, c0 = time.perf_counter(), time.process_time()
        t0 = CLOCK()
        for _ in range(reps):
            fn()
        samples.append((CLOCK() - t0) / reps)
        cpu = time.process_time() - c0
        if cpu > 0:
            WALL_OVER_CPU.append((time.perf_counter() - w0) / cpu)
    return min(samples)


def time_all(calls: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """best_time of each call, ROUNDS rounds that alternate the calls, the minimum of each: on a
    shared machine a burst of load then hits all tools of a row, not one, and a ratio in the
    table compares times taken side by side."""
    best = {k: float("inf") for k in calls}
    for _ in range(ROUNDS):
        for k, fn in calls.items():
            best[k] = min(best[k], best_time(fn))
    return best


def short_error(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:300]


def rel_err(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-8)


def fd_components(w: Workload, rng) -> list[tuple[int, Any]]:
    """A few (argnum, index) components to check: every scalar, 4 entries of each array."""
    comps = []
    for i in w.argnums:
        a = w.args[i]
        if isinstance(a, np.ndarray):
            flat = np.concatenate([[0, a.size - 1], rng.choice(a.size, 2, replace=False)])
            comps += [(i, np.unravel_index(int(j), a.shape)) for j in flat]
        else:
            comps.append((i, None))
    return comps


def perturbed(args: tuple, i: int, idx, delta: float) -> tuple:
    args = list(args)
    if idx is None:
        args[i] = args[i] + delta
    else:
        a = args[i].copy()
        a[idx] += delta
        args[i] = a
    return tuple(args)


@dataclass
class FDReference:
    """Central differences of a few gradient components and along one random direction,
    computed once and compared with every tool's gradient."""
    comps: list[tuple[int, Any, float, float]]     # (argnum, index, difference, error floor)
    direction: dict[int, Any]
    directional: float


def fd_reference(w: Workload, primal: Callable, rng) -> FDReference:
    """Each component's error floor is the roundoff noise of its difference (~8 eps |f| / h),
    scaled so that an error at the noise level counts as FD_TOL: at GMM d=64 some entries are
    ~1e-7 next to an objective of ~3e5."""
    f0 = abs(float(primal(*w.args)))
    comps = []
    for i, idx in fd_components(w, rng):
        x0 = w.args[i] if idx is None else w.args[i][idx]
        h = FD_STEP * max(1.0, abs(x0))
        up, down = perturbed(w.args, i, idx, h), perturbed(w.args, i, idx, -h)
        fd = (primal(*up) - primal(*down)) / (2 * h)
        comps.append((i, idx, float(fd), 8 * np.finfo(float).eps * f0 / h / FD_TOL))
    v = {i: rng.normal(size=np.shape(w.args[i])) if isinstance(w.args[i], np.ndarray) else 1.0
         for i in w.argnums}

    def shifted(s):
        return tuple(a + s * v[i] if i in v else a for i, a in enumerate(w.args))
    fd = (primal(*shifted(FD_STEP)) - primal(*shifted(-FD_STEP))) / (2 * FD_STEP)
    return FDReference(comps, v, float(fd))


def fd_error(w: Workload, ref: FDReference, grads: tuple) -> float:
    """Largest error of a gradient against the central differences (components and the
    random direction)."""
    worst = 0.0
    for i, idx, fd, floor in ref.comps:
        g = grads[w.argnums.index(i)]
        g = float(g if idx is None else g[idx])
        worst = max(worst, abs(g - fd) / max(abs(g), abs(fd), floor, 1e-8))
    ad = sum(float(np.sum(grads[w.argnums.index(i)] * t)) for i, t in ref.direction.items())
    return max(worst, rel_err(ad, ref.directional))


def check_grad(w: Workload, primal: Callable, grads: tuple, rng) -> float:
    return fd_error(w, fd_reference(w, primal, rng), grads)


def jvp_tangents(w: Workload, rng) -> tuple:
    ts = []
    for i, a in enumerate(w.args):
        if i not in w.argnums:
            ts.append(None)
        elif isinstance(a, np.ndarray):
            ts.append(rng.normal(size=a.shape))
        else:
            ts.append(1.0)
    return tuple(ts)


def check_jvp(w: Workload, primal: Callable, tangents: tuple, tangent_out: float) -> float:
    h = FD_STEP

    def shifted(s):
        return tuple(a if t is None else a + s * t for a, t in zip(w.args, tangents))
    fd = (primal(*shifted(h)) - primal(*shifted(-h))) / (2 * h)
    return rel_err(float(tangent_out), fd)


def max_rel_diff(a: Any, b: Any) -> float:
    """Largest elementwise relative difference of two results (tuples of arrays or scalars).
    Entries below 1e-15 of the largest |b| are compared at that scale: they are roundoff of the
    result's own size, and a different summation order may leave them at 1e-20 or at 0."""
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    if len(a) != len(b):
        raise AssertionError(f"{len(a)} results against {len(b)}")
    worst = 0.0
    for x, y in zip(a, b):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.shape != y.shape:
            raise AssertionError(f"shape {x.shape} against {y.shape}")
        d = np.abs(x - y)
        floor = max(1e-15 * float(np.max(np.abs(y), initial=0.0)), 1e-300)
        scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), floor)
        worst = max(worst, float(np.max(d / scale, initial=0.0)))
    return worst


def dot_tangents(grads: tuple, tangents: tuple, argnums: tuple[int, ...]) -> float:
    return sum(float(np.sum(np.asarray(grads[k]) * tangents[i])) for k, i in enumerate(argnums))


def run_workload(w: Workload, jax_eq) -> None:
    """Compute every tool's result, check them (primal against the NumPy reference, gradients
    and the jvp against central differences, the gradient against the jvp, JAX against all of
    them), and only then time what passed."""
    r = w.results
    rng = np.random.default_rng(1)
    try:
        primal = adcompile.jit(w.f)
        value = primal(*w.args)
        ref = w.reference(*w.args)
        r["primal_err"] = rel_err(float(value), ref)
        if r["primal_err"] > 1e-9:
            raise AssertionError(f"compiled primal {value!r} != reference {ref!r}")
    except Exception as e:  # noqa: BLE001 - reported in the table
        w.errors.append(f"primal: {short_error(e)}")
        r["primal_fail"] = True
        return
    grads = tout = fdref = None
    try:
        g = adcompile.grad(w.f, argnums=w.argnums)
        grads = g(*w.args)
        grads = grads if isinstance(grads, tuple) else (grads,)
        fdref = fd_reference(w, primal, rng)
        r["fd_err"] = fd_error(w, fdref, grads)
        if not r["fd_err"] <= FD_TOL:
            raise AssertionError(f"gradient disagrees with central differences "
                                 f"(max rel err {r['fd_err']:.2e} > {FD_TOL:.0e})")
    except Exception as e:  # noqa: BLE001
        w.errors.append(f"grad: {short_error(e)}")
        r["grad_fail"] = True
        grads = None
    tangents = jvp_tangents(w, rng)
    try:
        _, tout = adcompile.jvp(w.f, w.args, tangents)
        r["jvp_err"] = check_jvp(w, primal, tangents, tout)
        if not r["jvp_err"] <= FD_TOL:
            raise AssertionError(f"jvp disagrees with a central difference along the tangent "
                                 f"(rel err {r['jvp_err']:.2e} > {FD_TOL:.0e})")
    except Exception as e:  # noqa: BLE001
        w.errors.append(f"jvp: {short_error(e)}")
        r["jvp_fail"] = True
        tout = None
    if grads is not None and tout is not None:   # reverse against forward mode
        r["cross_err"] = rel_err(dot_tangents(grads, tangents, w.argnums), float(tout))
        if not r["cross_err"] <= CROSS_TOL:
            w.errors.append(f"grad . tangent != jvp (rel err {r['cross_err']:.1e} > "
                            f"{CROSS_TOL:.0e}): one of the two is wrong")
            r["grad_fail"] = r["jvp_fail"] = True
            grads = tout = None
    jax_call = None
    if jax_eq is not None and w.key in jax_eq:
        try:
            vg, jargs = jax_eq[w.key](w.args)
            val, jg = vg(*jargs)
            jg = tuple(np.asarray(x) for x in (jg if isinstance(jg, tuple) else (jg,)))
            if rel_err(float(val), float(value)) > CROSS_TOL:
                raise AssertionError(f"JAX value {float(val)!r} != adcompile's {float(value)!r}")
            if fdref is None:
                fdref = fd_reference(w, primal, np.random.default_rng(1))
            r["jax_fd"] = fd_error(w, fdref, jg)
            if not r["jax_fd"] <= FD_TOL:
                raise AssertionError(f"JAX gradient disagrees with central differences "
                                     f"({r['jax_fd']:.1e})")
            if grads is not None:
                r["jax_gerr"] = max_rel_diff(grads, jg)
                if not r["jax_gerr"] <= CROSS_TOL:
                    raise AssertionError(f"JAX and adcompile gradients differ (max rel "
                                         f"{r['jax_gerr']:.1e} > {CROSS_TOL:.0e})")

            def jax_call():
                jax_block(vg(*jargs))
        except Exception as e:  # noqa: BLE001
            w.errors.append(f"jax: {short_error(e)}")
            r["jax_fail"] = True
            jax_call = None
    # every result is checked: time what passed
    calls = {"primal": lambda: primal(*w.args)}
    if grads is not None:
        calls["grad"] = lambda: g(*w.args)
    if tout is not None:
        calls["jvp"] = lambda: adcompile.jvp(w.f, w.args, tangents)
    if jax_call is not None:
        calls["jax"] = jax_call
    r.update(time_all(calls))


def jax_block(out):
    import jax
    jax.block_until_ready(out)


def fmt_ms(r, key):
    if r.get(f"{key}_fail"):
        return "FAILED"
    return f"{r[key] * 1e3:.3f}" if key in r else "-"


def fmt_ratio(r, key, base="primal"):
    if r.get(f"{key}_fail") or r.get(f"{base}_fail"):
        return "FAILED"
    if key in r and base in r:
        return f"{r[key] / r[base]:.2f}"
    return "-"


def table(cols: list[tuple[str, int]], rows: list[list[str]]) -> None:
    def line(cells):
        return " ".join(f"{c:<{wd}s}" if i == 0 else f"{c:>{wd}s}"
                        for i, (c, (_, wd)) in enumerate(zip(cells, cols)))
    print(line([c for c, _ in cols]))
    print("-" * (sum(wd for _, wd in cols) + len(cols) - 1))
    for row in rows:
        print(line(row))


def call_overhead() -> str:
    """Per-call cost of the Python entry points on a 2-element input (part of every time above)."""
    try:
        x = np.array([0.3, 0.5])
        tx = np.ones(2)
        primal = adcompile.jit(rosenbrock)
        g = adcompile.grad(rosenbrock)
        ts = [best_time(lambda: primal(x)), best_time(lambda: g(x)),
              best_time(lambda: adcompile.jvp(rosenbrock, (x,), (tx,)))]
    except Exception as e:  # noqa: BLE001
        return f"call overhead: not measured ({short_error(e)})"
    return ("call overhead (rosenbrock on 2 elements, included in the times above): "
            f"jit {ts[0] * 1e6:.1f} us, grad {ts[1] * 1e6:.1f} us, jvp {ts[2] * 1e6:.1f} us")


def gmm_args(d: int, K: int, n: int) -> tuple:
    rng = np.random.default_rng(0)
    return (rng.normal(size=K), rng.uniform(size=(K, d)),
            rng.normal(size=(K, d * (d + 1) // 2)), rng.normal(size=(n, d)), 1.0, 0)


def make_workloads() -> list[Workload]:
    """The four original workloads with their inputs (fixed seed); also used by
    bench_llvm.py."""
    rng = np.random.default_rng(0)
    d, K, n = 10, 25, 1000
    gmm_a = (rng.normal(size=K), rng.uniform(size=(K, d)),
             rng.normal(size=(K, d * (d + 1) // 2)), rng.normal(size=(n, d)), 1.0, 0)
    return [
        Workload("rosenbrock", "rosenbrock loop n=1e4", rosenbrock,
                 (rng.uniform(-1.0, 1.0, size=10_000),), (0,), rosenbrock_np),
        Workload("heat", "heat stencil n=1e4 x100 steps", heat,
                 (rng.normal(size=10_000), 0.2, 100), (0, 1), heat_np),
        Workload("gmm", "GMM loops d=10 K=25 n=1000", gmm_objective, gmm_a, (0, 1, 2), gmm_np),
        Workload("rk4", "RK4 pendulum 1e5 steps", rk4, (4.0, 0.1, 100_000), (0, 1), rk4_np),
    ]


def heat_readme_args(n: int, steps: int) -> tuple:
    """examples/heat_stencil.py's main job: data from alpha = 0.21, evaluated at 0.15."""
    x = np.linspace(0.0, 1.0, n)
    u0 = np.exp(-100.0 * (x - 0.5) ** 2)
    return (u0, 0.15, heat_stencil.simulate(u0, 0.21, steps), steps)


def heat_loss_np(u0, alpha, data, steps):
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return float(0.5 * np.sum((u - data) ** 2))


def all_workloads(quick: bool) -> list[Workload]:
    """Every scalar-output row of the table, at full size or (quick) small sizes."""
    rng = np.random.default_rng(0)
    n_ros, (n_h, s_h), (n_r, s_r) = (10_000, (10_000, 100), (1000, 200)) if not quick else \
        (1000, (1000, 20), (200, 40))
    g1, g2 = ((10, 25, 1000), (64, 100, 1000)) if not quick else ((10, 25, 100), (16, 20, 100))
    lstm_c = 64 if quick else 1024
    rk_steps = 10_000 if quick else 100_000
    ws = [
        Workload("rosenbrock", f"rosenbrock loop n={n_ros}", rosenbrock,
                 (rng.uniform(-1.0, 1.0, size=n_ros),), (0,), rosenbrock_np),
        Workload("heat", f"heat stencil n={n_h} x{s_h}", heat,
                 (rng.normal(size=n_h), 0.2, s_h), (0, 1), heat_np),
        Workload("heat1000", f"heat README loss n={n_r} x{s_r}", heat_stencil.loss,
                 heat_readme_args(n_r, s_r), (0, 1), heat_loss_np, grad_target=4.0,
                 jax_target=1.0),
    ]
    for key, (d, K, n) in (("gmm", g1), ("gmm64", g2)):
        ws.append(Workload(key, f"GMM loops d={d} K={K} n={n}", gmm_objective, gmm_args(d, K, n),
                           (0, 1, 2), gmm_np, grad_target=2.5, jax_target=1.0,
                           macs=n * K * d * d / 2))
    ws += [
        Workload("rk4", f"RK4 pendulum {rk_steps} steps", rk4, (4.0, 0.1, rk_steps), (0, 1),
                 rk4_np),
        Workload("lstm", f"LSTM loops l=2 c={lstm_c}", abo.lstm_objective,
                 abo.lstm_inputs(2, lstm_c), (0, 1), abo.lstm_np, jax_target=0.33),
    ]
    return ws


ROW_KEYS = ("rosenbrock", "heat", "heat1000", "gmm", "gmm64", "rk4", "lstm", "ba", "lanes",
            "roofline")


def parse_args(argv: list[str]):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes and 3 short batches: a smoke run, not a measurement")
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                   help="cpu: process CPU time (default; robust on a shared machine), wall: "
                        "wall-clock time (ADBench's; use it on an idle machine)")
    p.add_argument("--rows", default="all",
                   help=f"comma-separated subset of {','.join(ROW_KEYS)} (default: all)")
    args = p.parse_args(argv)
    rows = ROW_KEYS if args.rows == "all" else tuple(s.strip() for s in args.rows.split(","))
    bad = [s for s in rows if s not in ROW_KEYS]
    if bad:
        p.error(f"unknown rows {bad}; choose from {', '.join(ROW_KEYS)}")
    return args.quick, rows, args.clock


def main(argv: list[str] | None = None) -> None:
    global MIN_BATCH_S, SAMPLES, ROUNDS, CLOCK
    quick, rows, clock = parse_args(sys.argv[1:] if argv is None else argv)
    CLOCK = time.process_time if clock == "cpu" else time.perf_counter
    print(f"clock: {'process CPU time' if clock == 'cpu' else 'wall-clock time'}")
    if quick:
        MIN_BATCH_S, SAMPLES, ROUNDS = 0.01, 3, 1
    import bench_ad_sections as sections
    jax_eq = jax_equivalents()
    if jax_eq is None:
        print("(JAX not installed: the JAX columns are skipped)")
    workloads = [w for w in all_workloads(quick) if w.key in rows]
    for w in workloads:
        t0 = time.perf_counter()
        try:
            run_workload(w, jax_eq)
        except Exception as e:  # noqa: BLE001 - never let one workload stop the table
            w.errors.append(f"harness: {short_error(e)}")
            traceback.print_exc()
        print(f"  [{w.label}: done in {time.perf_counter() - t0:.1f} s incl. compilation]",
              file=sys.stderr)
    misses: list[str] = []
    if workloads:
        print_main_table(workloads, jax_eq is not None, misses)
    extra = []
    if "ba" in rows:
        extra.append(sections.section_ba(quick, jax_eq is not None, misses))
    if "lanes" in rows:
        extra.append(sections.section_lanes(quick, misses))
    if "roofline" in rows:
        sections.section_roofline(workloads)
    if workloads:
        print()
        print(call_overhead())
    if WALL_OVER_CPU:
        q = np.percentile(WALL_OVER_CPU, [0, 50, 100])
        print(f"contention: wall / CPU time of the timed batches: min {q[0]:.2f}, median "
              f"{q[1]:.2f}, max {q[2]:.2f} (1 = the process had a core to itself)")
    print()
    print("over target: " + (", ".join(misses) if misses else "none"))
    print_failures(workloads, [e for es in extra for e in es])


def print_main_table(workloads: list[Workload], with_jax: bool, misses: list[str]) -> None:
    cols = [("workload", 30), ("primal ms", 10), ("grad ms", 10), ("grad/pr", 8),
            ("target", 6), ("jvp ms", 10), ("jvp/pr", 7), ("FD relerr", 10)]
    if with_jax:
        cols += [("jax vg ms", 10), ("ad/jax", 7), ("target", 6)]
    rows = []
    for w in workloads:
        r = w.results
        fds = [r[k] for k in ("fd_err", "jvp_err") if k in r]
        row = [w.label, fmt_ms(r, "primal"), fmt_ms(r, "grad"), fmt_ratio(r, "grad"),
               f"{w.grad_target:g}", fmt_ms(r, "jvp"), fmt_ratio(r, "jvp"),
               "FAILED" if r.get("grad_fail") or r.get("jvp_fail") or r.get("primal_fail")
               else (f"{max(fds):.1e}" if fds else "-")]
        if with_jax:
            row += [fmt_ms(r, "jax"),
                    "FAILED" if r.get("jax_fail") or r.get("grad_fail")
                    else (f"{r['grad'] / r['jax']:.2f}" if "jax" in r and "grad" in r else "-"),
                    "-" if w.jax_target is None else f"{w.jax_target:g}"]
        rows.append(row)
        if "grad" in r and r["grad"] / r["primal"] > w.grad_target:
            misses.append(f"{w.key} grad/primal {r['grad'] / r['primal']:.2f} > "
                          f"{w.grad_target:g}")
        if "jvp" in r and r["jvp"] / r["primal"] > JVP_TARGET:
            misses.append(f"{w.key} jvp/primal {r['jvp'] / r['primal']:.2f} > {JVP_TARGET:g}")
        if w.jax_target is not None and "grad" in r and "jax" in r \
                and r["grad"] / r["jax"] > w.jax_target:
            misses.append(f"{w.key} grad/jax {r['grad'] / r['jax']:.2f} > {w.jax_target:g}")
        for k in ("primal", "grad", "jvp") + (("jax",) if with_jax else ()):
            if r.get(f"{k}_fail"):
                misses.append(f"{w.key} {k} FAILED")
    print()
    table(cols, rows)
    print()
    print(f"times: best of {ROUNDS} alternating rounds x {SAMPLES} batches of >= "
          f"{MIN_BATCH_S * 1e3:.0f} ms ({LONG_SAMPLES} for calls over {LONG_CALL_S:g} s), "
          f"compilation excluded. targets: grad/primal as listed, jvp/primal <= {JVP_TARGET:g}.")
    print(f"checks before timing: FD relerr = largest error of the gradient (a few components "
          f"and one random direction) and of the jvp against central differences (> "
          f"{FD_TOL:.0e}: FAILED); grad . tangent must equal the jvp to {CROSS_TOL:.0e}.")
    if with_jax:
        print("ad/jax: adcompile.grad time / jax.jit(jax.value_and_grad(peer)) time, float64; "
              "peers: vectorised NumPy-style code, lax.scan for the README heat loss and the "
              "LSTM, lax.fori_loop elsewhere; "
              f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}.")
        print(f"JAX must match adcompile's value and gradient to {CROSS_TOL:.0e} (elementwise "
              "relative) and central differences, else FAILED. Largest differences: "
              + ", ".join(f"{w.key} {w.results['jax_gerr']:.0e}" for w in workloads
                          if "jax_gerr" in w.results))


def print_failures(workloads, extra: list[str] = ()) -> None:
    failed = [f"{w.label}: {e}" for w in workloads for e in w.errors] + list(extra)
    if failed:
        print("\nFAILURES:")
        for e in failed:
            print(f"  {e}")


if __name__ == "__main__":
    # one module object whether run as a script or imported by the sections (their
    # `import bench_ad` must see the SAMPLES that --quick sets)
    sys.modules.setdefault("bench_ad", sys.modules[__name__])
    main()
