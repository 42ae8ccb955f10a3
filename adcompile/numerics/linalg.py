"""Dense linear algebra for compiled code, written in the supported subset with derivative
rules: what `np.linalg.solve`, `inv`, `det`, `slogdet`, `cholesky`, `qr`, `eigh` and
`lstsq` compile to (the frontend's handlers in `frontend/linalg.py` check shapes and
dtypes and call these).

Why source and not new primitives: every backend (interpreter, numba, LLVM, CUDA) runs them
unchanged, and the derivative transforms see ordinary loops. Each function is a `linearized_jvp`
(a custom JVP given as linearization + linear tangent map) with the standard matrix-calculus rule, so neither mode differentiates through pivoting or
iterations: forward mode runs the rule, reverse mode transposes it (the rule is linear in
the tangents, and its factorisation depends on the primals only, so the adjoint reuses it:
the adjoint of a solve is two triangular solves with the same LU factors, O(n^2)).

The algorithms are the textbook ones numeric libraries use for small dense matrices: LU with
partial pivoting (rows swapped as LAPACK's getrf does), Cholesky by columns, Householder QR
with LAPACK's sign convention (so Q and R agree with NumPy's), and cyclic Jacobi rotations for
the symmetric eigenproblem (accurate to working precision, O(n^3) per sweep). Like NumPy's,
`cholesky` and `eigh` read only the lower triangle of their argument; their derivatives are
those of that function (an upper-triangle entry has no effect).
"""
from __future__ import annotations

import math

import numpy as np

from ..custom.linearized import linearized_jvp


# -- building blocks (plain subset functions, inlined where they are called) -------------------
def eye_like(a):
    """The identity in the shape and dtype of the square matrix a."""
    e = np.zeros_like(a)
    for i in range(a.shape[0]):
        e[i, i] = 1.0
    return e


def divide(s, d):
    """s / d, NaN for d == 0: a singular factor yields NaN (the handler then raises NumPy's
    error) instead of stopping with a ZeroDivisionError inside the numerics."""
    q = math.nan + 0.0 * s
    if d != 0.0:
        q = s / d
    return q


def lu_factor(a):
    """P a = L U with partial pivoting: (lu, piv), L unit lower and U upper in one matrix;
    piv[k] is the row swapped with row k at step k. A zero pivot column is skipped (the
    matrix is singular: U has a zero on its diagonal, counted in `zeros`, a float so that
    it can leave a custom function next to differentiable results)."""
    n = a.shape[0]
    lu = a.copy()
    piv = np.zeros(n, dtype=np.int64)
    zeros = 0.0 * a[0, 0]
    for k in range(n):
        p = k
        big = abs(lu[k, k])
        for i in range(k + 1, n):
            v = abs(lu[i, k])
            if v > big:
                big = v
                p = i
        piv[k] = p
        if p != k:
            for j in range(n):
                t = lu[k, j]
                lu[k, j] = lu[p, j]
                lu[p, j] = t
        d = lu[k, k]
        if d != 0.0:
            for i in range(k + 1, n):
                f = lu[i, k] / d
                lu[i, k] = f
                for j in range(k + 1, n):
                    lu[i, j] -= f * lu[k, j]
        else:
            zeros += 1.0
    return lu, piv, zeros


def lu_solve(lu, piv, b):
    """Solve a x = b for the columns of b (n-by-m) from a's LU factors."""
    n = lu.shape[0]
    m = b.shape[1]
    x = b.copy()
    for k in range(n):
        p = piv[k]
        if p != k:
            for c in range(m):
                t = x[k, c]
                x[k, c] = x[p, c]
                x[p, c] = t
    for c in range(m):
        for i in range(n):
            s = x[i, c]
            for j in range(i):
                s -= lu[i, j] * x[j, c]
            x[i, c] = s
        for i in range(n - 1, -1, -1):
            s = x[i, c]
            for j in range(i + 1, n):
                s -= lu[i, j] * x[j, c]
            x[i, c] = divide(s, lu[i, i])
    return x


def lu_det(lu, piv):
    """det(a) from its LU factors: the product of U's diagonal, negated per row swap."""
    n = lu.shape[0]
    d = lu[0, 0] * 0.0 + 1.0
    for k in range(n):
        d = d * lu[k, k]
        if piv[k] != k:
            d = -d
    return d


def lower_symmetric(a):
    """The symmetric matrix whose lower triangle is a's (what cholesky/eigh read)."""
    n = a.shape[0]
    s = a.copy()
    for i in range(n):
        for j in range(i + 1, n):
            s[i, j] = a[j, i]
    return s


def trace_of_solve(lu, piv, da):
    """tr(a^{-1} da), the tangent of log|det a| (and det's, times det)."""
    z = lu_solve(lu, piv, da)
    t = z[0, 0] * 0.0
    for i in range(z.shape[0]):
        t += z[i, i]
    return t


# -- solve, inv, det, slogdet ------------------------------------------------------------------
# Each function is `linearized_jvp(primal, out_ndims)` plus `deflinear(linearize, tangent)`:
# linearize returns the outputs and what the tangent map needs (the factors), tangent is
# linear in the tangents.
def solve_primal(a, b):
    """(x with a x = b, b n-by-m; the number of zero pivots, nonzero: a is singular)."""
    lu, piv, zeros = lu_factor(a)
    return lu_solve(lu, piv, b), zeros


def solve_linearize(a, b):
    lu, piv, zeros = lu_factor(a)
    x = lu_solve(lu, piv, b)
    return (x, zeros), (lu, piv, x, zeros)


def solve_tangent(res, tangents):
    lu, piv, x, zeros = res
    da, db = tangents
    return lu_solve(lu, piv, db - da @ x), 0.0 * zeros


solve = linearized_jvp(solve_primal, (2, 0)).deflinear(solve_linearize, solve_tangent)


def inv_primal(a):
    """(a^{-1}, the number of zero pivots)."""
    lu, piv, zeros = lu_factor(a)
    return lu_solve(lu, piv, eye_like(a)), zeros


def inv_linearize(a):
    x, zeros = inv_primal(a)
    return (x, zeros), (x, zeros)


def inv_tangent(res, tangents):
    x, zeros = res
    (da,) = tangents
    return -(x @ (da @ x)), 0.0 * zeros


inv = linearized_jvp(inv_primal, (2, 0)).deflinear(inv_linearize, inv_tangent)


def det_primal(a):
    lu, piv, _ = lu_factor(a)
    return lu_det(lu, piv)


def det_linearize(a):
    lu, piv, _ = lu_factor(a)
    d = lu_det(lu, piv)
    return d, (lu, piv, d)


def det_tangent(res, tangents):
    """d det = det tr(a^{-1} da): NaN at an exactly singular matrix (see docs/subset.md)."""
    lu, piv, d = res
    (da,) = tangents
    return d * trace_of_solve(lu, piv, da)


det = linearized_jvp(det_primal).deflinear(det_linearize, det_tangent)


def slogdet_of_lu(lu, piv):
    """(sign, log|det a|); sign 0 and -inf for a singular matrix, as NumPy."""
    n = lu.shape[0]
    sign = lu[0, 0] * 0.0 + 1.0
    logdet = lu[0, 0] * 0.0
    for k in range(n):
        u = lu[k, k]
        if piv[k] != k:
            sign = -sign
        if u < 0.0:
            sign = -sign
        if u == 0.0:
            sign = sign * 0.0
        logdet += np.log(abs(u))
    return sign, logdet


def slogdet_primal(a):
    lu, piv, _ = lu_factor(a)
    return slogdet_of_lu(lu, piv)


def slogdet_linearize(a):
    lu, piv, _ = lu_factor(a)
    sign, logdet = slogdet_of_lu(lu, piv)
    return (sign, logdet), (lu, piv, sign)


def slogdet_tangent(res, tangents):
    lu, piv, sign = res
    (da,) = tangents
    return 0.0 * sign, trace_of_solve(lu, piv, da)


slogdet = linearized_jvp(slogdet_primal, (0, 0)).deflinear(slogdet_linearize, slogdet_tangent)


# -- cholesky -------------------------------------------------------------------------------
def cholesky_lower(a):
    """(L with L L^T = a, lower triangle of a read; the number of non-positive pivots,
    nonzero: a is not positive definite, and L holds NaN from that column on)."""
    n = a.shape[0]
    low = np.zeros_like(a)
    bad = 0.0 * a[0, 0]
    for j in range(n):
        s = a[j, j]
        for k in range(j):
            s -= low[j, k] * low[j, k]
        d = math.nan + 0.0 * s
        if s > 0.0:
            d = math.sqrt(s)
        else:
            bad += 1.0
        low[j, j] = d
        for i in range(j + 1, n):
            t = a[i, j]
            for k in range(j):
                t -= low[i, k] * low[j, k]
            low[i, j] = t / d
    return low, bad


def solve_lower(low, b):
    """low^{-1} b, low lower triangular, b n-by-m."""
    n = low.shape[0]
    x = b.copy()
    for c in range(b.shape[1]):
        for i in range(n):
            s = x[i, c]
            for j in range(i):
                s -= low[i, j] * x[j, c]
            x[i, c] = divide(s, low[i, i])
    return x


def cholesky_linearize(a):
    low, bad = cholesky_lower(a)
    return (low, bad), (low, bad)


def cholesky_tangent(res, tangents):
    """dL = L Phi(L^{-1} dS L^{-T}), Phi: the lower triangle with half the diagonal, dS the
    symmetric matrix of da's lower triangle."""
    low, bad = res
    (da,) = tangents
    n = low.shape[0]
    y = solve_lower(low, lower_symmetric(da))
    phi = solve_lower(low, y.T.copy()).T.copy()
    for i in range(n):
        phi[i, i] *= 0.5
        for j in range(i + 1, n):
            phi[i, j] = 0.0
    return low @ phi, 0.0 * bad


cholesky = linearized_jvp(cholesky_lower, (2, 0)).deflinear(cholesky_linearize,
                                                            cholesky_tangent)


# -- qr -------------------------------------------------------------------------------------
def householder_qr(a):
    """Reduced QR of an m-by-n matrix, m >= n, by Householder reflections with LAPACK's
    signs (R[k, k] = -sign(alpha) * ||x||; no reflection when the column below is zero)."""
    m = a.shape[0]
    n = a.shape[1]
    r = a.copy()
    vs = np.zeros_like(r)
    taus = np.zeros_like(r[0, :])
    for k in range(n):
        tail = 0.0 * r[0, 0]
        for i in range(k + 1, m):
            tail += r[i, k] * r[i, k]
        if tail != 0.0:
            alpha = r[k, k]
            norm = math.sqrt(alpha * alpha + tail)
            beta = -norm if alpha >= 0.0 else norm
            vs[k, k] = 1.0
            for i in range(k + 1, m):
                vs[i, k] = r[i, k] / (alpha - beta)
            tau = (beta - alpha) / beta
            taus[k] = tau
            r[k, k] = beta
            for i in range(k + 1, m):
                r[i, k] = 0.0
            for j in range(k + 1, n):
                s = r[k, j]
                for i in range(k + 1, m):
                    s += vs[i, k] * r[i, j]
                s = s * tau
                r[k, j] -= s
                for i in range(k + 1, m):
                    r[i, j] -= s * vs[i, k]
    q = np.zeros_like(r)
    for i in range(n):
        q[i, i] = 1.0
    for k in range(n - 1, -1, -1):
        tau = taus[k]
        if tau != 0.0:
            for j in range(n):
                s = q[k, j]
                for i in range(k + 1, m):
                    s += vs[i, k] * q[i, j]
                s = s * tau
                q[k, j] -= s
                for i in range(k + 1, m):
                    q[i, j] -= s * vs[i, k]
    return q, r[:n, :].copy()


def solve_upper_right(b, r):
    """b r^{-1} for r upper triangular (n-by-n), b m-by-n: (r^{-T} b^T)^T, r^T is lower."""
    return solve_lower(r.T, b.T).T.copy()


def solve_upper(r, b):
    """r^{-1} b for r upper triangular (n-by-n), b n-by-m."""
    n = r.shape[0]
    x = b.copy()
    for c in range(b.shape[1]):
        for i in range(n - 1, -1, -1):
            s = x[i, c]
            for j in range(i + 1, n):
                s -= r[i, j] * x[j, c]
            x[i, c] = divide(s, r[i, i])
    return x


def qr_linearize(a):
    q, r = householder_qr(a)
    return (q, r), (q, r)


def qr_tangent(res, tangents):
    """With X = Q^T dA R^{-1} and Omega = tril(X, -1) - tril(X, -1)^T (Q^T dQ restricted to
    the range of Q): dR = (X - Omega) R and dQ = dA R^{-1} - Q (X - Omega)."""
    q, r = res
    (da,) = tangents
    n = r.shape[0]
    dar = solve_upper_right(da, r)
    x = q.T @ dar
    up = x.copy()
    for i in range(n):
        for j in range(i):
            up[j, i] += x[i, j]
            up[i, j] = 0.0
    return dar - q @ up, up @ r


qr = linearized_jvp(householder_qr, (2, 2)).deflinear(qr_linearize, qr_tangent)


# -- eigh -----------------------------------------------------------------------------------
def jacobi_eigh(a):
    """Eigenvalues ascending and orthonormal eigenvectors (columns) of the symmetric matrix
    of a's lower triangle, by cyclic Jacobi sweeps until the off-diagonal part is below
    working precision. Each eigenvector's largest entry is made positive (NumPy's signs are
    LAPACK's and arbitrary; compare eigenvectors up to sign)."""
    n = a.shape[0]
    s = lower_symmetric(a)
    v = eye_like(a)
    for sweep in range(100):
        off = 0.0 * s[0, 0]
        total = 0.0 * s[0, 0]
        for i in range(n):
            total += s[i, i] * s[i, i]
            for j in range(i):
                off += s[i, j] * s[i, j]
        if off <= 1e-32 * total or off == 0.0:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = s[p, q]
                if apq != 0.0:
                    theta = (s[q, q] - s[p, p]) / (2.0 * apq)
                    t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                    if theta < 0.0:
                        t = -t
                    c = 1.0 / math.sqrt(t * t + 1.0)
                    sn = t * c
                    for k in range(n):
                        skp = s[k, p]
                        skq = s[k, q]
                        s[k, p] = c * skp - sn * skq
                        s[k, q] = sn * skp + c * skq
                    for k in range(n):
                        spk = s[p, k]
                        sqk = s[q, k]
                        s[p, k] = c * spk - sn * sqk
                        s[q, k] = sn * spk + c * sqk
                    for k in range(n):
                        vkp = v[k, p]
                        vkq = v[k, q]
                        v[k, p] = c * vkp - sn * vkq
                        v[k, q] = sn * vkp + c * vkq
    w = np.zeros_like(s[0, :])
    for i in range(n):
        w[i] = s[i, i]
    for i in range(n):   # selection sort of the eigenpairs, ascending
        k = i
        for j in range(i + 1, n):
            if w[j] < w[k]:
                k = j
        if k != i:
            t = w[i]
            w[i] = w[k]
            w[k] = t
            for r in range(n):
                t = v[r, i]
                v[r, i] = v[r, k]
                v[r, k] = t
    for j in range(n):
        big = 0
        for r in range(1, n):
            if abs(v[r, j]) > abs(v[big, j]):
                big = r
        if v[big, j] < 0.0:
            for r in range(n):
                v[r, j] = -v[r, j]
    return w, v


def eigh_linearize(a):
    w, v = jacobi_eigh(a)
    return (w, v), (w, v)


def eigh_tangent(res, tangents):
    """dw = diag(V^T dS V), dV = V (F o V^T dS V) with F[i, j] = 1 / (w[j] - w[i]) off the
    diagonal: defined for distinct eigenvalues (a repeated one is not differentiable)."""
    w, v = res
    (da,) = tangents
    n = w.shape[0]
    m = v.T @ (lower_symmetric(da) @ v)
    dw = np.zeros_like(w)
    for i in range(n):
        dw[i] = m[i, i]
        for j in range(n):
            if i != j:
                m[i, j] = divide(m[i, j], w[j] - w[i])
        m[i, i] = 0.0
    return dw, v @ m


eigh = linearized_jvp(jacobi_eigh, (1, 2)).deflinear(eigh_linearize, eigh_tangent)


# -- lstsq ----------------------------------------------------------------------------------
def rank_deficiency(r, rcond):
    """How many of R's diagonal entries are at most rcond times the largest: nonzero, the
    matrix is (numerically) rank deficient, which this QR-based lstsq does not solve."""
    n = r.shape[0]
    big = 0.0 * r[0, 0]
    for k in range(n):
        big = max(big, abs(r[k, k]))
    small = 0.0 * big
    for k in range(n):
        if abs(r[k, k]) <= rcond * big:
            small += 1.0
    return small


def lstsq_primal(a, b, rcond):
    """(the least-squares solution of a x ~ b by QR, x = R^{-1} Q^T b, for a m-by-n with
    m >= n and b m-by-k; its rank deficiency, nonzero: not of full column rank)."""
    q, r = householder_qr(a)
    return solve_upper(r, q.T @ b), rank_deficiency(r, rcond)


def lstsq_linearize(a, b, rcond):
    q, r = householder_qr(a)
    x = solve_upper(r, q.T @ b)
    bad = rank_deficiency(r, rcond)
    return (x, bad), (a, r, x, b - a @ x, bad)


def lstsq_tangent(res, tangents):
    """dx = (A^T A)^{-1} (dA^T r + A^T (db - dA x)), r = b - A x, with A^T A = R^T R."""
    a, r, x, resid, bad = res
    da, db, _ = tangents
    rhs = da.T @ resid + a.T @ (db - da @ x)
    y = solve_lower(r.T, rhs)    # R^{-T} rhs
    return solve_upper(r, y), 0.0 * bad


lstsq_full_rank = linearized_jvp(lstsq_primal, (2, 0)).deflinear(lstsq_linearize,
                                                                 lstsq_tangent)


def lstsq(a, b, rcond):
    """NumPy's (x, residuals, rank, s) for a of full column rank, b m-by-k: residuals are the
    squared residual norms per column when m > n (else empty), s the singular values
    (descending, as square roots of the eigenvalues of R^T R: accurate to sqrt(eps) relative
    to the largest)."""
    m = a.shape[0]
    n = a.shape[1]
    x, bad = lstsq_full_rank(a, b, rcond)
    k = b.shape[1]
    count = k if m > n else 0
    res = np.zeros_like(x[0, :count])
    for c in range(count):
        t = b[:, c] - a @ x[:, c]
        res[c] = np.sum(t * t)
    _, r = householder_qr(a)
    w, _ = eigh(r.T @ r)
    s = np.zeros_like(w)
    for i in range(n):
        s[i] = math.sqrt(max(w[n - 1 - i], 0.0))
    return x, res, n, s, bad


# -- shape helpers for the frontend's handlers ------------------------------------------------
def as_column(b):
    return b[:, None]


def first_column(x):
    return x[:, 0]


def transposed(a):
    return a.T.copy()


def eye(n, m, k):
    """np.eye(n, m, k) in float64 (the handler casts to the dtype asked for)."""
    e = np.zeros((n, m))
    for i in range(n):
        j = i + k
        if j >= 0 and j < m:
            e[i, j] = 1.0
    return e


def tri(n, m, k):
    """np.tri(n, m, k): ones at and below the k-th diagonal, float64."""
    e = np.zeros((n, m))
    for i in range(n):
        for j in range(min(m, max(i + k + 1, 0))):
            e[i, j] = 1.0
    return e


def spectral_norm(a):
    """np.linalg.norm(a, 2): the largest singular value, the square root of the largest
    eigenvalue of a^T a (accurate: it is the largest); differentiable where it is simple."""
    w, _ = eigh(a.T @ a)
    return np.sqrt(max(w[w.shape[0] - 1], 0.0 * w[0]))
