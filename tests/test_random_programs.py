"""Random programs (see `programs.py`): CPython == adcompile IR interpreter == numba backend.

The generator itself is tested first (CPython only, fast): generated programs run, give
finite results of the declared shape, are deterministic, never write their arguments, and cover
the constructs of the subset.

On a failure the generated module's source and exact arguments are printed (hypothesis `note`
and the assertion message); paste them into a file to reproduce.
"""
from __future__ import annotations

import ast
import collections
import inspect

from hypothesis.errors import InvalidArgument
import math
import os
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, reject, settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import programs as progs  # noqa: E402
from programs import Program, assert_results_close, float_programs  # noqa: E402

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

# Scale the adcompile property tests up for a longer hunt, e.g. ADCOMPILE_RANDOM_SCALE=20.
_SCALE = max(1, int(os.environ.get("ADCOMPILE_RANDOM_SCALE", "1")))


# ---------------------------------------------------------------------------------------------
# The generator (CPython only)
# ---------------------------------------------------------------------------------------------

def _flat(result, program: Program):
    if program.ret_tuple:
        assert isinstance(result, tuple) and len(result) == len(program.ret_kinds), result
        return list(result)
    assert not isinstance(result, tuple), result
    return [result]


def _check_runs_in_cpython(p: Program):
    note(p.repro())
    f = p.load()
    assert inspect.getsource(f).startswith(f"def {p.func_name}(")
    args = p.fresh_args()
    r1 = f(*args)
    # arguments are never written
    for a, orig in zip(args, p.args):
        if isinstance(orig, np.ndarray):
            assert np.array_equal(a, orig)
    # deterministic, also when loaded again from a fresh module
    r2 = p.load()(*p.fresh_args())
    assert repr(r1) == repr(r2)
    for v, kind in zip(_flat(r1, p), p.ret_kinds):
        if kind == "i":
            assert isinstance(v, int) and not isinstance(v, bool)
        else:
            assert isinstance(v, (float, np.floating))
            assert math.isfinite(v) and abs(v) < 1e12, v
    return r1


@settings(max_examples=150, deadline=None, suppress_health_check=_SUPPRESS)
@given(progs.programs(extra_functions=True))
def test_generator_programs_run_in_cpython(p):
    _check_runs_in_cpython(p)


@settings(max_examples=75, deadline=None, suppress_health_check=_SUPPRESS)
@given(float_programs(smooth=True, extra_functions=True))
def test_generator_float_programs(p):
    assert set(p.ret_kinds) == {"f"}
    assert p.diff_argnums, "a differentiable program needs a float input"
    rest = p.source.replace("min(max(", "")  # int index clamps are fine
    assert "abs(" not in rest and "min(" not in rest and "max(" not in rest
    _check_runs_in_cpython(p)


_FEATURES = {
    "for": "for ",
    "while": "while ",
    "break": "break",
    "continue": "continue",
    "elif": "elif ",
    "else": "else:",
    "ifexp": " if ",
    "negative step": ", -1)",
    "helper call": "h0(",
    "np.zeros": "np.zeros(",
    "copy": ".copy()",
    "element write": "] = ",
    "element +=": "] += ",
    "augmented": "+= ",
    "*=": "*= ",
    "np.sum": "np.sum(",
    "math.exp": "math.exp(",
    "sqrt": "math.sqrt(",
    "erf": "math.erf(",
    "hypot": "math.hypot(",
    "logaddexp": "np.logaddexp(",
    "modulo index": " % len(",
    "and": " and ",
    "or": " or ",
    "not": "not ",
    "min": "min(",
    "array helper": "def g0(v",
}
# rarer (they need local arrays): seen at least once in the sample
_ALIAS_FEATURES = {
    "alias name": "    z",
    "view": "[::",
    "tuple of arrays": " = (y",
    "swap": ", y0 = y",
}


def test_generator_is_varied():
    seen = collections.Counter()
    shapes = collections.Counter()
    sources = set()

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=_SUPPRESS)
    @given(progs.programs(extra_functions=True))
    def collect(p):
        sources.add(p.source)
        shapes[(p.ret_tuple, p.ret_kinds)] += 1
        for name, text in {**_FEATURES, **_ALIAS_FEATURES}.items():
            if text in p.source:
                seen[name] += 1
        tree = ast.parse(p.source)
        loops = [n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While))]
        if any(isinstance(n, ast.Return) for loop in loops for n in ast.walk(loop)):
            seen["return in loop"] += 1
        if any(isinstance(n, (ast.For, ast.While)) for loop in loops
               for n in ast.walk(loop) if n is not loop):
            seen["nested loops"] += 1

    collect()
    assert len(sources) > 150
    missing = [k for k in list(_FEATURES) + ["return in loop", "nested loops"] if seen[k] < 3]
    missing += [k for k in _ALIAS_FEATURES if seen[k] < 1]
    assert not missing, (missing, seen)
    assert len(shapes) == 3, shapes


def test_load_function_gives_real_source(tmp_path):
    src = "import math\n\n\ndef g(a):\n    return math.sin(a) * 2.0\n"
    g = progs.load_function(src, "g", tmp_path)
    assert inspect.getsource(g) == "def g(a):\n    return math.sin(a) * 2.0\n"
    assert g(0.5) == math.sin(0.5) * 2.0
    # unique module per load: same source twice gives two distinct functions
    assert progs.load_function(src, "g", tmp_path) is not g


def test_results_close():
    close = progs.results_close
    assert close(1.0, 1.0 + 1e-12)
    assert not close(1.0, 1.0 + 1e-6)
    assert close(float("nan"), np.float64("nan"))
    assert not close(float("nan"), 1.0)
    assert close((1.0, 3), (np.float64(1.0), np.int64(3)))
    assert not close((1.0, 3), (1.0, 3.0))  # int output came back as a float
    assert not close((1.0, 3), 1.0)
    assert not close(1.0, (1.0,))
    assert close(np.array([1.0, np.nan]), np.array([1.0, np.nan]))
    assert not close(np.array([1.0]), np.array([1.0, 2.0]))


# ---------------------------------------------------------------------------------------------
# adcompile against CPython
# ---------------------------------------------------------------------------------------------

def _adcompile():
    try:
        import adcompile
    except ImportError as e:  # pragma: no cover - only while the package is being written
        pytest.skip(f"adcompile not importable: {e}")
    missing = [n for n in ("jit", "interpret") if not hasattr(adcompile, n)]
    if missing:  # pragma: no cover
        pytest.skip(f"adcompile lacks {missing}")
    return adcompile


def _run_checked(what, fn, p: Program, args):
    """Run `fn(*args)`; on any exception re-raise with the program attached."""
    try:
        result = fn(*args)
    except Exception as e:
        raise AssertionError(f"{what} raised {type(e).__name__}: {e}\n--- program ---\n"
                             f"{p.repro()}") from e
    for a, orig in zip(args, p.args):
        if isinstance(orig, np.ndarray) and not np.array_equal(a, orig, equal_nan=True):
            raise AssertionError(f"{what} modified an argument array: {orig!r} -> {a!r}\n"
                                 f"--- program ---\n{p.repro()}")
    return result


class _ShrinkBudget:
    """Caps the time hypothesis spends shrinking a failure of a slow (numba-compiling) test.

    Once an example has failed, further examples are still run for `seconds`; after that only
    examples that already failed are run (so the final replay of the shrunk example fails as it
    should) and the others are rejected, which ends shrinking quickly.  Without this, shrinking
    a failure compiles hundreds of candidates with numba (up to hypothesis' own 5 minute cap).
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.first_failure: float | None = None
        self.failed: set[str] = set()

    def run(self, p: Program, body):
        if (self.first_failure is not None and p.source not in self.failed
                and time.monotonic() - self.first_failure > self.seconds):
            reject()
        try:
            body()
        except BaseException:
            self.failed.add(p.source)
            if self.first_failure is None:
                self.first_failure = time.monotonic()
            raise


def _note(text: str) -> None:
    """hypothesis' note() outside a hypothesis test (the fixed reproducers) is a no-op."""
    try:
        note(text)
    except InvalidArgument:
        pass


def _compare(p: Program, backends):
    adc = _adcompile()
    _note(p.repro())
    f = p.load()
    expected = f(*p.fresh_args())
    _note(f"CPython: {expected!r}")
    if "interpret" in backends:
        got = _run_checked("adcompile.interpret", lambda *a: adc.interpret(f, *a), p,
                           p.fresh_args())
        _note(f"interpret: {got!r}")
        assert_results_close(expected, got, "CPython vs adcompile.interpret", p)
    if "jit" in backends:
        compiled = _run_checked("adcompile.jit", lambda: adc.jit(f), p, ())
        got = _run_checked("adcompile.jit(f)", compiled, p, p.fresh_args())
        _note(f"jit: {got!r}")
        assert_results_close(expected, got, "CPython vs adcompile.jit", p)
        # a second call reuses the compiled code
        got2 = _run_checked("adcompile.jit(f) (second call)", compiled, p, p.fresh_args())
        assert_results_close(expected, got2, "CPython vs adcompile.jit (second call)", p)
    if "llvm" in backends:
        compiled = _run_checked("adcompile.jit llvm", lambda: adc.jit(f, backend="llvm"), p, ())
        got = _run_checked("adcompile.jit(f, backend='llvm')", compiled, p, p.fresh_args())
        _note(f"llvm: {got!r}")
        assert_results_close(expected, got, "CPython vs the LLVM backend", p)


# The interpreter alone: cheap, so more examples (and fast shrinking on failure).
@settings(max_examples=60 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
@given(progs.programs(extra_functions=True))
def test_interpret_matches_cpython(p):
    _compare(p, ("interpret",))


# CPython == interpreter == numba backend.  Each example compiles with numba (~0.3-1 s).
_JIT_BUDGET = _ShrinkBudget(20)


@settings(max_examples=25 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
@given(progs.programs(extra_functions=True))
def test_jit_matches_cpython_and_interpret(p):
    _JIT_BUDGET.run(p, lambda: _compare(p, ("interpret", "jit")))


_JIT_FLOAT_BUDGET = _ShrinkBudget(15)


@settings(max_examples=10 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
@given(float_programs(extra_functions=True))
def test_jit_matches_cpython_float_programs(p):
    _JIT_FLOAT_BUDGET.run(p, lambda: _compare(p, ("interpret", "jit")))


# CPython == interpreter == LLVM backend (each example builds a shared library, ~0.1-0.3 s).
_LLVM_BUDGET = _ShrinkBudget(20)


@settings(max_examples=40 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
@given(progs.programs(extra_functions=True))
def test_llvm_matches_cpython_and_interpret(p):
    _LLVM_BUDGET.run(p, lambda: _compare(p, ("interpret", "llvm")))


@settings(max_examples=15 * _SCALE, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
@given(float_programs(extra_functions=True))
def test_llvm_matches_cpython_float_programs(p):
    _LLVM_BUDGET.run(p, lambda: _compare(p, ("interpret", "llvm")))


# ---------------------------------------------------------------------------------------------
# Minimal reproducers of failures the random programs found (kept as regression tests)
# ---------------------------------------------------------------------------------------------

_REPRODUCERS = {
    # Reading one element of a local array gives a float, not a view: writing the array
    # afterwards must not disturb the float read before.
    "element_read_then_write": (
        "import numpy as np\n\n\n"
        "def f(a0):\n"
        "    y0 = np.zeros(2)\n"
        "    t0 = y0[0]\n"
        "    y0[0] = a0\n"
        "    return t0 + y0[0]\n",
        (1.5,),
    ),
    "element_read_then_write_in_branch": (
        "import numpy as np\n\n\n"
        "def f(a0, k0):\n"
        "    y0 = np.zeros(5)\n"
        "    s0 = y0[0]\n"
        "    if k0 > 0:\n"
        "        y0[0] = a0\n"
        "    return s0\n",
        (1.5, 1),
    ),
    "element_read_then_augassign_in_branches": (
        "import numpy as np\n\n\n"
        "def f(x0):\n"
        "    y0 = np.zeros(5)\n"
        "    t0 = y0[0]\n"
        "    if x0[0] > 0.0:\n"
        "        y0[0] += 0.5\n"
        "    else:\n"
        "        y0[0] -= 0.5\n"
        "    return t0 + y0[0]\n",
        (np.array([-0.8573535999103681]),),
    ),
}


@pytest.mark.parametrize("name", sorted(_REPRODUCERS))
def test_reproducer(name):
    source, args = _REPRODUCERS[name]
    p = Program(source, "f", args, tuple("a" if isinstance(a, np.ndarray) else
                                         "i" if isinstance(a, int) else "f" for a in args),
                ("f",), False)
    _compare(p, ("interpret", "jit", "llvm"))


def test_functions_with_equal_code_objects_are_compiled_separately():
    """Generated modules often hold an `f` with the same text at the same lines but different
    helpers: `f1.__code__ == f2.__code__` (code objects compare by value, ignoring the file and
    the globals), yet the two functions differ.  Same for closures made by one factory."""
    adc = _adcompile()
    src1 = "def h0(p, q):\n    return p + q\n\n\ndef f(a):\n    return h0(a, 1.0)\n"
    src2 = "def h0(p, q):\n    return p * q\n\n\ndef f(a):\n    return h0(a, 1.0)\n"
    f1 = progs.load_function(src1, "f")
    f2 = progs.load_function(src2, "f")
    assert f1.__code__ == f2.__code__ and (f1(2.0), f2(2.0)) == (3.0, 2.0)
    assert (adc.interpret(f1, 2.0), adc.interpret(f2, 2.0)) == (3.0, 2.0)
    assert (adc.jit(f1)(2.0), adc.jit(f2)(2.0)) == (3.0, 2.0)

    make = progs.load_function(
        "def make(c):\n    def g(x):\n        return x * c\n    return g\n", "make")
    g2, g3 = make(2.0), make(3.0)
    assert g2.__code__ is g3.__code__
    assert (adc.interpret(g2, 1.0), adc.interpret(g3, 1.0)) == (2.0, 3.0)
    assert (adc.jit(g2)(1.0), adc.jit(g3)(1.0)) == (2.0, 3.0)
