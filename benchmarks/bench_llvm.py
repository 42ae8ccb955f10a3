"""LLVM backend against the numba backend: primal, gradient and jvp speed, call overhead, CLI build.

Run: python benchmarks/bench_llvm.py

For the four workloads of bench_ad.py (imported from there, with its timing harness) this prints
the best-of-N time of the compiled primal (`adcompile.jit`) and of the gradient
(`adcompile.grad`) on both backends, llvm-grad / numba-grad (target <= 1.2), llvm-grad /
llvm-primal, and llvm-jvp / numba-jvp for one `adcompile.jvp`. Before anything is timed, the
numba results are checked as in bench_ad.py (primal against the NumPy reference, gradient and
jvp against central differences) and every llvm result must equal the numba one to a relative
tolerance of 1e-10; a mismatch, or a failure to compile or run, is reported as FAILED (with the
error below the table) and not timed.

It also prints the per-call overhead of both backends on trivial inputs (the llvm path goes
through ctypes), and the cold wall time of `python -m adcompile build` (a ~50-line model, modes
primal,grad,jvp,vjp, a fresh empty ADCOMPILE_CACHE_DIR) with and without --no-bounds-check,
next to the in-process build time the CLI prints on stderr.
"""
from __future__ import annotations

import importlib.util
import os
import re
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

import bench_ad  # noqa: E402
from bench_ad import Workload, best_time, rel_err, short_error  # noqa: E402

BACKENDS = ("numba", "llvm")
RTOL = 1e-10        # llvm results must equal the numba results to this relative tolerance
ROUNDS = 2          # each pair of timings is taken ROUNDS times, alternating backends; min kept
GRAD_TARGET = 1.2   # llvm-grad / numba-grad
CLI_RUNS = 3        # cold CLI builds per variant (each with a fresh cache directory)


# -- checks and timing ----------------------------------------------------------------------------
def max_rel_diff(a: Any, b: Any) -> float:
    """Largest elementwise |a - b| / max(|a|, |b|) over (tuples of) scalars and arrays."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        if not (isinstance(a, tuple) and isinstance(b, tuple)) or len(a) != len(b):
            return float("inf")
        return max((max_rel_diff(x, y) for x, y in zip(a, b)), default=0.0)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("inf")
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    return float(np.max(np.where(diff == 0.0, 0.0, diff / np.maximum(scale, 1e-300))))


def same(what: str, llvm_value: Any, numba_value: Any) -> float:
    err = max_rel_diff(llvm_value, numba_value)
    if not err <= RTOL:
        raise AssertionError(f"llvm {what} differs from numba (max rel diff {err:.2e} > "
                             f"{RTOL:.0e})")
    return err


def time_pair(fns: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """bench_ad.best_time of each backend's call, ROUNDS times alternating; the minimum of each."""
    best = {k: float("inf") for k in fns}
    for _ in range(ROUNDS):
        for k, fn in fns.items():
            best[k] = min(best[k], best_time(fn))
    return best


def run_workload(w: Workload) -> None:
    r = w.results
    rng = np.random.default_rng(1)
    args = w.args
    # primal
    try:
        primal = {b: adcompile.jit(w.f, backend=b) for b in BACKENDS}
        value = primal["numba"](*args)
        ref = w.reference(*args)
        if rel_err(float(value), ref) > 1e-9:
            raise AssertionError(f"numba primal {value!r} != reference {ref!r}")
        r["diff"] = same("primal", primal["llvm"](*args), value)
        t = time_pair({b: (lambda p=primal[b]: p(*args)) for b in BACKENDS})
        r["pr_numba"], r["pr_llvm"] = t["numba"], t["llvm"]
    except Exception as e:  # noqa: BLE001 - reported in the table
        w.errors.append(f"primal: {short_error(e)}")
        r["pr_fail"] = True
        return
    # reverse mode
    try:
        g = {b: adcompile.grad(w.f, argnums=w.argnums, backend=b) for b in BACKENDS}
        gn = g["numba"](*args)
        fd = bench_ad.check_grad(w, primal["numba"], gn, rng)
        if not fd <= bench_ad.FD_TOL:
            raise AssertionError(f"numba gradient disagrees with central differences "
                                 f"(max rel err {fd:.2e})")
        r["diff"] = max(r["diff"], same("gradient", g["llvm"](*args), gn))
        t = time_pair({b: (lambda gb=g[b]: gb(*args)) for b in BACKENDS})
        r["grad_numba"], r["grad_llvm"] = t["numba"], t["llvm"]
    except Exception as e:  # noqa: BLE001
        w.errors.append(f"grad: {short_error(e)}")
        r["grad_fail"] = True
    # forward mode
    try:
        tangents = bench_ad.jvp_tangents(w, rng)
        jn = adcompile.jvp(w.f, args, tangents, backend="numba")
        fd = bench_ad.check_jvp(w, primal["numba"], tangents, jn[1])
        if not fd <= bench_ad.FD_TOL:
            raise AssertionError(f"numba jvp disagrees with a central difference (rel err "
                                 f"{fd:.2e})")
        r["diff"] = max(r["diff"], same("jvp", adcompile.jvp(w.f, args, tangents,
                                                            backend="llvm"), jn))
        t = time_pair({b: (lambda b=b: adcompile.jvp(w.f, args, tangents, backend=b))
                       for b in BACKENDS})
        r["jvp_numba"], r["jvp_llvm"] = t["numba"], t["llvm"]
    except Exception as e:  # noqa: BLE001
        w.errors.append(f"jvp: {short_error(e)}")
        r["jvp_fail"] = True


def cell_ms(r: dict, key: str, fail: str) -> str:
    if r.get(fail):
        return "FAILED"
    return f"{r[key] * 1e3:.3f}" if key in r else "-"


def cell_ratio(r: dict, num: str, den: str, fails: tuple[str, ...]) -> str:
    if any(r.get(f) for f in fails):
        return "FAILED"
    return f"{r[num] / r[den]:.2f}" if num in r and den in r else "-"


def fmt_diff(d: float | None) -> str:
    return "-" if d is None else ("0" if d == 0.0 else f"{d:.0e}")


# -- per-call overhead -----------------------------------------------------------------------------
def square(x):
    return x * x


def call_overhead() -> list[str]:
    """Per-call time of jit/grad/jvp on trivial inputs, both backends (microseconds)."""
    x = 0.7
    xs = np.array([0.3, 0.5])
    cases = [("f(x) = x*x, scalar x", square, (x,), (1.0,)),
             ("rosenbrock, 2-element array", bench_ad.rosenbrock, (xs,), (np.ones(2),))]
    lines = []
    for label, f, args, tangents in cases:
        try:
            t = {}
            for b in BACKENDS:
                p = adcompile.jit(f, backend=b)
                g = adcompile.grad(f, backend=b)
                t[b] = [best_time(lambda: p(*args)), best_time(lambda: g(*args)),
                        best_time(lambda: adcompile.jvp(f, args, tangents, backend=b))]
            same("trivial gradient", adcompile.grad(f, backend="llvm")(*args),
                 adcompile.grad(f)(*args))
        except Exception as e:  # noqa: BLE001
            lines.append(f"  {label}: not measured ({short_error(e)})")
            continue
        parts = [f"{name} {t['numba'][i] * 1e6:.1f} / {t['llvm'][i] * 1e6:.1f} us "
                 f"(+{(t['llvm'][i] - t['numba'][i]) * 1e6:.1f})"
                 for i, name in enumerate(("jit", "grad", "jvp"))]
        lines.append(f"  {label:28s} " + ", ".join(parts))
    return lines


# -- cold CLI build --------------------------------------------------------------------------------
MODEL_SIGNATURE = "f64[:], f64[:], f64, i64"
MODEL_SRC = '''\
import math

import numpy as np


def chain_loss(params, obs, dt, steps):
    """Nonlinear damped spring chain (semi-implicit Euler) fitted to a moving target."""
    n = obs.shape[0]
    pos = np.zeros(n)
    vel = np.zeros(n)
    force = np.empty(n)
    k = math.exp(params[0])
    c = math.exp(params[1])
    amp = params[2]
    for i in range(n):
        pos[i] = amp * math.sin(0.3 * i)
    loss = 0.0
    for t in range(steps):
        for i in range(n):
            if i > 0:
                left = pos[i] - pos[i - 1]
            else:
                left = pos[i]
            if i < n - 1:
                right = pos[i + 1] - pos[i]
            else:
                right = -pos[i]
            stretch = right - left
            f = k * stretch + params[3] * stretch * stretch * stretch - c * vel[i]
            if f > 50.0 or f < -50.0:
                f = 50.0 * math.tanh(f / 50.0)
            force[i] = f
        for i in range(n):
            vel[i] += dt * force[i]
            pos[i] += dt * vel[i]
        err = 0.0
        for i in range(n):
            d = pos[i] - obs[i] * math.cos(0.01 * t)
            err += d * d
        loss += err / n
    reg = 0.0
    for j in range(params.shape[0]):
        reg += params[j] * params[j]
    energy = 0.0
    for i in range(n):
        energy += 0.5 * vel[i] * vel[i]
    peak = 0.0
    for i in range(n):
        if abs(pos[i]) > peak:
            peak = abs(pos[i])
    return math.log(1.0 + loss) + 1e-3 * reg + 1e-2 * math.sqrt(energy + 1e-12) + 0.1 * peak
'''


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def cli_build(tmp: Path, tag: str, extra: list[str], cache: Path) -> tuple[float, float, Path]:
    """(wall s, in-process s from 'built ... in X s', output dir) of one CLI build."""
    out = tmp / f"out-{tag}"
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(cache))
    # the same adcompile as this process, installed or not
    pkg_root = str(Path(adcompile.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [sys.executable, "-m", "adcompile", "build", "model.py:chain_loss",
           "--mode", "primal,grad,jvp,vjp", "--signature", MODEL_SIGNATURE, "--out", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd + extra, cwd=tmp, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    m = re.search(r"built .* in ([0-9.]+) s", proc.stderr)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd + extra)} -> rc {proc.returncode}: "
                           f"{proc.stderr.strip()[-300:]}")
    return wall, float(m.group(1)), out


def check_cli_library(out: Path, model, tag: str) -> float:
    """The built library's primal and grad against the numba backend; max rel diff."""
    rng = np.random.default_rng(2)
    params = np.array([0.5, -1.0, 0.3, 0.1])
    obs = rng.normal(size=64)
    args = (params, obs, 0.05, 200)
    stub = _load(out / "chain_loss.py", f"chain_loss_stub_{tag}")
    value, *grads = stub.chain_loss_grad(*args)
    ref = adcompile.value_and_grad(model.chain_loss, argnums=(0, 1, 2))(*args)
    return max(same("CLI primal", stub.chain_loss(*args), ref[0]),
               same("CLI grad value", value, ref[0]), same("CLI grad", tuple(grads), ref[1]))


def cli_timings() -> list[str]:
    lines = []
    with tempfile.TemporaryDirectory(prefix="adc-cli-bench-") as d:
        tmp = Path(d)
        (tmp / "model.py").write_text(MODEL_SRC)
        nlines = len(MODEL_SRC.splitlines())
        model = _load(tmp / "model.py", "adc_bench_cli_model")
        variants = [("cold, bounds checks", "bc", [], True),
                    ("cold, --no-bounds-check", "nobc", ["--no-bounds-check"], True),
                    ("C runtime already cached", "warm", [], False)]
        warm_cache = tmp / "cache-warm"
        for label, tag, extra, fresh in variants:
            try:
                walls, inproc = [], []
                for i in range(CLI_RUNS):
                    cache = tmp / f"cache-{tag}-{i}" if fresh else warm_cache
                    if not fresh and i == 0:
                        cli_build(tmp, "prime", [], cache)   # compiles the C runtime once
                    wall, inp, out = cli_build(tmp, f"{tag}-{i}", extra, cache)
                    walls.append(wall)
                    inproc.append(inp)
                diff = check_cli_library(out, model, tag)
                lines.append(f"  {label:26s} wall {min(walls):.2f} s (max {max(walls):.2f}), "
                             f"in-process {min(inproc):.2f} s (max {max(inproc):.2f}); "
                             f"library vs numba max rel diff {fmt_diff(diff)}")
            except Exception as e:  # noqa: BLE001
                lines.append(f"  {label}: FAILED ({short_error(e)})")
        header = (f"CLI build: python -m adcompile build of a {nlines}-line model, --mode "
                  f"primal,grad,jvp,vjp, min (max) of {CLI_RUNS} runs,\n"
                  "  each with a fresh empty ADCOMPILE_CACHE_DIR unless noted; wall = whole "
                  "subprocess, in-process = 'built ... in X s':")
    return [header] + lines


# -- main ------------------------------------------------------------------------------------------
def main() -> None:
    workloads = bench_ad.make_workloads()
    for w in workloads:
        t0 = time.perf_counter()
        try:
            run_workload(w)
        except Exception as e:  # noqa: BLE001 - never let one workload stop the table
            w.errors.append(f"harness: {short_error(e)}")
            traceback.print_exc()
        print(f"  [{w.label}: done in {time.perf_counter() - t0:.1f} s incl. compilation]",
              file=sys.stderr)

    cols = [("workload", 30), ("pr numba", 9), ("pr llvm", 9), ("pr l/n", 6), ("gr numba", 9),
            ("gr llvm", 9), ("gr l/n", 6), ("gr/pr llvm", 10), ("jvp numba", 9),
            ("jvp llvm", 9), ("jvp l/n", 7), ("l-n diff", 8)]

    def line(cells):
        return " ".join(f"{c:<{wd}s}" if i == 0 else f"{c:>{wd}s}"
                        for i, (c, (_, wd)) in enumerate(zip(cells, cols)))
    print()
    print("times in ms; l/n = llvm / numba")
    print(line([c for c, _ in cols]))
    print("-" * (sum(wd for _, wd in cols) + len(cols) - 1))
    for w in workloads:
        r = w.results
        pf, gf, jf = "pr_fail", "grad_fail", "jvp_fail"
        print(line([w.label, cell_ms(r, "pr_numba", pf), cell_ms(r, "pr_llvm", pf),
                    cell_ratio(r, "pr_llvm", "pr_numba", (pf,)),
                    cell_ms(r, "grad_numba", gf), cell_ms(r, "grad_llvm", gf),
                    cell_ratio(r, "grad_llvm", "grad_numba", (pf, gf)),
                    cell_ratio(r, "grad_llvm", "pr_llvm", (pf, gf)),
                    cell_ms(r, "jvp_numba", jf), cell_ms(r, "jvp_llvm", jf),
                    cell_ratio(r, "jvp_llvm", "jvp_numba", (pf, jf)),
                    "FAILED" if w.errors else fmt_diff(r.get("diff"))]))
    print()
    print(f"target: gr l/n (llvm grad / numba grad) <= {GRAD_TARGET}. Best of {ROUNDS} "
          f"alternating rounds x {bench_ad.SAMPLES} batches of >= "
          f"{bench_ad.MIN_BATCH_S * 1e3:.0f} ms; compilation excluded.")
    print(f"l-n diff: max relative difference llvm vs numba over primal, gradient and jvp; "
          f"over {RTOL:.0e} is FAILED, never timed.")
    misses = [f"{w.key} {w.results['grad_llvm'] / w.results['grad_numba']:.2f}x"
              for w in workloads if "grad_llvm" in w.results
              and w.results["grad_llvm"] / w.results["grad_numba"] > GRAD_TARGET]
    print("over target: " + (", ".join(misses) if misses else "none"))
    print()
    print("call overhead, numba / llvm (+ llvm extra), included in the times above:")
    for s in call_overhead():
        print(s)
    print()
    for s in cli_timings():
        print(s)
    bench_ad.print_failures(workloads)


if __name__ == "__main__":
    main()
