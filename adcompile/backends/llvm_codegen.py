"""LLVM backend, part 1: typed IR -> LLVM IR (llvmlite.ir).

Each IR function becomes `i32 <name>__core(ctx, args..., outs...)`:
- a scalar argument is passed by value; an array argument as `(data, n0, ..., n{k-1})`,
  C-contiguous (the IR never writes into its arguments: `inplace` copies them first);
- a scalar result is written through a pointer; an array result as a data pointer and a
  shape, pointing at memory owned by `ctx` (the caller copies it out, then frees `ctx`);
- the return value is an error code (`abi.ErrorCode`, `ADC_ERR_*` in the C runtime).

The IR arrives lowered (`transforms.lower_arrays`, `transforms.scalar_semantics`): arrays are
memory only (`empty`, `dim`, `size`, `copy`, element `getitem`/`setitem`, tapes), so this
module emits scalar arithmetic, element loads/stores, allocation and structured control flow
(`for`/`while`/`if` become basic blocks with phis for the carried values); LLVM's vectoriser
does the rest. Every failure (index out of bounds, a failed `check`, allocation failure) calls
`adc_fail` with the user's file:line and returns its code. Tapes: `llvm_tapes.py`; the public
C entry point: `llvm_wrapper.py`.
"""
from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from .. import messages
from ..ir.core import Block, Function, Op, Value
from ..ir.types import ArrayType, ScalarType, TapeType, scalar_of
from .abi import CHECK_CODES, ERR_ALLOC, ERR_INDEX, ERR_SHAPE, ERR_VALUE, OK
from .llvm_tapes import TAPE_OPS
from .llvm_types import (
    F32,
    F64,
    I1,
    I8,
    I32,
    I64,
    PTR,
    Array,
    Unsupported,
    abi_type,
    elem_size,
    mem_type,
    reg_type,
)

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
_INT_ARITH = {"add": "add", "sub": "sub", "mul": "mul", "bitor": "or_"}
_FCMP = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
# the scalar primitives `FunctionCodegen.scalar` emits; the rest of the primitive set is either
# in `_OPS` or rewritten before (transforms.lower_arrays, transforms.scalar_semantics)
SCALAR_OPS = frozenset({*_INTRINSIC, *_LIBM, *_FLOAT_ARITH, *_FCMP, "cast", "select", "and",
                        "or", "not", "isnan", "isinf", "isfinite", "neg", "square", "powi",
                        "mod", "floordiv", "bitor"})


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
    def declare(self, name: str, ret: ir.Type, args: list[ir.Type], noalias_ret=False,
                var_arg=False):
        g = self.module.globals.get(name)
        if g is None:
            g = ir.Function(self.module, ir.FunctionType(ret, args, var_arg=var_arg), name)
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
    def fail_if(self, cond: ir.Value, code: int, what: str,
                detail: ir.Value | None = None) -> None:
        """Branch to a block that reports `what` (at the current user line) and returns;
        '{detail}' in `what` shows the f64 `detail` (the runtime formats it)."""
        loc = self._loc
        where = f"{loc.filename}:{loc.line}: " if loc else ""
        bad = self.func.append_basic_block("fail")
        ok = self.func.append_basic_block("ok")
        self.b.cbranch(cond, bad, ok)
        self.b.position_at_end(bad)
        text = where + what
        if detail is not None and "{detail}" in text:
            head, tail = text.split("{detail}", 1)
            failf = self.declare("adc__failf", I32, [PTR, I32, PTR], var_arg=True)
            self.b.call(failf, [self.ctx, ir.Constant(I32, code), self.cstring("%s%.3e%s"),
                                self.cstring(head), detail, self.cstring(tail)])
        else:
            fail = self.declare("adc_fail", I32, [PTR, I32, PTR])
            self.b.call(fail, [self.ctx, ir.Constant(I32, code), self.cstring(text)])
        self.b.ret(ir.Constant(I32, code))
        self.b.position_at_end(ok)

    def warn_if(self, cond: ir.Value, what: str, detail: ir.Value | None = None) -> None:
        """As `fail_if`, but the program goes on: the runtime records the warning in the
        context (the Python binding turns it into a ConvergenceWarning)."""
        loc = self._loc
        text = (f"{loc.filename}:{loc.line}: " if loc else "") + what
        bad = self.func.append_basic_block("warn")
        ok = self.func.append_basic_block("ok")
        self.b.cbranch(cond, bad, ok)
        self.b.position_at_end(bad)
        warnf = self.declare("adc__warnf", ir.VoidType(), [PTR, PTR], var_arg=True)
        if detail is not None and "{detail}" in text:
            head, tail = text.split("{detail}", 1)
            args = [self.cstring("%s%.3e%s"), self.cstring(head), detail, self.cstring(tail)]
        else:
            args = [self.cstring("%s"), self.cstring(text)]
        self.b.call(warnf, [self.ctx] + args)
        self.b.branch(ok)
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
        for d in shape:
            self.fail_if(self.b.icmp_signed("<", d, self.i64(0)), ERR_VALUE, messages.NEGATIVE_DIM)
        nbytes, over = self.byte_count(shape, elem_size(dtype))
        self.fail_if(over, ERR_ALLOC, messages.TOO_BIG)
        fn = self.declare("adc_alloc", PTR, [PTR, I64], noalias_ret=True)
        raw = self.b.call(fn, [self.ctx, nbytes])
        isnull = self.b.icmp_unsigned("==", raw, ir.Constant(PTR, None))
        self._fail_silent(isnull, ERR_ALLOC)
        return Array(dtype, self.b.bitcast(raw, mem_type(dtype).as_pointer()), list(shape))

    def mul_checked(self, a: ir.Value, b: ir.Value, over: ir.Value) -> tuple[ir.Value, ir.Value]:
        """a * b on i64 and `over` or'ed with whether it overflowed: sizes computed from
        lengths must never wrap (a wrapped byte count allocates too little and every write
        after it lands outside the block)."""
        f = self.declare("llvm.smul.with.overflow.i64", ir.LiteralStructType([I64, I1]),
                         [I64, I64])
        r = self.b.call(f, [a, b])
        return self.b.extract_value(r, 0), self.b.or_(over, self.b.extract_value(r, 1))

    def add_checked(self, a: ir.Value, b: ir.Value, over: ir.Value) -> tuple[ir.Value, ir.Value]:
        f = self.declare("llvm.sadd.with.overflow.i64", ir.LiteralStructType([I64, I1]),
                         [I64, I64])
        r = self.b.call(f, [a, b])
        return self.b.extract_value(r, 0), self.b.or_(over, self.b.extract_value(r, 1))

    def byte_count(self, shape: list[ir.Value], item: int) -> tuple[ir.Value, ir.Value]:
        """(bytes of an array of these non-negative lengths, whether that overflows i64)."""
        n, over = self.i64(item), ir.Constant(I1, 0)
        for d in shape:
            n, over = self.mul_checked(n, d, over)
        return n, over

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

    def element(self, a: Array, idx: list[ir.Value], inbounds) -> ir.Value:
        """Address of a[idx] (row-major). `inbounds`: True, or one bool per index, for indices
        known to lie in [0, n) (lowered array code): those are neither wrapped nor checked;
        the others follow Python (negative counts from the end, out of range fails)."""
        strides = [self.i64(1)] * len(a.shape)
        for k in range(len(a.shape) - 2, -1, -1):
            strides[k] = self.b.mul(strides[k + 1], a.shape[k + 1])
        off = self.i64(0)
        for k, (i, s) in enumerate(zip(idx, strides)):
            trusted = inbounds if isinstance(inbounds, bool) else inbounds[k]
            j = i if trusted else self.wrap_index(i, a.shape[k])
            off = self.b.add(off, self.b.mul(j, s))
        return self.b.gep(a.data, [off], inbounds=True)

    def wrap_index(self, i: ir.Value, n: ir.Value) -> ir.Value:
        """Python semantics: a negative index counts from the end; out of range fails."""
        neg = self.b.icmp_signed("<", i, self.i64(0))
        j = self.b.select(neg, self.b.add(i, n), i)
        if self.boundscheck:
            self.fail_if(self.b.icmp_unsigned(">=", j, n), ERR_INDEX, messages.INDEX)
        return j

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
            if any(isinstance(v.type, ArrayType) for v in op.operands + op.results):
                raise Unsupported(f"'{p}' on arrays (lower_arrays lowers it to loops first)")
            self.vals[op.result.id] = self.scalar(p, op, [self.get(v) for v in op.operands],
                                                  [v.type for v in op.operands])
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
            rq = b.select(b.fcmp_ordered(">", b.fsub(q, fq), ir.Constant(lt, 0.5)),
                          b.fadd(fq, ir.Constant(lt, 1.0)), fq)
            # a zero quotient takes the sign of x / y (-0.0 // 3.0 == -0.0, as NumPy)
            cs = self.module.declare_intrinsic("llvm.copysign", [lt],
                                               ir.FunctionType(lt, [lt, lt]))
            q = b.select(b.fcmp_ordered("==", q, zero), b.call(cs, [zero, b.fdiv(x, y)]), rq)
            yzero = b.fcmp_ordered("==", y, zero)
            return b.select(yzero, b.fdiv(x, y), q)
        if p in _INTRINSIC or p in _LIBM:
            return self.call_math(p, t, xs)
        raise Unsupported(f"'{p}' on {t}")

    def int_power(self, x: ir.Value, n: ir.Value) -> ir.Value:
        """x ** n for int64 by squaring (exact, wrapping like NumPy; n >= 0 was checked)."""
        b = self.b
        pre = b.block
        head = self.func.append_basic_block("ipow_head")
        body = self.func.append_basic_block("ipow_body")
        done = self.func.append_basic_block("ipow_done")
        b.branch(head)
        b.position_at_end(head)
        acc, base, e = b.phi(I64, "acc"), b.phi(I64, "base"), b.phi(I64, "e")
        acc.add_incoming(self.i64(1), pre)
        base.add_incoming(x, pre)
        e.add_incoming(n, pre)
        b.cbranch(b.icmp_signed(">", e, self.i64(0)), body, done)
        b.position_at_end(body)
        odd = b.icmp_signed("!=", b.and_(e, self.i64(1)), self.i64(0))
        acc.add_incoming(b.select(odd, b.mul(acc, base), acc), body)
        base.add_incoming(b.mul(base, base), body)
        e.add_incoming(b.ashr(e, self.i64(1)), body)
        b.branch(head)
        b.position_at_end(done)
        return acc

    def int_op(self, p: str, xs: list[ir.Value]) -> ir.Value:
        b = self.b
        if p in _INT_ARITH:
            return getattr(b, _INT_ARITH[p])(*xs)
        if p == "neg":
            return b.neg(xs[0])
        if p == "square":
            return b.mul(xs[0], xs[0])
        if p == "powi":
            return self.int_power(*xs)
        if p in ("floordiv", "mod", "div"):
            x, y = xs   # scalar_semantics has checked y != 0 before
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


# -- op rules: (codegen, op) -> list of result values -------------------------------------------
def _const(g: FunctionCodegen, op: Op):
    g.consts[op.result.id] = op.attrs["value"]
    return [g.const(op.attrs["value"], op.result.type)]


def _undef(g, op):
    if isinstance(op.result.type, ArrayType):
        raise Unsupported("array undef (lower_arrays lowers it)")
    return [g.const(0, op.result.type)]


def _empty(g, op):
    return [g.alloc(op.result.type.dtype, [g.get(v) for v in op.operands])]


def _element_access(op: Op, nindex: int) -> None:
    if nindex != op.operands[0].type.ndim:
        raise Unsupported(f"'{op.prim}' of a part of an array (lower_arrays lowers it)")


def _getitem(g, op):
    _element_access(op, len(op.operands) - 1)
    ptr = g.element(g.get(op.operands[0]), [g.get(v) for v in op.operands[1:]],
                    op.attrs.get("inbounds", False))
    return [g.from_mem(g.b.load(ptr), op.result.type)]


def _setitem(g, op):
    _element_access(op, len(op.operands) - 2)
    arr = g.get(op.operands[0])
    ptr = g.element(arr, [g.get(v) for v in op.operands[2:]], op.attrs.get("inbounds", False))
    g.b.store(g.to_mem(g.get(op.operands[1]), op.operands[0].type.dtype), ptr)
    return [arr]


def _check(g, op):
    cond = g.get(op.operands[0])
    detail = g.get(op.operands[1]) if len(op.operands) > 1 else None
    if op.attrs.get("warn"):
        g.warn_if(g.b.not_(cond), op.attrs["message"], detail)
    else:
        g.fail_if(g.b.not_(cond), CHECK_CODES[op.attrs["kind"]], op.attrs["message"], detail)
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
        g.fail_if(g.b.icmp_signed("==", step, g.i64(0)), ERR_VALUE, messages.RANGE_STEP)

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
    "const": _const, "undef": _undef, "empty": _empty, "getitem": _getitem,
    "setitem": _setitem, "check": _check, "for": _for, "while": _while, "if": _if,
    "custom": _custom,
    "copy": lambda g, op: [g.copy_array(g.get(op.operands[0]))],
    "dim": lambda g, op: [g.get(op.operands[0]).shape[op.attrs["axis"]]],
    "size": lambda g, op: [g.size(g.get(op.operands[0]))],
    **TAPE_OPS,
}

# every primitive this codegen writes; the registry's coverage test checks it against the
# primitive set and what the lowered pipeline removes first
LOWERS = frozenset(_OPS) | SCALAR_OPS | {"yield", "condition", "return"}
