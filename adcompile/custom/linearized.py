"""`linearized_jvp`: a custom JVP given as a linearization, so vector forward mode keeps it.

    f = linearized_jvp(primal)
    f.deflinear(linearize, tangent)
    # linearize(*args) -> (outputs, residuals); tangent(residuals, tangents) -> output tangents

The factorisations of `numerics/linalg.py` need this split: a plain JVP rule recomputes the
factorisation per call, and under vector forward mode (`jacfwd`, L directions at once) the
forward transform would otherwise differentiate the function as written, through pivoting
and Jacobi iterations. With the split, the generated JVP rule factors once and applies the
linear `tangent` per lane; reverse mode transposes the one-lane rule as for any custom_jvp.
"""
from __future__ import annotations

import hashlib
import linecache

import numpy as np

from ..ir.types import F32, ArrayType, scalar_of
from .functions import custom_jvp


def _ndim(t) -> int:
    return t.ndim if isinstance(t, ArrayType) else 0


def _tup(xs: list[str]) -> str:
    return "(" + ", ".join(xs) + ("," if len(xs) == 1 else "") + ")"


class linearized_jvp(custom_jvp):
    """A custom_jvp whose rule is `linearize` + a linear `tangent` map, generated per
    signature (one lane, or a loop over the lanes of vector forward mode)."""

    lanes_rule = True

    def __init__(self, fun, out_ndims: tuple[int, ...] = (0,)):
        super().__init__(fun)
        self.out_ndims = tuple(out_ndims)   # the lane loop writes each output's tangent
        self.nouts = len(out_ndims)
        self.linearize = None
        self.tangent = None
        self._generated: dict[tuple, object] = {}

    def deflinear(self, linearize, tangent):
        """Register linearize(*args) -> (outs, res) and tangent(res, tangents) -> out_dots
        (both in the supported subset); returns the function."""
        self.linearize, self.tangent = linearize, tangent
        self.jvp_rule = self._rule(None)
        return self

    def rule_for(self, kind: str, arg_types: list):
        if kind != "jvp":
            return super().rule_for(kind, arg_types)
        n = len(arg_types) // 2
        lanes = _ndim(arg_types[n]) == _ndim(arg_types[0]) + 1
        if not lanes:
            return self.jvp_rule
        f32 = all(scalar_of(t) == F32 for t in arg_types[n:])
        return self._rule(tuple(_ndim(t) for t in arg_types[:n]) + ("f32" if f32 else "f64",))

    def _rule(self, lanes_key):
        """The JVP rule's function; `lanes_key` None for one tangent per argument, else the
        primal types (and lane dtype) of a lane-loop rule."""
        hit = self._generated.get(lanes_key)
        if hit is not None:
            return hit
        nargs = self.fun.__code__.co_argcount
        p = [f"p{i}" for i in range(nargs)]
        t = [f"t{i}" for i in range(nargs)]
        o = [f"o{i}" for i in range(self.nouts)]
        outs = o[0] if self.nouts == 1 else _tup(o)
        head = (f"def jvp_rule(primals, tangents):\n"
                f"    {_tup(p)} = primals\n"
                f"    {_tup(t)} = tangents\n"
                f"    {outs}, res = linearize({', '.join(p)})\n")
        if lanes_key is None:
            src = head + f"    return {outs}, tangent(res, {_tup(t)})\n"
        else:
            dims = list(lanes_key[:-1])
            dtype = "np.float32" if lanes_key[-1] == "f32" else "np.float64"

            def lane(name: str, nd: int) -> str:
                return f"{name}[{''.join(':, ' for _ in range(nd))}l]"
            d = [f"d{i}" for i in range(self.nouts)]
            body = [f"    L = t0.shape[{dims[0]}]\n"]
            for k, nd in enumerate(self.out_ndims):
                shape = "".join(f"{o[k]}.shape[{j}], " for j in range(nd))
                body.append(f"    {d[k]} = np.zeros(({shape}L), dtype={dtype})\n")
            lane_t = _tup([lane(t[i], dims[i]) for i in range(nargs)])
            got = [f"g{k}" for k in range(self.nouts)]
            body.append("    for l in range(L):\n")
            body.append(f"        {got[0] if self.nouts == 1 else _tup(got)} = "
                        f"tangent(res, {lane_t})\n")
            for k, nd in enumerate(self.out_ndims):
                body.append(f"        {lane(d[k], nd)} = {got[k]}\n")
            outs_dot = d[0] if self.nouts == 1 else _tup(d)
            src = head + "".join(body) + f"    return {outs}, {outs_dot}\n"
        digest = hashlib.sha256(src.encode()).hexdigest()[:12]
        name = getattr(self.fun, "__qualname__", "f")
        filename = f"<adcompile linearized jvp of {name} {digest}>"
        linecache.cache[filename] = (len(src), None, src.splitlines(keepends=True), filename)
        namespace = {"np": np, "linearize": self.linearize, "tangent": self.tangent}
        exec(compile(src, filename, "exec"), namespace)
        rule = namespace["jvp_rule"]
        rule.__name__ = rule.__qualname__ = f"{name}_jvp"
        self._generated[lanes_key] = rule
        return rule
