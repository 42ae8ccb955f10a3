"""The C ABI of generated libraries under misuse: every length and pointer is checked before
anything is written, sizes that overflow 64 bits are errors, and the ctypes stub names the
argument a wrong Python value was given for. Calls that could crash run through ctypes on
the public symbols (as a C caller would), in this process only once the checks exist; the
huge-allocation case runs in a subprocess."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adcompile.backends.abi import ErrorCode
from adcompile.backends.ctypes_stub import ERROR_NAMES
from adcompile.cli import main as cli_main

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models.py"

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

D = ctypes.c_double
I64 = ctypes.c_int64
P = ctypes.c_void_p


@pytest.fixture(scope="module")
def libs(tmp_path_factory):
    root = tmp_path_factory.mktemp("abi")
    out = {}
    for name, modes in (("pair", "primal,vjp"), ("square_zeros", "primal"),
                        ("steps_sum", "primal,grad")):
        assert cli_main(["build", f"{MODELS}:{name}", "--mode", modes,
                         "--out", str(root / name)]) == 0
        out[name] = root / name
    return out


def _cdll(d: Path, name: str):
    lib = ctypes.CDLL(str(d / f"lib{name}.so"))
    lib.adc_last_error.restype = ctypes.c_char_p
    return lib


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(P)


def _err(lib) -> str:
    return lib.adc_last_error().decode()


def test_stub_error_names_match_the_runtime():
    assert ERROR_NAMES == {int(c): c.name for c in ErrorCode}


def test_wrong_output_length_writes_nothing(libs):
    lib = _cdll(libs["pair"], "pair")
    f = lib.pair
    f.argtypes = [P, I64, D, P, I64, P]
    x = np.arange(4.0)
    out0 = np.full(3, -7.0)
    out1 = D(-7.0)
    assert f(_ptr(x), 4, 2.0, _ptr(out0), 3, ctypes.byref(out1)) == ErrorCode.SHAPE
    assert "output 'out0'" in _err(lib) and "(3)" in _err(lib) and "(4)" in _err(lib)
    assert out1.value == -7.0 and (out0 == -7.0).all()    # the scalar was written before
    out0 = np.zeros(4)
    assert f(_ptr(x), 4, 2.0, _ptr(out0), 4, ctypes.byref(out1)) == ErrorCode.OK
    np.testing.assert_array_equal(out0, 2.0 * x)
    assert out1.value == 12.0


def test_vjp_checks_the_cotangent_length(libs):
    lib = _cdll(libs["pair"], "pair")
    f = lib.pair_vjp
    # x, x_n0, k, out0_bar, out0_bar_n0, out1_bar -> out0, out0_n0, out1, x_bar, x_bar_n0, k_bar
    f.argtypes = [P, I64, D, P, I64, D, P, I64, P, P, I64, P]
    x = np.arange(4.0)
    out0, xbar = np.full(4, -7.0), np.full(4, -7.0)
    out1, kbar = D(-7.0), D(-7.0)
    for n in (1, 3):   # 1 broadcast silently before; 3 failed at the model's line
        cot = np.ones(n)
        rc = f(_ptr(x), 4, 2.0, _ptr(cot), n, 1.0, _ptr(out0), 4, ctypes.byref(out1),
               _ptr(xbar), 4, ctypes.byref(kbar))
        assert rc == ErrorCode.SHAPE and "cotangent of output 0" in _err(lib)
        assert out1.value == -7.0 and kbar.value == -7.0 and (xbar == -7.0).all()
    cot = np.ones(4)
    assert f(_ptr(x), 4, 2.0, _ptr(cot), 4, 1.0, _ptr(out0), 4, ctypes.byref(out1),
             _ptr(xbar), 4, ctypes.byref(kbar)) == ErrorCode.OK
    np.testing.assert_array_equal(xbar, 2.0 + 2.0)
    assert kbar.value == pytest.approx(x.sum() + x.sum())


def test_null_pointers_and_impossible_lengths(libs):
    lib = _cdll(libs["pair"], "pair")
    f = lib.pair
    f.argtypes = [P, I64, D, P, I64, P]
    x, out0, out1 = np.arange(4.0), np.zeros(4), D(0.0)
    assert f(None, 4, 2.0, _ptr(out0), 4, ctypes.byref(out1)) == ErrorCode.VALUE
    assert "argument 'x' is a NULL pointer" in _err(lib)
    assert f(_ptr(x), 4, 2.0, _ptr(out0), 4, None) == ErrorCode.VALUE
    assert "output 'out1' is a NULL pointer" in _err(lib)
    assert f(_ptr(x), 4, 2.0, None, 4, ctypes.byref(out1)) == ErrorCode.VALUE
    assert "output 'out0' is a NULL pointer" in _err(lib)
    assert f(_ptr(x), 2**61, 2.0, _ptr(out0), 4, ctypes.byref(out1)) == ErrorCode.SHAPE
    assert "64 bits" in _err(lib)
    assert f(_ptr(x), -1, 2.0, _ptr(out0), 4, ctypes.byref(out1)) == ErrorCode.SHAPE
    assert "negative length" in _err(lib)
    # an empty input may be NULL
    e = np.zeros(0)
    assert f(None, 0, 2.0, _ptr(e), 0, ctypes.byref(out1)) == ErrorCode.OK


def test_huge_allocation_is_an_error_code(libs):
    """n * n * 8 bytes wrapped past 2**64 (an allocation of 0 bytes, then a crash)."""
    code = textwrap.dedent("""
        import ctypes, sys
        lib = ctypes.CDLL(sys.argv[1])
        lib.adc_last_error.restype = ctypes.c_char_p
        f = lib.square_zeros
        f.argtypes = [ctypes.c_int64, ctypes.c_void_p]
        out = ctypes.c_double(-7.0)
        for n in (2**32, 2**31, 3):
            rc = f(n, ctypes.byref(out))
            print(rc, out.value, lib.adc_last_error().decode())
    """)
    proc = subprocess.run([sys.executable, "-c", code,
                           str(libs["square_zeros"] / "libsquare_zeros.so")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for line in lines[:2]:
        rc, val, msg = line.split(" ", 2)
        assert int(rc) == ErrorCode.ALLOC and float(val) == -7.0 and "too big" in msg
    assert lines[2].split(" ")[:2] == ["0", "1.0"]


def _stub(d: Path, name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"_abi_stub_{name}", d / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stub_names_the_argument(libs):
    st = _stub(libs["steps_sum"], "steps_sum")
    x = np.ones(3)
    assert st.steps_sum(x, 4) == pytest.approx(6.0)
    for bad, words in ((2.5, ["'n' (i64)", "float"]), (2**70, ["'n'", "64 bits"]),
                       (True, ["'n'", "bool"])):
        with pytest.raises(st.ArgumentError) as e:
            st.steps_sum(x, bad)
        assert isinstance(e.value, TypeError)
        for w in words:
            assert w in str(e.value)
    assert st.steps_sum(np.arange(3), 2) == pytest.approx(3.0)   # int -> f64 is exact
    with pytest.raises(st.ArgumentError, match="'x'.*dtype complex128"):
        st.steps_sum_grad(np.ones(3, dtype=complex), 4)   # would drop the imaginary part
    with pytest.raises(st.ArgumentError, match="'x'.*2-d"):
        st.steps_sum(np.ones((2, 2)), 4)
    with pytest.raises(st.ArgumentError, match=r"takes 2 arguments \(x, n\)"):
        st.steps_sum(x)


def test_stub_without_adcompile_raises_plain_errors(libs, tmp_path):
    """The stub runs without adcompile: its errors are then plain TypeError/RuntimeError."""
    code = textwrap.dedent("""
        import sys
        sys.modules["adcompile"] = None      # no adcompile importable
        sys.path.insert(0, sys.argv[1])
        import numpy as np, steps_sum
        try:
            steps_sum.steps_sum(np.ones(3), 2.5)
        except TypeError as e:
            print(type(e).__mro__[1].__name__, "|", e)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code, str(libs["steps_sum"])],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "StubError | steps_sum: argument 'n' (i64) got float 2.5" in proc.stdout


def test_jvp_of_int_and_bool_outputs_builds(tmp_path):
    """jvp returned zero tangents for int/bool outputs too, which the C signature has no
    parameters for: the build failed inside llvmlite with an IndexError."""
    assert cli_main(["build", f"{MODELS}:mixed", "--mode", "primal,jvp,vjp",
                     "--out", str(tmp_path)]) == 0
    assert "double *out0_dot);" in (tmp_path / "mixed.h").read_text()
    st = _stub(tmp_path, "mixed")
    x = np.array([0.2, 0.7])
    v, n2, mask, v_dot = st.mixed_jvp(x, 3, np.array([1.0, -1.0]))
    assert (v, n2) == (pytest.approx(0.53), 6) and mask.tolist() == [False, True]
    assert v_dot == pytest.approx(2 * 0.2 - 2 * 0.7)
    *_, xbar = st.mixed_vjp(x, 3, 2.0)
    np.testing.assert_allclose(xbar, 4.0 * x)
