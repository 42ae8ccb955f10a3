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
attribute names the entry in `REGISTRY`. Rules are plain functions in the supported subset:
they are lowered by the frontend (through a small generated wrapper that fixes the calling
convention) and inlined into the derivative IR, so every backend runs them.
- forward mode uses the JVP rule of a `custom_jvp` function;
- reverse mode uses the fwd/bwd pair of a `custom_vjp` function, and for a `custom_jvp`
  function it transposes the JVP rule with reverse mode (the rule is linear in the tangents);
- a `custom_vjp` function under forward mode is differentiated through its primal body.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import sys

from ..errors import AdError

REGISTRY: dict[int, "CustomFunction"] = {}
_ids = itertools.count(1)


class CustomFunction:
    kind = "custom"

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


class custom_jvp(CustomFunction):
    kind = "custom_jvp"

    def defjvp(self, rule):
        self.jvp_rule = rule
        return rule


class custom_vjp(CustomFunction):
    kind = "custom_vjp"

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self


# -- wrappers that fix the calling convention of the rules --------------------------------
def _wrapper(kind: str, rule, nargs: int, nouts: int, nres: int = 0):
    """A real module defining `_w`, which calls `rule` with flat arguments."""
    p = [f"p{i}" for i in range(nargs)]
    t = [f"t{i}" for i in range(nargs)]
    r = [f"r{i}" for i in range(nres)]
    g = [f"g{i}" for i in range(nouts)]

    def tup(xs):
        return "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"
    if kind == "jvp":
        src = f"def _w({', '.join(p + t)}):\n    return rule({tup(p)}, {tup(t)})\n"
    elif kind == "fwd":
        src = f"def _w({', '.join(p)}):\n    return rule({', '.join(p)})\n"
    else:  # bwd
        gs = g[0] if nouts == 1 else tup(g)
        src = f"def _w({', '.join(r + g)}):\n    return rule({tup(r)}, {gs})\n"
    from ..backends.numba_backend import cache_dir
    key = hashlib.sha256(src.encode()).hexdigest()[:16]
    path = cache_dir().parent / "rules" / f"w_{key}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(src)
    modname = f"adcompile_rule_{key}_{id(rule)}"
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.rule = rule
    sys.modules[modname] = mod
    return mod._w


def rule_ir(cf: CustomFunction, kind: str, arg_types: list, nouts: int, nres: int = 0):
    """The IR of a rule wrapper for these argument types (returns flattened)."""
    from ..frontend.lower import lower
    rule = {"jvp": cf.jvp_rule, "fwd": cf.fwd, "bwd": cf.bwd}[kind]
    if rule is None:
        raise AdError(f"'{cf.__name__}' has no {kind} rule", None,
                      "define it with defjvp/defvjp before differentiating")
    nargs = len(arg_types) // 2 if kind == "jvp" else len(arg_types)
    w = _wrapper(kind, rule, nargs if kind != "bwd" else 0, nouts, nres)
    return lower(w, list(arg_types), [False] * len(arg_types), flatten_returns=True)
