"""LLVM backend: tapes (reverse mode's LIFO stacks) in generated code.

A tape is a runtime `adc_tape` whose data pointer, length and capacity live in stack slots
that LLVM promotes to registers; the runtime object is synced only around growth. Array tapes
keep their elements' bytes on a second, byte-sized payload stack.
"""
from __future__ import annotations

from dataclasses import dataclass

import llvmlite.ir as ir

from .. import messages
from ..ir.types import ArrayType
from .abi import ERR_ALLOC, ERR_INTERNAL, ERR_TAPE_BUDGET
from .llvm_types import I8, I32, I64, PTR, TAPE_PTR, Array, elem_size, mem_type


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
    if op.attrs.get("guarded") and not op.attrs.get("checked") and g.trust_reserve:
        g._loc = op.loc
        g.fail_if(b.icmp_signed(">=", b.load(tape.len), b.load(tape.cap)), ERR_INTERNAL,
                  messages.TAPE_OVERFLOW)
    elif op.attrs.get("checked") or not g.trust_reserve:
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
    if op.attrs.get("guarded"):
        g._loc = op.loc
        g.fail_if(b.icmp_signed("<=", b.load(tape.len), g.i64(0)), ERR_INTERNAL,
                  messages.TAPE_UNDERFLOW)
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


def _tape_budget(g, op):
    est = g.get(op.operands[0])
    g.fail_if(g.b.icmp_signed(">", est, g.i64(op.attrs["limit"])), ERR_TAPE_BUDGET,
              messages.tape_budget(op.attrs["limit"], op.loc))
    return []


def _tape_reserve(g, op):
    tape: Tape = g.get(op.operands[0])
    n = g.get(op.operands[1])
    b = g.b
    # a count from trip counts of huge loops must not wrap: a wrapped reservation is too
    # small, and the pushes that trust it would write past the tape
    bad = b.icmp_signed("<", n, g.i64(0))
    total, bad = g.add_checked(b.load(tape.len), n, bad)
    if len(op.operands) == 3 and tape.payload is not None:
        like = g.get(op.operands[2])
        nbytes, bad = g.mul_checked(g.size(like), g.i64(elem_size(op.operands[2].type.dtype)),
                                    bad)
        padded = b.and_(b.add(nbytes, g.i64(15)), g.i64(-16))
        pay = tape.payload
        more, bad = g.mul_checked(n, padded, bad)
        want, bad = g.add_checked(b.load(pay.len), more, bad)
        g.fail_if(bad, ERR_ALLOC, messages.TAPE_TOO_BIG)
        _tape_call(g, tape, "adc_tape_reserve", [total])
        _tape_call(g, pay, "adc_tape_reserve", [want])
        return []
    g.fail_if(bad, ERR_ALLOC, messages.TAPE_TOO_BIG)
    _tape_call(g, tape, "adc_tape_reserve", [total])
    return []


TAPE_OPS = {"tape_new": _tape_new, "tape_push": _tape_push, "tape_pop": _tape_pop,
            "tape_reserve": _tape_reserve, "tape_budget": _tape_budget}
