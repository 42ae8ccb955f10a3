"""Shared helpers of the derivative tests: finite differences, comparisons, output flattening,
and a per-check collector that allows known adcompile bugs to be expected (strictly).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from typing import Callable

import numpy as np
import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_sibling(name: str):
    """Import a module of this folder by path (independent of pytest's import mode)."""
    modname = f"_adcompile_tests_ad_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, os.path.join(_HERE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return mod


# -- values ---------------------------------------------------------------------------------------
def is_float_arg(a) -> bool:
    if isinstance(a, (bool, np.bool_)):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype.kind == "f"
    return isinstance(a, (float, np.floating))


def parts(out) -> list[np.ndarray]:
    """A function output as a list of float64 arrays (one per returned value)."""
    outs = list(out) if isinstance(out, tuple) else [out]
    return [np.asarray(o, dtype=np.float64) for o in outs]


def to64(args) -> tuple:
    """float32 arguments as float64 (the finite-difference reference runs in double)."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(a.astype(np.float64))
        elif isinstance(a, np.floating):
            out.append(float(a))
        else:
            out.append(a)
    return tuple(out)


def fresh(args) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def random_like(rng: np.random.Generator, a):
    """A random direction with the shape and float dtype of `a` (Python float for floats)."""
    if isinstance(a, np.ndarray):
        return rng.standard_normal(a.shape).astype(a.dtype)
    if isinstance(a, np.floating):
        return type(a)(rng.standard_normal())
    return float(rng.standard_normal())


def shift(args, argnums, dirs, h) -> tuple:
    """args + h * dirs on the float arguments `argnums` (in float64)."""
    out = list(to64(args))
    for i, d in zip(argnums, dirs):
        if isinstance(out[i], np.ndarray):
            out[i] = out[i] + h * np.asarray(d, dtype=np.float64)
        else:
            out[i] = out[i] + h * float(d)
    return tuple(out)


def fd_directional(f: Callable, args, argnums, dirs, h: float = 1e-6) -> list[np.ndarray]:
    """Central finite difference of f along `dirs` (one direction per argnum), per output."""
    plus = parts(f(*shift(args, argnums, dirs, h)))
    minus = parts(f(*shift(args, argnums, dirs, -h)))
    return [(p - m) / (2.0 * h) for p, m in zip(plus, minus)]


def fd_gradient(f: Callable, args, i: int, h: float = 1e-6) -> np.ndarray:
    """Central finite-difference gradient of a scalar f w.r.t. argument i (float64)."""
    a = args[i]
    shape = np.shape(a)
    n = int(np.prod(shape)) if shape else 1
    g = np.empty(n)
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        d = e.reshape(shape) if shape else 1.0
        g[k] = fd_directional(f, args, (i,), (d,), h)[0]
    return g.reshape(shape) if shape else g[0]


def fd_jacobian(f: Callable, args, i: int, h: float = 1e-6) -> list[np.ndarray]:
    """Central finite-difference Jacobian per output: shape out_shape + arg_shape."""
    a = args[i]
    shape = np.shape(a)
    n = int(np.prod(shape)) if shape else 1
    cols = []
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        cols.append(fd_directional(f, args, (i,), (e.reshape(shape) if shape else 1.0,), h))
    out = []
    for o in range(len(cols[0])):
        J = np.stack([c[o] for c in cols], axis=-1)
        out.append(J.reshape(np.shape(cols[0][o]) + shape))
    return out


def inner(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def abs_inner(a, b) -> float:
    return float(np.sum(np.abs(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64))))


def assert_close(got, want, rtol: float, atol_scale: float, what: str) -> None:
    """|got - want| <= atol + rtol |want| elementwise, atol = atol_scale * (1 + max |want|)."""
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise AssertionError(f"{what}: shape {g.shape} != expected {w.shape}")
    atol = atol_scale * (1.0 + (float(np.max(np.abs(w))) if w.size else 0.0))
    bad = ~(np.abs(g - w) <= atol + rtol * np.abs(w))
    if np.any(bad):
        err = np.max(np.abs(g - w))
        raise AssertionError(f"{what}: max abs error {err:.3e} (rtol {rtol}, atol {atol:.1e}) at "
                             f"{int(np.sum(bad))} of {w.size} entries\n  got      {g!r}\n"
                             f"  expected {w!r}")


def assert_dot(lhs: float, rhs: float, scale: float, rtol: float, what: str,
               atol: float = 0.0) -> None:
    """Dot-product test: lhs == rhs relative to the sum of the absolute terms (`scale`), plus
    `atol` for sums that cancel inside the program (the terms then understate the rounding)."""
    tol = rtol * scale + atol
    if not abs(lhs - rhs) <= max(tol, 1e-300):
        raise AssertionError(f"{what}: <J v, w> = {lhs!r} but <v, J^T w> = {rhs!r} "
                             f"(difference {abs(lhs - rhs):.3e}, tolerance {tol:.3e})")


# -- checks with expected (known-bug) failures ---------------------------------------------
class Checks:
    """Runs named checks of one test, collects failures, and reports them all at the end.

    `known` maps a check name to the reason it is expected to fail (an open adcompile bug).
    At the end: an unexpected failure fails the test (all failures listed); a known failure
    that did not happen fails the test too (strict: remove the entry); otherwise, if a known
    failure happened, the test is reported as xfail with its reason.
    """

    def __init__(self, label: str, known: dict[str, str] | None = None):
        self.label = label
        self.known = dict(known or {})
        self.failed: dict[str, str] = {}
        self.ran: list[str] = []

    def run(self, name: str, fn: Callable, *a, **kw):
        self.ran.append(name)
        try:
            return fn(*a, **kw)
        except Exception as e:  # noqa: BLE001 - every failure is reported at the end
            tb = traceback.format_exc(limit=-3)
            self.failed[name] = f"{type(e).__name__}: {e}\n{tb}"
            return None

    def finish(self) -> None:
        unexpected = {k: v for k, v in self.failed.items() if k not in self.known}
        fixed = [k for k in self.known if k in self.ran and k not in self.failed]
        msgs = []
        for k, v in unexpected.items():
            msgs.append(f"--- {self.label}: check '{k}' failed ---\n{v}")
        for k in fixed:
            msgs.append(f"--- {self.label}: check '{k}' is listed as a known failure "
                        f"({self.known[k]}) but passed: remove it from the known list ---")
        if msgs:
            pytest.fail("\n".join(msgs), pytrace=False)
        by_reason: dict[str, list[str]] = {}
        for k in self.known:
            if k in self.failed:
                by_reason.setdefault(self.known[k], []).append(k)
        if by_reason:
            pytest.xfail("; ".join(f"{', '.join(ks)}: {why}" for why, ks in by_reason.items()))
