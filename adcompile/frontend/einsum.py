"""np.einsum with explicit subscripts ('ij,jk->ik', 'i,i->', 'bij,bjk->bik', 'ii->', 'ii->i'),
lowered by the frontend to loops: for every output index, a sum over the contracted indices
of the operands' product. Made of element reads and writes, so every backend and both
derivative modes handle it with the existing rules."""
from __future__ import annotations

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import ArrayType
from .fancy import nest

_HINT = "write explicit subscripts with '->', e.g. np.einsum('ij,jk->ik', a, b)"


def lower_einsum(lw, args, kw, node) -> Value:
    what = "np.einsum"
    if kw:
        raise lw.error(node, f"{what}() does not support keywords in compiled code", _HINT,
                       UnsupportedSyntax)
    if not args or not isinstance(args[0], str):
        raise lw.error(node, f"{what}() needs a constant subscript string first", _HINT,
                       TypeInferenceError)
    spec, ops = args[0].replace(" ", ""), list(args[1:])
    if "->" not in spec or "." in spec:
        raise lw.error(node, f"{what}('{spec}'): only explicit subscripts ('...->...') "
                       "without '...' are supported", _HINT, UnsupportedSyntax)
    lhs, out = spec.split("->")
    terms = lhs.split(",")
    if len(terms) != len(ops):
        raise lw.error(node, f"{what}('{spec}') names {len(terms)} operands but "
                       f"{len(ops)} were given", _HINT, TypeInferenceError)
    for t, op in zip(terms, ops):
        if not isinstance(op, Value) or not isinstance(op.type, ArrayType) or \
                op.type.ndim != len(t) or not t.isalpha():
            nd = op.type.ndim if isinstance(op, Value) and isinstance(op.type, ArrayType) \
                else 0
            raise lw.error(node, f"{what}('{spec}'): operand '{t}' must be a {len(t)}-d "
                           f"array, got {nd} dimensions", _HINT, TypeInferenceError)
    if len(set(out)) != len(out) or any(c not in lhs for c in out):
        raise lw.error(node, f"{what}('{spec}'): each output index must appear once and in "
                       "an operand", _HINT, TypeInferenceError)
    dt = ops[0].type.dtype
    for op in ops[1:]:
        dt = lw.arith_dtype(Value("a", dt), op) if op.type.dtype != dt else dt
    if dt.is_bool:
        raise lw.error(node, f"{what}() of boolean arrays is not supported", _HINT,
                       TypeInferenceError)
    ops = [lw.to_dtype(op, dt) for op in ops]
    b = Builder(lw.block, lw.loc)
    extent: dict[str, Value] = {}
    for t, op in zip(terms, ops):
        for ax, c in enumerate(t):
            n = b("dim", op, axis=ax, name=f"n_{c}")
            if c in extent:
                b.check(b("eq", n, extent[c], name="fits"),
                        f"einsum: operands disagree on the extent of index '{c}' ({spec})")
            else:
                extent[c] = n
    summed = [c for c in dict.fromkeys(lhs.replace(",", "")) if c not in out]

    def product(lb: Builder, at: dict[str, Value]) -> Value:
        acc = None
        for t, op in zip(terms, ops):
            v = lb("getitem", op, *[at[c] for c in t], name=op.name + "_e")
            acc = v if acc is None else lb("mul", acc, v, name="prod")
        return acc

    def contraction(lb: Builder, at: dict[str, Value]) -> Value:
        if not summed:
            return product(lb, at)
        zero = lb.const(0.0 if dt.is_float else 0, dt, name="zero")

        def body(cb, idxs, cur):
            return [cb("add", cur[0], product(cb, dict(at, **dict(zip(summed, idxs)))),
                       name="acc")]
        return nest(lb, [extent[c] for c in summed], [zero], body)[0]
    if not out:
        return contraction(b, {})
    res = b("zeros", *[extent[c] for c in out], dtype=dt.name, name="einsum")

    def fill(lb, idxs, cur):
        v = contraction(lb, dict(zip(out, idxs)))
        return [lb("setitem", cur[0], v, *idxs, name=res.name, inbounds=True)]
    return nest(b, [extent[c] for c in out], [res], fill)[0]


