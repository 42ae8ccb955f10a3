"""Functions defined inside compiled code: nested `def`s and lambdas, with their closures.

A local function is not compiled on its own: like a module-level helper it is inlined where it
is called (`calls.inline_call`). What it adds is Python's scoping. The names it reads that the
enclosing function binds (its *captures*, found from the source as CPython's symbol table
does: a name assigned anywhere in a function is local to it throughout) are read when it is
called, not when it is defined (late binding): at each call they are bound in the inlined
body to the enclosing function's current values, arrays with their object identity, so a
write into a captured array is a write into the enclosing function's array, and derivatives
flow through captured values like through arguments. Default arguments are evaluated once,
where the function is defined, as in Python.

A local function may be called where it is defined, from another local function of that
scope (`step` calling `rhs`), and from a helper it is passed to (`rk4(rhs, y, dt)`). Where
the caller is not the defining function, the values of the defining function's variables
travel with the call as hidden bindings (`free.<scope>.<name>`): each inlined call passes the
caller's hidden bindings on, and adds those of the local functions the caller defined, so
the innermost call sees the newest version of every captured array (a write made by the
helper it was passed to included).

What is refused (UnsupportedSyntax at the user's line): decorators, `*args`/keyword-only
arguments, array-valued default arguments, recursion, returning a local function or storing
it in a tuple, using it after the loop that defines it, and `nonlocal`/`global` (as
everywhere in compiled code).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import gast

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType
from . import aliasing, unbound
from .env import LocalFunction, Poison
from .source import as_function_def

FREE = "free."


# -- scopes from the source ---------------------------------------------------------------------
def _scope_nodes(nodes: list):
    """The nodes of one function's own scope: not the bodies of the functions defined in it
    (their defaults and decorators are evaluated in this scope, so they are included)."""
    stack = list(nodes)
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda)):
            a = n.args
            stack.extend(a.defaults)
            stack.extend(d for d in a.kw_defaults if d is not None)
            stack.extend(getattr(n, "decorator_list", []))
            continue
        stack.extend(gast.iter_child_nodes(n))


def _body(fnode) -> list:
    return fnode.body if isinstance(fnode.body, list) else [fnode.body]


def bound_names(fnode) -> frozenset[str]:
    """The names local to a function: its parameters and every name it binds."""
    a = fnode.args
    out = {x.id for x in a.posonlyargs + a.args + a.kwonlyargs}
    out |= {x.id for x in (a.vararg, a.kwarg) if x is not None}
    for n in _scope_nodes(_body(fnode)):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
            out.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            out.add(n.name)
    return frozenset(out)


def free_names(fnode) -> frozenset[str]:
    """The names a function reads that it does not bind (those of the functions defined
    inside it included: CPython passes them through the enclosing closures)."""
    bound = bound_names(fnode)
    loads: set[str] = set()
    for n in _scope_nodes(_body(fnode)):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
            loads.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.Lambda)):
            loads |= free_names(n)
    return frozenset(loads - bound)


def scope_names(lw) -> frozenset[str]:
    """The names a function body being lowered binds or captures (its local functions'
    captures are among these)."""
    if lw.closure is not None:
        return lw.closure.bound | frozenset(lw.closure.captures)
    code = lw.src.func.__code__
    return frozenset(code.co_varnames) | frozenset(code.co_cellvars)


# -- definitions --------------------------------------------------------------------------------
def define_def(lw, s: gast.FunctionDef) -> None:
    """`def name(...): ...` inside compiled code: bind the name to a local function."""
    if s.decorator_list:
        raise lw.error(s.decorator_list[0], f"a decorator on the local function '{s.name}' "
                       "is not supported", "call the decorated function's logic directly, "
                       "or define the function at module level")
    fn = _define(lw, s, s.name)
    unbound.assigned(lw, s.name)
    lw.env.bind(s.name, fn)


def define_lambda(lw, node: gast.Lambda) -> LocalFunction:
    return _define(lw, as_function_def(node), "<lambda>")


def _define(lw, fnode, name: str) -> LocalFunction:
    lw._check_signature(fnode)
    defaults = []
    for d in fnode.args.defaults:
        v = lw.lower_expr(d)
        if isinstance(v, Value) and isinstance(v.type, ArrayType) or isinstance(
                v, LocalFunction) or _has_array(v):
            raise lw.error(d, f"a default argument of the local function '{name}' must be a "
                           "number (or a tuple of numbers)", "pass arrays and functions "
                           "as arguments at the call", TypeInferenceError)
        defaults.append(v)
    captures = tuple(sorted(free_names(fnode) & scope_names(lw)))
    return LocalFunction(name, fnode, dataclasses.replace(lw.src, node=fnode), lw.sid,
                         bound_names(fnode), captures, tuple(defaults), lw.src.loc(fnode))


def _has_array(v) -> bool:
    return isinstance(v, tuple) and any(
        (isinstance(x, Value) and isinstance(x.type, ArrayType)) or _has_array(x) or
        isinstance(x, LocalFunction) for x in v)


# -- calls --------------------------------------------------------------------------------------
def enter(lw, child, callee, args: dict[str, Any], entry: dict[int, Value], node) -> None:
    """Before an inlined body (`child`, called from `lw`) is lowered: bind the callee's
    captures (if it is a local function) and the hidden bindings the local functions it can
    reach will need. Captured arrays join `entry`, so writes to them flow back to `lw`."""
    for n, v in list(lw.env.vars.items()):   # what lw itself was handed: passed on
        if n.startswith(FREE):
            _bind(lw, child, n, n, entry)
    reach = [v for v in list(lw.env.vars.values()) + list(args.values())
             if isinstance(v, LocalFunction) and v.scope == lw.sid]
    if isinstance(callee, LocalFunction) and callee.scope == lw.sid:
        reach.append(callee)
    for g in reach:
        for n in g.captures:
            hidden = f"{FREE}{lw.sid}.{n}"
            if hidden not in child.env.vars:
                _bind(lw, child, n, hidden, entry, missing_ok=True)
    if isinstance(callee, LocalFunction):
        for n in callee.captures:
            src = n if callee.scope == lw.sid else f"{FREE}{callee.scope}.{n}"
            if src not in lw.env.vars:
                child.env.vars[n] = Poison(
                    f"cannot access free variable '{n}' where it is not associated with a "
                    f"value in enclosing scope (the local function '{callee.name}' reads it, "
                    "and it is not assigned before this call)", lw.src.loc(node),
                    f"assign '{n}' before calling '{callee.name}'")
                continue
            _bind(lw, child, src, n, entry)


def _bind(lw, child, src: str, dst: str, entry: dict[int, Value], missing_ok: bool = False
          ) -> None:
    """Bind `dst` in the child to what `src` holds in `lw` (arrays: the same object)."""
    if src not in lw.env.vars:
        return
    v = lw.env.vars[src]
    if isinstance(v, aliasing.Stale):
        v = aliasing.materialize(lw, v.key)
    flag = lw.env.vars.get(unbound.flag_name(src))
    if flag is not None and lw.known(flag) is not True:
        child.env.bind(unbound.flag_name(dst), flag)   # read-checked where the body reads it
    if isinstance(v, Value):
        if isinstance(v.type, ArrayType):
            key = lw.env.keys.get(src) or aliasing.ensure_key(lw.env, v)
            child.env.bind(dst, v, key=key)
            entry.setdefault(key, v)
        else:
            child.env.bind(dst, v)
        return
    child.env.vars[dst] = v
    for leaf in _leaves(v):   # arrays in a captured tuple are the enclosing function's too
        key = aliasing.ensure_key(lw.env, leaf)
        if key not in entry:
            entry[key] = leaf
            child.env.bind(f"arg.{key}", leaf, key=key)


def _leaves(v) -> list[Value]:
    if isinstance(v, tuple):
        return [leaf for x in v for leaf in _leaves(x)]
    return [v] if isinstance(v, Value) and isinstance(v.type, ArrayType) else []


def check_escape(lw, value, node, what: str) -> None:
    """A local function leaves compiled code or its scope only by being called."""
    for v in (value if isinstance(value, tuple) else (value,)):
        if isinstance(v, tuple):
            check_escape(lw, v, node, what)
        elif isinstance(v, LocalFunction):
            raise lw.error(node, f"the local function '{v.name}' cannot be {what}",
                           "call it where it is defined, or pass it to a helper as an "
                           "argument; a function cannot be a value of compiled code",
                           UnsupportedSyntax)


def after_loop(before_env, end_env, loc) -> None:
    """A local function defined in a loop body (also one rebinding a name that held another
    before the loop) is not usable after the loop."""
    for n, v in end_env.vars.items():
        if isinstance(v, LocalFunction) and before_env.vars.get(n) is not v:
            line = f" (line {v.where.line})" if v.where is not None else ""
            before_env.vars[n] = Poison(
                f"the local function '{n}' is defined inside a loop{line} and cannot be used "
                "after it", None, "define it before the loop")


__all__ = ["FREE", "after_loop", "bound_names", "check_escape", "define_def", "define_lambda",
           "enter", "free_names"]
