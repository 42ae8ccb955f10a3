"""The C ABI of generated libraries, stated once: error codes, scalar types at the boundary,
(the messages generated code stops with are in `adcompile.messages`).

`runtime/include/adcompile_runtime.h` defines the same codes as `ADC_ERR_*` (a test parses it
and compares). The LLVM backend, the ahead-of-time header writer (aot.py) and the Python
binding read these tables; `ctypes_stub.py` keeps its own small copy of the type table because
it is copied verbatim into generated stubs that run without adcompile installed.
"""
from __future__ import annotations

from enum import IntEnum

from ..ir.types import ArrayType, Type


class ErrorCode(IntEnum):
    """Return codes of every generated function (`ADC_OK`, `ADC_ERR_<NAME>` in C)."""

    OK = 0
    SHAPE = 1          # argument length/shape mismatch, or arrays that do not broadcast
    INDEX = 2          # index out of bounds
    ALLOC = 3          # memory allocation failed
    VALUE = 4          # invalid value: negative size, zero step, empty max
    INTERNAL = 5       # runtime misuse or a bug in generated code
    TAPE_BUDGET = 6    # reverse mode's tape for a loop would exceed the build's limit
    UNBOUND = 7        # a local variable read where it was never assigned (a loop ran 0 times)
    OVERFLOW = 8       # a float converted to an integer does not fit in int64 (or is infinite)
    ZERO_DIVISION = 9  # a scalar /, //, % by zero where Python raises ZeroDivisionError
    CONVERGENCE = 10   # an iterative solve inside a derivative missed its tolerance


OK = ErrorCode.OK
ERR_SHAPE = ErrorCode.SHAPE
ERR_INDEX = ErrorCode.INDEX
ERR_ALLOC = ErrorCode.ALLOC
ERR_VALUE = ErrorCode.VALUE
ERR_INTERNAL = ErrorCode.INTERNAL
ERR_TAPE_BUDGET = ErrorCode.TAPE_BUDGET
ERR_UNBOUND = ErrorCode.UNBOUND
ERR_OVERFLOW = ErrorCode.OVERFLOW
ERR_ZERO_DIVISION = ErrorCode.ZERO_DIVISION
ERR_CONVERGENCE = ErrorCode.CONVERGENCE

# which code a lowered `check` op returns, by its `kind`
CHECK_CODES = {"shape": ERR_SHAPE, "value": ERR_VALUE, "unbound": ERR_UNBOUND,
               "overflow": ERR_OVERFLOW, "zerodiv": ERR_ZERO_DIVISION,
               "convergence": ERR_CONVERGENCE}

# how each IR scalar type is spelled in the generated C header, and its size in memory
# (bool is one byte everywhere outside registers)
C_TYPES = {"f64": "double", "f32": "float", "i64": "int64_t", "bool": "bool"}
ELEM_SIZE = {"f64": 8, "f32": 4, "i64": 8, "bool": 1}


def type_spec(t: Type) -> tuple[str, int]:
    """(dtype name, ndim) of an IR type: how `ctypes_stub.bind` describes an argument. An
    array crosses the boundary as (data pointer, n0, ..., n{ndim-1}), C-contiguous."""
    return (t.dtype.name, t.ndim) if isinstance(t, ArrayType) else (t.name, 0)
