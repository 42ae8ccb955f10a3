"""Command line of the fuzzer: ``python -m tests.fuzz --programs N --jobs J --out DIR``."""
from __future__ import annotations

import argparse
import os
import random
import shlex
import sys

from .checks import BACKENDS, ENGINES
from .driver import FuzzConfig, run


def parse(argv: list[str]) -> FuzzConfig:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=(
        "Random subset programs against CPython, the IR interpreter, the numba and LLVM "
        "backends and their derivatives; failures become shrunk reproducers in --out."))
    ap.add_argument("--programs", type=int, default=100, help="programs to check")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (one per core)")
    ap.add_argument("--out", required=True, help="folder for reproducers and the summary")
    ap.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    ap.add_argument("--backends", nargs="+", default=list(ENGINES), choices=ENGINES,
                    help="engines compared with CPython (default: all)")
    ap.add_argument("--checkpoint", nargs="*", default=["llvm"], choices=BACKENDS,
                    help="backends whose vjp is also checked under a checkpoint policy "
                         "(one more compile per program; default: llvm)")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds per program (all its checks); past it the worker is killed "
                         "and the program is a finding")
    ap.add_argument("--minutes", type=float, default=None,
                    help="stop starting programs after this many minutes")
    ap.add_argument("--shrink-budget", type=float, default=120.0,
                    help="seconds of shrinking per shrunk finding (0: no shrinking)")
    ap.add_argument("--shrink-per-group", type=int, default=2,
                    help="findings shrunk per (check, kind) group; the others are written as "
                         "found")
    ap.add_argument("--batch-size", type=int, default=500,
                    help="programs per seeded hypothesis run")
    ap.add_argument("--recycle", type=int, default=50,
                    help="tasks per worker process before it is replaced (memory)")
    ap.add_argument("--large", action="store_true",
                    help="also draw large differentiable programs (about twice the statements; "
                         "they compile several times slower)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else random.randrange(2 ** 31)
    command = "python -m tests.fuzz " + " ".join(
        shlex.quote(x) for x in list(argv) + ([] if a.seed is not None else ["--seed", str(seed)]))
    return FuzzConfig(out=a.out, programs=a.programs, jobs=max(1, a.jobs), seed=seed,
                      engines=tuple(dict.fromkeys(a.backends)), timeout=a.timeout,
                      checkpoint_backends=tuple(a.checkpoint),
                      batch_size=a.batch_size, shrink_budget=a.shrink_budget,
                      shrink_per_group=a.shrink_per_group, recycle=a.recycle,
                      minutes=a.minutes, large=a.large, command=command, progress=not a.quiet)


def main(argv: list[str] | None = None) -> int:
    cfg = parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
