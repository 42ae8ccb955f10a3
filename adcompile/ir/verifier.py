"""Checks the invariants stated in `core`: single definition, dominance, types, region arity."""
from __future__ import annotations

from .core import Block, Function, Op, Value
from .primitives import PRIMITIVES, IRTypeError, check_attrs, check_operands
from .types import BOOL, I64


class VerifyError(Exception):
    pass


def verify(fn: Function) -> None:
    defined: set[int] = set()
    for a in fn.args:
        _define(a, defined)
    _verify_block(fn, fn.body, set(a.id for a in fn.args), defined, "function")


def _define(v: Value, defined: set[int]) -> None:
    if v.id in defined:
        raise VerifyError(f"value {v!r} defined more than once")
    defined.add(v.id)


def _err(op: Op, msg: str) -> VerifyError:
    where = f" at {op.loc}" if op.loc else ""
    return VerifyError(f"{op.prim}{where}: {msg}")


def _verify_block(fn: Function, block: Block, visible: set[int], defined: set[int],
                  kind: str) -> None:
    """`visible`: the values defined in this block's enclosing blocks before it (one set,
    grown while a block is checked and shrunk again after it, so an operand's check is one
    lookup however deep the nesting)."""
    scope: list[int] = []
    try:
        for a in block.args:
            _define(a, defined)
            visible.add(a.id)
            scope.append(a.id)
        _verify_ops(fn, block, visible, defined, kind, scope)
    finally:
        visible.difference_update(scope)


def _verify_ops(fn: Function, block: Block, visible: set[int], defined: set[int], kind: str,
                scope: list[int]) -> None:
    if not block.ops:
        raise VerifyError(f"empty {kind} block (missing terminator)")
    for i, op in enumerate(block.ops):
        if op.prim not in PRIMITIVES:
            raise _err(op, "unknown primitive")
        prim = PRIMITIVES[op.prim]
        for v in op.operands:
            if v.id not in visible:
                raise _err(op, f"operand {v!r} is not defined before this use")
        last = i == len(block.ops) - 1
        if prim.terminator != last:
            raise _err(op, "terminator must be the last op of its block" if prim.terminator
                       else f"{kind} block does not end in a terminator")
        if len(op.regions) != prim.nregions:
            raise _err(op, f"expects {prim.nregions} regions, has {len(op.regions)}")
        bad = check_operands(prim, len(op.operands)) or check_attrs(prim, op.attrs)
        if bad:
            raise _err(op, bad)
        try:
            expected = prim.rule([v.type for v in op.operands], op.attrs)
        except IRTypeError as e:
            raise _err(op, str(e)) from None
        except KeyError as e:
            raise _err(op, f"missing attribute {e}") from None
        if expected is not None and [r.type for r in op.results] != expected:
            raise _err(op, f"result types {[str(r.type) for r in op.results]} do not match "
                           f"the rule's {[str(t) for t in expected]}")
        _verify_structure(fn, op, kind)
        for r in op.regions:
            _verify_block(fn, r, visible, defined, op.prim)
        for r in op.results:
            _define(r, defined)
            visible.add(r.id)
            scope.append(r.id)


def _terminator_types(region: Block, prim: str, op: Op) -> list:
    term = region.terminator
    if term is None or term.prim != prim:
        raise _err(op, f"region must end in '{prim}'")
    return [v.type for v in term.operands]


def _verify_structure(fn: Function, op: Op, kind: str) -> None:
    res = [r.type for r in op.results]
    if op.prim == "for":
        body = op.regions[0]
        if [a.type for a in body.args] != [I64] + res:
            raise _err(op, "for body args must be (i64 index, *carried)")
        if _terminator_types(body, "yield", op) != res:
            raise _err(op, "for body must yield the carried types")
    elif op.prim == "while":
        cond, body = op.regions
        if [a.type for a in cond.args] != res or [a.type for a in body.args] != res:
            raise _err(op, "while regions' args must be the carried values")
        if _terminator_types(cond, "condition", op) != [BOOL]:
            raise _err(op, "while condition region must end in condition(bool)")
        if _terminator_types(body, "yield", op) != res:
            raise _err(op, "while body must yield the carried types")
    elif op.prim == "if":
        for r in op.regions:
            if r.args:
                raise _err(op, "if regions take no block arguments")
            if _terminator_types(r, "yield", op) != res:
                raise _err(op, "both branches of if must yield the result types")
    elif op.prim == "custom":
        region = op.regions[0]
        if [a.type for a in region.args] != [v.type for v in op.operands]:
            raise _err(op, "custom region args must match the operands")
        if _terminator_types(region, "yield", op) != res:
            raise _err(op, "custom region must yield the result types")
    elif op.prim == "yield" and kind not in ("for", "while", "if", "custom"):
        raise _err(op, f"yield outside a region of for/while/if (in {kind})")
    elif op.prim == "condition" and kind != "while":
        raise _err(op, "condition outside a while condition region")
    elif op.prim == "return":
        if kind != "function":
            raise _err(op, "return inside a region (the frontend lowers it to flags)")
        if [v.type for v in op.operands] != list(fn.result_types):
            raise _err(op, "returned types do not match the function's result types")
