"""The `adcompile` command (also `python -m adcompile`): ahead-of-time builds and IR dumps."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

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


def _parser() -> argparse.ArgumentParser:
    from ._version import __version__
    p = argparse.ArgumentParser(prog="adcompile", description=__doc__)
    p.add_argument("--version", action="version", version=f"adcompile {__version__}")
    sub = p.add_subparsers(dest="cmd")

    b = sub.add_parser("build", help="compile FILE.py:FUNC and its derivatives to a C library",
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
    b.add_argument("--target", dest="device", default="cpu", choices=["cpu"],
                   help="code target (cpu)")
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


def _error(e: Exception) -> int:
    sys.stderr.write(f"adcompile: error: {e}\n")
    return 2


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    ns = p.parse_args(argv)
    if ns.cmd is None:
        p.print_help()
        return 0
    from .aot import load_function
    from .errors import AdError
    try:
        func = load_function(ns.target)
        if ns.cmd == "build":
            return _build(ns, func)
        return _ir(ns, func)
    except AdError as e:
        return _error(e)
    except SyntaxError as e:
        return _error(f"{e.filename}:{e.lineno}: syntax error: {e.msg}")


def _build(ns, func) -> int:
    from .aot import build_library, parse_signature, signature_from_annotations
    specs = parse_signature(ns.signature, func) if ns.signature else \
        signature_from_annotations(func)
    modes = [m.strip() for m in ns.mode.split(",") if m.strip()]
    argnums = None
    if ns.argnums:
        try:
            argnums = [int(a) for a in ns.argnums.split(",")]
        except ValueError:
            from .errors import AdError
            raise AdError(f"--argnums {ns.argnums!r}: expected integers such as 0 or 0,2")
    t0 = time.perf_counter()
    files = build_library(func, specs, modes, Path(ns.out), ns.name, argnums,
                          not ns.no_bounds_check, ns.cpu, _checkpoint_option(ns.checkpoint))
    dt = time.perf_counter() - t0
    for kind in ("so", "o", "h", "py"):
        print(files[kind])
    print(f"built {', '.join(modes)} of {func.__name__} in {dt:.2f} s", file=sys.stderr)
    return 0


def _checkpoint_option(text: str | None):
    """--checkpoint binomial:64 | binomial:50MB | sqrt | every:K | snapshots:S[:2] | store-all"""
    from .checkpointing import parse_policy
    if text is None:
        return None
    kind, *rest = text.split(":")
    vals = [int(v) if v.isdigit() else v for v in rest]
    return parse_policy(kind if not vals else (kind, *vals))


def _ir(ns, func) -> int:
    import numpy as np

    from .api import show_ir
    args = [eval(a, {"np": np}) for a in ns.args]  # the user's own example values
    sys.stdout.write(show_ir(func, *args, stage=ns.stage))
    return 0
