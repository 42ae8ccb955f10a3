"""User-facing errors: each carries the user's file, line, a caret under the construct and a hint.

Everything the compiler rejects is an `AdError`; an internal failure in a pass is reported as
`InternalError` naming the pass and the user's line, never as a bare traceback. A leaf module
(with `Loc`, the source position every layer records), so any module may raise these.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass


@dataclass(frozen=True)
class Loc:
    """A position in the user's source, for error messages."""

    filename: str
    line: int
    col: int = 0
    end_col: int | None = None
    source_line: str = ""
    func: str = ""

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}"




class AdError(Exception):
    """Base class of every error adcompile raises about the user's program or call."""

    default_hint = ""

    def __init__(self, message: str, loc: Loc | None = None, hint: str = ""):
        self.message = message
        self.loc = loc
        self.hint = hint or self.default_hint
        super().__init__(self._render())

    def located(self, loc: Loc | None) -> "AdError":
        """Give an error raised without a position the place that provoked it."""
        if self.loc is None and loc is not None:
            self.loc = loc
            self.args = (self._render(),)
        return self

    @property
    def filename(self) -> str | None:
        return self.loc.filename if self.loc else None

    @property
    def lineno(self) -> int | None:
        return self.loc.line if self.loc else None

    @property
    def col(self) -> int | None:
        return self.loc.col if self.loc else None

    def _render(self) -> str:
        out = []
        if self.loc:
            fn = f" (in function '{self.loc.func}')" if self.loc.func else ""
            out.append(f"{self.loc.filename}:{self.loc.line}:{self.loc.col + 1}: "
                       f"{self.message}{fn}")
            src = self.loc.source_line.rstrip("\n")
            if src:
                stripped = src.lstrip()
                shift = len(src) - len(stripped)
                width = max(1, (self.loc.end_col or self.loc.col + 1) - self.loc.col)
                width = min(width, max(1, len(src) - self.loc.col))
                out.append("    " + stripped)
                out.append("    " + " " * max(0, self.loc.col - shift) + "^" * width)
        else:
            out.append(self.message)
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)


class UnsupportedSyntax(AdError):
    """A construct outside the supported Python subset."""

    default_hint = "rewrite it with the supported subset (see docs/subset.md)"


class TypeInferenceError(AdError, builtins.TypeError):
    """Types that cannot be inferred or that do not fit together."""

    default_hint = ("check the types and counts of the values here: compiled code needs "
                    "numbers and NumPy arrays, one type per variable")


class NestedTupleReturn(TypeInferenceError):
    """The entry function returns a tuple of tuples: the derivative API then differentiates
    its flat function instead (adcompile/trees.py), which catches this."""


class NonDifferentiable(AdError):
    """A derivative was requested through something that has none."""


class TapeBudgetExceeded(AdError, MemoryError):
    """Reverse mode's tape for a loop would outgrow the limit (ADCOMPILE_TAPE_LIMIT): the API
    catches it and recomputes with binomial checkpointing; compiled libraries return it."""

    default_hint = ("differentiate with checkpointing: grad(f, checkpoint=\"binomial\", "
                    "memory=\"50MB\"), or raise ADCOMPILE_TAPE_LIMIT")


class ConvergenceError(AdError, ArithmeticError):
    """An iterative solve inside a derivative (the linear system of an implicit derivative)
    stopped before meeting its tolerance: its derivative would be wrong, so it is an error,
    with the residual that was reached."""

    default_hint = ("solve the inner problem more accurately (smaller tol), allow more "
                    "iterations (maxiter=...), or choose another linear solver (solve=...)")


class ConvergenceWarning(RuntimeWarning):
    """The same failure as ConvergenceError, reported without stopping: the derivative was
    built with on_failure="warn", so its value comes back, less accurate than asked for.
    The message holds the residual reached."""


class SparsityWarning(UserWarning):
    """A Jacobian sparsity pattern is the given point's only (a loop whose trip count floats
    decide, a branch whose sides index arrays by values they compute): it is detected again
    at every new point (docs/api.md, `jacobian_sparsity`)."""


def warn_convergence(message: str, detail=None, stacklevel: int = 2) -> None:
    """Issue a ConvergenceWarning for a failed run-time requirement (all backends)."""
    import warnings
    warnings.warn(format_detail(message, detail), ConvergenceWarning, stacklevel=stacklevel + 1)


def format_detail(message: str, detail) -> str:
    """A run-time `check` message with its '{detail}' filled in (a residual, say)."""
    if detail is None or "{detail}" not in message:
        return message
    return message.replace("{detail}", f"{float(detail):.3e}")


class InternalError(AdError):
    """A bug in adcompile; the message names the pass and the user's line."""

    default_hint = "this is a bug in adcompile: please report it with the function that hit it"



class TapeBoundsError(InternalError):
    """A tape push beyond its reserved room or a pop from an empty tape, caught by the
    debug option ADCOMPILE_CHECK_TAPES=1 (CompileOptions.check_tapes)."""
