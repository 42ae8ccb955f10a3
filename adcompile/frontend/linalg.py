"""np.linalg's solvers and factorisations in compiled code: argument checks, dtypes and
run-time checks here; the algorithms and their derivative rules are subset source in
`numerics/linalg.py`, inlined as custom ops.

Like NumPy, integer matrices give float64 results and float32 stays float32; failures
NumPy raises as `LinAlgError` (a ValueError) stop the compiled program with a ValueError
carrying NumPy's message ("Singular matrix", "Matrix is not positive definite"). Stacks of
matrices (ndim > 2) are rejected with a hint to loop over them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..custom.functions import CustomFunction
from ..errors import TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.types import F32, F64, I64, ArrayType, scalar_of
from ..numerics import linalg as la
from .callargs import array, fname, nargs
from .inlining import inline_call_values, lower_custom_values


def _matrix(lw, v, node, what: str = "a 2-d array (a matrix)") -> Value:
    v = array(lw, v, node, what)
    if v.type.ndim != 2:
        hint = ("stacks of matrices are not supported: loop over the leading axis"
                if v.type.ndim > 2 else "")
        raise lw.error(node, f"{fname(node)}() needs a 2-d array (a matrix), got a "
                       f"{v.type.ndim}-d array", hint, TypeInferenceError)
    return v


def _float_dtype(*vs: Value):
    """NumPy's result dtype of a factorisation: float32 only if every operand is."""
    return F32 if all(scalar_of(v.type) == F32 for v in vs) else F64


def _dims(lw, a: Value) -> tuple[Builder, Value, Value]:
    b = Builder(lw.block, lw.loc)
    return b, b("dim", a, axis=0, name="m"), b("dim", a, axis=1, name="n")


def _square(lw, node, a: Value) -> Value:
    """n, after checking at run time that a is square and not empty."""
    b, m, n = _dims(lw, a)
    b.check(b("eq", m, n, name="square"), f"{fname(node)}(): Last 2 dimensions of the array "
            "must be square", "shape")
    b.check(b("gt", n, b.const(0, I64), name="nonempty"),
            f"{fname(node)}() of an empty matrix is not supported in compiled code", "shape")
    return n


def _ok(lw, flag: Value, message: str) -> None:
    """Stop with `message` unless the numerics' failure count `flag` is zero."""
    b = Builder(lw.block, lw.loc)
    b.check(b("eq", flag, b.const(0.0, flag.type), name="ok"), message, "value")


def _call(lw, fn, node, args: list[Value]) -> Any:
    if isinstance(fn, CustomFunction):
        return lower_custom_values(lw, fn, args, node)
    return inline_call_values(lw, fn, node, args)


def _column(lw, node, v: Value) -> Value:
    """A 1-d right-hand side as an n-by-1 matrix (a view)."""
    return _call(lw, la.as_column, node, [v])


def solve(lw, args, kw, node) -> Value:
    nargs(lw, args, kw, node, 2, 2)
    a = _matrix(lw, args[0], node)
    rhs = array(lw, args[1], node, "an array right-hand side")
    if rhs.type.ndim > 2:
        raise lw.error(node, "np.linalg.solve() needs a 1-d or 2-d right-hand side", "stacks "
                       "of systems are not supported: loop over them", TypeInferenceError)
    dt = _float_dtype(a, rhs)
    a, rhs = lw.to_dtype(a, dt), lw.to_dtype(rhs, dt)
    n = _square(lw, node, a)
    b = Builder(lw.block, lw.loc)
    b.check(b("eq", b("dim", rhs, axis=0, name="k"), n, name="fits"),
            "np.linalg.solve(): the right-hand side has a different number of rows than the "
            "matrix", "shape")
    vector = rhs.type.ndim == 1
    x, zeros = _call(lw, la.solve, node, [a, _column(lw, node, rhs) if vector else rhs])
    _ok(lw, zeros, "np.linalg.solve(): Singular matrix")
    return _call(lw, la.first_column, node, [x]) if vector else x


def inv(lw, args, kw, node) -> Value:
    nargs(lw, args, kw, node, 1, 1)
    a = _matrix(lw, args[0], node)
    a = lw.to_dtype(a, _float_dtype(a))
    _square(lw, node, a)
    x, zeros = _call(lw, la.inv, node, [a])
    _ok(lw, zeros, "np.linalg.inv(): Singular matrix")
    return x


def det(lw, args, kw, node) -> Value:
    nargs(lw, args, kw, node, 1, 1)
    a = _matrix(lw, args[0], node)
    a = lw.to_dtype(a, _float_dtype(a))
    _square(lw, node, a)
    return _call(lw, la.det, node, [a])


def slogdet(lw, args, kw, node) -> tuple[Value, Value]:
    nargs(lw, args, kw, node, 1, 1)
    a = _matrix(lw, args[0], node)
    a = lw.to_dtype(a, _float_dtype(a))
    _square(lw, node, a)
    return _call(lw, la.slogdet, node, [a])


def _lower_triangle_of(lw, node, a: Value, uplo) -> Value:
    """What a factorisation reading the lower triangle gets for UPLO='L'/'U'."""
    if uplo is None or uplo == "L":
        return a
    if uplo == "U":
        return _call(lw, la.transposed, node, [a])
    raise lw.error(node, f"{fname(node)}(): UPLO must be 'L' or 'U'", "", UnsupportedSyntax)


def cholesky(lw, args, kw, node) -> Value:
    nargs(lw, args, kw, node, 1, 2, ("upper",))
    a = _matrix(lw, args[0], node)
    a = lw.to_dtype(a, _float_dtype(a))
    upper = kw.get("upper", args[1] if len(args) > 1 else False)
    upper = upper if isinstance(upper, bool) else lw.known(upper)
    if not isinstance(upper, (bool, int)):
        raise lw.error(node, "np.linalg.cholesky(): upper must be a constant True/False", "",
                       UnsupportedSyntax)
    _square(lw, node, a)
    if upper:   # NumPy then reads the upper triangle and returns U = L^T
        a = _call(lw, la.transposed, node, [a])
    low, bad = _call(lw, la.cholesky, node, [a])
    _ok(lw, bad, "np.linalg.cholesky(): Matrix is not positive definite")
    return _call(lw, la.transposed, node, [low]) if upper else low


def eigh(lw, args, kw, node, values_only: bool = False) -> Any:
    nargs(lw, args, kw, node, 1, 2, ("UPLO",))
    a = _matrix(lw, args[0], node)
    a = lw.to_dtype(a, _float_dtype(a))
    uplo = kw.get("UPLO", args[1] if len(args) > 1 else None)
    a = _lower_triangle_of(lw, node, a, uplo)
    _square(lw, node, a)
    w, v = _call(lw, la.eigh, node, [a])
    return w if values_only else (w, v)


def eigvalsh(lw, args, kw, node) -> Value:
    return eigh(lw, args, kw, node, values_only=True)


def qr(lw, args, kw, node) -> Any:
    nargs(lw, args, kw, node, 1, 2, ("mode",))
    a = _matrix(lw, args[0], node)
    a = lw.to_dtype(a, _float_dtype(a))
    mode = kw.get("mode", args[1] if len(args) > 1 else "reduced")
    if mode not in ("reduced", "r"):
        raise lw.error(node, f"np.linalg.qr(): mode={mode!r} is not supported in compiled "
                       "code", "use mode='reduced' (the default) or 'r'", UnsupportedSyntax)
    b, m, n = _dims(lw, a)
    b.check(b("ge", m, n, name="tall"), "np.linalg.qr() in compiled code needs at least as "
            "many rows as columns (m >= n): factor the transpose of a wide matrix", "shape")
    b.check(b("gt", n, b.const(0, I64), name="nonempty"),
            "np.linalg.qr() of an empty matrix is not supported in compiled code", "shape")
    q, r = _call(lw, la.qr, node, [a])
    return r if mode == "r" else (q, r)


def lstsq(lw, args, kw, node) -> tuple:
    nargs(lw, args, kw, node, 2, 3, ("rcond",))
    a = _matrix(lw, args[0], node)
    rhs = array(lw, args[1], node, "an array right-hand side")
    if rhs.type.ndim > 2:
        raise lw.error(node, "np.linalg.lstsq() needs a 1-d or 2-d right-hand side", "",
                       TypeInferenceError)
    dt = _float_dtype(a, rhs)
    a, rhs = lw.to_dtype(a, dt), lw.to_dtype(rhs, dt)
    rcond = kw.get("rcond", args[2] if len(args) > 2 else None)
    b, m, n = _dims(lw, a)
    if rcond is None:
        eps = float(np.finfo(np.float32 if dt == F32 else np.float64).eps)
        big = b("select", b("gt", m, n, name="tall"), m, n, name="big")
        rcond = b("mul", b("cast", big, to=dt.name, name="big"), b.const(eps, dt),
                  name="rcond")
    elif not isinstance(rcond, Value) or isinstance(rcond.type, ArrayType):
        raise lw.error(node, "np.linalg.lstsq(): rcond must be a number or None", "",
                       TypeInferenceError)
    rcond = lw.to_dtype(rcond, dt)
    b.check(b("ge", m, n, name="tall"), "np.linalg.lstsq() in compiled code needs at least "
            "as many rows as columns (m >= n; the minimum-norm solution of an "
            "underdetermined system is not supported)", "shape")
    b.check(b("gt", n, b.const(0, I64), name="nonempty"),
            "np.linalg.lstsq() of an empty matrix is not supported in compiled code", "shape")
    b.check(b("eq", b("dim", rhs, axis=0, name="k"), m, name="fits"),
            "np.linalg.lstsq(): Incompatible dimensions", "shape")
    vector = rhs.type.ndim == 1
    x, res, rank, s, bad = _call(lw, la.lstsq, node,
                                 [a, _column(lw, node, rhs) if vector else rhs, rcond])
    _ok(lw, bad, "np.linalg.lstsq() in compiled code needs a matrix of full column rank "
        "(this one is rank deficient: NumPy's SVD-based minimum-norm solution is not "
        "supported)")
    if vector:
        x = _call(lw, la.first_column, node, [x])
    return x, res, rank, s


HANDLERS = {"solve": solve, "inv": inv, "det": det, "slogdet": slogdet, "cholesky": cholesky,
            "eigh": eigh, "eigvalsh": eigvalsh, "qr": qr, "lstsq": lstsq}
