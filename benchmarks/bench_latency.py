"""Compile latency: how long the first call of `adcompile.grad(gmm_objective)` takes, cold (a
fresh process with an empty ADCOMPILE_CACHE_DIR) and warm (a second fresh process with the same
cache folder), on each backend.

Run: python benchmarks/bench_latency.py [numba|llvm ...] [--time-passes] [--numba-init]

Each measurement is a subprocess: it imports adcompile (and numpy, numba or llvmlite, reported
separately as "import"), then times from the first call of the gradient to its result. Targets
(issue 12): warm <= 0.1 s on both backends, cold <= 2 s on the LLVM backend. `--time-passes`
runs the cold and warm processes with ADCOMPILE_TIME_PASSES=1 and prints their stage lines.
`--numba-init` runs numba's once-per-process set-up (its registries; the first call of any
njit function pays it, cached or not) before the clock starts and reports it separately.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import adcompile
if sys.argv[1] == "numba":
    import numba
else:
    import llvmlite
sys.path.insert(0, sys.argv[2])
from bench_ad import gmm_objective, make_workloads
t1 = time.perf_counter()
init = 0.0
if sys.argv[1] == "numba" and sys.argv[3] == "1":
    # numba's once-per-process set-up (its typing and lowering registries, which import
    # scipy for BLAS): paid by the first call of any njit function, cached or not
    from numba.core.registry import cpu_target
    cpu_target.target_context.refresh()
    cpu_target.typing_context.refresh()
    init = time.perf_counter() - t1
    t1 = time.perf_counter()
w = [w for w in make_workloads() if w.key == "gmm"][0]
g = adcompile.grad(gmm_objective, (0, 1, 2), backend=sys.argv[1])
t2 = time.perf_counter()
out = g(*w.args)
t3 = time.perf_counter()
g(*w.args)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "init": init, "first_call": t3 - t2,
                  "second_call": t4 - t3,
                  "check": float(np.sum(out[0]))}))
"""


def run(backend: str, cache: str, timing: bool, init: bool) -> tuple[dict, str]:
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=cache)
    env.pop("ADCOMPILE_TIME_PASSES", None)
    if timing:
        env["ADCOMPILE_TIME_PASSES"] = "1"
    proc = subprocess.run([sys.executable, "-c", CHILD, backend, str(HERE), str(int(init))],
                          env=env, cwd=HERE,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{backend}: child failed\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def main() -> None:
    timing = "--time-passes" in sys.argv
    init = "--numba-init" in sys.argv
    backends = [a for a in sys.argv[1:] if not a.startswith("--")] or ["numba", "llvm"]
    print(f"{'backend':<8} {'run':<5} {'import s':>9} {'numba init s':>13} {'first call s':>13} "
          f"{'2nd call ms':>12}")
    for b in backends:
        with tempfile.TemporaryDirectory(prefix="adc-latency-") as cache:
            checks = []
            for label in ("cold", "warm"):
                r, err = run(b, cache, timing, init)
                checks.append(r["check"])
                print(f"{b:<8} {label:<5} {r['import']:9.3f} {r['init']:13.3f} "
                      f"{r['first_call']:13.3f} "
                      f"{r['second_call'] * 1e3:12.3f}")
                if timing:
                    sys.stdout.write("".join("    " + ln + "\n" for ln in err.splitlines()))
            if checks[0] != checks[1]:
                print(f"  MISMATCH: cold and warm gradients differ ({checks})")


if __name__ == "__main__":
    main()
