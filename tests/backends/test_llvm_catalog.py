"""The LLVM backend on the whole AD program catalog: primal, jvp, vjp and grad.

Each program runs through the LLVM backend and is compared with the IR interpreter on the same
IR (an independent implementation of every op) and with CPython; grad is also compared with the
numba backend's grad, so the two backends agree with each other, not only with the oracle.
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad
from adcompile.derivatives import specialize
from adcompile.driver.options import CompileOptions
from adcompile.driver.transforms import JVP, VJP
from adcompile.ir.interpreter import run_function
from adcompile.ir.types import ArrayType, scalar_of
from adcompile.signature import bind_defaults

from ..ad._util import assert_close, fresh, is_float_arg, load_sibling, parts, random_like

LLVM = CompileOptions.from_env(backend="llvm")

CATALOG = load_sibling("catalog").CATALOG


def _tol(case):
    return (1e-5, 1e-6) if case.f32 else (1e-10, 1e-12)


def _seed(name: str) -> int:
    return sum(map(ord, name))


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_program_on_llvm(name):
    case = CATALOG[name]
    f = case.fn
    args = bind_defaults(f, case.args())
    rtol, atol = _tol(case)
    rng = np.random.default_rng(_seed(name))

    # primal: LLVM == CPython
    got = ad.jit(f, backend="llvm")(*fresh(args))
    want = f(*fresh(args))
    for g, w in zip(parts(got), parts(want)):
        assert_close(g, w, rtol, atol, f"{name}: llvm primal vs CPython")

    active = tuple(is_float_arg(a) for a in args)

    # jvp: the LLVM-compiled derivative == the interpreter on the same IR
    dots = tuple(random_like(rng, a) for a, on in zip(args, active) if on)
    sp = specialize(f, args, JVP(active), LLVM)
    got = sp.call(*(fresh(args) + dots))
    want = run_function(sp.ir["optimized"], list(fresh(args) + dots))
    for g, w in zip(parts(got), parts(want)):
        assert_close(g, w, rtol, atol, f"{name}: llvm jvp vs interpreter")

    # vjp: same, with a random cotangent per float output
    sp = specialize(f, args, VJP(active), LLVM)
    outs = sp.ir["primal"].result_types
    first = parts(run_function(sp.ir["primal"], list(fresh(args))))
    cots = []
    for t, o in zip(outs, first):
        if not scalar_of(t).is_float:
            continue
        c = rng.standard_normal(o.shape).astype(scalar_of(t).np_dtype)
        cots.append(c if isinstance(t, ArrayType) else scalar_of(t).np_dtype.type(c))
    got = sp.call(*(fresh(args) + tuple(cots)))
    want = run_function(sp.ir["optimized"], list(fresh(args) + tuple(cots)))
    for g, w in zip(parts(got), parts(want)):
        assert_close(g, w, rtol, atol, f"{name}: llvm vjp vs interpreter")

    # grad: LLVM == numba for scalar-valued programs
    if len(outs) == 1 and not isinstance(outs[0], ArrayType) and scalar_of(outs[0]).is_float:
        nums = tuple(i for i, on in enumerate(active) if on)
        g_llvm = ad.grad(f, argnums=nums, backend="llvm")(*fresh(args))
        g_numba = ad.grad(f, argnums=nums, backend="numba")(*fresh(args))
        for g, w in zip(g_llvm, g_numba):
            assert_close(g, w, rtol, atol, f"{name}: llvm grad vs numba grad")
