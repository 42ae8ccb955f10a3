"""Loop-style objectives for bench_ad.py beyond its first four workloads, each with a
vectorised NumPy reference (checks the compiled primal) and a JAX peer (timed against it).

- ADBench GMM (section 1.1) in whole-array NumPy style (`gmm_objective_numpy`): the second
  user style of the suite's GMM rows, vectorised over points and components.
- ADBench LSTM (the "diagonal" LSTM of /work/shared/ADBENCH.md section 1.3), plain loops.
- ADBench BA residuals (section 1.2), one observation per row: camera (11), point (3) and
  weight (1) in P[i], the feature in F[i]; outputs the two reprojection residuals and the
  weight residual of observation i, so the per-observation Jacobian is the 3x15 block of
  ADBench's sparse Jacobian (jacfwd_rows computes all of them in one pass).
- Two functions for the jacfwd lanes row: a heat loop with a piecewise-constant diffusion
  coefficient (k pieces, updated as `v[i] += ...`) and a curve-fit residual in k parameters.

The loop code is what a user would write in the supported subset; JAX is imported only by the
`jax_*` makers, so this module loads without it.
"""
from __future__ import annotations

import math

import numpy as np


# -- GMM (ADBench 1.1), whole-array NumPy -------------------------------------------------------
def gmm_objective_numpy(alphas, means, icf, x, wishart_gamma, wishart_m):
    """ADBench's GMM objective as a NumPy user writes it: arrays over all points (n) and
    components (K) at once, the strictly-lower parts of the Q_k filled one column at a time
    (ADBench's packed column-by-column layout), the triangular products by einsum."""
    n = x.shape[0]
    d = x.shape[1]
    K = alphas.shape[0]
    q = icf[:, :d]
    sumq = np.sum(q, axis=1)
    qdiag = np.exp(q)
    L = np.zeros((K, d, d))
    start = d
    for col in range(d - 1):
        L[:, col + 1:, col] = icf[:, start:start + d - 1 - col]
        start += d - 1 - col
    xc = x[:, None, :] - means[None, :, :]                                # (n, K, d)
    y = qdiag[None, :, :] * xc + np.einsum("kij,nkj->nki", L, xc)
    t = alphas[None, :] + sumq[None, :] - 0.5 * np.sum(y * y, axis=2)     # (n, K)
    mx = np.max(t, axis=1)
    slse = np.sum(mx + np.log(np.sum(np.exp(t - mx[:, None]), axis=1)))
    amx = np.max(alphas)
    lse_alphas = amx + np.log(np.sum(np.exp(alphas - amx)))
    nprime = d + wishart_m + 1
    lgd = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        lgd += math.lgamma(0.5 * nprime + 0.5 * (1 - j))
    cst = nprime * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - lgd
    fro = np.sum(qdiag * qdiag, axis=1) + np.sum(icf[:, d:] * icf[:, d:], axis=1)
    prior = np.sum(0.5 * wishart_gamma * wishart_gamma * fro - wishart_m * sumq) - K * cst
    return -0.5 * n * d * math.log(2.0 * math.pi) + slse - n * lse_alphas + prior


# -- LSTM (ADBench 1.3) ---------------------------------------------------------------------------
def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def lstm_objective(main_params, extra_params, state, sequence):
    """ADBench's diagonal LSTM loss. main_params (2l, 4b), extra_params (3, b), state (2l, b)
    (copied, not differentiated), sequence (c, b) of 0/1 bits."""
    nl = main_params.shape[0] // 2
    b = sequence.shape[1]
    c = sequence.shape[0]
    h = np.zeros((nl, b))
    s = np.zeros((nl, b))
    for j in range(nl):
        for k in range(b):
            h[j, k] = state[2 * j, k]
            s[j, k] = state[2 * j + 1, k]
    x = np.zeros(b)
    y = np.zeros(b)
    total = 0.0
    for t in range(c - 1):
        for k in range(b):
            x[k] = sequence[t, k] * extra_params[0, k]
        for j in range(nl):
            for k in range(b):
                # forget and output gates read the layer input, the input gate and the
                # candidate read the layer's own hidden state
                fg = sigmoid(x[k] * main_params[2 * j, k] + main_params[2 * j + 1, k])
                ig = sigmoid(h[j, k] * main_params[2 * j, b + k]
                             + main_params[2 * j + 1, b + k])
                og = sigmoid(x[k] * main_params[2 * j, 2 * b + k]
                             + main_params[2 * j + 1, 2 * b + k])
                cg = math.tanh(h[j, k] * main_params[2 * j, 3 * b + k]
                               + main_params[2 * j + 1, 3 * b + k])
                s[j, k] = s[j, k] * fg + ig * cg
                h[j, k] = og * math.tanh(s[j, k])
                x[k] = h[j, k]
        se = 2.0          # ADBench's quirk: log(2 + sum exp), no max shift
        for k in range(b):
            y[k] = x[k] * extra_params[1, k] + extra_params[2, k]
            se += math.exp(y[k])
        lse = math.log(se)
        for k in range(b):
            total += sequence[t + 1, k] * (y[k] - lse)
    return -total / ((c - 1) * b)


def _lstm_vectorised(xp, main_params, extra_params, state, sequence, steps):
    """The same loss with whole-row operations; `steps(body, carry, xs)` runs the time loop
    (a Python loop for NumPy, lax.scan for JAX)."""
    nl = main_params.shape[0] // 2
    b = sequence.shape[1]
    c = sequence.shape[0]
    W = main_params[0::2].reshape(nl, 4, b)
    B = main_params[1::2].reshape(nl, 4, b)
    h0 = state[0::2]
    s0 = state[1::2]

    def sig(v):
        return 1.0 / (1.0 + xp.exp(-v))

    def body(carry, seq_t):
        h, s = carry
        x = seq_t[0] * extra_params[0]
        hs, ss = [], []
        for j in range(nl):
            f = sig(x * W[j, 0] + B[j, 0])
            i = sig(h[j] * W[j, 1] + B[j, 1])
            o = sig(x * W[j, 2] + B[j, 2])
            g = xp.tanh(h[j] * W[j, 3] + B[j, 3])
            sj = s[j] * f + i * g
            hj = o * xp.tanh(sj)
            hs.append(hj)
            ss.append(sj)
            x = hj
        y = x * extra_params[1] + extra_params[2]
        lse = xp.log(2.0 + xp.sum(xp.exp(y)))
        return (xp.stack(hs), xp.stack(ss)), xp.sum(seq_t[1] * (y - lse))
    pairs = xp.stack([sequence[:-1], sequence[1:]], axis=1)      # (c-1, 2, b)
    total = steps(body, (h0, s0), pairs)
    return -total / ((c - 1) * b)


def lstm_np(main_params, extra_params, state, sequence):
    def steps(body, carry, xs):
        total = 0.0
        for x in xs:
            carry, v = body(carry, x)
            total += v
        return total
    return float(_lstm_vectorised(np, main_params, extra_params, state, sequence, steps))


def lstm_inputs(nl: int, c: int, b: int = 14, seed: int = 0) -> tuple:
    """ADBench's generator: parameters and state U(0, 1), a 0/1 bit sequence."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=(2 * nl, 4 * b)), rng.uniform(size=(3, b)),
            rng.uniform(size=(2 * nl, b)), rng.integers(0, 2, size=(c, b)).astype(np.float64))


# -- BA (ADBench 1.2), one observation per row ----------------------------------------------------
BA_WIDTH = 15      # camera 11 | point 3 | weight 1


def ba_residuals(P, F):
    """Residuals of ADBench's bundle adjustment, one observation per row of P:
    P[i] = [r (3) | C (3) | f | u0 v0 | k1 k2 | X (3) | w]. Row i of the (n, 3) result is
    w * (proj - F[i]) (2 values) and 1 - w^2."""
    n = P.shape[0]
    r = np.empty((n, 3))
    for i in range(n):
        r0 = P[i, 0]
        r1 = P[i, 1]
        r2 = P[i, 2]
        p0 = P[i, 11] - P[i, 3]           # X - C
        p1 = P[i, 12] - P[i, 4]
        p2 = P[i, 13] - P[i, 5]
        th2 = r0 * r0 + r1 * r1 + r2 * r2
        if th2 != 0.0:                    # Rodrigues' formula
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
        else:                             # first order
            q0 = p0 + r1 * p2 - r2 * p1
            q1 = p1 + r2 * p0 - r0 * p2
            q2 = p2 + r0 * p1 - r1 * p0
        u = q0 / q2
        v = q1 / q2
        rsq = u * u + v * v
        dist = 1.0 + P[i, 9] * rsq + P[i, 10] * rsq * rsq
        w = P[i, 14]
        r[i, 0] = w * (u * dist * P[i, 6] + P[i, 7] - F[i, 0])
        r[i, 1] = w * (v * dist * P[i, 6] + P[i, 8] - F[i, 1])
        r[i, 2] = 1.0 - w * w
    return r


def _ba_vectorised(xp, P, F):
    """Rows of ba_residuals by whole-column operations (rotation angles are never 0 in the
    inputs below, so the first-order branch is not needed here)."""
    rot = P[..., 0:3]
    p = P[..., 11:14] - P[..., 3:6]
    th = xp.sqrt(xp.sum(rot * rot, axis=-1, keepdims=True))
    w = rot / th
    ct, st = xp.cos(th), xp.sin(th)
    q = p * ct + xp.cross(w, p) * st + w * (xp.sum(w * p, axis=-1, keepdims=True) * (1.0 - ct))
    uv = q[..., 0:2] / q[..., 2:3]
    rsq = xp.sum(uv * uv, axis=-1, keepdims=True)
    dist = 1.0 + P[..., 9:10] * rsq + P[..., 10:11] * rsq * rsq
    wt = P[..., 14:15]
    proj = uv * dist * P[..., 6:7] + P[..., 7:9]
    return xp.concatenate([wt * (proj - F), 1.0 - wt * wt], axis=-1)


def ba_np(P, F):
    return _ba_vectorised(np, P, F)


def ba_inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random, distinct observations (no replicated values to exploit): cameras about 5 units
    in front of the points, small rotations, realistic focal length and distortion."""
    rng = np.random.default_rng(seed)
    P = np.empty((n, BA_WIDTH))
    P[:, 0:3] = rng.normal(scale=0.3, size=(n, 3))
    P[:, 3:5] = rng.normal(scale=0.5, size=(n, 2))
    P[:, 5] = rng.uniform(-6.0, -4.0, size=n)
    P[:, 6] = rng.uniform(400.0, 600.0, size=n)
    P[:, 7:9] = rng.normal(scale=5.0, size=(n, 2))
    P[:, 9:11] = rng.normal(scale=0.05, size=(n, 2))
    P[:, 11:14] = rng.normal(size=(n, 3))
    P[:, 14] = rng.uniform(0.5, 1.5, size=n)
    F = rng.normal(scale=100.0, size=(n, 2))
    return P, F


# -- jacfwd lanes: k parameters -------------------------------------------------------------------
def heat_pieces(p, u0, steps):
    """Heat loop whose diffusion coefficient is p[j] on the j-th of k equal pieces of the rod;
    the update is written in place (`v[i] += ...`)."""
    n = u0.shape[0]
    k = p.shape[0]
    u = u0.copy()
    v = np.empty(n)
    for t in range(steps):
        v[0] = u[0]
        v[n - 1] = u[n - 1]
        for i in range(1, n - 1):
            v[i] = u[i]
            v[i] += p[(i * k) // n] * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u, v = v, u
    s = 0.0
    for i in range(n):
        s += u[i] * u[i]
    return s


def heat_pieces_np(p, u0, steps):
    n = u0.shape[0]
    coef = p[(np.arange(1, n - 1) * p.shape[0]) // n]
    u = u0.copy()
    for _ in range(steps):
        u[1:-1] = u[1:-1] + coef * (u[:-2] - 2.0 * u[1:-1] + u[2:])
    return float(np.sum(u * u))


def fit_residual(p, t, y):
    """Residuals of a k-term exponential model at m sample times: r[i] = sum_j p[j]
    exp(-(j+1) t[i]) * cos(p[j] t[i]) - y[i] (nonlinear in p)."""
    m = t.shape[0]
    k = p.shape[0]
    r = np.empty(m)
    for i in range(m):
        s = 0.0
        for j in range(k):
            s += p[j] * math.exp(-(j + 1.0) * t[i]) * math.cos(p[j] * t[i])
        r[i] = s - y[i]
    return r


def fit_residual_np(p, t, y):
    j = np.arange(1, p.shape[0] + 1.0)
    return np.sum(p[None, :] * np.exp(-j[None, :] * t[:, None]) * np.cos(p[None, :] * t[:, None]),
                  axis=1) - y


# -- JAX peers ------------------------------------------------------------------------------------
def jax_lstm(args):
    """jit(value_and_grad) of the vectorised LSTM w.r.t. main and extra params, lax.scan."""
    import jax
    from jax import lax
    import jax.numpy as jnp
    state, sequence = jnp.asarray(args[2]), jnp.asarray(args[3])

    def steps(body, carry, xs):
        _, vals = lax.scan(body, carry, xs)
        return jnp.sum(vals)

    def f(main_params, extra_params):
        return _lstm_vectorised(jnp, main_params, extra_params, state, sequence, steps)
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1))), args[:2]


def jax_heat_loss(args):
    """jit(value_and_grad) of examples/heat_stencil.py's loss w.r.t. (u0, alpha), lax.scan."""
    import jax
    from jax import lax
    import jax.numpy as jnp
    data, steps = jnp.asarray(args[2]), int(args[3])

    def f(u0, alpha):
        def body(u, _):
            return u.at[1:-1].set(u[1:-1] + alpha * (u[:-2] - 2.0 * u[1:-1] + u[2:])), None
        u, _ = lax.scan(body, u0, None, length=steps)
        return 0.5 * jnp.sum((u - data) ** 2)
    return jax.jit(jax.value_and_grad(f, argnums=(0, 1))), args[:2]


def jax_ba_jacobian():
    """jit(vmap(jacfwd(one observation's residuals))): (n, 15), (n, 2) -> (n, 3, 15)."""
    import jax
    import jax.numpy as jnp

    def one(p, f):
        return _ba_vectorised(jnp, p, f)
    return jax.jit(jax.vmap(jax.jacfwd(one, argnums=0)))
