"""`python -m benchmarks run --suite adbench [--quick] [--tools ...] [--threads N] [--out DIR]`;
`python -m benchmarks plot [--out DIR]` redraws the PNGs from DIR/adbench.md.

Issue 17's suite (benchmarks/suite.py, workloads in benchmarks/suite_workloads.py): the GMM
gradient in two user styles (plain loops, whole-array NumPy), the LSTM gradient and a
heat-equation gradient over a long time loop with checkpointing; BA and HT are reported as not
included.  Every tool's gradient is cross-checked against the first tool's (relative error
< 1e-8) before any time is taken; a mismatch becomes an error row.  Writes
results/adbench.md and, with matplotlib, one PNG per workload.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--suite", default="adbench", choices=["adbench"])
    r.add_argument("--quick", action="store_true")
    r.add_argument("--tools", default="adcompile,jax,torch,autograd")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--gmm", default=None, help="GMM sizes d:K,d:K,... (default: the grid)")
    r.add_argument("--workloads", default=None,
                   help="comma-separated subset of gmm_loops,gmm_numpy,lstm,heat (default: all)")
    r.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    pl = sub.add_parser("plot", help="redraw the PNGs from DIR/adbench.md")
    pl.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    a = p.parse_args(argv)
    if a.cmd == "plot":
        from .suite import replot
        return replot(a.out)
    # Thread counts must be fixed before numba / XLA are imported.
    os.environ.setdefault("NUMBA_NUM_THREADS", str(a.threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          f"intra_op_parallelism_threads={a.threads}")
    from .suite import run_suite
    sizes = (None if a.gmm is None
             else [tuple(int(v) for v in s.split(":")) for s in a.gmm.split(",")])
    return run_suite(a.tools.split(","), quick=a.quick, out=a.out, sizes=sizes,
                     workloads=a.workloads)


if __name__ == "__main__":
    sys.exit(main())
