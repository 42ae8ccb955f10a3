"""Derivatives of random programs (the differentiable generator of `tests/programs.py`).

* smooth programs (no abs/min/max): jvp == central finite differences, unless the point sits
  on a kink or jump of the program (a branch threshold: hypothesis likes round numbers), which
  the one-sided differences reveal; then only the next check runs;
* all differentiable programs (abs/min/max included): the dot-product test between jvp and vjp,
  <J v, w> == <v, J^T w>, which holds exactly (to rounding) at kinks too, as both modes follow
  the same convention there; and vjp's primal output == CPython.

Each example compiles two derivative functions (the finite-difference test on LLVM, whose
compiles are ~10x faster; the dot-product test on numba), so the example counts are modest
(scale them with ADCOMPILE_RANDOM_SCALE=N for a longer hunt).  A failure prints the program and
its arguments; shrinking is capped in time.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
from hypothesis import HealthCheck, event, given, note, reject, settings

import adcompile as ad

from ._util import abs_inner, assert_close, assert_dot, fd_directional, inner, parts

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import programs as progs  # noqa: E402

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
             HealthCheck.filter_too_much]
_SCALE = max(1, int(os.environ.get("ADCOMPILE_RANDOM_SCALE", "1")))


class _ShrinkBudget:
    """After the first failure, keep shrinking for `seconds`, then reject new candidates
    (each one costs numba compiles); examples that already failed still run and fail."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.first_failure: float | None = None
        self.failed: set[str] = set()

    def run(self, p, body):
        if (self.first_failure is not None and p.source not in self.failed
                and time.monotonic() - self.first_failure > self.seconds):
            reject()
        try:
            body()
        except BaseException:
            self.failed.add(p.source)
            if self.first_failure is None:
                self.first_failure = time.monotonic()
            raise


def _directions(p, rng):
    tangents = []
    for a, k in zip(p.args, p.arg_kinds):
        if k == "a":
            tangents.append(rng.standard_normal(a.shape))
        elif k == "f":
            tangents.append(float(rng.standard_normal()))
        else:
            tangents.append(None)
    return tangents


def _smooth_here(f, args, nums, dirs, h=1e-6) -> bool:
    """One-sided differences agree: no kink or jump within h of the point along dirs."""
    from ._util import shift
    f0 = parts(f(*args))
    fp = parts(f(*shift(args, nums, dirs, h)))
    fm = parts(f(*shift(args, nums, dirs, -h)))
    for a, b, c in zip(fm, f0, fp):
        fwd = (c - b) / h
        bwd = (b - a) / h
        if np.any(np.abs(fwd - bwd) > 1e-3 * (1.0 + np.abs(fwd) + np.abs(bwd))):
            return False
    return True


def _derivative_continuous(f, p, tangents, nums, dirs, out_dot, backend, h=1e-5) -> bool:
    """The jvp next to the point agrees with the jvp at it. A branch decided by a tie exactly
    at the point (e.g. `0.0 * s <= s` with s == 0) takes a different branch than all its
    neighbours: the function can still be smooth there, but AD differentiates the branch taken
    (the documented convention), so finite differences do not apply."""
    from ._util import shift
    here = np.concatenate([x.ravel() for x in parts(out_dot)])
    for sgn in (1.0, -1.0):
        args = list(shift(p.fresh_args(), nums, dirs, sgn * h))
        for i, k in enumerate(p.arg_kinds):
            if k == "i":
                args[i] = p.args[i]
        _, d = ad.jvp(f, tuple(args), tangents, backend=backend)
        near = np.concatenate([x.ravel() for x in parts(d)])
        if np.any(np.abs(near - here) > 1e-3 * (1.0 + np.abs(here))):
            return False
    return True


def _check(p, with_fd: bool, backend: str) -> None:
    note(p.repro())
    f = p.load()
    nums = p.diff_argnums
    rng = np.random.default_rng(len(p.source))
    tangents = _directions(p, rng)
    dirs = [tangents[i] for i in nums]
    expected = f(*p.fresh_args())

    out, out_dot = ad.jvp(f, p.fresh_args(), tangents, backend=backend)
    assert_close(np.concatenate([x.ravel() for x in parts(out)]),
                 np.concatenate([x.ravel() for x in parts(expected)]), 1e-9, 1e-12,
                 "jvp primal output vs CPython")
    if with_fd:
        if _smooth_here(f, p.args, nums, dirs) and _derivative_continuous(
                f, p, tangents, nums, dirs, out_dot, backend):
            fd = fd_directional(f, p.args, nums, dirs)
            for k, (g, w) in enumerate(zip(parts(out_dot), fd)):
                assert_close(g, w, 1e-5, 1e-6, f"jvp output {k} vs finite differences")
            event("finite differences checked")
        else:
            event("kink or jump at the point: finite differences skipped")

    out2, f_vjp = ad.vjp(f, *p.fresh_args(), backend=backend)
    assert_close(np.concatenate([x.ravel() for x in parts(out2)]),
                 np.concatenate([x.ravel() for x in parts(expected)]), 1e-9, 1e-12,
                 "vjp primal output vs CPython")
    ws = [float(rng.standard_normal()) for _ in p.ret_kinds]
    cts = f_vjp(tuple(ws) if p.ret_tuple else ws[0])
    assert len(cts) == len(p.args)
    for c, k in zip(cts, p.arg_kinds):
        assert (c is None) == (k == "i"), (c, k)
    lhs = sum(inner(d, w) for d, w in zip(parts(out_dot), ws))
    rhs = sum(inner(tangents[i], cts[i]) for i in nums)
    scale = (sum(abs_inner(d, w) for d, w in zip(parts(out_dot), ws))
             + sum(abs_inner(tangents[i], cts[i]) for i in nums))
    # generated programs keep values O(1), so rounding in cancelling sums is ~eps * |v| |w|
    nv = np.sqrt(sum(inner(tangents[i], tangents[i]) for i in nums))
    nw = np.sqrt(sum(w * w for w in ws))
    assert_dot(lhs, rhs, scale, 1e-8, "dot-product test jvp/vjp", atol=1e-12 * nv * nw)


_SMOOTH_BUDGET = _ShrinkBudget(30)


@settings(max_examples=20 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS,
          print_blob=True)
@given(progs.float_programs(smooth=True))
def test_jvp_matches_finite_differences_and_vjp(p):
    _SMOOTH_BUDGET.run(p, lambda: _check(p, with_fd=True, backend="llvm"))


_ANY_BUDGET = _ShrinkBudget(20)


@settings(max_examples=12 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS,
          print_blob=True)
@given(progs.float_programs())
def test_dot_product_jvp_vjp(p):
    _ANY_BUDGET.run(p, lambda: _check(p, with_fd=False, backend="numba"))
