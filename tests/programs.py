"""Random programs in the adcompile subset, for property tests.

`programs()` is a hypothesis strategy producing `Program` objects: the text of a small module
(``import math``, ``import numpy as np``, zero to two scalar helper functions and one entry
function), the entry function's name, and concrete arguments for it.  `load_function` writes a
source text to a real ``.py`` file and imports it under a fresh module name, so that
``inspect.getsource`` works on the result (the adcompile frontend needs real source).

The generated code stays inside the subset:

* arguments: float scalars (``a0, a1, ...``, values in [-2, 2]), small int scalars (``k0, ...``,
  values in 0..6, used as loop bounds) and 1-D float64 arrays (``x0, ...``, length 1..6, values
  in [-2, 2]);
* statements: assignment, ``+= -= *=``, ``if/elif/else``, ``for i in range(a, b, step)`` (negative
  steps and empty ranges included), ``while`` loops driven by an int counter, ``break``,
  ``continue``, early ``return`` (also inside loops), loops nested up to `max_loop_depth`,
  element reads ``x[i % len(x)]`` / clamped indices, element writes ``y[i] = ...`` / ``y[i] += ...``
  into local arrays made with ``np.zeros(n)`` or ``x.copy()`` (argument arrays are never written),
  tuple returns, calls to helpers defined in the same module;
* expressions: ``+ - * /``, unary ``-``, comparisons, ``and/or/not``, conditional expressions,
  ``math.sin/cos/tanh/erf``, ``math.exp(math.sin(..))``, ``math.sqrt(abs(..) + 1.0)``,
  ``math.hypot(.., 1.0)``, ``np.logaddexp``, ``abs``,
  ``min``, ``max``, ``len``, ``.shape[0]``, ``np.sum``;
* aliasing (`GenConfig.allow_aliasing`): array helpers ``g0, g1`` that write into their array
  arguments and return one of them (``return v``, or ``v`` or ``w`` depending on a branch),
  called on local arrays or on views of them (``y0[::2]``, ``y0[::-1]``, ``y0[:]``); names bound
  to local arrays, to views of them or to a helper's result (``z = y0``, ``z = y0[::-1]``,
  ``z = g0(y0, ..)``: writes through either name are seen through the other); tuples holding
  local arrays (``t = (y0, y1)``, then ``t[0][i] += ..``); whole-array ``y0 += ..`` /
  ``y0 *= ..`` (in place, seen through aliases); swaps ``y0, y1 = y1, y0`` (also in loops).
  A swapped array is never aliased afterwards if it was swapped in a loop, and aliased arrays
  are never swapped, so the programs stay inside what the frontend compiles (a loop that
  changes which array a name refers to while another reference sees it is refused).

Every variable keeps one type for its whole life (float locals are floats from their first
assignment, ints are loop variables, ``while`` counters and ``c`` counters), and a name is only
read where it is definitely assigned: a name first assigned inside a block is forgotten when the
block ends (it is never read after it), and loop variables are never read after their loop.

Values cannot blow up: the generator keeps every float variable's growth linear in the number
of executed statements.  Expressions are of two kinds: "bounded" ones built from constants,
float arguments, argument-array elements and int leaves, where float *locals* (which may have
grown) only appear under a squashing function (``tanh``, ``sin``, ``cos``, ``v / (1 + w*w)``,
``exp(sin(..))``); and "free" ones used only in conditions and ``return`` values.  An
assignment's right-hand side is a bounded expression plus at most one "raw" term (a local, an
element of a local array, possibly times a squashed factor), ``+=``/``-=`` add a bounded
expression and ``*=`` multiplies by a factor in [-1, 1].  Divisions are always by
``1.0 + w * w``.  The self-test in ``test_random_programs.py`` checks that programs run in CPython
without errors and give finite, reproducible results.

`programs(differentiable=True)` (alias `float_programs()`) only produces programs whose outputs
are floats, for forward/reverse mode tests; `Program.arg_kinds` marks which arguments are float
scalars (``'f'``), float arrays (``'a'``) or ints (``'i'``); `Program.diff_argnums` lists the
differentiable ones.  ``smooth=True`` additionally avoids ``abs``, ``min`` and ``max``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import itertools
import math
import os
import sys
import tempfile
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "GenConfig",
    "Program",
    "programs",
    "float_programs",
    "program_triples",
    "load_function",
    "fresh_args",
    "run_cpython",
    "results_close",
    "assert_results_close",
    "format_args",
]


# ---------------------------------------------------------------------------------------------
# The result type
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Program:
    """One generated program.

    source     : the module's source text.
    func_name  : the entry function's name inside it.
    args       : arguments for the entry function (floats, ints, float64 arrays).
    arg_kinds  : per argument, 'f' float scalar, 'i' int scalar, 'a' 1-D float64 array.
    ret_kinds  : per returned value, 'f' float or 'i' int.
    ret_tuple  : whether the function returns a tuple (else a single scalar, ret_kinds[0]).
    """

    source: str
    func_name: str
    args: tuple
    arg_kinds: tuple
    ret_kinds: tuple
    ret_tuple: bool

    def __iter__(self):
        # Allows `source, func_name, args = program`.
        return iter((self.source, self.func_name, self.args))

    @property
    def diff_argnums(self) -> tuple:
        """Indices of the float (scalar or array) arguments."""
        return tuple(i for i, k in enumerate(self.arg_kinds) if k in ("f", "a"))

    def fresh_args(self) -> tuple:
        return fresh_args(self.args)

    def load(self) -> Callable:
        return load_function(self.source, self.func_name)

    def repro(self) -> str:
        """A self-contained description: source plus the call, pasteable into a file."""
        return (
            f"{self.source}\n\n"
            f"# args ({', '.join(self.arg_kinds)}) -> returns "
            f"{'tuple' if self.ret_tuple else 'scalar'} {self.ret_kinds}\n"
            f"ARGS = {format_args(self.args)}\n"
            f"# {self.func_name}(*ARGS)\n"
        )


def fresh_args(args) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def format_args(args) -> str:
    """A repr of an argument tuple that round-trips exactly (floats via repr)."""
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append("np.array([" + ", ".join(repr(float(v)) for v in a) + "])")
        else:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


# ---------------------------------------------------------------------------------------------
# Materialising a program
# ---------------------------------------------------------------------------------------------

_MODULE_DIR: str | None = None
_MODULE_COUNTER = itertools.count()


def _module_dir() -> str:
    global _MODULE_DIR
    if _MODULE_DIR is None:
        _MODULE_DIR = tempfile.mkdtemp(prefix="adcompile_progs_")
    return _MODULE_DIR


def load_function(source: str, func_name: str, directory: str | os.PathLike | None = None):
    """Write `source` to a fresh ``.py`` file, import it under a unique name, return
    ``module.<func_name>``.  The module is registered in ``sys.modules`` and the file is left on
    disk, so ``inspect.getsource`` works on the function and on the module's helpers."""
    directory = os.fspath(directory) if directory is not None else _module_dir()
    modname = f"_adc_randprog_{os.getpid()}_{next(_MODULE_COUNTER)}"
    path = os.path.join(directory, modname + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return getattr(mod, func_name)


def run_cpython(program: Program):
    """Load and run a program in CPython on fresh copies of its arguments."""
    return program.load()(*program.fresh_args())


# ---------------------------------------------------------------------------------------------
# Comparing results
# ---------------------------------------------------------------------------------------------

def _scalar_close(a, b, rtol, atol) -> bool:
    a = float(a)
    b = float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def results_close(expected, got, rtol: float = 1e-9, atol: float = 1e-12,
                  strict_ints: bool = True) -> bool:
    """Structural comparison: tuples element-wise, arrays element-wise (same shape), scalars
    with a relative tolerance; NaN equals NaN.  With `strict_ints`, an int expected value needs
    an integer (Python or numpy) result."""
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            return False
        return all(results_close(e, g, rtol, atol, strict_ints) for e, g in zip(expected, got))
    if isinstance(got, tuple):
        return False
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        e = np.asarray(expected, dtype=float)
        g = np.asarray(got, dtype=float)
        if e.shape != g.shape:
            return False
        return all(_scalar_close(x, y, rtol, atol) for x, y in zip(e.ravel(), g.ravel()))
    if isinstance(expected, (bool, np.bool_)) or isinstance(got, (bool, np.bool_)):
        return bool(expected) == bool(got) and type(expected) is type(got)
    if strict_ints and isinstance(expected, (int, np.integer)):
        if not isinstance(got, (int, np.integer)):
            return False
        return int(expected) == int(got)
    if not isinstance(got, (int, float, np.integer, np.floating)):
        return False
    return _scalar_close(expected, got, rtol, atol)


def assert_results_close(expected, got, what: str = "", program: Program | None = None,
                         **kw) -> None:
    if not results_close(expected, got, **kw):
        msg = f"{what} mismatch:\n  expected {expected!r}\n  got      {got!r}"
        if program is not None:
            msg += "\n--- program ---\n" + program.repro()
        raise AssertionError(msg)


# ---------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class GenConfig:
    differentiable: bool = False   # only float outputs
    smooth: bool = False           # no abs/min/max (sqrt(v*v + 1) instead of sqrt(abs(v) + 1))
    max_args: int = 4
    max_stmts: int = 16            # statement budget for the entry function's body
    max_loop_depth: int = 3
    max_if_depth: int = 2
    max_helpers: int = 2
    max_expr_depth: int = 3
    allow_int_args: bool = True
    allow_arrays: bool = True
    allow_block_temps: bool = True  # names first assigned inside a block (never read after it)
    allow_tuple_return: bool = True
    allow_early_return: bool = True
    allow_while: bool = True
    allow_helpers: bool = True
    allow_aliasing: bool = True     # array helpers, aliases, views, tuples of arrays, swaps
    extra_functions: bool = False   # math.erf, math.hypot, np.logaddexp (a separate stream:
    #                                 turning them on changes every draw after the first)


FLOAT_CONSTS = ["0.5", "1.0", "2.0", "0.25", "-1.5", "3.0", "-0.75", "1.25", "0.0"]
SQUASHERS = ["math.tanh", "math.sin", "math.cos"]
EXTRA_SQUASHERS = ["math.erf"]


class _Scope:
    """What a block may read/write.  Copied on entry to a nested block; names added inside are
    dropped when the block ends."""

    def __init__(self, parent: "_Scope | None" = None):
        if parent is None:
            self.fargs: list[str] = []      # float args / helper params (bounded)
            self.aargs: list[str] = []      # argument arrays (bounded, read-only)
            self.flocals: list[str] = []    # float locals (may have grown)
            self.alocals: list[str] = []    # local arrays (writable, may have grown)
            self.ivars: list[str] = []      # all readable ints
            self.small_ivars: list[str] = []  # ints with values in about [-2, 8] (loop bounds)
            self.counters: list[str] = []   # mutable int counters (+= / -=)
            self.loop_depth = 0
            self.if_depth = 0
            self.in_loop = False
            self.top_level = True
        else:
            for name in ("fargs", "aargs", "flocals", "alocals", "ivars", "small_ivars",
                         "counters"):
                setattr(self, name, list(getattr(parent, name)))
            self.loop_depth = parent.loop_depth
            self.if_depth = parent.if_depth
            self.in_loop = parent.in_loop
            self.top_level = False


class _Gen:
    def __init__(self, draw, cfg: GenConfig):
        self.draw = draw
        self.cfg = cfg
        self.budget = cfg.max_stmts
        self.helpers: list[str] = []
        self.names = itertools.count()
        self.ret_kinds: tuple = ("f",)
        self.ret_tuple = False
        self.smooth = cfg.smooth
        self.squashers = SQUASHERS + (EXTRA_SQUASHERS if cfg.extra_functions else [])
        self.ahelpers: list[tuple[str, str]] = []   # (name, form) of array helpers
        self.tied: set[str] = set()         # arrays some alias, view or tuple refers to
        self.loop_swapped: set[str] = set()  # arrays swapped inside a loop

    # -- drawing primitives (the first option is the one hypothesis shrinks towards)
    def ch(self, options):
        return self.draw(st.sampled_from(options))

    def rint(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def fresh(self, prefix):
        return f"{prefix}{next(self.names)}"

    # -- int expressions --------------------------------------------------------------------
    def arrays(self, sc):
        return sc.aargs + sc.alocals

    def length(self, arr):
        return self.ch([f"len({arr})", f"{arr}.shape[0]"])

    def small_int(self, sc):
        """An int with a small value (about -2..8): usable as a range bound."""
        opts = ["lit"]
        if sc.small_ivars:
            opts += ["var", "var", "var+1", "var-1"]
        if self.arrays(sc):
            opts += ["len", "len"]
        kind = self.ch(opts)
        if kind == "lit":
            return str(self.rint(0, 5))
        if kind == "len":
            return self.length(self.ch(self.arrays(sc)))
        v = self.ch(sc.small_ivars)
        if kind == "var":
            return v
        return f"({v} + 1)" if kind == "var+1" else f"({v} - 1)"

    def int_expr(self, sc, depth=2):
        opts = ["lit"]
        if sc.ivars:
            opts += ["var", "var"]
        if self.arrays(sc):
            opts += ["len"]
        if depth > 0:
            opts += ["add", "sub", "mul"]
            if sc.ivars:
                opts += ["mod"]
        kind = self.ch(opts)
        if kind == "lit":
            return str(self.rint(0, 4))
        if kind == "var":
            return self.ch(sc.ivars)
        if kind == "len":
            return self.length(self.ch(self.arrays(sc)))
        if kind == "mod":
            return f"({self.ch(sc.ivars)} % {self.rint(2, 3)})"
        a = self.int_expr(sc, depth - 1)
        if kind == "mul":
            return f"({a} * {self.rint(2, 3)})"
        b = self.int_expr(sc, depth - 1)
        return f"({a} {'+' if kind == 'add' else '-'} {b})"

    def index(self, sc, arr):
        kind = self.ch(["zero", "mod", "mod", "clamp", "last"])
        if kind == "zero":
            return "0"
        if kind == "last":
            return f"{self.length(arr)} - 1"
        ie = self.int_expr(sc, 1)
        if kind == "mod":
            return f"{ie} % {self.length(arr)}"
        return f"min(max({ie}, 0), {self.length(arr)} - 1)"

    # -- float expressions ------------------------------------------------------------------
    def leaf(self, sc, raw):
        opts = ["const"]
        if sc.fargs:
            opts += ["farg", "farg", "farg"]
        if sc.aargs:
            opts += ["aelem", "aelem", "aelem"]
        if sc.ivars:
            opts += ["int"]
        if raw and sc.flocals:
            opts += ["local", "local", "local", "local"]
        if raw and sc.alocals:
            opts += ["lelem", "lelem"]
        if sc.aargs:
            opts += ["asum"]
        if raw and sc.alocals:
            opts += ["lsum"]
        kind = self.ch(opts)
        if kind == "const":
            return self.ch(FLOAT_CONSTS)
        if kind == "farg":
            return self.ch(sc.fargs)
        if kind == "local":
            return self.ch(sc.flocals)
        if kind in ("aelem", "lelem"):
            arr = self.ch(sc.aargs if kind == "aelem" else sc.alocals)
            return f"{arr}[{self.index(sc, arr)}]"
        if kind in ("asum", "lsum"):
            return f"np.sum({self.ch(sc.aargs if kind == 'asum' else sc.alocals)})"
        v = self.ch(sc.ivars)
        return self.ch([f"({v} * 0.5)", f"({v} + 0.5)", f"({v} * 0.25 - 1.0)"])

    def squashed(self, sc, depth):
        """A float expression with values in [-1, 1] (any variables may appear inside)."""
        kind = self.ch(["fn", "fn", "const", "rational"])
        if kind == "const":
            return self.ch(["0.5", "-0.5", "0.25", "0.75"])
        if kind == "fn":
            return f"{self.ch(self.squashers)}({self.expr(sc, max(depth - 1, 0), raw=True)})"
        u = self.expr(sc, max(depth - 2, 0), raw=True)
        return f"({u} / (1.0 + {u} * {u}))"  # |u| / (1 + u*u) <= 1/2

    def expr(self, sc, depth, raw):
        """A float expression.  raw=False: bounded (locals only under squashing functions);
        raw=True: anything readable."""
        if depth <= 0:
            return self.leaf(sc, raw)
        opts = ["leaf", "leaf", "neg", "add", "add", "sub", "mul", "mul", "div",
                "squash", "squash", "expsin", "sqrt", "cond"]
        if self.cfg.extra_functions:
            opts += ["hypot", "logaddexp"]
        if not self.smooth:
            opts += ["abs", "min", "max"]
        if self.helpers:
            opts += ["call", "call"]
        kind = self.ch(opts)
        d = depth - 1
        if kind == "leaf":
            return self.leaf(sc, raw)
        if kind == "neg":
            return f"(-{self.expr(sc, d, raw)})"
        if kind in ("add", "sub", "mul"):
            op = {"add": "+", "sub": "-", "mul": "*"}[kind]
            return f"({self.expr(sc, d, raw)} {op} {self.expr(sc, d, raw)})"
        if kind == "div":
            w = self.expr(sc, max(d - 1, 0), raw=True)
            return f"({self.expr(sc, d, raw)} / (1.0 + {w} * {w}))"
        if kind == "squash":
            return f"{self.ch(self.squashers)}({self.expr(sc, d, raw=True)})"
        if kind == "expsin":
            return f"math.exp(math.{self.ch(['sin', 'cos'])}({self.expr(sc, d, raw=True)}))"
        if kind == "sqrt":
            v = self.expr(sc, d, raw)
            if self.smooth:
                return f"math.sqrt({v} * {v} + 1.0)"
            return f"math.sqrt(abs({v}) + 1.0)"
        if kind == "hypot":   # smooth: never at the origin
            return f"math.hypot({self.expr(sc, d, raw)}, 1.0)"
        if kind == "logaddexp":   # bounded args: log(e^a + e^b) of squashed values
            return f"np.logaddexp({self.squashed(sc, d)}, {self.squashed(sc, d)})"
        if kind == "abs":
            return f"abs({self.expr(sc, d, raw)})"
        if kind in ("min", "max"):
            return f"{kind}({self.expr(sc, d, raw)}, {self.expr(sc, d, raw)})"
        if kind == "call":
            h = self.ch(self.helpers)
            return f"{h}({self.expr(sc, d, raw)}, {self.expr(sc, d, raw)})"
        # conditional expression
        c = self.cond(sc, 0)
        return f"({self.expr(sc, d, raw)} if {c} else {self.expr(sc, d, raw)})"

    def bounded(self, sc, depth=None):
        if depth is None:
            depth = self.rint(0, self.cfg.max_expr_depth)
        return self.expr(sc, depth, raw=False)

    def free(self, sc, depth=None):
        if depth is None:
            depth = self.rint(0, 2)
        return self.expr(sc, depth, raw=True)

    def raw_term(self, sc):
        """A single term that may carry a grown value, scaled by at most 1."""
        opts = []
        if sc.flocals:
            opts += ["local", "local"]
        if sc.alocals:
            opts += ["lelem"]
        kind = self.ch(opts)
        if kind == "local":
            t = self.ch(sc.flocals)
        else:
            arr = self.ch(sc.alocals)
            t = f"{arr}[{self.index(sc, arr)}]"
        form = self.ch(["plain", "scaled", "neg"])
        if form == "plain":
            return t
        if form == "neg":
            return f"(-{t})"
        return f"{t} * {self.squashed(sc, 2)}"

    def rhs(self, sc):
        """Right-hand side of a plain assignment: bounded expression plus <= 1 raw term."""
        has_raw = bool(sc.flocals or sc.alocals)
        form = self.ch(["bounded", "raw+", "raw-", "raw"] if has_raw else ["bounded"])
        if form == "bounded":
            return self.bounded(sc)
        t = self.raw_term(sc)
        if form == "raw":
            return t
        return f"{t} {'+' if form == 'raw+' else '-'} {self.bounded(sc, self.rint(0, 2))}"

    # -- conditions -------------------------------------------------------------------------
    def cond(self, sc, depth=1):
        opts = ["fcmp", "fcmp", "icmp"] if sc.ivars else ["fcmp"]
        if depth > 0:
            opts += ["not", "and", "or"]
        kind = self.ch(opts)
        if kind == "fcmp":
            op = self.ch(["<", ">", "<=", ">=", "!="])
            return f"{self.free(sc, self.rint(0, 1))} {op} {self.free(sc, self.rint(0, 1))}"
        if kind == "icmp":
            form = self.ch(["cmp", "parity"])
            if form == "parity":
                return f"{self.ch(sc.ivars)} % 2 == {self.rint(0, 1)}"
            op = self.ch(["<", ">", "<=", ">=", "==", "!="])
            return f"{self.int_expr(sc, 1)} {op} {self.int_expr(sc, 1)}"
        if kind == "not":
            return f"not ({self.cond(sc, depth - 1)})"
        op = "and" if kind == "and" else "or"
        return f"({self.cond(sc, depth - 1)}) {op} ({self.cond(sc, depth - 1)})"

    # -- returns ----------------------------------------------------------------------------
    def return_value(self, sc, final=False):
        parts = []
        for k in self.ret_kinds:
            if k == "i":
                if final and sc.counters and self.ch([False, True]):
                    parts.append(self.ch(sc.counters))
                else:
                    parts.append(self.int_expr(sc, 1))
            else:
                e = self.free(sc)
                if final and not parts:
                    # make the result depend on the computation: add the top-level locals
                    terms = [e]
                    for v in sc.flocals:
                        form = self.ch(["plain", "plain", "skip", "scaled"])
                        if form == "plain":
                            terms.append(v)
                        elif form == "scaled":
                            terms.append(f"{v} * {self.ch(['0.5', '-1.5', '2.0'])}")
                    for v in sc.alocals:
                        if self.ch([True, False]):
                            terms.append(f"np.sum({v})")
                    e = " + ".join(terms)
                parts.append(e)
        if self.ret_tuple:
            return ", ".join(parts) if self.ch([True, False]) else "(" + ", ".join(parts) + ")"
        return parts[0]

    # -- statements -------------------------------------------------------------------------
    def block(self, sc, lo=1, hi=4) -> list[str]:
        n = self.rint(lo, hi)
        out: list[str] = []
        for _ in range(n):
            if self.budget <= 0:
                break
            lines, terminal = self.stmt(sc)
            out.extend(lines)
            if terminal:
                break
        return out or ["pass"]

    @staticmethod
    def indent(lines):
        return ["    " + ln for ln in lines]

    def stmt(self, sc):
        """Returns (lines, terminal): terminal when the statement unconditionally leaves the
        block (later statements would be dead)."""
        self.budget -= 1
        cfg = self.cfg
        opts = ["assign", "assign", "aug", "aug"]
        if sc.alocals:
            opts += ["store", "store"]
            if cfg.allow_aliasing and cfg.allow_arrays:
                opts += ["alias_op", "alias_op"]
        if sc.counters:
            opts += ["count"]
        if sc.if_depth < cfg.max_if_depth and self.budget > 0:
            opts += ["if", "if"]
        if sc.loop_depth < cfg.max_loop_depth and self.budget > 0:
            opts += ["for", "for"]
            if cfg.allow_while:
                opts += ["while"]
        if sc.in_loop:
            opts += ["break", "continue"]
        if cfg.allow_early_return and not sc.top_level:
            opts += ["return"]
        kind = self.ch(opts)
        return getattr(self, "stmt_" + kind)(sc)

    def stmt_assign(self, sc):
        can_new = self.cfg.allow_block_temps or sc.top_level
        targets = (["new"] if can_new else []) + (["old", "old"] if sc.flocals else [])
        if not targets:
            targets = ["new"]  # a top-level-like definition is still fine at top level
        which = self.ch(targets)
        rhs = self.rhs(sc)
        if which == "new":
            name = self.fresh("t")
            sc.flocals.append(name)
        else:
            name = self.ch(sc.flocals)
        return [f"{name} = {rhs}"], False

    def stmt_aug(self, sc):
        if not sc.flocals:
            return self.stmt_assign(sc)
        name = self.ch(sc.flocals)
        op = self.ch(["+=", "-=", "*="])
        if op == "*=":
            return [f"{name} *= {self.squashed(sc, 2)}"], False
        return [f"{name} {op} {self.bounded(sc)}"], False

    def stmt_store(self, sc):
        arr = self.ch(sc.alocals)
        idx = self.index(sc, arr)
        op = self.ch(["=", "+=", "-=", "*="])
        if op == "=":
            val = self.rhs(sc)
        elif op == "*=":
            val = self.squashed(sc, 2)
        else:
            val = self.bounded(sc)
        return [f"{arr}[{idx}] {op} {val}"], False

    # -- aliasing statements ----------------------------------------------------------------
    @staticmethod
    def _plain(names):
        """Local arrays bound to plain names (not tuple items such as ``t[0]``)."""
        return [n for n in names if "[" not in n]

    def _array_ref(self, sc, names):
        """A local array or a view of it (1-D views that are never empty)."""
        arr = self.ch(names)
        view = self.ch(["", "", "[::2]", "[::-1]", "[:]"])
        return arr + view, arr

    def _alias_sources(self, sc):
        return [n for n in sc.alocals if n.split("[")[0] not in self.loop_swapped]

    def stmt_alias_op(self, sc):
        opts = ["whole_aug"]
        if self._alias_sources(sc):
            opts += ["alias", "alias_view", "tuple"]
            if self.ahelpers:
                opts += ["acall", "acall", "acall"]
        untied = [n for n in self._plain(sc.alocals) if n not in self.tied]
        if len(untied) >= 2:
            opts += ["swap"] * 4
        kind = self.ch(opts)
        if kind == "whole_aug":
            name = self.ch(self._plain(sc.alocals) or sc.alocals)
            if "[" in name:   # t[0] += v would assign to a tuple item
                return self.stmt_store(sc)
            op = self.ch(["+=", "-=", "*="])
            val = self.squashed(sc, 2) if op == "*=" else self.bounded(sc)
            return [f"{name} {op} {val}"], False
        if kind == "swap":
            a = self.ch(untied)
            b = self.ch([n for n in untied if n != a])
            if sc.in_loop:
                self.loop_swapped |= {a, b}
            return [f"{a}, {b} = {b}, {a}"], False
        srcs = self._alias_sources(sc)
        if kind in ("alias", "alias_view"):
            ref, base = self._array_ref(sc, srcs) if kind == "alias_view" else \
                (lambda n: (n, n))(self.ch(srcs))
            return [self._bind_alias(sc, ref, [base])], False
        if kind == "tuple":
            a, b = self.ch(srcs), self.ch(srcs)
            t = self.fresh("tp")
            self.tied |= {a.split("[")[0], b.split("[")[0]}
            sc.alocals += [f"{t}[0]", f"{t}[1]"]
            return [f"{t} = ({a}, {b})"], False
        name, form = self.ch(self.ahelpers)
        first, base = self._array_ref(sc, srcs)
        if form == "pick":
            second, base2 = self._array_ref(sc, srcs)
            call = f"{name}({first}, {second}, {self.bounded(sc, 1)})"
            bases = [base, base2]
        else:
            call = f"{name}({first}, {self.bounded(sc, 1)})"
            bases = [base]
        if form == "none" or self.ch([False, True]):
            return [call], False
        return [self._bind_alias(sc, call, bases)], False

    def _bind_alias(self, sc, rhs, bases):
        """``z = rhs`` where rhs is (a view of) an existing local array."""
        z = self.fresh("z")
        self.tied |= {b.split("[")[0] for b in bases} | {z}
        sc.alocals.append(z)
        return f"{z} = {rhs}"

    def array_helper(self, name):
        """A helper writing into its array arguments and returning one of them (or nothing)."""
        sc = _Scope()
        sc.fargs = ["p"]
        form = self.ch(["ret", "none", "pick", "loop"])
        e = lambda: self.expr(sc, self.rint(0, 2), raw=False)  # noqa: E731

        def write(arr):
            sc.alocals = [arr]
            idx = self.index(sc, arr)
            sc.alocals = []
            if self.ch([True, False]):
                return f"{arr}[{idx}] += {e()}"
            return f"{arr}[{idx}] = {arr}[{idx}] * {self.ch(['0.5', '-0.75'])} + {e()}"

        if form == "pick":
            body = [f"if {self.cond(sc, 0)}:", f"    {write('v')}", "    return v",
                    write("w"), "return w"]
            head = f"def {name}(v, w, p):"
        elif form == "loop":
            body = ["for j in range(len(v)):", f"    v[j] = v[j] * 0.5 + {e()}", "return v"]
            head = f"def {name}(v, p):"
        else:
            body = [write("v") for _ in range(self.rint(1, 2))]
            if form == "ret":
                body.append("return v")
            head = f"def {name}(v, p):"
        self.ahelpers.append((name, "none" if form == "none" else
                              ("pick" if form == "pick" else "ret")))
        return [head] + self.indent(body)

    def stmt_count(self, sc):
        c = self.ch(sc.counters)
        form = self.ch(["inc", "dec", "addvar"])
        if form == "inc":
            return [f"{c} += 1"], False
        if form == "dec":
            return [f"{c} -= 1"], False
        if sc.small_ivars:
            return [f"{c} += {self.ch(sc.small_ivars)}"], False
        return [f"{c} += {self.rint(1, 3)}"], False

    def stmt_if(self, sc):
        lines = []
        n_elif = self.ch([0, 0, 1, 2])
        has_else = self.ch([False, True])
        all_terminal = True
        for j in range(1 + n_elif):
            inner = _Scope(sc)
            inner.if_depth += 1
            kw = "if" if j == 0 else "elif"
            lines.append(f"{kw} {self.cond(sc)}:")
            body = self.block(inner, 1, 3)
            lines += self.indent(body)
            all_terminal &= self._ends_block(body)
        if has_else:
            inner = _Scope(sc)
            inner.if_depth += 1
            lines.append("else:")
            body = self.block(inner, 1, 3)
            lines += self.indent(body)
            all_terminal &= self._ends_block(body)
        else:
            all_terminal = False
        return lines, all_terminal

    @staticmethod
    def _ends_block(body):
        last = body[-1]
        return not last.startswith(" ") and (
            last.startswith("return") or last in ("break", "continue"))

    def _loop_scope(self, sc):
        inner = _Scope(sc)
        inner.loop_depth += 1
        inner.in_loop = True
        return inner

    def stmt_for(self, sc):
        var = self.fresh("i")
        form = self.ch(["n", "ab", "abs", "neg", "neg"])
        n = self.small_int(sc)
        if form == "n":
            rng = f"range({n})"
        elif form == "ab":
            rng = f"range({self.small_int(sc)}, {n})"
        elif form == "abs":
            rng = f"range({self.small_int(sc)}, {n}, {self.rint(1, 3)})"
        else:
            stop = self.ch(["-1", "0", self.small_int(sc)])
            rng = f"range({n}, {stop}, -{self.rint(1, 2)})"
        inner = self._loop_scope(sc)
        inner.ivars.append(var)
        inner.small_ivars.append(var)
        body = self.block(inner, 1, 4)
        return [f"for {var} in {rng}:"] + self.indent(body), False

    def stmt_while(self, sc):
        w = self.fresh("w")
        bound = self.small_int(sc)
        form = self.ch(["up", "up_and", "and_up", "down"])
        inner = self._loop_scope(sc)
        if form == "down":
            head = [f"{w} = {bound}", f"while {w} > 0:", f"    {w} -= 1"]
        else:
            head = [f"{w} = 0"]
            c = f"{w} < {bound}"
            if form == "up_and":
                c = f"{c} and {self.cond(sc, 0)}"
            elif form == "and_up":
                c = f"{self.cond(sc, 0)} and {c}"
            head += [f"while {c}:", f"    {w} += 1"]
        inner.ivars.append(w)
        inner.small_ivars.append(w)
        body = self.block(inner, 1, 4)
        # the counter stays defined (and small) after the loop
        sc.ivars.append(w)
        sc.small_ivars.append(w)
        return head + self.indent(body), False

    def _guarded(self, sc, line):
        if self.ch([True, True, True, False]):
            return [f"if {self.cond(sc)}:", f"    {line}"], False
        return [line], True

    def stmt_break(self, sc):
        return self._guarded(sc, "break")

    def stmt_continue(self, sc):
        return self._guarded(sc, "continue")

    def stmt_return(self, sc):
        return self._guarded(sc, f"return {self.return_value(sc)}")

    # -- helpers and the whole module -------------------------------------------------------
    def helper(self, name):
        sc = _Scope()
        sc.fargs = ["p", "q"]
        form = self.ch(["expr", "if_return", "if_else", "local"])
        e = lambda: self.expr(sc, self.rint(0, 2), raw=False)  # noqa: E731
        if form == "expr":
            body = [f"return {e()}"]
        elif form == "if_return":
            body = [f"if {self.cond(sc, 1)}:", f"    return {e()}", f"return {e()}"]
        elif form == "if_else":
            body = [f"if {self.cond(sc, 1)}:", f"    return {e()}", "else:",
                    f"    return {e()}"]
        else:
            body = [f"r = {e()}", f"if {self.cond(sc, 1)}:", f"    r = {e()}",
                    f"return r * {self.ch(['0.5', '2.0', '1.0'])} + {e()}"]
        return [f"def {name}(p, q):"] + self.indent(body)

    def module(self, func_name: str | None = None):
        cfg = self.cfg
        draw = self.draw
        # arguments
        kinds = ["f"]
        if cfg.allow_arrays:
            kinds += ["a"]
        if cfg.allow_int_args:
            kinds += ["i"]
        arg_kinds = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=cfg.max_args))
        if not any(k in ("f", "a") for k in arg_kinds):
            arg_kinds[0] = "f"
        fval = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False)
        names, args = [], []
        counts = {"f": 0, "i": 0, "a": 0}
        for k in arg_kinds:
            j = counts[k]
            counts[k] += 1
            if k == "f":
                names.append(f"a{j}")
                args.append(draw(fval))
            elif k == "i":
                names.append(f"k{j}")
                args.append(draw(st.integers(0, 6)))
            else:
                names.append(f"x{j}")
                vals = draw(st.lists(fval, min_size=1, max_size=6))
                args.append(np.array(vals, dtype=np.float64))

        # return signature
        if cfg.allow_tuple_return:
            rk = self.ch([("f",), ("f", "f")] if cfg.differentiable else
                         [("f",), ("f", "f"), ("f", "i")])
        else:
            rk = ("f",)
        self.ret_kinds = rk
        self.ret_tuple = len(rk) > 1

        # helpers
        lines = ["import math", "", "import numpy as np", "", ""]
        if cfg.allow_helpers:
            for j in range(self.rint(0, cfg.max_helpers)):
                name = f"h{j}"
                lines += self.helper(name) + ["", ""]
                self.helpers.append(name)
        if cfg.allow_aliasing and cfg.allow_arrays:
            for j in range(self.rint(0, 2)):
                lines += self.array_helper(f"g{j}") + ["", ""]

        # entry function
        sc = _Scope()
        for n, k in zip(names, arg_kinds):
            if k == "f":
                sc.fargs.append(n)
            elif k == "a":
                sc.aargs.append(n)
            else:
                sc.ivars.append(n)
                sc.small_ivars.append(n)
        body = []
        for j in range(self.rint(1, 3)):
            name = f"s{j}"
            init = "0.0" if j == 0 and self.ch([True, False]) else self.bounded(sc, 2)
            body.append(f"{name} = {init}")
            sc.flocals.append(name)
        if "i" in rk or self.ch([False, True]):
            body.append("c0 = 0")
            sc.counters.append("c0")
            sc.ivars.append("c0")
        if cfg.allow_arrays:
            for j in range(self.rint(0, 2)):
                name = f"y{j}"
                opts = ["zeros_lit"]
                if sc.aargs:
                    opts += ["zeros_len", "copy"]
                if any(n in sc.small_ivars for n in names):
                    opts += ["zeros_k"]
                form = self.ch(opts)
                if form == "zeros_lit":
                    body.append(f"{name} = np.zeros({self.rint(1, 5)})")
                elif form == "zeros_len":
                    body.append(f"{name} = np.zeros({self.length(self.ch(sc.aargs))})")
                elif form == "copy":
                    body.append(f"{name} = {self.ch(sc.aargs)}.copy()")
                else:
                    k = self.ch([n for n in names if n in sc.small_ivars])
                    body.append(f"{name} = np.zeros({k} + 1)")
                sc.alocals.append(name)
        stmts = self.block(sc, 1, 6)
        while self.budget > 0 and len(stmts) < 3:
            more, terminal = self.stmt(sc)
            stmts += more
            if terminal:
                break
        body += stmts
        if not self._ends_block(body):
            body.append(f"return {self.return_value(sc, final=True)}")
        lines += ["def @FUNC@(" + ", ".join(names) + "):"] + self.indent(body) + [""]
        source = "\n".join(lines)
        if func_name is None:
            # Name the entry function after its text: two different programs never hold equal
            # code objects (code objects compare by value, ignoring file and globals), while
            # replaying an example gives the same name.
            func_name = "f_" + hashlib.sha1(source.encode()).hexdigest()[:10]
        source = source.replace("@FUNC@", func_name)
        return Program(
            source=source,
            func_name=func_name,
            args=tuple(args),
            arg_kinds=tuple(arg_kinds),
            ret_kinds=rk,
            ret_tuple=self.ret_tuple,
        )


@st.composite
def programs(draw, differentiable: bool = False, smooth: bool = False,
             config: GenConfig | None = None, func_name: str | None = None,
             extra_functions: bool = False) -> Program:
    """Strategy: a random `Program` in the adcompile subset.

    differentiable=True: float outputs only (int args may still be used as loop bounds; see
    `Program.arg_kinds` / `Program.diff_argnums`).  smooth=True: no abs/min/max.  `config`
    overrides everything else.  The entry function is called `func_name`, by default
    ``f_<hash of the program text>`` (see `_Gen.module`); helpers are ``h0``, ``h1``.
    """
    if config is None:
        config = GenConfig(differentiable=differentiable, smooth=smooth,
                           extra_functions=extra_functions)
    return _Gen(draw, config).module(func_name)


def float_programs(smooth: bool = False, **kw) -> st.SearchStrategy[Program]:
    """Programs with float outputs only, for AD tests."""
    config = GenConfig(differentiable=True, smooth=smooth, **kw)
    return programs(config=config)


def program_triples(**kw) -> st.SearchStrategy[tuple[str, str, tuple]]:
    """Strategy of plain ``(source_text, func_name, args)`` triples."""
    return programs(**kw).map(lambda p: (p.source, p.func_name, p.args))


if __name__ == "__main__":  # print a few samples
    import warnings

    from hypothesis.errors import NonInteractiveExampleWarning

    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        p = programs().example()
        print(p.repro())
        print("->", run_cpython(p))
        print("=" * 80)
