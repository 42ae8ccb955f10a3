"""Golden IR files: the frontend's output for representative functions, and the printer/parser
round trip (print -> parse -> print is the identity, and the parsed IR computes the same)."""
import os
from pathlib import Path

import numpy as np
import pytest

from adcompile.driver.compile import build_ir
from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.ir.printer import print_function
from adcompile.ir.verifier import verify
from adcompile.signature import signature_of

from .golden_programs import CASES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ADCOMPILE_UPDATE_GOLDEN") == "1"


def _close(a, b):
    if isinstance(a, tuple):
        return all(_close(x, y) for x, y in zip(a, b)) and len(a) == len(b)
    return np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("stage", ["frontend", "primal"])
def test_golden_ir(name, stage):
    func, make = CASES[name]
    args = make(np.random.default_rng(0))
    fn = build_ir(func, signature_of(func, args))[stage]
    text = print_function(fn)
    path = GOLDEN / f"{name}.{stage}.ir"
    if UPDATE or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"IR of {name} at {stage} changed; if intended, rerun " \
                                     "with ADCOMPILE_UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.parametrize("name", sorted(CASES))
def test_print_parse_roundtrip(name):
    func, make = CASES[name]
    args = make(np.random.default_rng(1))
    for stage, fn in build_ir(func, signature_of(func, args)).items():
        text = print_function(fn)
        parsed = parse_function(text)
        verify(parsed)
        assert print_function(parsed) == text, stage
        assert _close(run_function(parsed, list(args)), run_function(fn, list(args)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_interpreter_matches_cpython(name):
    func, make = CASES[name]
    for seed in range(3):
        args = make(np.random.default_rng(seed))
        fn = build_ir(func, signature_of(func, args))["primal"]
        assert _close(run_function(fn, list(args)), func(*args))
