"""Derivative speed: adcompile.grad / adcompile.jvp against the compiled primal (adcompile.jit).

Run: python benchmarks/bench_ad.py

For four loop-style workloads (Rosenbrock, a heat-equation stencil, the ADBench GMM objective
and an RK4 time-stepping loop) this prints the best-of-N time of the compiled primal, of the
reverse-mode gradient and of one forward-mode jvp, and the ratios derivative / primal (targets:
grad <= 3x, jvp <= 2x). Before any derivative time is reported, the gradient is checked against
central finite differences on a few components and the jvp against a central difference along
its tangent; a derivative that fails its check, or fails to compile or run, is reported as
FAILED (with the error below the table) instead of a time.

If JAX is installed, the last columns time jax.jit(jax.value_and_grad(vectorised equivalent))
in float64 and print adcompile-grad-time / jax-time. JAX is optional.

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

import numpy as np

import adcompile

MIN_BATCH_S = 0.05
SAMPLES = 9
FD_STEP = 1e-5      # relative step of the central differences (observed AD-vs-FD error ~1e-7)
FD_TOL = 1e-5       # max relative error accepted between AD and central differences


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

    return {"rosenbrock": lambda args: (vg(j_rosenbrock, 0), args[:1]),
            "heat": lambda args: (vg(make_heat(args[2]), (0, 1)), args[:2]),
            "gmm": lambda args: (vg(make_gmm(*args[3:]), (0, 1, 2)), args[:3]),
            "rk4": lambda args: (vg(make_rk4(args[2]), (0, 1)), args[:2])}


# -- harness --------------------------------------------------------------------------------------
@dataclass
class Workload:
    key: str
    label: str
    f: Callable
    args: tuple
    argnums: tuple[int, ...]
    reference: Callable
    results: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def best_time(fn: Callable[[], Any]) -> float:
    """Seconds per call: minimum over SAMPLES samples of an adaptively sized batch."""
    fn()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        dt = time.perf_counter() - t0
        if dt >= MIN_BATCH_S:
            break
        reps *= 2
    samples = [dt / reps]
    for _ in range(SAMPLES - 1):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - t0) / reps)
    return min(samples)


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


def check_grad(w: Workload, primal: Callable, grads: tuple, rng) -> float:
    worst = 0.0
    for i, idx in fd_components(w, rng):
        x0 = w.args[i] if idx is None else w.args[i][idx]
        h = FD_STEP * max(1.0, abs(x0))
        up, down = perturbed(w.args, i, idx, h), perturbed(w.args, i, idx, -h)
        fd = (primal(*up) - primal(*down)) / (2 * h)
        g = grads[w.argnums.index(i)]
        worst = max(worst, rel_err(float(g if idx is None else g[idx]), fd))
    return worst


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


def run_workload(w: Workload, jax_eq) -> None:
    r = w.results
    rng = np.random.default_rng(1)
    # primal
    try:
        primal = adcompile.jit(w.f)
        value = primal(*w.args)
        ref = w.reference(*w.args)
        r["primal_err"] = rel_err(float(value), ref)
        if r["primal_err"] > 1e-9:
            raise AssertionError(f"compiled primal {value!r} != reference {ref!r}")
        r["primal"] = best_time(lambda: primal(*w.args))
    except Exception as e:  # noqa: BLE001 - reported in the table
        w.errors.append(f"primal: {short_error(e)}")
        r["primal_fail"] = True
        return
    # reverse mode
    try:
        g = adcompile.grad(w.f, argnums=w.argnums)
        grads = g(*w.args)
        r["fd_err"] = check_grad(w, primal, grads, rng)
        if not r["fd_err"] <= FD_TOL:
            raise AssertionError(f"gradient disagrees with central differences "
                                 f"(max rel err {r['fd_err']:.2e} > {FD_TOL:.0e})")
        r["grad"] = best_time(lambda: g(*w.args))
        r["grads"] = grads
    except Exception as e:  # noqa: BLE001
        w.errors.append(f"grad: {short_error(e)}")
        r["grad_fail"] = True
    # forward mode
    try:
        tangents = jvp_tangents(w, rng)
        _, tout = adcompile.jvp(w.f, w.args, tangents)
        r["jvp_err"] = check_jvp(w, primal, tangents, tout)
        if not r["jvp_err"] <= FD_TOL:
            raise AssertionError(f"jvp disagrees with a central difference along the tangent "
                                 f"(rel err {r['jvp_err']:.2e} > {FD_TOL:.0e})")
        r["jvp"] = best_time(lambda: adcompile.jvp(w.f, w.args, tangents))
    except Exception as e:  # noqa: BLE001
        w.errors.append(f"jvp: {short_error(e)}")
        r["jvp_fail"] = True
    # JAX
    if jax_eq is not None:
        try:
            vg, jargs = jax_eq[w.key](w.args)
            val, jg = vg(*jargs)
            jg = jg if isinstance(jg, tuple) else (jg,)
            if rel_err(float(val), float(value)) > 1e-9:
                raise AssertionError(f"JAX value {float(val)!r} != {float(value)!r}")
            if "grads" in r:
                mine = r["grads"] if isinstance(r["grads"], tuple) else (r["grads"],)
                r["jax_gerr"] = max(
                    float(np.max(np.abs(np.asarray(a) - np.asarray(b))
                                 / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-8)))
                    for a, b in zip(mine, jg))

            def call():
                out = vg(*jargs)
                jax_block(out)
            r["jax"] = best_time(call)
        except Exception as e:  # noqa: BLE001
            w.errors.append(f"jax: {short_error(e)}")
            r["jax_fail"] = True


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


def make_workloads() -> list[Workload]:
    """The four workloads with their inputs (fixed seed); also used by bench_llvm.py."""
    rng = np.random.default_rng(0)
    d, K, n = 10, 25, 1000
    gmm_args = (rng.normal(size=K), rng.uniform(size=(K, d)),
                rng.normal(size=(K, d * (d + 1) // 2)), rng.normal(size=(n, d)), 1.0, 0)
    return [
        Workload("rosenbrock", "rosenbrock loop n=1e4", rosenbrock,
                 (rng.uniform(-1.0, 1.0, size=10_000),), (0,), rosenbrock_np),
        Workload("heat", "heat stencil n=1e4 x100 steps", heat,
                 (rng.normal(size=10_000), 0.2, 100), (0, 1), heat_np),
        Workload("gmm", "GMM loops d=10 K=25 n=1000", gmm_objective, gmm_args, (0, 1, 2), gmm_np),
        Workload("rk4", "RK4 pendulum 1e5 steps", rk4, (4.0, 0.1, 100_000), (0, 1), rk4_np),
    ]


def main() -> None:
    workloads = make_workloads()
    jax_eq = jax_equivalents()
    if jax_eq is None:
        print("(JAX not installed: the JAX columns are skipped)")
    for w in workloads:
        t0 = time.perf_counter()
        try:
            run_workload(w, jax_eq)
        except Exception as e:  # noqa: BLE001 - never let one workload stop the table
            w.errors.append(f"harness: {short_error(e)}")
            traceback.print_exc()
        print(f"  [{w.label}: done in {time.perf_counter() - t0:.1f} s incl. compilation]",
              file=sys.stderr)

    cols = [("workload", 30), ("primal ms", 10), ("grad ms", 10), ("grad/pr", 8),
            ("jvp ms", 10), ("jvp/pr", 7), ("FD relerr", 10)]
    if jax_eq is not None:
        cols += [("jax vg ms", 10), ("ad/jax", 7)]
    print()
    print(" ".join(f"{c:<{wd}s}" if i == 0 else f"{c:>{wd}s}" for i, (c, wd) in enumerate(cols)))
    print("-" * (sum(wd for _, wd in cols) + len(cols) - 1))
    for w in workloads:
        r = w.results
        fd = max(r.get("fd_err", 0.0), r.get("jvp_err", 0.0)) if ("fd_err" in r or "jvp_err" in r) \
            else None
        row = [w.label, fmt_ms(r, "primal"), fmt_ms(r, "grad"), fmt_ratio(r, "grad"),
               fmt_ms(r, "jvp"), fmt_ratio(r, "jvp"),
               "FAILED" if (r.get("grad_fail") or r.get("jvp_fail")) and fd is None
               else (f"{fd:.1e}" if fd is not None else "-")]
        if jax_eq is not None:
            row += [fmt_ms(r, "jax"),
                    "FAILED" if r.get("jax_fail") or r.get("grad_fail")
                    else (f"{r['grad'] / r['jax']:.2f}" if "jax" in r and "grad" in r else "-")]
        print(" ".join(f"{c:<{wd}s}" if i == 0 else f"{c:>{wd}s}"
                       for i, (c, (_, wd)) in enumerate(zip(row, cols))))
    print()
    print(f"targets: grad/primal <= 3, jvp/primal <= 2 (best of {SAMPLES} batches of >= "
          f"{MIN_BATCH_S * 1e3:.0f} ms; compilation excluded).")
    print("FD relerr: max relative error of the gradient (a few components) and of the jvp "
          "against central differences; a derivative over "
          f"{FD_TOL:.0e} is reported as FAILED, never timed.")
    if jax_eq is not None:
        print("ad/jax: adcompile.grad time / jax.jit(jax.value_and_grad(vectorised)) time, "
              "float64, "
              f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}.")
        gerrs = [f"{w.key} {w.results['jax_gerr']:.1e}" for w in workloads
                 if "jax_gerr" in w.results]
        if gerrs:
            print("max rel difference adcompile grad vs JAX grad: " + ", ".join(gerrs))
    misses = []
    for w in workloads:
        r = w.results
        if "grad" in r and r["grad"] / r["primal"] > 3.0:
            misses.append(f"{w.key} grad {r['grad'] / r['primal']:.2f}x")
        if "jvp" in r and r["jvp"] / r["primal"] > 2.0:
            misses.append(f"{w.key} jvp {r['jvp'] / r['primal']:.2f}x")
    print("over target: " + (", ".join(misses) if misses else "none"))
    print(call_overhead())
    print_failures(workloads)


def print_failures(workloads) -> None:
    failed = [(w, e) for w in workloads for e in w.errors]
    if failed:
        print("\nFAILURES:")
        for w, e in failed:
            print(f"  {w.label}: {e}")


if __name__ == "__main__":
    main()
