"""The debug option ADCOMPILE_CHECK_TAPES=1 (CompileOptions.check_tapes): every tape push and
pop is checked against the tape's bounds, so a reservation that is too small or an unmatched
pop is reported as an internal error, on both backends, instead of writing or reading outside
the tape. The programs below are hand-written IR with exactly those bugs (unguarded, they
write past their tape or read before it)."""
from __future__ import annotations

import pytest

from adcompile.backends import get_backend
from adcompile.driver.options import CompileOptions
from adcompile.errors import InternalError
from adcompile.ir.parser import parse_function
from adcompile.transforms.pipeline import backend_pipeline, run_passes

# room for one entry, then n unchecked pushes and n pops
OVERFLOW = """
func @overflow(%x: f64, %n: i64) -> (f64) {
  %t: tape<f64> = tape_new() {type='f64'}
  %zero: i64 = const() {type='i64', value=0}
  %one: i64 = const() {type='i64', value=1}
  %m: i64 = const() {type='i64', value=-1}
  tape_reserve(%t, %one)
  %s: f64 = for(%zero, %n, %one, %x) {
  ^(%i: i64, %a: f64):
    tape_push(%t, %a)
    %b: f64 = mul(%a, %a)
    yield(%b)
  }
  %last: i64 = sub(%n, %one)
  %r: f64 = for(%last, %m, %m, %s) {
  ^(%j: i64, %acc: f64):
    %v: f64 = tape_pop(%t)
    %acc2: f64 = add(%acc, %v)
    yield(%acc2)
  }
  return(%r)
}
"""

# one push, two pops
UNDERFLOW = """
func @underflow(%x: f64) -> (f64) {
  %t: tape<f64> = tape_new() {type='f64'}
  %one: i64 = const() {type='i64', value=1}
  tape_reserve(%t, %one)
  tape_push(%t, %x)
  %a: f64 = tape_pop(%t)
  %b: f64 = tape_pop(%t)
  %c: f64 = add(%a, %b)
  return(%c)
}
"""


def _compile(text: str, backend: str, guard: bool):
    options = CompileOptions(backend=backend, check_tapes=guard)
    fn = run_passes(parse_function(text), backend_pipeline(options), options)
    return get_backend(backend).build(fn, fn.name)[0]


def test_option_from_the_environment_is_part_of_the_key():
    on = CompileOptions.from_env({"ADCOMPILE_CHECK_TAPES": "1"})
    assert on.check_tapes and not CompileOptions.from_env({}).check_tapes
    assert on.key != CompileOptions.from_env({}).key
    assert "guard_tapes" in backend_pipeline(on)


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_guarded_tapes_report_overflow_and_underflow(backend):
    over = _compile(OVERFLOW, backend, True)
    assert over(1.0, 1) == 2.0                       # within the reservation: no error
    with pytest.raises(InternalError, match="tape overflow"):
        over(1.0, 100_000)
    under = _compile(UNDERFLOW, backend, True)
    with pytest.raises(InternalError, match="tape underflow"):
        under(1.0)
