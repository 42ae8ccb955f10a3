"""The sections of bench_ad.py that are not one scalar loss per row: the BA per-observation
Jacobians (jacfwd_rows against JAX vmap(jacfwd)), the jacfwd lanes rows (k lanes against k
separate jvps) and the GMM roofline (GFLOP/s next to a single-core dgemm measured in the same
run). Each section checks every result before it times anything, returns its error lines and
appends its missed targets to `misses`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Any, Callable

import numpy as np

import adcompile
import adbench_objectives as abo
import bench_ad
from bench_ad import CROSS_TOL, FD_TOL, max_rel_diff, short_error, table, time_all

BA_JAX_TARGET = 0.16      # adcompile jacfwd_rows time / JAX vmap(jacfwd) time, today's lead
LANES = (2, 4, 8)
LANES_FACTOR = 1.5        # jacfwd with k lanes <= 1.5 k x one jvp


def fd_noise_floor(values: np.ndarray, h: float) -> float:
    """The error floor of a central difference, scaled so that noise counts as FD_TOL:
    roundoff ~8 eps |f| / h, with |f| the largest output."""
    return 8 * np.finfo(float).eps * float(np.max(np.abs(values))) / h / FD_TOL


def fd_rel_error(J: np.ndarray, fd: np.ndarray, floor: float) -> float:
    return float(np.max(np.abs(J - fd) / np.maximum(np.maximum(np.abs(J), np.abs(fd)),
                                                    max(floor, 1e-300))))


def ms(r: dict, k: str) -> str:
    return "FAILED" if r.get(f"{k}_fail") else (f"{r[k] * 1e3:.3f}" if k in r else "-")


def ratio(r: dict, a: str, b: str, scale: float = 1.0) -> str:
    if r.get(f"{a}_fail") or r.get(f"{b}_fail"):
        return "FAILED"
    return f"{r[a] / (scale * r[b]):.2f}" if a in r and b in r else "-"


# == BA: all per-observation Jacobians ============================================================
def ba_fd(primal: Callable, P: np.ndarray, F: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Central differences of observations `obs`, all 15 columns at once per column (rows are
    independent, so one perturbed call per column and sign): (len(obs), 3, 15)."""
    J = np.empty((len(obs), 3, abo.BA_WIDTH))
    for k in range(abo.BA_WIDTH):
        h = bench_ad.FD_STEP * np.maximum(1.0, np.abs(P[:, k]))
        up, down = P.copy(), P.copy()
        up[:, k] += h
        down[:, k] -= h
        J[:, :, k] = ((primal(up, F) - primal(down, F)) / (2 * h[:, None]))[obs]
    return J


def ba_fd_error(J: np.ndarray, fd: np.ndarray) -> float:
    """Entrywise relative error, floored at 1e-6 of each observation's largest entry (the
    columns span 1e-2 .. 1e7, and an entry's FD noise follows the largest one)."""
    floor = 1e-6 * np.max(np.abs(fd), axis=(1, 2), keepdims=True)
    return float(np.max(np.abs(J - fd) / np.maximum(np.maximum(np.abs(J), np.abs(fd)), floor)))


def section_ba(quick: bool, with_jax: bool, misses: list[str]) -> list[str]:
    n = 2_000 if quick else 100_000
    P, F = abo.ba_inputs(n)
    obs = np.random.default_rng(3).choice(n, 8, replace=False)
    r: dict[str, Any] = {}
    errors: list[str] = []
    calls: dict[str, Callable[[], Any]] = {}
    try:
        primal = adcompile.jit(abo.ba_residuals)
        err = max_rel_diff(primal(P, F), abo.ba_np(P, F))
        if not err <= 1e-10:
            raise AssertionError(f"compiled residuals differ from NumPy's ({err:.1e})")
        calls["primal"] = lambda: primal(P, F)
    except Exception as e:  # noqa: BLE001
        errors.append(f"BA primal: {short_error(e)}")
        r["primal_fail"] = r["rows_fail"] = r["jax_fail"] = True
        primal = None
    J = None
    if primal is not None:
        try:
            rows = adcompile.jacfwd_rows(abo.ba_residuals)
            J = np.asarray(rows(P, F))
            if J.shape != (n, 3, abo.BA_WIDTH):
                raise AssertionError(f"Jacobians of shape {J.shape}")
            fd = ba_fd(primal, P, F, obs)
            r["fd"] = ba_fd_error(J[obs], fd)
            if not r["fd"] <= FD_TOL:
                raise AssertionError(f"Jacobians disagree with central differences "
                                     f"({r['fd']:.1e})")
            # an independent path: one jvp along a random direction per observation
            V = np.random.default_rng(4).normal(size=P.shape)
            _, dr = adcompile.jvp(abo.ba_residuals, (P, F), (V, None))
            scale = np.einsum("nij,nj->ni", np.abs(J), np.abs(V))
            r["cross"] = float(np.max(np.abs(np.einsum("nij,nj->ni", J, V) - dr) / scale))
            if not r["cross"] <= CROSS_TOL:
                raise AssertionError(f"J @ v differs from the jvp along v ({r['cross']:.1e})")
            calls["rows"] = lambda: rows(P, F)
        except Exception as e:  # noqa: BLE001
            errors.append(f"BA jacfwd_rows: {short_error(e)}")
            r["rows_fail"] = True
            J = None
    if with_jax and primal is not None:
        try:
            jf = abo.jax_ba_jacobian()
            JJ = np.asarray(jf(P, F))
            r["jax_fd"] = ba_fd_error(JJ[obs], ba_fd(primal, P, F, obs))
            if not r["jax_fd"] <= FD_TOL:
                raise AssertionError(f"JAX Jacobians disagree with central differences "
                                     f"({r['jax_fd']:.1e})")
            if J is not None:
                r["jax_diff"] = max_rel_diff(J, JJ)
                if not r["jax_diff"] <= CROSS_TOL:
                    raise AssertionError(f"JAX and adcompile Jacobians differ "
                                         f"({r['jax_diff']:.1e})")
            calls["jax"] = lambda: bench_ad.jax_block(jf(P, F))
        except Exception as e:  # noqa: BLE001
            errors.append(f"BA jax: {short_error(e)}")
            r["jax_fail"] = True
    r.update(time_all(calls))
    cols = [("BA residual Jacobians", 30), ("primal ms", 10), ("rows ms", 10), ("rows/pr", 8),
            ("jax ms", 10), ("ad/jax", 7), ("target", 6), ("FD relerr", 10)]
    fds = [r[k] for k in ("fd", "jax_fd") if k in r]
    print(f"\n== BA: the 3x15 Jacobian of every observation ({n:,} rows), adcompile.jacfwd_rows "
          "against jax.jit(jax.vmap(jax.jacfwd(one observation))) ==")
    table(cols, [[f"{n} observations x 15 inputs", ms(r, "primal"), ms(r, "rows"),
                  ratio(r, "rows", "primal"), ms(r, "jax"), ratio(r, "rows", "jax"),
                  f"{BA_JAX_TARGET:g}", f"{max(fds):.1e}" if fds else "FAILED"]])
    print(f"checks: both against central differences on {len(obs)} observations (floor 1e-6 x "
          f"the observation's largest entry); J @ v against one adcompile.jvp along a random v "
          f"({r.get('cross', float('nan')):.0e}, relative to sum |J||v|); JAX against "
          f"adcompile ({r.get('jax_diff', float('nan')):.0e}); tolerance {CROSS_TOL:.0e}.")
    if "rows" in r and "jax" in r and r["rows"] / r["jax"] > BA_JAX_TARGET:
        misses.append(f"ba rows/jax {r['rows'] / r['jax']:.2f} > {BA_JAX_TARGET:g}")
    misses += [f"ba {k} FAILED" for k in ("primal", "rows", "jax") if r.get(f"{k}_fail")]
    return errors


# == jacfwd lanes =================================================================================
def lanes_cases(quick: bool, k: int) -> list[tuple[str, Callable, tuple]]:
    rng = np.random.default_rng(k)
    n, steps = (200, 40) if quick else (1000, 200)
    m = 5_000 if quick else 100_000
    x = np.linspace(0.0, 1.0, n)
    t = np.linspace(0.0, 3.0, m)
    return [(f"heat pieces n={n} x{steps}", abo.heat_pieces,
             (0.1 + 0.2 * rng.uniform(size=k), np.exp(-100.0 * (x - 0.5) ** 2), steps)),
            (f"fit residual m={m}", abo.fit_residual,
             (rng.normal(size=k), t, np.sin(t)))]


def lanes_fd(primal: Callable, args: tuple) -> np.ndarray:
    """Central differences of every column, last axis = parameter."""
    p = args[0]
    cols = []
    for j in range(p.shape[0]):
        h = bench_ad.FD_STEP * max(1.0, abs(p[j]))
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        cols.append((np.asarray(primal(up, *args[1:])) - np.asarray(primal(down, *args[1:])))
                    / (2 * h))
    return np.stack(cols, axis=-1)


def section_lanes(quick: bool, misses: list[str]) -> list[str]:
    errors: list[str] = []
    rows = []
    for k in LANES:
        for label, f, args in lanes_cases(quick, k):
            r: dict[str, Any] = {}
            try:
                primal = adcompile.jit(f)
                jac = adcompile.jacfwd(f, argnums=0)
                J = np.asarray(jac(*args))
                E = np.eye(k)

                def one(j, f=f, args=args, E=E):
                    return adcompile.jvp(f, args, (E[j],) + (None,) * (len(args) - 1))[1]
                cols = np.stack([np.asarray(one(j)) for j in range(k)], axis=-1)
                r["diff"] = max_rel_diff(J, cols)
                if not r["diff"] <= CROSS_TOL:
                    raise AssertionError(f"jacfwd differs from {k} jvps ({r['diff']:.1e})")
                fd = lanes_fd(primal, args)
                r["fd"] = fd_rel_error(J, fd, fd_noise_floor(np.asarray(primal(*args)),
                                                             bench_ad.FD_STEP))
                if not r["fd"] <= FD_TOL:
                    raise AssertionError(f"jacfwd disagrees with central differences "
                                         f"({r['fd']:.1e})")
                r.update(time_all({"jac": lambda: jac(*args), "jvp": lambda: one(0)}))
            except Exception as e:  # noqa: BLE001
                errors.append(f"lanes {label} k={k}: {short_error(e)}")
                r["jac_fail"] = True
            rows.append([label, str(k), ms(r, "jvp"), ms(r, "jac"), ratio(r, "jac", "jvp"),
                         f"{LANES_FACTOR * k:g}", ratio(r, "jac", "jvp", k),
                         "FAILED" if "fd" not in r or r.get("jac_fail")
                         else f"{max(r['fd'], r['diff']):.1e}"])
            if "jac" in r and r["jac"] > LANES_FACTOR * k * r["jvp"]:
                misses.append(f"lanes {label} k={k} jacfwd/jvp {r['jac'] / r['jvp']:.2f} > "
                              f"{LANES_FACTOR * k:g}")
            if r.get("jac_fail"):
                misses.append(f"lanes {label} k={k} FAILED")
    print("\n== jacfwd with k lanes against one jvp (argument 0 has k entries) ==")
    table([("function", 30), ("k", 3), ("jvp ms", 10), ("jacfwd ms", 10), ("jac/jvp", 8),
           ("target", 6), ("jac/(k jvp)", 11), ("check", 8)], rows)
    print(f"target: jacfwd time <= {LANES_FACTOR:g} k x one jvp. check: the largest of jacfwd "
          f"against the k jvps (tolerance {CROSS_TOL:.0e}) and against central differences "
          f"(noise-floored, {FD_TOL:.0e}).")
    return errors


# == roofline =====================================================================================
PEAK_SCRIPT = textwrap.dedent("""
    import json, time
    import numpy as np
    n = 1000
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    clock = time.process_time if CPU_CLOCK else time.perf_counter
    a @ b
    best = float("inf")
    for _ in range(7):
        t0 = clock()
        a @ b
        best = min(best, clock() - t0)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:
        blas = "?"
    print(json.dumps({"gflops": 2 * n ** 3 / best / 1e9, "blas": blas}))
""")


def single_core_peak() -> tuple[float, str]:
    """GFLOP/s of a 1000x1000 float64 matmul in a fresh process whose BLAS is limited to one
    thread (the variables must be set before NumPy loads, hence the subprocess)."""
    env = dict(os.environ)
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[v] = "1"
    script = f"CPU_CLOCK = {bench_ad.CLOCK is not time.perf_counter}\n" + PEAK_SCRIPT
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    import json
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return res["gflops"], res["blas"]


def section_roofline(workloads: list) -> None:
    print("\n== roofline: GMM GFLOP/s against one core's dgemm, measured in this run ==")
    try:
        peak, blas = single_core_peak()
    except Exception as e:  # noqa: BLE001
        print(f"single-core peak: not measured ({short_error(e)})")
        return
    print(f"single-core peak: {peak:.1f} GFLOP/s (NumPy {blas} dgemm 1000x1000, one thread, "
          "best of 7, same clock)")
    rows = []
    for w in workloads:
        if w.macs is None:
            continue
        r = w.results
        flops = 2.0 * w.macs

        def cell(key: str, mult: float) -> list[str]:
            if key not in r:
                return ["FAILED" if r.get(f"{key}_fail") else "-", "-"]
            g = mult * flops / r[key] / 1e9
            return [f"{g:.2f}", f"{100 * g / peak:.1f}%"]
        rows.append([w.label, f"{flops / 1e6:.1f}"] + cell("primal", 1.0) + cell("grad", 3.0)
                    + cell("jax", 3.0))
    if not rows:
        print("(no GMM row was run: use --rows gmm,gmm64,roofline)")
        return
    table([("workload", 30), ("MFLOP", 8), ("primal GF/s", 11), ("of peak", 7),
           ("grad GF/s", 10), ("of peak", 7), ("jax GF/s", 9), ("of peak", 7)], rows)
    print("FLOP = 2 x n K d^2 / 2 (the triangular mat-vec's multiply-adds); the gradient and "
          "JAX's value_and_grad are counted as 3x the primal's FLOP (forward sweep plus two "
          "multiply-adds per adjoint of a multiply-add).")
