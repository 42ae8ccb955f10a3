"""The examples under examples/ run at small size (`--quick`) and print correct derivatives."""
import runpy
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, capsys) -> str:
    argv = sys.argv
    sys.argv = [str(EXAMPLES / name), "--quick"]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = argv
    return capsys.readouterr().out


def test_quickstart_runs(capsys):
    out = run_example("quickstart.py", capsys)
    jvp = next(line.split() for line in out.splitlines() if line.startswith("jvp "))
    assert abs(float(jvp[2]) - float(jvp[-1])) <= 1e-12 * abs(float(jvp[-1]))   # jvp along ones == sum of the reverse gradient
    assert "PASSED" in out
    assert "def rosen_vjp" in out


def test_curve_fit_matches_scipy(capsys):
    out = run_example("curve_fit.py", capsys)
    diff = next(line for line in out.splitlines() if line.startswith("max |params difference|"))
    assert float(diff.split()[-1]) < 1e-6
    costs = [float(line.split("cost")[1].split()[0]) for line in out.splitlines()
             if line.startswith(("adcompile lm", "scipy lm"))]
    assert abs(costs[0] - costs[1]) <= 1e-8 * costs[1]
    err = {k: float(line.split("max |error|")[1].split()[0]) for line in out.splitlines()
           for k in ("linear", "soft_l1") if line.startswith(f"10% outliers, {k} loss")}
    assert err["soft_l1"] < 0.2 * err["linear"]
    rob = next(line for line in out.splitlines() if line.startswith("robust vs scipy"))
    a, b = (float(v) for v in rob.split("cost ")[1].split(",")[0].split(" vs "))
    assert abs(a - b) <= 1e-8 * b and float(rob.split()[-1]) < 1e-5


def test_hypergradient_matches_fd_and_store_all(capsys):
    out = run_example("hypergradient.py", capsys)
    rel = next(line.split() for line in out.splitlines() if line.startswith("rel error vs FD"))
    assert float(rel[5]) < 1e-5 and float(rel[7]) < 1e-5
    diff = next(line for line in out.splitlines() if line.startswith("checkpointed vs store-all"))
    assert float(diff.split()[-1]) <= 1e-12


def test_heat_inverse_recovers_field(capsys):
    out = run_example("heat_inverse.py", capsys)
    rel = next(line for line in out.splitlines() if line.startswith("relative error"))
    assert float(rel.split()[-1]) < 1e-2
    misfit = next(line.split() for line in out.splitlines() if line.startswith("misfit before"))
    assert float(misfit[4]) < 1e-6 * float(misfit[2])


def test_cuda_batched_cpu_fallback_matches_loop(capsys):
    out = run_example("cuda_batched.py", capsys)
    lines = out.splitlines()
    per = next(line for line in lines if line.startswith("max rel difference per-particle"))
    shared = next(line for line in lines if line.startswith("max rel difference shared"))
    assert float(per.split()[-1]) < 1e-12 and float(shared.split()[-1]) < 1e-12
