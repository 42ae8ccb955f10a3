"""The LLVM backend op by op: every primitive of the AD spec table, Python semantics of
integer/float division, indexing and slicing, errors raised by kernels (with the user's line),
and the disk cache (a second process loads the library without running LLVM)."""
from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import adcompile as ad
from adcompile.backends.llvm_backend import KernelError, KernelIndexError, KernelValueError

from ..ad._util import assert_close, to64

from ..ad import test_primitives as prims  # noqa: E402
SPEC, FUNCS = prims.SPEC, prims.FUNCS


@pytest.mark.parametrize("dt", ["f64", "f32"])
@pytest.mark.parametrize("key", list(SPEC))
def test_primitive_on_llvm(key, dt):
    """Scalar and array versions == CPython; the scalar gradient == the numba backend's."""
    s = SPEC[key]
    rng = np.random.default_rng(zlib.crc32(f"llvm/{key}/{dt}".encode()))
    rtol = 1e-13 if dt == "f64" else 2e-6
    f = getattr(FUNCS, f"s64_{key}" if dt == "f64" else f"s32_{key}")
    cols = prims._sample(s, rng, 3)
    fl = ad.jit(f, backend="llvm")
    gl = ad.grad(f, argnums=tuple(range(s.nargs)), backend="llvm")
    gn = ad.grad(f, argnums=tuple(range(s.nargs)), backend="numba")
    for p in range(3):
        args = tuple(float(c[p]) if dt == "f64" else np.float32(c[p]) for c in cols)
        assert_close(fl(*args), f(*to64(args)), rtol, rtol, f"{f.__name__}{args} on llvm")
        for a, b in zip(gl(*args), gn(*args)):
            assert_close(a, b, rtol * 10, rtol, f"grad {f.__name__}{args}: llvm vs numba")
    g = getattr(FUNCS, f"v_{key}")
    np_dt = np.float64 if dt == "f64" else np.float32
    args = tuple(np.asarray(c, dtype=np_dt) for c in prims._sample(s, rng, 7))
    got = ad.jit(g, backend="llvm")(*args)
    assert got.dtype == np_dt
    assert_close(got, g(*to64(args)), rtol, rtol, f"v_{key} on {dt} arrays on llvm")


def _semantics(a, b, x, k):
    out = np.zeros(12)
    out[0] = a // b
    out[1] = a % b
    out[2] = float(k // 3)
    out[3] = float(k % 3)
    out[4] = float((-k) // 3)
    out[5] = float((-k) % 3)
    out[6] = x[-1]
    out[7] = np.sum(x[::-2])
    out[8] = np.sum(x[-3:1:-1])
    out[9] = np.max(x)
    out[10] = np.min(x[1:])
    out[11] = np.mean(x * x)
    return out


def _matrix_ops(A, v):
    B = A.T @ A
    w = B @ v[:A.shape[1]]
    c = v @ A
    s = np.sum(A, axis=0) + np.max(A, axis=0) - np.min(A, axis=1)[0]
    A2 = A.copy()
    A2[1, :] = v[:A.shape[1]]
    A2[:, 0] = 2.0
    return np.sum(w) + np.sum(c) + np.sum(s) + np.sum(np.where(A2 > 0.5, A2, -A2)) \
        + np.prod(v[:3]) + np.mean(A, axis=1)[1]


def _bools(x, t):
    m = x > t
    n = 0
    for i in range(x.shape[0]):
        if m[i] and not (x[i] > 2.0 * t):
            n += 1
    return n, np.sum(np.where(m, x, 0.0)), np.isnan(x[0]) or np.isinf(x[1])


@pytest.mark.parametrize("a,b", [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0),
                                 (6.0, 3.0), (-6.0, 3.0), (0.3, 0.1)])
def test_python_division_and_slicing_semantics(a, b):
    x = np.array([0.5, -1.0, 2.5, 3.0, -0.25, 4.0, 1.5])
    want = _semantics(a, b, x, 7)
    got = ad.jit(_semantics, backend="llvm")(a, b, x, 7)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(np.signbit(got[:2]), np.signbit(want[:2]))


def test_matrix_reductions_and_slice_writes():
    rng = np.random.default_rng(3)
    A, v = rng.random((4, 3)), rng.random(4)
    want = _matrix_ops(A, v)
    assert ad.jit(_matrix_ops, backend="llvm")(A, v) == pytest.approx(want, rel=1e-13)
    g_llvm = ad.grad(_matrix_ops, argnums=(0, 1), backend="llvm")(A, v)
    g_numba = ad.grad(_matrix_ops, argnums=(0, 1), backend="numba")(A, v)
    for a, b in zip(g_llvm, g_numba):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_bool_arrays_and_tuple_results():
    x = np.array([0.1, 0.9, 0.6, 2.5, 0.7])
    assert ad.jit(_bools, backend="llvm")(x, 0.5) == _bools(x, 0.5)


def _index(x, i):
    return x[i]


def _int_div(k, m):
    return k // m


def _broadcast(x, y):
    return np.sum(x + y)


def test_kernel_errors_name_the_user_line():
    f = ad.jit(_index, backend="llvm")
    x = np.arange(4.0)
    assert f(x, -1) == 3.0
    with pytest.raises(KernelIndexError, match=r"test_llvm_backend.py:\d+: index out of bounds"):
        f(x, 4)
    with pytest.raises(IndexError):
        f(x, -5)
    with pytest.raises(ZeroDivisionError,
                       match=r"test_llvm_backend.py:\d+: integer division or modulo by zero"):
        ad.jit(_int_div, backend="llvm")(3, 0)
    with pytest.raises(KernelValueError, match="do not broadcast"):
        ad.jit(_broadcast, backend="llvm")(np.ones(3), np.ones(4))
    assert issubclass(KernelError, ad.AdError)


def test_unknown_backend_is_rejected():
    with pytest.raises(ad.AdError, match="unknown backend 'cuda2'"):
        ad.jit(_index, backend="cuda2")


def test_llvm_ir_is_named_after_the_users_variables():
    g = ad.grad(_matrix_ops, backend="llvm")
    g(np.ones((4, 3)), np.ones(4))
    assert "define i32 @\"adcjit__matrix_ops_vjp__core\"" in g.llvm_ir
    assert '%"A"' in g.llvm_ir
    assert "define " not in g.source


def _loop_energy(x, k):
    s = 0.0
    for i in range(x.shape[0] - 1):
        d = x[i + 1] - x[i]
        s += k * d * d
    return s


def test_source_is_python_text_of_the_lowered_program():
    g = ad.grad(_loop_energy, backend="llvm")
    x = np.array([0.5, -1.0, 2.0, 0.25])
    g(x, 1.5)
    tree = ast.parse(g.source)
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [a.arg for a in fn.args.args] == ["x", "k", "s_bar"]
    assert "x_bar" in g.source and "for " in g.source
    assert "@njit" not in g.source and "rt.ix(" not in g.source   # numba's, not LLVM's
    f = ad.jit(_loop_energy, backend="llvm")
    f(x, 1.5)
    ast.parse(f.source)
    assert "def _loop_energy(x, k):" in f.source


def test_source_of_forward_mode_names_tangents():
    f = ad.jacfwd(_loop_energy, backend="llvm")
    f(np.ones(3), 2.0)
    ast.parse(f.source)
    assert "x_dot" in f.source


def test_every_primitive_llvm_compiles_has_a_listing():
    """`.source` of an LLVM build is written by the numba codegen's table: it must cover
    everything the LLVM codegen compiles."""
    from adcompile.backends import llvm_codegen, numba_codegen
    from adcompile.driver.options import CompileOptions
    from adcompile.transforms.pipeline import PASSES, backend_pipeline
    removed = set().union(*(PASSES[p].removes
                            for p in backend_pipeline(CompileOptions(backend="llvm"))))
    reaching = llvm_codegen.LOWERS - removed
    assert reaching and reaching <= numba_codegen.LOWERS, sorted(reaching - numba_codegen.LOWERS)


def test_llvm_ir_of_a_numba_build_is_a_precise_error():
    f = ad.jit(_loop_energy, backend="numba")
    with pytest.raises(ad.AdError, match="has not been compiled"):
        f.llvm_ir  # noqa: B018
    f(np.ones(3), 2.0)
    with pytest.raises(ad.AdError, match="without a 'llvm_ir' listing"):
        f.llvm_ir  # noqa: B018


def test_second_process_loads_from_the_disk_cache(tmp_path):
    mod = tmp_path / "cached_model.py"
    mod.write_text(textwrap.dedent("""
        import numpy as np
        def energy(x, k):
            s = 0.0
            for i in range(x.shape[0] - 1):
                d = x[i + 1] - x[i]
                s += k * d * d
            return s
    """))
    script = textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {str(tmp_path)!r})
        import adcompile as ad
        from adcompile.backends import llvm_backend
        from cached_model import energy
        if sys.argv[1] == "second":
            def refuse(*a, **k):
                raise SystemExit("LLVM ran again in the second process")
            llvm_backend.optimize = refuse
        print(ad.grad(energy, backend="llvm")(np.linspace(0, 1, 5), 2.0))
    """)
    env = dict(os.environ, ADCOMPILE_CACHE_DIR=str(tmp_path / "cache"))
    outs = []
    for which in ("first", "second"):
        proc = subprocess.run([sys.executable, "-c", script, which], capture_output=True,
                              text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]


def tanh(x):
    return math.tanh(x) * 2.0


def test_function_named_like_a_libm_function():
    """A user function called `tanh` compiles: its symbol does not clash with libm's `tanh`
    declared in the same module (it was an InternalError: DuplicatedNameError)."""
    assert ad.jit(tanh, backend="llvm")(0.5) == tanh(0.5)
    assert abs(ad.grad(tanh, backend="llvm")(0.5) - 2.0 * (1 - math.tanh(0.5) ** 2)) < 1e-15


def test_aot_entry_named_like_a_called_c_function_is_a_precise_error(tmp_path):
    """An AOT library whose C symbol would be `tanh` while the code calls libm's `tanh`: a
    precise AdError naming the symbol (it was an internal DuplicatedNameError)."""
    from adcompile import aot
    from adcompile.errors import AdError
    with pytest.raises(AdError, match="C symbol 'tanh'"):
        aot.build_library(tanh, aot.parse_signature("f64", tanh), ["primal"], tmp_path)
