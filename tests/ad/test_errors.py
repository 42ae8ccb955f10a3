"""Errors of the derivative API: every misuse raises an `adcompile.AdError` subclass with a hint.

* a derivative w.r.t. an int / bool argument (scalar or array) -> NonDifferentiable;
* grad / value_and_grad / hessian of a non-scalar output -> TypeInferenceError, with a hint
  naming vjp / jacrev (and the user's line);
* argnums out of range -> AdError;
* a jvp tangent for an int argument, or the wrong number of tangents -> AdError.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import adcompile as ad


def loop_count(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
    return s


def int_array_weights(x, k):
    return np.sum(x * k)


def bool_switch(a, flag):
    return a * 2.0 if flag else a


def vector_out(x):
    return x * 2.0


def tuple_out(a, b):
    return a * b, a + b


def int_only(n):
    return n * 1.5


def uses_lgamma(a):
    return math.lgamma(a) * a


_INT_ARG_CALLS = {
    "grad": lambda: ad.grad(loop_count, argnums=1)(1.0, 3),
    "grad_tuple": lambda: ad.grad(loop_count, argnums=(0, 1))(1.0, 3),
    "grad_only_int_arg": lambda: ad.grad(int_only)(3),
    "value_and_grad": lambda: ad.value_and_grad(loop_count, argnums=1)(1.0, 3),
    "jacfwd": lambda: ad.jacfwd(loop_count, argnums=1)(1.0, 3),
    "jacrev": lambda: ad.jacrev(loop_count, argnums=1)(1.0, 3),
    "hessian": lambda: ad.hessian(loop_count, argnums=1)(1.0, 3),
    "hvp": lambda: ad.hvp(loop_count, (1.0, 3), (None, 1)),
    "int_array": lambda: ad.grad(int_array_weights, argnums=1)(np.ones(3), np.arange(3)),
    "bool": lambda: ad.grad(bool_switch, argnums=1)(1.0, True),
}


@pytest.mark.parametrize("what", list(_INT_ARG_CALLS))
def test_int_argnums_is_non_differentiable(what):
    with pytest.raises(ad.NonDifferentiable) as info:
        _INT_ARG_CALLS[what]()
    err = info.value
    assert isinstance(err, ad.AdError)
    assert err.hint and err.hint.strip(), "the error needs a hint"
    assert err.hint in str(err)


_NON_SCALAR_CALLS = {
    "grad_vector": lambda: ad.grad(vector_out)(np.ones(3)),
    "grad_tuple": lambda: ad.grad(tuple_out)(1.0, 2.0),
    "value_and_grad_vector": lambda: ad.value_and_grad(vector_out)(np.ones(3)),
    "value_and_grad_tuple": lambda: ad.value_and_grad(tuple_out, argnums=(0, 1))(1.0, 2.0),
}


@pytest.mark.parametrize("what", list(_NON_SCALAR_CALLS))
def test_grad_of_non_scalar_output(what):
    with pytest.raises(ad.TypeInferenceError) as info:
        _NON_SCALAR_CALLS[what]()
    err = info.value
    assert isinstance(err, ad.AdError)
    assert "vjp" in err.hint or "jacrev" in err.hint, err.hint
    assert err.lineno is not None and err.filename == __file__


def test_hessian_of_non_scalar_output():
    """As in JAX, the Hessian of an array output is one Hessian per entry (out + x + x)."""
    H = ad.hessian(vector_out, backend="llvm")(np.ones(3))
    assert H.shape == (3, 3, 3) and not H.any()


_OUT_OF_RANGE = {
    "grad": lambda: ad.grad(loop_count, argnums=2)(1.0, 3),
    "grad_negative": lambda: ad.grad(loop_count, argnums=-3)(1.0, 3),
    "grad_tuple": lambda: ad.grad(loop_count, argnums=(0, 2))(1.0, 3),
    "value_and_grad": lambda: ad.value_and_grad(loop_count, argnums=9)(1.0, 3),
    "jacfwd": lambda: ad.jacfwd(loop_count, argnums=5)(1.0, 3),
    "jacrev": lambda: ad.jacrev(loop_count, argnums=(0, 7))(1.0, 3),
    "hessian": lambda: ad.hessian(loop_count, argnums=3)(1.0, 3),
}


@pytest.mark.parametrize("what", list(_OUT_OF_RANGE))
def test_argnums_out_of_range(what):
    with pytest.raises(ad.AdError) as info:
        _OUT_OF_RANGE[what]()
    assert info.value.hint


def test_negative_argnums_in_range():
    assert ad.grad(loop_count, argnums=-2)(1.0, 3) == pytest.approx(3.0)


@pytest.mark.parametrize("tangent", [1, 0, 1.0])
def test_jvp_tangent_for_int_argument(tangent):
    with pytest.raises(ad.AdError) as info:
        ad.jvp(loop_count, (1.0, 3), (1.0, tangent))
    assert info.value.hint


def test_jvp_needs_one_tangent_per_primal():
    with pytest.raises(ad.AdError) as info:
        ad.jvp(loop_count, (1.0, 3), (1.0,))
    assert info.value.hint


def test_jvp_none_tangent_for_int_is_fine():
    out, dot = ad.jvp(loop_count, (1.0, 3), (1.0, None))
    assert out == pytest.approx(3.0) and dot == pytest.approx(3.0)


def test_jvp_tangent_of_wrong_shape():
    with pytest.raises(ad.AdError):
        ad.jvp(vector_out, (np.ones(3),), (np.ones(4),))


def test_vjp_cotangent_structure():
    _, f_vjp = ad.vjp(tuple_out, 1.0, 2.0)
    with pytest.raises(ad.AdError):
        f_vjp(1.0)


def test_lgamma_is_not_silently_zero():
    h = 1e-6
    fd = (uses_lgamma(2.5 + h) - uses_lgamma(2.5 - h)) / (2 * h)
    try:
        g = ad.grad(uses_lgamma)(2.5)
    except ad.NonDifferentiable as e:
        assert e.hint
        return
    assert g == pytest.approx(fd, rel=1e-6)
