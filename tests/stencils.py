"""The heat stencil loss shared by the tests of the passes that make it vectorise (bounds
versioning, split_sums): two buffers swapped per step, then a squared-error loss."""
import numpy as np


def heat(u0, alpha, data, steps):
    n = u0.shape[0]
    u = u0.copy()
    new = np.empty(n)
    for t in range(steps):
        new[0] = u[0]
        new[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            new[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, new = new, u
    s = 0.0
    for i in range(n):
        d = u[i] - data[i]
        s += d * d
    return 0.5 * s
