"""`custom_root` and `fixed_point`: derivatives of solvers by the implicit function theorem.

A solver `solver(x_init, *params) -> x` whose result satisfies `F(x, *params) = 0` has, at a
regular solution, `∂x/∂θ = -(∂F/∂x)⁻¹ ∂F/∂θ`. So instead of differentiating the solver's
iterations (whose tape grows with their number), its call becomes a `custom` op with
generated rules:

- forward mode: `ẋ = solve(∂F/∂x, -∂F/∂θ · θ̇)`;
- reverse mode: `u = solve((∂F/∂x)ᵀ, x̄)`, then `θ̄ = -(∂F/∂θ)ᵀ u`; `x_init` gets none.

The rules are subset source generated per argument signature: products with ∂F/∂x and
∂F/∂θ are compiled `jvp`/`vjp` calls of F, and the linear solve is one of the templates of
`linear.py`, so the whole derivative is one compiled program on every backend.
"""
from __future__ import annotations

import hashlib
import linecache
import math
import types

import numpy as np

from ..custom.functions import CustomFunction
from ..custom.lowering import source_loc as _loc_of
from ..derivatives import jvp, vjp
from ..errors import AdError, TypeInferenceError
from ..frontend.lower import lower
from ..ir.types import ArrayType, scalar_of
from .diagnostics import Requirement
from .linear import METHODS, solver_source

_DEFAULT_MAXITER = 1000
# what a derivative does when its linear solve (or the solver's root) misses its tolerance
ON_FAILURE = ("raise", "warn")


def _positional_count(func, what: str) -> int:
    if not isinstance(func, types.FunctionType):
        raise TypeInferenceError(f"{what} must be a Python function, got "
                                 f"{type(func).__name__}", None,
                                 "define it with def in the supported subset")
    code = func.__code__
    if code.co_flags & 0x0C:
        raise TypeInferenceError(f"{what} '{func.__name__}' takes *args or **kwargs",
                                 _loc_of(func), "list its arguments explicitly")
    return code.co_argcount


def _tup(xs: list[str]) -> str:
    return "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"


def _lhs(xs: list[str]) -> str:
    return ", ".join(xs) + ("," if len(xs) == 1 else "")


def _ndim(t) -> int:
    return t.ndim if isinstance(t, ArrayType) else 0


def _lane_index(ndim: int) -> str:
    """Subscript of lane `l` of a tangent whose primal has `ndim` axes."""
    return ", ".join([":"] * ndim + ["l"])


def _describe(t) -> str:
    return f"a {t.ndim}-d {t.dtype} array" if isinstance(t, ArrayType) else f"a {t} scalar"


class ImplicitRoot(CustomFunction):
    """A solver whose derivative comes from its optimality condition (see the module)."""

    kind = "custom_root"

    def __init__(self, solver, optimality, *, solve: str, tol: float, maxiter: int | None,
                 check_tol: float | None, restart: int, root_tol: float | None = 1e-6,
                 fixed_map=None, on_failure: str = "raise"):
        n = _positional_count(solver, "the solver")
        if n < 1:
            raise TypeInferenceError(f"the solver '{solver.__name__}' takes no arguments",
                                     _loc_of(solver), "a solver is solver(x_init, *params)")
        if fixed_map is None:
            m = _positional_count(optimality, "the optimality function")
            if m != n:
                raise TypeInferenceError(
                    f"the optimality function '{optimality.__name__}' takes {m} argument"
                    f"{'s' * (m != 1)} but the solver '{solver.__name__}' takes {n}",
                    _loc_of(optimality),
                    "optimality(x, *params) takes the solution and the solver's own params "
                    "(the solver is solver(x_init, *params))")
        valid = METHODS + (("fixed_point",) if fixed_map is not None else ())
        if solve not in valid:
            raise AdError(f"unknown linear solver {solve!r} for '{solver.__name__}'", None,
                          f"choose one of: {', '.join(valid)}")
        if not tol > 0:
            raise AdError(f"tol must be positive, got {tol!r}", None, "e.g. tol=1e-10")
        if on_failure not in ON_FAILURE:
            raise AdError(f"on_failure must be one of {', '.join(map(repr, ON_FAILURE))}, got "
                          f"{on_failure!r} (for '{solver.__name__}')", None,
                          "'raise' stops with ConvergenceError; 'warn' returns the derivative "
                          "with a ConvergenceWarning")
        super().__init__(solver)
        self.on_failure = on_failure
        self.optimality = optimality
        self.fixed_map = fixed_map
        self.solve = solve
        self.tol = float(tol)
        self.maxiter = int(maxiter) if maxiter is not None else _DEFAULT_MAXITER
        self.check_tol = float(check_tol) if check_tol is not None else max(100 * tol, 1e-8)
        self.restart = int(restart)
        self.root_tol = None if root_tol is None else float(root_tol)
        self.nparams = n - 1
        self._generated: dict[tuple, dict] = {}
        # what the rule-neutral parts of the compiler test for: this function has all rules
        self.jvp_rule = self._named("implicit_jvp")
        self.fwd = self._named("implicit_fwd")
        self.bwd = self._named("implicit_bwd")

    def _named(self, what: str):
        def rule(*args):
            raise AdError(f"the {what} rule of '{self.__name__}' runs inside compiled code only")
        rule.__name__ = rule.__qualname__ = f"{self.__name__}_{what}"
        return rule

    def require_rules(self, loc=None) -> None:
        return None

    def residual_sources(self, nargs: int, nouts: int) -> list[tuple[str, int]]:
        """The fwd rule's residuals are (x, *params): the output and the arguments after
        x_init."""
        return [("out", 0)] + [("arg", k) for k in range(1, nargs)]

    # -- rules per signature ---------------------------------------------------------------
    def rule_for(self, kind: str, arg_types: list):
        k = 1 + self.nparams
        if kind == "jvp":
            primal = arg_types[:k]
        elif kind == "fwd":
            primal = arg_types
        else:   # bwd: residuals (x, *params) then the output's cotangent
            primal = arg_types[:k]
        # vector forward mode (jacfwd): every tangent has one trailing lane axis more
        lanes = kind == "jvp" and _ndim(arg_types[k]) == _ndim(arg_types[0]) + 1
        key = tuple(str(t) for t in primal) + (("lanes",) if lanes else ())
        rules = self._generated.get(key)
        if rules is None:
            rules = self._generated[key] = self._generate(list(primal), lanes)
        return rules[kind]

    def _check_types(self, ts: list) -> None:
        x = ts[0]
        if not scalar_of(x).is_float:
            raise TypeInferenceError(f"the solver '{self.__name__}' is called with "
                                     f"{_describe(x)} as x_init", _loc_of(self.fun),
                                     "the unknown of a root is a float scalar or array")
        weak = [False] * len(ts)
        solved = lower(self.fun, list(ts), weak, flatten_returns=True).result_types
        if list(solved) != [x]:
            got = ", ".join(_describe(t) for t in solved)
            raise TypeInferenceError(f"the solver '{self.__name__}' returns {got} for "
                                     f"x_init {_describe(x)}", _loc_of(self.fun),
                                     "a solver returns its solution x, of x_init's type")
        if self.fixed_map is None:
            f = self.optimality
            out = lower(f, list(ts), weak, flatten_returns=True).result_types
            what = f"the optimality function '{f.__name__}'"
        else:
            f = self.fixed_map
            out = lower(f, list(ts), weak, flatten_returns=True).result_types
            what = f"the fixed-point map '{f.__name__}'"
        if list(out) != [x]:
            got = ", ".join(_describe(t) for t in out)
            raise TypeInferenceError(
                f"{what} returns {got} for x {_describe(x)}: ∂F/∂x must be square",
                _loc_of(f), "F(x, *params) has one entry per entry of x")
        if isinstance(x, ArrayType) and x.ndim != 1 and self.solve in ("gmres", "dense"):
            raise TypeInferenceError(
                f"solve={self.solve!r} needs a 1-d unknown; '{self.__name__}' solves for "
                f"{_describe(x)}", _loc_of(self.fun),
                "use solve='bicgstab' or 'cg' (any shape), or solve for x.ravel()")

    def _generate(self, ts: list, lanes: bool = False) -> dict:
        """Rule functions for one signature (x_init, *params), from generated source; with
        `lanes`, the JVP rule solves once per tangent lane (vector forward mode)."""
        self._check_types(ts)
        P = self.nparams
        ps = [f"p{i}" for i in range(P)]
        ts_ = [f"t{i}" for i in range(P)]
        floats = [scalar_of(t).is_float for t in ts[1:]]
        args = ", ".join(["x"] + ps)
        none = ["None"] * P
        scalar = not isinstance(ts[0], ArrayType)
        method = "scalar" if scalar else self.solve
        loc = _loc_of(self.fun)
        warn = self.on_failure == "warn"
        where = (f"'{self.__name__}' (optimality '{self.optimality.__name__}')"
                 if self.fixed_map is None else
                 f"'{self.__name__}' (fixed point of '{self.fixed_map.__name__}')")
        msg = ("the {} linear solve ({}) of the implicit derivative of " + where +
               " reached a relative residual of {{detail}} (required: {:g}, at most {} "
               "iterations): the inner solution is not accurate enough or ∂F/∂x is singular")
        ns = {"np": np, "math": math, "solver": self.fun, "optimality": self.optimality,
              "T": self.fixed_map,
              "require_fwd": Requirement(msg.format("tangent", method, self.check_tol,
                                                    self.maxiter), loc, warn),
              "require_bwd": Requirement(msg.format("adjoint", method, self.check_tol,
                                                    self.maxiter), loc, warn)}
        root_msg = (f"the solver {where} returned x with a relative residual "
                    "‖F(x)‖/‖F(x_init)‖ of {detail}, above root_tol="
                    f"{self.root_tol!r}: the implicit derivative holds only at a root")
        ns["require_root"] = Requirement(root_msg, loc, warn)
        ns["jvp"], ns["vjp"] = jvp, vjp
        src = []
        call = f"solver(x_init{''.join(', ' + p for p in ps)})"
        solve_x = f"    x = {call}\n"
        if self.root_tol is not None:
            F = "optimality"
            solve_x += (f"    f0 = {F}(x_init{''.join(', ' + p for p in ps)})\n"
                        f"    f1 = {F}({args})\n"
                        "    r0 = np.sqrt(np.sum(f0 * f0))\n"
                        "    r1 = np.sqrt(np.sum(f1 * f1))\n"
                        "    rel = r1\n"
                        "    if r0 > 0.0:\n"
                        "        rel = r1 / r0\n"
                        f"    require_root(r1 == 0.0 or rel <= {self.root_tol!r}, rel)\n")
        if self.fixed_map is not None:
            src.append(f"def optimality({args}):\n    return x - T({args})\n")
        src.append(f"def F_x({args}, v):\n"
                   f"    _, t = jvp(optimality, {_tup(['x'] + ps)}, "
                   f"{_tup(['v'] + none)})\n    return t\n")
        src.append(f"def F_xT({args}, u):\n"
                   f"    _, pb = vjp(optimality, {args})\n"
                   f"    c = pb(u)\n    return c[0]\n")
        kw = dict(tol=self.tol, maxiter=self.maxiter, check_tol=self.check_tol,
                  restart=self.restart)
        if method == "fixed_point":
            src.append(f"def T_x({args}, v):\n"
                       f"    _, t = jvp(T, {_tup(['x'] + ps)}, "
                       f"{_tup(['v'] + none)})\n    return t\n")
            src.append(f"def T_xT({args}, u):\n"
                       f"    _, pb = vjp(T, {args})\n"
                       f"    c = pb(u)\n    return c[0]\n")
            fwd_solve = solver_source(method, "solve_fwd", "F_x", args, fixed_map="T_x", **kw)
            bwd_solve = solver_source(method, "solve_bwd", "F_xT", args, fixed_map="T_xT",
                                      **kw)
        else:
            fwd_solve = solver_source(method, "solve_fwd", "F_x", args, **kw)
            bwd_solve = solver_source(method, "solve_bwd", "F_xT", args, **kw)
        src.append(fwd_solve.replace("require(", "require_fwd("))
        src.append(bwd_solve.replace("require(", "require_bwd("))
        tangents = ["x * 0.0"] + [t if fl else "None" for t, fl in zip(ts_, floats)]
        if not lanes:
            src.append(f"def jvp_rule(primals, tangents):\n"
                       f"    {_lhs(['x_init'] + ps)} = primals\n"
                       f"    {_lhs(['t_init'] + ts_)} = tangents\n"
                       + solve_x +
                       f"    _, b = jvp(optimality, {_tup(['x'] + ps)}, "
                       f"{_tup(tangents)})\n"
                       f"    x_dot = solve_fwd({args}, -b)\n"
                       f"    return x, x_dot\n")
        else:   # one solve per lane: lane l of every tangent is one direction
            lane = [f"{t}[{_lane_index(_ndim(p))}]" if fl else "None"
                    for t, p, fl in zip(ts_, ts[1:], floats)]
            nx = _ndim(ts[0])
            shape = "(" + "".join(f"x.shape[{d}], " for d in range(nx)) + "L)"
            src.append(f"def jvp_rule(primals, tangents):\n"
                       f"    {_lhs(['x_init'] + ps)} = primals\n"
                       f"    {_lhs(['t_init'] + ts_)} = tangents\n"
                       + solve_x +
                       f"    L = t_init.shape[{nx}]\n"
                       f"    x_dot = np.zeros({shape})\n"
                       f"    for l in range(L):\n"
                       f"        _, b = jvp(optimality, {_tup(['x'] + ps)}, "
                       f"{_tup(['x * 0.0'] + lane)})\n"
                       f"        x_dot[{_lane_index(nx)}] = solve_fwd({args}, -b)\n"
                       f"    return x, x_dot\n")
        src.append(f"def fwd_rule(x_init{''.join(', ' + p for p in ps)}):\n"
                   + solve_x +
                   f"    return x, {_tup(['x'] + ps)}\n")
        zero = "0.0" if scalar else "np.zeros_like(x)"
        cots = [f"-c[{i + 1}]" if fl else "0.0" for i, fl in enumerate(floats)]
        src.append(f"def bwd_rule(res, g):\n"
                   f"    {_lhs(['x'] + ps)} = res\n"
                   f"    u = solve_bwd({args}, g)\n"
                   f"    _, pb = vjp(optimality, {args})\n"
                   f"    c = pb(u)\n"
                   f"    return {_tup([zero] + cots)}\n")
        text = "\n".join(src)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        filename = f"<adcompile implicit rules of {self.__qualname__} {digest}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
        exec(compile(text, filename, "exec"), ns)
        for name in ("jvp_rule", "fwd_rule", "bwd_rule"):
            ns[name].__qualname__ = f"{self.__name__}_{name}"
        self.source = text
        return {"jvp": ns["jvp_rule"], "fwd": ns["fwd_rule"], "bwd": ns["bwd_rule"]}


def custom_root(optimality, *, solve: str = "bicgstab", tol: float = 1e-10,
                maxiter: int | None = None, check_tol: float | None = None, restart: int = 30,
                root_tol: float | None = 1e-6, on_failure: str = "raise"):
    """Decorate `solver(x_init, *params) -> x` whose result satisfies
    `optimality(x, *params) == 0`: derivatives of its calls (inside grad, vjp, jvp of any
    compiled function) come from the implicit function theorem, not from its iterations.

    solve: the linear solver of the derivative ('cg' when ∂F/∂x is symmetric positive
    definite, e.g. F a gradient; 'bicgstab' or 'gmres' for any nonsingular ∂F/∂x; 'dense'
    forms it, 1-d x). tol: its relative tolerance; maxiter: its iteration limit; check_tol:
    the true relative residual above which the derivative raises ConvergenceError.
    root_tol: the derivative also raises ConvergenceError when the solver's x has
    ‖F(x)‖ > root_tol·‖F(x_init)‖ (the implicit derivative holds only at a root); None skips
    that check. on_failure: 'raise' (ConvergenceError) or 'warn' (a ConvergenceWarning with the
    residual reached, and the derivative is returned; CUDA kernels always stop).
    """
    if not callable(optimality):
        raise TypeInferenceError("custom_root(optimality) needs the optimality function",
                                 None, "@adcompile.custom_root(F) above def solver(x_init, ...)")

    def decorate(solver) -> ImplicitRoot:
        return ImplicitRoot(solver, optimality, solve=solve, tol=tol, maxiter=maxiter,
                            check_tol=check_tol, restart=restart, root_tol=root_tol,
                            on_failure=on_failure)
    return decorate


def fixed_point(T, *, solve: str = "fixed_point", tol: float = 1e-10,
                maxiter: int | None = None, check_tol: float | None = None,
                restart: int = 30, root_tol: float | None = 1e-6, on_failure: str = "raise"):
    """Decorate `solver(x_init, *params) -> x` whose result satisfies `x = T(x, *params)`:
    as `custom_root` with optimality `x - T(x, *params)`. solve='fixed_point' (the default)
    solves the derivative's linear system by the fixed-point iteration of T's own Jacobian
    (`u = x̄ + (∂T/∂x)ᵀ u`), which converges when T is a contraction; any `custom_root`
    method may be chosen instead."""
    if not callable(T):
        raise TypeInferenceError("fixed_point(T) needs the map T", None,
                                 "@adcompile.fixed_point(T) above def solver(x_init, ...)")
    n = _positional_count(T, "the fixed-point map")

    def decorate(solver) -> ImplicitRoot:
        m = _positional_count(solver, "the solver")
        if m != n:
            raise TypeInferenceError(
                f"the fixed-point map '{T.__name__}' takes {n} argument{'s' * (n != 1)} but "
                f"the solver '{solver.__name__}' takes {m}", _loc_of(T),
                "T(x, *params) takes the iterate and the solver's own params")
        root = ImplicitRoot(solver, T, solve=solve, tol=tol, maxiter=maxiter,
                            check_tol=check_tol, restart=restart, root_tol=root_tol,
                            fixed_map=T, on_failure=on_failure)
        return root
    return decorate


