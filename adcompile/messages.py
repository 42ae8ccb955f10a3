"""The messages compiled code stops with, stated once: the lowering passes put them into
`check` ops, the backends raise or return them (the user's file:line put in front), and the
interpreter raises the same text, so an error reads alike on every path."""
from __future__ import annotations

INDEX = "index out of bounds"
BROADCAST = "array shapes do not broadcast together"
NEGATIVE_DIM = "negative array dimension"


def _cpython_says(f) -> str:
    try:
        f()
    except ZeroDivisionError as e:
        return str(e)
    raise AssertionError("no ZeroDivisionError")


# CPython's words for a scalar `/`, `//`, `%` by zero, by primitive (asked of the running
# CPython: they changed between versions); ints' `div` is NumPy's int division
INT_DIV_ZERO = {"floordiv": _cpython_says(lambda: 1 // 0), "mod": _cpython_says(lambda: 1 % 0),
                "div": _cpython_says(lambda: 1 / 0)}
FLOAT_DIV_ZERO = {"floordiv": _cpython_says(lambda: 1.0 // 0.0),
                  "mod": _cpython_says(lambda: 1.0 % 0.0),
                  "div": _cpython_says(lambda: 1.0 / 0.0)}
ZERO_NEGATIVE_POWER = _cpython_says(lambda: 0.0 ** -1)
RANGE_STEP = "range() step cannot be zero"
SLICE_STEP = "slice step cannot be zero"
ARANGE_STEP = "arange step cannot be zero"
MATMUL = "matmul: inner dimensions differ"
TOO_BIG = "array is too big: its size in bytes does not fit in 64 bits"
TAPE_TOO_BIG = "reverse mode's tape is too big: its size in bytes does not fit in 64 bits"
TAPE_OVERFLOW = ("tape overflow: a push beyond the room reserved for it (a bug in adcompile's "
                 "reverse mode)")
TAPE_UNDERFLOW = "tape underflow: a pop from an empty tape (a bug in adcompile's reverse mode)"
NEGATIVE_INT_POWER = "integers to negative integer powers are not allowed"
INT_OF_NAN = "cannot convert float NaN to integer"
INT_OVERFLOW = "cannot convert float infinity or a float outside the int64 range to integer"


def tape_budget(limit: int, loc=None) -> str:
    """A reverse-mode loop whose tape estimate is above `limit` bytes (automatic
    checkpointing takes over where the API can retry)."""
    where = f"the loop at {loc.filename}:{loc.line}" if loc is not None else "a loop"
    return f"reverse mode would tape more than {limit} bytes for {where}"
