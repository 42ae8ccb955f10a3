"""The primitive set of the IR: each primitive's schema (operand roles, attributes), traits and
type rule.

Every op names a primitive from `PRIMITIVES`. The type rule computes result types from operand
types and attributes; the verifier re-runs it on every op and checks the attributes against the
declared ones, so a pass that builds an ill-typed op, or hands another pass an undeclared flag,
is caught right after it runs. Passes ask `has(op, Trait.X)` rather than keeping name lists.
Interpreter, backends and derivative tables are separate tables keyed by these names; tests
check that each table covers every primitive.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .slices import SliceSpec
from .traits import Trait
from .types import (
    BOOL,
    F64,
    I64,
    SCALARS,
    ArrayType,
    ScalarType,
    TapeType,
    Type,
    ndim_of,
    parse_type,
    scalar_of,
)


class IRTypeError(Exception):
    """An op whose operand types do not fit its primitive (a compiler bug or bad IR text)."""


@dataclass(frozen=True)
class Attr:
    """A declared attribute: the Python types its value may have, whether every op of the
    primitive carries it, and what it means (for the passes that read it)."""

    types: tuple[type, ...]
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Primitive:
    name: str
    kind: str  # 'unary', 'binary', 'compare', 'logical', 'array', 'reduce', 'control', ...
    rule: Callable[[list[Type], dict[str, Any]], list[Type]]
    operands: tuple[str, ...] = ()
    """Operand roles in order; `*name` takes the rest (at most one), `?name` is optional."""
    attrs: dict[str, Attr] = field(default_factory=dict)
    traits: frozenset[Trait] = frozenset()
    nregions: int = 0

    @property
    def terminator(self) -> bool:
        return Trait.TERMINATOR in self.traits


PRIMITIVES: dict[str, Primitive] = {}


def has(prim_or_op, trait: Trait) -> bool:
    """Whether a primitive (by name) or an op has `trait`."""
    return trait in PRIMITIVES[getattr(prim_or_op, "prim", prim_or_op)].traits


def _reg(name: str, kind: str, rule, operands: tuple[str, ...], traits=(), attrs=None,
         nregions: int = 0) -> None:
    PRIMITIVES[name] = Primitive(name, kind, rule, tuple(operands), dict(attrs or {}),
                                 frozenset(traits), nregions)


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise IRTypeError(msg)


def _broadcast(types: list[Type]) -> int:
    return max(ndim_of(t) for t in types)


def _same_dtype(types: list[Type], what: str) -> ScalarType:
    dts = {scalar_of(t) for t in types}
    _check(len(dts) == 1, f"{what}: operand dtypes differ: {[str(t) for t in types]}")
    return dts.pop()


def _shape(dtype: ScalarType, ndim: int) -> Type:
    return ArrayType(dtype, ndim) if ndim else dtype


# -- attributes that passes hand to each other ------------------------------------------------
_LANE_OP = Attr((bool,), doc="forward mode: lane arithmetic of vector tangents; fuse_lanes "
                             "turns runs of it into one loop over lanes")
_REASSOC = Attr((bool,), doc="lower_arrays: an accumulation of a whole-array float reduction; "
                             "the backend may reassociate (vectorise) it")
_INBOUNDS = Attr((bool, tuple), doc="lower_arrays: indices in range by construction (True, or "
                                     "one bool per index); the backend neither wraps negative "
                                     "indices nor checks bounds for those")
_CHECKED = Attr((bool,), doc="reverse mode: a push whose tape was not reserved for the whole "
                             "loop (while loops, checkpoint snapshots); the backend grows it")
_GUARDED = Attr((bool,), doc="check_tapes (a debug option): a push beyond the tape's room "
                             "(unchecked pushes trust the reservation) or a pop from an empty "
                             "tape stops the program with an internal error instead")
_IEEE = Attr((bool,), doc="NumPy's float division (x / 0 = +-inf, 0 / 0 = nan; also // and %, "
                           "and 0.0 ** -n = inf for an integer power) "
                           "where a backend's scalar operator raises ZeroDivisionError (numba, "
                           "as Python): set by derivative rules and by lower_arrays for array "
                           "divisions")
_AXIS = Attr((int, type(None)), doc="the axis reduced (None: all axes)")
_DTYPE = Attr((str,), True, "the element type name (f64, f32, i64, bool)")
_CHECKPOINT = {
    "checkpoint_every": Attr((int,), doc="frontend marker: checkpoint every k iterations"),
    "checkpoint_snapshots": Attr((int,), doc="frontend marker: s uniform snapshots"),
    "checkpoint_levels": Attr((int,), doc="frontend marker: levels of uniform snapshots"),
    "checkpoint_sqrt": Attr((bool,), doc="frontend marker: sqrt(n) snapshots"),
    "checkpoint_binomial": Attr((int,), doc="frontend marker: binomial with s snapshots"),
    "checkpoint_memory": Attr((int,), doc="frontend marker: binomial in this many bytes"),
    "recompute": Attr((bool,), doc="checkpoint pass: reverse mode recomputes this loop from "
                                   "its snapshots instead of taping it"),
    "revolve_snapshots": Attr((int,), doc="checkpoint pass: reverse this loop by binomial "
                                          "checkpointing with s snapshots"),
    "revolve_memory": Attr((int,), doc="checkpoint pass: binomial checkpointing in a memory "
                                       "budget (bytes; slots from the state size)"),
}

# -- scalar / elementwise ---------------------------------------------------------------------
FLOAT_UNARY = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh",
               "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "floor", "ceil",
               "trunc", "erf", "erfc", "lgamma", "log10", "log2")
SAME_UNARY = ("neg", "abs", "sign", "square")
FLOAT_BINARY = ("atan2", "hypot", "pow")
SAME_BINARY = ("add", "sub", "mul", "div", "floordiv", "mod", "minimum", "maximum")
COMPARE = ("lt", "le", "gt", "ge", "eq", "ne")
LOGICAL = ("and", "or")


def _float_unary(ts, attrs):
    _check(len(ts) == 1 and scalar_of(ts[0]).is_float, f"expects one float operand, got {ts}")
    return [ts[0]]


def _same_unary(ts, attrs):
    _check(len(ts) == 1 and not scalar_of(ts[0]).is_bool, f"expects one numeric operand: {ts}")
    return [ts[0]]


def _float_binary(ts, attrs):
    _check(len(ts) == 2, "expects two operands")
    dt = _same_dtype(ts, "binary op")
    _check(dt.is_float, "expects float operands")
    return [_shape(dt, _broadcast(ts))]


def _same_binary(ts, attrs):
    _check(len(ts) == 2, "expects two operands")
    dt = _same_dtype(ts, "binary op")
    _check(not dt.is_bool, "arithmetic on bool operands")
    return [_shape(dt, _broadcast(ts))]


def _bitwise(ts, attrs):
    _check(len(ts) == 2, "expects two operands")
    _check(_same_dtype(ts, "bitwise op").is_int, "expects integer operands")
    return [_shape(scalar_of(ts[0]), _broadcast(ts))]


def _compare(ts, attrs):
    _check(len(ts) == 2, "expects two operands")
    _same_dtype(ts, "comparison")
    return [_shape(BOOL, _broadcast(ts))]


def _logical(ts, attrs):
    _check(len(ts) == 2 and _same_dtype(ts, "logical op") == BOOL, "expects bool operands")
    return [_shape(BOOL, _broadcast(ts))]


def _not(ts, attrs):
    _check(len(ts) == 1 and scalar_of(ts[0]) == BOOL, "not expects a bool")
    return [ts[0]]


def _powi(ts, attrs):
    # an i64 base is exact integer power (wrapping as NumPy's int64), not a float round trip
    _check(len(ts) == 2 and (scalar_of(ts[0]).is_float or scalar_of(ts[0]) == I64) and
           ts[1] == I64, "powi expects (float or i64, i64 scalar)")
    return [ts[0]]


def _isx(ts, attrs):
    _check(len(ts) == 1 and scalar_of(ts[0]).is_float, "expects a float")
    return [_shape(BOOL, ndim_of(ts[0]))]


def _select(ts, attrs):
    _check(len(ts) == 3 and scalar_of(ts[0]) == BOOL, "select expects (bool, a, b)")
    dt = _same_dtype(ts[1:], "select")
    return [_shape(dt, _broadcast(ts))]


def _cast(ts, attrs):
    _check(len(ts) == 1, "cast expects one operand")
    dt = SCALARS[attrs["to"]]
    return [_shape(dt, ndim_of(ts[0]))]


def _const(ts, attrs):
    _check(not ts, "const takes no operands")
    return [SCALARS[attrs["type"]]]


def _undef(ts, attrs):
    return [parse_type(attrs["type"])]


_EW = (Trait.PURE, Trait.ELEMENTWISE, Trait.READS_ARRAY)
_EW_ATTRS = {"lane_op": _LANE_OP, "reassoc": _REASSOC}
_EXPENSIVE_FLOAT = {"floor", "ceil", "trunc"}   # float ops that are cheap
_FOLD = {"add", "sub", "mul", "div", "floordiv", "mod", "neg", "abs", "minimum", "maximum",
         "lt", "le", "gt", "ge", "eq", "ne", "and", "or", "not", "powi", "sqrt", "exp", "log",
         "sin", "cos"}
_REMATS = {"add", "sub", "mul", "neg", "floordiv", "mod", "minimum", "maximum", "cast"}
_FLOAT_REMATS = {"add", "sub", "mul", "neg"}


def _scalar_traits(name: str) -> list[Trait]:
    out = list(_EW)
    if name in _FOLD:
        out.append(Trait.FOLDABLE)
    if name in _REMATS:
        out.append(Trait.REMAT)
    if name in _FLOAT_REMATS:
        out.append(Trait.FLOAT_REMAT)
    if name in ("floordiv", "mod", "div"):
        out.append(Trait.HOIST_INT_UNSAFE)
    if (name in FLOAT_UNARY or name in FLOAT_BINARY or name == "div") and \
            name not in _EXPENSIVE_FLOAT:
        out.append(Trait.EXPENSIVE)
    return out


for _names, _kind, _rule, _ops in ((FLOAT_UNARY, "unary", _float_unary, ("x",)),
                                   (SAME_UNARY, "unary", _same_unary, ("x",)),
                                   (FLOAT_BINARY, "binary", _float_binary, ("x", "y")),
                                   (SAME_BINARY, "binary", _same_binary, ("x", "y")),
                                   (COMPARE, "compare", _compare, ("x", "y")),
                                   (LOGICAL, "logical", _logical, ("x", "y"))):
    for _n in _names:
        _reg(_n, _kind, _rule, _ops, _scalar_traits(_n),
             dict(_EW_ATTRS, ieee=_IEEE) if _n in ("div", "mod", "floordiv") else _EW_ATTRS)
# bitwise or of integers: the union of bitsets in sparsity detection (ad/dependencies.py)
_reg("bitor", "binary", _bitwise, ("x", "y"), _EW, _EW_ATTRS)
_reg("not", "logical", _not, ("x",), _scalar_traits("not"), _EW_ATTRS)
_reg("powi", "binary", _powi, ("x", "n"), _scalar_traits("powi"), dict(_EW_ATTRS, ieee=_IEEE))
for _n in ("isnan", "isinf", "isfinite"):
    _reg(_n, "predicate", _isx, ("x",), _EW, _EW_ATTRS)
_reg("select", "select", _select, ("cond", "x", "y"), _EW, _EW_ATTRS)
_reg("cast", "cast", _cast, ("x",), _scalar_traits("cast"),
     dict(_EW_ATTRS, to=Attr((str,), True, "the target element type name")))
_reg("const", "const", _const, (), (Trait.PURE, Trait.REMAT),
     {"value": Attr((int, float, bool), True, "the constant"), "type": _DTYPE})
_reg("undef", "const", _undef, (), (Trait.PURE, Trait.ALLOCATES),
     {"type": Attr((str,), True, "the value's type (any type, as printed)")})


# -- arrays -----------------------------------------------------------------------------------
def _alloc(ts, attrs):
    _check(all(t == I64 for t in ts), "array dims must be i64 scalars")
    return [ArrayType(SCALARS[attrs["dtype"]], len(ts))]


def _full(ts, attrs):
    _check(all(t == I64 for t in ts[:-1]), "array dims must be i64 scalars")
    _check(ts[-1] == SCALARS[attrs["dtype"]], "fill value dtype must match")
    return [ArrayType(SCALARS[attrs["dtype"]], len(ts) - 1)]


def _arange(ts, attrs):
    dt = SCALARS[attrs["dtype"]]
    _check(len(ts) == 3 and all(t == dt for t in ts), "arange expects (start, stop, step)")
    return [ArrayType(dt, 1)]


def _copy(ts, attrs):
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType), "copy expects an array")
    return [ts[0]]


def _dim(ts, attrs):
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType), "dim expects an array")
    _check(0 <= attrs["axis"] < ts[0].ndim, "dim axis out of range")
    return [I64]


def _getitem(ts, attrs):
    arr, idx = ts[0], ts[1:]
    _check(isinstance(arr, ArrayType) and 0 < len(idx) <= arr.ndim, "getitem: bad index count")
    _check(all(t == I64 for t in idx), "getitem: indices must be i64")
    return [_shape(arr.dtype, arr.ndim - len(idx))]


def _setitem(ts, attrs):
    arr, val, idx = ts[0], ts[1], ts[2:]
    _check(isinstance(arr, ArrayType) and 0 < len(idx) <= arr.ndim, "setitem: bad index count")
    _check(all(t == I64 for t in idx), "setitem: indices must be i64")
    _check(scalar_of(val) == arr.dtype, "setitem: value dtype must match the array")
    _check(ndim_of(val) <= arr.ndim - len(idx), "setitem: value has too many dims")
    return [arr]


def slice_spec_counts(spec: str) -> tuple[int, int]:
    """(number of dynamic operands, resulting ndim contribution) of a slice spec string."""
    parsed = SliceSpec.parse(spec)
    return parsed.nops, parsed.kept


def _slice_spec(attrs) -> SliceSpec:
    try:
        return SliceSpec.parse(attrs["spec"])
    except ValueError as e:
        raise IRTypeError(str(e)) from None


def _getslice(ts, attrs):
    arr, spec = ts[0], _slice_spec(attrs)
    _check(isinstance(arr, ArrayType) and len(spec.axes) <= arr.ndim, "getslice: too many axes")
    _check(len(ts) == 1 + spec.nops and all(t == I64 for t in ts[1:]), "getslice: operands")
    return [ArrayType(arr.dtype, spec.result_ndim(arr.ndim))]


def _setslice(ts, attrs):
    arr, val, spec = ts[0], ts[1], _slice_spec(attrs)
    _check(isinstance(arr, ArrayType) and len(spec.axes) <= arr.ndim, "setslice: too many axes")
    _check(len(ts) == 2 + spec.nops and all(t == I64 for t in ts[2:]), "setslice: operands")
    _check(scalar_of(val) == arr.dtype, "setslice: value dtype must match the array")
    _check(ndim_of(val) <= spec.result_ndim(arr.ndim), "setslice: value has too many dims")
    return [arr]


def _reduce(ts, attrs):
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType), "reduction expects an array")
    axis = attrs.get("axis")
    _check(axis is None or 0 <= axis < ts[0].ndim, "reduction axis out of range")
    return [_shape(ts[0].dtype, 0 if axis is None else ts[0].ndim - 1)]


def _reduce_or(ts, attrs):
    out = _reduce(ts, attrs)
    _check(ts[0].dtype.is_int, "reduce_or expects an integer array")
    return out


def _matmul(ts, attrs):
    _check(len(ts) == 2 and all(isinstance(t, ArrayType) for t in ts), "matmul expects arrays")
    a, b = ts
    _check(a.ndim in (1, 2) and b.ndim in (1, 2), "matmul supports 1-D and 2-D arrays")
    dt = _same_dtype(ts, "matmul")
    return [_shape(dt, a.ndim + b.ndim - 2)]


def _transpose(ts, attrs):
    # swaps the first two axes (a trailing tangent-lane axis stays last)
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType) and ts[0].ndim >= 2,
           "transpose expects an array of 2 or more dims")
    return [ts[0]]


def _size(ts, attrs):
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType), "size expects an array")
    return [I64]


_ALLOC = (Trait.PURE, Trait.ALLOCATES)
_READ = (Trait.PURE, Trait.READS_ARRAY)
for _n in ("zeros", "ones", "empty"):
    _reg(_n, "alloc", _alloc, ("*dims",), _ALLOC, {"dtype": _DTYPE})
_reg("full", "alloc", _full, ("*dims", "fill"), _ALLOC, {"dtype": _DTYPE})
_reg("arange", "alloc", _arange, ("start", "stop", "step"), _ALLOC, {"dtype": _DTYPE})
_reg("copy", "array", _copy, ("array",), _ALLOC + (Trait.READS_ARRAY,))
_reg("dim", "array", _dim, ("array",), _READ + (Trait.REMAT,),
     {"axis": Attr((int,), True, "the axis whose extent is read")})
_reg("size", "array", _size, ("array",), _READ + (Trait.REMAT,))
_reg("getitem", "index", _getitem, ("array", "*indices"), _READ, {"inbounds": _INBOUNDS})
_reg("setitem", "index", _setitem, ("array", "value", "*indices"),
     (Trait.PURE, Trait.WRITES_ARRAY), {"inbounds": _INBOUNDS})
_SPEC = Attr((str,), True, "the slice spec (see ir/slices.py)")
_reg("getslice", "index", _getslice, ("array", "*bounds"), _READ, {"spec": _SPEC})
_reg("setslice", "index", _setslice, ("array", "value", "*bounds"),
     (Trait.PURE, Trait.WRITES_ARRAY), {"spec": _SPEC})
for _n in ("sum", "prod", "max", "min", "mean"):
    _reg(_n, "reduce", _reduce, ("array",), _READ + (Trait.REDUCTION,), {"axis": _AXIS})
_reg("reduce_or", "reduce", _reduce_or, ("array",), _READ + (Trait.REDUCTION,), {"axis": _AXIS})
_reg("matmul", "linalg", _matmul, ("a", "b"), _READ)
_reg("transpose", "array", _transpose, ("array",), (Trait.PURE, Trait.SHARES_STORAGE))


# -- breadth (issue 16): shape functions -------------------------------------------------------
def _reshape(ts, attrs):
    # the leading axes of x become `dims` (C order); the frontend checks the sizes agree
    _check(len(ts) >= 2 and isinstance(ts[0], ArrayType) and all(t == I64 for t in ts[1:]),
           "reshape expects (array, *i64 dims)")
    return [ArrayType(ts[0].dtype, len(ts) - 1)]


def _permute(ts, attrs):
    # the leading len(axes) axes permuted (output axis j is input axis axes[j]); trailing
    # axes (a tangent-lane axis) stay last
    axes = attrs["axes"]
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType) and len(axes) <= ts[0].ndim and
           sorted(axes) == list(range(len(axes))), "permute expects an array and a permutation")
    return [ts[0]]


_reg("reshape", "array", _reshape, ("array", "*dims"), (Trait.PURE, Trait.SHARES_STORAGE))
_reg("permute", "array", _permute, ("array",), (Trait.PURE, Trait.SHARES_STORAGE),
     {"axes": Attr((tuple,), True, "output axis j is input axis axes[j]")})


# -- helpers that derivative code needs ----------------------------------------------------------
def _sum_to(ts, attrs):
    g, like = ts
    _check(scalar_of(g) == scalar_of(like), "sum_to: dtypes differ")
    _check(ndim_of(g) >= ndim_of(like), "sum_to: gradient has fewer dims than the target")
    return [like]


def _broadcast_like(ts, attrs):
    # (x, like) -> x broadcast to like's shape; (x, like, lanes) adds a trailing lane axis
    x, like = ts[0], ts[1]
    _check(len(ts) == 2 or ts[2] == I64, "broadcast_like: lanes must be i64")
    return [_shape(scalar_of(x), ndim_of(like) + (len(ts) == 3))]


def _expand(ts, attrs):
    _check(len(ts) == 1, "expand takes one operand")
    _check(0 <= attrs["axis"] <= ndim_of(ts[0]), "expand axis out of range")
    return [ArrayType(scalar_of(ts[0]), ndim_of(ts[0]) + 1)]


def _lmatmul(ts, attrs):
    # matmul where one operand ('a' or 'b') carries a trailing lane axis
    a, b = ts
    side = attrs["lanes"]
    an = a.ndim - (side == "a")
    bn = b.ndim - (side == "b")
    _check(an in (1, 2) and bn in (1, 2), "lmatmul supports 1-d and 2-d operands")
    _check(scalar_of(a) == scalar_of(b), "lmatmul: dtypes differ")
    return [ArrayType(scalar_of(a), an + bn - 2 + 1)]


def _tape_new(ts, attrs):
    return [TapeType(parse_type(attrs["type"]))]


def _tape_push(ts, attrs):
    _check(len(ts) == 2 and isinstance(ts[0], TapeType) and ts[0].elem == ts[1],
           "tape_push(tape<T>, T)")
    return []


def _tape_pop(ts, attrs):
    _check(len(ts) == 1 and isinstance(ts[0], TapeType), "tape_pop(tape<T>)")
    return [ts[0].elem]


_reg("sum_to", "linalg", _sum_to, ("x", "like"), (Trait.PURE, Trait.SHARES_STORAGE))
_reg("broadcast_like", "array", _broadcast_like, ("x", "like", "?lanes"), (Trait.PURE,))
_reg("expand", "array", _expand, ("x",), (Trait.PURE, Trait.SHARES_STORAGE),
     {"axis": Attr((int,), True, "where the new axis goes")})
_reg("lmatmul", "linalg", _lmatmul, ("a", "b"), _READ,
     {"lanes": Attr((str,), True, "which operand ('a' or 'b') has the trailing lane axis")})


def _tape_reserve(ts, attrs):
    # an array tape may name an array like its entries: room for their bytes too
    _check(len(ts) in (2, 3) and isinstance(ts[0], TapeType) and ts[1] == I64 and
           (len(ts) == 2 or ts[2] == ts[0].elem), "tape_reserve(tape<T>, i64[, T])")
    return []


def _tape_budget(ts, attrs):
    _check(ts == [I64] and isinstance(attrs.get("limit"), int), "tape_budget(i64) {limit=int}")
    return []


_EFF = (Trait.EFFECT,)
_reg("tape_new", "tape", _tape_new, (), (Trait.ALLOCATES,),
     {"type": Attr((str,), True, "the entry type")})
_reg("tape_budget", "tape", _tape_budget, ("estimate",), _EFF,
     {"limit": Attr((int,), True, "bytes of tape above which the program stops")})
_reg("tape_reserve", "tape", _tape_reserve, ("tape", "count", "?like"), _EFF)
_reg("tape_push", "tape", _tape_push, ("tape", "value"), _EFF,
     {"checked": _CHECKED, "guarded": _GUARDED})
_reg("tape_pop", "tape", _tape_pop, ("tape",), _EFF, {"guarded": _GUARDED})


# which error a failed `check` raises: a shape mismatch, an invalid value (ValueError), or a
# local variable read where it was never assigned (UnboundLocalError, as CPython), or a float
# that does not fit an int64 (OverflowError)
CHECK_KINDS = ("shape", "value", "unbound", "overflow", "zerodiv", "convergence")


def _check_op(ts, attrs):
    _check(ts in ([BOOL], [BOOL, F64]) and isinstance(attrs.get("message"), str) and
           attrs.get("kind") in CHECK_KINDS, "check(bool) {message=str, kind=" + "|".join(CHECK_KINDS) + "}")
    _check(not attrs.get("warn") or attrs["kind"] == "convergence",
           "check {warn=true} is for kind 'convergence' only")
    return []


# a run-time condition that lowered array code must meet (broadcastable extents, non-empty
# reductions); false stops the program with `message`
_reg("check", "check", _check_op, ("cond", "?detail"), _EFF,
     {"message": Attr((str,), True, "the error raised; '{detail}' in it is replaced by the "
                                    "optional f64 operand (an achieved residual, say)"),
      "kind": Attr((str,), True, "'shape', 'value', 'unbound', 'overflow', 'zerodiv' or "
                                 "'convergence': which error class"),
      "warn": Attr((bool,), False, "report a failed 'convergence' check as a "
                                   "ConvergenceWarning and go on (on_failure='warn')")})

# ops with an effect (on a tape, or stopping the program): never removed or reordered
EFFECTFUL = frozenset(n for n, p in PRIMITIVES.items() if Trait.EFFECT in p.traits)


# -- structured control flow ------------------------------------------------------------------
def _for(ts, attrs):
    _check(len(ts) >= 3 and all(t == I64 for t in ts[:3]), "for expects (lb, ub, step, *init)")
    return list(ts[3:])


def _while(ts, attrs):
    return list(ts)


def _if(ts, attrs):
    _check(len(ts) == 1 and ts[0] == BOOL, "if expects one bool condition")
    return None  # result types are whatever the branches yield; the verifier checks that


def _terminator(ts, attrs):
    return []


def _custom(ts, attrs):
    _check(isinstance(attrs.get("rule"), int), "custom needs a rule id")
    return None  # results are what the region yields; the verifier checks that


_CTRL = (Trait.CONTROL,)
_reg("custom", "control", _custom, ("*args",), _CTRL,
     {"rule": Attr((int,), True, "the custom rule's id in the rule registry"),
      "nres": Attr((int,), doc="reverse mode: trailing results are residuals for the rule")},
     nregions=1)
_reg("for", "control", _for, ("lb", "ub", "step", "*inits"), _CTRL,
     dict(_CHECKPOINT, adjoint=Attr((bool,), doc="reverse mode: the loop runs an adjoint sweep "
                                    "(its sums into adjoints may be reordered: split_sums)"),
          remainder=Attr((bool,), doc="a few iterations at the ends of a gathered adjoint "
                         "loop (split_sums): checked indices, not versioned by bounds")),
     nregions=1)
_reg("while", "control", _while, ("*inits",), _CTRL, _CHECKPOINT, nregions=2)
_reg("if", "control", _if, ("cond",), _CTRL, nregions=2)
for _n in ("yield", "condition", "return"):
    _reg(_n, "control", _terminator, ("*values",), (Trait.TERMINATOR,))

# forward mode marks any op without regions that computes on tangent lanes
for _p in PRIMITIVES.values():
    if not _p.nregions and not _p.terminator:
        _p.attrs.setdefault("lane_op", _LANE_OP)

ELEMENTWISE_KINDS = ("unary", "binary", "compare", "logical", "predicate", "select", "cast")


def check_operands(prim: Primitive, n: int) -> str | None:
    """Why `n` operands do not fit the primitive's operand roles, or None (remembered per
    primitive and count: the verifier asks for every op after every pass)."""
    key = (prim.name, prim.operands, n)
    if key not in _ARITY:
        _ARITY[key] = _check_operands(prim, n)
    return _ARITY[key]


_ARITY: dict[tuple, str | None] = {}


def _check_operands(prim: Primitive, n: int) -> str | None:
    fixed = sum(not r.startswith(("*", "?")) for r in prim.operands)
    optional = sum(r.startswith("?") for r in prim.operands)
    if any(r.startswith("*") for r in prim.operands):
        return None if n >= fixed else f"expects at least {fixed} operands, has {n}"
    if fixed <= n <= fixed + optional:
        return None
    want = fixed if not optional else f"{fixed} to {fixed + optional}"
    return f"expects {want} operands ({', '.join(prim.operands)}), has {n}"


def check_attrs(prim: Primitive, attrs: dict[str, Any]) -> str | None:
    """Why `attrs` do not fit the primitive's declaration, or None."""
    for name, value in attrs.items():
        spec = prim.attrs.get(name)
        if spec is None:
            return f"undeclared attribute {name!r}"
        if not isinstance(value, spec.types) or (isinstance(value, bool) and
                                                 bool not in spec.types):
            return f"attribute {name}={value!r} is not {'/'.join(t.__name__ for t in spec.types)}"
    for name, spec in prim.attrs.items():
        if spec.required and name not in attrs:
            return f"missing attribute {name!r}"
    return None
