"""LLVM backend: the documented C entry point around each generated `<symbol>__core`."""
from __future__ import annotations

import llvmlite.ir as ir

from ..ir.core import Function
from ..ir.types import ArrayType
from .abi import ERR_ALLOC, ERR_SHAPE, ERR_VALUE, OK
from .llvm_codegen import FunctionCodegen
from .llvm_types import I1, I32, I64, PTR, abi_type, elem_size, mem_type


def public_wrapper(module: ir.Module, core: ir.Function, fn: Function, symbol: str,
                   out_names: list[str]) -> ir.Function:
    """`int <symbol>(args..., outs...)`: the documented C ABI around `<symbol>__core`.

    Array outputs are caller-owned buffers with their lengths. Before the kernel runs, every
    input length is checked (non-negative, a byte count that fits in 64 bits, no NULL data)
    and every output pointer is checked for NULL; the kernel's results land in the call's own
    memory, and only when every output buffer matches its result's shape are they copied out,
    scalars included: on any error the caller's outputs are untouched.
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
    g._loc = None
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
            g.fail_if(b.icmp_signed("<", p, g.i64(0)), ERR_SHAPE,
                      f"{symbol}: argument '{a.name}': negative length")
        if isinstance(a.type, ArrayType):
            nbytes, over = g.byte_count(ps[1:], elem_size(a.type.dtype))
            g.fail_if(over, ERR_SHAPE, f"{symbol}: argument '{a.name}': its lengths give more "
                      "bytes than fit in 64 bits")
            _fail_if_null(g, ps[0], nbytes, f"{symbol}: argument '{a.name}'")
        core_args += ps
    out_params = params[k:]
    k = 0
    for t, name in zip(fn.result_types, out_names):
        p = out_params[k]
        p.name = name
        if isinstance(t, ArrayType):
            for j, d in enumerate(out_params[k + 1:k + 1 + t.ndim]):
                d.name = f"{name}_n{j}"
            k += 1 + t.ndim
        else:   # a scalar output must be writable; an array one is checked with its shape
            _fail_if_null(g, p, g.i64(1), f"{symbol}: output '{name}'")
            k += 1
    ctx = b.call(g.declare("adc_ctx_new", PTR, []), [])
    nul = b.icmp_unsigned("==", ctx, ir.Constant(PTR, None))
    g.fail_if(nul, ERR_ALLOC, "out of memory")
    slots = []
    for t, name in zip(fn.result_types, out_names):
        if isinstance(t, ArrayType):
            dp = g_alloca(g, mem_type(t.dtype).as_pointer(), f"{name}_data")
            sp = g_alloca(g, I64, f"{name}_shape", t.ndim)
            slots.append((dp, sp))
        else:   # the kernel writes here; copied out only once everything is checked
            slots.append((g_alloca(g, abi_type(t), f"{name}_value"), None))
    flat_slots: list[ir.Value] = []
    for dp, sp in slots:
        flat_slots += [dp] if sp is None else [dp, sp]
    rc = b.call(core, [ctx] + core_args + flat_slots)
    free = g.declare("adc_ctx_free", ir.VoidType(), [PTR])
    bad = func.append_basic_block("error")
    good = func.append_basic_block("check_out")
    b.cbranch(b.icmp_signed("!=", rc, ir.Constant(I32, 0)), bad, good)
    b.position_at_end(bad)
    b.call(free, [ctx])
    b.ret(rc)
    b.position_at_end(good)
    g.ctx = ctx
    copies = []
    k = 0
    for t, name, (dp, sp) in zip(fn.result_types, out_names, slots):
        dst = out_params[k]
        if not isinstance(t, ArrayType):
            copies.append((dst, dp, g.i64(elem_size(t)), True))
            k += 1
            continue
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
        have = g_alloca(g, I64, f"{name}_given", t.ndim)
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
        null = b.and_(b.icmp_unsigned("==", dst, ir.Constant(dst.type, None)),
                      b.icmp_signed(">", n, g.i64(0)))
        g.fail_if(null, ERR_VALUE, f"{symbol}: output '{name}' is a NULL pointer")
        copies.append((dst, dp, n, False))
    for dst, src, n, scalar in copies:   # every check passed: now write
        g.memcpy(dst, src if scalar else b.load(src), n)
    b.call(free, [ctx])
    b.ret(ir.Constant(I32, OK))
    return func


def g_alloca(g: FunctionCodegen, ty: ir.Type, name: str, count: int | None = None) -> ir.Value:
    """A stack slot in the entry block (so repeated paths do not grow the stack)."""
    eb = ir.IRBuilder(g.func.entry_basic_block)
    eb.position_at_start(g.func.entry_basic_block)
    return eb.alloca(ty, size=None if count is None else g.i64(count), name=name)


def _fail_if_null(g: FunctionCodegen, p: ir.Value, nbytes: ir.Value, what: str) -> None:
    """ADC_ERR_VALUE for a NULL pointer that should hold nbytes > 0 bytes."""
    b = g.b
    null = b.and_(b.icmp_unsigned("==", p, ir.Constant(p.type, None)),
                  b.icmp_signed(">", nbytes, g.i64(0)))
    g.fail_if(null, ERR_VALUE, f"{what} is a NULL pointer")
