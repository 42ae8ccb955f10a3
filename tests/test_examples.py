"""The examples under examples/ run at small size (`--quick`) and print correct derivatives."""
import runpy
import sys
from pathlib import Path

import pytest

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


def _load_example(name: str) -> dict:
    return runpy.run_path(str(EXAMPLES / name))


def test_bundle_adjustment_matches_scipy(capsys):
    """The small synthetic BAL problem: adcompile's sparse LM reaches scipy trf's cost (finite
    differences with jac_sparsity), from the same start, near the noise floor."""
    ba = _load_example("bundle_adjustment.py")
    out = ba["main"](["--quick", "--backend", "llvm"])
    text = capsys.readouterr().out
    assert "equals the index-built pattern: True" in text and out["pattern_ok"]
    res, ref = out["ad"], out["scipy"]
    assert res.success and res.status in (1, 2, 3), res.message
    assert res.cost < 0.05 * out["cost0"]
    assert res.cost <= ref.cost * (1 + 1e-6)
    assert 0.5 * out["floor"] < res.cost < 1.5 * out["floor"]
    assert out["ncolors"] <= 12


def test_bundle_adjustment_jacobian_and_reader(tmp_path):
    """On a tiny problem (one camera with zero rotation: the small-angle branch) the sparse
    Jacobian equals central differences and dense jacfwd; read_bal reads what write_bal
    writes, plain and bz2."""
    import bz2

    import numpy as np

    import adcompile
    ba = _load_example("bundle_adjustment.py")
    prob, _ = ba["synthetic_problem"](3, 6, 15, seed=4)
    prob.cams[1, :3] = 0.0
    x, args = prob.x0(), prob.args()
    J = adcompile.jacobian(ba["residual"], sparse=True, backend="llvm")(x, *args)
    D = adcompile.jacfwd(ba["residual"], backend="llvm")(x, *args)
    np.testing.assert_allclose(J.toarray(), D, rtol=1e-12, atol=1e-9)
    fd = np.empty_like(D)
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        fd[:, j] = (ba["residual"](x + e, *args) - ba["residual"](x - e, *args)) / (2 * h)
    np.testing.assert_allclose(J.toarray(), fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    np.testing.assert_allclose(ba["residual"](x, *args),
                               (ba["project"](prob.cams, prob.points, prob.obs_cam,
                                              prob.obs_pt) - prob.obs_xy).ravel(),
                               rtol=1e-12, atol=1e-9)
    path = tmp_path / "problem-3-6-pre.txt"
    ba["write_bal"](str(path), prob)
    bz = tmp_path / "problem-3-6-pre.txt.bz2"
    bz.write_bytes(bz2.compress(path.read_bytes()))
    for p in (path, bz):
        back = ba["read_bal"](str(p))
        for name in ("cams", "points", "obs_cam", "obs_pt", "obs_xy"):
            np.testing.assert_array_equal(getattr(back, name), getattr(prob, name))
        assert back.obs_cam.dtype == np.int64


def test_bundle_adjustment_reads_adbench_files(tmp_path, capsys):
    """ADBench's BA format (one camera, point, weight and feature, replicated with
    observation k on camera k mod n and point k mod m): the example's ADBench objective equals
    the benchmarks' per-observation formulation (rows of camera | point | weight), its pattern
    is the exact one (29 nonzeros per observation), the sparse Jacobian equals dense jacfwd."""
    import numpy as np

    import adcompile
    from tests.jacobian.ba_problem import ba_true_pattern
    sys.path.insert(0, str(EXAMPLES.parent / "benchmarks"))
    import adbench_objectives as abo
    ba = _load_example("bundle_adjustment.py")
    path = tmp_path / "ba_n3_m5_p12.txt"
    cam = [0.1, -0.2, 0.3, 0.5, -0.4, -5.0, 500.0, 3.0, -2.0, 0.01, -0.002]
    ba["write_adbench"](str(path), cam, [0.3, -0.1, 1.2], 0.9, [40.0, -25.0], 3, 5, 12)
    out = ba["main"](["--adbench", str(path), "--backend", "llvm"])
    assert "J/F" in capsys.readouterr().out
    x, args = out["x"], out["args"]
    oc, op, feats, n, m = args
    assert list(oc) == [k % 3 for k in range(12)] and list(op) == [k % 5 for k in range(12)]
    cams, pts, w = x[:11 * n].reshape(n, 11), x[11 * n:11 * n + 3 * m].reshape(m, 3), x[-12:]
    rows = abo.ba_residuals(np.column_stack([cams[oc], pts[op], w]), feats)
    r = ba["adbench_residual"](x, *args)
    np.testing.assert_allclose(r[:24].reshape(12, 2), rows[:, :2], rtol=1e-13)
    np.testing.assert_allclose(r[24:], rows[:, 2], rtol=1e-13)
    assert (out["pattern"] != ba_true_pattern(oc, op, n, m)).nnz == 0
    D = adcompile.jacfwd(ba["adbench_residual"], backend="llvm")(x, *args)
    np.testing.assert_allclose(out["J"].toarray(), D, rtol=1e-12, atol=1e-12)
    assert out["ncolors"] <= 15


def test_bundle_adjustment_plots_the_cost(tmp_path):
    pytest.importorskip("matplotlib")
    ba = _load_example("bundle_adjustment.py")
    png = tmp_path / "cost.png"
    out = ba["main"](["--quick", "--backend", "llvm", "--no-scipy", "--plot", str(png)])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out["ad"].history and out["ad"].history[-1][1] == out["ad"].cost
