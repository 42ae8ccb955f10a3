"""numba backend, part 1: IR -> readable Python source for `numba.njit`.

Expects IR after `transforms.inplace.insert_copies`, so every `setitem` is emitted as an
in-place write and takes the Python name of the array it writes into. Structured ops become
Python `for`/`while`/`if` statements; loop-carried values are plain variables re-assigned at
the end of the body.
"""
from __future__ import annotations

import keyword
import math
from typing import Callable

from .. import messages
from ..ir.core import Function, Op, Value
from ..ir.slices import SliceSpec
from ..ir.types import ArrayType, ScalarType, scalar_of
from .text.emitter import Names, StructuredEmitter

_RESERVED = set(keyword.kwlist) | {"np", "math", "rt", "range", "len", "int", "float", "bool",
                                   "abs", "min", "max", "True", "False", "None", "print"}

# scalar f64 uses `math`, everything else NumPy's ufuncs (they keep float32 as float32)
_MATH_NAMES = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1",
               "sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh",
               "sinh": "sinh", "cosh": "cosh", "asin": "asin", "acos": "acos", "atan": "atan",
               "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "floor": "floor",
               "ceil": "ceil", "trunc": "trunc", "log10": "log10", "log2": "log2",
               "erf": "erf", "erfc": "erfc", "lgamma": "lgamma"}
_NP_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
             "acosh": "arccosh", "atanh": "arctanh"}
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
          "pow": "**", "powi": "**", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
          "eq": "==", "ne": "!=", "bitor": "|"}


def _const_src(value, t: ScalarType) -> str:
    if t.is_bool:
        return repr(bool(value))
    if t.is_int:
        return repr(int(value))
    if math.isnan(value):
        text = "np.nan"
    elif math.isinf(value):
        text = "np.inf" if value > 0 else "-np.inf"
    else:
        text = repr(float(value))
    return text if t.name == "f64" else f"np.float32({text})"


def _is_arr(v: Value) -> bool:
    return isinstance(v.type, ArrayType)


def _dtype_src(t) -> str:
    return f"np.{t.np_name}"


class NumbaCodegen(StructuredEmitter):
    """Python source for numba: control flow from the shared emitter, one statement per op
    through `_EXPR` (expressions) or the cases below (tapes, writes, checks)."""

    def __init__(self, fn: Function):
        super().__init__(fn, Names(_RESERVED))

    def generate(self, pyname: str) -> str:
        args = [self.names.define(a) for a in self.fn.args]
        self.emit(0, "@njit(cache=True, nogil=True)")
        self.emit(0, f"def {pyname}({', '.join(args)}):")
        self.block(self.fn.body, 1)
        return "\n".join(self.lines) + "\n"

    def statement(self, op: Op, depth: int) -> None:
        special = _STATEMENTS.get(op.prim)
        if special is not None:
            special(self, op, depth)
            return
        expr = self.expr(op)
        self.emit(depth, f"{self.names.define(op.result)} = {expr}")

    def _return(self, op: Op, depth: int) -> None:
        vals = [self.names[v] for v in op.operands]
        if not vals:
            self.emit(depth, "return None")
        elif self.fn.returns_tuple:
            self.emit(depth, f"return ({', '.join(vals)}{',' if len(vals) == 1 else ''})")
        else:
            self.emit(depth, f"return {vals[0]}")

    def _tape_push(self, op: Op, depth: int) -> None:
        tape, v = op.operands
        t = self.names[tape]
        if isinstance(tape.type.elem, ArrayType):
            # the tape keeps this version: later in-place writes must not reach it
            self.emit(depth, f"{t}.append({self.names[v]}.copy())")
            return
        if op.attrs.get("guarded") and not op.attrs.get("checked"):
            self.emit(depth, f"if {t}_n >= {t}.shape[0]:")
            self.emit(depth + 1, f"raise rt.TapeBoundsError({self._where(op, messages.TAPE_OVERFLOW)!r})")
        # a scalar tape is an array plus a count; `tape_reserve` before the enclosing
        # for-loop made room, so only pushes under a `while` check for space
        if op.attrs.get("checked"):
            self.emit(depth, f"if {t}_n == {t}.shape[0]:")
            self.emit(depth + 1, f"{t} = rt.grow({t})")
        self.emit(depth, f"{t}[np.uint64({t}_n)] = {self.names[v]}")
        self.emit(depth, f"{t}_n += 1")

    def _check(self, op: Op, depth: int) -> None:
        self.emit(depth, f"if not {self.names[op.operands[0]]}:")
        where = f"{op.loc.filename}:{op.loc.line}: " if op.loc is not None else ""
        err = {"unbound": "UnboundLocalError", "overflow": "OverflowError",
               "zerodiv": "ZeroDivisionError", "convergence": "rt.ConvergenceFailed"}.get(
            op.attrs["kind"], "rt.CheckFailed")
        detail = f", {self.names[op.operands[1]]}" if len(op.operands) > 1 else ""
        if op.attrs.get("warn"):
            self.emit(depth + 1, f"rt.warn_convergence({where + op.attrs['message']!r}"
                                 f"{detail or ', 0.0'})")
            return
        self.emit(depth + 1, f"raise {err}({where + op.attrs['message']!r}{detail})")

    def _tape_budget(self, op: Op, depth: int) -> None:
        self.emit(depth, f"if {self.names[op.operands[0]]} > {op.attrs['limit']}:")
        self.emit(depth + 1, f"raise rt.TapeBudgetExceeded({messages.tape_budget(op.attrs['limit'], op.loc)!r})")

    def _tape_reserve(self, op: Op, depth: int) -> None:
        tape, count = op.operands[:2]
        if not isinstance(tape.type.elem, ArrayType):   # array tapes are lists: no room
            t = self.names[tape]
            self.emit(depth, f"{t} = rt.reserve({t}, {t}_n + {self.names[count]})")

    def _where(self, op: Op, text: str) -> str:
        return f"{op.loc.filename}:{op.loc.line}: {text}" if op.loc else text

    def _tape_pop(self, op: Op, depth: int) -> None:
        if op.attrs.get("guarded"):
            t = self.names[op.operands[0]]
            empty = f"len({t}) == 0" if isinstance(op.operands[0].type.elem, ArrayType) \
                else f"{t}_n <= 0"
            self.emit(depth, f"if {empty}:")
            self.emit(depth + 1, f"raise rt.TapeBoundsError({self._where(op, messages.TAPE_UNDERFLOW)!r})")
        if isinstance(op.operands[0].type.elem, ArrayType):
            self.emit(depth, f"{self.names.define(op.result)} = "
                             f"{self.names[op.operands[0]]}.pop()")
            return
        t = self.names[op.operands[0]]
        self.emit(depth, f"{t}_n -= 1")
        self.emit(depth, f"{self.names.define(op.result)} = {t}[np.uint64({t}_n)]")

    def _tape_new(self, op: Op, depth: int) -> None:
        elem = op.result.type.elem
        t = self.names.define(op.result)
        if isinstance(elem, ArrayType):
            zeros = ", ".join(["0"] * elem.ndim) + ("," if elem.ndim == 1 else "")
            self.emit(depth, f"{t} = [np.empty(({zeros}), dtype={_dtype_src(elem.dtype)}) "
                             "for _ in range(0)]")
            return
        self.emit(depth, f"{t} = np.empty(256, dtype={_dtype_src(elem)})")
        self.emit(depth, f"{t}_n = 0")

    def _write(self, op: Op, depth: int) -> None:
        arr, val = op.operands[0], op.operands[1]
        idx = self._index(op, op.operands[2:])
        self.emit(depth, f"{self.names[arr]}[{idx}] = {self.names[val]}")
        self.names.define(op.result, self.names[arr])

    def _const(self, op: Op, depth: int) -> None:
        # literals are written where they are used
        self.names.define(op.result, _const_src(op.attrs["value"], op.result.type))

    def _index(self, op: Op, operands: list[Value]) -> str:
        """The subscript; an index not known to be in range is checked (numba itself reads
        past the end silently), negative ones wrap as in NumPy."""
        names = [self.names[v] for v in operands]
        spec = op.attrs.get("spec")
        if spec is None:
            parts = names
            is_index = [True] * len(names)
        else:
            parts, is_index = [], []
            for b in SliceSpec.parse(spec).bind(names):
                is_index.append(b.is_index)
                parts.append(b.index if b.is_index else
                             f"{b.start or ''}:{b.stop or ''}" + (f":{b.step}" if b.step else ""))
        inb = op.attrs.get("inbounds", False)
        arr = self.names[op.operands[0]]
        where = repr(self._where(op, messages.INDEX))   # raised with the user's line
        out = []
        for axis, (part, index) in enumerate(zip(parts, is_index)):
            known = inb if isinstance(inb, bool) else (axis < len(inb) and inb[axis])
            if index and not known:
                part = f"rt.ix({part}, {arr}.shape[{axis}], {where})"
            elif index:
                # in range by proof, hence >= 0: unsigned, so numba adds no wrap-around
                # select (which keeps LLVM from vectorising the loop)
                part = f"np.uint64({part})"
            out.append(part)
        return ", ".join(out)

    def expr(self, op: Op) -> str:
        p, n = op.prim, self.names
        a = [n[v] for v in op.operands]
        t = op.results[0].type
        arr = isinstance(t, ArrayType) or any(_is_arr(v) for v in op.operands)
        rule = _EXPR.get(p)
        if rule is not None:
            return rule(self, op, a, arr)
        if p in _INFIX:
            return f"{a[0]} {_INFIX[p]} {a[1]}"
        if p in _MATH_NAMES:
            if not arr and t.name == "f64":
                return f"math.{_MATH_NAMES[p]}({a[0]})"
            if p in ("erf", "erfc", "lgamma"):  # math-only functions: scalars
                return f"np.float32(math.{p}({a[0]}))"
            return f"np.{_NP_NAMES.get(p, p)}({a[0]})"
        raise NotImplementedError(f"numba backend has no lowering for '{p}'")


def _cast(g, op, a, arr) -> str:
    to = op.attrs["to"]
    if arr:
        return f"{a[0]}.astype(np.{op.results[0].type.dtype.np_name})"
    if op.operands[0].type.name == "bool" and to != "bool":   # numba's float(bool) fails
        # arithmetic, not a conditional expression: stays branch-free in vectorised loops
        return {"f64": f"(1.0 * {a[0]})", "f32": f"(np.float32(1.0) * {a[0]})",
                "i64": f"(1 * {a[0]})"}[to]
    return {"f64": f"float({a[0]})", "f32": f"np.float32({a[0]})", "i64": f"int({a[0]})",
            "bool": f"bool({a[0]})"}[to]


def _alloc(g, op, a, arr) -> str:
    t = op.results[0].type
    dims = ", ".join(a) + ("," if len(a) == 1 else "")
    return f"np.{op.prim}(({dims}), dtype={_dtype_src(t.dtype)})"


def _full(g, op, a, arr) -> str:
    t = op.results[0].type
    dims = ", ".join(a[:-1]) + ("," if len(a) == 2 else "")
    return f"np.full(({dims}), {a[-1]}, dtype={_dtype_src(t.dtype)})"


def _undef(g, op, a, arr) -> str:
    t = op.results[0].type
    if isinstance(t, ArrayType):
        return f"np.empty(({', '.join(['0'] * t.ndim)}{',' if t.ndim == 1 else ''}), " \
               f"dtype={_dtype_src(t.dtype)})"
    return _const_src(0, t)


def _reduce(g, op, a, arr) -> str:
    axis = op.attrs.get("axis")
    x = op.operands[0]
    if axis is None:
        if op.prim == "mean":
            return f"np.mean({a[0]})"
        return f"rt.reduce_or_all({a[0]})" if op.prim == "reduce_or" else f"np.{op.prim}({a[0]})"
    if op.prim == "sum":
        return f"np.sum({a[0]}, axis={axis})"
    return f"rt.{op.prim}_axis{x.type.ndim}({a[0]}, {axis})"


def _matmul(g, op, a, arr) -> str:
    x, y = op.operands
    kind = {(2, 2): "mm", (2, 1): "mv", (1, 2): "vm", (1, 1): "vv"}[(x.type.ndim, y.type.ndim)]
    return f"rt.matmul_{kind}({a[0]}, {a[1]})"


def _logical(g, op, a, arr) -> str:
    if arr:
        return f"np.logical_{op.prim}({a[0]}, {a[1]})"
    return f"{a[0]} {op.prim} {a[1]}"


_IEEE_HELPERS = {"div": "rt.fdiv", "mod": "rt.fmod", "floordiv": "rt.ffloordiv",
                 "powi": "rt.fpow"}


def _division(g, op, a, arr) -> str:
    # derivative code divides by values that may be zero (1 / x of log at 0), lowered array
    # divisions and integer powers are NumPy's: IEEE there (`ieee`), where numba's scalar
    # operators raise ZeroDivisionError as Python does (numba's array operators never raise)
    t = op.results[0].type
    if op.prim == "powi" and scalar_of(t).is_float and (arr or op.attrs.get("ieee")):
        # NumPy's float ** int is C's pow with a float exponent (0.0 ** -1 = inf); numba's
        # `**` by an int raises ZeroDivisionError there, also on arrays
        n = op.operands[1]
        to = _dtype_src(scalar_of(t))
        exp = f"{a[1]}.astype({to})" if _is_arr(n) else f"{to}({a[1]})"
        return f"np.power({a[0]}, {exp})" if arr else f"rt.fpow({a[0]}, {exp})"
    if op.attrs.get("ieee") and not arr and t.is_float:
        return f"{_IEEE_HELPERS[op.prim]}({a[0]}, {a[1]})"
    return f"{a[0]} {_INFIX[op.prim]} {a[1]}"


def _minmax(g, op, a, arr) -> str:
    return f"np.{op.prim}({a[0]}, {a[1]})"


def _sum_to(g, op, a, arr) -> str:
    grad, like = op.operands
    if not isinstance(like.type, ArrayType):
        return f"np.sum({a[0]})" if isinstance(grad.type, ArrayType) else a[0]
    lead = grad.type.ndim - like.type.ndim
    inner = a[0]
    for _ in range(lead):   # unrolled: each sum drops one leading axis (types stay fixed)
        inner = f"np.sum({inner}, axis=0)"
    return f"rt.sum_to{like.type.ndim}({inner}, {a[1]})"


def _broadcast_like(g, op, a, arr) -> str:
    x, like = op.operands[0], op.operands[1]
    t = op.results[0].type
    if not isinstance(t, ArrayType):
        return a[0]
    shape = f"{a[1]}.shape" if isinstance(like.type, ArrayType) else "()"
    if len(a) == 3:
        shape = f"{shape} + ({a[2]},)"
    if isinstance(x.type, ArrayType):
        return f"np.broadcast_to({a[0]}, {shape}).copy()"
    return f"np.full({shape}, {a[0]})"


def _lmatmul(g, op, a, arr) -> str:
    x, y = op.operands
    side = op.attrs["lanes"]
    nx = x.type.ndim - (side == "a")
    ny = y.type.ndim - (side == "b")
    kind = {(2, 2): "mm", (2, 1): "mv", (1, 2): "vm", (1, 1): "vv"}[(nx, ny)]
    return f"rt.lmatmul_{side}_{kind}({a[0]}, {a[1]})"


def _transpose(g, op, a, arr) -> str:
    if op.operands[0].type.ndim == 2:
        return f"np.ascontiguousarray({a[0]}.T)"
    rest = ", ".join(str(i) for i in range(2, op.operands[0].type.ndim))
    return f"np.ascontiguousarray(np.transpose({a[0]}, (1, 0, {rest})))"


def _reshape(g, op, a, arr) -> str:   # breadth (issue 16)
    dims = ", ".join(a[1:]) + ("," if len(a) == 2 else "")
    return f"np.ascontiguousarray({a[0]}).reshape(({dims}))"


def _permute(g, op, a, arr) -> str:
    axes = tuple(op.attrs["axes"])
    full = axes + tuple(range(len(axes), op.operands[0].type.ndim))
    return f"np.ascontiguousarray(np.transpose({a[0]}, {full!r}))"


_EXPR: dict[str, Callable] = {
    "undef": _undef,
    "neg": lambda g, op, a, arr: f"-{a[0]}",
    "abs": lambda g, op, a, arr: f"np.abs({a[0]})" if arr else f"abs({a[0]})",
    "sign": lambda g, op, a, arr: f"np.sign({a[0]})",
    "square": lambda g, op, a, arr: f"{a[0]} * {a[0]}",
    "atan2": lambda g, op, a, arr: (f"np.arctan2({a[0]}, {a[1]})" if arr or
                                    op.results[0].type.name != "f64"
                                    else f"math.atan2({a[0]}, {a[1]})"),
    "hypot": lambda g, op, a, arr: (f"np.hypot({a[0]}, {a[1]})" if arr or
                                    op.results[0].type.name != "f64"
                                    else f"math.hypot({a[0]}, {a[1]})"),
    "div": _division, "mod": _division, "floordiv": _division, "powi": _division,
    "minimum": _minmax, "maximum": _minmax,
    "and": _logical, "or": _logical,
    "not": lambda g, op, a, arr: f"np.logical_not({a[0]})" if arr else f"not {a[0]}",
    "isnan": lambda g, op, a, arr: f"np.isnan({a[0]})",
    "isinf": lambda g, op, a, arr: f"np.isinf({a[0]})",
    "isfinite": lambda g, op, a, arr: f"np.isfinite({a[0]})",
    "select": lambda g, op, a, arr: (f"np.where({a[0]}, {a[1]}, {a[2]})" if arr
                                     else f"{a[1]} if {a[0]} else {a[2]}"),
    "cast": _cast,
    "zeros": _alloc, "ones": _alloc, "empty": _alloc, "full": _full,
    "arange": lambda g, op, a, arr: (f"np.arange({a[0]}, {a[1]}, {a[2]})"
                                     + ("" if op.results[0].type.dtype.name in ("i64", "f64")
                                        else ".astype(np.float32)")),
    "copy": lambda g, op, a, arr: f"{a[0]}.copy()",
    "dim": lambda g, op, a, arr: f"{a[0]}.shape[{op.attrs['axis']}]",
    "size": lambda g, op, a, arr: f"{a[0]}.size",
    "getitem": lambda g, op, a, arr: (f"{a[0]}[{g._index(op, op.operands[1:])}]"
                                      + (".copy()" if isinstance(op.results[0].type, ArrayType)
                                         else "")),
    "getslice": lambda g, op, a, arr: f"{a[0]}[{g._index(op, op.operands[1:])}].copy()",
    "sum": _reduce, "prod": _reduce, "max": _reduce, "min": _reduce, "mean": _reduce, "reduce_or": _reduce,
    "matmul": _matmul,
    "transpose": _transpose,
    "sum_to": _sum_to, "broadcast_like": _broadcast_like, "lmatmul": _lmatmul,
    "expand": lambda g, op, a, arr: f"np.expand_dims({a[0]}, {op.attrs['axis']})",
    "reshape": _reshape, "permute": _permute,
}

_STATEMENTS: dict[str, Callable] = {
    "return": NumbaCodegen._return, "tape_push": NumbaCodegen._tape_push,
    "check": NumbaCodegen._check, "tape_budget": NumbaCodegen._tape_budget,
    "tape_reserve": NumbaCodegen._tape_reserve, "tape_pop": NumbaCodegen._tape_pop,
    "tape_new": NumbaCodegen._tape_new, "setitem": NumbaCodegen._write,
    "setslice": NumbaCodegen._write, "const": NumbaCodegen._const,
}

# every primitive this backend writes (control flow through the shared emitter); the
# registry's coverage test checks it against the primitive set
LOWERS = frozenset(_EXPR) | frozenset(_INFIX) | frozenset(_MATH_NAMES) | frozenset(_STATEMENTS) \
    | {"for", "while", "if", "yield", "condition"}


def generate_module(fn: Function, pyname: str) -> str:
    body = NumbaCodegen(fn).generate(pyname)
    header = ("# Generated by adcompile from "
              f"{fn.loc.filename if fn.loc else '?'}:{fn.loc.line if fn.loc else '?'} "
              f"({fn.name}). Do not edit.\n"
              "import math\n\nimport numpy as np\nfrom numba import njit\n\n"
              "from adcompile.backends import numba_rt as rt\n\n\n")
    return header + body
