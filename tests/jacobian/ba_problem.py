"""ADBench-shaped bundle adjustment over a flat parameter vector with observation index
arrays: x = [cameras (ncam x 11) | points (npt x 3) | weights (nobs)]; residuals
[2 reprojection values per observation | 1 - w^2 per observation]. The objective is the
example's (`examples/bundle_adjustment.py`, `adbench_residual`), checked there against the
benchmarks' per-observation formulation."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from bundle_adjustment import adbench_residual as ba_flat  # noqa: E402


def ba_case(ncam, npt, nobs, seed=0):
    rng = np.random.default_rng(seed)
    cams = np.empty((ncam, 11))
    cams[:, 0:3] = rng.normal(scale=0.3, size=(ncam, 3))
    cams[:, 3:5] = rng.normal(scale=0.5, size=(ncam, 2))
    cams[:, 5] = rng.uniform(-6.0, -4.0, size=ncam)
    cams[:, 6] = rng.uniform(400.0, 600.0, size=ncam)
    cams[:, 7:9] = rng.normal(scale=5.0, size=(ncam, 2))
    cams[:, 9:11] = rng.normal(scale=0.05, size=(ncam, 2))
    pts = rng.normal(size=(npt, 3))
    w = rng.uniform(0.5, 1.5, size=nobs)
    x = np.concatenate([cams.ravel(), pts.ravel(), w])
    obs_cam = rng.integers(0, ncam, nobs)
    obs_pt = rng.integers(0, npt, nobs)
    feats = rng.normal(scale=100.0, size=(nobs, 2))
    return x, obs_cam, obs_pt, feats, ncam, npt


def ba_true_pattern(obs_cam, obs_pt, ncam, npt):
    """The exact pattern, written out from the formulas (the independent oracle)."""
    import scipy.sparse as sps
    nobs = obs_cam.size
    rows, cols = [], []
    for i in range(nobs):
        cs = list(range(obs_cam[i] * 11, obs_cam[i] * 11 + 11))
        cs += list(range(ncam * 11 + obs_pt[i] * 3, ncam * 11 + obs_pt[i] * 3 + 3))
        cs.append(ncam * 11 + npt * 3 + i)
        c = obs_cam[i] * 11
        for r, skip in ((2 * i, c + 8), (2 * i + 1, c + 7)):   # u reads u0, v reads v0
            row = [j for j in cs if j != skip]
            rows += [r] * len(row)
            cols += row
        rows.append(2 * nobs + i)
        cols.append(ncam * 11 + npt * 3 + i)
    return sps.csr_matrix((np.ones(len(rows), bool), (rows, cols)),
                          shape=(3 * nobs, ncam * 11 + npt * 3 + nobs))
