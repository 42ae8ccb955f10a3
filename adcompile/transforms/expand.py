"""Hoist expensive values that depend only on inner loop indices out of an outer loop, into a
precomputed array ("scalar expansion" + loop-invariant code motion).

    for i in range(n):                 E = empty((K, d))
        for k in range(K):             for k in range(K):
            for j in range(d):   ->        for j in range(d):
                w = exp(icf[k, j])             E[k, j] = exp(icf[k, j])
                ...                    for i in range(n):
                                           for k ...: for j ...: w = E[k, j]; ...

Plain LICM cannot do this: `exp(icf[k, j])` changes with k and j, only not with i. Computing it
once per (k, j) instead of once per (i, k, j) removes n-1 of every n transcendental calls (the
ADBench GMM's `exp(icf[k, j])` over the point loop). In reverse mode the adjoint benefits too:
the hoisted values are read from an array that is never overwritten, so nothing is taped.

Conditions: the inner loops are `for` loops directly nested (no `if`/`while` in between), their
bounds are defined outside the outer loop, the value is computed by pure ops from their
induction variables and values defined outside the outer loop, and its chain contains an
expensive op (a transcendental, `pow`, `sqrt`, division). At most 3 index dimensions.
"""
from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..ir.loops import trip_count
from ..ir.primitives import has
from ..ir.traits import Trait
from ..ir.types import I64, ArrayType, ScalarType
from ..ir.views import ForOp
from ..ir.walk import clone_ops, defined_ids, used_ids
from .licm import hoistable


class _Expander:
    def __init__(self, outer: Op):
        self.outer = outer
        self.inside = defined_ids(outer.regions)
        self.pre: list[Op] = []        # ops to place before the outer loop

    def run(self) -> list[Op]:
        self.visit(ForOp(self.outer).body, [])
        return self.pre

    def visit(self, block: Block, chain: list[Op]) -> None:
        # values of this block computable from chain ivs + outside values: id -> (deps, op)
        info: dict[int, tuple[tuple[int, ...], bool]] = {}
        ivpos = {ForOp(loop).iv.id: k for k, loop in enumerate(chain)}
        replace: dict[int, Value] = {}
        new_ops: list[Op] = []
        for op in block.ops:
            if op.prim == "for" and self._invariant_bounds(op):
                self.visit(ForOp(op).body, chain + [op])
            deps = self._deps(op, info, ivpos)
            if deps is not None:
                v = op.results[0]
                expensive = has(op, Trait.EXPENSIVE) or any(
                    info.get(o.id, ((), False))[1] for o in op.operands)
                info[v.id] = (deps, expensive)
            new_ops.append(op)
        # hoist the frontier: expandable, expensive, index-dependent values used by others
        used_by_rest: set[int] = set()
        for op in block.ops:
            if op.results and op.results[0].id in info:
                continue
            used_by_rest |= used_ids(op)
        if not chain:
            return
        for op in block.ops:
            if not op.results or op.results[0].id not in info:
                continue
            v = op.results[0]
            deps, expensive = info[v.id]
            if not expensive or not deps or v.id not in used_by_rest or len(deps) > 3 \
                    or not isinstance(v.type, ScalarType) or v.type.is_bool:
                continue
            replace[v.id] = self._expand(v, deps, chain, block, info)
        if replace:
            self._rewrite(block, replace, chain)

    def _invariant_bounds(self, loop: Op) -> bool:
        return all(v.id not in self.inside for v in ForOp(loop).bounds) and not loop.attrs

    def _deps(self, op: Op, info, ivpos) -> tuple[int, ...] | None:
        if len(op.results) != 1 or not hoistable(op) or op.regions:
            return None
        if isinstance(op.results[0].type, ArrayType):
            return None
        deps: set[int] = set()
        for v in op.operands:
            if v.id in ivpos:
                deps.add(ivpos[v.id])
            elif v.id in info:
                deps |= set(info[v.id][0])
            elif v.id in self.inside:
                return None
        return tuple(sorted(deps))

    def _expand(self, v: Value, deps, chain, block: Block, info) -> Value:
        """Precompute v over the loops `deps` of `chain` into an array before the outer loop;
        return the array (read back in `_rewrite`)."""
        loops = [chain[k] for k in deps]
        b = Builder(self.pre, self.outer.loc)
        dims = [trip_count(b, *ForOp(lp).bounds) for lp in loops]
        arr = b("empty", *dims, dtype=v.type.name, name=v.name + "_all")
        # the ops computing v, in block order
        needed: list[Op] = []
        want = {v.id}
        for op in reversed(block.ops):
            if op.results and op.results[0].id in want:
                needed.append(op)
                want |= {o.id for o in op.operands if o.id in info}
        needed.reverse()
        # build the nest: for each loop a counter-indexed copy of its range
        arr_now = arr
        body_ops = self.pre
        loop_ops = []
        mapping: dict[int, Value] = {}
        idx: list[Value] = []
        blocks = []
        for lp, n in zip(loops, dims):
            iv = Value(ForOp(lp).iv.name, I64)
            carried = Value(arr.name, arr.type)
            blk = Block([iv, carried], [])
            blocks.append((lp, blk, carried))
        # innermost body: compute and store
        inner_ops: list[Op] = []
        ib = Builder(inner_ops, self.outer.loc)
        for (lp, blk, _), n in zip(blocks, dims):
            lb, _, step = ForOp(lp).bounds
            mapping[ForOp(lp).iv.id] = blk.args[0]
            idx.append(ib("floordiv", ib("sub", blk.args[0], lb), step, name="at"))
        inner_ops += clone_ops(needed, mapping)
        stored = ib("setitem", blocks[-1][2], mapping[v.id], *idx, name=arr.name)
        inner_ops.append(Op("yield", [stored], [], {}, [], self.outer.loc))
        # wrap from the inside out
        body = inner_ops
        for k in range(len(blocks) - 1, -1, -1):
            lp, blk, carried = blocks[k]
            blk.ops = body
            init = blocks[k - 1][2] if k > 0 else arr_now
            res = Value(arr.name, arr.type)
            loop = Op("for", list(ForOp(lp).bounds) + [init], [res], {}, [blk], self.outer.loc)
            if k > 0:
                body = [loop, Op("yield", [res], [], {}, [], self.outer.loc)]
            else:
                loop_ops.append(loop)
                final = res
        body_ops.extend(loop_ops)
        self._arrays = getattr(self, "_arrays", {})
        self._arrays[v.id] = (final, deps)
        return final

    def _rewrite(self, block: Block, replace: dict[int, Value], chain: list[Op]) -> None:
        """Inside the nest, read the hoisted values back from their arrays."""
        out: list[Op] = []
        for op in block.ops:
            if op.results and op.results[0].id in replace:
                v = op.results[0]
                arr, deps = self._arrays[v.id]
                b = Builder(out, op.loc)
                idx = []
                for k in deps:
                    lp = chain[k]
                    lb, _, step = ForOp(lp).bounds
                    idx.append(b("floordiv", b("sub", ForOp(lp).iv, lb), step,
                                 name="at"))
                out.append(Op("getitem", [arr] + idx, [v], {}, [], op.loc))
                continue
            out.append(op)
        block.ops = out


def expand(fn: Function) -> Function:
    """Expand out of the function's outermost loops only: arrays precomputed inside a loop
    would be allocated again on every trip."""
    out: list[Op] = []
    for op in fn.body.ops:
        if op.prim == "for" and not set(op.attrs) - {"adjoint"}:
            out.extend(_Expander(op).run())
        out.append(op)
    fn.body.ops = out
    return fn
