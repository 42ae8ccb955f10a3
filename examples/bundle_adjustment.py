"""Bundle adjustment on BAL data (Bundle Adjustment in the Large) with adcompile's sparse
Jacobians and Levenberg-Marquardt, against scipy.optimize.least_squares (trf, finite
differences with `jac_sparsity`, the scipy bundle-adjustment cookbook).

The residual is written as a user would: one loop over the observations, reading the camera
and the point of observation k through the index arrays `obs_cam`, `obs_pt` (which decide the
Jacobian's sparsity pattern; adcompile finds it by running the program, not from the user).
Parameters are one flat vector x = [cameras (ncam x 9) | points (npt x 3)], a camera being
BAL's Rodrigues rotation r[3], translation t[3], focal length f and radial distortion k1, k2:

    P = R(r) X + t,  p = -P[:2] / P[2],  predicted = f * (1 + k1 |p|^2 + k2 |p|^4) * p

Data: a BAL file (problem-*.txt or .txt.bz2, https://grail.cs.washington.edu/projects/bal/)
given with --file, or a synthetic BAL-like problem (default Dubrovnik-16-sized: 16 cameras,
22,106 points, ~83,700 observations) with pixel noise and a perturbed start.

Run: python examples/bundle_adjustment.py [--quick | --file problem-16-22106-pre.txt.bz2]
     [--cams 16 --points 22106 --obs 83718] [--no-scipy] [--backend llvm] [--plot cost.png]
     python examples/bundle_adjustment.py --adbench ba1_n49_m7776_p31843.txt   (ADBench's
     BA format and camera model, `adbench_residual`: the sparse Jacobian's J/F)
"""
from __future__ import annotations

import argparse
import bz2
import math
import sys
import time
from dataclasses import dataclass

import numpy as np

import adcompile
from adcompile.solvers import least_squares

DUBROVNIK16 = (16, 22106, 83718)   # cameras, points, observations
CERES_JAC_MS = 17.0                # Ceres, Dubrovnik-16, residual + Jacobian (issue 14)
CERES_ITER_MS = 48.0               # Ceres, DENSE_SCHUR, one thread, per LM iteration


def rotate(w0, w1, w2, X, Y, Z, eps):
    """R(w) (X, Y, Z) for the axis-angle rotation w: Rodrigues' formula where |w|^2 > eps,
    else the first-order R ~ I + [w]x."""
    th2 = w0 * w0 + w1 * w1 + w2 * w2
    if th2 > eps:
        th = math.sqrt(th2)
        ct = math.cos(th)
        st = math.sin(th)
        a0 = w0 / th
        a1 = w1 / th
        a2 = w2 / th
        tmp = (a0 * X + a1 * Y + a2 * Z) * (1.0 - ct)
        return (X * ct + (a1 * Z - a2 * Y) * st + a0 * tmp,
                Y * ct + (a2 * X - a0 * Z) * st + a1 * tmp,
                Z * ct + (a0 * Y - a1 * X) * st + a2 * tmp)
    return X + w1 * Z - w2 * Y, Y + w2 * X - w0 * Z, Z + w0 * Y - w1 * X


def residual(x, obs_cam, obs_pt, obs_xy, ncam):
    """Reprojection errors (2 per observation) of BAL's camera model."""
    nobs = obs_cam.shape[0]
    r = np.empty(2 * nobs)
    base = ncam * 9
    for k in range(nobs):
        c = obs_cam[k] * 9
        p = base + obs_pt[k] * 3
        w0 = x[c]
        w1 = x[c + 1]
        w2 = x[c + 2]
        X = x[p]
        Y = x[p + 1]
        Z = x[p + 2]
        P0, P1, P2 = rotate(w0, w1, w2, X, Y, Z, 2.220446049250313e-16)
        P0 = P0 + x[c + 3]
        P1 = P1 + x[c + 4]
        P2 = P2 + x[c + 5]
        u = -P0 / P2
        v = -P1 / P2
        rr = u * u + v * v
        scale = x[c + 6] * (1.0 + x[c + 7] * rr + x[c + 8] * rr * rr)
        r[2 * k] = scale * u - obs_xy[k, 0]
        r[2 * k + 1] = scale * v - obs_xy[k, 1]
    return r


@dataclass
class BALProblem:
    """A BAL problem: cameras (ncam, 9), points (npt, 3) (the initial estimate), and the
    observations: camera and point index (int64) and image position (nobs, 2)."""
    cams: np.ndarray
    points: np.ndarray
    obs_cam: np.ndarray
    obs_pt: np.ndarray
    obs_xy: np.ndarray

    @property
    def ncam(self) -> int:
        return self.cams.shape[0]

    def x0(self) -> np.ndarray:
        return np.concatenate([self.cams.ravel(), self.points.ravel()])

    def args(self) -> tuple:
        return (self.obs_cam, self.obs_pt, self.obs_xy, self.ncam)

    def describe(self) -> str:
        n, m = self.cams.size + self.points.size, 2 * self.obs_cam.size
        return (f"{self.ncam} cameras, {self.points.shape[0]} points, {self.obs_cam.size} "
                f"observations: {n} parameters, {m} residuals")


def read_bal(path: str) -> BALProblem:
    """A BAL text file (optionally .bz2): `ncam npt nobs`, nobs lines `cam pt x y`, then 9
    values per camera and 3 per point, one per line."""
    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rt") as fh:
        tok = fh.read().split()
    ncam, npt, nobs = (int(t) for t in tok[:3])
    need = 3 + 4 * nobs + 9 * ncam + 3 * npt
    if len(tok) < need:
        raise ValueError(f"{path}: {len(tok)} numbers, a BAL file of {ncam} cameras, {npt} "
                         f"points and {nobs} observations has {need}")
    obs = np.array(tok[3:3 + 4 * nobs], dtype=np.float64).reshape(nobs, 4)
    rest = np.array(tok[3 + 4 * nobs:need], dtype=np.float64)
    return BALProblem(rest[:9 * ncam].reshape(ncam, 9).copy(),
                      rest[9 * ncam:].reshape(npt, 3).copy(),
                      obs[:, 0].astype(np.int64), obs[:, 1].astype(np.int64),
                      obs[:, 2:].copy())


def write_bal(path: str, prob: BALProblem) -> None:
    """The inverse of `read_bal` (plain text)."""
    with open(path, "w") as fh:
        fh.write(f"{prob.ncam} {prob.points.shape[0]} {prob.obs_cam.size}\n")
        fh.writelines(f"{c} {p} {u:.17g} {v:.17g}\n"
                      for c, p, (u, v) in zip(prob.obs_cam, prob.obs_pt, prob.obs_xy))
        fh.writelines(f"{val:.17g}\n" for val in prob.x0())


def adbench_residual(x, obs_cam, obs_pt, feats, ncam, npt):
    """ADBench's BA objective (its camera model: Rodrigues rotation r, centre C, focal f,
    principal point u0 v0, distortion k1 k2; 11 values per camera), x = [cameras | points |
    weights]: reprojection errors w_k (proj - feat_k) (2 per observation), then 1 - w_k^2."""
    nobs = obs_cam.shape[0]
    r = np.empty(3 * nobs)
    for k in range(nobs):
        c = obs_cam[k] * 11
        p = ncam * 11 + obs_pt[k] * 3
        w0 = x[c]
        w1 = x[c + 1]
        w2 = x[c + 2]
        X = x[p] - x[c + 3]
        Y = x[p + 1] - x[c + 4]
        Z = x[p + 2] - x[c + 5]
        P0, P1, P2 = rotate(w0, w1, w2, X, Y, Z, 0.0)   # ADBench: exact only at 0
        u = P0 / P2
        v = P1 / P2
        rr = u * u + v * v
        dist = 1.0 + x[c + 9] * rr + x[c + 10] * rr * rr
        w = x[ncam * 11 + npt * 3 + k]
        r[2 * k] = w * (u * dist * x[c + 6] + x[c + 7] - feats[k, 0])
        r[2 * k + 1] = w * (v * dist * x[c + 6] + x[c + 8] - feats[k, 1])
        r[2 * nobs + k] = 1.0 - w * w
    return r


def read_adbench(path: str) -> tuple:
    """An ADBench BA file (`ba{N}_n{n}_m{m}_p{p}.txt`): an `n m p` header, then one camera
    (11 values), one point (3), one weight and one feature (2), which ADBench replicates to
    n / m / p copies with observation k on camera k mod n and point k mod m.
    Returns (x, (obs_cam, obs_pt, feats, n, m)), the arguments of `adbench_residual`."""
    with open(path) as fh:
        tok = fh.read().split()
    n, m, p = (int(t) for t in tok[:3])
    vals = np.array(tok[3:3 + 17], dtype=np.float64)
    if vals.size < 17:
        raise ValueError(f"{path}: an ADBench BA file holds 3 + 17 numbers, got {len(tok)}")
    cam, pt, w, feat = vals[:11], vals[11:14], vals[14], vals[15:17]
    x = np.concatenate([np.tile(cam, n), np.tile(pt, m), np.full(p, w)])
    k = np.arange(p, dtype=np.int64)
    return x, (k % n, k % m, np.tile(feat, (p, 1)), n, m)


def write_adbench(path: str, cam, pt, w: float, feat, n: int, m: int, p: int) -> None:
    """An ADBench BA file of these sizes (the inverse of `read_adbench`)."""
    with open(path, "w") as fh:
        fh.write(f"{n} {m} {p}\n" + " ".join(f"{v:.17g}" for v in cam) + "\n"
                 + " ".join(f"{v:.17g}" for v in pt) + f"\n{w:.17g}\n"
                 + " ".join(f"{v:.17g}" for v in feat) + "\n")


def adbench_jacobian(path: str, backend=None) -> dict:
    """ADBench's BA measurement on a file: the sparse Jacobian's time over the objective's
    (J/F; ADBench's Manual C++ is 7.7 on ba1), the pattern's detection time and colours."""
    x, args = read_adbench(path)
    n, m, p = args[3], args[4], args[0].size
    print(f"problem: {path}: ADBench BA, {n} cameras, {m} points, {p} observations: "
          f"{x.size} parameters, {3 * p} residuals")
    f = adcompile.jit(adbench_residual, backend=backend)
    f(x, *args)
    t = time.perf_counter()
    pat = adcompile.jacobian_sparsity(adbench_residual, backend=backend)(x, *args)
    t_pat = time.perf_counter() - t
    J_of = adcompile.jacobian(adbench_residual, sparse=True, backend=backend)
    J = J_of(x, *args)
    tj = _best(lambda: J_of(x, *args), 10)
    tf = _best(lambda: f(x, *args), 30)
    print(f"sparsity: {pat.nnz} nonzeros, {pat.nnz / max(p, 1):.0f} per observation (ADBench "
          f"stores 31: its 2x15 blocks keep the structural zeros of u0 in y and v0 in x), "
          f"{t_pat:.2f} s (first call: compiles); {J_of.ncolors} colours")
    print(f"sparse Jacobian {tj * 1e3:.2f} ms, objective {tf * 1e3:.3f} ms: J/F "
          f"{tj / tf:.1f} (ADBench Manual C++: 7.7)")
    return {"x": x, "args": args, "pattern": pat, "J": J, "t_jac": tj, "t_res": tf,
            "ncolors": J_of.ncolors}


def plot_costs(path: str, runs: dict) -> None:
    """Cost per iteration of each solver run (`label -> [(iteration, cost), ...]`) as a PNG,
    log scale (matplotlib: `pip install adcompile[plot]`)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, rows in runs.items():
        its, costs = zip(*rows) if rows else ((), ())
        ax.semilogy(its, costs, marker="o", label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost  0.5 |r|^2")
    ax.set_title("bundle adjustment: Levenberg-Marquardt")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"cost per iteration: {path}")


def project(cams: np.ndarray, points: np.ndarray, obs_cam, obs_pt) -> np.ndarray:
    """BAL's camera model in vectorised NumPy (the synthetic data's ground truth; an
    implementation independent of `residual`)."""
    cam, X = cams[obs_cam], points[obs_pt]
    w = cam[:, :3]
    th = np.linalg.norm(w, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(th > 0, w / th, 0.0)
    ct, st = np.cos(th), np.sin(th)
    P = X * ct + np.cross(a, X) * st + a * np.sum(a * X, axis=1, keepdims=True) * (1 - ct)
    P = P + cam[:, 3:6]
    p = -P[:, :2] / P[:, 2:3]
    rr = np.sum(p * p, axis=1, keepdims=True)
    return cam[:, 6:7] * (1.0 + cam[:, 7:8] * rr + cam[:, 8:9] * rr * rr) * p


def synthetic_problem(ncam: int, npt: int, nobs: int, noise: float = 0.5,
                      seed: int = 0) -> tuple[BALProblem, np.ndarray]:
    """A BAL-like problem: points in a ball of radius 2, cameras at distance 8-12 looking at
    it (any rotation; the scene's centre in front of every camera), each point seen by at
    least 2 cameras (about nobs/npt on average), observations with Gaussian pixel noise of
    `noise`, and a perturbed start (the problem's initial estimate). Returns the problem and
    the true parameter vector."""
    rng = np.random.default_rng(seed)
    cams = np.empty((ncam, 9))
    cams[:, 0:3] = rng.normal(scale=0.3, size=(ncam, 3))
    cams[:, 3:5] = rng.normal(scale=0.5, size=(ncam, 2))
    cams[:, 5] = -rng.uniform(8.0, 12.0, size=ncam)
    cams[:, 6] = rng.uniform(400.0, 600.0, size=ncam)
    cams[:, 7] = rng.normal(scale=0.05, size=ncam)
    cams[:, 8] = rng.normal(scale=0.005, size=ncam)
    d = rng.normal(size=(npt, 3))
    pts = 2.0 * d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(0, 1, (npt, 1)) ** (1 / 3)
    per = np.clip(2 + rng.poisson(max(nobs / npt - 2.0, 0.0), size=npt), 2, ncam)
    order = np.argsort(rng.random((npt, ncam)), axis=1)     # each point's cameras, shuffled
    take = np.arange(ncam)[None, :] < per[:, None]
    obs_pt = np.repeat(np.arange(npt), per).astype(np.int64)
    obs_cam = order[take].astype(np.int64)
    xy = project(cams, pts, obs_cam, obs_pt) + rng.normal(scale=noise, size=(obs_pt.size, 2))
    start = cams.copy()
    start[:, 0:3] += rng.normal(scale=1e-2, size=(ncam, 3))
    start[:, 3:6] += rng.normal(scale=5e-2, size=(ncam, 3))
    start[:, 6] *= 1.0 + rng.normal(scale=1e-2, size=ncam)
    start[:, 7] += rng.normal(scale=1e-2, size=ncam)
    start_pts = pts + rng.normal(scale=5e-2, size=pts.shape)
    truth = np.concatenate([cams.ravel(), pts.ravel()])
    return BALProblem(start, start_pts, obs_cam, obs_pt, xy), truth


def index_sparsity(prob: BALProblem):
    """The pattern written out from the index arrays (the scipy cookbook's construction):
    each observation's 2 rows touch its camera's 9 and its point's 3 columns."""
    import scipy.sparse as sps
    nobs = prob.obs_cam.size
    cols = np.concatenate([prob.obs_cam[:, None] * 9 + np.arange(9),
                           prob.ncam * 9 + prob.obs_pt[:, None] * 3 + np.arange(3)], axis=1)
    rows = np.repeat(np.arange(2 * nobs), 12)
    cols = np.repeat(cols, 2, axis=0).ravel()
    n = prob.cams.size + prob.points.size
    return sps.csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(2 * nobs, n))


def _best(fn, reps: int) -> float:
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", help="a BAL problem file (.txt or .txt.bz2)")
    ap.add_argument("--adbench", help="an ADBench BA file (ba1_n49_m7776_p31843.txt): time "
                                      "its sparse Jacobian (J/F) and stop")
    ap.add_argument("--plot", help="write the cost per iteration to this PNG (matplotlib)")
    ap.add_argument("--quick", "--small", action="store_true",
                    help="a small synthetic problem (4 cameras, 60 points)")
    ap.add_argument("--cams", type=int, default=DUBROVNIK16[0])
    ap.add_argument("--points", type=int, default=DUBROVNIK16[1])
    ap.add_argument("--obs", type=int, default=DUBROVNIK16[2])
    ap.add_argument("--noise", type=float, default=0.5, help="pixel noise (synthetic)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default=None, help='"numba" (default) or "llvm"')
    ap.add_argument("--ftol", type=float, default=1e-10)
    ap.add_argument("--no-scipy", action="store_true", help="skip the scipy comparison")
    ap.add_argument("--scipy-max-nfev", type=int, default=None)
    a = ap.parse_args(argv)
    if a.adbench:
        return adbench_jacobian(a.adbench, a.backend)
    if a.file:
        prob, truth = read_bal(a.file), None
        print(f"problem: {a.file}: {prob.describe()}")
    else:
        sizes = (4, 60, 240) if a.quick else (a.cams, a.points, a.obs)
        prob, truth = synthetic_problem(*sizes, noise=a.noise, seed=a.seed)
        print(f"problem: synthetic, {prob.describe()}, noise {a.noise} px")
    x0, args = prob.x0(), prob.args()
    out = {"problem": prob}

    f = adcompile.jit(residual, backend=a.backend)
    t = time.perf_counter()
    pat = adcompile.jacobian_sparsity(residual, backend=a.backend)(x0, *args)
    t_pat = time.perf_counter() - t
    same = (pat != index_sparsity(prob)).nnz == 0
    print(f"sparsity: {pat.nnz} nonzeros, detected in {t_pat:.2f} s (first call: compiles); "
          f"equals the index-built pattern: {same}")
    J_of = adcompile.jacobian(residual, sparse=True, backend=a.backend)
    t = time.perf_counter()
    J_of(x0, *args)
    t_first = time.perf_counter() - t
    f(x0, *args)
    reps = 10
    tj = _best(lambda: J_of(x0, *args), reps)
    tf = _best(lambda: f(x0, *args), 3 * reps)
    print(f"sparse Jacobian: {tj * 1e3:.2f} ms, {J_of.ncolors} colours ({J_of.coloring.mode}); "
          f"residual {tf * 1e3:.3f} ms; first call {t_first:.2f} s (compile + colouring)")
    print(f"residual + Jacobian {(tj + tf) * 1e3:.2f} ms (Ceres, Dubrovnik-16: ~"
          f"{CERES_JAC_MS:.0f} ms)")
    out.update(pattern_ok=same, t_jac=tj, t_res=tf, ncolors=J_of.ncolors)

    r0 = f(x0, *args)
    cost0 = 0.5 * float(r0 @ r0)
    m, n = r0.size, x0.size
    floor = 0.5 * a.noise ** 2 * (m - n) if truth is not None else float("nan")
    t = time.perf_counter()
    res = least_squares(residual, x0, args=args, method="lm", jac="sparse", ftol=a.ftol,
                        backend=a.backend)
    t_ad = time.perf_counter() - t
    per_it = t_ad / max(res.nit, 1)
    print(f"adcompile lm (sparse): initial cost {cost0:.6e}, final cost {res.cost:.6e}, "
          f"{res.nit} iterations, {res.nfev} evaluations, {res.njev} Jacobians, {t_ad:.2f} s, "
          f"{per_it * 1e3:.1f} ms per iteration (Ceres: {CERES_ITER_MS:.0f} ms); "
          f"status {res.status}: {res.message} (pattern and colouring cached from above)")
    if truth is not None:
        print(f"noise floor 0.5 * noise^2 * (m - n) = {floor:.6e}")
    out.update(ad=res, t_ad=t_ad, cost0=cost0, floor=floor)

    if not a.no_scipy:
        import scipy.optimize

        def fun(z):
            return f(z, *args)
        t = time.perf_counter()
        ref = scipy.optimize.least_squares(fun, x0, jac_sparsity=pat, method="trf",
                                           x_scale="jac", ftol=a.ftol,
                                           max_nfev=a.scipy_max_nfev)
        t_sp = time.perf_counter() - t
        nit_sp = ref.njev
        print(f"scipy trf (finite differences, jac_sparsity, x_scale='jac'): initial cost "
              f"{cost0:.6e}, final cost {ref.cost:.6e}, {nit_sp} iterations, {ref.nfev} "
              f"evaluations, {t_sp:.2f} s, {t_sp / max(nit_sp, 1) * 1e3:.1f} ms per iteration; "
              f"status {ref.status}")
        print(f"final cost adcompile / scipy: {res.cost / ref.cost:.9f}; total time "
              f"adcompile / scipy: {t_ad / t_sp:.3f}")
        out.update(scipy=ref, t_scipy=t_sp)
    if a.plot:
        plot_costs(a.plot, {"adcompile lm (sparse)": [(0, cost0)] + [
            (row[0], row[1]) for row in res.history]})
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
