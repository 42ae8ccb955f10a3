"""The NumPy breadth of the subset (issue 16), one row per function of
`breadth_programs.ROWS`: the value against NumPy on the interpreter, LLVM and numba (for
differentiable rows, numba's value is the primal its vjp returns: one compile less); for
float results, forward mode against central finite differences (LLVM), reverse mode
against them (numba), and the dot-product test <J v, w> == <v, J^T w> between LLVM's
forward and both backends' reverse mode. Sizes are tiny: each row costs a few compiles.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

import adcompile as ad

from ..ad._util import assert_close, fd_directional, fresh, inner, parts, random_like
from . import breadth_programs as P

NAMES = sorted(P.ROWS)


def _args(name):
    make, _ = P.ROWS[name]
    return make(np.random.default_rng(abs(hash(name)) % 2 ** 32))


def _same(got, want, what):
    gs = list(got) if isinstance(got, tuple) else [got]
    ws = list(want) if isinstance(want, tuple) else [want]
    assert len(gs) == len(ws), what
    for g, w in zip(gs, ws):
        assert np.shape(g) == np.shape(w), f"{what}: shape {np.shape(g)} != {np.shape(w)}"
        assert np.asarray(g).dtype == np.asarray(w).dtype, f"{what}: dtype"
        np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float),
                                   rtol=1e-12, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("name", NAMES)
def test_value(name):
    f, args = getattr(P, name), _args(name)
    want = f(*fresh(args))
    _same(ad.interpret(f, *args), want, f"{name}: interpreter")
    _same(ad.jit(f, backend="llvm")(*args), want, f"{name}: llvm")
    if not P.ROWS[name][1]:   # differentiable rows check numba's value in its vjp (one compile)
        _same(ad.jit(f, backend="numba")(*args), want, f"{name}: numba")


@pytest.mark.parametrize("name", [n for n in NAMES if P.ROWS[n][1]])
def test_derivatives(name):
    f, args = getattr(P, name), _args(name)
    rng = np.random.default_rng(7)
    v = tuple(random_like(rng, a) for a in args)
    out, jv = ad.jvp(f, args, v, backend="llvm")
    fd = fd_directional(f, args, range(len(args)), v)
    for got, want in zip(parts(jv), fd):
        assert_close(got, want, 1e-6, 1e-7, f"{name}: jvp (llvm) vs finite differences")
    outs = list(out) if isinstance(out, tuple) else [out]
    ws = [random_like(rng, np.asarray(o)) if np.ndim(o) else float(rng.standard_normal())
          for o in outs]
    w = tuple(ws) if isinstance(out, tuple) else ws[0]
    lhs = sum(inner(j, c) for j, c in zip(parts(jv), ws))
    fd_rhs = sum(inner(want, c) for want, c in zip(fd, ws))
    for backend in ("llvm", "numba"):
        value, pullback = ad.vjp(f, *args, backend=backend)
        if backend == "numba":
            _same(value, f(*fresh(args)), f"{name}: numba (the primal of its vjp)")
        cts = pullback(w)
        rhs = sum(inner(c, d) for c, d in zip(cts, v) if c is not None)
        assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs)), \
            f"{name}: <J v, w> = {lhs} but <v, J^T w> = {rhs} ({backend})"
        assert abs(fd_rhs - rhs) <= 1e-5 * (1 + abs(rhs)), \
            f"{name}: vjp ({backend}) vs finite differences"


def four_d(x, w):
    y = np.sin(x) * w[None, :, None, None]
    y[0, 1, :, 2] += x[1, 0, :, 1] ** 2
    return y


def four_d_loss(x, w):
    return np.sum(four_d(x, w) ** 2)


def test_four_dimensional_arguments_and_results():
    rng = np.random.default_rng(3)
    x, w = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=3)
    got = ad.jit(four_d, backend="llvm")(x, w)
    np.testing.assert_allclose(got, four_d(x, w), rtol=1e-14)
    g = ad.grad(four_d_loss, argnums=(0, 1), backend="llvm")(x, w)
    v = (rng.normal(size=x.shape), rng.normal(size=3))
    _, jv = ad.jvp(four_d_loss, (x, w), v, backend="llvm")
    h = 1e-6
    fd = (four_d_loss(x + h * v[0], w + h * v[1]) -
          four_d_loss(x - h * v[0], w - h * v[1])) / (2 * h)
    np.testing.assert_allclose(jv, fd, rtol=1e-6)
    np.testing.assert_allclose(np.sum(g[0] * v[0]) + np.dot(g[1], v[1]), jv, rtol=1e-12)


def draws_numpy(n):
    return np.random.rand(n)


def draws_stdlib(x):
    return x * random.random()


@pytest.mark.parametrize("f,arg", [(draws_numpy, 3), (draws_stdlib, 1.0)])
def test_random_numbers_are_rejected_with_a_hint_to_pass_samples(f, arg):
    with pytest.raises(ad.UnsupportedSyntax, match="random numbers are not drawn") as info:
        ad.interpret(f, arg)
    assert "pass them in" in info.value.hint and info.value.loc.line > 0
