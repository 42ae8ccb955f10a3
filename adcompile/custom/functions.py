"""User-defined derivative rules: `custom_jvp` and `custom_vjp` (JAX-style).

    @adcompile.custom_jvp
    def softclip(x): ...
    @softclip.defjvp
    def softclip_jvp(primals, tangents): return out, out_dot

    @adcompile.custom_vjp
    def f(x, y): ...
    def f_fwd(x, y): return out, (res1, res2)
    def f_bwd(res, g): return (x_bar, y_bar)
    f.defvjp(f_fwd, f_bwd)

The frontend turns a call into a `custom` op whose region is the primal body and whose `rule`
attribute names the entry in `REGISTRY` (ids are per process: custom ops are inlined before
any backend, so no compiled artifact depends on them). Rules are plain functions in the supported subset:
they are lowered by the frontend (through a small generated wrapper that fixes the calling
convention) and inlined into the derivative IR, so every backend runs them.
- forward mode uses the JVP rule of a `custom_jvp` function;
- reverse mode uses the fwd/bwd pair of a `custom_vjp` function, and for a `custom_jvp`
  function it transposes the JVP rule with reverse mode (the rule is linear in the tangents);
- a `custom_vjp` function under forward mode is differentiated through its primal body.
"""
from __future__ import annotations

import functools
import itertools

from ..errors import AdError

REGISTRY: dict[int, "CustomFunction"] = {}
_ids = itertools.count(1)


class CustomFunction:
    kind = "custom"
    lanes_rule = False   # its JVP rule also takes lane tangents (vector forward mode)

    def __init__(self, fun):
        self.fun = fun
        self.id = next(_ids)
        self.jvp_rule = None
        self.fwd = None
        self.bwd = None
        REGISTRY[self.id] = self
        functools.update_wrapper(self, fun)

    def __call__(self, *args):
        return self.fun(*args)

    def rule_for(self, kind: str, arg_types: list):
        """The rule of `kind` ('jvp', 'fwd', 'bwd') for a call with these IR argument types
        (the rule's own flat arguments). User rules are one function for every type;
        generated rules (implicit roots) are made per type."""
        return {"jvp": self.jvp_rule, "fwd": self.fwd, "bwd": self.bwd}[kind]

    def residual_sources(self, nargs: int, nouts: int) -> list[tuple[str, int]] | None:
        """What each residual of the fwd rule is, as ('out', k) or ('arg', k), when known:
        forward mode over reverse mode then takes their tangents from those values. None:
        a user's residuals are opaque."""
        return None

    def require_rules(self, loc=None) -> None:
        """A function declared with custom rules is never silently differentiated as written:
        differentiating it before its rules are defined is an error."""
        if self.kind == "custom_jvp" and self.jvp_rule is None:
            raise AdError(f"'{self.__name__}' is a custom_jvp function without a jvp rule", loc,
                          f"define it with @{self.__name__}.defjvp before differentiating")
        if self.kind == "custom_vjp" and (self.fwd is None or self.bwd is None):
            raise AdError(f"'{self.__name__}' is a custom_vjp function without fwd/bwd rules",
                          loc, f"call {self.__name__}.defvjp(fwd, bwd) before differentiating")


class custom_jvp(CustomFunction):
    """A function with a user JVP rule: decorate `f`, then `@f.defjvp` a rule
    `rule(primals, tangents) -> (out, out_dot)` in the supported subset. Forward mode calls
    the rule; reverse mode transposes it (it must be linear in the tangents)."""

    kind = "custom_jvp"

    def defjvp(self, rule):
        """Register `rule(primals, tangents) -> (out, out_dot)`; returns it (a decorator)."""
        self.jvp_rule = rule
        return rule


class custom_vjp(CustomFunction):
    """A function with a user reverse rule: decorate `f`, then `f.defvjp(fwd, bwd)` with
    `fwd(*args) -> (out, residuals)` and `bwd(residuals, out_bar) -> (arg_bar, ...)`, both
    in the supported subset. Forward mode differentiates the primal body instead."""

    kind = "custom_vjp"

    def defvjp(self, fwd, bwd):
        """Register the fwd/bwd pair; returns the function."""
        self.fwd, self.bwd = fwd, bwd
        return self
