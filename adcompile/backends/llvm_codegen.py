"""LLVM backend, part 1: typed IR -> LLVM IR (llvmlite.ir).

Each IR function becomes `i32 <name>__core(ctx, args..., outs...)`:
- a scalar argument is passed by value; an array argument as `(data, n0, ..., n{k-1})`,
  C-contiguous (the IR never writes into its arguments: `inplace` copies them first);
- a scalar result is written through a pointer; an array result as a data pointer and a
  shape, pointing at memory owned by `ctx` (the caller copies it out, then frees `ctx`);
- the return value is an error code from `runtime/include/adcompile_runtime.h`.

Whole-array ops are lowered here to loop nests over strided views (`View`), so LLVM sees
only loops, element loads/stores and scalar arithmetic; its vectoriser does the rest.
Structured `for`/`while`/`if` become basic blocks with phis for the carried values.
Every failure (index out of bounds, shapes that do not broadcast, integer division by
zero, allocation failure) calls `adc_fail` with the user's file:line and returns its code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import llvmlite.ir as ir

from ..ir.core import Block, Function, Op, Value
from ..ir.types import ArrayType, ScalarType, TapeType, scalar_of

OK, ERR_SHAPE, ERR_INDEX, ERR_ALLOC, ERR_VALUE, ERR_INTERNAL, ERR_TAPE_BUDGET = range(7)

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F64 = ir.DoubleType()
F32 = ir.FloatType()
PTR = I8.as_pointer()
# must match `adc_tape` in runtime/include/adcompile_runtime.h
TAPE = ir.LiteralStructType([PTR, I64, I64, I64, PTR])
TAPE_PTR = TAPE.as_pointer()


class Unsupported(Exception):
    """The IR uses something this backend cannot lower (reported to the user as an error)."""


def reg_type(t: ScalarType) -> ir.Type:
    return {"f64": F64, "f32": F32, "i64": I64, "bool": I1}[t.name]


def mem_type(t: ScalarType) -> ir.Type:
    return I8 if t.is_bool else reg_type(t)


def abi_type(t: ScalarType) -> ir.Type:
    """How a scalar crosses the C boundary (bool as one byte)."""
    return mem_type(t)


def elem_size(t: ScalarType) -> int:
    return {"f64": 8, "f32": 4, "i64": 8, "bool": 1}[t.name]


@dataclass
class Array:
    """A contiguous array value: data pointer (to the memory type) and one i64 per dim."""

    dtype: ScalarType
    data: ir.Value
    shape: list[ir.Value]


@dataclass
class View:
    """Strided access to an array (strides in elements; a stride of 0 broadcasts)."""

    dtype: ScalarType
    data: ir.Value
    offset: ir.Value
    shape: list[ir.Value]
    strides: list[ir.Value]


# scalar float functions: LLVM intrinsics where they exist, libm otherwise
_INTRINSIC = {"exp": "llvm.exp", "log": "llvm.log", "sqrt": "llvm.sqrt", "sin": "llvm.sin",
              "cos": "llvm.cos", "floor": "llvm.floor", "ceil": "llvm.ceil",
              "trunc": "llvm.trunc", "log10": "llvm.log10", "log2": "llvm.log2",
              "abs": "llvm.fabs", "pow": "llvm.pow"}
_LIBM = {"log1p": "log1p", "expm1": "expm1", "tan": "tan", "tanh": "tanh", "sinh": "sinh",
         "cosh": "cosh", "asin": "asin", "acos": "acos", "atan": "atan", "asinh": "asinh",
         "acosh": "acosh", "atanh": "atanh", "erf": "erf", "erfc": "erfc",
         "lgamma": "lgamma", "atan2": "atan2", "hypot": "hypot"}
_FLOAT_ARITH = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
_INT_ARITH = {"add": "add", "sub": "sub", "mul": "mul"}
_FCMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


class FunctionCodegen:
    """Lowers one IR function into a module (as `<symbol>__core`)."""

    def __init__(self, module: ir.Module, fn: Function, symbol: str, boundscheck: bool = True):
        self.module = module
        self.fn = fn
        self.symbol = symbol
        self.boundscheck = boundscheck
        self.vals: dict[int, object] = {}
        self.consts: dict[int, object] = {}
        # pushes after a `tape_reserve` skip the capacity check (as the numba backend does);
        # False checks every push (for debugging the reservation logic)
        self.trust_reserve = True
        self._loc = fn.loc

    # -- module-level helpers ----------------------------------------------------------------
    def declare(self, name: str, ret: ir.Type, args: list[ir.Type], noalias_ret=False):
        g = self.module.globals.get(name)
        if g is None:
            g = ir.Function(self.module, ir.FunctionType(ret, args), name)
            if noalias_ret:
                g.return_value.add_attribute("noalias")
        return g

    def intrinsic(self, name: str, types: list[ir.Type]):
        return self.module.declare_intrinsic(name, types)

    def cstring(self, text: str) -> ir.Value:
        strings = self.module.__dict__.setdefault("_adc_strings", {})
        g = strings.get(text)
        if g is None:
            data = bytearray(text.encode("utf-8")) + b"\0"
            ty = ir.ArrayType(I8, len(data))
            g = ir.GlobalVariable(self.module, ty, self.module.get_unique_name(".str"))
            g.global_constant = True
            g.linkage = "private"
            g.initializer = ir.Constant(ty, data)
            strings[text] = g
        return self.b.bitcast(g, PTR)

    # -- entry ---------------------------------------------------------------------------------
    def signature(self) -> tuple[list[ir.Type], list[ir.Type]]:
        args: list[ir.Type] = [PTR]
        for a in self.fn.args:
            args += self._abi_in(a.type)
        outs: list[ir.Type] = []
        for t in self.fn.result_types:
            if isinstance(t, ArrayType):
                outs += [mem_type(t.dtype).as_pointer().as_pointer(), I64.as_pointer()]
            else:
                outs.append(abi_type(t).as_pointer())
        return args, outs

    @staticmethod
    def _abi_in(t) -> list[ir.Type]:
        if isinstance(t, ArrayType):
            return [mem_type(t.dtype).as_pointer()] + [I64] * t.ndim
        if isinstance(t, TapeType):
            raise Unsupported("tape arguments")
        return [abi_type(t)]

    def generate(self) -> ir.Function:
        ins, outs = self.signature()
        fty = ir.FunctionType(I32, ins + outs)
        func = ir.Function(self.module, fty, f"{self.symbol}__core")
        self.func = func
        entry = func.append_basic_block("entry")
        self.b = ir.IRBuilder(entry)
        params = list(func.args)
        self.ctx = params[0]
        self.ctx.name = "ctx"
        k = 1
        for a in self.fn.args:
            n = len(self._abi_in(a.type))
            ps = params[k:k + n]
            k += n
            ps[0].name = a.name
            if isinstance(a.type, ArrayType):
                ps[0].add_attribute("noalias")
                for j, p in enumerate(ps[1:]):
                    p.name = f"{a.name}_n{j}"
                self.vals[a.id] = Array(a.type.dtype, ps[0], list(ps[1:]))
            else:
                self.vals[a.id] = self.from_mem(ps[0], a.type)
        self.outs = params[k:]
        self.link_shapes()
        self.block(self.fn.body)
        return func

    def link_shapes(self) -> None:
        """Check each tangent's shape against its primal once, then index the tangent with
        the primal's lengths: LLVM can then drop index checks it proved for the primal."""
        for i, j in self.fn.shape_links:
            t, p = self.get(self.fn.args[i]), self.get(self.fn.args[j])
            if not (isinstance(t, Array) and isinstance(p, Array)):
                continue
            for k, (dt, dp) in enumerate(zip(t.shape, p.shape)):
                self.fail_if(self.b.icmp_signed("!=", dt, dp), ERR_SHAPE,
                             f"argument '{self.fn.args[i].name}' must have the shape of "
                             f"'{self.fn.args[j].name}'")
                t.shape[k] = dp

    # -- errors --------------------------------------------------------------------------------
    def fail_if(self, cond: ir.Value, code: int, what: str) -> None:
        """Branch to a block that reports `what` (at the current user line) and returns."""
        loc = self._loc
        where = f"{loc.filename}:{loc.line}: " if loc else ""
        bad = self.func.append_basic_block("fail")
        ok = self.func.append_basic_block("ok")
        self.b.cbranch(cond, bad, ok)
        self.b.position_at_end(bad)
        fail = self.declare("adc_fail", I32, [PTR, I32, PTR])
        self.b.call(fail, [self.ctx, ir.Constant(I32, code), self.cstring(where + what)])
        self.b.ret(ir.Constant(I32, code))
        self.b.position_at_end(ok)

    # -- values --------------------------------------------------------------------------------
    def get(self, v: Value):
        return self.vals[v.id]

    def from_mem(self, x: ir.Value, t: ScalarType) -> ir.Value:
        return self.b.icmp_unsigned("!=", x, ir.Constant(I8, 0)) if t.is_bool else x

    def to_mem(self, x: ir.Value, t: ScalarType) -> ir.Value:
        return self.b.zext(x, I8) if t.is_bool else x

    def const(self, value, t: ScalarType) -> ir.Value:
        if t.is_bool:
            return ir.Constant(I1, int(bool(value)))
        if t.is_int:
            return ir.Constant(I64, int(value))
        return ir.Constant(reg_type(t), float(value))

    def i64(self, n: int) -> ir.Value:
        return ir.Constant(I64, n)

    # -- memory --------------------------------------------------------------------------------
    def alloc(self, dtype: ScalarType, shape: list[ir.Value]) -> Array:
        size = self.i64(1)
        for d in shape:
            self.fail_if(self.b.icmp_signed("<", d, self.i64(0)), ERR_VALUE,
                         "negative array dimension")
            size = self.b.mul(size, d)
        nbytes = self.b.mul(size, self.i64(elem_size(dtype)))
        fn = self.declare("adc_alloc", PTR, [PTR, I64], noalias_ret=True)
        raw = self.b.call(fn, [self.ctx, nbytes])
        isnull = self.b.icmp_unsigned("==", raw, ir.Constant(PTR, None))
        self._fail_silent(isnull, ERR_ALLOC)
        return Array(dtype, self.b.bitcast(raw, mem_type(dtype).as_pointer()), list(shape))

    def _fail_silent(self, cond: ir.Value, code: int) -> None:
        """Return `code` when cond holds (the runtime has already recorded the message)."""
        bad = self.func.append_basic_block("fail")
        ok = self.func.append_basic_block("ok")
        self.b.cbranch(cond, bad, ok)
        self.b.position_at_end(bad)
        self.b.ret(ir.Constant(I32, code))
        self.b.position_at_end(ok)

    def size(self, a: Array) -> ir.Value:
        n = self.i64(1)
        for d in a.shape:
            n = self.b.mul(n, d)
        return n

    def memcpy(self, dst: ir.Value, src: ir.Value, nbytes: ir.Value) -> None:
        f = self.intrinsic("llvm.memcpy", [PTR, PTR, I64])
        self.b.call(f, [self.b.bitcast(dst, PTR), self.b.bitcast(src, PTR), nbytes,
                        ir.Constant(I1, 0)])

    def copy_array(self, a: Array) -> Array:
        out = self.alloc(a.dtype, a.shape)
        nbytes = self.b.mul(self.size(a), self.i64(elem_size(a.dtype)))
        self.memcpy(out.data, a.data, nbytes)
        return out

    def view(self, a: Array) -> View:
        strides = [self.i64(1)] * len(a.shape)
        for k in range(len(a.shape) - 2, -1, -1):
            strides[k] = self.b.mul(strides[k + 1], a.shape[k + 1])
        return View(a.dtype, a.data, self.i64(0), list(a.shape), strides)

    def load(self, v: View, idx: list[ir.Value]) -> ir.Value:
        return self.from_mem(self.b.load(self.addr(v, idx)), v.dtype)

    def store(self, v: View, idx: list[ir.Value], x: ir.Value) -> None:
        self.b.store(self.to_mem(x, v.dtype), self.addr(v, idx))

    def addr(self, v: View, idx: list[ir.Value]) -> ir.Value:
        off = v.offset
        for i, s in zip(idx, v.strides):
            off = self.b.add(off, self.b.mul(i, s))
        return self.b.gep(v.data, [off], inbounds=True)

    def broadcast_view(self, v: View, shape: list[ir.Value]) -> View:
        """v seen with `shape` (NumPy alignment from the right; size-1 dims repeat)."""
        lead = len(shape) - len(v.shape)
        strides = [self.i64(0)] * lead
        for d, s, full in zip(v.shape, v.strides, shape[lead:]):
            one = self.b.icmp_signed("==", d, self.i64(1))
            strides.append(self.b.select(one, self.i64(0), s))
            mismatch = self.b.and_(self.b.icmp_signed("!=", d, full), self.b.not_(one))
            self.fail_if(mismatch, ERR_SHAPE, "array shapes do not broadcast together")
        return View(v.dtype, v.data, v.offset, list(shape), strides)

    def broadcast_shape(self, shapes: list[list[ir.Value]]) -> list[ir.Value]:
        nd = max(len(s) for s in shapes)
        out = []
        for k in range(nd):
            d = None
            for s in shapes:
                j = k - (nd - len(s))
                if j < 0:
                    continue
                if d is None:
                    d = s[j]
                else:  # the non-1 extent wins; mismatches are caught by broadcast_view
                    d = self.b.select(self.b.icmp_signed("==", d, self.i64(1)), s[j], d)
            out.append(d)
        return out

    # -- loops ---------------------------------------------------------------------------------
    def loop(self, lb: ir.Value, ub: ir.Value, step: ir.Value, inits: list,
             body: Callable[[ir.Value, list], list], name: str = "loop",
             positive_step: bool | None = True) -> list:
        """A counted loop with carried LLVM values; `body(i, carried) -> new carried`."""
        pre = self.b.block
        header = self.func.append_basic_block(f"{name}.head")
        bodyb = self.func.append_basic_block(f"{name}.body")
        exit_ = self.func.append_basic_block(f"{name}.exit")
        self.b.branch(header)
        self.b.position_at_end(header)
        iv = self.b.phi(I64, name="i")
        iv.add_incoming(lb, pre)
        phis = []
        for x in inits:
            p = self.b.phi(x.type)
            p.add_incoming(x, pre)
            phis.append(p)
        if positive_step is True:
            go = self.b.icmp_signed("<", iv, ub)
        elif positive_step is False:
            go = self.b.icmp_signed(">", iv, ub)
        else:
            pos = self.b.icmp_signed(">", step, self.i64(0))
            go = self.b.select(pos, self.b.icmp_signed("<", iv, ub),
                               self.b.icmp_signed(">", iv, ub))
        self.b.cbranch(go, bodyb, exit_)
        self.b.position_at_end(bodyb)
        new = body(iv, list(phis))
        nxt = self.b.add(iv, step, flags=["nsw"])
        latch = self.b.block
        self.b.branch(header)
        iv.add_incoming(nxt, latch)
        for p, x in zip(phis, new):
            p.add_incoming(x, latch)
        self.b.position_at_end(exit_)
        return phis

    def nest(self, shape: list[ir.Value], body: Callable[[list[ir.Value]], None]) -> None:
        """Row-major loop nest over `shape`, calling body(indices) innermost."""
        def level(k: int, idx: list[ir.Value]) -> None:
            if k == len(shape):
                body(idx)
                return
            self.loop(self.i64(0), shape[k], self.i64(1), [],
                      lambda i, c: (level(k + 1, idx + [i]), [])[1], name=f"d{k}")
        level(0, [])

    def map_into(self, dst: View, srcs: list, fn: Callable[[list[ir.Value]], ir.Value]) -> None:
        """dst[idx] = fn(src[idx] for src in srcs); each src is a View (already broadcast to
        dst's shape) or a scalar LLVM value."""
        def body(idx):
            xs = [self.load(s, idx) if isinstance(s, View) else s for s in srcs]
            self.store(dst, idx, fn(xs))
        self.nest(dst.shape, body)

    # -- blocks and ops ------------------------------------------------------------------------
    def block(self, block: Block) -> list:
        for op in block.ops:
            if op.loc is not None:
                self._loc = op.loc
            if op.prim in ("yield", "condition"):
                return [self.get(v) for v in op.operands]
            if op.prim == "return":
                self.emit_return(op)
                return []
            self.op(op)
        return []

    def emit_return(self, op: Op) -> None:
        k = 0
        for v in op.operands:
            x = self.get(v)
            if isinstance(x, Array):
                self.b.store(x.data, self.outs[k])
                for j, d in enumerate(x.shape):
                    self.b.store(d, self.b.gep(self.outs[k + 1], [self.i64(j)]))
                k += 2
            else:
                self.b.store(self.to_mem(x, v.type), self.outs[k])
                k += 1
        self.b.ret(ir.Constant(I32, OK))

    def op(self, op: Op) -> None:
        p = op.prim
        rule = _OPS.get(p)
        if rule is None:
            if op.operands and any(isinstance(v.type, ArrayType) for v in op.operands) or \
                    (op.results and isinstance(op.results[0].type, ArrayType)):
                out = self.elementwise(op)
            else:
                out = self.scalar(p, op, [self.get(v) for v in op.operands],
                                  [v.type for v in op.operands])
            self.vals[op.result.id] = out
            return
        res = rule(self, op)
        if res is not None:
            for r, x in zip(op.results, res):
                self.vals[r.id] = x

    # -- scalar arithmetic ---------------------------------------------------------------------
    def scalar(self, p: str, op: Op, xs: list[ir.Value], ts: list) -> ir.Value:
        t = scalar_of(op.results[0].type)
        ins = [scalar_of(x) for x in ts]
        b = self.b
        if p == "const":
            return self.const(op.attrs["value"], t)
        if p == "undef":
            return self.const(0, t)
        if p == "cast":
            return self.cast(xs[0], ins[0], t)
        if p == "select":
            return b.select(xs[0], xs[1], xs[2])
        if p in _FCMP:
            if ins[0].is_float:
                if p == "ne":
                    return b.fcmp_unordered("!=", xs[0], xs[1])
                return b.fcmp_ordered(_FCMP[p], xs[0], xs[1])
            if ins[0].is_bool:
                return b.icmp_unsigned(_FCMP[p], xs[0], xs[1])
            return b.icmp_signed(_FCMP[p], xs[0], xs[1])
        if p == "and":
            return b.and_(xs[0], xs[1])
        if p == "or":
            return b.or_(xs[0], xs[1])
        if p == "not":
            return b.not_(xs[0])
        if p in ("isnan", "isinf", "isfinite"):
            x = xs[0]
            if p == "isnan":
                return b.fcmp_unordered("uno", x, x)
            ax = b.call(self.intrinsic("llvm.fabs", [x.type]), [x])
            inf = ir.Constant(x.type, float("inf"))
            return b.fcmp_ordered("==" if p == "isinf" else "<", ax, inf)
        if t.is_float:
            r = self.float_op(p, t, xs)
            if op.attrs.get("reassoc"):   # a lowered reduction's accumulation
                r.flags.append("reassoc")
            return r
        if t.is_int:
            return self.int_op(p, xs)
        raise Unsupported(f"'{p}' on {t}")

    def cast(self, x: ir.Value, src: ScalarType, dst: ScalarType) -> ir.Value:
        b = self.b
        if src == dst:
            return x
        if dst.is_bool:
            if src.is_float:
                return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))
            return b.icmp_signed("!=", x, ir.Constant(x.type, 0))
        if dst.is_float:
            if src.is_float:
                return b.fpext(x, F64) if dst.name == "f64" else b.fptrunc(x, F32)
            if src.is_bool:
                return b.uitofp(x, reg_type(dst))
            return b.sitofp(x, reg_type(dst))
        # to i64
        if src.is_bool:
            return b.zext(x, I64)
        return b.fptosi(x, I64)

    def call_math(self, name: str, t: ScalarType, args: list[ir.Value]) -> ir.Value:
        lt = reg_type(t)
        if name in _INTRINSIC:
            f = self.intrinsic(_INTRINSIC[name], [lt])
        else:
            cname = _LIBM[name] + ("f" if t.name == "f32" else "")
            f = self.declare(cname, lt, [lt] * len(args))
        return self.b.call(f, args)

    def float_op(self, p: str, t: ScalarType, xs: list[ir.Value]) -> ir.Value:
        b = self.b
        lt = reg_type(t)
        if p in _FLOAT_ARITH:
            return getattr(b, _FLOAT_ARITH[p])(*xs)
        if p == "neg":
            return b.fneg(xs[0])
        if p == "square":
            return b.fmul(xs[0], xs[0])
        if p in ("minimum", "maximum"):
            x, y = xs
            better = b.fcmp_ordered("<" if p == "minimum" else ">", x, y)
            keep_x = b.or_(better, b.fcmp_unordered("uno", x, x))
            return b.select(keep_x, x, y)
        if p == "sign":
            x = xs[0]
            zero = ir.Constant(lt, 0.0)
            pos = b.select(b.fcmp_ordered(">", x, zero), ir.Constant(lt, 1.0), zero)
            s = b.select(b.fcmp_ordered("<", x, zero), ir.Constant(lt, -1.0), pos)
            return b.select(b.fcmp_unordered("uno", x, x), x, s)
        if p == "powi":
            return self.call_math("pow", t, [xs[0], b.sitofp(xs[1], lt)])
        if p in ("mod", "floordiv"):
            x, y = xs
            r = b.frem(x, y)
            zero = ir.Constant(lt, 0.0)
            fix = b.and_(b.fcmp_ordered("!=", r, zero),
                         b.xor(b.fcmp_ordered("<", r, zero), b.fcmp_ordered("<", y, zero)))
            if p == "mod":
                rr = b.select(fix, b.fadd(r, y), r)
                # Python/NumPy: a zero remainder takes the sign of the divisor
                cs = self.module.declare_intrinsic("llvm.copysign", [lt],
                                                   ir.FunctionType(lt, [lt, lt]))
                signed0 = b.call(cs, [zero, y])
                return b.select(b.fcmp_ordered("==", rr, zero), signed0, rr)
            q = b.fdiv(b.fsub(x, r), y)
            q = b.select(fix, b.fsub(q, ir.Constant(lt, 1.0)), q)
            fq = b.call(self.intrinsic("llvm.floor", [lt]), [q])
            # NumPy rounds the quotient to the nearest integer-valued float
            q = b.select(b.fcmp_ordered(">", b.fsub(q, fq), ir.Constant(lt, 0.5)),
                         b.fadd(fq, ir.Constant(lt, 1.0)), fq)
            yzero = b.fcmp_ordered("==", y, zero)
            return b.select(yzero, b.fdiv(x, y), q)
        if p in _INTRINSIC or p in _LIBM:
            return self.call_math(p, t, xs)
        raise Unsupported(f"'{p}' on {t}")

    def int_op(self, p: str, xs: list[ir.Value]) -> ir.Value:
        b = self.b
        if p in _INT_ARITH:
            return getattr(b, _INT_ARITH[p])(*xs)
        if p == "neg":
            return b.neg(xs[0])
        if p == "square":
            return b.mul(xs[0], xs[0])
        if p == "abs":
            return b.select(b.icmp_signed("<", xs[0], self.i64(0)), b.neg(xs[0]), xs[0])
        if p == "sign":
            x = xs[0]
            return b.sub(b.zext(b.icmp_signed(">", x, self.i64(0)), I64),
                         b.zext(b.icmp_signed("<", x, self.i64(0)), I64))
        if p in ("minimum", "maximum"):
            x, y = xs
            return b.select(b.icmp_signed("<" if p == "minimum" else ">", x, y), x, y)
        if p in ("floordiv", "mod", "div"):
            x, y = xs
            self.fail_if(b.icmp_signed("==", y, self.i64(0)), ERR_VALUE,
                         "integer division by zero")
            q = b.sdiv(x, y)
            r = b.srem(x, y)
            fix = b.and_(b.icmp_signed("!=", r, self.i64(0)),
                         b.xor(b.icmp_signed("<", r, self.i64(0)),
                               b.icmp_signed("<", y, self.i64(0))))
            if p == "mod":
                return b.select(fix, b.add(r, y), r)
            if p == "floordiv":
                return b.select(fix, b.sub(q, self.i64(1)), q)
            return q
        raise Unsupported(f"'{p}' on i64")

    # -- whole-array elementwise ---------------------------------------------------------------
    def as_view(self, x) -> View | ir.Value:
        return self.view(x) if isinstance(x, Array) else x

    def elementwise(self, op: Op) -> Array:
        xs = [self.get(v) for v in op.operands]
        shapes = [x.shape for x in xs if isinstance(x, Array)]
        shape = self.broadcast_shape(shapes)
        views = [self.broadcast_view(self.view(x), shape) if isinstance(x, Array) else x
                 for x in xs]
        t = op.results[0].type
        out = self.alloc(scalar_of(t), shape)
        ts = [scalar_of(v.type) for v in op.operands]
        self.map_into(self.view(out), views, lambda ys: self.scalar(op.prim, op, ys, ts))
        return out

    # -- indices -------------------------------------------------------------------------------
    def wrap_index(self, i: ir.Value, n: ir.Value) -> ir.Value:
        """Python semantics: a negative index counts from the end; out of range fails."""
        neg = self.b.icmp_signed("<", i, self.i64(0))
        j = self.b.select(neg, self.b.add(i, n), i)
        if self.boundscheck:
            self.fail_if(self.b.icmp_unsigned(">=", j, n), ERR_INDEX, "index out of bounds")
        return j

    def slice_bounds(self, n: ir.Value, start, stop, step) -> tuple[ir.Value, ir.Value, ir.Value]:
        """(first index, step, length) of Python's slice(start, stop, step) on a dim of n."""
        b = self.b
        zero, one = self.i64(0), self.i64(1)
        if step is None:
            step = one
        else:
            self.fail_if(b.icmp_signed("==", step, zero), ERR_VALUE, "slice step cannot be zero")
        neg = b.icmp_signed("<", step, zero)
        lo = b.select(neg, self.i64(-1), zero)
        hi = b.select(neg, b.sub(n, one), n)

        def norm(x, default):
            if x is None:
                return default
            x = b.select(b.icmp_signed("<", x, zero), b.add(x, n), x)
            x = b.select(b.icmp_signed("<", x, lo), lo, x)
            return b.select(b.icmp_signed(">", x, hi), hi, x)

        first = norm(start, b.select(neg, hi, zero))
        last = norm(stop, b.select(neg, lo, n))
        # length = max(0, ceil((last - first) / step))
        span = b.sub(last, first)
        adj = b.select(neg, b.add(span, one), b.sub(span, one))
        length = b.sdiv(b.add(adj, step), step)
        length = b.select(b.icmp_signed("<", length, zero), zero, length)
        return first, step, length

    def region_view(self, arr: Array, spec: str | None, idx: list[ir.Value],
                    inbounds: bool = False) -> View:
        """The part of `arr` that an index/slice expression selects, as a strided view.
        `inbounds`: indices known to lie in [0, n) (lowered array code): no wrap, no check."""
        v = self.view(arr)
        off = v.offset
        shape, strides = [], []
        if spec is None:
            parts = ["i"] * len(idx)
        else:
            parts = spec.split(",")
        it = iter(idx)
        for k, part in enumerate(parts):
            n, s = v.shape[k], v.strides[k]
            if part == "i":
                j = next(it) if inbounds else self.wrap_index(next(it), n)
                off = self.b.add(off, self.b.mul(j, s))
                continue
            bounds = [next(it) if f == "1" else None for f in part[1:]]
            first, step, length = self.slice_bounds(n, *bounds)
            off = self.b.add(off, self.b.mul(first, s))
            shape.append(length)
            strides.append(self.b.mul(step, s))
        shape += v.shape[len(parts):]
        strides += v.strides[len(parts):]
        return View(arr.dtype, v.data, off, shape, strides)

    def materialize(self, v: View) -> Array:
        out = self.alloc(v.dtype, v.shape)
        self.map_into(self.view(out), [v], lambda ys: ys[0])
        return out

    def assign(self, dst: View, val) -> None:
        if isinstance(val, Array):
            src = self.broadcast_view(self.view(val), dst.shape)
            self.map_into(dst, [src], lambda ys: ys[0])
        else:
            self.map_into(dst, [val], lambda ys: ys[0])

    # -- reductions ----------------------------------------------------------------------------
    def reduce_step(self, p: str, t: ScalarType, acc: ir.Value, x: ir.Value) -> ir.Value:
        b = self.b
        if p in ("sum", "mean"):
            if t.is_float:
                r = b.fadd(acc, x)
                r.flags.append("reassoc")
                return r
            return b.add(acc, x)
        if p == "prod":
            if t.is_float:
                r = b.fmul(acc, x)
                r.flags.append("reassoc")
                return r
            return b.mul(acc, x)
        if t.is_float:  # max/min propagate NaN, as NumPy does
            keep = b.fcmp_ordered(">=" if p == "max" else "<=", acc, x)
            keep = b.or_(keep, b.fcmp_unordered("uno", acc, acc))
            return b.select(keep, acc, x)
        return b.select(b.icmp_signed(">=" if p == "max" else "<=", acc, x), acc, x)

    def reduce_init(self, p: str, t: ScalarType) -> ir.Value:
        if p in ("sum", "mean"):
            return self.const(0, t)
        if p == "prod":
            return self.const(1, t)
        big = float("inf") if t.is_float else 2 ** 63 - 1
        if t.is_float:
            return self.const(-big if p == "max" else big, t)
        return self.const(-big - 1 if p == "max" else big, t)

    def reduce_all(self, p: str, a: Array) -> ir.Value:
        t = a.dtype
        if t.is_bool:
            raise Unsupported(f"'{p}' of a bool array")
        n = self.size(a)
        if p in ("max", "min"):
            self.fail_if(self.b.icmp_signed("==", n, self.i64(0)), ERR_VALUE,
                         f"{p}() of an empty array")
        flat = View(t, a.data, self.i64(0), [n], [self.i64(1)])
        (acc,) = self.loop(self.i64(0), n, self.i64(1), [self.reduce_init(p, t)],
                           lambda i, c: [self.reduce_step(p, t, c[0], self.load(flat, [i]))],
                           name="reduce")
        if p == "mean":
            acc = self.b.fdiv(acc, self.cast(n, _I64T, t)) if t.is_float else \
                self.b.sdiv(acc, n)
        return acc

    def reduce_axis(self, p: str, a: Array, axis: int) -> Array:
        t = a.dtype
        if t.is_bool:
            raise Unsupported(f"'{p}' of a bool array")
        if p in ("max", "min"):
            self.fail_if(self.b.icmp_signed("==", a.shape[axis], self.i64(0)), ERR_VALUE,
                         f"{p}() along an empty axis")
        out_shape = [d for k, d in enumerate(a.shape) if k != axis]
        out = self.alloc(t, out_shape)
        ov = self.view(out)
        init = self.reduce_init(p, t)
        self.map_into(ov, [init], lambda ys: ys[0])
        # accumulate in source order (contiguous reads, vectorisable when axis isn't last)
        src = self.view(a)
        acc_strides = list(ov.strides)
        acc_strides.insert(axis, self.i64(0))
        acc = View(t, out.data, self.i64(0), list(a.shape), acc_strides)

        def body(idx):
            cur = self.load(acc, idx)
            self.store(acc, idx, self.reduce_step(p, t, cur, self.load(src, idx)))
        self.nest(a.shape, body)
        if p == "mean":
            n = self.cast(a.shape[axis], _I64T, t) if t.is_float else a.shape[axis]
            self.map_into(ov, [ov], lambda ys: self.b.fdiv(ys[0], n) if t.is_float
                          else self.b.sdiv(ys[0], n))
        return out

    # -- linear algebra ------------------------------------------------------------------------
    def contract(self, a: Array, b_: Array, sa: str, sb: str, so: str) -> Array:
        """out[so] = sum over the other indices of a[sa] * b[sb] (einsum for 1-3 dims)."""
        t = a.dtype
        dims: dict[str, ir.Value] = {}
        for s, arr in ((sa, a), (sb, b_)):
            for ch, d in zip(s, arr.shape):
                if ch in dims:
                    self.fail_if(self.b.icmp_signed("!=", dims[ch], d), ERR_SHAPE,
                                 "matmul: inner dimensions differ")
                else:
                    dims[ch] = d
        out = self.alloc(t, [dims[c] for c in so])
        ov = self.view(out)
        self.map_into(ov, [self.const(0, t)], lambda ys: ys[0])
        order = []
        for ch in sa + sb:
            if ch not in order:
                order.append(ch)
        va, vb = self.view(a), self.view(b_)

        def pick(v, s, env):
            return [env[c] for c in s]

        def level(k, env):
            if k == len(order):
                x = self.load(va, pick(va, sa, env))
                y = self.load(vb, pick(vb, sb, env))
                oidx = pick(ov, so, env)
                cur = self.load(ov, oidx)
                prod = self.b.fmul(x, y) if t.is_float else self.b.mul(x, y)
                s = self.b.fadd(cur, prod) if t.is_float else self.b.add(cur, prod)
                if t.is_float:
                    s.flags.append("reassoc")
                self.store(ov, oidx, s)
                return
            ch = order[k]
            self.loop(self.i64(0), dims[ch], self.i64(1), [],
                      lambda i, c: (level(k + 1, {**env, ch: i}), [])[1], name=f"mm{ch}")
        level(0, {})
        return out


_I64T = ScalarType("i64")
_MM = {(2, 2): ("ik", "kj", "ij"), (2, 1): ("ik", "k", "i"), (1, 2): ("k", "kj", "j"),
       (1, 1): ("k", "k", "")}


# -- structural op rules: (codegen, op) -> list of result values ------------------------------
def _const(g: FunctionCodegen, op: Op):
    g.consts[op.result.id] = op.attrs["value"]
    return [g.const(op.attrs["value"], op.result.type)]


def _undef(g, op):
    t = op.result.type
    if isinstance(t, ArrayType):
        return [g.alloc(t.dtype, [g.i64(0)] * t.ndim)]
    return [g.const(0, t)]


def _fill(g, op, value_of):
    t = op.result.type
    dims = [g.get(v) for v in op.operands[:t.ndim]]
    out = g.alloc(t.dtype, dims)
    value = value_of(t.dtype)
    if value is not None:
        g.map_into(g.view(out), [value], lambda ys: ys[0])
    return [out]


def _zeros(g, op):
    return _fill(g, op, lambda dt: g.const(0, dt))


def _ones(g, op):
    return _fill(g, op, lambda dt: g.const(1, dt))


def _empty(g, op):
    return _fill(g, op, lambda dt: None)


def _full(g, op):
    return _fill(g, op, lambda dt: g.get(op.operands[-1]))


def _arange(g, op):
    t = op.result.type.dtype
    start, stop, step = (g.get(v) for v in op.operands)
    b = g.b
    if t.is_float:
        span = b.fdiv(b.fsub(stop, start), step)
        n = b.fptosi(b.call(g.intrinsic("llvm.ceil", [span.type]), [span]), I64)
    else:
        g.fail_if(b.icmp_signed("==", step, g.i64(0)), ERR_VALUE, "arange step cannot be zero")
        neg = b.icmp_signed("<", step, g.i64(0))
        span = b.sub(stop, start)
        adj = b.select(neg, b.add(span, g.i64(1)), b.sub(span, g.i64(1)))
        n = b.sdiv(b.add(adj, step), step)
    n = b.select(b.icmp_signed("<", n, g.i64(0)), g.i64(0), n)
    out = g.alloc(t, [n])
    ov = g.view(out)

    def body(i, c):
        x = b.fadd(start, b.fmul(g.cast(i, _I64T, t), step)) if t.is_float else \
            b.add(start, b.mul(i, step))
        g.store(ov, [i], x)
        return []
    g.loop(g.i64(0), n, g.i64(1), [], body, name="arange")
    return [out]


def _copy(g, op):
    return [g.copy_array(g.get(op.operands[0]))]


def _dim(g, op):
    return [g.get(op.operands[0]).shape[op.attrs["axis"]]]


def _size(g, op):
    return [g.size(g.get(op.operands[0]))]


def _getitem(g, op):
    arr = g.get(op.operands[0])
    idx = [g.get(v) for v in op.operands[1:]]
    region = g.region_view(arr, None, idx, op.attrs.get("inbounds", False))
    if not region.shape:
        return [g.load(region, [])]
    return [g.materialize(region)]


def _setitem(g, op):
    arr = g.get(op.operands[0])
    idx = [g.get(v) for v in op.operands[2:]]
    region = g.region_view(arr, None, idx, op.attrs.get("inbounds", False))
    val = g.get(op.operands[1])
    if not region.shape:
        g.store(region, [], val)
    else:
        g.assign(region, val)
    return [arr]


def _getslice(g, op):
    arr = g.get(op.operands[0])
    region = g.region_view(arr, op.attrs["spec"], [g.get(v) for v in op.operands[1:]])
    return [g.materialize(region)]


def _setslice(g, op):
    arr = g.get(op.operands[0])
    region = g.region_view(arr, op.attrs["spec"], [g.get(v) for v in op.operands[2:]])
    g.assign(region, g.get(op.operands[1]))
    return [arr]


def _reduce(g, op):
    a = g.get(op.operands[0])
    axis = op.attrs.get("axis")
    if axis is None:
        return [g.reduce_all(op.prim, a)]
    return [g.reduce_axis(op.prim, a, axis)]


def _matmul(g, op):
    a, b = (g.get(v) for v in op.operands)
    sa, sb, so = _MM[(len(a.shape), len(b.shape))]
    out = g.contract(a, b, sa, sb, so)
    if not so:
        return [g.load(g.view(out), [])]
    return [out]


def _lmatmul(g, op):
    a, b = (g.get(v) for v in op.operands)
    side = op.attrs["lanes"]
    na = len(a.shape) - (side == "a")
    nb = len(b.shape) - (side == "b")
    sa, sb, so = _MM[(na, nb)]
    if side == "a":
        sa += "l"
    else:
        sb += "l"
    return [g.contract(a, b, sa, sb, so + "l")]


def _transpose(g, op):
    a = g.get(op.operands[0])
    v = g.view(a)
    sh, st = list(v.shape), list(v.strides)
    sh[0], sh[1] = sh[1], sh[0]
    st[0], st[1] = st[1], st[0]
    return [g.materialize(View(a.dtype, a.data, v.offset, sh, st))]


def _sum_to(g, op):
    grad, like = (g.get(v) for v in op.operands)
    t = scalar_of(op.result.type)
    if not isinstance(like, Array):
        return [g.reduce_all("sum", grad) if isinstance(grad, Array) else grad]
    out = g.alloc(t, like.shape)
    ov = g.view(out)
    g.map_into(ov, [g.const(0, t)], lambda ys: ys[0])
    if not isinstance(grad, Array):
        g.map_into(ov, [grad], lambda ys: ys[0])
        return [out]
    acc = g.broadcast_view(ov, grad.shape)
    src = g.view(grad)

    def body(idx):
        s = g.b.fadd(g.load(acc, idx), g.load(src, idx)) if t.is_float else \
            g.b.add(g.load(acc, idx), g.load(src, idx))
        g.store(acc, idx, s)
    g.nest(grad.shape, body)
    return [out]


def _broadcast_like(g, op):
    x, like = g.get(op.operands[0]), g.get(op.operands[1])
    t = op.result.type
    if not isinstance(t, ArrayType):
        return [x]
    shape = list(like.shape) if isinstance(like, Array) else []
    if len(op.operands) == 3:
        shape.append(g.get(op.operands[2]))
    out = g.alloc(t.dtype, shape)
    g.assign(g.view(out), x)
    return [out]


def _expand(g, op):
    x = g.get(op.operands[0])
    axis = op.attrs["axis"]
    if not isinstance(x, Array):
        out = g.alloc(op.operands[0].type, [g.i64(1)])
        g.store(g.view(out), [g.i64(0)], x)
        return [out]
    shape = list(x.shape)
    shape.insert(axis, g.i64(1))
    return [Array(x.dtype, x.data, shape)]  # a view, as np.expand_dims gives


# -- tapes ---------------------------------------------------------------------------------------
def _tape_elem(t) -> ir.Type:
    if isinstance(t, ArrayType):   # (byte offset into the payload stack, shape)
        return ir.LiteralStructType([I64] + [I64] * t.ndim)
    return mem_type(t)


def _tape_elem_size(t) -> int:
    return 8 * (1 + t.ndim) if isinstance(t, ArrayType) else elem_size(t)


@dataclass
class Tape:
    """A tape in generated code: the runtime object, plus its data pointer, length and capacity
    in stack slots that LLVM promotes to registers (pushes and pops never touch memory for the
    bookkeeping; the runtime object is synced only around growth)."""

    obj: ir.Value
    data: ir.Value
    len: ir.Value
    cap: ir.Value
    elem: ir.Type
    # array tapes keep the elements' bytes on a second, byte-sized stack: a pop gives that
    # space back, so recomputed segments reuse it (arena copies would pile up per push)
    payload: "Tape | None" = None


def _entry_alloca(g, ty: ir.Type, name: str) -> ir.Value:
    b = ir.IRBuilder(g.func.entry_basic_block)
    b.position_at_start(g.func.entry_basic_block)
    return b.alloca(ty, name=name)


def _new_tape(g, size: int, elem: ir.Type, name: str) -> Tape:
    fn = g.declare("adc_tape_new", TAPE_PTR, [PTR, I64])
    obj = g.b.call(fn, [g.ctx, g.i64(size)])
    g._fail_silent(g.b.icmp_unsigned("==", obj, ir.Constant(TAPE_PTR, None)), ERR_ALLOC)
    tape = Tape(obj, _entry_alloca(g, elem.as_pointer(), f"{name}_data"),
                _entry_alloca(g, I64, f"{name}_len"), _entry_alloca(g, I64, f"{name}_cap"),
                elem)
    g.b.store(g.i64(0), tape.len)
    _tape_sync_in(g, tape)
    return tape


def _tape_new(g, op):
    t = op.result.type.elem
    tape = _new_tape(g, _tape_elem_size(t), _tape_elem(t), "tape")
    if isinstance(t, ArrayType):
        tape.payload = _new_tape(g, 1, I8, "payload")
    return [tape]


def _field(g, tape, k):
    return g.b.gep(tape, [ir.Constant(I32, 0), ir.Constant(I32, k)], inbounds=True)


def _tape_sync_in(g, tape: Tape) -> None:
    """Reload data pointer and capacity after the runtime changed the buffer."""
    data = g.b.load(_field(g, tape.obj, 0))
    g.b.store(g.b.bitcast(data, tape.elem.as_pointer()), tape.data)
    g.b.store(g.b.load(_field(g, tape.obj, 2)), tape.cap)


def _tape_call(g, tape: Tape, name: str, extra: list) -> None:
    g.b.store(g.b.load(tape.len), _field(g, tape.obj, 1))
    fn = g.declare(name, I32, [TAPE_PTR] + [I64] * len(extra))
    st = g.b.call(fn, [tape.obj] + extra)
    g._fail_silent(g.b.icmp_signed("!=", st, ir.Constant(I32, 0)), ERR_ALLOC)
    _tape_sync_in(g, tape)


def _tape_push(g, op):
    tape_v, val_v = op.operands
    tape: Tape = g.get(tape_v)
    t = tape_v.type.elem
    b = g.b
    x = g.get(val_v)
    if isinstance(t, ArrayType):  # the tape keeps this version: later writes must not reach it
        pay = tape.payload
        nbytes = b.mul(g.size(x), g.i64(elem_size(t.dtype)))
        padded = b.and_(b.add(nbytes, g.i64(15)), g.i64(-16))   # keep elements 16-aligned
        off = b.load(pay.len)
        end = b.add(off, padded)
        grow = g.func.append_basic_block("payload.grow")
        ok = g.func.append_basic_block("payload.ok")
        b.cbranch(b.icmp_signed(">", end, b.load(pay.cap)), grow, ok)
        b.position_at_end(grow)
        _tape_call(g, pay, "adc_tape_reserve", [end])
        b.branch(ok)
        b.position_at_end(ok)
        g.memcpy(b.gep(b.load(pay.data), [off], inbounds=True), x.data, nbytes)
        b.store(end, pay.len)
        s = ir.Constant(tape.elem, ir.Undefined)
        s = b.insert_value(s, off, 0)
        for j, d in enumerate(x.shape):
            s = b.insert_value(s, d, j + 1)
        x = s
    else:
        x = g.to_mem(x, t)
    if op.attrs.get("checked") or not g.trust_reserve:
        # reverse mode reserves room before counted loops; pushes it could not count for
        # (under `while`) are marked `checked` and grow the tape on demand
        full = b.icmp_signed(">=", b.load(tape.len), b.load(tape.cap))
        grow = g.func.append_basic_block("tape.grow")
        ok = g.func.append_basic_block("tape.ok")
        b.cbranch(full, grow, ok)
        b.position_at_end(grow)
        _tape_call(g, tape, "adc_tape_grow", [])
        b.branch(ok)
        b.position_at_end(ok)
    n = b.load(tape.len)
    b.store(x, b.gep(b.load(tape.data), [n], inbounds=True))
    b.store(b.add(n, g.i64(1), flags=["nsw"]), tape.len)
    return []


def _tape_pop(g, op):
    tape: Tape = g.get(op.operands[0])
    t = op.operands[0].type.elem
    b = g.b
    n = b.sub(b.load(tape.len), g.i64(1), flags=["nsw"])
    b.store(n, tape.len)
    x = b.load(b.gep(b.load(tape.data), [n], inbounds=True))
    if isinstance(t, ArrayType):
        # the bytes stay valid until the next push to this tape: reverse mode never pushes
        # while a popped value is live (pushes happen in forward code, pops in its adjoint)
        off = b.extract_value(x, 0)
        b.store(off, tape.payload.len)
        raw = b.gep(b.load(tape.payload.data), [off], inbounds=True)
        return [Array(t.dtype, b.bitcast(raw, mem_type(t.dtype).as_pointer()),
                      [b.extract_value(x, j + 1) for j in range(t.ndim)])]
    return [g.from_mem(x, t)]


def _check(g, op):
    cond = g.get(op.operands[0])
    g.fail_if(g.b.not_(cond), ERR_SHAPE if op.attrs["kind"] == "shape" else ERR_VALUE,
              op.attrs["message"])
    return []


def _tape_budget(g, op):
    est = g.get(op.operands[0])
    g.fail_if(g.b.icmp_signed(">", est, g.i64(op.attrs["limit"])), ERR_TAPE_BUDGET,
              f"reverse mode would tape more than {op.attrs['limit']} bytes for this loop")
    return []


def _tape_reserve(g, op):
    tape: Tape = g.get(op.operands[0])
    n = g.get(op.operands[1])
    _tape_call(g, tape, "adc_tape_reserve", [g.b.add(g.b.load(tape.len), n)])
    if len(op.operands) == 3 and tape.payload is not None:
        like = g.get(op.operands[2])
        nbytes = g.b.mul(g.size(like), g.i64(elem_size(op.operands[2].type.dtype)))
        padded = g.b.and_(g.b.add(nbytes, g.i64(15)), g.i64(-16))
        pay = tape.payload
        _tape_call(g, pay, "adc_tape_reserve", [g.b.add(g.b.load(pay.len), g.b.mul(n, padded))])
    return []


# -- structured control flow ---------------------------------------------------------------------
def _flatten(x) -> list[ir.Value]:
    return [x.data] + list(x.shape) if isinstance(x, Array) else [x]


def _unflatten(template, parts: list[ir.Value]):
    if isinstance(template, Array):
        return Array(template.dtype, parts[0], list(parts[1:1 + len(template.shape)]))
    return parts[0]


def _width(x) -> int:
    return 1 + len(x.shape) if isinstance(x, Array) else 1


def _pack(xs) -> list[ir.Value]:
    out = []
    for x in xs:
        out += _flatten(x)
    return out


def _unpack(templates, flat: list[ir.Value]) -> list:
    out, k = [], 0
    for t in templates:
        w = _width(t)
        out.append(_unflatten(t, flat[k:k + w]))
        k += w
    return out


def _for(g, op):
    lb, ub, step = (g.get(v) for v in op.operands[:3])
    inits = [g.get(v) for v in op.operands[3:]]
    body = op.regions[0]
    sv = op.operands[2]
    positive = None
    const_step = g.consts.get(sv.id)
    if const_step is not None:
        positive = const_step > 0
    else:
        g.fail_if(g.b.icmp_signed("==", step, g.i64(0)), ERR_VALUE,
                  "range() step cannot be zero")

    def run(i, flat):
        g.vals[body.args[0].id] = i
        for a, x in zip(body.args[1:], _unpack(inits, flat)):
            g.vals[a.id] = x
        return _pack(g.block(body))
    out = g.loop(lb, ub, step, _pack(inits), run, name="for", positive_step=positive)
    return _unpack(inits, out)


def _while(g, op):
    cond, body = op.regions
    inits = [g.get(v) for v in op.operands]
    b = g.b
    pre = b.block
    header = g.func.append_basic_block("while.head")
    bodyb = g.func.append_basic_block("while.body")
    exit_ = g.func.append_basic_block("while.exit")
    b.branch(header)
    b.position_at_end(header)
    phis = []
    for x in _pack(inits):
        p = b.phi(x.type)
        p.add_incoming(x, pre)
        phis.append(p)
    cur = _unpack(inits, phis)
    for a, x in zip(cond.args, cur):
        g.vals[a.id] = x
    (go,) = g.block(cond)
    b.cbranch(go, bodyb, exit_)
    b.position_at_end(bodyb)
    for a, x in zip(body.args, cur):
        g.vals[a.id] = x
    new = _pack(g.block(body))
    latch = b.block
    b.branch(header)
    for p, x in zip(phis, new):
        p.add_incoming(x, latch)
    b.position_at_end(exit_)
    return cur


def _if(g, op):
    b = g.b
    c = g.get(op.operands[0])
    then_b = g.func.append_basic_block("then")
    else_b = g.func.append_basic_block("else")
    merge = g.func.append_basic_block("endif")
    b.cbranch(c, then_b, else_b)
    outs = []
    for blk, region in ((then_b, op.regions[0]), (else_b, op.regions[1])):
        b.position_at_end(blk)
        vals = g.block(region)
        outs.append((vals, b.block))
        b.branch(merge)
    b.position_at_end(merge)
    (tv, tb), (ev, eb) = outs
    if not op.results:
        return []
    tflat, eflat = _pack(tv), _pack(ev)
    merged = []
    for x, y in zip(tflat, eflat):
        if x is y:
            merged.append(x)
            continue
        p = b.phi(x.type)
        p.add_incoming(x, tb)
        p.add_incoming(y, eb)
        merged.append(p)
    return _unpack(tv, merged)


def _custom(g, op):
    raise Unsupported("custom-rule regions must be inlined before the LLVM backend")


_OPS: dict[str, Callable] = {
    "const": _const, "undef": _undef, "zeros": _zeros, "ones": _ones, "empty": _empty,
    "full": _full, "arange": _arange, "copy": _copy, "dim": _dim, "size": _size,
    "getitem": _getitem, "setitem": _setitem, "getslice": _getslice, "setslice": _setslice,
    "sum": _reduce, "prod": _reduce, "max": _reduce, "min": _reduce, "mean": _reduce,
    "matmul": _matmul, "lmatmul": _lmatmul, "transpose": _transpose, "sum_to": _sum_to,
    "broadcast_like": _broadcast_like, "expand": _expand, "tape_new": _tape_new,
    "tape_push": _tape_push, "tape_pop": _tape_pop, "tape_reserve": _tape_reserve,
    "tape_budget": _tape_budget, "check": _check,
    "for": _for, "while": _while, "if": _if, "custom": _custom,
}


# -- the C entry point -------------------------------------------------------------------------
def public_wrapper(module: ir.Module, core: ir.Function, fn: Function, symbol: str,
                   out_names: list[str]) -> ir.Function:
    """`int <symbol>(args..., outs...)`: the documented C ABI around `<symbol>__core`.

    Array outputs are caller-owned buffers with their lengths; the wrapper checks every input
    length and every output buffer against the computed shape before copying, so a C caller
    gets ADC_ERR_SHAPE (and a message from adc_last_error()) rather than an overrun.
    """
    ins: list[ir.Type] = []
    for a in fn.args:
        ins += FunctionCodegen._abi_in(a.type)
    outs: list[ir.Type] = []
    for t in fn.result_types:
        if isinstance(t, ArrayType):
            outs += [mem_type(t.dtype).as_pointer()] + [I64] * t.ndim
        else:
            outs.append(abi_type(t).as_pointer())
    func = ir.Function(module, ir.FunctionType(I32, ins + outs), symbol)
    g = FunctionCodegen(module, fn, symbol)
    g.func = func
    g.b = ir.IRBuilder(func.append_basic_block("entry"))
    g.ctx = ir.Constant(PTR, None)
    b = g.b
    params = list(func.args)
    k = 0
    core_args: list[ir.Value] = []
    for a in fn.args:
        n = len(FunctionCodegen._abi_in(a.type))
        ps = params[k:k + n]
        k += n
        ps[0].name = a.name
        for j, p in enumerate(ps[1:]):
            p.name = f"{a.name}_n{j}"
            g._loc = None
            g.fail_if(b.icmp_signed("<", p, g.i64(0)), ERR_SHAPE,
                      f"argument '{a.name}': negative length")
        core_args += ps
    out_params = params[k:]
    ctx = b.call(g.declare("adc_ctx_new", PTR, []), [])
    nul = b.icmp_unsigned("==", ctx, ir.Constant(PTR, None))
    g.fail_if(nul, ERR_ALLOC, "out of memory")
    slots = []
    k = 0
    for t, name in zip(fn.result_types, out_names):
        if isinstance(t, ArrayType):
            dp = b.alloca(mem_type(t.dtype).as_pointer(), name=f"{name}_data")
            sp = b.alloca(I64, size=g.i64(t.ndim), name=f"{name}_shape")
            slots.append((dp, sp))
            k += 1 + t.ndim
        else:
            slots.append((out_params[k], None))
            k += 1
    flat_slots: list[ir.Value] = []
    for dp, sp in slots:
        flat_slots += [dp] if sp is None else [dp, sp]
    rc = b.call(core, [ctx] + core_args + flat_slots)
    free = g.declare("adc_ctx_free", ir.VoidType(), [PTR])
    bad = func.append_basic_block("error")
    good = func.append_basic_block("copy_out")
    b.cbranch(b.icmp_signed("!=", rc, ir.Constant(I32, 0)), bad, good)
    b.position_at_end(bad)
    b.call(free, [ctx])
    b.ret(rc)
    b.position_at_end(good)
    g.ctx = ctx
    k = 0
    for t, name, (dp, sp) in zip(fn.result_types, out_names, slots):
        if not isinstance(t, ArrayType):
            k += 1
            continue
        dst = out_params[k]
        lens = out_params[k + 1:k + 1 + t.ndim]
        k += 1 + t.ndim
        shape = [b.load(b.gep(sp, [g.i64(j)])) for j in range(t.ndim)]
        mismatch = ir.Constant(I1, 0)
        for have, want in zip(lens, shape):
            mismatch = b.or_(mismatch, b.icmp_signed("!=", have, want))
        wrong = func.append_basic_block("wrong_shape")
        ok = func.append_basic_block("ok")
        b.cbranch(mismatch, wrong, ok)
        b.position_at_end(wrong)
        have = b.alloca(I64, size=g.i64(t.ndim), name=f"{name}_given")
        for j, d in enumerate(lens):
            b.store(d, b.gep(have, [g.i64(j)]))
        fail = g.declare("adc_fail_shape", I32, [PTR, PTR, I64, I64.as_pointer(),
                                                 I64.as_pointer()])
        b.call(fail, [ctx, g.cstring(f"{symbol}: output '{name}'"), g.i64(t.ndim), have, sp])
        b.call(free, [ctx])
        b.ret(ir.Constant(I32, ERR_SHAPE))
        b.position_at_end(ok)
        n = g.i64(elem_size(t.dtype))
        for d in shape:
            n = b.mul(n, d)
        g.memcpy(dst, b.load(dp), n)
    b.call(free, [ctx])
    b.ret(ir.Constant(I32, OK))
    return func
