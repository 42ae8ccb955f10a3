"""`adcompile build` misuse: every mistake in the command line or the model is one precise
AdError (`adcompile.cli.run` raises what `main` prints as `adcompile: error: ...` with exit
status 2), checked before anything is compiled: output folders, modes, targets that are not
Python files or fail to import, signatures, argnums, names, CPUs, checkpoint policies.

The targets are functions of this file (the CLI imports it from its path) and small files
written to a temporary folder on first use.
"""
# ruff: noqa
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np

from adcompile import AdError, TypeInferenceError, UnsupportedSyntax
from adcompile.cli import UsageError, run
from tests.corpus.case import Case

HERE = os.path.abspath(__file__)


def loss(x: "f64[:]", k: float):
    return k * np.sum(x * x)


def scaled(x: "f64[:]", k: float):  # ERR
    return x * k  # ERR


def counted(x: "f64[:]", n: int):
    return np.sum(x) * n


def unannotated(x, k):
    return k * np.sum(x)


def uses_dict(x: float):
    d = {"a": x}  # ERR
    return d["a"]


def varargs(*xs):
    return 1.0


NOT_A_FUNCTION = 3.0


class Model:
    pass


@functools.lru_cache(maxsize=None)
def scratch() -> Path:
    """A folder with the files the cases point the CLI at."""
    d = Path(tempfile.mkdtemp(prefix="adc_corpus_cli_"))
    (d / "a_file").write_text("not a folder\n")
    (d / "broken_model.py").write_text("import numpy as np\nraise RuntimeError('boom')\n")
    (d / "syntax_model.py").write_text("def f(x:\n    return x\n")
    (d / "exits_model.py").write_text("import sys\nsys.exit(3)\n")
    (d / "imports_missing.py").write_text("import no_such_module_for_adcompile\n")
    (d / "model.txt").write_text("def f(x):\n    return x\n")
    (d / "folder.py").mkdir()
    return d


def target(name: str) -> str:
    return f"{HERE}:{name}"


def out() -> str:
    return str(scratch() / "out")


def build(*argv: str, func: str = "loss", out_dir: str | None = None):
    """`adcompile build <this file>:func argv... --out DIR`, in-process."""
    return run(["build", target(func), *argv, "--out", out_dir or out()])


def case(name: str, runner, where: str | None, error=AdError) -> Case:
    return Case(name, run=runner, expect="error", error=error, where=where, category="cli")


CASES = [
    # -- the output folder
    case("out_is_a_file", lambda: build(out_dir=str(scratch() / "a_file")), "a_file"),
    case("out_below_a_file", lambda: build(out_dir=str(scratch() / "a_file" / "sub")),
         "cannot create the directory"),
    case("out_cannot_be_created", lambda: build(out_dir="/proc/adcompile_out"),
         "/proc/adcompile_out"),
    # -- modes
    case("mode_empty", lambda: build("--mode", ""), "--mode"),
    case("mode_repeated", lambda: build("--mode", "primal,primal"), "'primal' twice"),
    case("mode_empty_entry", lambda: build("--mode", "primal,"), "empty entry"),
    case("mode_unknown", lambda: build("--mode", "hessian"), "'hessian'"),
    case("mode_grad_of_an_array", lambda: build("--mode", "grad", func="scaled"), "line",
         TypeInferenceError),
    # -- the target
    case("target_without_function", lambda: run(["build", HERE, "--out", out()]),
         "FILE.py:FUNC"),
    case("target_empty_function", lambda: run(["build", HERE + ":", "--out", out()]),
         "FILE.py:FUNC"),
    case("target_not_python", lambda: run(["build", f"{scratch() / 'model.txt'}:f",
                                           "--out", out()]), "not a Python file"),
    case("target_is_a_folder", lambda: run(["build", f"{scratch() / 'folder.py'}:f",
                                            "--out", out()]), "not a file"),
    case("target_missing_file", lambda: run(["build", f"{scratch() / 'nope.py'}:f",
                                             "--out", out()]), "no such file"),
    case("target_missing_function", lambda: build(func="nope"), "'nope'"),
    case("target_not_a_function", lambda: build(func="NOT_A_FUNCTION"), "NOT_A_FUNCTION"),
    case("target_is_a_class", lambda: build(func="Model"), "not a function"),
    case("target_varargs", lambda: build(func="varargs"), "xs"),
    case("import_raises", lambda: run(["build", f"{scratch() / 'broken_model.py'}:f",
                                       "--out", out()]), "RuntimeError: boom"),
    case("import_syntax_error", lambda: run(["build", f"{scratch() / 'syntax_model.py'}:f",
                                             "--out", out()]), "syntax error"),
    case("import_exits", lambda: run(["build", f"{scratch() / 'exits_model.py'}:f",
                                      "--out", out()]), "SystemExit"),
    case("import_missing_module", lambda: run(["build", f"{scratch() / 'imports_missing.py'}:f",
                                               "--out", out()]),
         "no_such_module_for_adcompile"),
    case("model_unsupported_syntax", lambda: build(func="uses_dict"), "line", UnsupportedSyntax),
    case("model_without_annotations", lambda: build(func="unannotated"), "'x'"),
    # -- signatures
    case("signature_unclosed_bracket", lambda: build("--signature", "f64[:, f64"),
         "never closed"),
    case("signature_stray_bracket", lambda: build("--signature", "f64]:[, f64"),
         "without a matching"),
    case("signature_empty_entry", lambda: build("--signature", "f64[:],,f64"), "type 2 is empty"),
    case("signature_empty", lambda: build("--signature", ""), "--signature is empty"),
    case("signature_too_few", lambda: build("--signature", "f64[:]"), "takes 2 arguments"),
    case("signature_unknown_type", lambda: build("--signature", "f64[:], f65"), "'f65'"),
    case("signature_sized_dimension", lambda: build("--signature", "f64[3], f64"), "'f64[3]'"),
    case("signature_four_dimensions", lambda: build("--signature", "f64[:, :, :, :], f64"),
         "1 to 3 dimensions"),
    # -- argnums
    case("argnums_not_integers", lambda: build("--argnums", "x"), "--argnums 'x'"),
    case("argnums_repeated", lambda: build("--argnums", "0,0"), "0 twice"),
    case("argnums_out_of_range", lambda: build("--argnums", "7", "--mode", "grad"), "--argnums 7"),
    case("argnums_of_an_int", lambda: build("--argnums", "1", "--mode", "vjp", func="counted"),
         "'n'"),
    # -- names, CPUs, checkpointing
    case("name_c_keyword", lambda: build("--name", "double"), "C keyword"),
    case("name_not_an_identifier", lambda: build("--name", "3d-model"), "'3d-model'"),
    case("name_runtime_prefix", lambda: build("--name", "adc_alloc"), "adc_"),
    case("cpu_unknown", lambda: build("--cpu", "no-such-cpu"), "'no-such-cpu'"),
    case("cpu_not_a_name", lambda: build("--cpu", "x86 64;"), "not a CPU name"),
    case("checkpoint_unknown", lambda: build("--mode", "grad", "--checkpoint", "often"),
         "--checkpoint 'often'"),
    case("checkpoint_every_zero", lambda: build("--mode", "grad", "--checkpoint", "every:0"),
         "every:0"),
    case("checkpoint_bad_memory", lambda: build("--mode", "grad", "--checkpoint",
                                                "binomial:lots"), "binomial:lots"),
    # -- what argparse rejects, and the ir command
    case("missing_out", lambda: run(["build", target("loss")]), "--out", UsageError),
    case("unknown_command", lambda: run(["compile", target("loss")]), "'compile'", UsageError),
    case("unknown_option", lambda: run(["build", target("loss"), "--out", out(), "--fast"]),
         "--fast", UsageError),
    case("ir_bad_example_argument", lambda: run(["ir", target("loss"), "np.ones(", "2.0"]),
         "np.ones("),
]
