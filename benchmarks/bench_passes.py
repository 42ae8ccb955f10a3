"""What three compiler features buy: checkpointing, fused vector forward mode, IR cleanup passes.

Run: python benchmarks/bench_passes.py [--quick]

1. Checkpointing. The gradient of a long time-stepping loop (a nonlinear damped chain of 100
   masses, semi-implicit Euler, 10^6 steps, state updated in place in two preallocated arrays)
   with the store-all tape and with the checkpoint policies ("snapshots", 64),
   ("snapshots", 64, 2) and "sqrt". Per policy: the peak bytes held by the C runtime during one
   LLVM gradient call (`sp.call.peak_bytes`), the gradient time on both backends, and the ratios
   to the primal and to the store-all gradient. Every policy's gradient must equal the store-all
   one to a relative tolerance of 1e-12, and the store-all gradient is checked against central
   differences. Targets: 64 snapshots need <= 1% of the store-all peak and <= 4x its time.
2. Vector forward mode. A bundle-adjustment style residual (15 inputs -> 2 outputs per
   observation, 10^5 observations in a loop): every per-observation 2x15 Jacobian, either from
   15 `adcompile.jvp` calls (one unit direction per call) or from one vector-forward pass with
   15 tangent lanes (`JVP(..., lanes=True)`, the pass `adcompile.jacfwd` uses). The two must agree
   to 1e-12 and match central differences on a few observations. Target: fused >= 3x faster.
3. Cleanup passes. The loop-style GMM of bench_ad.py at (d=10, K=25, n=1000) and
   (d=64, K=100, n=1000): primal and gradient time with the normal pipeline and with
   ADCOMPILE_CLEANUP=0 (no simplify / licm / dce), each variant in its own subprocess (the
   variable is read when adcompile compiles). Target: gradient / primal <= 2.5 with cleanup.

Timing is bench_ad.best_time (compilation never timed); calls longer than LONG_CALL_S take the
minimum of LONG_SAMPLES batches instead of bench_ad.SAMPLES. --quick shrinks every size (a smoke
test, under a minute once the compile caches are warm).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the sibling bench_ad.py

import adcompile  # noqa: E402
from adcompile.derivatives import specialize
from adcompile.driver.transforms import JVP, VJP  # noqa: E402
from adcompile.checkpointing import parse_policy  # noqa: E402
from adcompile.driver.options import CompileOptions  # noqa: E402

import bench_ad  # noqa: E402
from bench_ad import Workload, best_time, rel_err, short_error  # noqa: E402
from bench_llvm import max_rel_diff  # noqa: E402

BACKENDS = ("llvm", "numba")
LONG_CALL_S = 0.5       # calls slower than this are timed with LONG_SAMPLES batches
LONG_SAMPLES = 3
STORE_ALL_LIMIT = 8e9   # bytes: above this the store-all peak is measured at fewer steps
POLICY_RTOL = 1e-12     # every checkpoint policy's gradient against store-all
LANES_RTOL = 1e-12      # fused vector forward against 15 separate jvps
FD_TOL = 1e-5           # AD against central differences
SNAP_MEM_TARGET = 0.01  # 64 snapshots: peak <= 1% of store-all
SNAP_TIME_TARGET = 4.0  # 64 snapshots: time <= 4x store-all gradient
FUSED_TARGET = 3.0      # separate jvps / fused vector forward >= 3
GMM_TARGET = 2.5        # gradient / primal with cleanup


def timed(fn: Callable[[], Any], first_s: float) -> float:
    """bench_ad.best_time, with LONG_SAMPLES samples when one call (first_s) is long."""
    old = bench_ad.SAMPLES
    if first_s > LONG_CALL_S:
        bench_ad.SAMPLES = LONG_SAMPLES
    try:
        return best_time(fn)
    finally:
        bench_ad.SAMPLES = old


def clock(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def table(cols: list[tuple[str, int]], rows: list[list[str]]) -> None:
    def line(cells):
        return " ".join(f"{c:<{wd}s}" if i == 0 else f"{c:>{wd}s}"
                        for i, (c, (_, wd)) in enumerate(zip(cells, cols)))
    print(line([c for c, _ in cols]))
    print("-" * (sum(wd for _, wd in cols) + len(cols) - 1))
    for r in rows:
        print(line(r))


def mb(x: float) -> str:
    return f"{x / 1e6:.2f}" if x < 1e8 else f"{x / 1e6:.0f}"


# == 1. checkpointing ==============================================================================
def chain(x0, k, c, steps):
    """100 masses on springs with a sin nonlinearity and damping; semi-implicit Euler with the
    state updated in place (two arrays for the whole run); returns the final energy-like sum."""
    n = x0.shape[0]
    x = x0.copy()
    v = np.zeros(n)
    h = 1e-4
    for t in range(steps):
        for i in range(n):
            f = -k * (2.0 * x[i] - (x[i - 1] if i > 0 else 0.0)
                      - (x[i + 1] if i < n - 1 else 0.0))
            f -= c * v[i] + 0.5 * math.sin(x[i])
            v[i] += h * f
        for i in range(n):
            x[i] += h * v[i]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i] + v[i] * v[i]
    return s


CHAIN_ARGNUMS = (0, 1, 2)
STORE_ALL = "store-all"
POLICIES = [("store-all", STORE_ALL), ("binomial 64", ("binomial", 64)),
            ("binomial 50MB", ("binomial", "50MB")), ("snapshots 64", ("snapshots", 64)),
            ("snapshots 64, 2 levels", ("snapshots", 64, 2)), ("sqrt", "sqrt"),
            ("online (while loop)", "sqrt-while")]


def chain_while(x0, k, c, steps):
    """`chain` as a while loop: no trip count ahead, so checkpointing is online."""
    n = x0.shape[0]
    x = x0.copy()
    v = np.zeros(n)
    h = 1e-4
    t = 0
    while t < steps:
        for i in range(n):
            f = -k * (2.0 * x[i] - (x[i - 1] if i > 0 else 0.0)
                      - (x[i + 1] if i < n - 1 else 0.0))
            f -= c * v[i] + 0.5 * math.sin(x[i])
            v[i] += h * f
        for i in range(n):
            x[i] += h * v[i]
        t += 1
    s = 0.0
    for i in range(n):
        s += x[i] * x[i] + v[i] * v[i]
    return s


def policy_fn(pol):
    """(function, checkpoint policy) a POLICIES entry stands for."""
    return (chain_while, "sqrt") if pol == "sqrt-while" else (chain, pol)


def chain_args(steps: int) -> tuple:
    x0 = np.random.default_rng(0).normal(size=100)
    return (x0, 4.0, 0.02, steps)


def model_bytes(pol, steps: int, tape_per_step: float, snap: int) -> float:
    """What the policy should hold at its peak: the snapshots alive at once + one segment's
    tape (inner snapshots of a 2-level policy freed after each outer segment)."""
    if pol == "sqrt-while":   # segments 1, 2, 3, ...: m(m+1)/2 >= steps
        m = math.ceil((math.sqrt(8 * steps + 1) - 1) / 2)
        return m * snap + m * tape_per_step
    p = parse_policy(pol)
    if pol == STORE_ALL:
        return steps * tape_per_step
    if hasattr(p, "memory") and p.memory is not None:
        return min(p.memory // snap, steps) * snap + tape_per_step
    if hasattr(p, "memory"):
        return min(p.snapshots, steps) * snap + tape_per_step
    if isinstance(p, type(parse_policy("sqrt"))):
        seg = max(math.ceil(math.sqrt(steps)), 1)
        return math.ceil(steps / seg) * snap + seg * tape_per_step
    seg1 = math.ceil(steps / p.count)
    nsnap = math.ceil(steps / seg1)
    if p.levels == 1:
        return nsnap * snap + seg1 * tape_per_step
    seg2 = math.ceil(seg1 / p.count)
    return (nsnap + math.ceil(seg1 / seg2)) * snap + seg2 * tape_per_step


def llvm_peak(args: tuple, pol) -> tuple[tuple, int, float]:
    """(outputs, peak bytes, seconds) of one LLVM gradient call through the specialization."""
    active = tuple(i in CHAIN_ARGNUMS for i in range(len(args)))
    fn, pol = policy_fn(pol)
    sp = specialize(fn, args, VJP(active, checkpoint=parse_policy(pol)),
                    CompileOptions.from_env(backend="llvm"))
    out, dt = clock(lambda: sp.call(*args, 1.0))
    return tuple(out), int(sp.call.peak_bytes), dt


def section_checkpoint(quick: bool) -> list[str]:
    steps = 20_000 if quick else 1_000_000
    args = chain_args(steps)
    errors: list[str] = []
    res: dict[tuple[str, str], dict] = {}
    prim: dict[str, float] = {}
    primal = {b: adcompile.jit(chain, backend=b) for b in BACKENDS}
    value, first = clock(lambda: primal["llvm"](*args))
    if rel_err(primal["numba"](*args), value) > 1e-10:
        errors.append("primal: numba and llvm values differ")
    for b in BACKENDS:
        prim[b] = timed(lambda p=primal[b]: p(*args), first)

    # store-all memory: estimated from a short run before the real one is tried
    probe = max(steps // 100, 1000)
    _, probe_peak, _ = llvm_peak(chain_args(probe), STORE_ALL)
    estimate = probe_peak * steps / probe
    store_steps = steps if estimate <= STORE_ALL_LIMIT else \
        int(steps * STORE_ALL_LIMIT / estimate) // 1000 * 1000
    extrapolated = store_steps != steps
    reference = None
    tape_per_step = None
    for label, pol in POLICIES:
        r = res[(label, "llvm")] = {}
        try:
            n_here = store_steps if pol == STORE_ALL else steps
            a = chain_args(n_here)
            out, peak, dt = llvm_peak(a, pol)
            scale = steps / n_here
            r["peak"], r["peak_steps"] = peak * scale, n_here
            if pol == STORE_ALL:
                tape_per_step = (peak - 2 * a[0].nbytes) / n_here
            fn, cp = policy_fn(pol)
            g = adcompile.grad(fn, argnums=CHAIN_ARGNUMS, checkpoint=cp, backend="llvm")
            grads = g(*a)
            if max_rel_diff(tuple(grads), out[1:]) != 0.0:
                raise AssertionError("adcompile.grad differs from the specialization's call")
            if pol == STORE_ALL and not extrapolated:
                w = Workload("chain", "chain", chain, a, CHAIN_ARGNUMS, None)
                r["fd"] = bench_ad.check_grad(w, primal["llvm"], grads, np.random.default_rng(1))
                if not r["fd"] <= FD_TOL:
                    raise AssertionError(f"store-all gradient disagrees with central "
                                         f"differences (max rel err {r['fd']:.1e})")
            if n_here != steps:
                pass
            elif reference is None:
                reference = grads
            else:
                r["diff"] = max_rel_diff(tuple(grads), tuple(reference))
                if not r["diff"] <= POLICY_RTOL:
                    raise AssertionError(f"gradient differs from the reference (max rel diff "
                                         f"{r['diff']:.1e} > {POLICY_RTOL:.0e})")
            r["time"] = timed(lambda: g(*a), dt) * scale
        except Exception as e:  # noqa: BLE001 - reported under the table
            r["fail"] = True
            errors.append(f"{label} llvm: {short_error(e)}")
    for label, pol in POLICIES:
        r = res[(label, "numba")] = {}
        try:
            fn, cp = policy_fn(pol)
            g = adcompile.grad(fn, argnums=CHAIN_ARGNUMS, checkpoint=cp, backend="numba")
            n_here = store_steps if pol == STORE_ALL else steps
            a = chain_args(n_here)
            grads, dt = clock(lambda: g(*a))
            if n_here == steps and reference is not None:
                r["diff"] = max_rel_diff(tuple(grads), tuple(reference))
                if not r["diff"] <= 1e-10:
                    raise AssertionError(f"numba gradient differs from llvm's (max rel diff "
                                         f"{r['diff']:.1e} > 1e-10)")
            r["time"] = timed(lambda: g(*a), dt) * steps / n_here
        except Exception as e:  # noqa: BLE001
            r["fail"] = True
            errors.append(f"{label} numba: {short_error(e)}")

    snap = 2 * args[0].nbytes
    base = {b: res[("store-all", b)] for b in BACKENDS}
    rows = []
    for b in BACKENDS:
        for label, pol in POLICIES:
            r = res[(label, b)]
            if r.get("fail"):
                rows.append([label, b] + ["FAILED"] * 7)
                continue
            star = "*" if pol == STORE_ALL and extrapolated else ""
            have_peak = b == "llvm" and "peak" in r
            rows.append([
                label, b,
                mb(r["peak"]) + star if have_peak else "-",
                f"{r['peak'] / base[b]['peak'] * 100:.3g}%" if have_peak and "peak" in base[b]
                else "-",
                mb(model_bytes(pol, steps, tape_per_step, snap)) if b == "llvm"
                and tape_per_step is not None else "-",
                f"{r['time']:.3f}{star}", f"{r['time'] / prim[b]:.2f}",
                f"{r['time'] / base[b]['time']:.2f}" if "time" in base[b] else "-",
                "ref" if "diff" not in r and b == "llvm" else
                ("0" if r.get("diff") == 0.0 else f"{r['diff']:.0e}" if "diff" in r else "-")])
    print(f"\n== 1. checkpointing: gradient of a 100-mass chain over {steps:,} steps "
          f"(w.r.t. x0[100], k, c) ==")
    print(f"primal (adcompile.jit): llvm {prim['llvm']:.3f} s, numba {prim['numba']:.3f} s")
    table([("policy", 23), ("backend", 7), ("peak MB", 9), ("of s-all", 8), ("model MB", 9),
           ("grad s", 8), ("grad/pr", 7), ("/s-all", 6), ("diff", 6)], rows)
    print("peak: adc_ctx_peak_bytes of one LLVM gradient call (arena arrays + tapes + "
          "snapshots); numba has no counter.")
    print(f"model: snapshots alive at once x {snap} B (x and v) + one segment's tape at "
          f"{tape_per_step:.0f} B/step (store-all peak / steps);"
          if tape_per_step is not None else "model: -")
    print("  for 2 levels the model frees a segment's inner snapshots once it is reversed.")
    print("diff: max relative difference from the store-all llvm gradient (ref); numba rows "
          "use the same reference. The store-all gradient matches central differences to "
          + (f"{res[('store-all', 'llvm')]['fd']:.1e}." if "fd" in res[("store-all", "llvm")]
             else "- (not checked)."))
    if extrapolated:
        print(f"* store-all measured at {store_steps:,} steps and scaled linearly to {steps:,} "
              f"(estimated {estimate / 1e9:.1f} GB > {STORE_ALL_LIMIT / 1e9:.0f} GB); "
              "other gradients compared with the first checkpointed one.")
    rs = base["llvm"]
    for label in ("binomial 64", "snapshots 64", "snapshots 64, 2 levels"):
        r = res[(label, "llvm")]
        if all(k in d for d in (r, rs) for k in ("peak", "time")):
            mem, tim = r["peak"] / rs["peak"], r["time"] / rs["time"]
            print(f"target ({label}, llvm): peak {mem * 100:.3g}% of store-all (<= "
                  f"{SNAP_MEM_TARGET * 100:.0f}%: {'met' if mem <= SNAP_MEM_TARGET else 'MISSED'}),"
                  f" time {tim:.2f}x store-all (<= {SNAP_TIME_TARGET:.0f}x: "
                  f"{'met' if tim <= SNAP_TIME_TARGET else 'MISSED'})")
    return errors


# == 2. vector forward mode ========================================================================
def ba_residuals(P, M):
    """Bundle-adjustment style reprojection residuals, one row of P per observation:
    P[i] = angle-axis rotation (3), translation (3), focal (1), principal point (2),
    radial distortion (2), point (3), weight (1); M[i] = the measured image point."""
    n = P.shape[0]
    r = np.empty((n, 2))
    for i in range(n):
        w0 = P[i, 0]
        w1 = P[i, 1]
        w2 = P[i, 2]
        X0 = P[i, 11]
        X1 = P[i, 12]
        X2 = P[i, 13]
        th2 = w0 * w0 + w1 * w1 + w2 * w2
        if th2 > 1e-16:   # Rodrigues
            th = math.sqrt(th2)
            ct = math.cos(th)
            st = math.sin(th)
            k0 = w0 / th
            k1 = w1 / th
            k2 = w2 / th
            kx = k0 * X0 + k1 * X1 + k2 * X2
            q0 = X0 * ct + (k1 * X2 - k2 * X1) * st + k0 * kx * (1.0 - ct)
            q1 = X1 * ct + (k2 * X0 - k0 * X2) * st + k1 * kx * (1.0 - ct)
            q2 = X2 * ct + (k0 * X1 - k1 * X0) * st + k2 * kx * (1.0 - ct)
        else:             # first order for tiny angles
            q0 = X0 + w1 * X2 - w2 * X1
            q1 = X1 + w2 * X0 - w0 * X2
            q2 = X2 + w0 * X1 - w1 * X0
        q0 += P[i, 3]
        q1 += P[i, 4]
        q2 += P[i, 5]
        u = q0 / q2
        v = q1 / q2
        rr = u * u + v * v
        dist = 1.0 + P[i, 9] * rr + P[i, 10] * rr * rr
        f = P[i, 6]
        wt = P[i, 14]
        r[i, 0] = wt * (f * dist * u + P[i, 7] - M[i, 0])
        r[i, 1] = wt * (f * dist * v + P[i, 8] - M[i, 1])
    return r


def ba_inputs(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    P = np.empty((n, 15))
    P[:, 0:3] = rng.normal(scale=0.3, size=(n, 3))
    P[:, 3:5] = rng.normal(scale=0.5, size=(n, 2))
    P[:, 5] = rng.uniform(4.0, 6.0, size=n)          # points in front of the camera
    P[:, 6] = rng.uniform(400.0, 600.0, size=n)
    P[:, 7:9] = rng.normal(scale=5.0, size=(n, 2))
    P[:, 9:11] = rng.normal(scale=0.05, size=(n, 2))
    P[:, 11:14] = rng.normal(size=(n, 3))
    P[:, 14] = rng.uniform(0.5, 1.5, size=n)
    M = rng.normal(scale=100.0, size=(n, 2))
    return P, M


def fd_jacobians(primal, P, M, obs) -> np.ndarray:
    """Central differences of the residuals of observations `obs`, all 15 columns: (m, 2, 15)."""
    J = np.empty((len(obs), 2, 15))
    for k in range(15):
        h = bench_ad.FD_STEP * np.maximum(1.0, np.abs(P[:, k]))
        up, down = P.copy(), P.copy()
        up[:, k] += h
        down[:, k] -= h
        J[:, :, k] = ((primal(up, M) - primal(down, M)) / (2 * h[:, None]))[obs]
    return J


def fd_error(J: np.ndarray, F: np.ndarray) -> float:
    """Max entrywise relative error, floored at 1e-6 of each observation's largest entry."""
    floor = 1e-6 * np.max(np.abs(F), axis=(1, 2), keepdims=True)
    return float(np.max(np.abs(J - F) / np.maximum(np.maximum(np.abs(J), np.abs(F)), floor)))


def section_lanes(quick: bool) -> list[str]:
    n = 2_000 if quick else 100_000
    P, M = ba_inputs(n)
    L = P.shape[1]
    E = []
    for k in range(L):
        e = np.zeros_like(P)
        e[:, k] = 1.0
        E.append(e)
    seed = np.zeros(P.shape + (L,))
    seed[:, np.arange(L), np.arange(L)] = 1.0
    obs = np.random.default_rng(3).choice(n, 8, replace=False)
    errors: list[str] = []
    res: dict[str, dict] = {b: {} for b in BACKENDS}
    for b in BACKENDS:
        r = res[b]
        try:
            primal = adcompile.jit(ba_residuals, backend=b)
            _, dt = clock(lambda: primal(P, M))
            r["primal"] = timed(lambda: primal(P, M), dt)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{b} primal: {short_error(e)}")
            r["primal_fail"] = r["sep_fail"] = r["fused_fail"] = True
            continue

        def separate():
            return [adcompile.jvp(ba_residuals, (P, M), (E[k], None), backend=b)[1]
                    for k in range(L)]
        try:
            cols, dt = clock(separate)
            J_sep = np.stack(cols, axis=2)                     # (n, 2, 15)
            r["fd"] = fd_error(J_sep[obs], fd_jacobians(primal, P, M, obs))
            if not r["fd"] <= FD_TOL:
                raise AssertionError(f"jvp Jacobians disagree with central differences "
                                     f"(max rel err {r['fd']:.1e})")
            r["sep"] = timed(separate, dt)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{b} 15 jvps: {short_error(e)}")
            r["sep_fail"] = True
            J_sep = None
        try:
            sp = specialize(ba_residuals, (P, M), JVP((True, False), lanes=True),
                            CompileOptions.from_env(backend=b))
            (val, J_fused), dt = clock(lambda: sp.call(P, M, seed))
            if np.shape(J_fused) != (n, 2, L):
                raise AssertionError(f"lane tangents have shape {np.shape(J_fused)}, "
                                     f"expected {(n, 2, L)}")
            if J_sep is not None:
                r["diff"] = max_rel_diff(np.asarray(J_fused), J_sep)
                if not r["diff"] <= LANES_RTOL:
                    raise AssertionError(f"fused Jacobians differ from the 15 jvps (max rel "
                                         f"diff {r['diff']:.1e} > {LANES_RTOL:.0e})")
            r["fd_fused"] = fd_error(np.asarray(J_fused)[obs], fd_jacobians(primal, P, M, obs))
            if not r["fd_fused"] <= FD_TOL:
                raise AssertionError(f"fused Jacobians disagree with central differences "
                                     f"(max rel err {r['fd_fused']:.1e})")
            r["fused"] = timed(lambda: sp.call(P, M, seed), dt)
            if b == "llvm":
                r["fused_peak"] = sp.call.peak_bytes
                one = specialize(ba_residuals, (P, M), JVP((True, False)),
                                 CompileOptions.from_env(backend=b))
                one.call(P, M, E[0])
                r["jvp_peak"] = one.call.peak_bytes
        except Exception as e:  # noqa: BLE001
            errors.append(f"{b} fused lanes: {short_error(e)}")
            r["fused_fail"] = True
        try:   # the user API: jacfwd_rows, identity seed computed in place (no seed array)
            rows_j = adcompile.jacfwd_rows(ba_residuals, backend=b)
            J_rows, dt = clock(lambda: rows_j(P, M))
            if J_sep is not None and max_rel_diff(np.asarray(J_rows), J_sep) > LANES_RTOL:
                raise AssertionError("jacfwd_rows differs from the 15 jvps")
            r["rows"] = timed(lambda: rows_j(P, M), dt)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{b} jacfwd_rows: {short_error(e)}")
            r["rows_fail"] = True

    def ms(r, k):
        return "FAILED" if r.get(f"{k}_fail") else (f"{r[k] * 1e3:.2f}" if k in r else "-")

    def ratio(r, a, c):
        return "FAILED" if r.get(f"{a}_fail") or r.get(f"{c}_fail") else \
            (f"{r[a] / r[c]:.2f}" if a in r and c in r else "-")
    rows = []
    for b in BACKENDS:
        r = res[b]
        fd = max([r[k] for k in ("fd", "fd_fused") if k in r], default=None)
        rows.append([b, ms(r, "primal"), ms(r, "sep"), ratio(r, "sep", "primal"),
                     ms(r, "fused"), ratio(r, "fused", "primal"), ratio(r, "sep", "fused"),
                     ms(r, "rows"), ratio(r, "sep", "rows"),
                     "-" if "diff" not in r else ("0" if r["diff"] == 0.0 else
                                                  f"{r['diff']:.0e}"),
                     "-" if fd is None else f"{fd:.1e}"])
    print(f"\n== 2. vector forward mode: all 2x15 Jacobians of a BA residual, {n:,} "
          "observations ==")
    table([("backend", 7), ("primal ms", 9), ("15 jvp ms", 10), ("/primal", 7),
           ("fused ms", 9), ("/primal", 7), ("sep/fused", 9), ("rows ms", 8), ("sep/rows", 8),
           ("diff", 6), ("FD relerr", 9)],
          rows)
    print("15 jvp: adcompile.jvp once per unit direction E_k (E_k[:, k] = 1), tangent arrays "
          "built beforehand;")
    print(f"fused: specialize(f, (P, M), JVP((True, False), lanes=True)).call(P, M, seed), seed "
          f"({n}, 15, 15) = identity per observation.")
    print("rows: adcompile.jacfwd_rows(f)(P, M): the same lanes, the identity seed computed "
          "where it is read (no seed array).")
    print(f"diff: fused vs 15 jvps (max rel); FD relerr: both against central differences on "
          f"{len(obs)} observations (floor 1e-6 x largest entry).")
    r = res["llvm"]
    if "fused_peak" in r:
        print(f"llvm peak bytes of one call: fused {r['fused_peak'] / 1e6:.1f} MB "
              f"= {r['fused_peak'] / n:.0f} B per observation, of which the lane tangents "
              f"returned are {2 * L * 8} B); one jvp {r['jvp_peak'] / 1e6:.1f} MB.")
    for b in BACKENDS:
        r = res[b]
        for k, what in (("fused", "fused (seed array)"), ("rows", "jacfwd_rows")):
            if "sep" in r and k in r:
                sp = r["sep"] / r[k]
                print(f"target ({b}): 15 jvps / {what} = {sp:.2f} (>= {FUSED_TARGET:.0f}: "
                      f"{'met' if sp >= FUSED_TARGET else 'MISSED'})")
    return errors


# == 3. cleanup passes on the GMM ==================================================================
def gmm_sizes(quick: bool) -> list[tuple[int, int, int]]:
    return [(10, 25, 200), (16, 20, 200)] if quick else [(10, 25, 1000), (64, 100, 1000)]


def gmm_args(d: int, K: int, n: int) -> tuple:
    """Same recipe as bench_ad.make_workloads, at any size."""
    rng = np.random.default_rng(0)
    return (rng.normal(size=K), rng.uniform(size=(K, d)),
            rng.normal(size=(K, d * (d + 1) // 2)), rng.normal(size=(n, d)), 1.0, 0)


def check_grad_fd(w: Workload, primal: Callable, grads: tuple, rng) -> float:
    """bench_ad.check_grad's components, each error relative to at least what a central
    difference resolves (roundoff noise ~ 8 eps |f| / h, divided by FD_TOL: at d=64 some entries
    are ~1e-7 while the objective is ~3e5), and a central difference along a random direction
    in all differentiated arguments at once (relative error). Returns the largest error."""
    f0 = abs(primal(*w.args))
    worst = 0.0
    for i, idx in bench_ad.fd_components(w, rng):
        x0 = w.args[i][idx]
        h = bench_ad.FD_STEP * max(1.0, abs(x0))
        fd = (primal(*bench_ad.perturbed(w.args, i, idx, h))
              - primal(*bench_ad.perturbed(w.args, i, idx, -h))) / (2 * h)
        g = grads[w.argnums.index(i)][idx]
        floor = 8 * np.finfo(float).eps * f0 / h / FD_TOL
        worst = max(worst, abs(g - fd) / max(abs(g), abs(fd), floor))
    v = {i: rng.normal(size=np.shape(w.args[i])) for i in w.argnums}
    h = bench_ad.FD_STEP

    def shifted(s):
        return tuple(a + s * v[i] if i in v else a for i, a in enumerate(w.args))
    fd = (primal(*shifted(h)) - primal(*shifted(-h))) / (2 * h)
    ad = sum(float(np.sum(grads[w.argnums.index(i)] * t)) for i, t in v.items())
    return max(worst, rel_err(ad, fd))


def gmm_worker(outdir: str, quick: bool) -> None:
    """Times bench_ad.gmm_objective under this process's ADCOMPILE_CLEANUP; one JSON line out,
    gradients saved to outdir for the parent to compare."""
    out: dict[str, Any] = {"cleanup": os.environ.get("ADCOMPILE_CLEANUP", "1"), "runs": []}
    for d, K, n in gmm_sizes(quick):
        args = gmm_args(d, K, n)
        for b in BACKENDS:
            r: dict[str, Any] = {"d": d, "K": K, "n": n, "backend": b}
            out["runs"].append(r)
            try:
                t0 = time.perf_counter()
                primal = adcompile.jit(bench_ad.gmm_objective, backend=b)
                value = primal(*args)
                ref = bench_ad.gmm_np(*args)
                if rel_err(float(value), ref) > 1e-9:
                    raise AssertionError(f"compiled primal {value!r} != reference {ref!r}")
                g = adcompile.grad(bench_ad.gmm_objective, argnums=(0, 1, 2), backend=b)
                grads = g(*args)
                r["compile_s"] = time.perf_counter() - t0
                w = Workload("gmm", "gmm", bench_ad.gmm_objective, args, (0, 1, 2), None)
                r["fd"] = check_grad_fd(w, primal, grads, np.random.default_rng(1))
                if not r["fd"] <= FD_TOL:
                    raise AssertionError(f"gradient disagrees with central differences "
                                         f"(max rel err {r['fd']:.1e})")
                np.savez(Path(outdir) / f"gmm-{d}-{K}-{n}-{b}.npz", *grads)
                if b == "llvm":
                    r["peak"] = int(g._last.call.peak_bytes)
                _, dt = clock(lambda: primal(*args))
                r["primal"] = timed(lambda: primal(*args), dt)
                _, dt = clock(lambda: g(*args))
                r["grad"] = timed(lambda: g(*args), dt)
            except Exception as e:  # noqa: BLE001
                r["error"] = short_error(e)
    print(json.dumps(out))


def run_gmm_worker(cleanup: str, outdir: Path, quick: bool) -> dict:
    env = dict(os.environ, ADCOMPILE_CLEANUP=cleanup)
    pkg_root = str(Path(adcompile.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--gmm-worker", str(outdir)]
    proc = subprocess.run(cmd + (["--quick"] if quick else []), env=env, capture_output=True,
                          text=True, timeout=1800)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker ADCOMPILE_CLEANUP={cleanup} -> rc {proc.returncode}: "
                           f"{proc.stderr.strip()[-400:]}")
    return json.loads(lines[-1])


def section_cleanup(quick: bool) -> list[str]:
    errors: list[str] = []
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="adc-bench-passes-") as tmp:
        dirs = {c: Path(tmp) / f"cleanup{c}" for c in ("1", "0")}
        for c, d in dirs.items():
            d.mkdir()
            try:
                runs[c] = {(r["d"], r["K"], r["n"], r["backend"]): r
                           for r in run_gmm_worker(c, d, quick)["runs"]}
            except Exception as e:  # noqa: BLE001
                errors.append(f"ADCOMPILE_CLEANUP={c}: {short_error(e)}")
                runs[c] = {}
        rows = []
        misses = []
        for d, K, n in gmm_sizes(quick):
            for b in BACKENDS:
                key = (d, K, n, b)
                on, off = runs["1"].get(key, {}), runs["0"].get(key, {})
                for c, r in (("1", on), ("0", off)):
                    if "error" in r:
                        errors.append(f"d={d} K={K} n={n} {b} cleanup={c}: {r['error']}")
                diff = "-"
                fa, fb = (dirs[c] / f"gmm-{d}-{K}-{n}-{b}.npz" for c in ("1", "0"))
                if fa.exists() and fb.exists():
                    with np.load(fa) as za, np.load(fb) as zb:
                        dv = max_rel_diff(tuple(za[k] for k in za.files),
                                          tuple(zb[k] for k in zb.files))
                    diff = "0" if dv == 0.0 else f"{dv:.0e}"
                    if not dv <= 1e-10:
                        errors.append(f"d={d} K={K} n={n} {b}: gradients with and without "
                                      f"cleanup differ (max rel diff {dv:.1e})")

                def cell(r, k, scale=1e3, fmt="{:.3f}"):
                    return "FAILED" if "error" in r else (fmt.format(r[k] * scale) if k in r
                                                          else "-")
                ok = "grad" in on and "grad" in off
                rows.append([f"d={d} K={K} n={n}", b,
                             cell(on, "primal"), cell(on, "grad"),
                             f"{on['grad'] / on['primal']:.2f}" if "grad" in on else "-",
                             cell(off, "primal"), cell(off, "grad"),
                             f"{off['grad'] / off['primal']:.2f}" if "grad" in off else "-",
                             f"{off['grad'] / on['grad']:.2f}" if ok else "-",
                             (f"{on['peak'] / 1e6:.0f}/{off['peak'] / 1e6:.0f}"
                              if "peak" in on and "peak" in off else "-"),
                             diff])
                if "grad" in on and on["grad"] / on["primal"] > GMM_TARGET:
                    misses.append(f"d={d} K={K} {b} {on['grad'] / on['primal']:.2f}")
    print("\n== 3. cleanup passes (simplify, licm, dce) on the loop-style GMM (bench_ad.py) ==")
    table([("size", 19), ("backend", 7), ("pr ms", 8), ("grad ms", 9), ("gr/pr", 6),
           ("pr ms -c", 8), ("grad ms -c", 10), ("gr/pr -c", 8), ("-c/+c", 6),
           ("peak MB +/-", 11), ("diff", 6)], rows)
    print("first three columns: normal pipeline; '-c': ADCOMPILE_CLEANUP=0 (both in fresh "
          "subprocesses of this script);")
    print("-c/+c: gradient time without cleanup / with; peak MB: LLVM gradient call with/without "
          "cleanup; diff: max rel difference of the two gradients.")
    fds = [r["fd"] for v in runs.values() for r in v.values() if "fd" in r]
    if fds:
        print(f"every gradient matches central differences (a few components and one random "
              f"direction) to {max(fds):.1e}.")
    print(f"target: gr/pr <= {GMM_TARGET} with cleanup: "
          + ("met everywhere" if not misses else "MISSED for " + ", ".join(misses)))
    return errors


# == 4. array lowering ==============================================================================
def np_chain(x, y, a):
    """A chain of ufuncs and a reduction: four temporaries unless fused."""
    return np.sum(np.sin(x) * y + a * x * x)


def np_logsumexp(x):
    m = np.max(x)
    return np.log(np.sum(np.exp(x - m))) + m


def np_energy(X, w):
    """Row energies of a (n, d) matrix against weights: broadcasting, axis reduction, matvec."""
    r = X @ w
    return np.sum(np.tanh(r) ** 2) + np.sum(np.mean(X * X, axis=1))


def lowering_workloads(quick: bool) -> list[tuple[str, Callable, tuple, tuple]]:
    n = 20_000 if quick else 1_000_000
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=n), rng.normal(size=n)
    X = rng.normal(size=(n // 100, 100))
    return [("sum(sin(x)*y + a*x*x)", np_chain, (x, y, 0.7), (0, 1, 2)),
            ("logsumexp", np_logsumexp, (x,), (0,)),
            ("X @ w, tanh, mean(axis=1)", np_energy, (X, rng.normal(size=100)), (0, 1))]


def section_lowering(quick: bool) -> list[str]:
    """Whole-array ops lowered to fused loops vs kept as array ops, on numba (which takes
    either form: `CompileOptions(lower_arrays=True)`), primal and gradient; the LLVM backend
    (always lowered) for reference."""
    errors: list[str] = []
    rows = []
    variants = (("numba lowered", adcompile.CompileOptions(backend="numba", lower_arrays=True)),
                ("numba arrays", adcompile.CompileOptions(backend="numba")),
                ("llvm", adcompile.CompileOptions(backend="llvm")))
    for label, f, args, nums in lowering_workloads(quick):
        times: dict[str, float] = {}
        values: dict[str, tuple] = {}
        for name, options in variants:
            try:
                prim = adcompile.jit(f, options=options)
                g = adcompile.grad(f, argnums=nums, options=options)
                v, t0 = clock(lambda: prim(*args))
                gr, t1 = clock(lambda: g(*args))
                times[name + " primal"] = timed(lambda: prim(*args), t0)
                times[name + " grad"] = timed(lambda: g(*args), t1)
                values[name] = (v,) + tuple(gr)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{label} {name}: {short_error(e)}")
        ref = values.get("numba arrays")
        for name, val in values.items():
            if ref is not None and max_rel_diff(val, ref) > 1e-8:   # sums of 1e6 terms
                errors.append(f"{label}: {name} differs from numba arrays "
                              f"({max_rel_diff(val, ref):.1e})")

        def ms(k):
            return f"{times[k] * 1e3:.3f}" if k in times else "FAILED"

        def ratio(a, b):
            return f"{times[b] / times[a]:.2f}" if a in times and b in times else "-"
        rows.append([label, ms("numba lowered primal"), ms("numba arrays primal"),
                     ratio("numba lowered primal", "numba arrays primal"), ms("llvm primal"),
                     ms("numba lowered grad"), ms("numba arrays grad"),
                     ratio("numba lowered grad", "numba arrays grad"), ms("llvm grad")])
    print("\n== 4. array lowering: numba on whole-array ops lowered to fused loops vs kept "
          "whole ==")
    table([("workload", 27), ("low pr ms", 10), ("arr pr ms", 10), ("speedup", 7),
           ("llvm pr", 9), ("low gr ms", 10), ("arr gr ms", 10), ("speedup", 7),
           ("llvm gr", 9)], rows)
    print("low: CompileOptions(lower_arrays=True) (ADCOMPILE_LOWER_ARRAYS=1); arr: numba's "
          "default; speedup = arr / low; llvm: always lowered. All values and gradients agree "
          "to 1e-8.")
    return errors


# == main ==========================================================================================
def main() -> None:
    argv = sys.argv[1:]
    quick = "--quick" in argv
    if "--gmm-worker" in argv:
        gmm_worker(argv[argv.index("--gmm-worker") + 1], quick)
        return
    t_all = time.perf_counter()
    failures = []
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    for name, section in (("checkpointing", section_checkpoint), ("vector forward", section_lanes),
                          ("cleanup", section_cleanup), ("lowering", section_lowering)):
        if only is not None and not name.startswith(only):
            continue
        t0 = time.perf_counter()
        try:
            failures += [f"{name}: {e}" for e in section(quick)]
        except Exception as e:  # noqa: BLE001 - never let one section stop the others
            failures.append(f"{name}: harness: {short_error(e)}")
            traceback.print_exc()
        print(f"  [{name}: {time.perf_counter() - t0:.1f} s incl. compilation]", file=sys.stderr)
    print(f"\nbest of {bench_ad.SAMPLES} batches of >= {bench_ad.MIN_BATCH_S * 1e3:.0f} ms "
          f"({LONG_SAMPLES} for calls over {LONG_CALL_S} s); compilation excluded. "
          f"total {time.perf_counter() - t_all:.0f} s.")
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print(f"  {f}")


if __name__ == "__main__":
    main()
