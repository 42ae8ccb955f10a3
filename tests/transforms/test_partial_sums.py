"""partial_sums: an adjoint loop's reassociable sum runs as four partial sums (unrolled by
four, the rest in the original loop); other carried values and the order of everything else
stay; the IR interpreter gives the same values before and after."""
from __future__ import annotations

import numpy as np
import pytest

from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.ir.printer import print_function
from adcompile.ir.verifier import verify
from adcompile.transforms.partial_sums import partial_sums

# s sums k * a[i] (reassociable); q receives each term (an element write); m counts
TEXT = """func @f(%a: f64[:], %b: f64[:], %k: f64) -> (f64, f64[:], i64) tuple {
  %c0: i64 = const() {type='i64', value=0}
  %c1: i64 = const() {type='i64', value=1}
  %cm1: i64 = const() {type='i64', value=-1}
  %z: f64 = const() {type='f64', value=0.0}
  %n: i64 = dim(%a) {axis=0}
  %m1: i64 = sub(%n, %c1)
  %s: f64, %q: f64[:], %m: i64 = for(LB, UB, STEP, %z, %b, %c0) {ATTRS} {
  ^(%i: i64, %acc: f64, %p: f64[:], %cnt: i64):
    %v: f64 = getitem(%a, %i) {inbounds=True}
    %e: f64 = mul(%k, %v)
    %acc1: f64 = add(%acc, %e) {REASSOC}
    %p1: f64[:] = setitem(%p, %e, %i) {inbounds=True}
    %cnt1: i64 = add(%cnt, %c1)
    yield(%acc1, %p1, %cnt1)
  }
  return(%s, %q, %m)
}
"""
RANGES = {"up": ("%c0", "%n", "%c1"), "down": ("%m1", "%cm1", "%cm1")}


def _fn(direction: str, attrs: str = "adjoint=True", reassoc: str = "reassoc=True"):
    lb, ub, step = RANGES[direction]
    text = TEXT.replace("LB", lb).replace("UB", ub).replace("STEP", step)
    return parse_function(text.replace("ATTRS", attrs).replace("{REASSOC}", "{" + reassoc + "}"
                                                               if reassoc else ""))


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 8, 11])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_same_values_and_four_partial_sums(n, direction):
    rng = np.random.default_rng(n)
    a, b, k = rng.normal(size=n), np.zeros(n), float(rng.normal())
    want = run_function(_fn(direction), [a.copy(), b.copy(), k])
    after = partial_sums(_fn(direction))
    verify(after)
    printed = print_function(after)
    assert printed.count("for(") == 2, printed
    got = run_function(after, [a.copy(), b.copy(), k])
    assert got[0] == pytest.approx(want[0], rel=1e-13, abs=1e-15)
    assert got[2] == want[2] == n
    np.testing.assert_array_equal(got[1], want[1])


def test_a_sum_read_inside_the_loop_stays_one_chain():
    """A running sum that the body also stores cannot be split: its values would change."""
    lb, ub, step = RANGES["up"]
    src = TEXT.replace("LB", lb).replace("UB", ub).replace("STEP", step).replace(
        "ATTRS", "adjoint=True").replace("{REASSOC}", "{reassoc=True}").replace(
        "setitem(%p, %e, %i)", "setitem(%p, %acc1, %i)")
    fn = partial_sums(parse_function(src))
    assert print_function(fn).count("for(") == 1


@pytest.mark.parametrize("attrs,reassoc", [("checkpoint_sqrt=True", "reassoc=True"),
                                           ("adjoint=True", "")],
                         ids=["user-loop", "ordered-sum"])
def test_only_marked_sums_of_adjoint_loops(attrs, reassoc):
    fn = partial_sums(_fn("up", attrs, reassoc))
    assert print_function(fn).count("for(") == 1
