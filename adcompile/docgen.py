"""Generated IR listings of docs/how-it-works.md: `python -m adcompile.docgen` rewrites every
region between `<!-- BEGIN GENERATED: ir NAME -->` and `<!-- END GENERATED: ir NAME -->` with
the IR of the example below at stage NAME; `--check` exits 1 when the page is out of date
(tests/test_docs.py runs the check, as tests/test_subset_doc.py does for docs/subset.md).

Regions: the primal stages `frontend`, `primal`, `backend` (what `show_ir` prints), and the
stages of the example's gradient program (`grad:<stage>`: `vjp`, `optimized`, `backend`) and
of its JVP (`jvp:<stage>`), all for the LLVM backend and one f64[:] argument."""
from __future__ import annotations

import os
import re

import numpy as np

from . import docfiles
from .driver.compile import build_ir
from .driver.options import CompileOptions
from .driver.transforms import JVP, VJP
from .ir.printer import print_function
from .signature import bind_defaults, signature_of

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "how-it-works.md")
_REGION = re.compile(r"(<!-- BEGIN GENERATED: ir (\S+) -->\n)(.*?)"
                     r"(<!-- END GENERATED: ir \2 -->)", re.DOTALL)


def example(x):
    """The page's example: a loop with an in-place write into a fresh array."""
    y = np.zeros_like(x)
    s = 0.0
    for i in range(x.shape[0]):
        y[i] = np.sin(x[i]) * x[i]
        s += y[i] * y[i]
    return s


def _options() -> CompileOptions:
    # fixed, not from the environment: the listings must not depend on ADCOMPILE_* settings
    return CompileOptions(backend="llvm", disk_cache=False)


def listing(name: str) -> str:
    """The IR text of one region NAME ('primal', 'grad:vjp', 'jvp:backend', ...)."""
    x = np.linspace(0.0, 1.0, 4)
    kind, _, stage = name.rpartition(":")
    transforms = {"": None, "grad": VJP((True,)), "jvp": JVP((True,))}
    if kind not in transforms:
        raise SystemExit(f"unknown IR region {name!r}: one of {sorted(transforms)}")
    stages = build_ir(example, signature_of(example, bind_defaults(example, (x,))),
                      transforms[kind], _options())
    if stage not in stages:
        raise SystemExit(f"unknown stage {stage!r} in region {name!r}: one of {sorted(stages)}")
    return print_function(stages[stage])


def render(text: str) -> str:
    return _REGION.sub(lambda m: f"{m[1]}```\n{listing(m[2])}```\n{m[4]}", text)


def update(path: str = DOC, check: bool = False) -> bool:
    """Rewrite the generated regions of docs/how-it-works.md; with `check`, only say whether
    they are current. Returns True when the file is (or now is) up to date."""
    return docfiles.rewrite(path, render, check)


def main(argv: list[str] | None = None) -> int:
    return docfiles.main(update, "docs/how-it-works.md", "adcompile.docgen", argv)


if __name__ == "__main__":
    raise SystemExit(main())
