"""Derivative rules for elementwise primitives: one small function per primitive.

`PARTIALS[prim](e, xs, y)` returns the partial derivative of the result w.r.t. each operand, as
values of the primal's (broadcast) shape, or None for a structurally zero partial. Both forward
mode (tangent = sum of partial * operand tangent) and reverse mode (operand adjoint += partial *
result adjoint) are built from this one table, so one wrong entry breaks both and is caught.

`e` is an `Emitter`: `e(prim, *operands, **attrs)` appends an op and returns its result, and
`e.c(value, like)` is a constant of `like`'s dtype.

Edge points follow one convention in both modes, listed in docs/derivatives.md and checked by
tests/ad/test_edge_points.py:
- divisions in rules are IEEE (`fdiv`): sqrt'(0), log'(0), asin'(+-1), atanh'(+-1) are +-inf
  on every backend, never a ZeroDivisionError;
- `abs`, `sign`: d|x|/dx = sign(x), so 0 at 0; `hypot`'s partials are 0 at (0, 0);
- `minimum`/`maximum`: the operand the value comes from gets the whole derivative: the first
  one at a tie, a NaN operand (the NaN propagates);
- `pow`/`powi`: d(x**n)/dx = n*x**(n-1), exactly 0 for n == 0 (integer n: everywhere, also
  at x = 0, inf, nan; float n: at x = 0 too); d(x**y)/dy is 0 at x == 0 (as JAX: 0**y is
  constant for y > 0);
- `floor`, `ceil`, `trunc`, `sign`, `floordiv`: zero derivative (piecewise constant).
"""
from __future__ import annotations

import math
from typing import Callable

from ...ir.core import Value

Partials = Callable[..., list]

PARTIALS: dict[str, Partials] = {}
# piecewise-constant primitives: derivative zero wherever it exists
ZERO_DERIVATIVE = {"floor", "ceil", "trunc", "sign", "floordiv"}
# primitives with non-float results or no derivative at all: never active
NON_DIFFERENTIABLE = {"lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not", "isnan", "isinf",
                      "isfinite", "bitor", "reduce_or", "const", "undef", "dim", "size", "zeros", "ones", "empty",
                      "arange"}
# differentiable in principle but without a rule here: an error if a derivative flows through
NO_RULE = {"lgamma"}


def fdiv(e, a, b) -> Value:
    """a / b in IEEE arithmetic (inf at b = 0) on every backend: see the `ieee` attribute."""
    return e("div", a, b, ieee=True)


def rule(*names: str):
    def deco(fn: Partials) -> Partials:
        for n in names:
            PARTIALS[n] = fn
        return fn
    return deco


@rule("neg")
def _neg(e, xs, y):
    return [e.c(-1.0, y)]


@rule("abs")
def _abs(e, xs, y):
    return [e("sign", xs[0])]


@rule("square")
def _square(e, xs, y):
    return [e("mul", e.c(2.0, y), xs[0])]


@rule("exp")
def _exp(e, xs, y):
    return [y]


@rule("expm1")
def _expm1(e, xs, y):
    return [e("add", y, e.c(1.0, y))]


@rule("log")
def _log(e, xs, y):
    return [fdiv(e, e.c(1.0, y), xs[0])]


@rule("log1p")
def _log1p(e, xs, y):
    return [fdiv(e, e.c(1.0, y), e("add", e.c(1.0, y), xs[0]))]


@rule("log10")
def _log10(e, xs, y):
    return [fdiv(e, e.c(1.0 / math.log(10.0), y), xs[0])]


@rule("log2")
def _log2(e, xs, y):
    return [fdiv(e, e.c(1.0 / math.log(2.0), y), xs[0])]


@rule("sqrt")
def _sqrt(e, xs, y):
    return [fdiv(e, e.c(0.5, y), y)]


@rule("sin")
def _sin(e, xs, y):
    return [e("cos", xs[0])]


@rule("cos")
def _cos(e, xs, y):
    return [e("neg", e("sin", xs[0]))]


@rule("tan")
def _tan(e, xs, y):
    return [e("add", e.c(1.0, y), e("mul", y, y))]


@rule("tanh")
def _tanh(e, xs, y):
    return [e("sub", e.c(1.0, y), e("mul", y, y))]


@rule("sinh")
def _sinh(e, xs, y):
    return [e("cosh", xs[0])]


@rule("cosh")
def _cosh(e, xs, y):
    return [e("sinh", xs[0])]


def _rsqrt_of(e, v, like):
    return fdiv(e, e.c(1.0, like), e("sqrt", v))


@rule("asin")
def _asin(e, xs, y):
    x = xs[0]
    return [_rsqrt_of(e, e("sub", e.c(1.0, y), e("mul", x, x)), y)]


@rule("acos")
def _acos(e, xs, y):
    x = xs[0]
    return [e("neg", _rsqrt_of(e, e("sub", e.c(1.0, y), e("mul", x, x)), y))]


@rule("atan")
def _atan(e, xs, y):
    x = xs[0]
    return [fdiv(e, e.c(1.0, y), e("add", e.c(1.0, y), e("mul", x, x)))]


@rule("asinh")
def _asinh(e, xs, y):
    x = xs[0]
    return [_rsqrt_of(e, e("add", e("mul", x, x), e.c(1.0, y)), y)]


@rule("acosh")
def _acosh(e, xs, y):
    x = xs[0]
    return [_rsqrt_of(e, e("sub", e("mul", x, x), e.c(1.0, y)), y)]


@rule("atanh")
def _atanh(e, xs, y):
    x = xs[0]
    return [fdiv(e, e.c(1.0, y), e("sub", e.c(1.0, y), e("mul", x, x)))]


@rule("erf")
def _erf(e, xs, y):
    x = xs[0]
    return [e("mul", e.c(2.0 / math.sqrt(math.pi), y), e("exp", e("neg", e("mul", x, x))))]


@rule("erfc")
def _erfc(e, xs, y):
    x = xs[0]
    return [e("mul", e.c(-2.0 / math.sqrt(math.pi), y), e("exp", e("neg", e("mul", x, x))))]


@rule("add")
def _add(e, xs, y):
    return [e.c(1.0, y), e.c(1.0, y)]


@rule("sub")
def _sub(e, xs, y):
    return [e.c(1.0, y), e.c(-1.0, y)]


@rule("mul")
def _mul(e, xs, y):
    return [xs[1], xs[0]]


@rule("div")
def _div(e, xs, y):
    a, b = xs
    return [fdiv(e, e.c(1.0, y), b), e("neg", fdiv(e, y, b))]


@rule("mod")
def _mod(e, xs, y):
    a, b = xs
    return [e.c(1.0, y), e("neg", e("floor", fdiv(e, a, b)))]


def _power_partial(e, prim: str, x, n, n_float, exact0):
    """n * x**(n - 1), exactly 0 for n == 0 where `exact0`: the exponent is then 0 instead
    of -1, so no 0 * inf (x = 0) and no ZeroDivisionError (numba's 0.0 ** -1)."""
    m = e("select", exact0, n, e("sub", n, e.c(1, n)))
    return e("mul", n_float, e(prim, x, m))


@rule("pow")
def _pow(e, xs, y):
    a, b = xs
    # only at a == 0: elsewhere b * a**(b - 1) is already 0 for b == 0, and keeping the
    # exponent b - 1 keeps the second derivative in b (hessian, HVP) exact there
    da = lambda: _power_partial(e, "pow", a, b, b, e("and", e("eq", b, e.c(0.0, b)),  # noqa: E731
                                                     e("eq", a, e.c(0.0, a))))
    # d(a**b)/db = a**b * log(a), 0 at a == 0 (0**b is constant for b > 0), as JAX
    db = lambda: e("mul", y, e("log", e("select", e("eq", a, e.c(0.0, y)),  # noqa: E731
                                        e.c(1.0, y), a)))
    return [da, db]


@rule("powi")
def _powi(e, xs, y):
    x, n = xs
    dt = y.type.dtype.name if hasattr(y.type, "dtype") else y.type.name
    # the exponent is an integer, never active: 0 for n == 0 everywhere (also x = inf, nan)
    return [_power_partial(e, "powi", x, n, e("cast", n, to=dt), e("eq", n, e.c(0, n))), None]


def _first_wins(compare: str) -> Partials:
    """minimum/maximum: the operand the value comes from gets derivative 1: the first one at
    a tie, and a NaN operand (NaN propagates; the first one if both are NaN)."""
    def partials_(e, xs, y):
        first = e("or", e(compare, xs[0], xs[1]), e("isnan", xs[0]))
        return [e("select", first, e.c(1.0, y), e.c(0.0, y)),
                e("select", first, e.c(0.0, y), e.c(1.0, y))]
    return partials_


PARTIALS["minimum"] = _first_wins("le")
PARTIALS["maximum"] = _first_wins("ge")


@rule("atan2")
def _atan2(e, xs, y):
    a, b = xs   # atan2(a, b)
    r2 = e("add", e("mul", a, a), e("mul", b, b))
    return [fdiv(e, b, r2), e("neg", fdiv(e, a, r2))]   # nan at (0, 0), as JAX


@rule("hypot")
def _hypot(e, xs, y):
    a, b = xs
    # a / hypot(a, b), with 0 at (0, 0): the subgradient that abs'(0) = 0 also picks
    at0 = e("eq", y, e.c(0.0, y))
    return [e("select", at0, e.c(0.0, y), fdiv(e, a, y)),
            e("select", at0, e.c(0.0, y), fdiv(e, b, y))]


def partials(e, prim: str, xs: list[Value], y: Value, need: list[bool]) -> list:
    """Partials of `prim` for the operands flagged in `need` (others None)."""
    out = PARTIALS[prim](e, xs, y)
    return [(p() if callable(p) and not isinstance(p, Value) else p) if n else None
            for p, n in zip(out, need)]
