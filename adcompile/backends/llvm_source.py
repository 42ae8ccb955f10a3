"""LLVM backend, part 3: the readable listing behind `.source`.

LLVM IR is no place to read a derivative, so `.source` of an LLVM build is the lowered IR the
LLVM codegen compiles, written as Python: the numba codegen's statements (the shared
structured-text emitter plus its per-primitive table), with two differences that make the
text say what the kernel does rather than what numba needs:
- subscripts are plain Python ones (`x[i]`): the LLVM kernel wraps negative indices and
  checks every index not proved in range, which is what Python's `x[i]` means;
- no `@njit` decorator or imports of numba: the text is a listing, never executed.
The LLVM IR itself stays available as the build's `llvm_ir` listing.
"""
from __future__ import annotations

from ..ir.core import Function, Op, Value
from ..ir.slices import SliceSpec
from .numba_codegen import NumbaCodegen


class LoweredSource(NumbaCodegen):
    """Python-like text of lowered IR (identifiers after the user's names: `x_bar`, `dx`)."""

    def generate(self, pyname: str) -> str:
        args = [self.names.define(a) for a in self.fn.args]
        self.emit(0, f"def {pyname}({', '.join(args)}):")
        self.block(self.fn.body, 1)
        return "\n".join(self.lines) + "\n"

    def _index(self, op: Op, operands: list[Value]) -> str:
        names = [self.names[v] for v in operands]
        spec = op.attrs.get("spec")
        if spec is None:
            return ", ".join(names)
        parts = [b.index if b.is_index else
                 f"{b.start or ''}:{b.stop or ''}" + (f":{b.step}" if b.step else "")
                 for b in SliceSpec.parse(spec).bind(names)]
        return ", ".join(parts)


def lowered_source(fn: Function, pyname: str) -> str:
    """The listing of `fn` (IR after the LLVM backend's pipeline) as one Python module."""
    where = f"{fn.loc.filename}:{fn.loc.line}" if fn.loc else "?"
    header = (f"# adcompile: the lowered program the LLVM backend compiled from {where} "
              f"({fn.name}),\n# written as Python for reading (the LLVM IR: .llvm_ir). "
              "rt.*: adcompile.backends.numba_rt.\n\n")
    return header + LoweredSource(fn).generate(pyname)
