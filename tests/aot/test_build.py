"""Ahead-of-time builds: the CLI builds C libraries, a C harness built with CMake calls them,
and every number it prints equals the numba backend's result in Python.

One module-scoped build (several programs, several modes each) feeds all tests: the C harness,
the ctypes stub, the header, and the boundary checks of the C ABI.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import adcompile as ad
from adcompile.cli import main as cli_main
from adcompile.ir.types import ArrayType

from ..ad._util import load_sibling
from . import models

HERE = Path(__file__).resolve().parent
CATALOG_FILE = HERE.parent / "ad" / "catalog.py"
CATALOG = load_sibling("catalog").CATALOG

pytestmark = pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("cc") is None,
                                reason="needs cmake and a C compiler")

_rng = np.random.default_rng(7)


def _case(name):
    return CATALOG[name].fn, CATALOG[name].args()


# (library name, FILE:FUNC, signature or None for annotations, modes, function, args)
BUILDS = [
    ("spring", f"{HERE / 'models.py'}:spring", None, "primal,jvp,vjp", models.spring,
     (np.linspace(-0.5, 0.5, 6), 3.0, 0.4, 20)),
    ("softplus32", f"{HERE / 'models.py'}:softplus32", None, "primal,grad,jvp",
     models.softplus32, (_rng.standard_normal(4).astype(np.float32),
                         _rng.standard_normal((3, 4)).astype(np.float32))),
    ("clipped", f"{HERE / 'models.py'}:clipped", None, "primal,grad", models.clipped,
     (np.array([0.3, -1.2, 0.8, 2.0]), -0.5, True)),
    ("stencil_gauss_seidel", f"{CATALOG_FILE}:stencil_gauss_seidel", "f64[:], f64, i64", "primal,grad,jvp,vjp",
     *_case("stencil_gauss_seidel")),
    ("nested_2d_rows", f"{CATALOG_FILE}:nested_2d_rows", "f64[:, :], f64[:]", "grad",
     *_case("nested_2d_rows")),
    ("np_matvec", f"{CATALOG_FILE}:np_matvec", "f64[:, :], f64[:]", "primal,vjp",
     *_case("np_matvec")),
]


def _floats(args):
    return [i for i, a in enumerate(args) if isinstance(a, (float, np.floating)) or
            (isinstance(a, np.ndarray) and a.dtype.kind == "f")]


def _like(a, rng):
    if isinstance(a, np.ndarray):
        return rng.standard_normal(a.shape).astype(a.dtype)
    return float(rng.standard_normal())


def _expected(mode, f, args, rng):
    """(extra inputs, expected outputs) of one program, from the numba backend."""
    nums = _floats(args)
    if mode == "primal":
        out = ad.jit(f, backend="numba")(*args)
        return [], list(out) if isinstance(out, tuple) else [out]
    if mode == "grad":
        v, g = ad.value_and_grad(f, argnums=tuple(nums), backend="numba")(*args)
        return [], [v] + list(g)
    if mode == "jvp":
        dots = [_like(args[i], rng) for i in nums]
        tang = [None] * len(args)
        for i, d in zip(nums, dots):
            tang[i] = d
        out, dout = ad.jvp(f, args, tang, backend="numba")
        outs = list(out) if isinstance(out, tuple) else [out]
        douts = list(dout) if isinstance(dout, tuple) else [dout]
        return dots, outs + douts
    out, f_vjp = ad.vjp(f, *args, backend="numba")
    outs = list(out) if isinstance(out, tuple) else [out]
    cots = [_like(o if isinstance(o, np.ndarray) else float(o), rng) for o in outs]
    grads = f_vjp(tuple(cots) if isinstance(out, tuple) else cots[0])
    return cots, outs + [g for g in grads if g is not None]


_CT = {"f64": "double", "f32": "float", "i64": "int64_t", "bool": "bool"}


def _c_value(x, t) -> str:
    if t.name == "bool":
        return "true" if x else "false"
    if t.name == "i64":
        return f"{int(x)}LL"
    return repr(float(x)) + ("f" if t.name == "f32" else "")


def _harness(calls) -> str:
    lines = ["#include <stdio.h>", "#include <stdbool.h>", "#include <stdint.h>"]
    for name in sorted({c[0] for c in calls}):
        lines.append(f'#include "{name}.h"')
    lines += ["", "int main(void) {", "    int rc;"]
    for k, (lib, prog, inputs, expect) in enumerate(calls):
        params = []
        lines.append("    {")
        for j, (a, x) in enumerate(zip(prog.fn.args, inputs)):
            t = a.type
            if isinstance(t, ArrayType):
                flat = np.asarray(x).ravel()
                vals = ", ".join(_c_value(v, t.dtype) for v in flat) or "0"
                lines.append(f"        static const {_CT[t.dtype.name]} in{j}[] = {{{vals}}};")
                params += [f"in{j}"] + [str(d) for d in np.shape(x)]
            else:
                params.append(_c_value(x, t))
        prints = []
        for j, (t, want) in enumerate(zip(prog.fn.result_types, expect)):
            if isinstance(t, ArrayType):
                n = max(int(np.size(want)), 1)
                lines.append(f"        {_CT[t.dtype.name]} out{j}[{n}];")
                params += [f"out{j}"] + [str(d) for d in np.shape(want)]
                prints.append((j, int(np.size(want)), t.dtype.name))
            else:
                lines.append(f"        {_CT[t.name]} out{j};")
                params.append(f"&out{j}")
                prints.append((j, None, t.name))
        lines.append(f"        rc = {prog.symbol}({', '.join(params)});")
        lines.append(f'        printf("call {k} rc %d\\n", rc);')
        lines.append('        if (rc) printf("error %s\\n", adc_last_error());')
        for j, n, dt in prints:
            fmt = "%lld" if dt == "i64" else "%d" if dt == "bool" else "%.17g"
            cast = "(long long)" if dt == "i64" else "(int)" if dt == "bool" else "(double)"
            if n is None:
                lines.append(f'        printf("call {k} out {j} {fmt}\\n", {cast}out{j});')
            else:
                lines.append(f'        printf("call {k} out {j}");')
                lines.append(f"        for (int i = 0; i < {n}; i++) "
                             f'printf(" {fmt}", {cast}out{j}[i]);')
                lines.append('        printf("\\n");')
        lines.append("    }")
    lines += ["    return 0;", "}", ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("aot")
    rng = np.random.default_rng(11)
    libs, calls = {}, []
    for name, target, sig, modes, f, args in BUILDS:
        out = root / name
        argv = ["build", target, "--mode", modes, "--out", str(out), "--name", name]
        if sig:
            argv += ["--signature", sig]
        assert cli_main(argv) == 0
        from adcompile.aot import load_function, make_programs, parse_signature, \
            signature_from_annotations
        fn = load_function(target)
        specs = parse_signature(sig, fn) if sig else signature_from_annotations(fn)
        progs = make_programs(fn, specs, modes.split(","), name)
        libs[name] = out
        for prog in progs:
            extra, expect = _expected(prog.mode, f, args, rng)
            calls.append((name, prog, list(args) + list(extra), expect))
    return root, libs, calls


def _run_harness(root: Path, libs, calls) -> list[str]:
    src = root / "harness"
    src.mkdir(exist_ok=True)
    (src / "harness.c").write_text(_harness(calls))
    objs = " ".join(str(libs[n] / f"{n}.o") for n in libs)
    incs = " ".join(str(libs[n]) for n in libs)
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(aot_harness C)\n"
        f"add_executable(harness harness.c {objs})\n"
        f"target_include_directories(harness PRIVATE {incs})\n"
        "target_link_libraries(harness PRIVATE m)\n")
    bld = root / "harness-build"
    for cmd in (["cmake", "-S", str(src), "-B", str(bld)], ["cmake", "--build", str(bld)]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run([str(bld / "harness")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_c_harness_matches_python(built):
    root, libs, calls = built
    lines = _run_harness(root, libs, calls)
    got: dict[tuple[int, int], np.ndarray] = {}
    for line in lines:
        m = re.match(r"call (\d+) rc (\d+)", line)
        if m:
            assert m.group(2) == "0", f"call {m.group(1)} ({calls[int(m.group(1))][1].symbol}) " \
                                      f"failed: {lines}"
        m = re.match(r"call (\d+) out (\d+)(.*)", line)
        if m:
            got[int(m.group(1)), int(m.group(2))] = np.array(m.group(3).split(), dtype=float)
    assert len(calls) >= 12
    for k, (lib, prog, inputs, expect) in enumerate(calls):
        assert len(prog.fn.result_types) == len(expect), prog.symbol
        for j, want in enumerate(expect):
            w = np.asarray(want, dtype=np.float64).ravel()
            g = got[k, j]
            f32 = "f32" in str(prog.fn.result_types[j])
            np.testing.assert_allclose(g, w, rtol=1e-5 if f32 else 1e-12,
                                       atol=1e-6 if f32 else 1e-13,
                                       err_msg=f"{prog.symbol} output {prog.out_names[j]}")


def test_python_stub_without_adcompile(built):
    root, libs, calls = built
    code = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1])\n"
            "import stencil_gauss_seidel as m\n"
            "v, v_bar, a_bar = m.stencil_gauss_seidel_grad(np.linspace(0, 1, 8), 0.2, 4)\n"
            "print(repr(v), repr(a_bar), ' '.join(repr(float(x)) for x in v_bar))\n"
            "try:\n    m.stencil_gauss_seidel_grad(np.zeros(8), 0.2, 'four')\n"
            "except Exception as e:\n    print('error', type(e).__name__)\n"
            "print('adcompile' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(libs["stencil_gauss_seidel"])],
                          capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr
    first, err, imported = proc.stdout.strip().split("\n")
    vals = first.split()
    f = CATALOG["stencil_gauss_seidel"].fn
    v, (v_bar, a_bar) = ad.value_and_grad(f, argnums=(0, 1))(np.linspace(0, 1, 8), 0.2, 4)
    assert float(vals[0]) == pytest.approx(v, rel=1e-13)
    assert float(vals[1]) == pytest.approx(a_bar, rel=1e-12)
    np.testing.assert_allclose(np.array(vals[2:], dtype=float), v_bar, rtol=1e-12)
    assert err == "error ArgumentError" and imported == "False"


def test_header_documents_each_program(built):
    root, libs, calls = built
    h = (libs["stencil_gauss_seidel"] / "stencil_gauss_seidel.h").read_text()
    assert "int stencil_gauss_seidel_grad(const double *v, int64_t v_n0, double a, " \
           "int64_t steps, double *value, double *v_bar, int64_t v_bar_n0, double *a_bar);" in h
    assert "catalog.py:" in h and '#include "adcompile_runtime.h"' in h
    assert (libs["stencil_gauss_seidel"] / "adcompile_runtime.h").exists()
    h = (libs["spring"] / "spring.h").read_text()
    assert "int spring_vjp(const double *x, int64_t x_n0, double k, double c, int64_t steps, " \
           "double out0_bar, const double *out1_bar, int64_t out1_bar_n0" in h


_BOUNDARY_C = r"""
#include <stdio.h>
#include <string.h>
#include "stencil_gauss_seidel.h"
#include "models_oob.h"
int main(void) {
    double u[8] = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7}, v, ubar[8], kbar;
    int rc = stencil_gauss_seidel_grad(u, 8, 0.2, 4, &v, ubar, 7, &kbar); /* bad out length */
    printf("%d|%s\n", rc, adc_last_error());
    rc = stencil_gauss_seidel_grad(u, -1, 0.2, 4, &v, ubar, 8, &kbar);    /* negative length */
    printf("%d|%s\n", rc, adc_last_error());
    double s;
    rc = models_oob(u, 8, 9, &s);                                   /* reads x[8] */
    printf("%d|%s\n", rc, adc_last_error());
    rc = models_oob(u, 8, 8, &s);
    printf("%d|%.17g\n", rc, s);
    return 0;
}
"""


def test_c_abi_reports_errors_instead_of_overrunning(built, tmp_path):
    root, libs, calls = built
    oob = tmp_path / "oob"
    assert cli_main(["build", f"{HERE / 'models.py'}:reads_past_end", "--mode", "primal",
                     "--name", "models_oob", "--out", str(oob)]) == 0
    (tmp_path / "main.c").write_text(_BOUNDARY_C)
    exe = tmp_path / "boundary"
    subprocess.run(["cc", "-o", str(exe), str(tmp_path / "main.c"),
                    str(libs["stencil_gauss_seidel"] / "stencil_gauss_seidel.o"), str(oob / "models_oob.o"),
                    "-I", str(libs["stencil_gauss_seidel"]), "-I", str(oob), "-lm"], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0] == "1|stencil_gauss_seidel_grad: output 'v_bar': the buffer has shape (7) " \
                       "but the result has shape (8)"                  # ADC_ERR_SHAPE
    assert lines[1].startswith("1|") and "negative length" in lines[1]
    assert lines[2].startswith("2|") and "models.py:" in lines[2] and "out of bounds" in lines[2]
    rc, s = lines[3].split("|")
    assert rc == "0" and float(s) == pytest.approx(models.reads_past_end(
        np.arange(8) / 10.0, 8), rel=1e-14)


# -- CLI errors ---------------------------------------------------------------------------------
def _cli(capsys, *argv) -> tuple[int, str]:
    rc = cli_main(list(argv))
    return rc, capsys.readouterr().err


def test_cli_errors_are_clear(capsys, tmp_path):
    m = str(HERE / "models.py")
    rc, err = _cli(capsys, "build", f"{m}:spring", "--signature", "f64[:], f64", "--out",
                   str(tmp_path))
    assert rc == 2 and "--signature gives 2 types but 'spring' takes 4" in err
    rc, err = _cli(capsys, "build", f"{m}:spring", "--signature", "f64[:], f65, f64, i64",
                   "--out", str(tmp_path))
    assert rc == 2 and "unknown type 'f65'" in err
    rc, err = _cli(capsys, "build", f"{m}:uses_dict", "--signature", "f64", "--out",
                   str(tmp_path))
    assert rc == 2 and "models.py:" in err and "dict" in err.lower()
    rc, err = _cli(capsys, "build", f"{m}:spring", "--mode", "grad", "--out", str(tmp_path))
    assert rc == 2 and "one float scalar" in err and "--mode vjp" in err
    rc, err = _cli(capsys, "build", f"{m}:spring", "--mode", "grad", "--argnums", "3",
                   "--out", str(tmp_path))
    assert rc == 2 and "'steps'" in err and "not a float" in err
    rc, err = _cli(capsys, "build", f"{m}:nope", "--out", str(tmp_path))
    assert rc == 2 and "no function named 'nope'" in err
    rc, err = _cli(capsys, "build", "missing.py:f", "--out", str(tmp_path))
    assert rc == 2 and "no such file" in err
    rc, err = _cli(capsys, "build", f"{m}:spring", "--mode", "hessian", "--out", str(tmp_path))
    assert rc == 2 and "unknown mode 'hessian'" in err
    rc, err = _cli(capsys, "build", f"{CATALOG_FILE}:stencil_gauss_seidel", "--out", str(tmp_path))
    assert rc == 2 and "no type annotation" in err and "--signature" in err


def test_cli_help_shows_worked_examples():
    proc = subprocess.run([sys.executable, "-m", "adcompile", "build", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert "adcompile build model.py:loss --mode grad" in proc.stdout
    assert "adc_last_error" in proc.stdout


def _load_stub(out: Path, name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, out / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_checkpoint_option_and_tape_budget(tmp_path, monkeypatch):
    """`--checkpoint binomial:4` builds a binomial gradient equal to adcompile.grad's; without a
    policy the library returns ADC_ERR_TAPE_BUDGET (6) above the build's tape limit."""
    relax = models.relax
    target = f"{HERE / 'models.py'}:relax"
    x = np.linspace(0.1, 1.0, 6)
    want = ad.grad(relax, argnums=(0, 1))(x, 0.3, 50)
    assert cli_main(["build", target, "--mode", "grad", "--checkpoint", "binomial:4",
                     "--name", "relax_ck", "--out", str(tmp_path / "ck")]) == 0
    assert "revolve" not in (tmp_path / "ck" / "relax_ck.h").read_text()
    got = _load_stub(tmp_path / "ck", "relax_ck").relax_ck_grad(x, 0.3, 50)
    # same values up to rounding: adjoint sums may be reassociated (split_sums, partial_sums)
    np.testing.assert_allclose(got[1], want[0], rtol=1e-13, atol=1e-300)
    assert got[2] == pytest.approx(want[1], rel=1e-13)
    monkeypatch.setenv("ADCOMPILE_TAPE_LIMIT", "4KB")
    assert cli_main(["build", target, "--mode", "grad", "--name", "relax_lim",
                     "--out", str(tmp_path / "lim")]) == 0
    grad = _load_stub(tmp_path / "lim", "relax_lim").relax_lim_grad
    np.testing.assert_array_equal(grad(x, 0.3, 5)[1], ad.grad(relax)(x, 0.3, 5))
    with pytest.raises(Exception, match="tape more than 4000 bytes") as err:
        grad(x, 0.3, 500)
    assert err.value.code == 6
