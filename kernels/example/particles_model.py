"""The per-particle model of the CUDA example: a damped pendulum-like particle integrated by
explicit Euler until its time reaches 1 (a runtime-length while loop), returning the squared
distance of its end state to a target. The example fits the shared parameters k to targets
with the gradient summed over all particles (one GPU thread per particle)."""
import numpy as np


def particle_loss(x, k):
    t = 0.0
    p = x[0]
    v = x[1]
    while t < 1.0:
        a = -k[0] * np.sin(p) - k[1] * v
        v = v + 0.01 * a
        p = p + 0.01 * v
        t = t + 0.01
    d = p - x[2]
    return d * d
