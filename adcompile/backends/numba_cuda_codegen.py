"""numba-cuda backend: lowered IR -> one self-contained `@cuda.jit` kernel (Python source).

The same lowered IR the LLVM and CUDA C backends compile, written as a numba-cuda kernel with
one thread per instance (a grid-stride loop). Device code cannot allocate, so an array is a
flat buffer, an offset and its lengths (`x`, `x_o`, `x_n0`, ...): arguments are flat views of
the (batched) input arrays; arrays and tapes an instance makes are bump-allocated from its
thread's slice of one scratch buffer per dtype (`s_f64`, ...; `top_f64` is the next free
element, `end_f64` the end of the slice). Failures (an index out of range, a failed check, a
slice exhausted) record (code, message index, instance) in `err` (first one wins) and end the
thread. Self-contained on purpose: no device functions (numba-cuda's PTX compile without a
driver needs kernels that call none), so helpers are written inline.
"""
from __future__ import annotations

import math
from typing import Callable

from .. import messages
from ..ir.core import Block, Function, Op, Value
from ..ir.types import ArrayType, ScalarType, TapeType
from ..ir.views import ForOp, IfOp
from .abi import CHECK_CODES, ErrorCode
from .cuda_codegen import Messages
from .cuda_kernel import KernelLayout
from .text.emitter import Names, StructuredEmitter

_RESERVED = {"np", "math", "cuda", "i", "slot", "err", "nbatch", "range", "int", "float",
             "bool", "abs", "min", "max", "True", "False", "None", "and", "or", "not", "if",
             "else", "for", "while", "in", "is", "def", "return", "pass", "break", "continue",
             "lambda", "class", "from", "import", "global", "with", "as", "del", "try",
             "except", "finally", "raise", "yield", "assert", "elif", "nonlocal", "async",
             "await", "len", "print"}
DTYPES = ("f64", "f32", "i64", "bool")
_INFIX = {"add": "+", "sub": "-", "mul": "*", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
          "eq": "==", "ne": "!=", "div": "/", "bitor": "|"}
_MATH = ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh",
         "asin", "acos", "atan", "asinh", "acosh", "atanh", "floor", "ceil", "trunc", "log10",
         "log2", "erf", "erfc", "lgamma")
_NP = {"f64": "np.float64", "f32": "np.float32", "i64": "np.int64", "bool": "np.bool_"}


def _lit(value, t: ScalarType) -> str:
    if t.is_bool:
        return "True" if value else "False"
    if t.is_int:
        return repr(int(value))
    v = float(value)
    text = ("math.nan" if math.isnan(v) else ("math.inf" if v > 0 else "-math.inf")
            if math.isinf(v) else repr(v))
    return f"np.float32({text})" if t.name == "f32" else text


class KernelCodegen(StructuredEmitter):
    """The kernel: the per-instance program inlined in a grid-stride loop."""

    def __init__(self, fn: Function, layout: KernelLayout, table: Messages):
        super().__init__(fn, Names(_RESERVED))
        self.layout, self.table = layout, table
        self.consts: dict[int, object] = {}
        self.arrays: dict[str, int] = {}     # array variable -> ndim (its parts: _o, _n<k>)
        self.loc = fn.loc
        self.tmp = 0

    def fresh(self, hint: str) -> str:
        self.tmp += 1
        return f"{hint}_{self.tmp}_"

    # -- errors --------------------------------------------------------------------------------
    def fail(self, depth: int, cond: str, code: int, text: str) -> None:
        loc = self.loc
        k = self.table.index((f"{loc.filename}:{loc.line}: " if loc else "") + text)
        self.emit(depth, f"if {cond}:")
        self.emit(depth + 1, f"if cuda.atomic.cas(err, 0, 0, {int(code)}) == 0:")
        self.emit(depth + 2, f"err[1] = {k}")
        self.emit(depth + 2, "err[2] = i")
        self.emit(depth + 1, "return")

    # -- arrays as (buffer, offset, lengths) -----------------------------------------------------
    def parts(self, name: str) -> list[str]:
        nd = self.arrays.get(name)
        return [name] if nd is None else [name, f"{name}_o"] + [f"{name}_n{k}" for k in range(nd)]

    def define_array(self, v: Value, name: str | None = None) -> str:
        nm = self.names.define(v, name)
        self.arrays[nm] = v.type.ndim
        return nm

    def alloc(self, depth: int, nm: str, dt: str, count: str, what: str) -> None:
        """`nm` = `count` fresh elements of dtype `dt` from this thread's slice."""
        self.emit(depth, f"{nm} = s_{dt}")
        self.emit(depth, f"{nm}_o = top_{dt}")
        self.emit(depth, f"top_{dt} += {count}")
        self.fail(depth, f"top_{dt} > end_{dt}", ErrorCode.ALLOC, what)

    def assign(self, depth: int, targets: list[str], values: list[str]) -> None:
        ts, vs = [], []
        for t, v in zip(targets, values):
            if t in self.arrays:   # a carried array: every part
                self.arrays.setdefault(v, self.arrays[t])
                ts += self.parts(t)
                vs += self.parts(v)
            else:
                ts.append(t)
                vs.append(v)
        super().assign(depth, ts, vs)

    def carried(self, op: Op, args: list[Value]) -> list[str]:
        out = super().carried(op, args)
        for nm, r in zip(out, op.results):
            if isinstance(r.type, ArrayType):
                self.arrays[nm] = r.type.ndim
            if isinstance(r.type, TapeType):
                raise NotImplementedError("numba-cuda backend: a tape carried by a loop")
        return out

    def emit_if(self, op: Op, depth: int) -> None:
        branch = IfOp(op)
        names = []
        for r in op.results:
            nm = self.names.define(r)
            if isinstance(r.type, ArrayType):
                self.arrays[nm] = r.type.ndim
            names.append(nm)
        start = self.open(depth, f"if {self.names[branch.cond]}")
        self.body(branch.then, depth + 1, names)
        self.close(depth, start)
        start = self.open(depth, "else")
        self.body(branch.orelse, depth + 1, names)
        self.close(depth, start)

    def emit_for(self, op: Op, depth: int) -> None:
        step = self.consts.get(ForOp(op).step.id)
        if step is None:
            self.fail(depth, f"{self.names[ForOp(op).step]} == 0", ErrorCode.VALUE,
                      messages.RANGE_STEP)
        super().emit_for(op, depth)

    def block(self, block: Block, depth: int) -> None:
        for op in block.ops:
            if op.loc is not None:
                self.loc = op.loc
            self.op(op, depth)

    def element(self, op: Op, depth: int, arr: Value, idx: list[Value]) -> str:
        a = self.names[arr]
        inb = op.attrs.get("inbounds", False)
        parts = []
        for k, v in enumerate(idx):
            trusted = inb if isinstance(inb, bool) else (k < len(inb) and inb[k])
            i = self.names[v]
            if not trusted:
                j = self.fresh("j")
                self.emit(depth, f"{j} = {i} + {a}_n{k} if {i} < 0 else {i}")
                self.fail(depth, f"{j} < 0 or {j} >= {a}_n{k}", ErrorCode.INDEX,
                          messages.INDEX)
                i = j
            parts.append(i)
        off = parts[0]
        for k in range(1, len(parts)):
            off = f"({off}) * {a}_n{k} + {parts[k]}"
        return f"{a}[{a}_o + {off}]"

    def statement(self, op: Op, depth: int) -> None:
        rule = _STATEMENTS.get(op.prim)
        if rule is not None:
            rule(self, op, depth)
            return
        self.emit(depth, f"{self.names.define(op.result)} = {self.expr(op)}")

    def expr(self, op: Op) -> str:
        p = op.prim
        a = [self.names[v] for v in op.operands]
        t = op.result.type
        if p in _INFIX:
            return f"{a[0]} {_INFIX[p]} {a[1]}"
        if p in _MATH:
            return f"math.{p}({a[0]})"
        if p in ("atan2", "hypot", "pow"):
            return f"math.{p}({a[0]}, {a[1]})" if p != "pow" else f"{a[0]} ** {a[1]}"
        if p == "abs":
            return f"abs({a[0]})"
        if p == "neg":
            return f"-{a[0]}"
        if p == "square":
            return f"{a[0]} * {a[0]}"
        if p == "powi":
            return f"{a[0]} ** {a[1]}" if t.is_int else f"{a[0]} ** {_NP[t.name]}({a[1]})"
        if p == "mod":
            return f"{a[0]} % {a[1]}"
        if p == "floordiv":
            return f"{a[0]} // {a[1]}"
        if p in ("and", "or"):
            return f"{a[0]} {p} {a[1]}"
        if p == "not":
            return f"not {a[0]}"
        if p in ("isnan", "isinf", "isfinite"):
            return f"math.{p}({a[0]})"
        if p == "select":
            return f"{a[1]} if {a[0]} else {a[2]}"
        if p == "cast":
            return {"f64": f"float({a[0]})", "f32": f"np.float32({a[0]})",
                    "i64": f"int({a[0]})", "bool": f"({a[0]} != 0)"}[t.name]
        raise NotImplementedError(f"numba-cuda backend has no lowering for '{p}'")


# -- statements ---------------------------------------------------------------------------------
def _const(g: KernelCodegen, op: Op, depth: int) -> None:
    g.consts[op.result.id] = op.attrs["value"]
    g.names.define(op.result, _lit(op.attrs["value"], op.result.type))


def _undef(g: KernelCodegen, op: Op, depth: int) -> None:
    t = op.result.type
    if isinstance(t, ArrayType):
        nm = g.define_array(op.result)
        g.emit(depth, f"{nm} = s_{t.dtype.name}")
        g.emit(depth, f"{nm}_o = 0")
        for k in range(t.ndim):
            g.emit(depth, f"{nm}_n{k} = 0")
        return
    g.emit(depth, f"{g.names.define(op.result)} = {_lit(0, t)}")


def _empty(g: KernelCodegen, op: Op, depth: int) -> None:
    t = op.result.type
    nm = g.define_array(op.result)
    dims = [g.names[v] for v in op.operands]
    for k, d in enumerate(dims):
        g.emit(depth, f"{nm}_n{k} = {d}")
    g.fail(depth, " or ".join(f"{nm}_n{k} < 0" for k in range(t.ndim)) or "False",
           ErrorCode.VALUE, messages.NEGATIVE_DIM)
    g.alloc(depth, nm, t.dtype.name, " * ".join(f"{nm}_n{k}" for k in range(t.ndim)) or "1",
            _SCRATCH)


_SCRATCH = "out of scratch memory for an array or tape: launch with a larger scratch"


def _copy(g: KernelCodegen, op: Op, depth: int) -> None:
    t = op.result.type
    src = g.names[op.operands[0]]
    nm = g.define_array(op.result)
    size = " * ".join(f"{src}_n{k}" for k in range(t.ndim)) or "1"
    for k in range(t.ndim):
        g.emit(depth, f"{nm}_n{k} = {src}_n{k}")
    g.alloc(depth, nm, t.dtype.name, size, _SCRATCH)
    e = g.fresh("e")
    g.emit(depth, f"for {e} in range({size}):")
    g.emit(depth + 1, f"{nm}[{nm}_o + {e}] = {src}[{src}_o + {e}]")


def _dim(g: KernelCodegen, op: Op, depth: int) -> None:
    g.emit(depth, f"{g.names.define(op.result)} = {g.names[op.operands[0]]}_n"
                  f"{op.attrs['axis']}")


def _size(g: KernelCodegen, op: Op, depth: int) -> None:
    a = g.names[op.operands[0]]
    nd = op.operands[0].type.ndim
    g.emit(depth, f"{g.names.define(op.result)} = "
                  f"{' * '.join(f'{a}_n{k}' for k in range(nd)) or '1'}")


def _getitem(g: KernelCodegen, op: Op, depth: int) -> None:
    if len(op.operands) - 1 != op.operands[0].type.ndim:
        raise NotImplementedError("numba-cuda backend: getitem of a part of an array")
    ref = g.element(op, depth, op.operands[0], op.operands[1:])
    g.emit(depth, f"{g.names.define(op.result)} = {ref}")


def _setitem(g: KernelCodegen, op: Op, depth: int) -> None:
    if len(op.operands) - 2 != op.operands[0].type.ndim:
        raise NotImplementedError("numba-cuda backend: setitem of a part of an array")
    ref = g.element(op, depth, op.operands[0], op.operands[2:])
    g.emit(depth, f"{ref} = {g.names[op.operands[1]]}")
    g.define_array(op.result, g.names[op.operands[0]])


def _check(g: KernelCodegen, op: Op, depth: int) -> None:
    text = op.attrs["message"].replace("{detail}", "(see the CPU build for the value)")
    g.fail(depth, f"not {g.names[op.operands[0]]}", CHECK_CODES[op.attrs["kind"]], text)


def _return(g: KernelCodegen, op: Op, depth: int) -> None:
    """Row i of each stacked output; shared adjoints added atomically into their sums."""
    for k, v in enumerate(op.operands):
        x = g.names[v]
        red = g.layout.reduce[k]
        t = v.type
        if not isinstance(t, ArrayType):
            g.emit(depth, f"cuda.atomic.add(out{k}, 0, {x})" if red is not None
                   else f"out{k}[i] = {x}")
            continue
        want = ([f"{g.arg_names[red]}_n{j}" for j in range(t.ndim)] if red is not None
                else [f"out{k}_n{j}" for j in range(t.ndim)])
        g.fail(depth, " or ".join(f"{x}_n{j} != {w}" for j, w in enumerate(want)),
               ErrorCode.SHAPE, f"result {k} of an instance does not have the lengths of its "
                                "output")
        size = " * ".join(want)
        e = g.fresh("e")
        g.emit(depth, f"for {e} in range({size}):")
        if red is not None:
            g.emit(depth + 1, f"cuda.atomic.add(out{k}, {e}, {x}[{x}_o + {e}])")
        else:
            g.emit(depth + 1, f"out{k}[i * ({size}) + {e}] = {x}[{x}_o + {e}]")


def _tape_new(g: KernelCodegen, op: Op, depth: int) -> None:
    elem = op.result.type.elem
    nm = g.names.define(op.result)
    if isinstance(elem, ArrayType):   # items: (payload offset, lengths) on the i64 scratch
        w = elem.ndim + 1
        g.alloc(depth, f"{nm}_it", "i64", f"{16 * w}", _SCRATCH)
        g.emit(depth, f"{nm}_itlen = 0")
        g.emit(depth, f"{nm}_itcap = 16")
        g.alloc(depth, f"{nm}_pay", elem.dtype.name, "64", _SCRATCH)
        g.emit(depth, f"{nm}_paylen = 0")
        g.emit(depth, f"{nm}_paycap = 64")
        return
    g.alloc(depth, nm, elem.name, "16", _SCRATCH)
    g.emit(depth, f"{nm}_len = 0")
    g.emit(depth, f"{nm}_cap = 16")


def _grow(g: KernelCodegen, depth: int, nm: str, dt: str, length: str, cap: str,
          want: str, width: int = 1) -> None:
    """Room for `want` elements on the stack `nm`: in place when it is the newest
    allocation of its dtype, else a copy into a larger block (the old one is not reused)."""
    g.emit(depth, f"if {want} > {cap}:")
    d = depth + 1
    c = g.fresh("cap")
    g.emit(d, f"{c} = {cap}")
    g.emit(d, f"while {c} < {want}:")
    g.emit(d + 1, f"{c} *= 2")
    g.emit(d, f"if {nm}_o + {cap} * {width} == top_{dt} and "
              f"{nm}_o + {c} * {width} <= end_{dt}:")
    g.emit(d + 1, f"top_{dt} = {nm}_o + {c} * {width}")
    g.emit(d, "else:")
    o = g.fresh("old")
    g.emit(d + 1, f"{o} = {nm}_o")
    g.emit(d + 1, f"{nm}_o = top_{dt}")
    g.emit(d + 1, f"top_{dt} += {c} * {width}")
    g.fail(d + 1, f"top_{dt} > end_{dt}", ErrorCode.ALLOC,
           "out of scratch memory for reverse mode's tape (a runtime-length loop taped more "
           "than the thread's slice holds): launch with a larger scratch")
    e = g.fresh("e")
    g.emit(d + 1, f"for {e} in range({length} * {width}):")
    g.emit(d + 2, f"{nm}[{nm}_o + {e}] = {nm}[{o} + {e}]")
    g.emit(d, f"{cap} = {c}")


def _tape_push(g: KernelCodegen, op: Op, depth: int) -> None:
    tape, v = op.operands
    nm, x = g.names[tape], g.names[v]
    elem = tape.type.elem
    if isinstance(elem, ArrayType):
        w = elem.ndim + 1
        size = " * ".join(f"{x}_n{k}" for k in range(elem.ndim)) or "1"
        _grow(g, depth, f"{nm}_pay", elem.dtype.name, f"{nm}_paylen", f"{nm}_paycap",
              f"{nm}_paylen + {size}")
        e = g.fresh("e")
        g.emit(depth, f"for {e} in range({size}):")
        g.emit(depth + 1, f"{nm}_pay[{nm}_pay_o + {nm}_paylen + {e}] = {x}[{x}_o + {e}]")
        _grow(g, depth, f"{nm}_it", "i64", f"{nm}_itlen", f"{nm}_itcap", f"{nm}_itlen + 1", w)
        base = f"{nm}_it_o + {nm}_itlen * {w}"
        g.emit(depth, f"{nm}_it[{base}] = {nm}_paylen")
        for k in range(elem.ndim):
            g.emit(depth, f"{nm}_it[{base} + {k + 1}] = {x}_n{k}")
        g.emit(depth, f"{nm}_paylen += {size}")
        g.emit(depth, f"{nm}_itlen += 1")
        return
    _grow(g, depth, nm, elem.name, f"{nm}_len", f"{nm}_cap", f"{nm}_len + 1")
    g.emit(depth, f"{nm}[{nm}_o + {nm}_len] = {x}")
    g.emit(depth, f"{nm}_len += 1")


def _tape_pop(g: KernelCodegen, op: Op, depth: int) -> None:
    tape = op.operands[0]
    nm = g.names[tape]
    elem = tape.type.elem
    if isinstance(elem, ArrayType):
        w = elem.ndim + 1
        if op.attrs.get("guarded"):
            g.fail(depth, f"{nm}_itlen <= 0", ErrorCode.INTERNAL, messages.TAPE_UNDERFLOW)
        r = g.define_array(op.result)
        g.emit(depth, f"{nm}_itlen -= 1")
        base = f"{nm}_it_o + {nm}_itlen * {w}"
        g.emit(depth, f"{nm}_paylen = {nm}_it[{base}]")
        g.emit(depth, f"{r} = {nm}_pay")
        g.emit(depth, f"{r}_o = {nm}_pay_o + {nm}_paylen")
        for k in range(elem.ndim):
            g.emit(depth, f"{r}_n{k} = {nm}_it[{base} + {k + 1}]")
        return
    if op.attrs.get("guarded"):
        g.fail(depth, f"{nm}_len <= 0", ErrorCode.INTERNAL, messages.TAPE_UNDERFLOW)
    g.emit(depth, f"{nm}_len -= 1")
    g.emit(depth, f"{g.names.define(op.result)} = {nm}[{nm}_o + {nm}_len]")


def _tape_reserve(g: KernelCodegen, op: Op, depth: int) -> None:
    tape, count = op.operands[:2]
    nm, n = g.names[tape], g.names[count]
    elem = tape.type.elem
    if isinstance(elem, ArrayType):
        _grow(g, depth, f"{nm}_it", "i64", f"{nm}_itlen", f"{nm}_itcap", f"{nm}_itlen + {n}",
              elem.ndim + 1)
        return
    _grow(g, depth, nm, elem.name, f"{nm}_len", f"{nm}_cap", f"{nm}_len + {n}")


def _tape_budget(g: KernelCodegen, op: Op, depth: int) -> None:
    limit = op.attrs["limit"]
    g.fail(depth, f"{g.names[op.operands[0]]} > {limit}", ErrorCode.TAPE_BUDGET,
           messages.tape_budget(limit, op.loc))


_STATEMENTS: dict[str, Callable] = {
    "const": _const, "undef": _undef, "empty": _empty, "copy": _copy, "dim": _dim,
    "size": _size, "getitem": _getitem, "setitem": _setitem, "check": _check,
    "return": _return, "tape_new": _tape_new, "tape_push": _tape_push, "tape_pop": _tape_pop,
    "tape_reserve": _tape_reserve, "tape_budget": _tape_budget,
}
_SCALARS = frozenset(_INFIX) | frozenset(_MATH) | {
    "abs", "atan2", "hypot", "pow", "neg", "square", "powi", "mod", "floordiv", "and", "or",
    "not", "isnan", "isinf", "isfinite", "select", "cast"}
LOWERS = frozenset(_STATEMENTS) | _SCALARS | {"for", "while", "if", "yield", "condition"}


def generate_kernel(fn: Function, name: str, layout: KernelLayout) -> tuple[str, list[str]]:
    """(the kernel's module source, its message table). Kernel parameters: nbatch; per
    argument a flat array (batched or shared array, batched scalar; with its per-instance
    lengths) or a shared scalar; per result its flat output (and per-instance lengths when
    stacked); per dtype a flat scratch buffer; the elements per thread of each; err (3 int64:
    code, message index, instance)."""
    table = Messages()
    g = KernelCodegen(fn, layout, table)
    params = ["nbatch"]
    g.arg_names = []
    for a, bat in zip(fn.args, layout.batched):
        t = a.type
        if isinstance(t, ArrayType):
            nm = g.define_array(a)
            params += [nm] + [f"{nm}_n{k}" for k in range(t.ndim)]
        else:
            nm = g.names.define(a)
            params.append(f"{nm}_b" if bat else nm)
        g.arg_names.append(nm)
    for k, t in enumerate(fn.result_types):
        params.append(f"out{k}")
        if layout.reduce[k] is None and isinstance(t, ArrayType):
            params += [f"out{k}_n{j}" for j in range(t.ndim)]
    params += [f"s_{d}" for d in DTYPES] + [f"cap_{d}" for d in DTYPES] + ["err"]
    g.emit(0, "@cuda.jit")
    g.emit(0, f"def {name}({', '.join(params)}):")
    g.emit(1, "slot = cuda.grid(1)")
    g.emit(1, "for i in range(slot, nbatch, cuda.gridsize(1)):")
    for d in DTYPES:
        g.emit(2, f"top_{d} = slot * cap_{d}")
        g.emit(2, f"end_{d} = top_{d} + cap_{d}")
    for a, bat, nm in zip(fn.args, layout.batched, g.arg_names):
        t = a.type
        if isinstance(t, ArrayType):
            row = " * ".join(f"{nm}_n{k}" for k in range(t.ndim)) or "1"
            g.emit(2, f"{nm}_o = i * ({row})" if bat else f"{nm}_o = 0")
        elif bat:
            g.emit(2, f"{nm} = {nm}_b[i]")
    g.block(fn.body, 2)
    header = (f"# Generated by adcompile from {fn.loc.filename if fn.loc else '?'}:"
              f"{fn.loc.line if fn.loc else '?'} ({fn.name}): a numba-cuda kernel, one thread "
              "per instance. Do not edit.\nimport math\n\nimport numpy as np\n"
              "from numba import cuda\n\n\n")
    return header + "\n".join(g.lines) + "\n", list(table.texts)
