"""`guard_tapes`: the debug check of tape bounds (CompileOptions.check_tapes,
ADCOMPILE_CHECK_TAPES=1).

Reverse mode reserves a tape's room before a counted loop, so a push there is one store with
no capacity check, and a pop trusts that its push happened. A wrong reservation or an
unmatched pop would write or read outside the tape. With this pass every push and pop is
marked `guarded`, and the backends check them: an overflow or underflow stops the program with
an internal error naming the line, instead of corrupting memory.
"""
from __future__ import annotations

from ..ir.core import Function


def guard_tapes(fn: Function) -> Function:
    for op in fn.walk():
        if op.prim in ("tape_push", "tape_pop"):
            op.attrs["guarded"] = True
    return fn
