"""`adcompile.solvers.least_squares` called from compiled code: a differentiable fit.

Inside a compiled function (`grad(outer)` where `outer` fits a model and scores the fit) the
call becomes an implicit root: the solver is a dense Levenberg-Marquardt loop in the subset
(the Jacobian from the compiled `jacfwd` of the residual, the damped normal equations solved
by elimination with partial pivoting), and its derivative with respect to `args` comes from
the optimality condition of the fit, `F(x, *args) = J(x)ᵀ r(x) = 0`, by the implicit
function theorem. ∂F/∂x is the full Hessian of the cost (JᵀJ plus the residuals' curvature),
applied matrix-free by forward over reverse mode and solved by CG: symmetric positive
definite at a strict minimum. The result's `.x`, `.fun` and `.cost` are available; the other
fields of `LeastSquaresResult` exist only in Python.
"""
from __future__ import annotations

import hashlib
import linecache
import math
import types

import numpy as np

from ..derivatives import jacfwd, vjp
from ..errors import TypeInferenceError
from ..frontend.inlining import lower_custom_values
from ..frontend.env import Global
from ..ir.core import Value
from ..ir.types import ArrayType, scalar_of
from .roots import ImplicitRoot

_SOURCE = '''
def lu_solve(M, b):
    n = b.shape[0]
    A = M + 0.0
    s = b + 0.0
    for k in range(n):
        p = k
        big = abs(A[k, k])
        for i in range(k + 1, n):
            if abs(A[i, k]) > big:
                big = abs(A[i, k])
                p = i
        if p != k:
            for j in range(n):
                t = A[k, j]
                A[k, j] = A[p, j]
                A[p, j] = t
            t = s[k]
            s[k] = s[p]
            s[p] = t
        for i in range(k + 1, n):
            m = A[i, k] / A[k, k]
            for j in range(k, n):
                A[i, j] = A[i, j] - m * A[k, j]
            s[i] = s[i] - m * s[k]
    for k in range(n - 1, -1, -1):
        acc = s[k]
        for j in range(k + 1, n):
            acc = acc - A[k, j] * s[j]
        s[k] = acc / A[k, k]
    return s


def lsq_solver(x0{params}):
    x = x0 + 0.0
    r = residual(x{params})
    cost = 0.5 * np.sum(r * r)
    lam = 1e-3
    n = x.shape[0]
    it = 0
    while it < {maxiter}:
        J = JAC(x{params})
        g = J.T @ r
        if np.max(np.abs(g)) <= {gtol!r}:
            break
        A = J.T @ J
        M = A + 0.0
        for i in range(n):
            d = A[i, i]
            if d == 0.0:
                d = 1.0
            M[i, i] = A[i, i] + lam * d
        step = lu_solve(M, -g)
        xn = x + step
        rn = residual(xn{params})
        cn = 0.5 * np.sum(rn * rn)
        # MINPACK's tests on every trial step, taken or not (as solvers.least_squares): at
        # a converged point rounding rejects every step, which must end the loop there
        act = cost - cn
        pred = -np.sum(g * step) - 0.5 * np.sum(step * (A @ step))
        flat = abs(act) <= {ftol!r} * cost and pred <= {ftol!r} * cost and act <= 2.0 * pred
        small = np.sqrt(np.sum(step * step)) <= {xtol!r} * ({xtol!r} + np.sqrt(np.sum(x * x)))
        if cn < cost:
            x = xn
            r = rn
            cost = cn
            lam = max(lam / 10.0, 1e-12)
        else:
            lam = lam * 10.0
        if flat or small or lam > 1e16:
            break
        it += 1
    return x


def lsq_optimality(x{params}):
    r, pb = vjp(residual, x{params})
    c = pb(r)
    return c[0]
'''

_ROOTS: dict[tuple, ImplicitRoot] = {}


def _root(residual, nparams: int, kw: dict) -> ImplicitRoot:
    key = (residual, nparams, tuple(sorted(kw.items())))
    root = _ROOTS.get(key)
    if root is not None:
        return root
    params = "".join(f", p{i}" for i in range(nparams))
    text = _SOURCE.format(params=params, maxiter=kw["max_nfev"], gtol=kw["gtol"],
                          xtol=kw["xtol"], ftol=kw["ftol"])
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    filename = f"<adcompile least_squares of {residual.__qualname__} {digest}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    ns = {"np": np, "math": math, "residual": residual, "JAC": jacfwd(residual), "vjp": vjp}
    exec(compile(text, filename, "exec"), ns)
    for name in ("lsq_solver", "lsq_optimality"):
        ns[name].__qualname__ = f"{residual.__name__}_{name}"
        ns[name].__name__ = f"least_squares_of_{residual.__name__}"
    root = ImplicitRoot(ns["lsq_solver"], ns["lsq_optimality"], solve="cg",
                        tol=kw["tol"], maxiter=None, check_tol=None, restart=30,
                        root_tol=None, on_failure=kw["on_failure"])
    _ROOTS[key] = root
    return root


class FitValues:
    """What `least_squares(...)` is in compiled code: its `.x`, `.fun`, `.cost`."""

    def __init__(self, lw, residual, x: Value, args: list[Value], node):
        self.lw, self.residual, self.x, self.args, self.node = lw, residual, x, args, node

    def __adcompile_attr__(self, lw, attr: str, node):
        if attr == "x":
            return self.x
        if attr in ("fun", "cost"):
            from ..frontend.inlining import inline_call_values
            r = inline_call_values(lw, self.residual, node, [self.x] + self.args)
            if attr == "fun":
                return r
            sq = lw.emit("mul", [r, r], name="r2")
            half = lw.const(0.5, scalar_of(r.type))
            return lw.emit("mul", [half, lw.emit("sum", [sq], {"axis": None}, name="rr")],
                           name="cost")
        raise lw.error(node, f"least_squares(...).{attr} is not available in compiled code",
                       "use .x, .fun or .cost (the other fields exist only in Python)",
                       TypeInferenceError)


_KW = {"method": "lm", "jac": "dense", "ftol": 1e-10, "xtol": 1e-10, "gtol": 1e-10,
       "max_nfev": 200, "verbose": 0, "tol": 1e-10, "on_failure": "raise"}


def lower(lw, args, kw, node):
    """`least_squares(residual, x0, args=(...), ...)` in compiled code (see the module)."""
    if len(args) > 3:
        raise lw.error(node, "least_squares(residual, x0, args=(...)) takes at most 3 "
                       "positional arguments", "pass the options by keyword",
                       TypeInferenceError)
    names = ("residual", "x0", "args")
    given = dict(zip(names, args))
    for k, v in kw.items():
        if k in given:
            raise lw.error(node, f"least_squares got {k!r} twice", "", TypeInferenceError)
        given[k] = v
    unknown = sorted(set(given) - set(names) - set(_KW))
    if unknown:
        raise lw.error(node, f"least_squares in compiled code has no option {unknown[0]!r}",
                       f"options: {', '.join(sorted(_KW))}", TypeInferenceError)
    residual = given.get("residual")
    residual = residual.obj if isinstance(residual, Global) else residual
    if not isinstance(residual, types.FunctionType):
        raise lw.error(node, "least_squares in compiled code needs the residual function by "
                       "name (a def in the supported subset)", "", TypeInferenceError)
    x0 = given.get("x0")
    if not isinstance(x0, Value) or not isinstance(x0.type, ArrayType) or \
            x0.type.ndim != 1 or not scalar_of(x0.type).is_float:
        raise lw.error(node, "least_squares: x0 must be a 1-d float array", "",
                       TypeInferenceError)
    extra = given.get("args", ())
    extra = list(extra) if isinstance(extra, (tuple, list)) else [extra]
    if not all(isinstance(a, Value) for a in extra):
        raise lw.error(node, "least_squares: args must be a tuple of numbers and arrays", "",
                       TypeInferenceError)
    opts = {}
    for k, default in _KW.items():
        v = given.get(k, default)
        if isinstance(v, Value):
            raise lw.error(node, f"least_squares: {k} must be a constant in compiled code",
                           "", TypeInferenceError)
        opts[k] = v
    if opts["method"] not in ("lm",) or opts["jac"] not in ("dense", "auto"):
        raise lw.error(node, "least_squares in compiled code is dense Levenberg-Marquardt: "
                       f"method='lm', jac='dense' (got {opts['method']!r}, {opts['jac']!r})",
                       "call it from Python for Gauss-Newton or sparse Jacobians",
                       TypeInferenceError)
    opts.pop("method"), opts.pop("jac"), opts.pop("verbose")
    root = _root(residual, len(extra), opts)
    x = lower_custom_values(lw, root, [x0] + extra, node)
    return FitValues(lw, residual, x, extra, node)
