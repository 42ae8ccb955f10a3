"""Per-instance models of bench_batch.py and the batch tests: a while-loop integrator per
particle (runtime trip count) and the bundle-adjustment reprojection residual (15 inputs, 2
outputs) per observation."""
import numpy as np


def particle(x, k):
    """A particle under a nonlinear force, integrated until its time reaches 1 (a runtime
    trip count that depends on the step size k[2]); returns an energy-like scalar."""
    t = 0.0
    p = x[0]
    v = x[1]
    e = 0.0
    while t < 1.0:
        a = -k[0] * np.sin(p) - k[1] * v
        v = v + k[2] * a
        p = p + k[2] * v
        e = e + k[2] * (v * v + p * p)
        t = t + k[2]
    return e + x[2] * p


def reprojection(cam, X, w):
    """The BA reprojection residual of one observation: camera (11: rotation 3, center 3,
    focal 1, principal point 2, radial 2), point (3), weight (1) -> 2 residuals."""
    r0, r1, r2 = cam[0], cam[1], cam[2]
    theta2 = r0 * r0 + r1 * r1 + r2 * r2
    theta = np.sqrt(theta2 + 1e-30)
    c = np.cos(theta)
    s = np.sin(theta)
    k0 = r0 / theta
    k1 = r1 / theta
    k2 = r2 / theta
    p0 = X[0] - cam[3]
    p1 = X[1] - cam[4]
    p2 = X[2] - cam[5]
    d = k0 * p0 + k1 * p1 + k2 * p2
    q0 = p0 * c + (k1 * p2 - k2 * p1) * s + k0 * d * (1.0 - c)
    q1 = p1 * c + (k2 * p0 - k0 * p2) * s + k1 * d * (1.0 - c)
    q2 = p2 * c + (k0 * p1 - k1 * p0) * s + k2 * d * (1.0 - c)
    u0 = q0 / q2
    u1 = q1 / q2
    rr = u0 * u0 + u1 * u1
    dist = 1.0 + cam[9] * rr + cam[10] * rr * rr
    out = np.empty(2)
    out[0] = w * (cam[6] * dist * u0 + cam[7])
    out[1] = w * (cam[6] * dist * u1 + cam[8])
    return out
