"""NumPy shape functions: reshape/ravel/flatten, transposes with axes, swapaxes,
concatenate/stack/hstack/vstack, tile, repeat, flip, roll, broadcast_to, linspace,
tril/triu, outer/kron, trace/diag, select.

Two primitives carry the shape changes (`reshape` in C order and `permute` of the leading
axes, both views in lowered code); everything else is built from them and the existing ones
(slices, `setslice` into a fresh array, `expand` + `broadcast_like`, `select`, a `for` loop
for diagonals), so the derivative rules, array lowering and backends apply unchanged.
Invariant: each handler returns NumPy's result dtype and shape, checks at run time what NumPy
checks (sizes of a reshape, extents of concatenated arrays), and returns a view exactly where
NumPy does and the write-back is known (reshape of a whole array, transposes, flips), so
writes through the result reach the base as in NumPy.
"""
from __future__ import annotations

from typing import Any

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Block, Value
from ..ir.types import BOOL, F64, I64, ArrayType, scalar_of
from . import aliasing
from .callargs import registrar, arg, array, axis_of, const_int, fname, nargs, val
from .env import describe

CALLS: dict[str, Any] = {}      # numpy attribute name -> handler
METHODS: dict[str, Any] = {}    # array method name -> handler (called with the array first)
MAX_NDIM = 4


_reg = registrar(CALLS, METHODS, method=False)


def dims_of(lw, x: Value) -> list[Value]:
    return [lw.emit("dim", [x], {"axis": k}, name="n") for k in range(x.type.ndim)]


def product(lw, items: list[Value]) -> Value:
    n = lw.const(1, I64)
    for d in items:
        n = lw.emit("mul", [n, d], name="n")
    return n


def _ndim_ok(lw, nd: int, node) -> None:
    if nd > MAX_NDIM:
        raise lw.error(node, f"{fname(node)}() would make a {nd}-d array: arrays of more than "
                       f"{MAX_NDIM} dimensions are not supported", "", TypeInferenceError)


# -- reshape ------------------------------------------------------------------------------------
def reshape(lw, x: Value, dims: list[Value], node, view: bool = True) -> Value:
    """x in C order with extents `dims` (sizes checked at run time, as NumPy does)."""
    _ndim_ok(lw, len(dims), node)
    ok = lw.emit("eq", [lw.emit("size", [x], name="n"), product(lw, dims)], name="fits")
    lw.emit("check", [ok], {"message": "cannot reshape the array: the new shape has "
                            "another number of elements", "kind": "shape"}, types=[])
    out = lw.emit("reshape", [x] + dims, name=x.name + "_r")
    if view and _contiguous(lw, x):
        back = list(dims_of(lw, x))
        aliasing.note_map_view(lw, x, out, "reshape", lambda lw_, b: lw_.emit(
            "reshape", [b] + list(dims), name="view"), lambda lw_, n: lw_.emit(
            "reshape", [n] + back, name=n.name))
    return out


def _contiguous(lw, x: Value) -> bool:
    """Is x (as NumPy would hold it) C-contiguous, so that its reshape is a view? Views
    made by slicing or transposing are not known to be: their reshape is a copy here."""
    rec = lw.env.views.get(aliasing.key_of(lw.env, x))
    return rec is None or (isinstance(rec, aliasing.IndexView) and rec.prim == "getitem")


def _shape_items(lw, args, node) -> list[Any]:
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return list(args[0])
    return list(args)


def new_dims(lw, x: Value, items, node) -> list[Value]:
    """The extents of a reshape, with one -1 computed from x's size."""
    dims = [lw.to_int(val(lw, d, node), node) for d in items]
    if not dims:
        raise lw.error(node, f"{fname(node)}() to a 0-d array is not supported",
                       "use np.sum(x) or x[0] for the one value", UnsupportedSyntax)
    free = [k for k, d in enumerate(dims) if lw.known(d) == -1]
    if len(free) > 1:
        raise lw.error(node, "can only specify one unknown dimension (-1)", "",
                       TypeInferenceError)
    if free:
        rest = product(lw, [d for k, d in enumerate(dims) if k != free[0]])
        safe = lw.emit("maximum", [rest, lw.const(1, I64)], name="n")
        dims[free[0]] = lw.emit("floordiv", [lw.emit("size", [x], name="n"), safe],
                                name="n")
    return dims


@_reg("reshape", method=True)
def _reshape(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1 + MAX_NDIM, ("order", "newshape", "shape"))
    x = array(lw, args[0], node)
    order = kw.get("order")
    if order is not None:
        raise lw.error(node, f"{fname(node)}(): only the default C order is supported", "",
                       UnsupportedSyntax)
    items = args[1:] or [kw.get("shape", kw.get("newshape"))]
    if items == [None]:
        raise lw.error(node, f"{fname(node)}() needs a shape", "", TypeInferenceError)
    return reshape(lw, x, new_dims(lw, x, _shape_items(lw, items, node), node), node)


@_reg("ravel", method=True)
def _ravel(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    x = val(lw, args[0], node)
    if not isinstance(x.type, ArrayType):
        return lw.emit("full", [lw.const(1, I64), x], {"dtype": scalar_of(x.type).name})
    if x.type.ndim == 1:
        return x
    return reshape(lw, x, [lw.emit("size", [x], name="n")], node)


def _flatten(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    x = array(lw, args[0], node)
    if x.type.ndim == 1:
        return lw.emit("copy", [x], name=x.name)
    return reshape(lw, x, [lw.emit("size", [x], name="n")], node, view=False)


METHODS["flatten"] = _flatten


# -- transposes -------------------------------------------------------------------------------
def permute(lw, x: Value, axes: tuple[int, ...]) -> Value:
    """A view of x with axes permuted (output axis j is x's axis axes[j])."""
    if axes == tuple(range(len(axes))):
        return x
    inverse = tuple(sorted(range(len(axes)), key=lambda j: axes[j]))
    out = lw.emit("permute", [x], {"axes": tuple(axes)}, name=x.name + "T")
    return aliasing.note_map_view(
        lw, x, out, "permute",
        lambda lw_, b: lw_.emit("permute", [b], {"axes": tuple(axes)}, name="view"),
        lambda lw_, n: lw_.emit("permute", [n], {"axes": inverse}, name=n.name))


def transpose(lw, x: Value, axes: tuple[int, ...] | None, node) -> Value:
    nd = x.type.ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    if nd < 2:
        return x
    if axes == (1, 0) + tuple(range(2, nd)) and nd == 2:
        return aliasing.note_view(lw, x, lw.emit("transpose", [x], name=x.name + "T"),
                                  "transpose")
    return permute(lw, x, axes)


def axes_arg(lw, v, nd: int, node) -> tuple[int, ...]:
    items = list(v) if isinstance(v, (tuple, list)) else [v]
    axes = tuple(axis_of(lw, a, nd, node) for a in items)
    if sorted(axes) != list(range(nd)):
        raise lw.error(node, f"{fname(node)}(): axes {axes} are not a permutation of the "
                       f"{nd} axes", "", TypeInferenceError)
    return axes


@_reg("transpose", method=True)
def _transpose(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1 + MAX_NDIM, ("axes",))
    x = val(lw, args[0], node)
    if not isinstance(x.type, ArrayType):
        return x
    given = args[1:] or ([kw["axes"]] if "axes" in kw else [])
    if len(given) == 1 and isinstance(given[0], (tuple, list)):
        given = list(given[0])
    axes = axes_arg(lw, tuple(given), x.type.ndim, node) if given else None
    return transpose(lw, x, axes, node)


@_reg("swapaxes", method=True)
def _swapaxes(lw, args, kw, node):
    nargs(lw, args, kw, node, 3, 3)
    x = array(lw, args[0], node)
    nd = x.type.ndim
    a, b = (axis_of(lw, v, nd, node) for v in args[1:])
    axes = list(range(nd))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(lw, x, tuple(axes), node)


@_reg("moveaxis")
def _moveaxis(lw, args, kw, node):
    nargs(lw, args, kw, node, 3, 3)
    x = array(lw, args[0], node)
    nd = x.type.ndim
    src, dst = (axis_of(lw, v, nd, node) for v in args[1:])
    order = [k for k in range(nd) if k != src]
    order.insert(dst, src)
    return transpose(lw, x, tuple(order), node)


# -- joining ------------------------------------------------------------------------------------
def _pieces(lw, seq, node) -> list[Value]:
    if not isinstance(seq, (tuple, list)) or not seq:
        raise lw.error(node, f"{fname(node)}() takes a tuple or list of arrays, got "
                       f"{describe(seq)}", "e.g. np.concatenate((a, b))", TypeInferenceError)
    out = [val(lw, v, node) for v in seq]
    dt = scalar_of(out[0].type)
    for v in out[1:]:
        dt = lw.arith_dtype(lw.const(0, dt, weak=False), v) if dt != scalar_of(v.type) else dt
    return [lw.to_dtype(v, dt) for v in out]


def concatenate(lw, arrays: list[Value], axis: int, node) -> Value:
    nd = arrays[0].type.ndim
    for v in arrays:
        if not isinstance(v.type, ArrayType) or v.type.ndim != nd:
            raise lw.error(node, f"{fname(node)}(): all the input arrays must have the same "
                           f"number of dimensions, got {describe(v)}", "", TypeInferenceError)
    if len(arrays) == 1:
        return lw.emit("copy", [arrays[0]], name=arrays[0].name)
    first = dims_of(lw, arrays[0])
    for v in arrays[1:]:
        d = dims_of(lw, v)
        for k in range(nd):
            if k != axis:
                ok = lw.emit("eq", [first[k], d[k]], name="fits")
                lw.emit("check", [ok], {"message": "all the input array dimensions except "
                                        "for the concatenation axis must match exactly",
                                        "kind": "shape"}, types=[])
    sizes = [lw.emit("dim", [v], {"axis": axis}, name="n") for v in arrays]
    total = sizes[0]
    for s in sizes[1:]:
        total = lw.emit("add", [total, s], name="n")
    out = lw.emit("empty", first[:axis] + [total] + first[axis + 1:],
                  {"dtype": scalar_of(arrays[0].type).name}, name="cat")
    spec = ",".join(["s000"] * axis + ["s110"])
    at = lw.const(0, I64)
    for v, s in zip(arrays, sizes):
        end = lw.emit("add", [at, s], name="end")
        out = lw.emit("setslice", [out, v, at, end], {"spec": spec}, name="cat")
        at = end
    return out


def _at_least(lw, v: Value, nd: int, front: bool = True) -> Value:
    if not isinstance(v.type, ArrayType):
        v = lw.emit("full", [lw.const(1, I64), v], {"dtype": scalar_of(v.type).name})
    while v.type.ndim < nd:
        v = lw.emit("expand", [v], {"axis": 0 if front else v.type.ndim}, name=v.name)
    return v


@_reg("concatenate")
def _concatenate(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("axis",))
    arrays = _pieces(lw, args[0], node)
    ax = arg(args, kw, 1, "axis", lw.const(0, I64))
    if ax is None:
        raise lw.error(node, f"{fname(node)}(axis=None) is not supported", "ravel first",
                       UnsupportedSyntax)
    for v in arrays:
        if not isinstance(v.type, ArrayType):
            raise lw.error(node, "zero-dimensional arrays cannot be concatenated", "",
                           TypeInferenceError)
    return concatenate(lw, arrays, axis_of(lw, ax, arrays[0].type.ndim, node), node)


@_reg("stack")
def _stack(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("axis",))
    arrays = _pieces(lw, args[0], node)
    nd = arrays[0].type.ndim if isinstance(arrays[0].type, ArrayType) else 0
    _ndim_ok(lw, nd + 1, node)
    axis = axis_of(lw, arg(args, kw, 1, "axis", lw.const(0, I64)), nd + 1, node)
    if nd == 0:
        return concatenate(lw, [_at_least(lw, v, 1) for v in arrays], 0, node)
    for v in arrays:
        if not isinstance(v.type, ArrayType) or v.type.ndim != nd:
            raise lw.error(node, f"{fname(node)}(): all input arrays must have the same shape",
                           "", TypeInferenceError)
    return concatenate(lw, [lw.emit("expand", [v], {"axis": axis}, name=v.name)
                            for v in arrays], axis, node)


@_reg("hstack")
def _hstack(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    arrays = [_at_least(lw, v, 1) for v in _pieces(lw, args[0], node)]
    return concatenate(lw, arrays, 0 if arrays[0].type.ndim == 1 else 1, node)


@_reg("vstack", "row_stack")
def _vstack(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    return concatenate(lw, [_at_least(lw, v, 2) for v in _pieces(lw, args[0], node)], 0, node)


@_reg("column_stack")
def _column_stack(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 1)
    arrays = [_at_least(lw, v, 2, front=False) if isinstance(v.type, ArrayType) and
              v.type.ndim == 1 else _at_least(lw, v, 2) for v in _pieces(lw, args[0], node)]
    return concatenate(lw, arrays, 1, node)


# -- repetition -------------------------------------------------------------------------------
def _spread(lw, x: Value, dims: list[Value]) -> Value:
    """x broadcast to `dims` (a fresh array)."""
    like = lw.emit("empty", dims, {"dtype": scalar_of(x.type).name}, name="like")
    return lw.emit("broadcast_like", [x, like], name=x.name + "_b")


@_reg("tile")
def _tile(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 2)
    x = _at_least(lw, val(lw, args[0], node), 1)
    reps = args[1] if isinstance(args[1], (tuple, list)) else [args[1]]
    reps = [const_int(lw, r, node, "reps") for r in reps]
    if any(r < 0 for r in reps):
        raise lw.error(node, f"{fname(node)}(): negative repetitions", "", TypeInferenceError)
    nd = max(x.type.ndim, len(reps))
    _ndim_ok(lw, 2 * nd, node)
    x = _at_least(lw, x, nd)
    reps = [1] * (nd - len(reps)) + reps
    d = dims_of(lw, x)
    # (r0, d0, r1, d1, ...) by broadcasting, then merged pairwise
    y = x
    for k in range(nd):
        y = lw.emit("expand", [y], {"axis": 2 * k}, name="tile")
    big = []
    for r, n in zip(reps, d):
        big += [lw.const(r, I64), n]
    y = _spread(lw, y, big)
    return reshape(lw, y, [lw.emit("mul", [lw.const(r, I64), n], name="n")
                           for r, n in zip(reps, d)], node, view=False)


@_reg("repeat", method=True)
def _repeat(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 3, ("axis",))
    x = _at_least(lw, val(lw, args[0], node), 1)
    k = args[1]
    if isinstance(k, Value) and isinstance(k.type, ArrayType):
        raise lw.error(node, f"{fname(node)}() with an array of repeat counts is not "
                       "supported", "repeat by one constant count", UnsupportedSyntax)
    k = lw.to_int(val(lw, k, node), node)
    ax = arg(args, kw, 2, "axis")
    if ax is None:
        x = _ravel(lw, [x], {}, node) if x.type.ndim > 1 else x
        axis = 0
    else:
        axis = axis_of(lw, ax, x.type.ndim, node)
    _ndim_ok(lw, x.type.ndim + 1, node)
    d = dims_of(lw, x)
    y = _spread(lw, lw.emit("expand", [x], {"axis": axis + 1}, name="rep"),
                d[:axis + 1] + [k] + d[axis + 1:])
    return reshape(lw, y, d[:axis] + [lw.emit("mul", [d[axis], k], name="n")] + d[axis + 1:],
                   node, view=False)


# -- reordering -------------------------------------------------------------------------------
@_reg("flip")
def _flip(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("axis",))
    x = array(lw, args[0], node)
    ax = arg(args, kw, 1, "axis")
    nd = x.type.ndim
    if ax is None:
        axes = set(range(nd))
    else:
        items = ax if isinstance(ax, (tuple, list)) else [ax]
        axes = {axis_of(lw, a, nd, node) for a in items}
    spec = ",".join("s001" if k in axes else "s000" for k in range(max(axes) + 1))
    steps = [lw.const(-1, I64) for _ in axes]
    out = lw.emit("getslice", [x] + steps, {"spec": spec}, name=x.name + "_f")
    return aliasing.note_view(lw, x, out, "getslice", spec, tuple(steps))


@_reg("fliplr")
def _fliplr(lw, args, kw, node):
    return _flip(lw, args[:1], {"axis": lw.const(1, I64)}, node)


@_reg("flipud")
def _flipud(lw, args, kw, node):
    return _flip(lw, args[:1], {"axis": lw.const(0, I64)}, node)


@_reg("roll")
def _roll(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 3, ("axis",))
    x = array(lw, args[0], node)
    shift = lw.to_int(val(lw, args[1], node), node)
    ax = arg(args, kw, 2, "axis")
    if ax is None:
        flat = _ravel(lw, [x], {}, node)
        out = _roll_axis(lw, flat, shift, 0, node)
        return out if x.type.ndim == 1 else reshape(lw, out, dims_of(lw, x), node, view=False)
    return _roll_axis(lw, x, shift, axis_of(lw, ax, x.type.ndim, node), node)


def _roll_axis(lw, x: Value, shift: Value, axis: int, node) -> Value:
    n = lw.emit("dim", [x], {"axis": axis}, name="n")
    s = lw.emit("mod", [shift, lw.emit("maximum", [n, lw.const(1, I64)], name="n")],
                name="shift")
    cut = lw.emit("sub", [n, s], name="cut")
    head = ",".join(["s000"] * axis + ["s100"])
    tail = ",".join(["s000"] * axis + ["s010"])
    a = lw.emit("getslice", [x, cut], {"spec": head}, name=x.name)
    b = lw.emit("getslice", [x, cut], {"spec": tail}, name=x.name)
    return concatenate(lw, [a, b], axis, node)


@_reg("broadcast_to")
def _broadcast_to(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 2)
    x = val(lw, args[0], node)
    shape = args[1] if isinstance(args[1], (tuple, list)) else [args[1]]
    dims = [lw.to_int(val(lw, d, node), node) for d in shape]
    xd = dims_of(lw, x) if isinstance(x.type, ArrayType) else []
    if len(xd) > len(dims):
        raise lw.error(node, f"{fname(node)}(): cannot broadcast a {len(xd)}-d array to "
                       f"{len(dims)} dimensions", "", TypeInferenceError)
    for k, d in enumerate(xd):
        full = dims[k + len(dims) - len(xd)]
        ok = lw.emit("or", [lw.emit("eq", [d, full]), lw.emit("eq", [d, lw.const(1, I64)])])
        lw.emit("check", [ok], {"message": "operands could not be broadcast together with "
                                "the requested shape", "kind": "shape"}, types=[])
    return _spread(lw, x, dims)


# -- construction -----------------------------------------------------------------------------
@_reg("linspace")
def _linspace(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 4, ("num", "endpoint", "dtype"))
    if "dtype" in kw:
        raise lw.error(node, f"{fname(node)}(): dtype= is not supported", "use .astype()",
                       UnsupportedSyntax)
    a, b = (val(lw, v, node) for v in args[:2])
    num = lw.to_int(val(lw, arg(args, kw, 2, "num", lw.const(50, I64)), node), node)
    ep = arg(args, kw, 3, "endpoint")
    endpoint = True if ep is None else bool(lw.known(ep))
    if isinstance(a.type, ArrayType) or isinstance(b.type, ArrayType):
        raise lw.error(node, f"{fname(node)}() with array end points is not supported", "",
                       UnsupportedSyntax)
    dt = lw.arith_dtype(a, b)
    dt = dt if dt.is_float else F64
    a, b = lw.to_dtype(a, dt), lw.to_dtype(b, dt)
    one = lw.const(1, I64)
    div = lw.emit("sub", [num, one], name="div") if endpoint else num
    div = lw.emit("maximum", [div, one], name="div")
    step = lw.emit("div", [lw.emit("sub", [b, a], name="span"),
                           lw.emit("cast", [div], {"to": dt.name}, name="div")],
                   {"ieee": True}, name="step")
    idx = lw.emit("arange", [lw.const(0, I64), num, one], {"dtype": "i64"}, name="idx")
    y = lw.emit("add", [lw.emit("mul", [lw.emit("cast", [idx], {"to": dt.name}), step]), a],
                name="linspace")
    if endpoint:
        last = lw.emit("and", [lw.emit("eq", [idx, lw.emit("sub", [num, one])]),
                               lw.emit("gt", [num, one])], name="last")
        y = lw.emit("select", [last, b, y], name="linspace")
    return y


def _tri_mask(lw, m: Value, k: Value, lower: bool) -> Value:
    d = dims_of(lw, m)
    i = lw.emit("expand", [lw.emit("arange", [lw.const(0, I64), d[-2], lw.const(1, I64)],
                                   {"dtype": "i64"}, name="i")], {"axis": 1}, name="i")
    j = lw.emit("arange", [lw.const(0, I64), d[-1], lw.const(1, I64)], {"dtype": "i64"},
                name="j")
    off = lw.emit("sub", [j, i], name="off")
    return lw.emit("le" if lower else "ge", [off, k], name="keep")


def _tri(lower: bool):
    def h(lw, args, kw, node):
        nargs(lw, args, kw, node, 1, 2, ("k",))
        m = array(lw, args[0], node, "an array of 2 or more dims")
        if m.type.ndim < 2:
            raise lw.error(node, f"{fname(node)}() of a 1-d array is not supported",
                           "pass a matrix", UnsupportedSyntax)
        k = lw.to_int(val(lw, arg(args, kw, 1, "k", lw.const(0, I64)), node), node)
        zero = lw.const(0, scalar_of(m.type), weak=False)
        return lw.emit("select", [_tri_mask(lw, m, k, lower), m, zero], name="tri")
    return h


_reg("tril")(_tri(True))
_reg("triu")(_tri(False))


@_reg("outer")
def _outer(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 2)
    a, b = (_ravel(lw, [val(lw, v, node)], {}, node) for v in args)
    dt = lw.arith_dtype(a, b)
    dt = I64 if dt == BOOL else dt
    a, b = lw.to_dtype(a, dt), lw.to_dtype(b, dt)
    return lw.emit("mul", [lw.emit("expand", [a], {"axis": 1}, name=a.name),
                           lw.emit("expand", [b], {"axis": 0}, name=b.name)], name="outer")


@_reg("kron")
def _kron(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 2)
    a, b = (array(lw, v, node) for v in args)
    if a.type.ndim != b.type.ndim or a.type.ndim > 2:
        raise lw.error(node, f"{fname(node)}() supports two 1-d or two 2-d arrays", "",
                       UnsupportedSyntax)
    dt = lw.arith_dtype(a, b)
    dt = I64 if dt == BOOL else dt
    a, b = lw.to_dtype(a, dt), lw.to_dtype(b, dt)
    nd = a.type.ndim
    da, db = dims_of(lw, a), dims_of(lw, b)
    ea, eb = a, b
    for k in range(nd):   # a at the even axes, b at the odd ones: (a0, b0, a1, b1)
        ea = lw.emit("expand", [ea], {"axis": 2 * k + 1}, name=a.name)
        eb = lw.emit("expand", [eb], {"axis": 2 * k}, name=b.name)
    prod = lw.emit("mul", [ea, eb], name="kron")
    return reshape(lw, prod, [lw.emit("mul", [x, y], name="n") for x, y in zip(da, db)],
                   node, view=False)


def diagonal(lw, m: Value, k: Value) -> Value:
    """m[i, i + k] for every i in range: a loop of element reads."""
    d = dims_of(lw, m)
    zero = lw.const(0, I64)
    neg = lw.emit("lt", [k, zero], name="neg")
    r0 = lw.emit("select", [neg, lw.emit("neg", [k]), zero], name="r0")
    c0 = lw.emit("select", [neg, zero, k], name="c0")
    n = lw.emit("minimum", [lw.emit("sub", [d[0], r0]), lw.emit("sub", [d[1], c0])], name="n")
    n = lw.emit("maximum", [n, zero], name="n")
    dt = scalar_of(m.type)
    out0 = lw.emit("empty", [n], {"dtype": dt.name}, name="diag")
    body = Block([Value("i", I64), Value("diag", out0.type)])
    saved = lw.block
    lw.block = body
    try:
        i, out = body.args
        x = lw.emit("getitem", [m, lw.emit("add", [i, r0], name="r"),
                                lw.emit("add", [i, c0], name="c")], name="mii")
        out = lw.emit("setitem", [out, x, i], name="diag")
        Builder(body, lw.loc).op("yield", [out], [])
    finally:
        lw.block = saved
    return Builder(lw.block, lw.loc).op("for", [zero, n, lw.const(1, I64), out0],
                                        [out0.type], {}, [body], ["diag"]).results[0]


def diag_matrix(lw, v: Value, k: Value) -> Value:
    """The matrix with v on its k-th diagonal."""
    n = lw.emit("dim", [v], {"axis": 0}, name="n")
    zero = lw.const(0, I64)
    ak = lw.emit("select", [lw.emit("lt", [k, zero]), lw.emit("neg", [k]), k], name="ak")
    size = lw.emit("add", [n, ak], name="n")
    dt = scalar_of(v.type)
    out0 = lw.emit("zeros", [size, size], {"dtype": dt.name}, name="diag")
    neg = lw.emit("lt", [k, zero], name="neg")
    r0 = lw.emit("select", [neg, ak, zero], name="r0")
    c0 = lw.emit("select", [neg, zero, k], name="c0")
    body = Block([Value("i", I64), Value("diag", out0.type)])
    saved = lw.block
    lw.block = body
    try:
        i, out = body.args
        out = lw.emit("setitem", [out, lw.emit("getitem", [v, i], name="vi"),
                                  lw.emit("add", [i, r0], name="r"),
                                  lw.emit("add", [i, c0], name="c")], name="diag")
        Builder(body, lw.loc).op("yield", [out], [])
    finally:
        lw.block = saved
    return Builder(lw.block, lw.loc).op("for", [zero, n, lw.const(1, I64), out0],
                                        [out0.type], {}, [body], ["diag"]).results[0]


@_reg("diag")
def _diag(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("k",))
    x = array(lw, args[0], node)
    k = lw.to_int(val(lw, arg(args, kw, 1, "k", lw.const(0, I64)), node), node)
    if x.type.ndim == 1:
        return diag_matrix(lw, x, k)
    if x.type.ndim == 2:
        return diagonal(lw, x, k)
    raise lw.error(node, f"{fname(node)}() needs a 1-d or 2-d array", "", TypeInferenceError)


@_reg("diagonal", method=True)
def _diagonal(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("offset",))
    x = array(lw, args[0], node)
    if x.type.ndim != 2:
        raise lw.error(node, f"{fname(node)}() of a {x.type.ndim}-d array is not supported",
                       "", UnsupportedSyntax)
    k = lw.to_int(val(lw, arg(args, kw, 1, "offset", lw.const(0, I64)), node), node)
    return diagonal(lw, x, k)


@_reg("trace", method=True)
def _trace(lw, args, kw, node):
    nargs(lw, args, kw, node, 1, 2, ("offset",))
    x = array(lw, args[0], node)
    if x.type.ndim != 2:
        raise lw.error(node, f"{fname(node)}() of a {x.type.ndim}-d array is not supported",
                       "", UnsupportedSyntax)
    k = lw.to_int(val(lw, arg(args, kw, 1, "offset", lw.const(0, I64)), node), node)
    d = diagonal(lw, x, k)
    if scalar_of(d.type) == BOOL:
        d = lw.to_dtype(d, I64)
    return lw.emit("sum", [d], {"axis": None}, name="trace")


@_reg("select")
def _select(lw, args, kw, node):
    nargs(lw, args, kw, node, 2, 3, ("default",))
    conds, choices = args[0], args[1]
    if not isinstance(conds, (tuple, list)) or not isinstance(choices, (tuple, list)) or \
            len(conds) != len(choices) or not conds:
        raise lw.error(node, f"{fname(node)}() takes two lists of the same length", "",
                       TypeInferenceError)
    default = val(lw, arg(args, kw, 2, "default", lw.const(0, I64)), node)
    vals = [val(lw, c, node) for c in choices] + [default]
    dt = lw.arith_dtype(vals[0], vals[1]) if len(vals) > 1 else scalar_of(vals[0].type)
    for v in vals[2:]:
        dt = lw.arith_dtype(lw.const(0, dt, weak=not any(
            not lw.is_weak(w) for w in vals)), v)
    out = lw.to_dtype(default, dt)
    for c, v in reversed(list(zip(conds, vals[:-1]))):
        c = val(lw, c, node)
        if scalar_of(c.type) != BOOL:
            c = lw.emit("ne", [c, lw.const(0, scalar_of(c.type))])
        out = lw.emit("select", [c, lw.to_dtype(v, dt), out], name="select")
    return out

