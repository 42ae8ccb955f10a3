"""LLVM types of the backend: registers, memory, the C boundary, and an array in generated code.

Shared by the function codegen (llvm_codegen.py), tapes (llvm_tapes.py) and the C entry point
(llvm_wrapper.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import llvmlite.ir as ir

from ..ir.types import ScalarType
from .abi import ELEM_SIZE

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
    return ELEM_SIZE[t.name]


@dataclass
class Array:
    """A contiguous array value: data pointer (to the memory type) and one i64 per dim."""

    dtype: ScalarType
    data: ir.Value
    shape: list[ir.Value]
