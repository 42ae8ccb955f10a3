"""Two pass rules that composed derivatives (`grad(grad(f))`) depend on: copy insertion treats
a `SHARES_STORAGE` result and its operand as one array, and loop fusion never interleaves the
pushes and pops of one tape."""
from __future__ import annotations

import numpy as np

from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.transforms.fuse import fuse
from adcompile.transforms.inplace import insert_copies

SHARED = """
func @f(%g: f64[:], %like: f64[:]) -> (f64[:], f64[:]) tuple {
  %r: f64[:] = sum_to(%g, %like)
  %c: i64 = const() {type='i64', value=0}
  %v: f64 = const() {type='f64', value=2.0}
  %r.1: f64[:] = setitem(%r, %v, %c)
  return(%r.1, %g)
}
"""

TAPE_LOOPS = """
func @f(%x: f64) -> (f64) {
  %tape: tape<f64> = tape_new() {type='f64'}
  %lo: i64 = const() {type='i64', value=0}
  %hi: i64 = const() {type='i64', value=3}
  %one: i64 = const() {type='i64', value=1}
  %s: f64 = for(%lo, %hi, %one, %x) {
  ^(%i: i64, %a: f64):
    %y: f64 = mul(%a, %a)
    tape_push(%tape, %a) {checked=True}
    yield(%y)
  }
  %zero: f64 = const() {type='f64', value=0.0}
  %t: f64 = for(%lo, %hi, %one, %zero) {
  ^(%j: i64, %b: f64):
    %p: f64 = tape_pop(%tape)
    %w: f64 = add(%b, %p)
    yield(%w)
  }
  %out: f64 = add(%s, %t)
  return(%out)
}
"""


def test_write_into_a_shared_result_copies_first():
    fn = insert_copies(parse_function(SHARED))
    prims = [op.prim for op in fn.body.ops]
    assert prims.index("copy") < prims.index("setitem")
    setitem = fn.body.ops[prims.index("setitem")]
    assert setitem.operands[0] is fn.body.ops[prims.index("copy")].results[0]


def test_loops_sharing_a_tape_do_not_fuse():
    fn = parse_function(TAPE_LOOPS)
    x = 1.5
    want = run_function(fn, [x])
    fused = fuse(fn)
    assert [op.prim for op in fused.body.ops].count("for") == 2
    assert run_function(fused, [x]) == want
    # pops run last-in first-out: 1.5, 2.25, 5.0625 pushed -> their sum, then the squares
    assert np.isclose(want, 1.5 ** 8 + (1.5 + 2.25 + 5.0625))
