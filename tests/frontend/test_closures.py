"""Nested `def`s and lambdas inside compiled functions (frontend/closures.py), and lambdas as
the function given to jit/grad (frontend/source.py).

Each program of `closure_programs.py`: values of CPython == interpreter == LLVM; derivatives
w.r.t. every float argument, captured ones included: forward mode against central finite
differences, and forward against reverse mode by the dot-product test
<J v, w> == <v, J^T w>. Rejected constructs: the error class and its file:line.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adcompile
from adcompile import AdError

from ..ad._util import assert_close, assert_dot, fd_directional, fresh, inner, is_float_arg, parts
from . import closure_programs as P

BACKEND = "llvm"


def _float_args(args) -> tuple[int, ...]:
    return tuple(i for i, a in enumerate(args) if is_float_arg(a))


@pytest.mark.parametrize("name", sorted(P.PROGRAMS))
def test_values_and_derivatives(name):
    fn, make = P.PROGRAMS[name]
    args = make()
    want = fn(*fresh(args))
    for who, got in (("interpreter", adcompile.interpret(fn, *fresh(args))),
                     ("llvm", adcompile.jit(fn, backend=BACKEND)(*fresh(args)))):
        for g, w in zip(parts(got), parts(want)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13, err_msg=f"{name} {who}")
    nums = _float_args(args)
    rng = np.random.default_rng(len(name))
    dirs = [rng.standard_normal(np.shape(args[i])) if np.shape(args[i]) else
            float(rng.standard_normal()) for i in nums]
    tangents = [None] * len(args)
    for i, d in zip(nums, dirs):
        tangents[i] = d
    out, tan = adcompile.jvp(fn, fresh(args), tangents, backend=BACKEND)
    fd = fd_directional(fn, fresh(args), nums, dirs)
    for t, f in zip(parts(tan), fd):
        assert_close(t, f, 1e-6, 1e-6, f"{name}: jvp vs central differences")
    cot = [rng.standard_normal(p.shape) for p in parts(out)]
    _, pull = adcompile.vjp(fn, *fresh(args), backend=BACKEND)
    cts = pull(cot[0] if not isinstance(out, tuple) else tuple(cot))
    lhs = sum(inner(t, w) for t, w in zip(parts(tan), cot))
    rhs = sum(inner(dirs[k], cts[i]) for k, i in enumerate(nums))
    scale = sum(abs(inner(t, w)) for t, w in zip(parts(tan), cot)) + 1.0
    assert_dot(lhs, rhs, scale, 1e-10, name)


def test_late_binding_and_early_defaults_are_pythons():
    """The checks above compare with CPython; these pin what CPython does, so a frontend
    that bound captures at the definition (or defaults at the call) could not pass."""
    assert P.late_binding(2.0, 1.0) == 2.0 + 6.0
    assert adcompile.jit(P.late_binding, backend=BACKEND)(2.0, 1.0) == 8.0
    assert adcompile.grad(P.late_binding, argnums=1, backend=BACKEND)(2.0, 1.0) == 8.0
    assert adcompile.jit(P.default_is_early, backend=BACKEND)(2.0, 0.75) == 2.0 * 0.75 + 12.75


def test_writes_reach_the_captured_array():
    """The values test compares `writes_captured`'s returned copy of `out` with CPython's;
    here the writes through a captured view reach its base (compiled functions never modify
    their arguments, so the result shows it)."""
    def through_view(x):
        r = x[0:2]

        def bump():
            r[0] = r[0] * 3.0
        bump()
        return x * 1.0
    got = adcompile.jit(through_view, backend=BACKEND)(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(got, [3.0, 2.0, 3.0])
    want = P.writes_captured(np.array([0.5, 1.5, -1.0]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(want, [1.5, 6.5, 4.0])   # CPython: all three writes count


def test_numba_backend():
    fn, make = P.PROGRAMS["passed_to_helper"]
    args = make()
    np.testing.assert_allclose(adcompile.jit(fn, backend="numba")(*fresh(args)),
                               fn(*fresh(args)), rtol=1e-12)
    g = adcompile.grad(P.euler, argnums=(0, 1), backend="numba")(np.array([0.3, 1.2]), 0.1)
    want = adcompile.grad(P.euler, argnums=(0, 1), backend=BACKEND)(np.array([0.3, 1.2]), 0.1)
    np.testing.assert_allclose(g[0], want[0], rtol=1e-12)
    assert g[1] == pytest.approx(want[1], rel=1e-12)


def _marked_line(fn) -> tuple[int, str]:
    """(line, expected text) of the `# error:` comment in `fn`'s source."""
    import inspect
    lines, first = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        if "# error:" in line:
            text = line.split("# error:")[1].split("#")[0].strip()
            return first + k, text
    raise AssertionError(f"{fn.__name__} has no '# error:' mark")


@pytest.mark.parametrize("fn", P.ERRORS, ids=lambda f: f.__name__)
def test_rejected_at_the_users_line(fn):
    line, text = _marked_line(fn)
    args = P.ERROR_ARGS.get(fn.__name__, (2.0,))
    with pytest.raises(AdError, match=text) as e:
        adcompile.jit(fn, backend=BACKEND)(*args)
    assert isinstance(e.value, (adcompile.UnsupportedSyntax, adcompile.TypeInferenceError))
    assert e.value.loc is not None
    assert e.value.loc.filename == P.__file__
    assert e.value.loc.line == line, str(e.value)


# -- a lambda (or a nested def) as the function given to jit / grad ---------------------------
K = 3.0
F, G = (lambda x: x * x * K), (lambda x: np.sin(x) + K)


def make_scaled(k):
    return lambda x: np.sum(x * x) * k


def make_nested(k):
    def poly(x):
        return x ** 3 * k + x
    return poly


def test_top_level_lambdas():
    assert adcompile.grad(F, backend=BACKEND)(2.0) == pytest.approx(12.0, rel=1e-14)
    assert adcompile.grad(G, backend=BACKEND)(2.0) == pytest.approx(np.cos(2.0), rel=1e-14)
    assert adcompile.jit(lambda x, y: x * y + 1.0, backend=BACKEND)(2.0, 3.0) == 7.0
    v, g = adcompile.value_and_grad(lambda x: np.sum(np.tanh(x)), backend=BACKEND)(
        np.array([0.1, 0.5]))
    assert v == pytest.approx(np.sum(np.tanh([0.1, 0.5])))
    np.testing.assert_allclose(g, 1.0 - np.tanh([0.1, 0.5]) ** 2, rtol=1e-14)
    # a lambda inside a lambda, and closures over Python cells (read as constants)
    inner_call = lambda x: (lambda y: y * x)(2.0)  # noqa: PLC3002
    assert adcompile.grad(inner_call, backend=BACKEND)(5.0) == 2.0
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(adcompile.grad(make_scaled(2.0), backend=BACKEND)(x), 4.0 * x)
    np.testing.assert_allclose(adcompile.grad(make_scaled(5.0), backend=BACKEND)(x), 10.0 * x)
    assert adcompile.grad(make_nested(2.0), backend=BACKEND)(1.5) == pytest.approx(14.5)
    assert adcompile.grad(make_nested(1.0), backend=BACKEND)(1.5) == pytest.approx(7.75)


def test_lambda_error_points_into_the_lambda():
    bad = lambda x: x[0]
    with pytest.raises(AdError) as e:
        adcompile.jit(bad, backend=BACKEND)(2.0)
    loc = e.value.loc
    assert loc.filename == __file__
    assert loc.source_line[loc.col:].startswith("x[0]"), (loc.col, loc.source_line)


def test_lambda_without_source_is_a_precise_error():
    ns: dict = {}
    exec("f = lambda x: x * 2.0", ns)  # noqa: S102 - a lambda without a file
    with pytest.raises(adcompile.UnsupportedSyntax, match="cannot read the source"):
        adcompile.jit(ns["f"], backend=BACKEND)(1.0)


_CACHE_SCRIPT = textwrap.dedent("""
    import numpy as np, adcompile
    K = 3.0
    F, G = (lambda x: x * x * K), (lambda x: np.sin(x) + K)
    def make(k):
        return lambda x: x * k
    print(repr((adcompile.grad(F, backend="llvm")(2.0), adcompile.grad(G, backend="llvm")(2.0),
                adcompile.grad(make(2.0), backend="llvm")(1.0),
                adcompile.grad(make(5.0), backend="llvm")(1.0))))
""")


def test_disk_cache_keeps_lambdas_apart(tmp_path):
    """Two lambdas on one line, and one lambda closing over different constants, never share
    a cached program: in the process that compiles them, and in the next that loads them."""
    script = tmp_path / "lambdas.py"
    script.write_text(_CACHE_SCRIPT)
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path / "cache"))
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(adcompile.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    want = repr((12.0, float(np.cos(2.0)), 2.0, 5.0))
    for run in ("compiles", "loads"):
        got = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                             text=True, timeout=120, check=False)
        assert got.returncode == 0, got.stderr
        assert got.stdout.strip() == want, f"the process that {run}: {got.stdout}"
    keys = os.listdir(tmp_path / "cache" / "programs")
    assert len(keys) == 3, keys   # F, G and one key with two variants for make's lambda


class _NoColumns:
    """A lambda's code object as Python -X no_debug_ranges keeps it: no column positions."""

    def __init__(self, code):
        self.co_firstlineno, self.co_varnames = code.co_firstlineno, code.co_varnames
        self.co_argcount, self.co_kwonlyargcount = code.co_argcount, code.co_kwonlyargcount

    def co_positions(self):
        return iter([(self.co_firstlineno, None, None, None)])


def test_lambda_found_by_line_only_where_unambiguous():
    import gast

    from adcompile.frontend.source import find_lambda
    text = "f = lambda x: x + 1.0\ng, h = (lambda x: x * 2.0), (lambda x: x * 3.0)\n"
    tree = gast.parse(text)
    ns: dict = {}
    exec(compile(text, "<probe>", "exec"), ns)  # noqa: S102 - code objects of known lambdas
    for name, col in (("f", 4), ("g", 8), ("h", 29)):
        assert find_lambda(tree, ns[name].__code__).col_offset == col, name
    assert find_lambda(tree, _NoColumns(ns["f"].__code__)).col_offset == 4
    assert find_lambda(tree, _NoColumns(ns["g"].__code__)) is None   # two on its line


def maybe_unbound_capture(x, n):
    for i in range(n):
        d = x * i
    g = lambda v: v + d
    return g(x)


def test_a_capture_unbound_at_run_time_raises_there():
    f = adcompile.jit(maybe_unbound_capture, backend=BACKEND)
    assert f(2.0, 3) == maybe_unbound_capture(2.0, 3)
    with pytest.raises(UnboundLocalError, match="cannot access free variable 'd'"):
        f(2.0, 0)
