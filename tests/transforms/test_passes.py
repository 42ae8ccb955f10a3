"""Each pass on its own: golden IR (input -> expected output, both checked-in text), and the
property that the pass preserves what the interpreter computes, on the pass cases, the AD
program catalog and random programs, with the verifier run after the pass.

Regenerate the golden files with ADCOMPILE_UPDATE_GOLDEN=1 and review the diff.
"""
from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from adcompile.driver.compile import build_ir
from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.ir.printer import print_function
from adcompile.ir.verifier import verify
from adcompile.signature import bind_defaults, signature_of
from adcompile.checkpointing import Every
from adcompile.transforms.checkpoint import apply_checkpointing
from adcompile.transforms.pipeline import PASSES

from ..ad._util import fresh, load_sibling
from .pass_cases import CASES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("ADCOMPILE_UPDATE_GOLDEN") == "1"


def _checkpoint(fn):
    apply_checkpointing(fn, Every(4))
    return fn


def _simplified_then(name: str):
    """Passes that need invariant slots and bounds out of loops get simplify + licm first."""
    def run(fn):
        return PASSES[name].run(PASSES["licm"].run(PASSES["simplify"].run(fn)))
    return run


def _run(name: str):
    if name == "checkpoint":
        return _checkpoint
    if name == "expand":
        return _simplified_then("expand")
    if name == "reuse_buffers":   # as in the pipeline: invariant extents, dead slots gone
        return lambda fn: PASSES[name].run(PASSES["dce"].run(_simplified_then("dce")(fn)))
    return PASSES[name].run


def _same(a, b) -> bool:
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    # f32 results may differ by reassociation (lowered sums and matmul add in source order)
    return len(a) == len(b) and all(
        np.allclose(x, y, rtol=1e-5 if np.asarray(x).dtype == np.float32 else 1e-13,
                    atol=1e-15, equal_nan=True) for x, y in zip(a, b))


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_pass(name):
    func, args = CASES[name]
    src = GOLDEN / f"{name}.in.ir"
    want = GOLDEN / f"{name}.out.ir"
    if UPDATE or not src.exists():
        src.write_text(print_function(build_ir(func, signature_of(func, args))["frontend"]))
    fn = parse_function(src.read_text())
    before = run_function(copy.deepcopy(fn), list(fresh(args)))
    out = _run(name)(fn)
    verify(out)
    text = print_function(out)
    if UPDATE or not want.exists():
        want.write_text(text)
    assert text == want.read_text(), f"{name} pass output changed; rerun with " \
                                     "ADCOMPILE_UPDATE_GOLDEN=1 if intended and review the diff"
    assert _same(run_function(out, list(fresh(args))), before)


def test_golden_files_show_the_pass_working():
    g = {p.name: p.read_text() for p in GOLDEN.glob("*.ir")}
    lin, lout = g["licm.in.ir"], g["licm.out.ir"]
    assert lin.index("getitem(%x, %p)") > lin.index("for(%c.5")    # inside the k loop...
    assert lout.index("getitem(%x, %p)") < lout.index("for(%c.5")  # ...hoisted out of it
    assert lout.index("mul(%exp, %c.7)") > lout.index("for(%c.5")  # depends on k: stays
    assert "cos(" in g["dce.in.ir"] and "cos(" not in g["dce.out.ir"]
    assert g["inplace.out.ir"].count("copy(") == g["inplace.in.ir"].count("copy(") + 1
    assert "recompute=True" in g["checkpoint.out.ir"]
    assert g["simplify.out.ir"].count("sin(") == 1
    assert g["fuse.in.ir"].count("= for(") == 3 and g["fuse.out.ir"].count("= for(") == 2
    iin, iout = g["induction.in.ir"], g["induction.out.ir"]
    assert "add(%idx" in iin and "trip" in iout           # idx_i = idx0 + (row - lb)
    assert iout.count("= for(") == iin.count("= for(")
    rin, rout = g["reuse_buffers.in.ir"], g["reuse_buffers.out.ir"]
    assert rin.index("empty(") > rin.index("= for(")    # allocated on every trip...
    assert rout.index("empty(") < rout.index("= for(")  # ...once, before the loop
    lout = g["lower_arrays.out.ir"]
    assert not any(f"= {p}(" in lout for p in ("sum", "max", "mean", "matmul"))
    assert not any(f"[:] = {p}(" in lout for p in ("sin", "select", "add", "mul"))
    assert "f64 = sin(%x" in lout and "f64 = select(" in lout   # scalar ops inside loops
    assert "= full(" not in lout            # fills are loops too
    assert lout.count("= empty(") == 3     # max(A, axis=0), A @ x and w (used twice); z fused
    eout = g["expand.out.ir"]
    assert "exp_all" in eout and eout.index("exp(%icf_i") < eout.index("^(%i: i64")


PASS_NAMES = sorted(PASSES)   # "checkpoint" runs with an Every(3) policy (`_checkpoint`)
CATALOG = load_sibling("catalog").CATALOG


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_pass_preserves_catalog_results(name):
    case = CATALOG[name]
    args = bind_defaults(case.fn, case.args())
    base = build_ir(case.fn, signature_of(case.fn, args))["frontend"]
    want = run_function(copy.deepcopy(base), list(fresh(args)))
    for p in PASS_NAMES:
        fn = _run(p)(copy.deepcopy(base))
        verify(fn)
        got = run_function(fn, list(fresh(args)))
        assert _same(got, want), f"{name}: pass {p} changed the result: {got!r} != {want!r}"


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import programs as progs  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(progs.programs())
def test_every_pass_preserves_random_programs(p):
    f = p.load()
    base = build_ir(f, signature_of(f, p.fresh_args()))["frontend"]
    want = run_function(copy.deepcopy(base), list(p.fresh_args()))
    for name in PASS_NAMES:
        fn = _run(name)(copy.deepcopy(base))
        verify(fn)
        got = run_function(fn, list(p.fresh_args()))
        progs.assert_results_close(want, got, f"pass {name}", p)


def _row_then_element(Q, i, j):
    r = Q[i]                      # a row (a view in NumPy)
    r2 = Q[i]
    return r[j] * 2.0 + r2[j - 1]


def test_simplify_reads_an_element_of_a_row_from_its_base():
    """q[i][j] is one getitem of q: loops reading through a row view do not make the row."""
    Q = np.arange(12.0).reshape(3, 4)
    fn = copy.deepcopy(build_ir(_row_then_element, signature_of(_row_then_element,
                                                                (Q, 1, 2)))["frontend"])
    want = run_function(fn, [Q, 1, 2])
    out = PASSES["dce"].run(PASSES["simplify"].run(fn))
    verify(out)
    text = print_function(out)
    assert text.count("getitem(") == 2 and "getitem(%Q, %i, " in text, text
    assert run_function(out, [Q, 1, 2]) == want == _row_then_element(Q, 1, 2)


def _column_view_write(Q, j):
    R = Q.copy()
    c = R[:, j]                   # a column view
    for i in range(1, c.shape[0]):
        c[i] = c[i - 1] * 0.5 + R[i, 0]
    return R


def test_simplify_turns_element_access_through_whole_axis_views_into_base_access():
    """c = r[:, j]; c[i] = c[i - 1] is r[i, j] = r[i - 1, j]: no column is made or written
    back per element."""
    Q = np.arange(12.0).reshape(3, 4)
    fn = copy.deepcopy(build_ir(_column_view_write, signature_of(_column_view_write,
                                                                 (Q, 2)))["frontend"])
    want = run_function(fn, [Q, 2])
    out = PASSES["dce"].run(PASSES["simplify"].run(fn))
    verify(out)
    text = print_function(out)
    assert "setslice(" not in text and text.count("getslice(") == 1, text  # for c.shape
    np.testing.assert_array_equal(run_function(out, [Q, 2]), want)
    np.testing.assert_array_equal(want, _column_view_write(Q, 2))


# a loop slot written in one branch of an if and passed through the other keeps its shape
IF_WRITES_SLOT = """
func @f(%u: f64[:], %n: i64) -> (f64[:]) {
  %lo: i64 = const() {type='i64', value=0}
  %one: i64 = const() {type='i64', value=1}
  %out: f64[:] = for(%lo, %n, %one, %u) {
  ^(%i: i64, %a: f64[:]):
    %c: bool = gt(%i, %lo)
    %b: f64[:] = if(%c) {
    ^():
      %m: i64 = dim(%a) {axis=0}
      %x: f64 = cast(%m) {to='f64'}
      %a.1: f64[:] = setitem(%a, %x, %i)
      yield(%a.1)
    } {
    ^():
      yield(%a)
    }
    %k: i64 = dim(%b) {axis=0}
    %y: f64 = cast(%k) {to='f64'}
    %b.1: f64[:] = setitem(%b, %y, %lo)
    yield(%b.1)
  }
  return(%out)
}
"""


def test_simplify_reads_the_extent_of_a_slot_written_under_an_if_from_its_initial_value():
    """dim of the loop slot (and of the if's result) is the extent of the loop's initial array,
    invariant: vector forward mode's lane count inside a loop with a branch, so its lane
    vectors are allocated once (reuse_buffers), not per trip."""
    fn = parse_function(IF_WRITES_SLOT)
    want = run_function(copy.deepcopy(fn), [np.zeros(4), 4])
    out = PASSES["simplify"].run(fn)
    verify(out)
    text = print_function(out)
    assert text.count("dim(%u)") == 2 and "dim(%a)" not in text and "dim(%b)" not in text, text
    np.testing.assert_array_equal(run_function(out, [np.zeros(4), 4]), want)
    np.testing.assert_array_equal(want, np.full(4, 4.0))
