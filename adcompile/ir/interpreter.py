"""Reference interpreter: runs IR with NumPy, op by op. The oracle for every other path.

It keeps the IR's value semantics literally (a `setitem` copies its array), so it is slow on
purpose and independent of the backends' in-place reasoning.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import messages
from ..errors import TapeBudgetExceeded
from .core import Block, Function, Op
from .primitives import PRIMITIVES
from .slices import SliceSpec
from .types import ArrayType, ScalarType

_Impl = Callable[..., Any]


def _scalar(t: ScalarType, v: Any) -> Any:
    return t.np_dtype.type(v)


def _vec(fn_scalar, fn_np=None):
    """Apply a math function to scalars (CPython semantics) or arrays (NumPy)."""
    def impl(x):
        if isinstance(x, np.ndarray):
            return (fn_np or np.vectorize(fn_scalar, otypes=[x.dtype]))(x)
        return type(x)(fn_scalar(x)) if isinstance(x, np.generic) else fn_scalar(x)
    return impl


def _floordiv(a, b):
    return np.floor_divide(a, b)


def _lgamma(x):
    """C's lgamma, as the backends compute it: CPython raises ValueError at the poles (0, -1,
    -2, ...) and OverflowError for huge x, where C gives +inf."""
    try:
        return math.lgamma(x)
    except (ValueError, OverflowError):
        return math.inf


IMPL: dict[str, _Impl] = {
    "neg": np.negative, "abs": np.abs, "sign": np.sign, "square": np.square,
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sinh": np.sinh,
    "cosh": np.cosh, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "floor": np.floor,
    "ceil": np.ceil, "trunc": np.trunc, "log10": np.log10, "log2": np.log2,
    "erf": _vec(math.erf), "erfc": _vec(math.erfc), "lgamma": _vec(_lgamma),
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": _floordiv, "mod": np.mod, "minimum": np.minimum, "maximum": np.maximum,
    "atan2": np.arctan2, "hypot": np.hypot, "pow": np.power,
    "powi": lambda x, n: np.power(x, type(x)(n) if not isinstance(x, np.ndarray)
                                  else x.dtype.type(n)),
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal, "bitor": np.bitwise_or, "and": np.logical_and, "or": np.logical_or,
    "not": np.logical_not, "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
    "select": np.where,
    "copy": np.copy, "transpose": lambda x: np.ascontiguousarray(np.swapaxes(x, 0, 1)),
    "matmul": lambda a, b: np.asarray(a @ b), "size": lambda x: np.int64(x.size),
}


def _cast_to(t):
    return t.np_dtype.type


def run_function(fn: Function, args: list[Any]) -> Any:
    env: dict[int, Any] = {}
    for a, v in zip(fn.args, args):
        env[a.id] = _convert_in(a.type, v)
    out = _run_block(fn.body, env)
    if fn.returns_tuple:
        return tuple(_convert_out(v) for v in out)
    if not out:
        return None
    return _convert_out(out[0])


def _convert_in(t, v):
    if isinstance(t, ArrayType):
        return np.array(v, dtype=t.dtype.np_dtype)  # a copy: the caller's array is untouched
    return _scalar(t, v)


def _convert_out(v):
    if isinstance(v, np.ndarray):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.float64):
        return float(v)
    return v


def _run_block(block: Block, env: dict[int, Any]) -> list[Any]:
    for op in block.ops:
        p = op.prim
        if p in ("yield", "condition", "return"):
            return [env[v.id] for v in op.operands]
        vals = [env[v.id] for v in op.operands]
        res = _run_op(op, vals, env)
        for r, v in zip(op.results, res or []):
            env[r.id] = v
    return []


def _run_op(op: Op, vals: list[Any], env: dict[int, Any]) -> list[Any]:
    p = op.prim
    if p in IMPL:
        with np.errstate(all="ignore"):
            out = IMPL[p](*vals)
        t = op.results[0].type
        if isinstance(t, ArrayType):
            return [np.asarray(out, dtype=t.dtype.np_dtype)]
        return [_scalar(t, out)]
    fn = _STRUCT.get(p)
    if fn is None:
        raise NotImplementedError(f"interpreter has no rule for '{p}'")
    return fn(op, vals, env)


def _const(op, vals, env):
    return [_scalar(op.results[0].type, op.attrs["value"])]


def _undef(op, vals, env):
    t = op.results[0].type
    if isinstance(t, ArrayType):
        return [np.zeros((0,) * t.ndim, dtype=t.dtype.np_dtype)]
    return [_scalar(t, 0)]


def _cast(op, vals, env):
    t = op.results[0].type
    dt = (t.dtype if isinstance(t, ArrayType) else t).np_dtype
    with np.errstate(all="ignore"):
        x = vals[0]
        if isinstance(x, np.ndarray):
            return [x.astype(dt)]
        if dt.kind == "i" and isinstance(x, (float, np.floating)) and not math.isfinite(x):
            return [np.int64(np.iinfo(np.int64).min)]
        return [dt.type(x)]


def _alloc(op, vals, env):
    dt = np.dtype(op.results[0].type.dtype.np_dtype)
    if op.prim == "full":
        return [np.full(tuple(int(v) for v in vals[:-1]), vals[-1], dtype=dt)]
    dims = tuple(int(v) for v in vals)
    maker = {"zeros": np.zeros, "ones": np.ones, "empty": np.zeros}[op.prim]
    return [maker(dims, dtype=dt)]


def _arange(op, vals, env):
    return [np.arange(vals[0], vals[1], vals[2], dtype=op.results[0].type.dtype.np_dtype)]


def _dim(op, vals, env):
    return [np.int64(vals[0].shape[op.attrs["axis"]])]


def _getitem(op, vals, env):
    x = vals[0][tuple(int(i) for i in vals[1:])]
    return [np.array(x) if isinstance(x, np.ndarray) else x]


def _setitem(op, vals, env):
    x = vals[0].copy()
    x[tuple(int(i) for i in vals[2:])] = vals[1]
    return [x]


def _slices(spec: str, ops: list[Any]) -> tuple:
    def num(x):
        return None if x is None else int(x)
    return tuple(int(b.index) if b.is_index else slice(num(b.start), num(b.stop), num(b.step))
                 for b in SliceSpec.parse(spec).bind(ops))


def _getslice(op, vals, env):
    return [np.array(vals[0][_slices(op.attrs["spec"], vals[1:])])]


def _setslice(op, vals, env):
    x = vals[0].copy()
    x[_slices(op.attrs["spec"], vals[2:])] = vals[1]
    return [x]


def _reduce(op, vals, env):
    fn = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min,
          "mean": np.mean, "reduce_or": np.bitwise_or.reduce}[op.prim]
    t = op.results[0].type
    out = fn(vals[0], axis=op.attrs.get("axis"))
    if isinstance(t, ArrayType):
        return [np.asarray(out, dtype=t.dtype.np_dtype)]
    return [_scalar(t, out)]


def _for(op, vals, env):
    lb, ub, step = (int(v) for v in vals[:3])
    carried = list(vals[3:])
    body = op.regions[0]
    for i in range(lb, ub, step):
        env[body.args[0].id] = np.int64(i)
        for a, v in zip(body.args[1:], carried):
            env[a.id] = v
        carried = _run_block(body, env)
    return carried


def _while(op, vals, env):
    cond, body = op.regions
    carried = list(vals)
    while True:
        for a, v in zip(cond.args, carried):
            env[a.id] = v
        (go,) = _run_block(cond, env)
        if not go:
            return carried
        for a, v in zip(body.args, carried):
            env[a.id] = v
        carried = _run_block(body, env)


def _custom(op, vals, env):
    region = op.regions[0]
    for a, v in zip(region.args, vals):
        env[a.id] = v
    return _run_block(region, env)


def _if(op, vals, env):
    return _run_block(op.regions[0] if vals[0] else op.regions[1], env)


def _sum_to(op, vals, env):
    return [_sum_to_impl(vals[0], vals[1], op.results[0].type)]


def _sum_to_impl(g, like, t):
    g = np.asarray(g)
    if not isinstance(t, ArrayType):
        return _scalar(t, np.sum(g))
    while g.ndim > like.ndim:
        g = g.sum(axis=0)
    for ax in range(like.ndim):
        if like.shape[ax] == 1 and g.shape[ax] != 1:
            g = g.sum(axis=ax, keepdims=True)
    return np.ascontiguousarray(g, dtype=t.dtype.np_dtype)


def _broadcast_like(op, vals, env):
    x, like = vals[0], vals[1]
    shape = np.shape(like) + ((int(vals[2]),) if len(vals) == 3 else ())
    t = op.results[0].type
    out = np.array(np.broadcast_to(x, shape), dtype=(t.dtype if isinstance(t, ArrayType)
                                                      else t).np_dtype)
    return [out if isinstance(t, ArrayType) else _scalar(t, out)]


def _expand(op, vals, env):
    return [np.expand_dims(np.asarray(vals[0]), op.attrs["axis"])]


def _reshape(op, vals, env):   # breadth (issue 16)
    return [np.array(np.reshape(vals[0], tuple(int(d) for d in vals[1:])))]


def _permute(op, vals, env):
    axes = tuple(op.attrs["axes"])
    x = vals[0]
    return [np.ascontiguousarray(np.transpose(x, axes + tuple(range(len(axes), x.ndim))))]


def _lmatmul(op, vals, env):
    a, b = (np.asarray(v) for v in vals)
    if op.attrs["lanes"] == "a":
        out = _lanes_a(a, b)
    else:
        out = np.stack([a @ b[..., lane] for lane in range(b.shape[-1])], axis=-1)
    return [np.asarray(out, dtype=op.results[0].type.dtype.np_dtype)]


def _lanes_a(a, b):
    return np.stack([a[..., lane] @ b for lane in range(a.shape[-1])], axis=-1)


def _tape_new(op, vals, env):
    return [[]]


def _tape_push(op, vals, env):
    vals[0].append(vals[1].copy() if isinstance(vals[1], np.ndarray) else vals[1])
    return []


def _tape_pop(op, vals, env):
    return [vals[0].pop()]


def _check(op, vals, env):
    if not vals[0]:
        if op.attrs.get("warn"):
            from ..errors import warn_convergence
            warn_convergence(op.attrs["message"], vals[1] if len(vals) > 1 else None, 3)
            return []
        if op.attrs["kind"] == "convergence":
            from ..errors import ConvergenceError, format_detail
            raise ConvergenceError(format_detail(op.attrs["message"],
                                                 vals[1] if len(vals) > 1 else None), op.loc)
        if op.attrs["kind"] == "unbound":
            raise UnboundLocalError(op.attrs["message"])
        if op.attrs["kind"] == "overflow":
            raise OverflowError(op.attrs["message"])
        if op.attrs["kind"] == "zerodiv":
            raise ZeroDivisionError(op.attrs["message"])
        raise ValueError(op.attrs["message"])
    return []


def _tape_budget(op, vals, env):
    if vals[0] > op.attrs["limit"]:
        raise TapeBudgetExceeded(messages.tape_budget(op.attrs["limit"], op.loc))
    return []


_STRUCT = {"const": _const, "undef": _undef, "cast": _cast, "zeros": _alloc, "ones": _alloc,
           "empty": _alloc, "full": _alloc, "arange": _arange, "dim": _dim,
           "getitem": _getitem, "setitem": _setitem, "getslice": _getslice,
           "setslice": _setslice, "sum": _reduce, "prod": _reduce, "max": _reduce,
           "min": _reduce, "mean": _reduce, "reduce_or": _reduce, "for": _for, "while": _while, "if": _if, "custom": _custom,
           "sum_to": _sum_to, "broadcast_like": _broadcast_like, "expand": _expand,
           "lmatmul": _lmatmul, "tape_new": _tape_new, "tape_push": _tape_push,
           "tape_pop": _tape_pop, "tape_reserve": lambda op, vals, env: [],
           "tape_budget": _tape_budget, "check": _check,
           "reshape": _reshape, "permute": _permute}

MISSING = sorted(set(PRIMITIVES) - set(IMPL) - set(_STRUCT) - {"yield", "condition", "return"})
assert not MISSING, f"interpreter lacks rules for {MISSING}"


class _CountingTape(list):
    """A tape that adds the bytes of what is pushed to its owner's total."""

    def __init__(self, total: list[int]):
        super().__init__()
        self.total = total

    def append(self, v):
        self.total[0] += v.nbytes if isinstance(v, np.ndarray) else 8
        super().append(v)


def tape_bytes(fn: Function, args: list[Any]) -> int:
    """Run `fn` and return the bytes its tapes recorded (arrays by size, scalars as 8): how
    the tape-or-recompute and implicit-derivative measurements count memory."""
    total = [0]
    old = _STRUCT["tape_new"]
    _STRUCT["tape_new"] = lambda op, vals, env: [_CountingTape(total)]
    try:
        run_function(fn, list(args))
    finally:
        _STRUCT["tape_new"] = old
    return total[0]
