"""Op schema, traits, typed views, slice specs and the IR utilities."""
from __future__ import annotations

import numpy as np
import pytest

from adcompile.driver.compile import build_ir
from adcompile.ir.builder import Builder
from adcompile.ir.core import Block, Function, Value
from adcompile.ir.parser import parse_function
from adcompile.ir.primitives import PRIMITIVES, has
from adcompile.ir.printer import print_function
from adcompile.ir.slices import SliceSpec
from adcompile.ir.traits import Trait
from adcompile.ir.types import F64, I64, ArrayType
from adcompile.ir.verifier import VerifyError, verify
from adcompile.ir.views import Access, ForOp, IfOp, Loop, WhileOp
from adcompile.ir.walk import clone_function, defined_in, free_uses, use_counts
from adcompile.signature import signature_of


def test_every_primitive_declares_a_schema():
    for name, p in PRIMITIVES.items():
        assert p.operands is not None, name
        variadic = [r for r in p.operands if r.startswith("*")]
        assert len(variadic) <= 1, name
        # effects and purity exclude each other; control ops and terminators are neither
        assert not (has(name, Trait.PURE) and has(name, Trait.EFFECT)), name
        if p.nregions:
            assert has(name, Trait.CONTROL), name
        if has(name, Trait.REMAT) or has(name, Trait.FOLDABLE):
            assert has(name, Trait.PURE), name
        for attr, spec in p.attrs.items():
            assert spec.types and (spec.doc or attr == "lane_op"), (name, attr)


def test_traits_answer_what_passes_used_to_list():
    assert has("tape_push", Trait.EFFECT) and has("check", Trait.EFFECT)
    assert has("empty", Trait.ALLOCATES) and has("copy", Trait.ALLOCATES)
    assert has("setslice", Trait.WRITES_ARRAY) and not has("getslice", Trait.WRITES_ARRAY)
    assert has("sum", Trait.REDUCTION) and has("sum", Trait.READS_ARRAY)
    assert has("exp", Trait.EXPENSIVE) and not has("floor", Trait.EXPENSIVE)
    assert has("add", Trait.FLOAT_REMAT) and not has("exp", Trait.REMAT)
    assert has("yield", Trait.TERMINATOR) and not has("for", Trait.TERMINATOR)


def _fn(ops_text: str) -> Function:
    return parse_function(ops_text)


GOOD = """func @f(%x: f64[:], %n: i64) -> (f64) {
  %c0: i64 = const() {value=0, type='i64'}
  %c1: i64 = const() {value=1, type='i64'}
  %s: f64 = const() {value=0.0, type='f64'}
  %r: f64 = for(%c0, %n, %c1, %s) {
  ^(%i: i64, %acc: f64):
    %xi: f64 = getitem(%x, %i)
    %a: f64 = add(%acc, %xi)
    yield(%a)
  }
  return(%r)
}
"""


def test_verifier_checks_declared_attributes_and_operand_counts():
    fn = _fn(GOOD)
    verify(fn)
    get = next(op for op in fn.walk() if op.prim == "getitem")
    get.attrs["inbounds"] = True           # declared: fine
    verify(fn)
    get.attrs["fast"] = True                # not declared anywhere
    with pytest.raises(VerifyError, match="undeclared attribute 'fast'"):
        verify(fn)
    del get.attrs["fast"]
    get.attrs["inbounds"] = 1               # declared as bool
    with pytest.raises(VerifyError, match="inbounds"):
        verify(fn)
    del get.attrs["inbounds"]
    const = next(op for op in fn.walk() if op.prim == "const")
    del const.attrs["type"]
    with pytest.raises(VerifyError, match="missing attribute 'type'"):
        verify(fn)


def test_views_name_the_operands():
    fn = _fn(GOOD)
    loop = next(op for op in fn.walk() if op.prim == "for")
    v = ForOp(loop)
    assert [x.name for x in v.bounds] == ["c0", "n", "c1"]
    assert [x.name for x in v.inits] == ["s"] and v.iv.type == I64
    assert [x.name for x in v.carried] == ["acc"] and [x.name for x in v.yields] == ["a"]
    assert Loop(loop).offset == 3 and Loop(loop).carried == v.carried
    get = next(op for op in fn.walk() if op.prim == "getitem")
    assert Access(get).array.name == "x" and [i.name for i in Access(get).indices] == ["i"]


def test_loop_keep_slots_drops_a_slot_everywhere():
    def two(x, n):
        a = 0.0
        b = 1.0
        k = 0
        while k < n:
            a = a + x
            b = b * x
            k += 1
        return a + b
    fn = build_ir(two, signature_of(two, (1.5, 3)))["frontend"]
    loop = next(op for op in fn.walk() if op.prim == "while")
    w = WhileOp(loop)
    n = len(w.inits)
    Loop(loop).keep_slots(list(range(n)))     # keeping all is the identity
    verify(fn)
    assert len(w.inits) == len(loop.results) == len(w.carried) == len(w.before.args) == n


def test_slice_spec_parses_binds_and_prints():
    spec = SliceSpec.parse("i,s110,s001")
    assert spec.text == "i,s110,s001" and spec.nops == 4 and spec.kept == 2
    assert spec.result_ndim(4) == 3
    b = spec.bind(["k", "a", "b", "c"])
    assert b[0].is_index and b[0].index == "k"
    assert (b[1].start, b[1].stop, b[1].step) == ("a", "b", None)
    assert (b[2].start, b[2].stop, b[2].step) == (None, None, "c")
    with pytest.raises(ValueError):
        SliceSpec.parse("x12")
    with pytest.raises(ValueError):
        spec.bind(["k"])


def test_clone_function_gives_fresh_ids_and_the_same_text():
    fn = _fn(GOOD)
    copy = clone_function(fn)
    ids = {v.id for op in fn.walk() for v in op.results} | {a.id for a in fn.args}
    cids = {v.id for op in copy.walk() for v in op.results} | {a.id for a in copy.args}
    assert not ids & cids
    verify(copy)
    assert print_function(copy) == print_function(fn)


def test_walk_utilities():
    fn = _fn(GOOD)
    loop = next(op for op in fn.walk() if op.prim == "for")
    assert {v.name for v in free_uses(loop.regions)} == {"x"}
    assert [v.name for v in defined_in(loop)] == ["i", "acc", "xi", "a"]
    counts = use_counts(fn.body)
    x = fn.args[0]
    assert counts[x.id] == 1


def test_builder_infers_types_and_checks():
    block = Block([Value("x", ArrayType(F64, 1))])
    b = Builder(block)
    n = b("dim", block.args[0], axis=0, name="n")
    assert n.type == I64 and n.name == "n"
    one = b.const(1.0, F64)
    assert one.type == F64 and block.ops[-1].attrs == {"value": 1.0, "type": "f64"}
    b.check(b("gt", n, b.c(0)), "empty array")
    assert block.ops[-1].prim == "check" and not block.ops[-1].results
    assert np.dtype(F64.np_dtype) == np.float64


def test_if_view():
    def f(x):
        if x > 0.0:
            y = x * 2.0
        else:
            y = -x
        return y
    fn = build_ir(f, signature_of(f, (1.0,)))["frontend"]
    op = next(op for op in fn.walk() if op.prim == "if")
    v = IfOp(op)
    assert v.cond.type.name == "bool" and v.then.ops[-1].prim == "yield"
    assert v.orelse.ops[-1].prim == "yield"
