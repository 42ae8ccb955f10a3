"""CUDA backend, part 1: lowered IR -> CUDA C (`__host__ __device__` C++ that also compiles
for the host).

The IR arrives as the LLVM backend gets it (`lower_arrays`, `scalar_semantics`, `inplace`):
scalars, element access, memory, tapes and structured control flow. Per program this module
writes
- `int <name>(adc_thread *t, args..., outs...)`: the program for one instance, `__host__
  __device__`; arrays are `adc_view<T, N>` (C-contiguous data + lengths), every allocation and
  tape lives in the thread's scratch slice (kernels/adcompile_device.cuh); a failure returns
  its ADC_ERR_* code with `t->where` the index of its message (`<name>_messages`);
- `<name>_instance(i, slot, launch parameters)`: instance i of a batch — row i of every
  batched argument (a view, no copy), results written into row i of the stacked outputs,
  adjoints of shared arguments added into their sums (`adc_atomic_add`), failures recorded
  in `adc_error`;
- `__global__ <name>_kernel(launch parameters)`: one thread per instance (grid-stride);
- host entries `<name>_host` (the same instances in a host loop: how the CPU tests run the
  CUDA C), `<name>_host_shapes` (instance 0's result lengths) and `<name>_message`.

`header(...)` writes the `.cuh` documenting the launch. Semantics follow the LLVM codegen
(Python's `//` and `%`, wrapped and checked indices, NaN-aware comparisons), so the host
build agrees with the CPU backends to rounding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from .. import messages
from ..ir.core import Block, Function, Op, Value
from ..ir.types import ArrayType, ScalarType, TapeType
from ..ir.views import ForOp, IfOp, WhileOp
from .abi import CHECK_CODES, ErrorCode
from .text.emitter import Names, StructuredEmitter, Syntax

_C_RESERVED = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "while", "bool", "true", "false", "class", "new", "delete",
    "template", "this", "namespace", "operator", "private", "public", "friend", "virtual",
    "t", "i", "slot", "err", "scratch", "nbatch", "rc", "exp", "log", "sin", "cos", "tan",
    "sqrt", "pow", "fabs", "floor", "ceil", "erf", "erfc", "lgamma", "tanh", "sinh", "cosh",
    "asin", "acos", "atan", "atan2", "hypot", "log1p", "expm1", "log10", "log2", "trunc",
    "asinh", "acosh", "atanh", "abs", "min", "max", "isnan", "isinf", "isfinite", "signbit",
    "int64_t", "uint64_t", "threadIdx", "blockIdx", "blockDim", "gridDim", "shapes",
}

C_SCALAR = {"f64": "double", "f32": "float", "i64": "int64_t", "bool": "bool"}
_INFIX = {"add": "+", "sub": "-", "mul": "*", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
          "eq": "==", "ne": "!=", "bitor": "|"}
_MATH = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh",
         "asin", "acos", "atan", "asinh", "acosh", "atanh", "floor", "ceil", "trunc", "log10",
         "log2", "erf", "erfc", "lgamma")


def ctype(t) -> str:
    if isinstance(t, ArrayType):
        return f"adc_view<{C_SCALAR[t.dtype.name]}, {t.ndim}>"
    if isinstance(t, TapeType):
        e = t.elem
        if isinstance(e, ArrayType):
            return f"adc_atape<{C_SCALAR[e.dtype.name]}, {e.ndim}>"
        return f"adc_tape<{C_SCALAR[e.name]}>"
    return C_SCALAR[t.name]


def c_const(value, t: ScalarType) -> str:
    if t.is_bool:
        return "true" if value else "false"
    if t.is_int:
        v = int(value)
        return f"INT64_C({v})" if v != -2 ** 63 else "INT64_MIN"
    v = float(value)
    if math.isnan(v):
        text = "NAN"
    elif math.isinf(v):
        text = "INFINITY" if v > 0 else "-INFINITY"
    else:
        text = repr(v)
        if "e" not in text and "." not in text:
            text += ".0"
    if t.name == "f32":
        return f"((float){text})" if not text[0].isdigit() else f"{text}f"
    return f"({text})" if text.startswith("-") else text


class CSyntax(Syntax):
    def __init__(self):
        super().__init__(indent="    ", block_open=" {", block_close="}", empty_body=None)

    def while_header(self, cond: str) -> str:
        return f"while ({cond})"

    def if_header(self, cond: str) -> str:
        return f"if ({cond})"

    def else_header(self) -> str:
        return "else"

    def break_unless(self, cond: str) -> list[str]:
        return [f"if (!({cond})) break;"]


@dataclass
class Messages:
    """The message table of one generated file (index -> text), shared by its programs."""

    texts: list[str] = field(default_factory=list)

    def index(self, text: str) -> int:
        if text not in self.texts:
            self.texts.append(text)
        return self.texts.index(text)


class CudaCodegen(StructuredEmitter):
    """One program as a `__host__ __device__` C++ function (statements through `_STATEMENTS`
    and the scalar expressions of `expr`)."""

    syntax = CSyntax()

    def __init__(self, fn: Function, table: Messages):
        super().__init__(fn, Names(_C_RESERVED))
        self.table = table
        self.consts: dict[int, object] = {}
        self.loc = fn.loc
        self.tmp = 0

    # -- errors -------------------------------------------------------------------------------
    def where(self, text: str) -> int:
        loc = self.loc
        return self.table.index((f"{loc.filename}:{loc.line}: " if loc else "") + text)

    def fail(self, depth: int, cond: str, code: int, text: str) -> None:
        """`if (cond) return code` with `t->where` naming the user's line and `text`."""
        self.emit(depth, f"if ({cond}) {{ t->where = {self.where(text)}; return {int(code)}; }}")

    def attempt(self, depth: int, call: str, text: str) -> None:
        self.emit(depth, f"{{ int rc = {call}; if (rc) {{ t->where = {self.where(text)}; "
                         "return rc; } }")

    def fresh(self, hint: str) -> str:
        self.tmp += 1
        return f"{hint}_{self.tmp}_"

    # -- the function --------------------------------------------------------------------------
    def params(self) -> list[str]:
        out = ["adc_thread *t"]
        for a in self.fn.args:
            out.append(f"{ctype(a.type)} {self.names.define(a)}")
        for k, r in enumerate(self.fn.result_types):
            out.append(f"{ctype(r)} *out{k}")
        return out

    def generate(self, name: str) -> str:
        head = f"__host__ __device__ static int {name}({', '.join(self.params())})"
        self.emit(0, head + " {")
        self.block(self.fn.body, 1)
        self.emit(0, "}")
        return "\n".join(self.lines) + "\n"

    def block(self, block: Block, depth: int) -> None:
        for op in block.ops:
            if op.loc is not None:
                self.loc = op.loc
            self.op(op, depth)

    def statement(self, op: Op, depth: int) -> None:
        rule = _STATEMENTS.get(op.prim)
        if rule is not None:
            rule(self, op, depth)
            return
        r = op.result
        self.emit(depth, f"{ctype(r.type)} {self.names.define(r)} = {self.expr(op)};")

    # -- control flow (C needs declarations: carried values are declared before the loop) ------
    def declare_carried(self, depth: int, op: Op, args: list[Value], inits: list[str]
                        ) -> list[str]:
        names = self.carried(op, args)
        for nm, r, init in zip(names, op.results, inits):
            self.emit(depth, f"{ctype(r.type)} {nm} = {init};")
        return names

    def assign(self, depth: int, targets: list[str], values: list[str]) -> None:
        pairs = [(t, v) for t, v in zip(targets, values) if t != v]
        if not pairs:
            return
        if len(pairs) == 1 or not {t for t, _ in pairs} & {v for _, v in pairs}:
            for t, v in pairs:
                self.emit(depth, f"{t} = {v};")
            return
        tmps = []
        for t, v in pairs:   # a swap: read every old value first
            tmp = self.fresh("next")
            self.emit(depth, f"auto {tmp} = {v};")
            tmps.append(tmp)
        for (t, _), tmp in zip(pairs, tmps):
            self.emit(depth, f"{t} = {tmp};")

    def emit_for(self, op: Op, depth: int) -> None:
        loop = ForOp(op)
        lb, ub, step = (self.names[v] for v in loop.bounds)
        names = self.declare_carried(depth, op, loop.carried,
                                     [self.names[v] for v in loop.inits])
        iv = self.names.define(loop.iv)
        const_step = self.consts.get(loop.step.id)
        if const_step is None:
            self.fail(depth, f"{step} == 0", ErrorCode.VALUE, messages.RANGE_STEP)
            cond = f"({step} > 0 ? {iv} < {ub} : {iv} > {ub})"
        else:
            cond = f"{iv} {'<' if const_step > 0 else '>'} {ub}"
        self.emit(depth, f"for (int64_t {iv} = {lb}; {cond}; {iv} += {step}) {{")
        self.body(loop.body, depth + 1, names)
        self.emit(depth, "}")

    def emit_while(self, op: Op, depth: int) -> None:
        loop = WhileOp(op)
        names = self.declare_carried(depth, op, loop.before.args,
                                     [self.names[v] for v in loop.inits])
        for a, nm in zip(loop.body.args, names):
            self.names.define(a, nm)
        self.emit(depth, "while (true) {")
        self.block(Block(loop.before.args, loop.before.ops[:-1]), depth + 1)
        self.emit(depth + 1, f"if (!({self.names[loop.condition]})) break;")
        self.body(loop.body, depth + 1, names)
        self.emit(depth, "}")

    def emit_if(self, op: Op, depth: int) -> None:
        branch = IfOp(op)
        names = []
        for r in op.results:
            nm = self.names.define(r)
            self.emit(depth, f"{ctype(r.type)} {nm}{{}};")
            names.append(nm)
        self.emit(depth, f"if ({self.names[branch.cond]}) {{")
        self.body(branch.then, depth + 1, names)
        self.emit(depth, "} else {")
        self.body(branch.orelse, depth + 1, names)
        self.emit(depth, "}")

    # -- element access --------------------------------------------------------------------------
    def element(self, op: Op, depth: int, arr: Value, idx: list[Value]) -> str:
        """`a.data[offset]`; indices not known in range wrap (negative) and are checked."""
        a = self.names[arr]
        inb = op.attrs.get("inbounds", False)
        parts = []
        for k, v in enumerate(idx):
            trusted = inb if isinstance(inb, bool) else (k < len(inb) and inb[k])
            i = self.names[v]
            known = self.consts.get(v.id)
            if not trusted and isinstance(known, int) and known >= 0:
                self.fail(depth, f"{i} >= {a}.n[{k}]", ErrorCode.INDEX, messages.INDEX)
            elif not trusted:
                j = self.fresh("j")
                self.emit(depth, f"int64_t {j} = {i} < 0 ? {i} + {a}.n[{k}] : {i};")
                self.fail(depth, f"(uint64_t){j} >= (uint64_t){a}.n[{k}]", ErrorCode.INDEX,
                          messages.INDEX)
                i = j
            parts.append(i)
        off = parts[0]
        for k in range(1, len(parts)):
            off = f"({off}) * {a}.n[{k}] + {parts[k]}"
        return f"{a}.data[{off}]"

    # -- scalar expressions ----------------------------------------------------------------------
    def expr(self, op: Op) -> str:
        p = op.prim
        a = [self.names[v] for v in op.operands]
        t = op.result.type
        if any(isinstance(v.type, ArrayType) for v in op.operands) or isinstance(t, ArrayType):
            raise NotImplementedError(f"CUDA backend: '{p}' on arrays (lower_arrays lowers it)")
        f32 = t.name == "f32"
        if p in _INFIX:
            return f"{a[0]} {_INFIX[p]} {a[1]}"
        if p == "div":
            return f"{a[0]} / {a[1]}"
        if p in _MATH:
            return f"{p}{'f' if f32 else ''}({a[0]})"
        if p == "abs":
            if t.is_int:
                return f"({a[0]} < 0 ? -{a[0]} : {a[0]})"
            return f"fabs{'f' if f32 else ''}({a[0]})"
        if p in ("atan2", "hypot", "pow"):
            return f"{p}{'f' if f32 else ''}({a[0]}, {a[1]})"
        if p == "neg":
            return f"-{a[0]}"
        if p == "square":
            return f"{a[0]} * {a[0]}"
        if p == "powi":
            if t.is_int:
                return f"adc_powi_i64({a[0]}, {a[1]})"
            return f"pow{'f' if f32 else ''}({a[0]}, ({C_SCALAR[t.name]}){a[1]})"
        if p in ("mod", "floordiv"):
            if t.is_int:
                return f"adc_{p}_i64({a[0]}, {a[1]})"
            name = "fmod_py" if p == "mod" else "floordiv_py"
            return f"adc_{name}{'f' if f32 else ''}({a[0]}, {a[1]})"
        if p == "and":
            return f"{a[0]} && {a[1]}"
        if p == "or":
            return f"{a[0]} || {a[1]}"
        if p == "not":
            return f"!{a[0]}"
        if p == "isnan":
            return f"({a[0]} != {a[0]})"
        if p == "isinf":
            return f"(fabs((double){a[0]}) == INFINITY)"
        if p == "isfinite":
            return f"(fabs((double){a[0]}) < INFINITY)"
        if p == "select":
            return f"{a[0]} ? {a[1]} : {a[2]}"
        if p == "cast":
            dst = t
            if dst.is_bool:
                return f"({a[0]} != 0)"
            return f"({C_SCALAR[dst.name]}){a[0]}"
        raise NotImplementedError(f"CUDA backend has no lowering for '{p}'")


# -- statements ---------------------------------------------------------------------------------
def _const(g: CudaCodegen, op: Op, depth: int) -> None:
    g.consts[op.result.id] = op.attrs["value"]
    g.names.define(op.result, c_const(op.attrs["value"], op.result.type))


def _undef(g: CudaCodegen, op: Op, depth: int) -> None:
    t = op.result.type
    init = "{}" if isinstance(t, ArrayType) else f" = {c_const(0, t)}"
    g.emit(depth, f"{ctype(t)} {g.names.define(op.result)}{init};")


def _empty(g: CudaCodegen, op: Op, depth: int) -> None:
    t = op.result.type
    nm = g.names.define(op.result)
    dims = g.fresh("dims")
    g.emit(depth, f"{ctype(t)} {nm}; int64_t {dims}[{t.ndim}] = "
                  f"{{{', '.join(g.names[v] for v in op.operands)}}};")
    g.attempt(depth, f"adc_empty(t, &{nm}, {dims})", "out of scratch memory for an array "
              "(or a negative length): launch with a larger scratch_per_thread")


def _copy(g: CudaCodegen, op: Op, depth: int) -> None:
    nm = g.names.define(op.result)
    g.emit(depth, f"{ctype(op.result.type)} {nm};")
    g.attempt(depth, f"adc_copy(t, &{nm}, {g.names[op.operands[0]]})",
              "out of scratch memory for an array: launch with a larger scratch_per_thread")


def _dim(g: CudaCodegen, op: Op, depth: int) -> None:
    g.emit(depth, f"int64_t {g.names.define(op.result)} = "
                  f"{g.names[op.operands[0]]}.n[{op.attrs['axis']}];")


def _size(g: CudaCodegen, op: Op, depth: int) -> None:
    g.emit(depth, f"int64_t {g.names.define(op.result)} = adc_size({g.names[op.operands[0]]});")


def _getitem(g: CudaCodegen, op: Op, depth: int) -> None:
    if len(op.operands) - 1 != op.operands[0].type.ndim:
        raise NotImplementedError("CUDA backend: getitem of a part of an array")
    ref = g.element(op, depth, op.operands[0], op.operands[1:])
    r = op.result
    g.emit(depth, f"{ctype(r.type)} {g.names.define(r)} = {ref};")


def _setitem(g: CudaCodegen, op: Op, depth: int) -> None:
    if len(op.operands) - 2 != op.operands[0].type.ndim:
        raise NotImplementedError("CUDA backend: setitem of a part of an array")
    ref = g.element(op, depth, op.operands[0], op.operands[2:])
    g.emit(depth, f"{ref} = {g.names[op.operands[1]]};")
    g.names.define(op.result, g.names[op.operands[0]])


def _check(g: CudaCodegen, op: Op, depth: int) -> None:
    text = op.attrs["message"].replace("{detail}", "(see the host build for the value)")
    g.fail(depth, f"!({g.names[op.operands[0]]})", CHECK_CODES[op.attrs["kind"]], text)


def _return(g: CudaCodegen, op: Op, depth: int) -> None:
    for k, v in enumerate(op.operands):
        g.emit(depth, f"*out{k} = {g.names[v]};")
    g.emit(depth, "return 0;")


def _tape_new(g: CudaCodegen, op: Op, depth: int) -> None:
    t = op.result.type
    nm = g.names.define(op.result)
    init = "adc_atape_init" if isinstance(t.elem, ArrayType) else "adc_tape_init"
    g.emit(depth, f"{ctype(t)} {nm};")
    g.attempt(depth, f"{init}(t, &{nm})", "out of scratch memory for a tape: launch with a "
              "larger scratch_per_thread")


_TAPE_FULL = ("out of scratch memory for reverse mode's tape (a runtime-length loop taped "
              "more than the thread's slice holds): launch with a larger scratch_per_thread")


def _tape_push(g: CudaCodegen, op: Op, depth: int) -> None:
    tape, v = op.operands
    fn = "adc_atape_push" if isinstance(tape.type.elem, ArrayType) else "adc_tape_push"
    g.attempt(depth, f"{fn}(t, &{g.names[tape]}, {g.names[v]})", _TAPE_FULL)


def _tape_pop(g: CudaCodegen, op: Op, depth: int) -> None:
    tape = op.operands[0]
    t = g.names[tape]
    r = op.result
    if isinstance(tape.type.elem, ArrayType):
        if op.attrs.get("guarded"):
            g.fail(depth, f"{t}.items.len <= 0", ErrorCode.INTERNAL, messages.TAPE_UNDERFLOW)
        g.emit(depth, f"{ctype(r.type)} {g.names.define(r)} = adc_atape_pop(&{t});")
        return
    if op.attrs.get("guarded"):
        g.fail(depth, f"{t}.len <= 0", ErrorCode.INTERNAL, messages.TAPE_UNDERFLOW)
    g.emit(depth, f"{ctype(r.type)} {g.names.define(r)} = {t}.data[--{t}.len];")


def _tape_reserve(g: CudaCodegen, op: Op, depth: int) -> None:
    tape, count = op.operands[:2]
    t, n = g.names[tape], g.names[count]
    if isinstance(tape.type.elem, ArrayType):
        g.attempt(depth, f"adc_tape_reserve(t, &{t}.items, {t}.items.len + {n})", _TAPE_FULL)
        return
    g.attempt(depth, f"adc_tape_reserve(t, &{t}, {t}.len + {n})", _TAPE_FULL)


def _tape_budget(g: CudaCodegen, op: Op, depth: int) -> None:
    limit = op.attrs["limit"]
    g.fail(depth, f"{g.names[op.operands[0]]} > INT64_C({limit})", ErrorCode.TAPE_BUDGET,
           messages.tape_budget(limit, op.loc))


_STATEMENTS: dict[str, Callable] = {
    "const": _const, "undef": _undef, "empty": _empty, "copy": _copy, "dim": _dim,
    "size": _size, "getitem": _getitem, "setitem": _setitem, "check": _check,
    "return": _return, "tape_new": _tape_new, "tape_push": _tape_push, "tape_pop": _tape_pop,
    "tape_reserve": _tape_reserve, "tape_budget": _tape_budget,
}
_SCALARS = frozenset(_INFIX) | frozenset(_MATH) | {
    "div", "abs", "atan2", "hypot", "pow", "neg", "square", "powi", "mod", "floordiv", "and",
    "or", "not", "isnan", "isinf", "isfinite", "select", "cast"}

# every primitive this backend writes (control flow through the emitter); the registry's
# coverage test checks it against the primitive set and what the lowered pipeline removes
LOWERS = frozenset(_STATEMENTS) | _SCALARS | {"for", "while", "if", "yield", "condition"}
