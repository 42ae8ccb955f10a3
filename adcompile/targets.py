"""What `adcompile build` is given, checked before anything is compiled: the target
(FILE.py:FUNC, imported from its file), the output directory, the library name and the CPU.
Each mistake is an AdError naming the file, line, option or path, never a traceback from
the import machinery or an abort inside LLVM."""
from __future__ import annotations

import functools
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Callable

from .errors import AdError, Loc


def load_function(target: str) -> Callable:
    """`path/to/file.py:func` -> the function object (the module is imported from its file).
    Every way this can fail is an AdError naming the file (and line, for import errors)."""
    if ":" not in target:
        raise AdError(f"expected FILE.py:FUNC, got {target!r}",
                      hint="e.g. adcompile build model.py:residual ...")
    path, fname = target.rsplit(":", 1)
    p = Path(path)
    if not path or not fname:
        raise AdError(f"expected FILE.py:FUNC, got {target!r}",
                      hint="e.g. adcompile build model.py:residual ...")
    if p.suffix != ".py":
        raise AdError(f"{path} is not a Python file (FILE.py:FUNC)",
                      hint="adcompile compiles functions defined in .py files")
    if not p.exists():
        raise AdError(f"no such file: {path}",
                      hint=f"the path is relative to the current folder ({os.getcwd()})")
    if not p.is_file():
        raise AdError(f"{path} is not a file", hint="FILE.py must be a Python source file")
    mod = _import_file(p)
    fn = getattr(mod, fname, None)
    if fn is None or not callable(fn):
        raise AdError(f"{path} has no function named {fname!r}",
                      hint=f"functions in {p.name}: " + (", ".join(
                          n for n, v in vars(mod).items()
                          if inspect.isfunction(v) and not n.startswith("_")) or "none"))
    fn = getattr(fn, "py_func", fn)
    if not inspect.isfunction(fn):
        raise AdError(f"{path}:{fname} is a {type(fn).__name__}, not a function",
                      hint="adcompile compiles plain Python functions (def ...)")
    odd = [n for n, q in inspect.signature(fn).parameters.items()
           if q.kind not in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
    if odd:
        raise AdError(f"'{fname}' has parameters that are not positional: {', '.join(odd)}",
                      hint="a C entry point takes positional arguments only (no *args, "
                           "**kwargs or keyword-only parameters)")
    return fn


def _import_file(p: Path):
    """Import a user's module from its file; its own failures are reported at its line."""
    modname = "_adcompile_user_" + re.sub(r"\W", "_", p.stem)
    spec = importlib.util.spec_from_file_location(modname, p)
    if spec is None or spec.loader is None:
        raise AdError(f"cannot import {p}", hint="the target must be a Python source file")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    sys.path.insert(0, str(p.resolve().parent))
    try:
        spec.loader.exec_module(mod)
    except SyntaxError as e:
        sys.modules.pop(modname, None)
        raise AdError(f"syntax error: {e.msg}", _loc(e.filename or str(p), e.lineno or 1),
                      "fix the file so that `python FILE.py` imports it") from None
    except (Exception, SystemExit) as e:
        sys.modules.pop(modname, None)
        line = 1
        tb = e.__traceback__
        while tb is not None:   # the innermost frame in the user's file
            if Path(tb.tb_frame.f_code.co_filename).resolve() == p.resolve():
                line = tb.tb_lineno
            tb = tb.tb_next
        raise AdError(f"importing {p.name} failed: {type(e).__name__}: {e}",
                      _loc(str(p), line), "the module must import cleanly "
                      "(`python -c \"import ...\"`) before its functions can be built") from None
    finally:
        sys.path.pop(0)
    return mod


def _loc(filename: str, line: int) -> Loc:
    try:
        text = Path(filename).read_text().splitlines()[line - 1]
    except (OSError, IndexError, UnicodeDecodeError):
        text = ""
    return Loc(filename, line, 0, None, text)


def prepare_out_dir(out_dir: Path) -> None:
    """Create `out_dir` (and parents) or say precisely why it cannot be used."""
    if out_dir.exists() and not out_dir.is_dir():
        raise AdError(f"--out {out_dir}: exists and is not a directory",
                      hint="--out names the directory the library is written to")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdError(f"--out {out_dir}: cannot create the directory ({e.strerror})",
                      hint="choose a directory you can write to") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise AdError(f"--out {out_dir}: the directory is not writable",
                      hint="choose a directory you can write to")


_CPU_PROBE = r"""
import sys
import llvmlite.binding as llvm
llvm.initialize_native_target(); llvm.initialize_native_asmprinter()
tm = llvm.Target.from_triple(llvm.get_process_triple()).create_target_machine(cpu=sys.argv[1])
m = llvm.parse_assembly("define i64 @f(i64 %x) {\n  %y = mul i64 %x, 3\n  ret i64 %y\n}\n")
m.triple = tm.triple
tm.emit_object(m)
"""


@functools.lru_cache(maxsize=16)
def check_cpu(cpu: str) -> None:
    """LLVM prints a warning for a CPU name it does not know and may then abort the process
    while emitting code: try the name in a child process first."""
    if cpu == "host":
        return
    if not re.fullmatch(r"[A-Za-z0-9][\w.+-]*", cpu):
        raise AdError(f"--cpu {cpu!r} is not a CPU name", hint=_CPU_HINT)
    import subprocess
    try:
        proc = subprocess.run([sys.executable, "-c", _CPU_PROBE, cpu], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AdError(f"--cpu {cpu!r}: could not check the CPU name ({e})",
                      hint=_CPU_HINT) from None
    if proc.returncode != 0 or "not a recognized processor" in proc.stderr:
        raise AdError(f"--cpu {cpu!r} is not a CPU LLVM knows for this target",
                      hint=_CPU_HINT)


_CPU_HINT = ("use host (this machine) or a name such as x86-64, x86-64-v2, x86-64-v3, "
             "skylake, znver3 (`llc -mcpu=help` lists them)")


_C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum
extern float for goto if inline int long register restrict return short signed sizeof static
struct switch typedef union unsigned void volatile while bool true false main""".split())


def check_name(name: str) -> None:
    """The library's name is a C identifier prefix: it must not collide with C or the
    runtime."""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise AdError(f"--name {name!r} is not a C identifier",
                      hint="letters, digits and underscores, not starting with a digit")
    if name in _C_KEYWORDS:
        raise AdError(f"--name {name!r} is a C keyword", hint="choose another --name")
    if name.lower().startswith("adc_"):
        raise AdError(f"--name {name!r} would collide with the runtime's adc_* symbols",
                      hint="choose a name that does not start with adc_")
