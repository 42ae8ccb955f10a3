"""Rules as IR: each rule is called through a small generated wrapper with a flat calling
convention (the frontend compiles flat float/array arguments), lowered by the frontend and
inlined by the derivative transforms.

The wrapper's source lives in memory (registered with `linecache`, which is where `inspect`
finds it), so nothing is written to disk.
"""
from __future__ import annotations

import hashlib
import linecache
import types

from ..errors import AdError, Loc, TypeInferenceError
from ..frontend.lower import lower
from ..frontend.source import get_source
from ..ir.builder import Builder
from ..ir.types import ArrayType
from .functions import CustomFunction

# what each rule is called with, for the arity check and its hint
_SIGNATURES = {"jvp": "(primals, tangents) -> (out, out_dot)",
               "fwd": "(*args) -> (out, residuals)",
               "bwd": "(residuals, g) -> (x_bar, ...)"}

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


def rule_ir(cf: CustomFunction, kind: str, arg_types: list, nouts: int, nres: int = 0,
            expect: list | None = None):
    """The IR of a rule wrapper for these argument types (returns flattened). `expect`: the
    types the rule's derivative outputs must fit (jvp: the outputs' tangents; bwd: the
    arguments), checked here so a mistake names the user's rule, not the generated wrapper."""
    rule = cf.rule_for(kind, list(arg_types))
    if rule is None:
        raise AdError(f"'{cf.__name__}' has no {kind} rule", None,
                      "define it with defjvp/defvjp before differentiating")
    nargs = len(arg_types) // 2 if kind == "jvp" else len(arg_types)
    _check_params(cf, kind, rule, nargs)
    w = _wrapper(kind, rule, nargs if kind != "bwd" else 0, nouts, nres)
    fn = lower(w, list(arg_types), [False] * len(arg_types), flatten_returns=True)
    if expect is not None:
        _check_results(cf, kind, rule, fn.result_types, nouts, expect)
    return fn


def source_loc(rule) -> Loc | None:
    """Where a Python function is defined (None for one without readable source)."""
    try:
        src = get_source(rule)
        return src.loc(src.node)
    except AdError:
        return None


def _rule_name(cf: CustomFunction, kind: str, rule) -> str:
    return f"the {kind} rule '{getattr(rule, '__name__', kind)}' of '{cf.__name__}'"


def _check_params(cf: CustomFunction, kind: str, rule, nargs: int) -> None:
    if not isinstance(rule, types.FunctionType):
        raise AdError(f"{_rule_name(cf, kind, rule)} is a {type(rule).__name__}, not a "
                      "function", None, f"define it with def: {_SIGNATURES[kind]}")
    code = rule.__code__
    if code.co_flags & 0x0C:   # *args/**kwargs: the frontend says it is unsupported
        return
    want = nargs if kind == "fwd" else 2
    have = code.co_argcount
    ndef = len(rule.__defaults__ or ())
    if not have - ndef <= want <= have:
        raise TypeInferenceError(
            f"{_rule_name(cf, kind, rule)} takes {have} parameter{'s' * (have != 1)}, but "
            f"adcompile calls it with {want}", source_loc(rule),
            f"a {kind} rule is called as {_SIGNATURES[kind]}")


def _describe(t) -> str:
    return f"a {t.ndim}-d array" if isinstance(t, ArrayType) else "a scalar"


def _ndim(t) -> int:
    return t.ndim if isinstance(t, ArrayType) else 0


def _check_results(cf: CustomFunction, kind: str, rule, got: list, nouts: int,
                   expect: list) -> None:
    """A derivative output of the wrong rank is not summed or broadcast into a different
    answer: it is an error at the rule (a scalar for an array is broadcast, as in NumPy)."""
    loc = source_loc(rule)
    what = _rule_name(cf, kind, rule)
    if kind == "jvp":
        if len(got) != 2 * nouts:
            raise TypeInferenceError(f"{what} returns {len(got)} values; it must return "
                                     f"(outputs, output tangents), {2 * nouts} in all", loc,
                                     "return out, out_dot (tuples for several outputs)")
        for i, (t, want) in enumerate(zip(got[nouts:], expect)):
            if _ndim(t) > _ndim(want):
                out = f"output {i}" if nouts > 1 else "the output"
                raise TypeInferenceError(f"{what} returns {_describe(t)} as the tangent of "
                                         f"{out}, which is {_describe(want)}", loc,
                                         "the tangent of an output has the output's shape")
        return
    names = list(cf.fun.__code__.co_varnames[:cf.fun.__code__.co_argcount])
    if len(got) != len(expect):
        raise TypeInferenceError(f"{what} returns {len(got)} cotangent"
                                 f"{'s' * (len(got) != 1)}; '{cf.__name__}' has {len(expect)} "
                                 f"argument{'s' * (len(expect) != 1)} ({', '.join(names)})",
                                 loc, "return a tuple with one cotangent per argument: "
                                 "(x_bar, y_bar, ...)")
    for name, t, want in zip(names, got, expect):
        if _ndim(t) != _ndim(want) and _ndim(t) != 0:
            raise TypeInferenceError(f"{what} returns {_describe(t)} as the cotangent of "
                                     f"argument '{name}', which is {_describe(want)}", loc,
                                     "the cotangent of an argument has the argument's shape")


def check_extents(b: Builder, got, like, cf: CustomFunction, kind: str, what: str,
                  of: str) -> None:
    """At run time: a rule's derivative output `got` has the extents of `like` (the output or
    argument it belongs to) on like's axes; the ranks were checked when the rule was lowered,
    so only a same-rank mismatch ((3,) for (4,)) is left, which would otherwise broadcast or
    be cut to a different answer."""
    if not (isinstance(got.type, ArrayType) and isinstance(like.type, ArrayType)):
        return
    rule = {"jvp": cf.jvp_rule, "bwd": cf.bwd}[kind]
    message = f"{_rule_name(cf, kind, rule)} returns {what} of another shape than {of}"
    for k in range(like.type.ndim):
        same = b("eq", b("dim", got, axis=k, name="n"), b("dim", like, axis=k, name="n"),
                 name="same")
        b.check(same, message)
