"""ADBench-shaped bundle adjustment over a flat parameter vector with observation index
arrays: x = [cameras (ncam x 11) | points (npt x 3) | weights (nobs)]; residuals
[2 reprojection values per observation | 1 - w^2 per observation]."""
import math

import numpy as np


def ba_flat(x, obs_cam, obs_pt, feats, ncam, npt):
    nobs = obs_cam.shape[0]
    r = np.empty(3 * nobs)
    for i in range(nobs):
        c = obs_cam[i] * 11
        p = ncam * 11 + obs_pt[i] * 3
        r0 = x[c]
        r1 = x[c + 1]
        r2 = x[c + 2]
        p0 = x[p] - x[c + 3]
        p1 = x[p + 1] - x[c + 4]
        p2 = x[p + 2] - x[c + 5]
        th2 = r0 * r0 + r1 * r1 + r2 * r2
        if th2 != 0.0:
            th = math.sqrt(th2)
            ct = math.cos(th)
            st = math.sin(th)
            w0 = r0 / th
            w1 = r1 / th
            w2 = r2 / th
            tmp = (w0 * p0 + w1 * p1 + w2 * p2) * (1.0 - ct)
            q0 = p0 * ct + (w1 * p2 - w2 * p1) * st + w0 * tmp
            q1 = p1 * ct + (w2 * p0 - w0 * p2) * st + w1 * tmp
            q2 = p2 * ct + (w0 * p1 - w1 * p0) * st + w2 * tmp
        else:
            q0 = p0 + r1 * p2 - r2 * p1
            q1 = p1 + r2 * p0 - r0 * p2
            q2 = p2 + r0 * p1 - r1 * p0
        u = q0 / q2
        v = q1 / q2
        rsq = u * u + v * v
        dist = 1.0 + x[c + 9] * rsq + x[c + 10] * rsq * rsq
        w = x[ncam * 11 + npt * 3 + i]
        r[2 * i] = w * (u * dist * x[c + 6] + x[c + 7] - feats[i, 0])
        r[2 * i + 1] = w * (v * dist * x[c + 6] + x[c + 8] - feats[i, 1])
        r[2 * nobs + i] = 1.0 - w * w
    return r


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
