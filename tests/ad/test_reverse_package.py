"""Reverse mode as a package: its preparation is a named pipeline, custom rules are used by
the reverse sweep (fwd/bwd pairs and transposed JVP rules, inside loops too), and the module
structure keeps its promises (revolve builds on the public loop API; no function-local
imports). Derivatives are run with the IR interpreter, so no backend compile is needed."""
from __future__ import annotations

import ast
import copy
import math
from pathlib import Path

import numpy as np

import adcompile as ad
from adcompile.ad.reverse import prepare
from adcompile.api import build_ir
from adcompile.derivatives import VJP
from adcompile.ir.interpreter import run_function
from adcompile.ir.printer import print_function
from adcompile.ir.verifier import verify
from adcompile.signature import signature_of
from adcompile.checkpointing import Every, parse_policy
from adcompile.transforms.pipeline import REVERSE_PREP_PIPELINE

from ._util import parts

AD_DIR = Path(ad.__file__).parent / "ad"


# -- programs ---------------------------------------------------------------------------------
@ad.custom_vjp
def halfgrad(x):
    """The identity, with a user gradient of one half (a rule nobody could derive)."""
    return x * 1.0


def halfgrad_fwd(x):
    return x * 1.0, (x,)


def halfgrad_bwd(res, g):
    return (0.5 * g,)


halfgrad.defvjp(halfgrad_fwd, halfgrad_bwd)


@ad.custom_jvp
def softabs(x):
    return abs(x)


@softabs.defjvp
def softabs_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return abs(x), dx * x / (abs(x) + 0.5)


def looped_custom(x, a, n):
    s = 0.0
    for i in range(n):
        s = s + halfgrad(x * a) * softabs(x - 0.3 * i)
    return s


def marked_loop(x, n):
    y = x
    for t in ad.checkpointed(range(n), every=2):
        y = np.sin(y) + 0.1 * t
    return y


def _vjp_run(f, args, active, checkpoint=None):
    st = build_ir(f, signature_of(f, args), VJP(active, checkpoint=checkpoint))
    out = parts(run_function(st["optimized"], list(args) + [1.0]))
    return st, [float(v) for v in out]


# -- the preparation pipeline -----------------------------------------------------------------
def test_preparation_is_a_named_observable_pipeline(monkeypatch, capsys):
    monkeypatch.setenv("ADCOMPILE_PRINT_AFTER", "checkpoint")
    monkeypatch.setenv("ADCOMPILE_TIME_PASSES", "1")
    _vjp_run(marked_loop, (0.4, 7), (True, False), checkpoint=Every(3))
    err = capsys.readouterr().err
    assert "// ---- IR after checkpoint ----" in err
    printed = err.split("// ---- IR after checkpoint ----")[1]
    assert "recompute=True" in printed        # strip-mined by the policy's pass
    timed = [line.split()[2] for line in err.splitlines() if line.startswith("adcompile: pass")]
    k = timed.index(REVERSE_PREP_PIPELINE[0])
    assert tuple(timed[k:k + len(REVERSE_PREP_PIPELINE)]) == REVERSE_PREP_PIPELINE


def test_prepare_runs_on_its_own():
    fn = build_ir(marked_loop, signature_of(marked_loop, (0.4, 7)))["primal"]
    before = print_function(fn)
    out = prepare(copy.deepcopy(fn), Every(3), ad.CompileOptions())
    verify(out)
    assert print_function(fn) == before
    assert "recompute=True" in print_function(out)
    assert run_function(out, [0.4, 7]) == run_function(fn, [0.4, 7])


# -- custom rules in the reverse sweep --------------------------------------------------------
def test_custom_rules_are_used_by_reverse_mode():
    x, a, n = 0.8, 1.3, 4
    _, (val, gx, ga) = _vjp_run(looped_custom, (x, a, n), (True, True, False))
    soft = [abs(x - 0.3 * i) for i in range(n)]
    dsoft = [(x - 0.3 * i) / (abs(x - 0.3 * i) + 0.5) for i in range(n)]
    assert math.isclose(val, sum(x * a * s for s in soft), rel_tol=1e-12)
    # d/dx: halfgrad's user gradient 0.5 * a, softabs's user JVP rule, transposed
    want_x = sum(0.5 * a * s + x * a * d for s, d in zip(soft, dsoft))
    want_a = sum(0.5 * x * s for s in soft)
    assert math.isclose(gx, want_x, rel_tol=1e-12), (gx, want_x)
    assert math.isclose(ga, want_a, rel_tol=1e-12), (ga, want_a)


def test_custom_rules_under_checkpointing_match_store_all():
    args = (0.8, 1.3, 5)
    _, want = _vjp_run(looped_custom, args, (True, True, False))
    for pol in (Every(2), ("binomial", 2)):
        _, got = _vjp_run(looped_custom, args, (True, True, False), parse_policy(pol))
        assert np.allclose(got, want, rtol=1e-12), (pol, got, want)


# -- structure --------------------------------------------------------------------------------
def _function_local_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    found.append(f"{path.name}:{inner.lineno}")
    return found


def test_derivative_transforms_import_at_module_level():
    # (custom rules live in the leaf package adcompile/custom/, imported at module level too)
    files = list(AD_DIR.rglob("*.py"))
    assert len(files) > 10
    local = [hit for p in files for hit in _function_local_imports(p)]
    assert not local, f"function-local imports: {local}"


def test_revolve_builds_on_the_public_loop_api():
    tree = ast.parse((AD_DIR / "reverse" / "revolve.py").read_text())
    private = sorted({n.attr for n in ast.walk(tree)
                      if isinstance(n, ast.Attribute) and n.attr.startswith("_")})
    assert not private, f"revolve reaches into private members: {private}"
