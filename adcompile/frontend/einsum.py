"""np.einsum with explicit subscripts ('ij,jk->ik', 'i,i->', 'bij,bjk->bik', 'ii->', 'ii->i'),
lowered by the frontend to loops: for every output index, a sum over the contracted indices
of the operands' product. Made of element reads and writes, so every backend and both
derivative modes handle it with the existing rules."""
from __future__ import annotations

from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import I64, ArrayType
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




_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _arrays(lw, args, node, what: str, count: int) -> list[Value]:
    if len(args) != count or not all(isinstance(a, Value) and isinstance(a.type, ArrayType)
                                     for a in args):
        raise lw.error(node, f"{what}() takes {count} arrays in compiled code", "",
                       TypeInferenceError)
    return list(args)


def lower_vdot(lw, args, kw, node) -> Value:
    """np.vdot(a, b): the sum of a * b over arrays of one shape (real: no conjugation)."""
    if kw:
        raise lw.error(node, "np.vdot() takes no keywords", "", UnsupportedSyntax)
    a, b = _arrays(lw, args, node, "np.vdot", 2)
    if a.type.ndim != b.type.ndim:
        raise lw.error(node, "np.vdot() of arrays of different ranks is not supported in "
                       "compiled code (NumPy flattens both)", "pass arrays of one shape",
                       TypeInferenceError)
    t = _LETTERS[:a.type.ndim]
    return lower_einsum(lw, [f"{t},{t}->", a, b], {}, node)


def lower_tensordot(lw, args, kw, node) -> Value:
    """np.tensordot(a, b, axes=2): an int k (a's last k axes with b's first k) or a pair of
    axis lists, as an einsum."""
    what = "np.tensordot"
    for k in kw:
        if k != "axes":
            raise lw.error(node, f"{what}() does not support the keyword '{k}'", "",
                           UnsupportedSyntax)
    axes = kw.get("axes", args[2] if len(args) > 2 else 2)
    a, b = _arrays(lw, args[:2], node, what, 2)
    na, nb = a.type.ndim, b.type.ndim

    def const(v):
        k = lw.known(v) if isinstance(v, Value) else v
        if not isinstance(k, int) or isinstance(k, bool):
            raise lw.error(node, f"{what}(): axes must be integer constants", "e.g. axes=1 "
                           "or axes=([1], [0])", TypeInferenceError)
        return k
    if isinstance(axes, (list, tuple)) and len(axes) == 2:
        pa = [const(v) for v in (axes[0] if isinstance(axes[0], (list, tuple)) else [axes[0]])]
        pb = [const(v) for v in (axes[1] if isinstance(axes[1], (list, tuple)) else [axes[1]])]
    else:
        k = const(axes)
        if not 0 <= k <= min(na, nb):
            raise lw.error(node, f"{what}(): axes={k} is out of range", "", TypeInferenceError)
        pa, pb = list(range(na - k, na)), list(range(k))
    if len(pa) != len(pb) or any(not -na <= p < na for p in pa) or \
            any(not -nb <= p < nb for p in pb):
        raise lw.error(node, f"{what}(): the axes lists must have one length and be in range",
                       "", TypeInferenceError)
    pa, pb = [p % na for p in pa], [p % nb for p in pb]
    ta = list(_LETTERS[:na])
    tb = list(_LETTERS[na:na + nb])
    for p, q in zip(pa, pb):
        tb[q] = ta[p]
    out = [c for i, c in enumerate(ta) if i not in pa] + [c for i, c in enumerate(tb)
                                                           if i not in pb]
    return lower_einsum(lw, [f"{''.join(ta)},{''.join(tb)}->{''.join(out)}", a, b], {}, node)


def lower_cross(lw, args, kw, node) -> Value:
    """np.cross of two 3-vectors (1-d arrays of length 3, checked at run time)."""
    if kw:
        raise lw.error(node, "np.cross() takes no keywords in compiled code", "",
                       UnsupportedSyntax)
    a, b = _arrays(lw, args, node, "np.cross", 2)
    if a.type.ndim != 1 or b.type.ndim != 1:
        raise lw.error(node, "np.cross() supports two 1-d arrays of length 3 in compiled "
                       "code", "loop over rows for stacks of vectors", TypeInferenceError)
    dt = lw.arith_dtype(a, b)
    a, b = lw.to_dtype(a, dt), lw.to_dtype(b, dt)
    bl = Builder(lw.block, lw.loc)
    three = bl.const(3, I64)
    for v in (a, b):
        bl.check(bl("eq", bl("dim", v, axis=0, name="n"), three, name="fits"),
                 "np.cross: compiled code supports vectors of length 3")
    ea = [bl("getitem", a, bl.const(i, I64), name="a", inbounds=True) for i in range(3)]
    eb = [bl("getitem", b, bl.const(i, I64), name="b", inbounds=True) for i in range(3)]
    out = bl("zeros", three, dtype=dt.name, name="cross")
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        v = bl("sub", bl("mul", ea[j], eb[k], name="p"), bl("mul", ea[k], eb[j], name="q"),
               name="c")
        out = bl("setitem", out, v, bl.const(i, I64), name="cross", inbounds=True)
    return out
