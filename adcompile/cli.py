"""The `adcompile` command (also `python -m adcompile`)."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


def _load(target: str):
    path, _, name = target.partition(":")
    if not name:
        raise SystemExit(f"adcompile: expected FILE.py:FUNCTION, got {target!r}")
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if spec is None:
        raise SystemExit(f"adcompile: cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(path).resolve().parent))
    spec.loader.exec_module(mod)
    if not hasattr(mod, name):
        raise SystemExit(f"adcompile: {path} has no function {name!r}")
    return getattr(mod, name)


def main(argv: list[str] | None = None) -> int:
    from . import __version__
    p = argparse.ArgumentParser(prog="adcompile", description=__doc__)
    p.add_argument("--version", action="version", version=f"adcompile {__version__}")
    sub = p.add_subparsers(dest="cmd")
    ir = sub.add_parser("ir", help="print the IR of FILE.py:FUNC for example arguments",
                        epilog="example: adcompile ir model.py:energy '1.0' 'np.ones(3)'")
    ir.add_argument("target")
    ir.add_argument("args", nargs="*", help="Python expressions for example arguments "
                    "(numpy is available as np)")
    ir.add_argument("--stage", default="primal")
    ns = p.parse_args(argv)
    if ns.cmd is None:
        p.print_help()
        return 0
    import numpy as np

    from . import AdError, show_ir
    func = _load(ns.target)
    args = [eval(a, {"np": np}) for a in ns.args]  # the user's own example values
    try:
        sys.stdout.write(show_ir(func, *args, stage=ns.stage))
    except AdError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    return 0
