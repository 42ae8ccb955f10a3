"""Linear solvers of implicit derivatives, as templates of the supported subset.

An implicit derivative needs one linear solve with `A = ∂F/∂x` (forward mode) or `Aᵀ`
(reverse mode), where F is the user's optimality condition. `A` is never formed for the
Krylov methods: its products come from compiled `jvp`/`vjp` calls of F, and the solver loop is
compiled into the same program as the rest of the derivative. Subset code has no function
values, so each solver is a template filled with the name of the matrix-vector product
(`{A}`), the arguments it closes over (`{args}`) and the tolerances.

Every solver ends by measuring the true relative residual `‖A s − b‖ / ‖b‖` with one more
product and stopping the program with a `ConvergenceError` naming it when it is above
`check_tol`: a derivative from an unconverged solve would be silently wrong.
"""
from __future__ import annotations

METHODS = ("cg", "bicgstab", "gmres", "dense")
"""cg: A symmetric positive definite (F the gradient of a convex objective); bicgstab and
gmres: any nonsingular A; dense: forms A from n products (1-d x) and eliminates with partial
pivoting (small systems, and the most robust)."""

_CHECK = '''
    res = {A}({args}, s) - b
    rel = 0.0
    if bb > 0.0:
        rel = np.sqrt(np.sum(res * res) / bb)
    require(rel <= {check_tol!r}, rel)
    return s
'''

_CG = '''
def {name}({args}, b):
    s = b * 0.0
    r = b + 0.0
    p = b + 0.0
    rr = np.sum(r * r)
    bb = rr
    it = 0
    while rr > {tol2!r} * bb and it < {maxiter}:
        q = {A}({args}, p)
        alpha = rr / np.sum(p * q)
        s = s + alpha * p
        r = r - alpha * q
        rr_next = np.sum(r * r)
        p = r + (rr_next / rr) * p
        rr = rr_next
        it += 1
''' + _CHECK

_BICGSTAB = '''
def {name}({args}, b):
    s = b * 0.0
    r = b + 0.0
    rhat = b + 0.0
    p = b * 0.0
    v = b * 0.0
    rho = 1.0
    alpha = 1.0
    omega = 1.0
    bb = np.sum(b * b)
    rr = bb
    it = 0
    while rr > {tol2!r} * bb and it < {maxiter}:
        rho_next = np.sum(rhat * r)
        if rho_next == 0.0:
            break
        beta = (rho_next / rho) * (alpha / omega)
        p = r + beta * (p - omega * v)
        v = {A}({args}, p)
        alpha = rho_next / np.sum(rhat * v)
        q = r - alpha * v
        s = s + alpha * p
        qq = np.sum(q * q)
        if qq <= {tol2!r} * bb:
            r = q
            rr = qq
            break
        t = {A}({args}, q)
        tt = np.sum(t * t)
        if tt == 0.0:
            break
        omega = np.sum(t * q) / tt
        s = s + omega * q
        r = q - omega * t
        rr = np.sum(r * r)
        rho = rho_next
        it += 1
''' + _CHECK

_GMRES = '''
def {name}({args}, b):
    n = b.shape[0]
    m = min({restart}, n)
    s = b * 0.0
    bb = np.sum(b * b)
    bnorm = np.sqrt(bb)
    V = np.zeros((m + 1, n))
    H = np.zeros((m + 1, m))
    cs = np.zeros(m)
    sn = np.zeros(m)
    g = np.zeros(m + 1)
    y = np.zeros(m)
    w = b * 0.0
    k = 0
    cycles = 0
    while cycles * m < {maxiter}:
        r = b - {A}({args}, s)
        beta = np.sqrt(np.sum(r * r))
        if beta <= {tol!r} * bnorm:
            break
        V[:, :] = 0.0
        H[:, :] = 0.0
        g[:] = 0.0
        g[0] = beta
        V[0, :] = r / beta
        k = 0
        for j in range(m):
            w = {A}({args}, V[j, :])
            for i in range(j + 1):
                h = np.sum(w * V[i, :])
                H[i, j] = h
                w = w - h * V[i, :]
            hn = np.sqrt(np.sum(w * w))
            H[j + 1, j] = hn
            if hn > 0.0:
                V[j + 1, :] = w / hn
            for i in range(j):
                hij = cs[i] * H[i, j] + sn[i] * H[i + 1, j]
                H[i + 1, j] = cs[i] * H[i + 1, j] - sn[i] * H[i, j]
                H[i, j] = hij
            d = np.sqrt(H[j, j] * H[j, j] + hn * hn)
            c = 1.0
            sj = 0.0
            if d > 0.0:
                c = H[j, j] / d
                sj = hn / d
            cs[j] = c
            sn[j] = sj
            H[j, j] = d
            H[j + 1, j] = 0.0
            g[j + 1] = -sj * g[j]
            g[j] = c * g[j]
            k = j + 1
            if abs(g[j + 1]) <= {tol!r} * bnorm or hn == 0.0:
                break
        y[:] = 0.0
        for ii in range(k):
            i = k - 1 - ii
            acc = g[i]
            for jj in range(i + 1, k):
                acc = acc - H[i, jj] * y[jj]
            if H[i, i] != 0.0:
                y[i] = acc / H[i, i]
        for i in range(k):
            s = s + y[i] * V[i, :]
        cycles += 1
''' + _CHECK

_DENSE = '''
def {name}({args}, b):
    n = b.shape[0]
    bb = np.sum(b * b)
    M = np.zeros((n, n))
    e = np.zeros(n)
    for j in range(n):
        e[j] = 1.0
        col = {A}({args}, e)
        for i in range(n):
            M[i, j] = col[i]
        e[j] = 0.0
    s = b + 0.0
    for k in range(n):
        piv = k
        big = abs(M[k, k])
        for i in range(k + 1, n):
            if abs(M[i, k]) > big:
                big = abs(M[i, k])
                piv = i
        require(big > 0.0, big)
        if piv != k:
            for j in range(n):
                t = M[k, j]
                M[k, j] = M[piv, j]
                M[piv, j] = t
            t = s[k]
            s[k] = s[piv]
            s[piv] = t
        for i in range(k + 1, n):
            f = M[i, k] / M[k, k]
            for j in range(k, n):
                M[i, j] = M[i, j] - f * M[k, j]
            s[i] = s[i] - f * s[k]
    for ii in range(n):
        i = n - 1 - ii
        acc = s[i]
        for j in range(i + 1, n):
            acc = acc - M[i, j] * s[j]
        s[i] = acc / M[i, i]
''' + _CHECK

_SCALAR = '''
def {name}({args}, b):
    a = {A}({args}, 1.0)
    require(a != 0.0, a)
    s = b / a
    bb = b * b
''' + _CHECK

_NEUMANN = '''
def {name}({args}, b):
    s = b + 0.0
    bb = np.sum(b * b)
    it = 0
    step = bb
    while step > {tol2!r} * bb and it < {maxiter}:
        s_next = b + {B}({args}, s)
        d = s_next - s
        step = np.sum(d * d)
        s = s_next
        it += 1
''' + _CHECK

TEMPLATES = {"cg": _CG, "bicgstab": _BICGSTAB, "gmres": _GMRES, "dense": _DENSE,
             "scalar": _SCALAR, "fixed_point": _NEUMANN}


def solver_source(method: str, name: str, matvec: str, args: str, *, tol: float,
                  maxiter: int, check_tol: float, restart: int = 30,
                  fixed_map: str = "") -> str:
    """Source of `name(args..., b)` solving `A s = b` with `A s = matvec(args..., s)`;
    `fixed_point` iterates `s = b + B s` with `B s = fixed_map(args..., s)` (a fixed point's
    own adjoint iteration, convergent when T is a contraction)."""
    return TEMPLATES[method].format(name=name, A=matvec, B=fixed_map, args=args, tol=tol,
                                    tol2=tol * tol, maxiter=maxiter, check_tol=check_tol,
                                    restart=restart)
