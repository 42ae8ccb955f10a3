"""Fuzzing adcompile at scale: ``python -m tests.fuzz --programs 10000 --jobs N --out DIR``.

Random programs of the subset (`tests/programs.py`, through its public strategies) are checked
against CPython by the IR interpreter, `adcompile.jit` on numba and on LLVM, and, for
differentiable programs, by `jvp`/`grad` against central finite differences, the dot-product
test between `jvp` and `vjp`, and `vjp` under a checkpoint policy against store-all.  Workers
are separate processes with a per-program timeout (a hang or crash is a finding; the run goes
on); failures are shrunk by replaying hypothesis and written to DIR as runnable reproducers; a
summary gives per-check counts, throughput and the findings.  See docs/testing.md.

Modules: `generate` (programs in seeded batches, shrinking by replay), `checks` (the named
checks of one function), `pool` (worker processes, timeouts), `report` (reproducers, summary),
`driver` (the run), `__main__` (the command line).

Throughput (compiling dominates, numba 80% of it; measured on a shared 2-core machine, see
docs/testing.md): all backends take about 2.6 s of CPU per program (5 programs/min wall clock
with one job on the shared machine), so 10,000 programs take about 30 minutes on an idle
16-core machine (``--jobs 16``), 3.6 hours on 2 idle cores and about 33 hours with one job on
the shared machine; ``--backends interpret llvm`` takes 0.9 s per program (large programs
included), about 3 times faster.
"""
