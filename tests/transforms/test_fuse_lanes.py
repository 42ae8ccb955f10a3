"""`fuse_lanes` on hand-written lane IR: a row of a tangent array read before it is written in
the same stretch is read from the lane loop's carried array (so copy insertion needs no copy
of the whole tangent array), a version overwritten earlier in the stretch is never read
from the newer one, and a loop-carried lane vector that dies in the stretch holds its result
(no vector allocated per trip)."""
from __future__ import annotations

import copy

import numpy as np

from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.ir.printer import print_function
from adcompile.ir.verifier import verify
from adcompile.transforms.fuse_lanes import fuse_lanes
from adcompile.transforms.inplace import insert_copies

# u_dot[i] += 0.5 * u_dot[i] inside a loop over i: the row read is of the version written next
READ_THEN_WRITE = """
func @f(%u_dot: f64[:, :], %n: i64) -> (f64[:, :]) {
  %lo: i64 = const() {type='i64', value=0}
  %one: i64 = const() {type='i64', value=1}
  %out: f64[:, :] = for(%lo, %n, %one, %u_dot) {
  ^(%i: i64, %a: f64[:, :]):
    %h: f64 = const() {type='f64', value=0.5}
    %row: f64[:] = getitem(%a, %i) {lane_op=True}
    %s: f64[:] = mul(%h, %row) {lane_op=True}
    %t: f64[:] = add(%row, %s) {lane_op=True}
    %a.1: f64[:, :] = setitem(%a, %t, %i) {lane_op=True}
    yield(%a.1)
  }
  return(%out)
}
"""

# v1 = a with row 0 := x; v2 = v1 with row 0 := x*x; then row 0 of v1 (not v2) is read
OVERWRITTEN = """
func @f(%a: f64[:, :], %x: f64[:]) -> (f64[:, :], f64[:]) tuple {
  %i: i64 = const() {type='i64', value=0}
  %v1: f64[:, :] = setitem(%a, %x, %i) {lane_op=True}
  %y: f64[:] = mul(%x, %x) {lane_op=True}
  %v2: f64[:, :] = setitem(%v1, %y, %i) {lane_op=True}
  %r: f64[:] = getitem(%v1, %i) {lane_op=True}
  %s: f64[:] = add(%r, %r) {lane_op=True}
  return(%v2, %s)
}
"""


# s_dot = s_dot + x * s_dot in a loop: the carried lanes die where the new ones are made
CARRIED = """
func @f(%s_dot: f64[:], %x: f64, %n: i64) -> (f64[:]) {
  %lo: i64 = const() {type='i64', value=0}
  %one: i64 = const() {type='i64', value=1}
  %out: f64[:] = for(%lo, %n, %one, %s_dot) {
  ^(%i: i64, %a: f64[:]):
    %m: f64[:] = mul(%x, %a) {lane_op=True}
    %t: f64[:] = add(%a, %m) {lane_op=True}
    yield(%t)
  }
  return(%out)
}
"""


def _ops(block, depth=0):
    for op in block.ops:
        yield op, depth
        for r in op.regions:
            yield from _ops(r, depth + (op.prim in ("for", "while")))


def test_row_read_before_its_write_reads_the_carried_array():
    fn = parse_function(READ_THEN_WRITE)
    args = [np.arange(12.0).reshape(4, 3), 4]
    want = run_function(copy.deepcopy(fn), [a.copy() if hasattr(a, "copy") else a
                                            for a in args])
    out = insert_copies(fuse_lanes(fn))
    verify(out)
    text = print_function(out)
    lane_loops = [op for op, d in _ops(out.body) if op.prim == "for" and d == 1]
    assert len(lane_loops) == 1, text          # the stretch became one loop over lanes
    # one copy: of the caller's argument, before the loop; none per trip
    copies = [(op, d) for op, d in _ops(out.body) if op.prim == "copy"]
    assert [(op.operands[0].name, d) for op, d in copies] == [("u_dot", 0)], text
    np.testing.assert_array_equal(run_function(out, [args[0].copy(), 4]), want)
    np.testing.assert_array_equal(want, 1.5 * args[0])


def test_a_version_overwritten_in_the_stretch_is_read_as_it_was():
    fn = parse_function(OVERWRITTEN)
    a, x = np.zeros((2, 3)), np.array([1.0, 2.0, 3.0])
    want = run_function(copy.deepcopy(fn), [a.copy(), x.copy()])
    out = insert_copies(fuse_lanes(fn))
    verify(out)
    got = run_function(out, [a.copy(), x.copy()])
    np.testing.assert_array_equal(want[1], 2 * x)            # row 0 of v1, before x*x
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_a_carried_lane_vector_that_dies_holds_the_new_lanes():
    fn = parse_function(CARRIED)
    s0 = np.array([1.0, -2.0, 0.5])
    want = run_function(copy.deepcopy(fn), [s0.copy(), 0.5, 3])
    out = insert_copies(fuse_lanes(fn))
    verify(out)
    text = print_function(out)
    inside = [op.prim for op, d in _ops(out.body) if d >= 1]
    assert "empty" not in inside and "copy" not in inside, text
    np.testing.assert_array_equal(run_function(out, [s0.copy(), 0.5, 3]), want)
    np.testing.assert_array_equal(want, s0 * 1.5 ** 3)
