"""The primitive set of the IR and each primitive's type rule.

Every op names a primitive from `PRIMITIVES`. The type rule computes result types from operand
types and attributes; the verifier re-runs it on every op, so a pass that builds an ill-typed
op is caught right after it runs. Interpreter, backends and derivative tables are separate
tables keyed by these names; tests check that each table covers every primitive.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .types import (BOOL, I64, SCALARS, ArrayType, ScalarType, TapeType, Type, ndim_of,
                    parse_type, scalar_of)


class IRTypeError(Exception):
    """An op whose operand types do not fit its primitive (a compiler bug or bad IR text)."""


@dataclass(frozen=True)
class Primitive:
    name: str
    kind: str  # 'unary', 'binary', 'compare', 'logical', 'array', 'reduce', 'control', ...
    rule: Callable[[list[Type], dict[str, Any]], list[Type]]
    nregions: int = 0
    terminator: bool = False


PRIMITIVES: dict[str, Primitive] = {}


def _reg(name: str, kind: str, rule, nregions: int = 0, terminator: bool = False) -> None:
    PRIMITIVES[name] = Primitive(name, kind, rule, nregions, terminator)


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
    _check(len(ts) == 2 and scalar_of(ts[0]).is_float and ts[1] == I64,
           "powi expects (float, i64 scalar)")
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
    from .types import parse_type
    return [parse_type(attrs["type"])]


for _n in FLOAT_UNARY:
    _reg(_n, "unary", _float_unary)
for _n in SAME_UNARY:
    _reg(_n, "unary", _same_unary)
for _n in FLOAT_BINARY:
    _reg(_n, "binary", _float_binary)
for _n in SAME_BINARY:
    _reg(_n, "binary", _same_binary)
for _n in COMPARE:
    _reg(_n, "compare", _compare)
for _n in LOGICAL:
    _reg(_n, "logical", _logical)
_reg("not", "logical", _not)
_reg("powi", "binary", _powi)
_reg("isnan", "predicate", _isx)
_reg("isinf", "predicate", _isx)
_reg("isfinite", "predicate", _isx)
_reg("select", "select", _select)
_reg("cast", "cast", _cast)
_reg("const", "const", _const)
_reg("undef", "const", _undef)


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
    """(number of dynamic operands, resulting ndim contribution) of a slice spec string.

    A spec is one entry per leading axis, comma separated: `i` (an index operand), or `s`
    followed by three flags for start/stop/step operands present, e.g. `s110`.
    """
    nops = kept = 0
    for part in spec.split(","):
        if part == "i":
            nops += 1
        else:
            nops += sum(c == "1" for c in part[1:])
            kept += 1
    return nops, kept


def _getslice(ts, attrs):
    arr = ts[0]
    spec = attrs["spec"]
    nparts = len(spec.split(","))
    nops, kept = slice_spec_counts(spec)
    _check(isinstance(arr, ArrayType) and nparts <= arr.ndim, "getslice: too many axes")
    _check(len(ts) == 1 + nops and all(t == I64 for t in ts[1:]), "getslice: operands")
    return [ArrayType(arr.dtype, arr.ndim - nparts + kept)]


def _setslice(ts, attrs):
    arr, val = ts[0], ts[1]
    spec = attrs["spec"]
    nparts = len(spec.split(","))
    nops, kept = slice_spec_counts(spec)
    _check(isinstance(arr, ArrayType) and nparts <= arr.ndim, "setslice: too many axes")
    _check(len(ts) == 2 + nops and all(t == I64 for t in ts[2:]), "setslice: operands")
    _check(scalar_of(val) == arr.dtype, "setslice: value dtype must match the array")
    _check(ndim_of(val) <= arr.ndim - nparts + kept, "setslice: value has too many dims")
    return [arr]


def _reduce(ts, attrs):
    _check(len(ts) == 1 and isinstance(ts[0], ArrayType), "reduction expects an array")
    axis = attrs.get("axis")
    _check(axis is None or 0 <= axis < ts[0].ndim, "reduction axis out of range")
    return [_shape(ts[0].dtype, 0 if axis is None else ts[0].ndim - 1)]


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


_reg("zeros", "alloc", _alloc)
_reg("ones", "alloc", _alloc)
_reg("empty", "alloc", _alloc)
_reg("full", "alloc", _full)
_reg("arange", "alloc", _arange)
_reg("copy", "array", _copy)
_reg("dim", "array", _dim)
_reg("size", "array", _size)
_reg("getitem", "index", _getitem)
_reg("setitem", "index", _setitem)
_reg("getslice", "index", _getslice)
_reg("setslice", "index", _setslice)
for _n in ("sum", "prod", "max", "min", "mean"):
    _reg(_n, "reduce", _reduce)
_reg("matmul", "linalg", _matmul)
_reg("transpose", "array", _transpose)


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


_reg("sum_to", "linalg", _sum_to)
_reg("broadcast_like", "array", _broadcast_like)
_reg("expand", "array", _expand)
_reg("lmatmul", "linalg", _lmatmul)
def _tape_reserve(ts, attrs):
    # an array tape may name an array like its entries: room for their bytes too
    _check(len(ts) in (2, 3) and isinstance(ts[0], TapeType) and ts[1] == I64 and
           (len(ts) == 2 or ts[2] == ts[0].elem), "tape_reserve(tape<T>, i64[, T])")
    return []


def _tape_budget(ts, attrs):
    _check(ts == [I64] and isinstance(attrs.get("limit"), int), "tape_budget(i64) {limit=int}")
    return []


_reg("tape_new", "tape", _tape_new)
_reg("tape_budget", "tape", _tape_budget)
_reg("tape_reserve", "tape", _tape_reserve)
_reg("tape_push", "tape", _tape_push)
_reg("tape_pop", "tape", _tape_pop)

def _check_op(ts, attrs):
    _check(ts == [BOOL] and isinstance(attrs.get("message"), str) and
           attrs.get("kind") in ("shape", "value"), "check(bool) {message=str, kind=shape|value}")
    return []


# a run-time condition that lowered array code must meet (broadcastable extents, non-empty
# reductions); false stops the program with `message`
_reg("check", "check", _check_op)

# ops with an effect (on a tape, or stopping the program): never removed or reordered by
# cleanup passes
EFFECTFUL = {"tape_push", "tape_pop", "tape_reserve", "tape_budget", "check"}


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


_reg("custom", "control", _custom, nregions=1)
_reg("for", "control", _for, nregions=1)
_reg("while", "control", _while, nregions=2)
_reg("if", "control", _if, nregions=2)
_reg("yield", "control", _terminator, terminator=True)
_reg("condition", "control", _terminator, terminator=True)
_reg("return", "control", _terminator, terminator=True)

ELEMENTWISE_KINDS = ("unary", "binary", "compare", "logical", "predicate", "select", "cast")
