"""Per-primitive derivative checks, all generated from the one table `SPECS`.

Each entry gives a scalar expression in `a` (and `b`) written with `math`/operators, its NumPy
form (used for arrays and float32 scalars; None: the array version loops over the elements with
the scalar expression), and a sampler of a safe input domain (away from poles, branch cuts,
ties and jumps).  From it a real module is generated with, per entry:

    def s64_<key>(a, b):   scalar, math flavour       (float64 scalars)
    def s32_<key>(a, b):   scalar, NumPy flavour      (np.float32 scalars)
    def v_<key>(a, b):     elementwise over 1-d arrays (float64 and float32 arrays)

and each function is checked in both modes at several points: jvp == central finite differences,
grad == finite differences (scalar version) / vjp == w * diagonal finite differences (array
version), and the dot-product test between jvp and vjp.  Piecewise-constant entries must give
exactly zero derivatives.  float32 uses looser tolerances (the reference runs in float64).
One test per (entry, dtype): four compiles (scalar and array, forward and reverse).

`test_every_primitive_has_a_rule` ties the primitive set of the IR to the derivative tables:
a new primitive without a rule (or an explicit exemption listed here) fails it, and
`test_specs_cover_every_rule` checks (on the IR) that each rule is exercised by some entry.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import adcompile as ad
from adcompile.ad import rules
from adcompile.ad.rules import arrays, indexing, linalg, reductions, tapes
from adcompile.ir.primitives import PRIMITIVES

from ._util import abs_inner, assert_close, assert_dot, fd_directional, inner, to64


# -- safe input domains ------------------------------------------------------------------------
def U(lo, hi):
    """Uniform in [lo, hi]."""
    return lambda rng, n: rng.uniform(lo, hi, n)


def PM(lo, hi):
    """Either sign, magnitude uniform in [lo, hi] (away from 0)."""
    return lambda rng, n: rng.uniform(lo, hi, n) * rng.choice([-1.0, 1.0], n)


def FRAC(lo, hi):
    """An integer in [lo, hi] plus a fraction in [0.2, 0.8] (away from integers)."""
    return lambda rng, n: rng.integers(lo, hi + 1, n) + rng.uniform(0.2, 0.8, n)


def CLIP_SAFE(rng, n):
    """Inside (-0.4, 0.4) or outside +-0.6: away from the clip bounds +-0.5."""
    inside = rng.uniform(-0.4, 0.4, n)
    outside = rng.uniform(0.6, 1.2, n) * rng.choice([-1.0, 1.0], n)
    return np.where(rng.random(n) < 0.5, inside, outside)


def APART(rng, n):
    """(a, b) with |a - b| >= 0.2: no ties for min/max/comparisons."""
    a = rng.uniform(-1.5, 1.5, n)
    return a, a + rng.uniform(0.2, 1.0, n) * rng.choice([-1.0, 1.0], n)


def MOD_SAFE(rng, n):
    """(a, b) with 1.1 <= a / b <= 1.85: a % b and a // b away from their jumps."""
    b = rng.uniform(0.6, 1.4, n)
    return b * rng.uniform(1.1, 1.85, n), b


@dataclass(frozen=True)
class Spec:
    key: str
    prims: tuple[str, ...]        # IR primitives the entry exercises (checked on the IR)
    expr: str                     # scalar form, in a (and b)
    npexpr: str | None            # NumPy form; None: arrays loop over `expr`
    domain: tuple                 # one sampler per argument, or one joint sampler for (a, b)
    zero: bool = False            # derivative identically zero on the domain

    @property
    def nargs(self) -> int:
        return 2 if "b" in _names(self.expr) else 1


def _names(expr: str) -> set[str]:
    import ast
    return {n.id for n in ast.walk(ast.parse(expr)) if isinstance(n, ast.Name)}


S = Spec
SPECS = [
    # arithmetic
    S("neg", ("neg",), "-a", "-a", (U(-2, 2),)),
    S("add", ("add",), "a + b", "a + b", (U(-2, 2), U(-2, 2))),
    S("sub", ("sub",), "a - b", "a - b", (U(-2, 2), U(-2, 2))),
    S("mul", ("mul",), "a * b", "a * b", (U(-2, 2), U(-2, 2))),
    S("div", ("div",), "a / b", "a / b", (U(-2, 2), PM(0.5, 2))),
    S("mod", ("mod",), "a % b", "a % b", (MOD_SAFE,)),
    S("floordiv", ("floordiv",), "a // b", "a // b", (MOD_SAFE,), zero=True),
    # powers
    S("pow_int2", ("powi",), "a ** 2", "a ** 2", (U(-2, 2),)),
    S("pow_int3", ("powi",), "a ** 3", "a ** 3", (U(-2, 2),)),
    S("pow_int_neg", ("powi",), "a ** -2", "a ** -2", (PM(0.5, 2),)),
    S("pow_float", ("pow",), "a ** 2.5", "a ** 2.5", (U(0.2, 2),)),
    S("pow_float_neg", ("pow",), "a ** -1.5", "a ** -1.5", (U(0.3, 2),)),
    S("pow_both", ("pow",), "a ** b", "a ** b", (U(0.3, 2), U(-1.5, 1.5))),
    S("pow_base", ("pow",), "2.0 ** a", "2.0 ** a", (U(-2, 2),)),
    S("math_pow", ("pow",), "math.pow(a, b)", "np.power(a, b)", (U(0.3, 2), U(-1.5, 1.5))),
    S("builtin_pow", ("pow",), "pow(a, b)", "pow(a, b)", (U(0.3, 2), U(-1.5, 1.5))),
    S("square", ("square",), "np.square(a)", "np.square(a)", (U(-2, 2),)),
    S("sqrt", ("sqrt",), "math.sqrt(a)", "np.sqrt(a)", (U(0.2, 3),)),
    # exponentials and logarithms
    S("exp", ("exp",), "math.exp(a)", "np.exp(a)", (U(-2, 2),)),
    S("expm1", ("expm1",), "math.expm1(a)", "np.expm1(a)", (U(-2, 2),)),
    S("log", ("log",), "math.log(a)", "np.log(a)", (U(0.2, 3),)),
    S("log1p", ("log1p",), "math.log1p(a)", "np.log1p(a)", (U(-0.6, 2),)),
    S("log10", ("log10",), "math.log10(a)", "np.log10(a)", (U(0.2, 3),)),
    S("log2", ("log2",), "math.log2(a)", "np.log2(a)", (U(0.2, 3),)),
    # trigonometric and hyperbolic
    S("sin", ("sin",), "math.sin(a)", "np.sin(a)", (U(-3, 3),)),
    S("cos", ("cos",), "math.cos(a)", "np.cos(a)", (U(-3, 3),)),
    S("tan", ("tan",), "math.tan(a)", "np.tan(a)", (U(-1.2, 1.2),)),
    S("tanh", ("tanh",), "math.tanh(a)", "np.tanh(a)", (U(-2, 2),)),
    S("sinh", ("sinh",), "math.sinh(a)", "np.sinh(a)", (U(-2, 2),)),
    S("cosh", ("cosh",), "math.cosh(a)", "np.cosh(a)", (U(-2, 2),)),
    S("asin", ("asin",), "math.asin(a)", "np.arcsin(a)", (U(-0.8, 0.8),)),
    S("acos", ("acos",), "math.acos(a)", "np.arccos(a)", (U(-0.8, 0.8),)),
    S("atan", ("atan",), "math.atan(a)", "np.arctan(a)", (U(-3, 3),)),
    S("asinh", ("asinh",), "math.asinh(a)", "np.arcsinh(a)", (U(-3, 3),)),
    S("acosh", ("acosh",), "math.acosh(a)", "np.arccosh(a)", (U(1.2, 3),)),
    S("atanh", ("atanh",), "math.atanh(a)", "np.arctanh(a)", (U(-0.8, 0.8),)),
    S("atan2", ("atan2",), "math.atan2(a, b)", "np.arctan2(a, b)", (U(0.3, 1.5), U(-1.5, 1.5))),
    S("hypot", ("hypot",), "math.hypot(a, b)", "np.hypot(a, b)", (PM(0.3, 1.5), U(-1.5, 1.5))),
    # special functions (no NumPy ufunc: arrays loop over math.erf)
    S("erf", ("erf",), "math.erf(a)", None, (U(-2, 2),)),
    S("erfc", ("erfc",), "math.erfc(a)", None, (U(-2, 2),)),
    # non-smooth, away from their kinks and jumps
    S("abs", ("abs",), "abs(a)", "np.abs(a)", (PM(0.2, 2),)),
    S("fabs", ("abs",), "math.fabs(a)", "np.fabs(a)", (PM(0.2, 2),)),
    S("minimum", ("minimum",), "min(a, b)", "np.minimum(a, b)", (APART,)),
    S("maximum", ("maximum",), "max(a, b)", "np.maximum(a, b)", (APART,)),
    S("clip", ("minimum", "maximum"), "np.clip(a, -0.5, 0.5)", "np.clip(a, -0.5, 0.5)",
      (CLIP_SAFE,)),
    S("where", ("select",), "np.where(a > b, a * b, a - b)", "np.where(a > b, a * b, a - b)",
      (APART,)),
    S("ifexp", ("if",), "a * b if a > b else a - b", None, (APART,)),
    # piecewise constant: zero derivative
    S("floor", ("floor",), "np.floor(a)", "np.floor(a)", (FRAC(-3, 2),), zero=True),
    S("ceil", ("ceil",), "np.ceil(a)", "np.ceil(a)", (FRAC(-3, 2),), zero=True),
    S("trunc", ("trunc",), "np.trunc(a)", "np.trunc(a)", (FRAC(-3, 2),), zero=True),
    S("sign", ("sign",), "np.sign(a)", "np.sign(a)", (PM(0.2, 2),), zero=True),
    S("floor_times", ("floor", "mul"), "np.floor(a) * a", "np.floor(a) * a", (FRAC(-3, 2),)),
]
SPEC = {s.key: s for s in SPECS}
assert len(SPEC) == len(SPECS)


# -- the generated module --------------------------------------------------------------------------
def _module_source() -> str:
    lines = ["import math", "", "import numpy as np", ""]
    for s in SPECS:
        params = "a, b" if s.nargs == 2 else "a"
        lines += ["", f"def s64_{s.key}({params}):", f"    return {s.expr}", ""]
        lines += ["", f"def s32_{s.key}({params}):", f"    return {s.npexpr or s.expr}", ""]
        if s.npexpr is not None:
            lines += ["", f"def v_{s.key}({params}):", f"    return {s.npexpr}", ""]
        else:
            xs = "x, y" if s.nargs == 2 else "x"
            lines += ["", f"def v_{s.key}({xs}):",
                      "    out = np.empty_like(x)",
                      "    for i in range(x.shape[0]):",
                      "        a = x[i]"]
            if s.nargs == 2:
                lines += ["        b = y[i]"]
            lines += [f"        out[i] = {s.expr}", "    return out", ""]
    return "\n".join(lines) + "\n"


def _load_module():
    """Write the generated module to a path named by its text (so that adcompile's disk cache,
    keyed by the generated code, which names the source file, is reused across runs) and
    import it."""
    import hashlib
    import importlib.util
    name = "_adcompile_tests_ad_primitive_functions"
    if name in sys.modules:
        return sys.modules[name]
    text = _module_source()
    d = os.path.join(tempfile.gettempdir(),
                     "adcompile_prims_" + hashlib.sha256(text.encode()).hexdigest()[:16])
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name + ".py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)   # atomic: parallel workers never read half a file
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


FUNCS = _load_module()


def _sample(s: Spec, rng, n: int) -> list[np.ndarray]:
    if len(s.domain) == 1 and s.nargs == 2:
        return list(s.domain[0](rng, n))
    return [d(rng, n) for d in s.domain]


# -- checks ----------------------------------------------------------------------------------------
TOL = {  # dtype -> (fd rtol, fd atol-scale, dot rtol, primal rtol)
    "f64": (1e-6, 1e-8, 1e-10, 1e-13),
    "f32": (2e-4, 2e-5, 1e-5, 2e-6),
}


def _check_function(f: Callable, args: tuple, rng, dt: str, zero: bool, what: str,
                    scalar: bool) -> None:
    rt, at, dot_rt, prt = TOL[dt]
    n = len(args)
    ref = f(*to64(args))
    tangents = tuple(rng.standard_normal(np.shape(a)).astype(np.asarray(a).dtype) if
                     isinstance(a, np.ndarray) else type(a)(rng.standard_normal())
                     for a in args)
    # forward mode
    out, out_dot = ad.jvp(f, args, tangents)
    assert_close(out, ref, prt, prt, f"{what}: jvp primal output")
    fd = fd_directional(f, args, range(n), tangents, h=1e-6)[0]
    assert_close(out_dot, fd, rt, at, f"{what}: jvp vs finite differences")
    if zero:
        assert np.all(np.asarray(out_dot) == 0.0), f"{what}: jvp of a piecewise constant " \
            f"function is {out_dot!r}, not exactly 0"
    # reverse mode
    w = (rng.standard_normal(np.shape(ref)).astype(np.asarray(args[0]).dtype)
         if not scalar else np.asarray(args[0]).dtype.type(rng.standard_normal()))
    out2, f_vjp = ad.vjp(f, *args)
    assert_close(out2, ref, prt, prt, f"{what}: vjp primal output")
    cts = f_vjp(w)
    assert len(cts) == n
    for i, (ct, a) in enumerate(zip(cts, args)):
        if isinstance(a, np.ndarray):
            assert isinstance(ct, np.ndarray) and ct.dtype == a.dtype and ct.shape == a.shape, \
                f"{what}: cotangent {i} is {ct!r}"
        else:
            assert np.ndim(ct) == 0
            if isinstance(a, np.floating):
                assert isinstance(ct, type(a)), f"{what}: cotangent {i} is a {type(ct)}"
        # elementwise: J_i is diagonal, its diagonal is the FD along ones
        ones = np.ones_like(a) if isinstance(a, np.ndarray) else 1.0
        diag = fd_directional(f, args, (i,), (ones,), h=1e-6)[0]
        assert_close(ct, np.asarray(w, np.float64) * diag, rt, at * (1 + np.max(np.abs(w))),
                     f"{what}: vjp cotangent {i} vs w * finite differences")
        if zero:
            assert np.all(np.asarray(ct) == 0.0), f"{what}: vjp of a piecewise constant " \
                f"function is {ct!r}, not exactly 0"
    lhs = inner(out_dot, w)
    rhs = sum(inner(t, c) for t, c in zip(tangents, cts))
    scale = abs_inner(out_dot, w) + sum(abs_inner(t, c) for t, c in zip(tangents, cts))
    assert_dot(lhs, rhs, scale, dot_rt, f"{what}: dot-product test")
    # grad of the scalar version == the vjp with cotangent 1
    if scalar:
        gs = ad.grad(f, argnums=tuple(range(n)))(*args)
        for i, (g, a) in enumerate(zip(gs, args)):
            assert type(g) is type(a) or (isinstance(a, float) and isinstance(g, float)), \
                f"{what}: grad {i} is a {type(g)} for a {type(a)} argument"
            fdg = fd_directional(f, args, (i,), (1.0,), h=1e-6)[0]
            assert_close(g, fdg, rt, at, f"{what}: grad {i} vs finite differences")


@pytest.mark.parametrize("dt", ["f64", "f32"])
@pytest.mark.parametrize("key", list(SPEC))
def test_primitive(key, dt):
    s = SPEC[key]
    rng = np.random.default_rng(zlib.crc32(f"{key}/{dt}".encode()))
    np_dt = np.float64 if dt == "f64" else np.float32
    # scalar version at a few points (one compile per mode)
    f = getattr(FUNCS, f"s64_{key}" if dt == "f64" else f"s32_{key}")
    cols = _sample(s, rng, 3)
    for p in range(3):
        args = tuple(float(c[p]) if dt == "f64" else np.float32(c[p]) for c in cols)
        _check_function(f, args, rng, dt, s.zero, f"{f.__name__}{args}", scalar=True)
    # elementwise array version
    g = getattr(FUNCS, f"v_{key}")
    args = tuple(np.asarray(c, dtype=np_dt) for c in _sample(s, rng, 7))
    _check_function(g, args, rng, dt, s.zero, f"v_{key} on {dt} arrays", scalar=False)


# -- tables --------------------------------------------------------------------------------------
# Primitives with no derivative rule of their own, by reason.  A new primitive must get a rule
# (rules.PARTIALS, or both rules.JVP and rules.VJP) or be listed here.
CONTROL_FLOW = {"for", "while", "if", "yield", "condition", "return"}
CUSTOM_RULES = {"custom"}   # user rules: handled by adcompile.custom in both modes
TAPE = {"tape_new", "tape_push", "tape_pop", "tape_reserve", "tape_budget", "check"}   # reverse mode's own bookkeeping
# ops that only derivative code contains (tangent lanes, unbroadcasting); forward-over-reverse
# needs tangent rules for some of them, reverse mode never sees them
DERIVATIVE_HELPERS = {"sum_to", "broadcast_like", "expand", "lmatmul"}
EXEMPT = CONTROL_FLOW | CUSTOM_RULES | TAPE | DERIVATIVE_HELPERS


def test_every_primitive_has_a_rule():
    partials = set(rules.PARTIALS)
    structural = set(rules.JVP) & set(rules.VJP)
    declared = set(rules.NON_DIFFERENTIABLE) | set(rules.ZERO_DERIVATIVE) | set(rules.NO_RULE)
    missing = sorted(p for p in PRIMITIVES
                     if p not in partials | structural | declared | EXEMPT)
    assert not missing, f"primitives without a derivative rule or exemption: {missing}"
    # the exemptions and declarations name real primitives (no stale entries)
    stale = sorted((EXEMPT | declared | partials | set(rules.JVP)
                    | set(rules.VJP)) - set(PRIMITIVES))
    assert not stale, f"tables name unknown primitives: {stale}"
    # one classification per primitive
    assert not partials & set(rules.ZERO_DERIVATIVE)
    assert not partials & set(rules.NON_DIFFERENTIABLE)
    assert not (partials | declared) & EXEMPT
    # structural rules exist in both modes, except for derivative-only helpers and tapes
    one_sided = (set(rules.JVP) ^ set(rules.VJP)) - DERIVATIVE_HELPERS - TAPE
    assert not one_sided, f"structural rule in one mode only: {sorted(one_sided)}"
    # elementwise partials and structural rules are disjoint: a primitive has one kind
    assert not partials & (set(rules.JVP) | set(rules.VJP))


def test_rule_families_are_disjoint_and_merged():
    """Each structural primitive has its JVP and VJP rule in exactly one family module, and
    the merged tables are exactly the families' tables (no entry lost or shadowed)."""
    families = (arrays, indexing, reductions, linalg, tapes)
    for table in ("JVP", "VJP"):
        seen: dict[str, str] = {}
        for fam in families:
            for prim in getattr(fam, table, {}):
                assert prim not in seen, f"{table}[{prim}] in {seen.get(prim)} and {fam.__name__}"
                seen[prim] = fam.__name__
        merged = getattr(rules, table)
        assert set(seen) == set(merged), table
        for fam in families:
            for prim, rule in getattr(fam, table, {}).items():
                assert merged[prim] is rule, f"{table}[{prim}]"
    # a family with a VJP rule for a primitive has its JVP rule too (side by side)
    for fam in families:
        assert set(getattr(fam, "VJP", {})) <= set(fam.JVP), fam.__name__


def _ir_prims(f, *args) -> set[str]:
    """Primitives in the IR of f, as written (frontend) and as differentiated (primal)."""
    import re
    text = ad.show_ir(f, *args, stage="frontend") + ad.show_ir(f, *args, stage="primal")
    return set(re.findall(r"= ([a-z_0-9]+)\(", text))


def test_specs_cover_every_rule():
    """Every elementwise rule (and every zero-derivative primitive) is exercised by an entry,
    and each entry's declared primitives really occur in its IR."""
    covered = set()
    for s in SPECS:
        args = (0.7, 0.3)[:s.nargs]
        seen = _ir_prims(getattr(FUNCS, f"s64_{s.key}"), *args) | \
            _ir_prims(getattr(FUNCS, f"v_{s.key}"), *(np.full(3, a) for a in args))
        assert set(s.prims) <= seen, f"{s.key}: declares {s.prims}, IR has {sorted(seen)}"
        covered |= set(s.prims)
    want = set(rules.PARTIALS) | set(rules.ZERO_DERIVATIVE)
    assert not want - covered, f"rules not exercised by SPECS: {sorted(want - covered)}"
    assert len(SPECS) >= 45


def test_spec_domains_are_safe():
    """The samplers keep away from the kinks and jumps they promise to avoid."""
    rng = np.random.default_rng(0)
    a, b = APART(rng, 1000)
    assert np.min(np.abs(a - b)) >= 0.2 - 1e-12
    a, b = MOD_SAFE(rng, 1000)
    assert 1.1 - 1e-12 <= np.min(a / b) and np.max(a / b) <= 1.85 + 1e-12
    c = CLIP_SAFE(rng, 1000)
    assert np.min(np.abs(np.abs(c) - 0.5)) >= 0.1 - 1e-12
    f = FRAC(-3, 2)(rng, 1000)
    assert np.min(np.abs(f - np.round(f))) >= 0.2 - 1e-12
    assert math.isclose(float(np.min(np.abs(PM(0.2, 2)(rng, 1000)))), 0.2, abs_tol=0.05)
