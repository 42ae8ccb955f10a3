"""Names that may be unbound at run time, as in CPython's `UnboundLocalError`.

A name first assigned inside a loop body (the loop may run zero times) or on one branch of an
`if` is bound to a value that is undefined on some paths. Next to such a name the `Env` holds a
boolean *bound flag* (`bound.<name>`, not a Python identifier, so it cannot clash): false where
the name was never assigned, set to a true constant by every assignment, merged through
branches and carried through loops like any variable. The first read of the name emits one
`check` of the flag (kind `unbound`); afterwards the flag is known true, so later reads and the
normal path cost nothing. Flags of names that are never read after their loop are removed by
dead-code elimination with their loop slot.
"""
from __future__ import annotations

from ..ir.core import Value
from ..ir.types import BOOL
from .env import Env, Poison

PREFIX = "bound."


def flag_name(name: str) -> str:
    """The env key of `name`'s bound flag."""
    return PREFIX + name


def is_flag(name: str) -> bool:
    return name.startswith(PREFIX)


def hint(name: str) -> str:
    """The identifier generated code uses for a flag."""
    return name[len(PREFIX):].rsplit(".", 1)[-1] + "_bound"   # (free.<scope>.x: x_bound)


def track(lowerer, names: set[str], exclude: set[str]) -> None:
    """Before a loop: the user names its body assigns that hold no value yet get a false flag
    (the body may run zero times)."""
    env = lowerer.env
    for n in sorted(names - exclude):
        if "." in n or (n in env.vars and not isinstance(env.vars[n], Poison)):
            continue
        env.bind(flag_name(n), lowerer.const(False, BOOL, name=hint(flag_name(n))))


def assigned(lowerer, name: str) -> None:
    """`name` was just bound: its flag, if any, is now known true."""
    f = flag_name(name)
    if f in lowerer.env.vars and lowerer.known(lowerer.env.vars[f]) is not True:
        lowerer.env.bind(f, lowerer.const(True, BOOL, name=hint(f)))


def check_read(lowerer, name: str, node) -> None:
    """A read of `name`: stop with UnboundLocalError where its flag is false."""
    f = flag_name(name)
    flag = lowerer.env.vars.get(f)
    if flag is None or lowerer.known(flag) is True:
        return
    loc = lowerer.src.loc(node)
    closure = getattr(lowerer, "closure", None)
    what = ("free variable" if closure is not None and name in closure.captures else
            "local variable")   # (a local function's capture: CPython's words for it)
    msg = (f"cannot access {what} '{name}' where it is not associated with a value "
           f"(read at {loc.filename}:{loc.line}; it is assigned only in a loop that ran zero "
           "times or in a branch that was not taken)")
    saved = lowerer.loc
    lowerer.loc = loc
    lowerer.emit("check", [flag], {"message": msg, "kind": "unbound"}, types=[])
    lowerer.loc = saved
    lowerer.env.bind(f, lowerer.const(True, BOOL, name=hint(f)))


def complete_flags(lowerer, names: list[str], before: Env, envs: list[Env], dead) -> None:
    """Before the two branch envs of an `if` are merged: a user name assigned on one branch
    only gets a flag, and every flag gets a value on both branches (true where the branch
    binds the name, false where it does not). `dead(env)`: that branch has surely left."""
    for n in list(names):
        if "." in n or n in before.vars:
            continue
        has = [isinstance(e.vars.get(n), Value) for e in envs]
        if has[0] != has[1] and not dead(envs[has.index(False)]) and flag_name(n) not in names:
            names.append(flag_name(n))
    for f in names:
        if not is_flag(f) or f in before.vars:
            continue
        n = f[len(PREFIX):]
        for e in envs:
            if f not in e.vars:
                e.bind(f, lowerer.const(isinstance(e.vars.get(n), Value), BOOL, name=hint(f)))
