"""Expression lowering: names, constants, arithmetic with Python/NumPy promotion, indexing,
attributes, conditional and boolean expressions. Calls are dispatched to `calls`.

Typing follows NumPy 2: Python scalars (literals, scalar arguments, results of `math`) are
"weak" and take the dtype of the array/NumPy-scalar operand they meet, so float32 code stays
float32; otherwise int64 meets float -> float64.
"""
from __future__ import annotations

import builtins
import operator
import types as pytypes
from typing import Any

import gast
import numpy as np

from .. import messages
from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import (
    BOOL,
    F64,
    I64,
    ArrayType,
    ScalarType,
    Type,
    from_numpy_dtype,
    promote,
    scalar_of,
)
from . import closures, reads, unbound
from . import aliasing
from . import fancy
from .calls import call_builtin, lower_call
from .env import Global, Method, Poison, describe

_BINOPS = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div",
           gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.Pow: "pow",
           gast.MatMult: "matmul", gast.BitAnd: "and", gast.BitOr: "or"}
_CMPOPS = {gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt", gast.GtE: "ge", gast.Eq: "eq",
           gast.NotEq: "ne"}
_KIND = {"bool": 0, "i64": 1, "f32": 2, "f64": 2}


class ExprLowerer:
    """Mixin of `Lowerer` with the expression half of the frontend."""

    # -- entry ----------------------------------------------------------------------------------
    def lower_expr(self, node, discard: bool = False) -> Any:
        meth = getattr(self, "expr_" + type(node).__name__, None)
        if meth is None:
            raise self.error(node, f"'{_expr_desc(node)}' is not supported in compiled "
                             "functions", _EXPR_HINTS.get(type(node).__name__,
                                                          "see docs/subset.md"))
        saved = self.loc
        self.loc = self.src.loc(node)
        try:
            return meth(node)
        finally:
            self.loc = saved

    def value_of(self, node) -> Value:
        v = self.lower_expr(node)
        if not isinstance(v, Value):
            raise self.error(node, f"expected a number or an array here, got {describe(v)}",
                             "", TypeInferenceError)
        return v

    # -- names and constants --------------------------------------------------------------------
    def expr_Constant(self, node) -> Any:
        v = node.value
        if isinstance(v, bool):
            return self.const(v, BOOL)
        if isinstance(v, int):
            return self.const(self.int64(v, node), I64)
        if isinstance(v, float):
            return self.const(v, F64)
        if v is None:
            return None
        raise self.error(node, f"{type(v).__name__} constants are not supported",
                         "compiled functions work on numbers and arrays only")

    def expr_Name(self, node) -> Any:
        return self.lookup(node.id, node)

    def lookup(self, name: str, node) -> Any:
        if name in self.env.vars:
            v = self.env.vars[name]
            if isinstance(v, Poison):
                raise TypeInferenceError(v.message, v.loc or self.src.loc(node), v.hint or
                                         "give the variable one type on every path")
            if isinstance(v, aliasing.Stale):   # a view whose base was written: re-read it
                return aliasing.materialize(self, v.key)
            if isinstance(v, Value):
                unbound.check_read(self, name, node)
            return v
        return self.resolve(name, node)

    def resolve(self, name: str, node) -> Any:
        """A name that is not a local: closure cell, module global or builtin."""
        if name in self.env.vars:
            return self.env.vars[name]
        func = self.src.func
        code = func.__code__
        local = self.closure.bound if self.closure is not None else code.co_varnames
        if name in local:   # a local of this function: never the global of its name
            raise self.error(node, f"local variable '{name}' is used before it is assigned",
                             f"assign '{name}' before this line", TypeInferenceError)
        if name in code.co_freevars and func.__closure__:
            cell = func.__closure__[code.co_freevars.index(name)]
            try:
                obj = cell.cell_contents
            except ValueError:
                raise self.error(node, f"'{name}' is used before it is assigned in the "
                                 "enclosing function", "") from None
            reads.record(self.ctx.reads, cell, None, obj)
        elif name in func.__globals__:
            obj = func.__globals__[name]
            reads.record(self.ctx.reads, func.__globals__, name, obj)
        elif hasattr(builtins, name):
            obj = getattr(builtins, name)
            reads.record(self.ctx.reads, func.__globals__, name, reads.MISSING)
        else:
            raise self.error(node, f"name '{name}' is not defined",
                             "assign it before use, or define it at module level")
        return self.from_python(obj, node, name)

    def from_python(self, obj: Any, node, name: str) -> Any:
        if isinstance(obj, (bool, np.bool_)):
            return self.const(bool(obj), BOOL)
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
            return self.const(self.int64(int(obj), node), I64, weak=type(obj) is int)
        if isinstance(obj, (float, np.floating)):   # np.float64 is a float, but not weak
            t = F64 if type(obj) is float else from_numpy_dtype(np.asarray(obj).dtype)
            return self.const(float(obj), t or F64, weak=type(obj) is float)
        if isinstance(obj, tuple) and all(isinstance(x, (int, float, bool)) for x in obj):
            return tuple(self.from_python(x, node, name) for x in obj)
        if isinstance(obj, np.ndarray):
            raise self.error(node, f"global array '{name}' cannot be used in compiled code",
                             "pass the array as an argument", TypeInferenceError)
        if isinstance(obj, (pytypes.ModuleType, pytypes.FunctionType, pytypes.BuiltinFunctionType,
                            type, np.ufunc)) or callable(obj):
            return Global(obj)
        raise self.error(node, f"'{name}' is a {type(obj).__name__}, which compiled code "
                         "cannot use", "pass numbers and arrays as arguments",
                         TypeInferenceError)

    # -- conversions ----------------------------------------------------------------------------
    def coerce(self, v: Value, t: Type) -> Value:
        """Convert `v` to type `t` (dtype change only; ranks must already agree)."""
        if v.type == t:
            return v
        dt = scalar_of(t)
        k = self.known(v)
        if k is not None and isinstance(t, ScalarType):
            return self.const(k, t, weak=v.id in self.ctx.weak)
        out = self.emit("cast", [v], {"to": dt.name}, name=v.name)
        if out.type != t:
            raise TypeInferenceError(f"cannot convert a {v.type} value to {t}", self.loc,
                                     "give the variable one rank everywhere")
        return out

    def to_dtype(self, v: Value, dt: ScalarType) -> Value:
        if scalar_of(v.type) == dt:
            return v
        k = self.known(v)
        if k is not None and isinstance(v.type, ScalarType):
            return self.const(k, dt, weak=v.id in self.ctx.weak)
        out = self.emit("cast", [v], {"to": dt.name}, name=v.name)
        if v.id in self.ctx.weak:
            self.ctx.weak.add(out.id)
        return out

    def to_int(self, v: Any, node) -> Value:
        if not isinstance(v, Value) or v.type not in (I64, BOOL):
            raise self.error(node, f"expected an integer here, got {describe(v)}",
                             "indices and range bounds must be integers: use int(...)",
                             TypeInferenceError)
        return self.to_dtype(v, I64)

    def to_bool(self, v: Any, node) -> Value:
        if not isinstance(v, Value):
            raise self.error(node, f"cannot use {describe(v)} as a condition", "",
                             TypeInferenceError)
        if isinstance(v.type, ArrayType):
            raise self.error(node, "the truth value of an array is ambiguous",
                             "reduce it first (np.max(x) > 0 for any, np.min(x) > 0 for all) or "
                             "compare elements in a loop",
                             TypeInferenceError)
        if v.type == BOOL:
            return v
        return self.emit("ne", [v, self.const(0, v.type)], name="cond")

    def lower_test(self, node) -> Value:
        return self.to_bool(self.lower_expr(node), node)

    def is_weak(self, v: Value) -> bool:
        return v.id in self.ctx.weak and isinstance(v.type, ScalarType)

    def arith_dtype(self, a: Value, b: Value) -> ScalarType:
        ta, tb = scalar_of(a.type), scalar_of(b.type)
        if ta == tb:
            return ta
        wa, wb = self.is_weak(a), self.is_weak(b)
        if wa != wb:
            weak_t, strong_t = (ta, tb) if wa else (tb, ta)
            if _KIND[strong_t.name] >= _KIND[weak_t.name]:
                return strong_t
            return F64 if weak_t.is_float else promote(weak_t, strong_t)
        return promote(ta, tb)

    def _result(self, out: Value, *ins: Value) -> Value:
        if all(self.is_weak(v) for v in ins):
            self.ctx.weak.add(out.id)
        return out

    # -- arithmetic -----------------------------------------------------------------------------
    def expr_BinOp(self, node) -> Value:
        return self.binop(node.op, self.lower_expr(node.left), self.lower_expr(node.right), node)

    def binop(self, op, a: Any, b: Any, node) -> Value:
        prim = _BINOPS.get(type(op))
        if prim is None:
            raise self.error(node, f"operator '{type(op).__name__}' is not supported",
                             "use arithmetic (+ - * / // % **), @ and comparisons")
        for v in (a, b):
            if not isinstance(v, Value):
                raise self.error(node, f"cannot apply an arithmetic operator to {describe(v)}",
                                 "arithmetic works on numbers and arrays",
                                 TypeInferenceError)
        if prim == "matmul":
            return self.call_named("matmul", [a, b], node)
        if prim in ("and", "or"):
            if scalar_of(a.type) != BOOL or scalar_of(b.type) != BOOL:
                raise self.error(node, "'&' and '|' are supported on booleans only",
                                 "bitwise operations on integers are not supported",
                                 TypeInferenceError)
            return self._result(self.emit(prim, [a, b]), a, b)
        folded = self._fold_python_ints(prim, a, b, node)
        if folded is not None:
            return folded
        dt = self.arith_dtype(a, b)
        if dt == BOOL:
            dt = I64
        if prim == "pow":
            return self.power(a, b, dt)
        if prim == "div" and not dt.is_float:
            dt = F64
        return self._result(self.emit(prim, [self.to_dtype(a, dt), self.to_dtype(b, dt)]), a, b)

    def int64(self, k: int, node, what: str = "") -> int:
        """A Python int the program uses: it must fit in int64 (compiled ints are 64-bit,
        Python's are unbounded)."""
        if not -2 ** 63 <= k < 2 ** 63:
            raise self.error(node, f"{what or f'the integer {k}'} does not fit in int64 "
                             "(compiled integers "
                             "are 64-bit)", "use a float (e.g. 2.0 ** 70) for large values",
                             TypeInferenceError)
        return k

    def _fold_python_ints(self, prim: str, a: Value, b: Value, node) -> Value | None:
        """`2 ** 70` of two Python ints known at compile time, computed as Python does (an
        unbounded int, refused if it leaves int64), so it is never wrapped."""
        ka, kb = self.known(a), self.known(b)
        if not (type(ka) is int and type(kb) is int and self.is_weak(a) and self.is_weak(b)):
            return None
        fn = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow}.get(prim)
        if fn is None or (prim == "pow" and kb < 0) or (prim in ("floordiv", "mod") and kb == 0):
            return None
        if prim == "pow" and abs(ka) > 1 and kb >= 64:   # surely beyond int64: not computed
            self.int64(2 ** 64, node, f"{ka} ** {kb}")
        return self.const(self.int64(fn(ka, kb), node), I64)

    def power(self, a: Value, b: Value, dt: ScalarType) -> Value:
        kb = self.known(b)
        if scalar_of(a.type) in (I64, BOOL) and b.type == I64 and kb is not None and kb < 0:
            if self.is_weak(a) and self.is_weak(b):
                dt = F64   # Python: int ** negative int is a float
                a = self.to_dtype(a, F64)
            else:          # NumPy ints (arrays, np.int64): ValueError where it runs
                self.emit("check", [self.const(False, BOOL)],
                          {"message": messages.NEGATIVE_INT_POWER, "kind": "value"}, types=[])
        if b.type in (I64, BOOL) and not isinstance(b.type, ArrayType):
            base_t = scalar_of(a.type) if scalar_of(a.type).is_float else \
                (dt if dt.is_float else I64)
            if base_t == I64:
                if kb is None:   # Python would give a float for a negative exponent
                    ok = self.emit("ge", [self.to_dtype(b, I64), self.const(0, I64)])
                    self.emit("check", [ok], {"message": messages.NEGATIVE_INT_POWER,
                                              "kind": "value"}, types=[])
                out = self.emit("powi", [self.to_dtype(a, I64), self.to_dtype(b, I64)])
                return self._result(out, a, b)
            return self._result(self.emit("powi", [self.to_dtype(a, base_t),
                                                   self.to_dtype(b, I64)]), a, b)
        if not dt.is_float:
            dt = F64
        return self._result(self.emit("pow", [self.to_dtype(a, dt), self.to_dtype(b, dt)]),
                            a, b)

    def expr_UnaryOp(self, node) -> Value:
        v = self.lower_expr(node.operand)
        if isinstance(node.op, gast.Not):
            b = self.to_bool(v, node.operand)
            k = self.known(b)
            return self.const(not k, BOOL) if k is not None else self.emit("not", [b])
        if not isinstance(v, Value):
            raise self.error(node, f"cannot negate {describe(v)}", "", TypeInferenceError)
        if isinstance(node.op, gast.UAdd):   # +x of an array is a new array in NumPy
            return self.emit("copy", [v], name=v.name) if isinstance(v.type, ArrayType) else v
        if isinstance(node.op, gast.USub):
            k = self.known(v)
            if k is not None and isinstance(v.type, ScalarType) and v.type != BOOL:
                return self.const(-k, v.type, weak=self.is_weak(v))
            if scalar_of(v.type) == BOOL:
                v = self.to_dtype(v, I64)
            return self._result(self.emit("neg", [v]), v)
        if isinstance(node.op, gast.Invert):
            if scalar_of(v.type) == BOOL and not self.is_weak(v):
                return self.emit("not", [v])        # NumPy bools: logical not
            if scalar_of(v.type).is_float:
                raise self.error(node, "bitwise inversion of a float", "'~' takes integers "
                                 "and booleans", TypeInferenceError)
            # Python ints and bools, NumPy ints: ~k == -k - 1 (so ~True == -2)
            k = self.to_dtype(v, I64)
            out = self.emit("sub", [self.emit("neg", [k]), self.const(1, I64)], name="inv")
            return self._result(out, v)
        raise self.error(node, "bitwise inversion is not supported", "use 'not' for booleans")

    def compare(self, op, a: Any, b: Any, node) -> Value:
        prim = _CMPOPS.get(type(op))
        if prim is None:
            raise self.error(node, f"comparison '{type(op).__name__}' is not supported",
                             "use < <= > >= == !=")
        if not isinstance(a, Value) or not isinstance(b, Value):
            raise self.error(node, f"cannot compare {describe(a)} and {describe(b)}", "",
                             TypeInferenceError)
        dt = self.arith_dtype(a, b)
        ka, kb = self.known(a), self.known(b)
        if ka is not None and kb is not None:
            fn = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
                  "eq": operator.eq, "ne": operator.ne}[prim]
            return self.const(bool(fn(ka, kb)), BOOL)
        return self._result(self.emit(prim, [self.to_dtype(a, dt), self.to_dtype(b, dt)],
                                      name="cmp"), a, b)

    def expr_Compare(self, node) -> Value:
        left = self.lower_expr(node.left)
        right = self.lower_expr(node.comparators[0])
        result = self.compare(node.ops[0], left, right, node)
        if len(node.ops) == 1:
            return result
        rest_node = gast.Compare(left=node.comparators[0], ops=node.ops[1:],
                                 comparators=node.comparators[1:])
        gast.copy_location(rest_node, node)
        self._chain_scalar(result, node)

        def rest():   # the middle operand is pure: re-lowering it in the guarded region is safe
            return self._chain_scalar(self.expr_Compare(rest_node), node)
        return self.bool_and(result, rest, node)

    def _chain_scalar(self, v: Value, node) -> Value:
        """`a < x < b` is `(a < x) and (x < b)`: NumPy raises on an array there."""
        if isinstance(v.type, ArrayType):
            raise self.error(node, "a chained comparison of arrays: NumPy raises ValueError "
                             "(the truth value of an array is ambiguous)",
                             "write (a < x) & (x < b) for the elementwise test",
                             TypeInferenceError)
        return v

    def expr_BoolOp(self, node) -> Value:
        acc = self.lower_expr(node.values[0])
        for prev, sub in zip(node.values, node.values[1:]):
            acc = self.bool_operand(acc, prev, sub, isinstance(node.op, gast.And))
        return acc

    def bool_operand(self, a: Any, a_node, sub, is_and: bool) -> Value:
        """Python's `a and sub` / `a or sub`: one of its operands (not a bool made of them),
        with `sub` evaluated only when `a` does not decide."""
        cond = self.to_bool(a, a_node)
        k = self.known(cond)
        if k is not None:
            return self._bool_side(sub) if k == is_and else a
        if a.type == BOOL and _is_safe(sub):
            b = self._bool_side(sub)
            if b.type == BOOL:
                return self._result(self.emit("and" if is_and else "or", [a, b]), a, b)
            t = self.unify(a, b)
            x, y = (b, a) if is_and else (a, b)
            return self._result(self.emit("select", [cond, self.coerce(x, t),
                                                     self.coerce(y, t)], name="v"), a, b)
        side: list[Value] = []

        def rest():
            side.append(self._bool_side(sub))
            return side
        then, other = (rest, lambda: [a]) if is_and else (lambda: [a], rest)
        return self._result(self.lower_if_value(cond, then, other, extra=True)[0], a, *side)

    def _bool_side(self, node) -> Value:
        v = self.lower_expr(node)
        if not isinstance(v, Value) or isinstance(v.type, ArrayType):
            raise self.error(node, f"'and'/'or' with {describe(v)} as an operand is not "
                             "supported", "use np.logical_and / np.logical_or (or & and |) "
                             "for arrays", TypeInferenceError)
        return v

    def bool_and(self, a: Value, rest, node) -> Value:
        k = self.known(a)
        if k is False:
            return a
        if k is True:
            return rest()
        if _is_safe(node):
            b = rest()
            return self._result(self.emit("and", [a, b]), a, b)
        return self.lower_if_value(a, lambda: [rest()], lambda: [self.const(False, BOOL)],
                                   extra=True)[0]

    def expr_IfExp(self, node) -> Value:
        cond = self.lower_test(node.test)
        k = self.known(cond)
        if k is not None:
            return self.lower_expr(node.body if k else node.orelse)
        return self.lower_if_value(cond, lambda: [self.value_of(node.body)],
                                   lambda: [self.value_of(node.orelse)], extra=True)[0]

    def expr_Tuple(self, node) -> tuple:
        out = tuple(self.lower_expr(e) for e in node.elts)
        closures.check_escape(self, out, node, "stored in a tuple")
        return out

    def expr_Lambda(self, node) -> Any:
        return closures.define_lambda(self, node)

    # -- attributes -----------------------------------------------------------------------------
    def expr_Attribute(self, node) -> Any:
        base = self.lower_expr(node.value)
        own = getattr(type(base), "__adcompile_attr__", None)
        if own is not None:   # a compile-time record of values (a fit's result)
            return own(base, self, node.attr, node)
        if isinstance(base, Global):
            if not hasattr(base.obj, node.attr):
                raise self.error(node, f"'{_objname(base.obj)}' has no attribute "
                                 f"'{node.attr}'", "", UnsupportedSyntax)
            obj = getattr(base.obj, node.attr)
            if isinstance(base.obj, pytypes.ModuleType) and \
                    isinstance(obj, (int, float, np.number, tuple)):   # a module's constant
                reads.record(self.ctx.reads, vars(base.obj), node.attr, obj)
            return self.from_python(obj, node, f"{_objname(base.obj)}.{node.attr}")
        if isinstance(base, Value) and isinstance(base.type, ArrayType):
            a = node.attr
            if a == "shape":   # Python ints (weak), as in NumPy
                dims = tuple(self.emit("dim", [base], {"axis": k}, name="n")
                             for k in range(base.type.ndim))
                self.ctx.weak.update(d.id for d in dims)
                return dims
            if a == "T":
                if base.type.ndim > 2:   # NumPy reverses every axis (breadth: permute)
                    return self.call_named("transpose", [base], node)
                if base.type.ndim < 2:
                    return base
                return aliasing.note_view(self, base, self.emit("transpose", [base],
                                                                name=base.name + "T"),
                                          "transpose")
            if a == "size":
                out = self.emit("size", [base], name="size")
                self.ctx.weak.add(out.id)
                return out
            if a == "ndim":
                return self.const(base.type.ndim, I64)
            if a == "dtype":
                return Global(base.type.dtype.np_dtype.type)
            return Method(base, a)
        if isinstance(base, Value):
            if node.attr in ("real",):
                return base
            raise self.error(node, f"a {base.type} scalar has no attribute '{node.attr}'",
                             "only arrays have .shape, .size, .T and methods",
                             TypeInferenceError)
        raise self.error(node, f"attribute '{node.attr}' of {describe(base)} is not supported",
                         "", UnsupportedSyntax)

    # -- indexing -------------------------------------------------------------------------------
    def expr_Subscript(self, node) -> Any:
        base = self.lower_expr(node.value)
        if isinstance(base, tuple):
            idx = self.lower_expr(node.slice) if not isinstance(node.slice, gast.Slice) else None
            k = self.known(idx) if isinstance(idx, Value) else None
            if isinstance(k, int) and not isinstance(k, bool) and -len(base) <= k < len(base):
                return base[k]
            raise self.error(node.slice, "tuples can only be indexed by a constant in range",
                             "e.g. x.shape[0]", TypeInferenceError)
        if not isinstance(base, Value) or not isinstance(base.type, ArrayType):
            raise self.error(node, f"cannot index {describe(base)}",
                             "only arrays and tuples can be indexed", TypeInferenceError)
        raw = fancy.lower_parts(self, node.slice)
        if fancy.is_fancy(raw):   # an index array or a mask: a gather (frontend/fancy.py)
            return fancy.Fancy(self, node).read(base, raw)
        nones: list[int] = []
        spec, operands = self.index_spec(base, node.slice, node, nones, fancy.plain(raw))
        if nones:   # breadth: x[:, None] / np.newaxis, a view with size-1 axes added
            return self.newaxis_view(base, spec, operands, nones)
        if spec is None:
            out = self.emit("getitem", [base] + operands, name=base.name + "_i")
            if isinstance(out.type, ArrayType):   # a row: a view in NumPy
                aliasing.note_view(self, base, out, "getitem", None, tuple(operands))
            return out
        out = self.emit("getslice", [base] + operands, {"spec": spec}, name=base.name + "_s")
        return aliasing.note_view(self, base, out, "getslice", spec, tuple(operands))

    def newaxis_view(self, base: Value, spec, operands, nones: list[int]) -> Value:
        """`base[spec]` with size-1 axes inserted at `nones` (result positions, ascending):
        a view of `base`, so writes through it reach `base` as in NumPy."""
        if spec is not None:
            v = self.emit("getslice", [base] + operands, {"spec": spec}, name=base.name + "_s")
            aliasing.note_view(self, base, v, "getslice", spec, tuple(operands))
        elif operands:
            v = self.emit("getitem", [base] + operands, name=base.name + "_i")
            if isinstance(v.type, ArrayType):
                aliasing.note_view(self, base, v, "getitem", None, tuple(operands))
        else:
            v = base
        out = v
        for a in nones:
            out = self.emit("expand", [out], {"axis": a}, name=base.name + "_e")
        if not isinstance(v.type, ArrayType):
            return out    # a new array holding one element (NumPy: a view of it; written
                          # through rarely: a write reaches the copy only)
        return aliasing.note_newaxis_view(self, v, out, tuple(nones))

    def index_spec(self, base: Value, sl, node, nones: list[int] | None = None,
                   pre: list | None = None) -> tuple[str | None, list[Value]]:
        """(None, indices) for plain element/row access, else (slice spec, operands).
        With `nones` (a list to fill), `None`/`np.newaxis` parts are allowed: their positions
        in the result go there and the spec indexes only the other parts. `pre`: the parts
        already lowered (fancy.lower_parts, when none is None or `...`), so none is lowered
        twice."""
        parts = sl.elts if isinstance(sl, gast.Tuple) else [sl]
        if not parts:
            raise self.error(node, "indexing with an empty tuple (x[()]) is not supported",
                             "read a 0-d array's value with np.sum(x), or pass float(x) "
                             "from Python", UnsupportedSyntax)
        if nones is not None:
            parts = self._expand_newaxis(base, parts, node, nones)
            if not parts:
                return None, []
        if len(parts) > base.type.ndim:
            raise self.error(node, f"too many indices ({len(parts)}) for a "
                             f"{base.type.ndim}-d array",
                             "use at most one index per dimension", TypeInferenceError)
        spec, operands, any_slice = [], [], False
        for k, p in enumerate(parts):
            if isinstance(p, gast.Slice):
                any_slice = True
                flags = ""
                for j, part in enumerate((p.lower, p.upper, p.step)):
                    if part is None:
                        flags += "0"
                        continue
                    v = self.to_int(self.lower_expr(part), part)
                    if j == 2 and self.known(v) is None:
                        raise self.error(part, "slice steps must be constants",
                                         "write the step as a literal, e.g. x[::2]")
                    if j == 2 and self.known(v) == 0:
                        raise self.error(part, "slice step cannot be zero", "",
                                         TypeInferenceError)
                    flags += "1"
                    operands.append(v)
                spec.append("s" + flags)
            else:
                v = pre[k] if pre is not None else self.lower_expr(p)
                if isinstance(v, Value) and isinstance(v.type, ArrayType):
                    raise self.error(p, "indexing with an array (fancy indexing) is not "
                                     "supported", "loop over the indices instead")
                if v is None:
                    raise self.error(p, "np.newaxis/None indices are not supported",
                                     "reshape with explicit loops or broadcasting")
                if isinstance(v, Value) and v.type == BOOL:
                    raise self.error(p, "a boolean index is a mask in NumPy (x[True] adds an "
                                     "axis), not the position 0 or 1",
                                     "write x[int(b)] for a position, or an if in a loop "
                                     "for a mask", TypeInferenceError)
                operands.append(self.to_int(v, p))
                spec.append("i")
        return (",".join(spec) if any_slice else None), operands

    def _expand_newaxis(self, base: Value, parts, node, nones: list[int]) -> list:
        """The index parts without `None`s and with `...` as full slices; the result axes of
        the `None`s into `nones`."""
        def is_none(p):
            if isinstance(p, gast.Constant) and p.value is None:
                return True
            if not (isinstance(p, gast.Attribute) and p.attr == "newaxis"):
                return False
            mod = self.lower_expr(p.value)
            return isinstance(mod, Global) and getattr(mod.obj, "newaxis", 0) is None
        ell = [k for k, p in enumerate(parts) if isinstance(p, gast.Constant) and
               p.value is Ellipsis]
        if len(ell) > 1:
            raise self.error(node, "an index can only have a single ellipsis ('...')", "",
                             TypeInferenceError)
        real = [p for p in parts if not is_none(p) and not (isinstance(p, gast.Constant) and
                                                          p.value is Ellipsis)]
        if ell:
            fill = max(base.type.ndim - len(real), 0)
            full = [gast.Slice(lower=None, upper=None, step=None) for _ in range(fill)]
            parts = parts[:ell[0]] + full + parts[ell[0] + 1:]
        out, pos = [], 0
        for p in parts:
            if is_none(p):
                nones.append(pos)
                pos += 1
                continue
            out.append(p)
            pos += isinstance(p, gast.Slice)
        if nones and len(out) > base.type.ndim:
            raise self.error(node, f"too many indices ({len(out)}) for a "
                             f"{base.type.ndim}-d array",
                             "use at most one index per dimension", TypeInferenceError)
        if nones and base.type.ndim + len(nones) - sum(not isinstance(p, gast.Slice)
                                                        for p in out) > 4:
            raise self.error(node, "arrays of more than 4 dimensions are not supported", "",
                             TypeInferenceError)
        return out

    def store_subscript(self, target, value: Any) -> None:
        # x[i][j] = v is x[i, j] = v when the inner subscript is a plain index
        node, chain = target, []
        while isinstance(node, gast.Subscript):
            chain.append(node.slice)
            node = node.value
        if not isinstance(node, gast.Name):
            raise self.error(target, "can only assign into elements of a named array",
                             "bind the array to a name first")
        name = node.id
        if len(chain) > 1 and any(isinstance(s, (gast.Slice, gast.Tuple)) for s in chain[1:]):
            # Q[0:2][1] = v: write through the view Q[0:2] (it writes back into Q)
            inner = gast.Subscript(value=target.value.value, slice=target.value.slice,
                                   ctx=gast.Load())
            gast.copy_location(inner, target.value)
            arr, chain = self.lower_expr(inner), [target.slice]
        else:
            arr = self.lookup(name, node)
        while isinstance(arr, tuple) and chain:   # t[0][1] = v: the array held in a tuple
            arr = self._tuple_item(arr, chain.pop(), target)
            name = getattr(arr, "name", name)
        if not chain:
            raise self.error(target, "cannot assign into a tuple", "tuples are immutable",
                             TypeInferenceError)
        if len(chain) > 1:
            sl = gast.Tuple(elts=[s for s in reversed(chain) for s in
                                  (s.elts if isinstance(s, gast.Tuple) else [s])],
                            ctx=gast.Load())
        else:
            sl = chain[0]
        if not isinstance(arr, Value) or not isinstance(arr.type, ArrayType):
            raise self.error(target, f"cannot assign into {describe(arr)} '{name}'",
                             "only arrays support element assignment", TypeInferenceError)
        raw = fancy.lower_parts(self, sl)
        if not isinstance(value, Value):
            raise self.error(target, f"cannot store {describe(value)} into an array", "",
                             TypeInferenceError)
        if fancy.is_fancy(raw):   # x[idx] = v, x[mask] = v: a scatter (frontend/fancy.py)
            self.write_array(arr, fancy.Fancy(self, target).write(arr, raw, value), target)
            return
        spec, operands = self.index_spec(arr, sl, target, pre=fancy.plain(raw))
        value = self.to_dtype(value, arr.type.dtype)
        if spec is None:
            room = arr.type.ndim - len(operands)
            if (value.type.ndim if isinstance(value.type, ArrayType) else 0) > room:
                raise self.error(target, "the value has more dimensions than the target",
                                 "store a scalar into an element, or a row into x[i, :]",
                                 TypeInferenceError)
            key = self._object_of(arr)
            aliasing.write_element(self, key, value, operands, self.src.loc(target), arr)
            return
        else:
            try:
                new = self.emit("setslice", [arr, value] + operands, {"spec": spec},
                                name=arr.name)
            except Exception:
                raise self.error(target, "the value has more dimensions than the slice",
                                 "the value must broadcast to the slice's shape",
                                 TypeInferenceError) from None
        self.write_array(arr, new, target)

    def write_array(self, old: Value, new: Value, node) -> None:
        """The array object `old` is a version of now holds `new` (Python's in-place write)."""
        aliasing.write(self, self._object_of(old), new, self.src.loc(node))

    def _object_of(self, arr: Value) -> int:
        key = aliasing.ensure_key(self.env, arr)
        if not self.env.holders(key) and key not in self.env.views:
            # held only by a tuple: a name carries it through loops
            self.env.bind(f"obj.{key}", arr, key=key)
        return key

    def _tuple_item(self, t: tuple, sl, node) -> Any:
        idx = self.lower_expr(sl) if not isinstance(sl, gast.Slice) else None
        k = self.known(idx) if isinstance(idx, Value) else None
        if isinstance(k, int) and not isinstance(k, bool) and -len(t) <= k < len(t):
            return t[k]
        raise self.error(sl, "tuples can only be indexed by a constant in range",
                         "e.g. t[0][1] = v", TypeInferenceError)

    # -- calls ------------------------------------------------------------------------------------
    def expr_Call(self, node) -> Any:
        return lower_call(self, node)

    def call_named(self, name: str, args: list, node) -> Any:
        return call_builtin(self, name, args, {}, node)


def _is_safe(node) -> bool:
    """Can this expression be evaluated eagerly (no indexing, calls or division)?"""
    for sub in gast.walk(node):
        if isinstance(sub, (gast.Subscript, gast.Call)):
            return False
        if isinstance(sub, gast.BinOp) and isinstance(sub.op, (gast.Div, gast.FloorDiv,
                                                               gast.Mod, gast.Pow)):
            return False
    return True


def _objname(obj: Any) -> str:
    return getattr(obj, "__name__", type(obj).__name__)


def _expr_desc(node) -> str:
    names = {"Lambda": "lambda", "ListComp": "list comprehension", "SetComp": "set comprehension",
             "DictComp": "dict comprehension", "GeneratorExp": "generator expression",
             "Dict": "dict", "Set": "set", "List": "list", "JoinedStr": "f-string",
             "Yield": "yield", "YieldFrom": "yield from", "Await": "await",
             "NamedExpr": "walrus operator (:=)", "Starred": "starred expression"}
    return names.get(type(node).__name__, type(node).__name__)


_EXPR_HINTS = {
    "ListComp": "allocate an array with np.empty(n) and fill it in a loop",
    "GeneratorExp": "write the loop out explicitly",
    "Dict": "compiled code works on numbers and arrays; pass values as arguments",
    "Set": "compiled code works on numbers and arrays",
    "List": "use a NumPy array (np.empty/np.zeros) or a tuple",
    "JoinedStr": "strings are not supported in compiled code",
    "Yield": "generators are not supported: return an array of results",
    "YieldFrom": "generators are not supported",
    "NamedExpr": "assign in a separate statement",
    "Starred": "pass arguments explicitly",
}
