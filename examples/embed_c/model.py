"""A 1-D heat-equation simulation and its data misfit, in adcompile's subset.

A rod on [0, 1] with both ends held at zero temperature:

    u_t = alpha * u_xx,      u(0, t) = u(1, t) = 0,      u(x, 0) = u0(x)

discretised on N grid points with the explicit (forward Euler, centred second difference)
scheme.  The diffusivity ``alpha`` is the unknown parameter; ``misfit`` compares the simulated
temperatures with measured ones, sampled every ``OBS_EVERY`` time steps.

Everything here is plain Python over floats, ints and NumPy arrays, so the same file runs
in CPython, through ``adcompile.jit`` / ``adcompile.grad``, and as C kernels built by
``python -m adcompile build`` (see CMakeLists.txt and main.c).
"""
import numpy as np

N = 64            # grid points, including the two boundary points
STEPS = 200       # time steps
DT = 2.0e-5       # time step; stable while alpha * DT / DX**2 <= 1/2, i.e. alpha <= 6.3
OBS_EVERY = 20    # time steps between two observations
TRUE_ALPHA = 1.75  # the diffusivity that generates the synthetic measurements
NOISE = 0.01      # amplitude of the (deterministic) measurement error


def initial_state(n):
    """u0(x) = 16 x^2 (1 - x)^2 (1 + x) on n points: a skewed bump, zero at both ends.

    Only + - * / (correctly rounded in IEEE arithmetic, evaluated left to right), so main.c
    reproduces it bit for bit.
    """
    u0 = np.empty(n)
    for i in range(n):
        x = i / (n - 1.0)
        y = 1.0 - x
        u0[i] = 16.0 * x * x * y * y * (1.0 + x)
    return u0


def heat_step(u, new, r):
    """One explicit step u -> new with r = alpha * dt / dx^2 (fixed ends)."""
    n = u.shape[0]
    new[0] = 0.0
    new[n - 1] = 0.0
    for i in range(1, n - 1):
        new[i] = u[i] + r * (u[i - 1] - 2.0 * u[i] + u[i + 1])


def simulate(alpha, u0, steps, obs_every):
    """Observations of the temperature field: row k is the state after (k + 1) * obs_every steps
    (steps // obs_every rows; trailing steps that reach no observation are not simulated)."""
    n = u0.shape[0]
    dx = 1.0 / (n - 1)
    r = alpha * DT / (dx * dx)
    nobs = steps // obs_every
    obs = np.zeros((nobs, n))
    u = u0.copy()
    new = np.empty(n)
    for k in range(nobs):
        for t in range(obs_every):
            heat_step(u, new, r)
            u, new = new, u
        for i in range(n):
            obs[k, i] = u[i]
    return obs


def measurements(alpha, u0, steps, obs_every, noise):
    """Synthetic measurements: simulate(...) plus a deterministic error pattern in [-noise, noise].

    The pattern uses integer arithmetic only (no random numbers), so Python and C agree exactly.
    """
    obs = simulate(alpha, u0, steps, obs_every)
    for k in range(obs.shape[0]):
        for i in range(obs.shape[1]):
            p = ((7 * k + 3 * i) % 13 - 6) / 6.0
            obs[k, i] = obs[k, i] + noise * p
    return obs


def misfit(alpha, u0, data, steps, obs_every):
    """Sum of squared differences between simulated and measured observations."""
    obs = simulate(alpha, u0, steps, obs_every)
    s = 0.0
    for k in range(obs.shape[0]):
        for i in range(obs.shape[1]):
            d = obs[k, i] - data[k, i]
            s += d * d
    return s
