"""LLVM backend: the documented C entry point around each generated `<symbol>__core`."""
from __future__ import annotations

import llvmlite.ir as ir

from ..ir.core import Function
from ..ir.types import ArrayType
from .abi import ERR_ALLOC, ERR_SHAPE, OK
from .llvm_codegen import FunctionCodegen
from .llvm_types import I1, I32, I64, PTR, abi_type, elem_size, mem_type


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
