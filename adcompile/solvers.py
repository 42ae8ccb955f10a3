"""Nonlinear least squares on compiled Jacobians: Levenberg-Marquardt and Gauss-Newton for
min 0.5 * ||residual(x, *args)||^2.

The Jacobian is adcompile's own: coloured sparse (`jacobian(sparse=True)`, normal equations
factorised by scipy.sparse.linalg.splu, or by a Schur complement when the pattern shows many
small independent column blocks, bundle adjustment's points) or dense (`jacfwd`,
numpy.linalg). The result has
scipy.optimize.least_squares' fields so code written for scipy reads it unchanged.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from .derivatives import jacfwd, jacobian
from .errors import AdError
from .implicit.least_squares import lower as lower_least_squares

__all__ = ["LeastSquaresResult", "least_squares", "levenberg_marquardt", "gauss_newton"]


def _linear(z):
    return z, np.ones_like(z), np.zeros_like(z)


def _huber(z):
    big = z > 1.0
    sq = np.sqrt(np.where(big, z, 1.0))
    return (np.where(big, 2.0 * sq - 1.0, z), np.where(big, 1.0 / sq, 1.0),
            np.where(big, -0.5 / (sq * z), 0.0))


def _soft_l1(z):
    t = 1.0 + z
    return 2.0 * (np.sqrt(t) - 1.0), t ** -0.5, -0.5 * t ** -1.5


def _cauchy(z):
    return np.log1p(z), 1.0 / (1.0 + z), -1.0 / (1.0 + z) ** 2


def _arctan(z):
    return np.arctan(z), 1.0 / (1.0 + z * z), -2.0 * z / (1.0 + z * z) ** 2


# rho(z) and its first two derivatives, z = (r / f_scale)**2 (scipy's definitions)
_LOSSES = {"linear": _linear, "huber": _huber, "soft_l1": _soft_l1, "cauchy": _cauchy,
           "arctan": _arctan}


@dataclass
class LeastSquaresResult:
    """What `least_squares` returns: scipy.optimize.OptimizeResult's fields for
    least_squares, plus `history` (one (iteration, cost, step norm, lambda) row per step)."""

    x: np.ndarray
    cost: float
    fun: np.ndarray
    jac: object
    grad: np.ndarray
    optimality: float
    nfev: int
    njev: int
    nit: int
    status: int
    message: str
    success: bool
    history: list = field(default_factory=list)   # (iteration, cost, step norm, lambda)


@dataclass(frozen=True)
class _BlockElimination:
    """Columns of J that the normal equations can eliminate block by block (Schur
    complement): `blocks` (nblocks x width, -1 padding) are groups of columns with the same
    rows (a bundle-adjustment point's 3 coordinates) such that no two groups share a row, so
    JᵀJ restricted to them is block diagonal; `keep` are the other columns (the cameras)."""
    blocks: np.ndarray
    keep: np.ndarray

    @staticmethod
    def of(pattern, max_width: int = 8, min_share: float = 0.5) -> _BlockElimination | None:
        """Found from J's pattern alone: group columns by their row sets, then take groups
        fewest rows first while they share no row with a group already taken. None unless
        the taken columns are at least `min_share` of all and form two blocks or more (else
        plain sparse LU is as good)."""
        import scipy.sparse as sps
        p = sps.csc_matrix(pattern, dtype=bool)
        p.sort_indices()
        n = p.shape[1]
        groups: dict[bytes, list[int]] = {}
        for j in range(n):
            rows = p.indices[p.indptr[j]:p.indptr[j + 1]]
            if rows.size:
                groups.setdefault(rows.tobytes(), []).append(j)
        used = np.zeros(p.shape[0], dtype=bool)
        taken = []
        for cols in sorted(groups.values(), key=lambda c: p.indptr[c[0] + 1] - p.indptr[c[0]]):
            if len(cols) > max_width:
                continue
            rows = p.indices[p.indptr[cols[0]]:p.indptr[cols[0] + 1]]
            if not used[rows].any():
                used[rows] = True
                taken.append(cols)
        if sum(len(c) for c in taken) < min_share * n or len(taken) < 2:
            return None
        width = max(len(c) for c in taken)
        blocks = np.full((len(taken), width), -1, dtype=np.int64)
        for k, c in enumerate(taken):
            blocks[k, :len(c)] = c
        mask = np.ones(n, dtype=bool)
        mask[blocks[blocks >= 0]] = False
        return _BlockElimination(blocks, np.flatnonzero(mask))

    def solve(self, M, b) -> np.ndarray:
        """M x = b for the (damped) normal equations M, the blocks eliminated first:
        (B - C P⁻¹ Cᵀ) y = b_K - C P⁻¹ b_E, then z = P⁻¹ (b_E - Cᵀ y)."""
        import scipy.sparse as sps
        M = sps.csr_matrix(M)
        nb, w = self.blocks.shape
        valid = self.blocks >= 0
        elim = self.blocks[valid]                       # eliminated columns, block by block
        blk, loc = np.nonzero(valid)                    # block and place of each
        P = M[elim][:, elim].tocoo()
        inside = blk[P.row] == blk[P.col]               # structurally always
        Pb = np.broadcast_to(np.eye(w), (nb, w, w)).copy()
        Pb[blk, loc, loc] = 0.0
        Pb[blk[P.row[inside]], loc[P.row[inside]], loc[P.col[inside]]] = P.data[inside]
        Pinv = np.linalg.inv(Pb)                        # the padding stays the identity
        start = np.concatenate([[0], np.cumsum(valid.sum(axis=1))[:-1]])
        k, i, j = np.nonzero(valid[:, :, None] & valid[:, None, :])
        Pi = sps.csr_matrix((Pinv[k, i, j], (start[k] + i, start[k] + j)),
                            shape=(elim.size, elim.size))
        K = self.keep
        B, C = M[K][:, K], M[K][:, elim]
        bK, bE = b[K], b[elim]
        if K.size * elim.size <= 1.2e7:   # two dense arrays of at most ~100 MB
            # few kept columns (BA's cameras): C P⁻¹ Cᵀ as one dense product, C P⁻¹ block
            # by block; a sparse product of these shapes is ten times slower
            Cd = C.toarray()
            if valid.all():
                CPd = np.matmul(Cd.reshape(K.size, nb, w).transpose(1, 0, 2),
                                Pinv).transpose(1, 0, 2).reshape(K.size, -1)
            else:
                CPd = (Pi.T @ Cd.T).T
            S = B.toarray() - CPd @ Cd.T
            rhs = bK - CPd @ bE
        else:
            CP = C @ Pi
            S = B - CP @ C.T
            rhs = bK - CP @ bE
        if not K.size:
            y = np.zeros(0)
        elif isinstance(S, np.ndarray):
            y = np.linalg.solve(S, rhs)
        else:
            y = np.linalg.solve(S.toarray(), rhs) if K.size <= 2000 else _solve(S, rhs, True)
        z = Pi @ (bE - C.T @ y)
        x = np.empty_like(b)
        x[K] = y
        x[elim] = z
        return x


# id(pattern) -> (weak reference, its block elimination or None), for the cached pattern
# object jacobian(sparse=True) returns (sparse matrices are not hashable)
_ELIMINATIONS: dict[int, tuple] = {}


def _eliminable(pattern) -> _BlockElimination | None:
    hit = _ELIMINATIONS.get(id(pattern))
    if hit is None or hit[0]() is not pattern:
        key = id(pattern)
        hit = (weakref.ref(pattern, lambda _: _ELIMINATIONS.pop(key, None)),
               _BlockElimination.of(pattern))
        _ELIMINATIONS[key] = hit
    return hit[1]


def _solve(A, b, sparse: bool):
    if sparse:
        import scipy.sparse.linalg as spl
        # symmetric ordering and diagonal pivots: the normal equations are SPD
        return spl.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                        options={"SymmetricMode": True}).solve(b)
    return np.linalg.solve(A, b)


def _products(residual, x, args, backend):
    """J at x as a scipy LinearOperator: J v by a compiled jvp, J^T u by a compiled vjp
    (one forward sweep per linearisation; each J^T u reuses it through the pullback)."""
    import scipy.sparse.linalg as spl
    from .derivatives import jvp, vjp
    r, pull = vjp(residual, x, *args, backend=backend)
    none = (None,) * len(args)

    def matvec(v):
        return jvp(residual, (x, *args), (np.asarray(v, dtype=np.float64).ravel(), *none),
                   backend=backend)[1]

    def rmatvec(u):
        return pull(np.asarray(u, dtype=np.float64).ravel())[0]
    return spl.LinearOperator((np.size(r), x.size), matvec=matvec, rmatvec=rmatvec,
                              dtype=np.float64)


def _forcing(eta: float, gnorm: float, gprev: float | None) -> float:
    """Eisenstat and Walker's choice 2 for the inexact Newton tolerance (gamma 0.9, alpha
    2), safeguarded so that it does not drop abruptly, within [1e-6, 0.5]: loose while the
    gradient is large, tight near the solution, where the steps must be accurate."""
    if gprev is None or gprev == 0.0:
        return 0.5
    new = 0.9 * (gnorm / gprev) ** 2
    if 0.9 * eta ** 2 > 0.1:
        new = max(new, 0.9 * eta ** 2)
    return min(max(new, 1e-6), 0.5)


def least_squares(residual, x0, args=(), method: str = "lm", jac: str = "auto",
                  ftol: float = 1e-10, xtol: float = 1e-10, gtol: float = 1e-10,
                  max_nfev: int | None = None, verbose: int = 0, loss: str = "linear",
                  f_scale: float = 1.0, backend: str | None = None,
                  x_scale="jac") -> LeastSquaresResult:
    """Minimise 0.5 * sum(residual(x, *args)**2) from x0 (a 1-d float array).
    method: "lm" (Levenberg-Marquardt, Marquardt's diagonal scaling) or "gn" (Gauss-Newton
    with step halving). jac: "sparse", "dense" or "auto" (sparse when x has more than 100
    entries), or "matrix-free": no Jacobian is formed; J v and J^T u come from compiled
    jvp/vjp and each step solves the damped normal equations by conjugate gradients to an
    Eisenstat-Walker tolerance (damping lambda * I; `jac` of the result is a LinearOperator). status as scipy: 1 gtol, 2 ftol, 3 xtol, 0 max_nfev, -1 the damping grew
    without bound (singular normal equations). ftol and xtol are MINPACK's tests, applied to
    every trial step whether taken or not: the actual and the predicted relative reductions
    of the cost both <= ftol, or a step <= xtol * (xtol + ||x||).
    backend: the compiler backend of the residual and its Jacobian (as `jit`).
    x_scale: "jac" (LM damps with diag(J^T J), Marquardt's scaling, recomputed per
    iteration; the identity when matrix-free) or the characteristic scale of each variable
    (a positive float or array, as scipy's): the damping matrix is diag(1 / x_scale**2).
    loss/f_scale: robust losses as scipy defines them — "linear", "huber", "soft_l1",
    "cauchy", "arctan" of z = (r/f_scale)**2, cost = 0.5 * f_scale**2 * sum(rho(z)); each
    step solves the normal equations of the residuals and Jacobian rescaled by rho's first
    and second derivatives at the current point (iteratively reweighted as scipy does, with
    the plain IRLS weight rho' where rho' + 2 z rho'' is not positive)."""
    if loss not in _LOSSES:
        raise AdError(f"least_squares: unknown loss {loss!r}",
                      hint=f"use one of: {', '.join(_LOSSES)}")
    if not f_scale > 0:
        raise AdError(f"least_squares: f_scale must be positive, got {f_scale!r}")
    if method not in ("lm", "gn"):
        raise AdError(f"least_squares: unknown method {method!r}", hint='use "lm" or "gn"')
    if jac not in ("auto", "sparse", "dense", "matrix-free"):
        raise AdError(f"least_squares: unknown jac {jac!r}",
                      hint='use "auto", "sparse", "dense" or "matrix-free"')
    x = np.array(x0, dtype=np.float64)
    if x.ndim != 1:
        raise AdError(f"least_squares: x0 must be a 1-d array, got shape {x.shape}",
                      hint="flatten the parameters (x0.ravel()) and reshape inside residual")
    if isinstance(x_scale, str):
        if x_scale != "jac":
            raise AdError(f"least_squares: x_scale must be 'jac' or positive numbers, got "
                          f"{x_scale!r}")
        fixed_d = None
    else:
        scale = np.broadcast_to(np.asarray(x_scale, dtype=np.float64), x.shape)
        if not np.all(scale > 0) or not np.all(np.isfinite(scale)):
            raise AdError("least_squares: x_scale must be positive and finite",
                          hint="give one scale per variable, or 'jac'")
        fixed_d = 1.0 / scale ** 2
    matrix_free = jac == "matrix-free"
    sparse = not matrix_free and (jac == "sparse" or (jac == "auto" and x.size > 100))
    if matrix_free:
        def J_of(x, *args):
            return _products(residual, x, args, backend)
    else:
        J_of = (jacobian(residual, sparse=True, backend=backend) if sparse
                else jacfwd(residual, backend=backend))
    from .api import jit
    f_of = jit(residual, backend=backend)

    def fun(x):
        r = np.asarray(f_of(x, *args), dtype=np.float64)
        if r.ndim != 1:
            raise AdError(f"least_squares: residual must return a 1-d array, got shape "
                          f"{r.shape}", hint="return the vector of residuals, not their sum")
        return r

    r = fun(x)
    if not np.all(np.isfinite(r)):
        raise AdError("least_squares: the residual is not finite at x0",
                      hint="start from a point where every residual is a finite number")
    rho = _LOSSES[loss]

    def cost_of(r):
        if loss == "linear":
            return 0.5 * float(r @ r)
        with np.errstate(over="ignore", invalid="ignore"):   # a far trial step: cost inf
            return 0.5 * f_scale ** 2 * float(np.sum(rho((r / f_scale) ** 2)[0]))

    def scaled(J, r):
        """Residuals and Jacobian whose Gauss-Newton model is the robust cost's."""
        if loss == "linear":
            return J, r
        z = (r / f_scale) ** 2
        _, d1, d2 = rho(z)
        # Triggs' correction rho' + 2 z rho'' where it is positive, else the classical IRLS
        # weight rho' (huber's linear part, cauchy beyond z = 1): the gradient J^T rho' r is
        # the same either way, the model stays positive definite
        w = d1 + 2.0 * z * d2
        w = np.where(w > 1e-3 * d1, w, d1)
        sw = np.sqrt(w)
        if matrix_free:
            Js = spl.aslinearoperator(sps.diags(sw)) @ J
        else:
            Js = (sps.diags(sw) @ J).tocsr() if sps.issparse(J) else J * sw[:, None]
        return Js, r * d1 / sw

    import scipy.sparse as sps
    import scipy.sparse.linalg as spl
    cost = cost_of(r)
    eta, g_prev = 0.5, None   # matrix-free: CG's relative tolerance (Eisenstat-Walker)
    nfev, njev, nit, status = 1, 0, 0, 0
    max_nfev = max_nfev or 100 * x.size
    lam, history = 1e-3, []
    elim = None
    while True:
        t0 = time.perf_counter()
        J = J_of(x, *args)
        njev += 1
        tj = time.perf_counter() - t0
        if sparse and njev == 1:
            elim = _eliminable(J_of.sparsity)
        J, rs = scaled(J, r)
        g = J.T @ rs
        if np.max(np.abs(g), initial=0.0) <= gtol:
            status = 1
            break
        if matrix_free:
            A = J.T @ J   # a LinearOperator: J^T (J v) by a jvp and a vjp
            d = np.ones(x.size) if fixed_d is None else fixed_d   # diag(J^T J) not formed
            gn = float(np.linalg.norm(g))
            eta = _forcing(eta, gn, g_prev)
            g_prev = gn
        else:
            A = (J.T @ J).tocsc() if sparse else J.T @ J
            d = A.diagonal().copy() if fixed_d is None else fixed_d.copy()
            d[d == 0] = 1.0
        accepted = False
        while nfev < max_nfev:
            t1 = time.perf_counter()
            if matrix_free:
                M = A + spl.aslinearoperator(sps.diags(lam * d)) if method == "lm" else A
            elif method == "lm":
                M = A + lam * (sps.diags(d) if sparse else np.diag(d))
            else:
                M = A
            try:
                if matrix_free:
                    step = -spl.cg(M, g, rtol=eta, maxiter=2 * x.size + 10)[0]
                else:
                    step = -(elim.solve(M, g) if elim is not None else _solve(M, g, sparse))
                ok = np.all(np.isfinite(step))
            except (np.linalg.LinAlgError, RuntimeError):
                ok = False
            ts = time.perf_counter() - t1
            if not ok:
                if method == "gn":
                    method = "lm"   # singular Gauss-Newton system: damp it
                lam *= 10.0
                if lam > 1e16:
                    status = -1
                    break
                continue
            scale = 1.0
            while True:
                xn = x + scale * step
                rn = fun(xn)
                nfev += 1
                cn = cost_of(rn) if np.all(np.isfinite(rn)) else np.inf
                if cn < cost or method == "lm" or nfev >= max_nfev or scale < 1e-8:
                    break
                scale *= 0.5
            s = scale * step
            sn = float(np.linalg.norm(s))
            # MINPACK's tests on every trial step, taken or not: the actual and the predicted
            # (Gauss-Newton model) relative reductions both within ftol, or a step within
            # xtol. At a converged point rounding rejects every step; without these tests
            # on rejected steps the damping would grow without bound and report failure.
            c0, pred = cost, float(-(g @ s) - 0.5 * (s @ (A @ s)))
            act = c0 - cn
            ratio = act / pred if pred > 0 else 0.0
            if cn < cost:
                x, r, cost = xn, rn, cn
                lam = max(lam / 10.0, 1e-12)
                nit += 1
                history.append((nit, cost, sn, lam))
                if verbose >= 2:
                    print(f"{nit:4d}  cost {cost:.6e}  |step| {sn:.3e}  lambda {lam:.1e}  "
                          f"jac {tj * 1e3:.2f} ms  solve {ts * 1e3:.2f} ms")
                accepted = True
            if abs(act) <= ftol * c0 and pred <= ftol * c0 and ratio <= 2.0:
                status = 2
            elif sn <= xtol * (xtol + np.linalg.norm(x)):
                status = 3
            if accepted or status != 0:
                break
            if method == "gn":
                method = "lm"   # halving found no decrease: damp the system instead
            lam *= 10.0
            if lam > 1e16:
                status = -1
                break
        if status != 0 or not accepted:
            break
    J = J_of(x, *args)
    njev += 1
    J, rs = scaled(J, r)   # as scipy: the Jacobian of the robust Gauss-Newton model
    g = J.T @ rs
    msgs = {1: "gtol: the gradient is small", 2: "ftol: the cost stopped decreasing",
            3: "xtol: the step is small", 0: "max_nfev reached",
            -1: "the damping grew without bound: the normal equations are singular"}
    if verbose >= 1:
        print(f"least_squares: {msgs[status]}; cost {cost:.6e} after {nit} iterations")
    return LeastSquaresResult(x, cost, r, J, np.asarray(g), float(np.max(np.abs(g), initial=0)),
                              nfev, njev, nit, status, msgs[status], status > 0, history)


least_squares.__adcompile_lower__ = lower_least_squares


def levenberg_marquardt(residual, x0, args=(), **kw) -> LeastSquaresResult:
    """`least_squares(..., method="lm")`: normal equations damped by λ, adapted per step."""
    return least_squares(residual, x0, args, method="lm", **kw)


def gauss_newton(residual, x0, args=(), **kw) -> LeastSquaresResult:
    """`least_squares(..., method="gn")`: undamped normal equations, step halved until the
    cost decreases (damped as LM when the system is singular)."""
    return least_squares(residual, x0, args, method="gn", **kw)
