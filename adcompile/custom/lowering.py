"""Rules as IR: each rule is called through a small generated wrapper with a flat calling
convention (the frontend compiles flat float/array arguments), lowered by the frontend and
inlined by the derivative transforms.

The wrapper's source lives in memory (registered with `linecache`, which is where `inspect`
finds it), so nothing is written to disk.
"""
from __future__ import annotations

import hashlib
import linecache

from ..errors import AdError
from ..frontend.lower import lower
from .functions import CustomFunction

_WRAPPERS: dict[tuple, object] = {}


def _wrapper_source(kind: str, nargs: int, nouts: int, nres: int) -> str:
    p = [f"p{i}" for i in range(nargs)]
    t = [f"t{i}" for i in range(nargs)]
    r = [f"r{i}" for i in range(nres)]
    g = [f"g{i}" for i in range(nouts)]

    def tup(xs):
        return "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"
    if kind == "jvp":
        return f"def _w({', '.join(p + t)}):\n    return rule({tup(p)}, {tup(t)})\n"
    if kind == "fwd":
        return f"def _w({', '.join(p)}):\n    return rule({', '.join(p)})\n"
    gs = g[0] if nouts == 1 else tup(g)
    return f"def _w({', '.join(r + g)}):\n    return rule({tup(r)}, {gs})\n"


def _wrapper(kind: str, rule, nargs: int, nouts: int, nres: int = 0):
    """A function `_w` that calls `rule` with flat arguments, its source readable by
    `inspect` under a name that says what it is."""
    key = (kind, rule, nargs, nouts, nres)
    hit = _WRAPPERS.get(key)
    if hit is not None:
        return hit
    src = _wrapper_source(kind, nargs, nouts, nres)
    digest = hashlib.sha256(src.encode()).hexdigest()[:12]
    filename = f"<adcompile {kind} wrapper of {getattr(rule, '__qualname__', 'rule')} {digest}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(keepends=True), filename)
    namespace = {"rule": rule}
    exec(compile(src, filename, "exec"), namespace)
    _WRAPPERS[key] = namespace["_w"]
    return namespace["_w"]


def rule_ir(cf: CustomFunction, kind: str, arg_types: list, nouts: int, nres: int = 0):
    """The IR of a rule wrapper for these argument types (returns flattened)."""
    rule = {"jvp": cf.jvp_rule, "fwd": cf.fwd, "bwd": cf.bwd}[kind]
    if rule is None:
        raise AdError(f"'{cf.__name__}' has no {kind} rule", None,
                      "define it with defjvp/defvjp before differentiating")
    nargs = len(arg_types) // 2 if kind == "jvp" else len(arg_types)
    w = _wrapper(kind, rule, nargs if kind != "bwd" else 0, nouts, nres)
    return lower(w, list(arg_types), [False] * len(arg_types), flatten_returns=True)
