"""User derivative rules (`custom_jvp`, `custom_vjp`): the rule is what each mode uses, the
results agree with finite differences, and no wrapper files are written anywhere."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad


@ad.custom_jvp
def softclip(x):
    return np.log1p(np.exp(x))


@softclip.defjvp
def softclip_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return np.log1p(np.exp(x)), t / (1.0 + np.exp(-x))


@ad.custom_jvp
def scaled(x):
    return x * x


@scaled.defjvp
def scaled_jvp(primals, tangents):
    # deliberately not the derivative of x*x: shows the rule, not the body, is used
    (x,), (t,) = primals, tangents
    return x * x, 10.0 * t


@ad.custom_vjp
def clipped_sq(x):
    return x * x


def clipped_sq_fwd(x):
    return x * x, (x,)


def clipped_sq_bwd(res, g):
    (x,) = res
    return (3.0 * x * g,)      # not 2x: the rule is used in reverse mode


clipped_sq.defvjp(clipped_sq_fwd, clipped_sq_bwd)


def uses_softclip(x, k):
    s = 0.0
    for i in range(x.shape[0]):
        s += softclip(k * x[i])
    return s


def uses_scaled(x):
    return scaled(x) + 1.0


def uses_clipped(x):
    return clipped_sq(x) * 2.0


X = np.linspace(-1.0, 2.0, 5)


def _fd(f, args, i, h=1e-6):
    a = list(args)
    x = np.asarray(a[i], dtype=float)
    g = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        up, dn = x.copy(), x.copy()
        up[j] += h
        dn[j] -= h
        a[i] = up if x.shape else float(up)
        fu = f(*a)
        a[i] = dn if x.shape else float(dn)
        g[j] = (fu - f(*a)) / (2 * h)
    return g


def test_custom_jvp_rule_agrees_with_differences_in_both_modes():
    g = ad.grad(uses_softclip, argnums=(0, 1))(X, 0.7)
    np.testing.assert_allclose(g[0], _fd(uses_softclip, (X, 0.7), 0), rtol=1e-6)
    np.testing.assert_allclose(g[1], _fd(uses_softclip, (X, 0.7), 1), rtol=1e-6)
    v = np.cos(np.arange(5.0))
    _, t = ad.jvp(uses_softclip, (X, 0.7), (v, None))
    assert t == pytest.approx(float(g[0] @ v), rel=1e-12)   # <J v> == <v, J^T 1>


def test_the_jvp_rule_is_what_forward_and_reverse_use():
    _, t = ad.jvp(uses_scaled, (1.5,), (1.0,))
    assert t == 10.0
    assert ad.grad(uses_scaled)(1.5) == 10.0     # reverse mode transposes the rule


def test_the_vjp_rule_is_what_reverse_uses_and_forward_differentiates_the_body():
    assert ad.grad(uses_clipped)(1.5) == pytest.approx(2.0 * 3.0 * 1.5)
    _, t = ad.jvp(uses_clipped, (1.5,), (1.0,))
    assert t == pytest.approx(2.0 * 2.0 * 1.5)


def test_rule_wrappers_leave_no_files(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCOMPILE_CACHE_DIR", str(tmp_path))

    def fresh_user(x):
        return scaled(x) * 3.0
    ad.grad(fresh_user, options=ad.CompileOptions(backend="llvm"))(2.0)
    files = [p for p in tmp_path.rglob("*") if p.suffix == ".py"]
    assert not files, files


def test_a_missing_rule_is_a_precise_error():
    @ad.custom_vjp
    def norule(x):
        return x + 1.0

    def user(x):
        return norule(x) * 2.0
    with pytest.raises(ad.AdError, match="'norule' is a custom_vjp function without fwd/bwd rules"):
        ad.grad(user)(1.0)
