"""Python's object semantics for arrays, on top of SSA array values.

Every array object has an identity key (`Env.keys` for names, `Env.ident` for values). A write
makes a new version of one object and rebinds every name and tuple slot that reaches it, then:
- writes it back into the object it is a view of (basic indexing `Q[i]`, `Q[a:b]`, `Q[:, j]`,
  transposes; an element write through a row view is one store into the base), and marks the
  views of it `Stale`: they are re-read from the base where they are next used (loop bodies
  re-read the views made outside them), so a view and its base never disagree and a view
  nobody reads costs nothing;
- a name bound to different objects on the two sides of an `if` is a `ChoiceView` of both:
  writes through it land in whichever object it is at run time (an `if` op on the condition);
- where the aliasing depends on how often a loop ran, or a view made inside a branch or loop
  outlives it, the names involved become *may-alias* partners (`Env.may`): a write through one
  poisons the others, so reading them afterwards is a precise error, never a stale value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import TypeInferenceError
from ..ir.builder import Builder
from ..ir.core import Block, Value
from ..ir.types import I64
from .env import Env, Poison, fresh_key

Current = Callable[[int], "Value | None"]


@dataclass(frozen=True)
class IndexView:
    """`base[indices]` read by a getitem (a row) or a getslice."""

    base: int
    prim: str                      # "getitem" | "getslice"
    spec: str | None
    operands: tuple

    def bases(self) -> tuple[int, ...]:
        return (self.base,)

    def read(self, lw, base_key: int, base_new: Value, cur, name: str = "view") -> Value:
        attrs = {"spec": self.spec} if self.spec is not None else None
        return lw.emit(self.prim, [base_new, *self.operands], attrs, name=name)

    def write_back(self, lw, new: Value, current: Current) -> list[tuple[int, Value]]:
        base = current(self.base)
        if base is None:
            return []
        prim = "setitem" if self.prim == "getitem" else "setslice"
        attrs = {"spec": self.spec} if self.spec is not None else None
        return [(self.base, lw.emit(prim, [base, new, *self.operands], attrs, name=base.name))]


@dataclass(frozen=True)
class TransposeView:
    """`base.T` / `np.transpose(base)` of a 2-d array."""

    base: int

    def bases(self) -> tuple[int, ...]:
        return (self.base,)

    def read(self, lw, base_key: int, base_new: Value, cur, name: str = "view") -> Value:
        return lw.emit("transpose", [base_new], name=name)

    def write_back(self, lw, new: Value, current: Current) -> list[tuple[int, Value]]:
        return [(self.base, lw.emit("transpose", [new], name=new.name + "T"))]


@dataclass(frozen=True)
class NewAxisView:
    """breadth: `base[:, None]`: `base` with size-1 axes inserted at `axes` (result
    positions, ascending); written back by reading index 0 of those axes."""

    base: int
    axes: tuple[int, ...]

    def bases(self) -> tuple[int, ...]:
        return (self.base,)

    def read(self, lw, base_key: int, base_new: Value, cur, name: str = "view") -> Value:
        out = base_new
        for a in self.axes:
            out = lw.emit("expand", [out], {"axis": a}, name=name)
        return out

    def write_back(self, lw, new: Value, current: Current) -> list[tuple[int, Value]]:
        spec = ",".join("i" if k in self.axes else "s000" for k in range(max(self.axes) + 1))
        zeros = [lw.const(0, I64) for _ in self.axes]
        return [(self.base, lw.emit("getslice", [new, *zeros], {"spec": spec},
                                    name=new.name))]


@dataclass(frozen=True)
class MapView:
    """breadth: a view that is a function of its whole base (a reshape, a permutation of
    axes): `read(lw, base)` makes it, `back(lw, view)` turns it into the base's shape."""

    base: int
    prim: str
    forward: Callable
    back: Callable

    def bases(self) -> tuple[int, ...]:
        return (self.base,)

    def read(self, lw, base_key: int, base_new: Value, cur, name: str = "view") -> Value:
        return self.forward(lw, base_new)

    def write_back(self, lw, new: Value, current: Current) -> list[tuple[int, Value]]:
        return [(self.base, self.back(lw, new))]


@dataclass(frozen=True)
class ChoiceView:
    """A name that is object `then` where `cond` holds and object `other` where it does not
    (either may be None: an object nothing else reaches)."""

    cond: Value
    then: int | None
    other: int | None

    def bases(self) -> tuple[int, ...]:
        return tuple(k for k in (self.then, self.other) if k is not None)

    def read(self, lw, base_key: int, base_new: Value, cur, name: str = "view") -> Value:
        if base_key == self.then:
            return choose(lw, self.cond, base_new, cur)
        return choose(lw, self.cond, cur, base_new)

    def write_back(self, lw, new: Value, current: Current):
        # a generator: the second side is read after the first was written (one may be a
        # view of the other)
        for key, first in ((self.then, True), (self.other, False)):
            cur = current(key) if key is not None else None
            if cur is not None:
                yield (key, choose(lw, self.cond, new, cur) if first
                       else choose(lw, self.cond, cur, new))


def choose(lw, cond: Value, a: Value, b: Value) -> Value:
    """`a if cond else b` as an `if` op (no copy: each branch yields one version)."""
    if a is b:
        return a
    then, other = Block(), Block()
    Builder(then, lw.loc).op("yield", [a], [])
    Builder(other, lw.loc).op("yield", [b], [])
    return Builder(lw.block, lw.loc).op("if", [cond], [a.type], {}, [then, other],
                                        [a.name]).results[0]


# -- reaching objects --------------------------------------------------------------------------
def key_of(env: Env, value: Any) -> int | None:
    return env.ident.get(value.id) if isinstance(value, Value) else None


def ensure_key(env: Env, value: Value) -> int:
    """The object `value` is a version of, making it a new object if it has none yet."""
    for n, k in env.keys.items():
        if env.vars.get(n) is value:
            return k
    key = env.ident.get(value.id)
    if key is None:
        key = env.ident[value.id] = fresh_key()
    return key


@dataclass(frozen=True)
class Stale:
    """A name bound to view `key` after its base was written: the view is re-read from the
    base where the name is next used (`materialize`), so views nobody reads cost nothing."""

    key: int


def is_lazy(rec) -> bool:
    """Views that are a pure function of their base (re-readable at any time)."""
    return isinstance(rec, (IndexView, TransposeView, NewAxisView, MapView))


def reachable(env: Env, key: int) -> bool:
    """Can the current version of object `key` be found (or re-read) in `env`?"""
    if env.holders(key) or any(isinstance(v, tuple) and _in_tuple(env, v, key) is not None
                               for v in env.vars.values()):
        return True
    return False


def rereadable(env: Env, key: int) -> bool:
    """Is `key` a view whose base is reachable here (so it can be re-read lazily)?"""
    rec = env.views.get(key)
    return is_lazy(rec) and reachable(env, rec.base)


def materialize(lw, key: int) -> Value:
    """Re-read the stale view `key` from its base and rebind its names to the result."""
    env = lw.env
    rec = env.views.get(key)
    base = current(lw, rec.base) if rec is not None else None
    if base is None:
        raise TypeInferenceError("an array view is used after its base array stopped being "
                                 "reachable", lw.loc, "take a copy of the view: v = a[...].copy()")
    names = env.holders(key)
    v = rec.read(lw, rec.base, base, None, names[0] if names else "view")
    env.ident[v.id] = key
    for n in names:
        if isinstance(env.vars.get(n), Stale):
            env.vars[n] = v
    return v


def materialize_all(lw, keep: Callable[[str, int], bool] = lambda n, k: False) -> None:
    """Re-read every stale view name of the env (except those `keep` says stay lazy)."""
    env = lw.env
    for n, v in list(env.vars.items()):
        if isinstance(env.vars.get(n), Stale) and not keep(n, env.vars[n].key):
            materialize(lw, env.vars[n].key)


def current(lw, key: int) -> Value | None:
    """The current version of object `key`, from a name or a tuple slot that holds it."""
    env = lw.env
    stale = False
    for n, k in env.keys.items():
        v = env.vars.get(n)
        if k == key and isinstance(v, Value):
            return v
        stale = stale or (k == key and isinstance(v, Stale))
    if stale:
        return materialize(lw, key)
    for v in env.vars.values():
        if isinstance(v, tuple):
            found = _in_tuple(env, v, key)
            if found is not None:
                return found
    if rereadable(env, key):        # a temporary view (f(Q[i])): re-read from its base
        return materialize(lw, key)
    return None


def _in_tuple(env: Env, t: tuple, key: int) -> Value | None:
    for x in t:
        if isinstance(x, tuple):
            found = _in_tuple(env, x, key)
            if found is not None:
                return found
        elif isinstance(x, Value) and env.ident.get(x.id) == key:
            return x
    return None


def note_view(lw, base: Value, view: Value, prim: str, spec: str | None = None,
              operands: tuple = ()) -> Value:
    """Record that `view` (just emitted from `base`) is a view of it, as in NumPy."""
    env = lw.env
    bkey = ensure_key(env, base)
    if not env.holders(bkey) and current(lw, bkey) is None:
        env.vars[f"obj.{bkey}"] = base          # a temporary base (Q[0][1:]) stays reachable
        env.keys[f"obj.{bkey}"] = bkey
    vkey = ensure_key(env, view)
    env.views[vkey] = TransposeView(bkey) if prim == "transpose" else \
        IndexView(bkey, prim, spec, tuple(operands))
    return view


def note_newaxis_view(lw, base: Value, view: Value, axes: tuple[int, ...]) -> Value:
    """Record that `view` is `base` with size-1 axes at `axes` (x[:, None])."""
    env = lw.env
    bkey = ensure_key(env, base)
    if not env.holders(bkey) and current(lw, bkey) is None:
        env.vars[f"obj.{bkey}"] = base
        env.keys[f"obj.{bkey}"] = bkey
    env.views[ensure_key(env, view)] = NewAxisView(bkey, axes)
    return view


def note_map_view(lw, base: Value, view: Value, prim: str, forward: Callable,
                  back: Callable) -> Value:
    """Record that `view` = forward(base), written back as back(view) (see `MapView`)."""
    env = lw.env
    bkey = ensure_key(env, base)
    if not env.holders(bkey) and current(lw, bkey) is None:
        env.vars[f"obj.{bkey}"] = base
        env.keys[f"obj.{bkey}"] = bkey
    env.views[ensure_key(env, view)] = MapView(bkey, prim, forward, back)
    return view


# -- writes ------------------------------------------------------------------------------------
def write(lw, key: int, new: Value, loc, busy: frozenset = frozenset(), up: bool = True
          ) -> None:
    """Object `key` now holds `new`: rebind what reaches it, its base and its views. `busy`:
    the objects this write came through (not re-read from it: they hold the newest value)."""
    env = lw.env
    env.ident[new.id] = key
    _rebind(env, key, new)
    busy = busy | {key}
    rec = env.views.get(key)
    if up and rec is not None:
        for bkey, bnew in rec.write_back(lw, new, lambda k: current(lw, k)):
            write(lw, bkey, bnew, loc, busy)
    _stale_views(lw, key, new, busy, loc)
    _poison_partners(env, key, loc)


def _stale_views(lw, key: int, new: Value | None, busy: frozenset, loc) -> None:
    """The views of object `key` (just written) are re-read lazily; choices eagerly."""
    env = lw.env
    for vkey, vrec in list(env.views.items()):
        if vkey in busy or key not in vrec.bases():
            continue
        names = env.holders(vkey)
        in_tuple = any(isinstance(v, tuple) and _in_tuple(env, v, vkey) is not None
                       for v in env.vars.values())
        if is_lazy(vrec) and not in_tuple:
            # (a record nothing reaches now is kept: a helper's result may bind it again)
            for n in names:
                env.vars[n] = Stale(vkey)
            _stale_views(lw, vkey, None, busy | {vkey}, loc)
            continue
        cur = current(lw, vkey)
        base = new if new is not None else current(lw, key)
        if cur is None or base is None:
            continue
        write(lw, vkey, vrec.read(lw, key, base, cur), loc, busy, up=False)


def write_element(lw, key: int, value: Value, indices: list, loc, arr: Value | None = None
                  ) -> None:
    """`obj[indices] = value` for a scalar or row store: through a row view (`r = Q[i]`) it
    is one store into the base, `Q[i, j] = value`, instead of writing the row back."""
    env = lw.env
    rec = env.views.get(key)
    if isinstance(rec, IndexView) and rec.prim == "getitem" and reachable(env, rec.base):
        write_element(lw, rec.base, value, list(rec.operands) + list(indices), loc)
        return
    cur = current(lw, key) or arr       # `arr`: a temporary view (Q[0:2][1] = v)
    new = lw.emit("setitem", [cur, value] + list(indices), name=cur.name)
    write(lw, key, new, loc)


def _rebind(env: Env, key: int, new: Value) -> None:
    for n, k in env.keys.items():
        if k == key:
            env.vars[n] = new
    for n, v in list(env.vars.items()):
        if isinstance(v, tuple):
            env.vars[n] = _replace(env, v, key, new)


def _replace(env: Env, t: tuple, key: int, new: Value) -> tuple:
    return tuple(_replace(env, x, key, new) if isinstance(x, tuple) else
                 new if isinstance(x, Value) and env.ident.get(x.id) == key else x for x in t)


def _poison_partners(env: Env, key: int, loc) -> None:
    for pair in list(env.may):
        if key not in pair:
            continue
        for other in pair - {key}:
            for n in env.holders(other):
                if env.keys.get(n) == key:
                    continue
                env.vars[n] = Poison(
                    f"'{_shown(n)}' may be the same array as one written here (their aliasing "
                    "depends on a branch or on how many times a loop ran)", loc,
                    "give each array its own name, or take a copy (b = a.copy()) so no two "
                    "names may refer to the same array")
                env.keys.pop(n, None)


def _shown(name: str) -> str:
    return name if "." not in name else "an internal array"


# -- control flow ------------------------------------------------------------------------------
def refresh_tuples(env: Env) -> None:
    """Tuple slots holding arrays follow the current versions of their objects (after a branch
    or loop merged the names that reach them)."""
    for n, v in list(env.vars.items()):
        if isinstance(v, tuple):
            env.vars[n] = refreshed(env, v)


def refreshed(env: Env, t: tuple) -> tuple:
    out = []
    for x in t:
        if isinstance(x, tuple):
            out.append(refreshed(env, x))
            continue
        key = key_of(env, x)
        cur = None
        if key is not None:
            cur = next((env.vars[n] for n in env.holders(key)
                        if isinstance(env.vars.get(n), Value)), None)
        out.append(cur if cur is not None else x)
    return tuple(out)


def merge_key(lw, before: Env, name: str | None, envs: list[Env], cond: Value,
              ks: list | None = None) -> int | None:
    """The object key of `name` (or of an `if` result whose branch values are the objects `ks`)
    after an `if` whose branches ran on `envs`; `before` is the merged env (all names already
    rebound)."""
    if ks is None:
        ks = [e.keys.get(name) for e in envs]
    if ks[0] == ks[1]:
        return ks[0]
    if None in ks:   # unbound (or not an array) on one path: that path never reads it
        return ks[0] if ks[1] is None else ks[1]
    key = fresh_key()
    sides: list[int | None] = []
    for env, k in zip(envs, ks):
        if k in env.views and k not in before.views:      # a view made in the branch
            for b in _old_bases(env, before, k):
                before.may.add(frozenset((key, b)))
            sides.append(None)
        elif _reached(before, k, name):
            sides.append(k)
        else:
            sides.append(None)
    if sides != [None, None]:
        before.views[key] = ChoiceView(cond, sides[0], sides[1])
    return key


def _reached(env: Env, key: int, but: str | None) -> bool:
    return any(n != but for n in env.holders(key)) or rereadable(env, key) or \
        any(key in r.bases() for r in env.views.values())


def _old_bases(env: Env, before: Env, key: int) -> set[int]:
    """The objects that existed before (in `before`) that view `key` of `env` reaches."""
    out, todo = set(), [key]
    while todo:
        rec = env.views.get(todo.pop())
        for b in (rec.bases() if rec is not None else ()):
            if b in before.views or before.holders(b):
                out.add(b)
            else:
                todo.append(b)
    return out


def loop_partners(start: Env, end: Env, fresh: set[str]):
    """How the aliasing at the end of a loop body differs from its start.

    Returns (groups, adopt). groups: (names to give their own object, names that may alias
    them), for names bound before the loop whose sharing changes (so it depends on the trip
    count) and for names that end as a view made inside the body (with its bases). adopt:
    names first bound inside the body (`fresh`) -> a name whose object they share at the end,
    which is also what they share at the start of the next iteration."""
    names = [n for n in end.keys if n in start.keys]
    adopt: dict[str, str] = {}
    for m in sorted(n for n in end.keys if n in fresh):
        mates = sorted((n for n in end.keys if n != m and end.keys[n] == end.keys[m]),
                       key=lambda n: (n in fresh, n))
        if mates and (mates[0] not in fresh or mates[0] < m):
            adopt[m] = mates[0]
    out = []
    for i, m in enumerate(names):
        for n in names[i + 1:]:
            if m in fresh or n in fresh:
                continue
            if (start.keys[m] == start.keys[n]) != (end.keys[m] == end.keys[n]):
                out.append((frozenset((m, n)), frozenset((m, n))))
    for n in end.keys:
        k = end.keys[n]
        if k in end.views and end.views[k] is not start.views.get(k):
            group = {n}
            for b in _old_bases(end, start, k):
                group |= set(start.holders(b))
            out.append((frozenset((n,)), frozenset(group)))
    return out, adopt


def adopt_keys(env: Env, adopt: dict[str, str]) -> None:
    """Names first bound in a loop body share, at the start of an iteration, the object they
    shared at the end of the previous one."""
    for m, n in adopt.items():
        rep = n
        while rep in adopt:
            rep = adopt[rep]
        if m in env.keys and rep in env.keys:
            env.keys[m] = env.keys[rep]


def separate(env: Env, groups) -> None:
    """Give the names to re-key in `groups` (see `loop_partners`) their own objects, with
    may-alias pairs to every name they alias now or are partnered with."""
    rekey = set().union(*(g[0] for g in groups)) if groups else set()
    new = {n: fresh_key() for n in rekey if n in env.keys}
    if not new:
        return
    old = dict(env.keys)
    for n, k in new.items():
        env.keys[n] = k
        if isinstance(env.vars.get(n), Value):
            env.ident[env.vars[n].id] = k
    for n in new:
        for m in list(env.keys):
            if m != n and (old.get(m) == old[n] or
                           any(n in g[1] and m in g[1] for g in groups)):
                env.may.add(frozenset((new[n], env.keys[m])))
