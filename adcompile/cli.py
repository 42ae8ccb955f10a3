"""The `adcompile` command (also `python -m adcompile`): ahead-of-time builds and IR dumps."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import AdError

BUILD_EXAMPLES = """\
examples:
  # gradient of loss(x, k) for f64[:] x and f64 k, as a C library in build/
  adcompile build model.py:loss --mode grad --signature "f64[:], f64" --out build/

  # primal, JVP and VJP w.r.t. the first argument only; types from annotations
  #   def residual(p: "f64[:]", t: "f64[:]", n: int): ...
  adcompile build model.py:residual --mode primal,jvp,vjp --argnums 0 --out build/

  # then, from C:   #include "loss.h"   and link build/libloss.so (or build/loss.o -lm)
  #   int rc = loss_grad(x, n, k, &value, x_bar, n);
  #   if (rc != ADC_OK) fprintf(stderr, "%s\\n", adc_last_error());
  # or from Python without adcompile:  import loss; value, x_bar = loss.loss_grad(x, k)

outputs: DIR/lib<name>.so, DIR/<name>.o (kernels + runtime), DIR/<name>.h (+ adcompile_runtime.h),
DIR/<name>.py (ctypes stub), DIR/<name>.ll (LLVM IR before optimisation).
C signature: inputs first (arrays as `const T *x, int64_t x_n0, ...`), then outputs (scalars as
`T *out`, arrays as caller buffers `T *out, int64_t out_n0, ...`); returns 0 or an ADC_ERR_* code.
"""


class UsageError(AdError):
    """A command line argparse rejects (raised instead of argparse's exit, so `run` callers
    see an exception; `main` prints it as argparse would)."""

    default_hint = "adcompile --help and adcompile build --help list the options"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: error: {message}")


def _parser() -> argparse.ArgumentParser:
    from ._version import __version__
    p = _Parser(prog="adcompile", description=__doc__)
    p.add_argument("--version", action="version", version=f"adcompile {__version__}")
    sub = p.add_subparsers(dest="cmd")

    b = sub.add_parser("build",  help="compile FILE.py:FUNC and its derivatives to a C library",
                       description="Compile a function and its derivatives ahead of time "
                       "with the LLVM backend into a shared library, an object file and a C "
                       "header.", epilog=BUILD_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("target", metavar="FILE.py:FUNC")
    b.add_argument("--mode", default="primal,grad",
                   help="comma-separated programs: primal, jvp, vjp, grad (default primal,grad)")
    b.add_argument("--argnums", default=None,
                   help="comma-separated argument positions to differentiate (default: every "
                        "float argument)")
    b.add_argument("--signature", default=None,
                   help='argument types, e.g. "f64[:], f64, i64" (default: the function\'s '
                        "annotations)")
    b.add_argument("--target", dest="device", default="cpu", choices=["cpu", "cuda"],
                   help="code target: cpu (a C library) or cuda (.cu, .cuh and PTX for "
                        "sm_80/sm_90: one GPU thread per instance)")
    b.add_argument("--shared", default=None, metavar="NAMES",
                   help="cuda: comma-separated parameters passed once for the whole batch "
                        "(their adjoints are summed); the others are batched")
    b.add_argument("--cpu", default="host",
                   help="LLVM CPU name: host (default, fastest here) or e.g. x86-64 for a "
                        "portable artifact")
    b.add_argument("--name", default=None, help="library and symbol prefix (default: FUNC)")
    b.add_argument("--no-bounds-check", action="store_true",
                   help="skip index checks inside kernels (argument lengths are still checked)")
    b.add_argument("--checkpoint", default=None, metavar="POLICY",
                   help="checkpointing of the outermost loops in vjp/grad: binomial:64 "
                        "(64 snapshots), binomial:50MB, sqrt, every:K, snapshots:S[:2], "
                        "store-all (default: store-all, with ADC_ERR_TAPE_BUDGET returned above "
                        "ADCOMPILE_TAPE_LIMIT, 2GB)")
    b.add_argument("--out", required=True, metavar="DIR", help="output directory")

    ir = sub.add_parser("ir", help="print the IR of FILE.py:FUNC for example arguments",
                        epilog="example: adcompile ir model.py:energy '1.0' 'np.ones(3)'")
    ir.add_argument("target")
    ir.add_argument("args", nargs="*", help="Python expressions for example arguments "
                    "(numpy is available as np)")
    ir.add_argument("--stage", default="primal")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command: 0 on success, 2 with one `adcompile: error: ...` line (and a hint line)
    on stderr for any mistake in the command or the model, never a traceback."""
    from .errors import AdError
    try:
        return run(argv)
    except UsageError as e:
        sys.stderr.write(f"{e.message}\nhint: {e.hint}\n")
        return 2
    except AdError as e:
        sys.stderr.write(f"adcompile: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("adcompile: interrupted\n")
        return 130
    except Exception as e:   # a bug in adcompile: still one line, and a distinct status
        sys.stderr.write(f"adcompile: internal error: {type(e).__name__}: {e} (this is a bug "
                         "in adcompile; please report it with the command)\n")
        return 3


def run(argv: list[str] | None = None) -> int:
    """`main` without the error printing: mistakes raise `AdError` (or `UsageError` for what
    argparse rejects), so callers and tests can inspect them."""
    p = _parser()
    ns = p.parse_args(argv)
    if ns.cmd is None:
        p.print_help()
        return 0
    from .aot import load_function
    if ns.cmd == "build":
        opts = _build_options(ns)   # cheap checks of the options first, then the import
        return _build(ns, load_function(ns.target), *opts)
    return _ir(ns, load_function(ns.target))


def _build_options(ns) -> tuple:
    """(modes, argnums, checkpoint) from the command line, every option checked."""
    from .aot import check_cpu, check_name, prepare_out_dir
    from .errors import AdError
    modes = [m.strip() for m in ns.mode.split(",")]
    if not any(modes):
        raise AdError(f"--mode {ns.mode!r} names no program",
                      hint="--mode takes primal, jvp, vjp, grad, comma-separated")
    if not all(modes):
        raise AdError(f"--mode {ns.mode!r} has an empty entry",
                      hint="e.g. --mode primal,grad")
    argnums = None
    if ns.argnums is not None:
        try:
            argnums = [int(a) for a in ns.argnums.split(",")]
        except ValueError:
            raise AdError(f"--argnums {ns.argnums!r}: expected integers such as 0 or 0,2",
                          hint="argument positions count from 0") from None
        dup = [a for k, a in enumerate(argnums) if a in argnums[:k]]
        if dup:
            raise AdError(f"--argnums {ns.argnums!r} lists {dup[0]} twice",
                          hint="each argument once, e.g. --argnums 0,2")
    if ns.name is not None:
        check_name(ns.name)
    checkpoint = _checkpoint_option(ns.checkpoint)
    check_cpu(ns.cpu)
    prepare_out_dir(Path(ns.out))
    return modes, argnums, checkpoint


def _build(ns, func, modes, argnums, checkpoint) -> int:
    from .aot import build_library, check_name, parse_signature, signature_from_annotations
    if ns.name is None and not func.__name__.isidentifier():   # a lambda: FUNC names it
        ns.name = ns.target.rsplit(":", 1)[-1]
        check_name(ns.name)
    specs = parse_signature(ns.signature, func) if ns.signature is not None else \
        signature_from_annotations(func)
    t0 = time.perf_counter()
    if ns.device == "cuda":
        from .cuda_build import build_cuda
        files = build_cuda(func, specs, modes, Path(ns.out), ns.name, argnums, checkpoint,
                           ns.shared)
        for path in files.values():
            print(path)
        if "sm_80" not in files:
            print("nvcc not found: no PTX written (compile the .cu with nvcc)", file=sys.stderr)
        print(f"built {', '.join(modes)} of {func.__name__} for CUDA in "
              f"{time.perf_counter() - t0:.2f} s", file=sys.stderr)
        return 0
    files = build_library(func, specs, modes, Path(ns.out), ns.name, argnums,
                          not ns.no_bounds_check, ns.cpu, checkpoint)
    dt = time.perf_counter() - t0
    for kind in ("so", "o", "h", "py"):
        print(files[kind])
    print(f"built {', '.join(modes)} of {func.__name__} in {dt:.2f} s", file=sys.stderr)
    return 0


def _checkpoint_option(text: str | None):
    """--checkpoint binomial:64 | binomial:50MB | sqrt | every:K | snapshots:S[:2] | store-all"""
    from .checkpointing import parse_policy
    from .errors import AdError
    if text is None:
        return None
    kind, *rest = text.split(":")
    vals = [int(v) if v.isdigit() else v for v in rest]
    try:
        return parse_policy(kind if not vals else (kind, *vals))
    except AdError as e:
        raise AdError(f"--checkpoint {text!r}: {e.message}",
                      hint="binomial:64, binomial:50MB, sqrt, every:K, snapshots:S[:2] or "
                           "store-all") from None


def _ir(ns, func) -> int:
    import numpy as np

    from .api import show_ir
    from .errors import AdError
    args = []
    for a in ns.args:
        try:
            args.append(eval(a, {"np": np}))  # the user's own example values
        except Exception as e:
            raise AdError(f"example argument {a!r}: {type(e).__name__}: {e}",
                          hint="each argument is a Python expression, e.g. 1.0 or "
                               "'np.ones(3)'") from None
    sys.stdout.write(show_ir(func, *args, stage=ns.stage))
    return 0
