"""Tuple arguments and nested-tuple results for the derivative API, as JAX's pytrees of tuples.

The compiled entry function takes numbers and arrays and returns a flat tuple of them. A user
function that takes a tuple (`loss(params, x)` with `params = (W, b)`) or returns nested
tuples is differentiated through a generated *flat* function: its parameters are the leaves of
every argument, it rebuilds the tuples, calls the user's function as a helper (the frontend
passes tuples to helpers and returns nested tuples from them) and returns the leaves of the
result. The derivative API differentiates that flat function and nests the results again the
way JAX does (`Flat.nest`).

The flat function's source lives in memory (registered with `linecache`, where `inspect` finds
it), like the custom-rule wrappers.
"""
from __future__ import annotations

import hashlib
import linecache
import types
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import AdError, NestedTupleReturn
from .frontend.lower import lower
from .signature import signature_of, user_function

Tree = Any   # None: one leaf; a tuple of Trees: a tuple


def treedef(v) -> Tree:
    """The nesting of `v`: None for a leaf, a tuple of the elements' trees for a tuple."""
    return tuple(treedef(x) for x in v) if isinstance(v, tuple) else None


def leaves(v) -> list:
    if isinstance(v, tuple):
        return [leaf for x in v for leaf in leaves(x)]
    return [v]


def count(tree: Tree) -> int:
    return 1 if tree is None else sum(count(t) for t in tree)


def unflatten(tree: Tree, flat) -> Any:
    """The inverse of `leaves`: `flat` (a sequence of exactly count(tree) values) nested."""
    it = iter(flat)

    def build(tr):
        return next(it) if tr is None else tuple(build(t) for t in tr)
    out = build(tree)
    return out


def _paths(tree: Tree, prefix: str) -> list[str]:
    """Python expressions reading each leaf of `tree` from the expression `prefix`."""
    if tree is None:
        return [prefix]
    return [p for i, t in enumerate(tree) for p in _paths(t, f"{prefix}[{i}]")]


def _tuple_src(xs: list[str]) -> str:
    return "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"


def _rebuild_src(tree: Tree, names: list[str]) -> str:
    it = iter(names)

    def build(tr):
        return next(it) if tr is None else _tuple_src([build(t) for t in tr])
    return build(tree)


_FLAT: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()
_OUT_TREES: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()


def _param_names(f, n: int) -> list[str]:
    try:
        code = user_function(f).__code__
        names = list(code.co_varnames[:code.co_argcount])
    except AttributeError:
        names = []
    names = names[:n] + [f"a{i}" for i in range(len(names), n)]
    return [nm if nm.isidentifier() else f"a{i}" for i, nm in enumerate(names)]


def generated(f, in_trees: tuple, out_tree: Tree, weights: bool = False):
    """The flat function of `f` for these argument nestings and this result nesting (cached).
    `weights`: it takes one weight per result leaf after the arguments and returns the
    weighted sum of the results (sum(w_k * out_k) over leaves and elements): the scalar whose
    Hessian is the Hessian of one output entry when the weights are one-hot."""
    key = (in_trees, out_tree, weights)
    table = _FLAT.setdefault(f, {})
    hit = table.get(key)
    if hit is not None:
        return hit
    params, call_args = [], []
    for name, tree in zip(_param_names(f, len(in_trees)), in_trees):
        if tree is None:
            params.append(name)
            call_args.append(name)
            continue
        ns = [f"{name}{p.replace('][', '_').replace('[', '_').replace(']', '')}"
              for p in _paths(tree, "")]
        params += ns
        call_args.append(_rebuild_src(tree, ns))
    body = f"    r = f({', '.join(call_args)})\n"
    outs = _paths(out_tree, "r")
    if weights:
        ws = [f"w_{k}" for k in range(len(outs))]
        params += ws
        terms = [f"np.sum({w} * {o})" for w, o in zip(ws, outs)]
        body += f"    return {' + '.join(terms) if terms else '0.0'}\n"
    elif out_tree is None or all(t is None for t in out_tree):
        body += "    return r\n"
    else:
        body += f"    return {_tuple_src(outs)}\n"
    name = getattr(f, "__name__", "f")
    fname = f"{name}_flat" if name.isidentifier() else "flat"
    src = f"def {fname}({', '.join(params)}):\n{body}"
    who = f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', name)}"
    digest = hashlib.sha256((who + "\n" + src).encode()).hexdigest()[:12]
    filename = f"<adcompile flat function of {who} {digest}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(keepends=True), filename)
    namespace = {"f": f, "np": np, "__name__": f"adcompile_flat_{digest}"}
    exec(compile(src, filename, "exec"), namespace)
    g = namespace[fname]
    table[key] = g
    return g


def output_tree(f, args: tuple) -> Tree:
    """The nesting of what `f` returns for these arguments (tuples of leaves as `args` may
    hold): found by lowering the flat call once per signature, None for a single value."""
    in_trees = tuple(treedef(a) for a in args)
    flat_args = [leaf for a in args for leaf in leaves(a)]
    probe = generated(f, in_trees, None)
    sig = signature_of(probe, flat_args)
    key = (in_trees, sig)
    table = _OUT_TREES.setdefault(f, {})
    if key not in table:
        tree: list = []
        fn = lower(probe, [s.type for s in sig], [s.weak for s in sig], flatten_returns=True,
                   tree_out=tree)
        nested = tree[0] if tree else None
        table[key] = nested if nested is not None else (
            tuple([None] * len(fn.result_types)) if fn.returns_tuple else None)
    return table[key]


@dataclass
class Flat:
    """A call of `f` seen as a call of its flat function `g` on the leaves `args`."""
    f: Callable
    g: Callable
    args: tuple
    in_trees: tuple
    out_tree: Tree
    spans: list[range]   # per argument of f: the indices of its leaves in `args`

    @property
    def is_identity(self) -> bool:
        return self.g is self.f

    def leaf_nums(self, nums) -> tuple[int, ...]:
        return tuple(k for i in nums for k in self.spans[i])

    def nest_args(self, per_leaf: list, nums) -> list:
        """Per argument in `nums`: its leaves' values (in leaf_nums order) nested as it is."""
        it = iter(per_leaf)
        return [unflatten(self.in_trees[i], [next(it) for _ in self.spans[i]]) for i in nums]

    def nest(self, table: list[list], nums, single: bool):
        """JAX's nesting of a Jacobian-like result from table[output leaf][leaf of nums]: the
        outputs' nesting outside; inside, one entry per argument of `nums` (just the one for
        an int argnums), each nested as that argument."""
        per_out = []
        for row in table:
            per_arg = self.nest_args(row, nums)
            per_out.append(per_arg[0] if single else tuple(per_arg))
        return unflatten(self.out_tree, per_out)

    def unflatten_out(self, flat: list):
        return unflatten(self.out_tree, flat)

    def flatten_like_out(self, value, what: str) -> list:
        """A value given with the nesting of the output (a cotangent), as leaves."""
        if value is None or not fits(value, self.out_tree):
            raise AdError(f"{what} must have the nesting of the output of "
                          f"'{getattr(self.f, '__name__', 'f')}', {show(self.out_tree)}; "
                          f"got {show(treedef(value))}",
                          hint="pass one value per output, nested as the function returns them")
        return leaves_as(value, self.out_tree)


def fits(value, tree: Tree) -> bool:
    """`value` is nested as `tree` (lists accepted for tuples, as JAX accepts either for
    cotangents; None stands for a whole subtree of zeros or fixed leaves)."""
    if value is None:
        return True
    if tree is None:
        return not isinstance(value, (tuple, list))
    return isinstance(value, (tuple, list)) and len(value) == len(tree) and \
        all(fits(v, t) for v, t in zip(value, tree))


def leaves_as(value, tree: Tree) -> list:
    """The leaves of `value` nested as `tree` (a None subtree: None for each of its leaves)."""
    if tree is None:
        return [value]
    if value is None:
        return [None] * count(tree)
    return [leaf for v, t in zip(value, tree) for leaf in leaves_as(v, t)]


def show(tree: Tree) -> str:
    """A nesting for messages: (x, (x, x))."""
    def s(t):
        return "x" if t is None else "(" + ", ".join(s(c) for c in t) + ("," if len(t) == 1
                                                                          else "") + ")"
    return "one value" if tree is None else s(tree)


def flat_call(f, args: tuple, nested: bool = False) -> Flat:
    """`f(*args)` as a flat call: `f` itself when no argument is a tuple (unless `nested`:
    `f` returned a tuple of tuples, NestedTupleReturn, so the caller asks again), else its
    flat function. Deciding needs no frontend run for flat calls, so a disk-cached program
    still loads without lowering anything."""
    in_trees = tuple(treedef(a) for a in args)
    spans, n = [], 0
    for t in in_trees:
        k = count(t)
        spans.append(range(n, n + k))
        n += k
    flat_args = tuple(leaf for a in args for leaf in leaves(a))
    tuple_args = any(t is not None for t in in_trees)
    if not tuple_args and (not nested or type(f) is not types.FunctionType):
        # the caller reads the outputs' (flat) nesting from the compiled primal
        return Flat(f, f, flat_args, in_trees, None, spans)
    out = output_tree(f, args)
    return Flat(f, generated(f, in_trees, out), flat_args, in_trees, out, spans)


def retrying(f, args: tuple, run: Callable[[Flat], Any]) -> Any:
    """run(flat call of f(*args)); again through the flat function when f turns out to
    return nested tuples."""
    fl = flat_call(f, args)
    try:
        return run(fl)
    except NestedTupleReturn:
        if not fl.is_identity or type(f) is not types.FunctionType:
            raise
    return run(flat_call(f, args, nested=True))
