"""The adbench suite: for each workload and size, build every tool, cross-check all gradients,
then time them; one markdown table per workload and PNG plots.

Method (issue 17): compilation is timed separately (the first call of the primal and of the
gradient); nothing is timed before every tool's gradient has been compared with the first
tool's (and with the workload's untimed check gradients) to a relative error below 1e-8, each
argument's gradient relative to its own largest entry; a tool that fails the comparison is an
ERROR row and is not timed. A timed call is repeated until the repeats add up to >= 0.5 s
(0.05 s with --quick); the minimum and the median of the single calls are reported. J/F is the
gradient's minimum over the primal's minimum, both measured for the same tool.
"""
from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite_workloads import Grads, Skipped, Workload, all_workloads

TOL = 1e-8
NOT_INCLUDED = {
    "hand tracking": "not included: needs ADBench's model files and a skinning model",
}
PIP = {"jax": 'pip install "jax[cpu]"', "torch": "pip install torch",
       "autograd": "pip install autograd", "adcompile": "pip install -e ."}


def timeit(fn, quick: bool) -> tuple[float, float]:
    """(min, median) seconds of single calls, repeated until they add up to the budget."""
    budget, ts = (0.05 if quick else 0.5), []
    while sum(ts) < budget and len(ts) < 100_000:
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts)


def rel_err(ref: Grads, other: Grads) -> float:
    """Largest entrywise difference of each argument's gradient over that gradient's largest
    entry, maximised over the arguments (so a small gradient is not hidden by a large one)."""
    if len(ref) != len(other):
        return float("inf")
    errs = []
    for a, b in zip(ref, other):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a.shape != b.shape:
            return float("inf")
        errs.append(float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(a))), 1e-300))
    return max(errs)


def machine() -> str:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    vers = []
    for mod in ("numpy", "numba", "llvmlite", "jax", "autograd", "torch"):
        try:
            vers.append(f"{mod} {importlib.metadata.version(mod)}")
        except importlib.metadata.PackageNotFoundError:
            vers.append(f"{mod} missing")
    return (f"{cpu}, {os.cpu_count()} cores, python {platform.python_version()}, "
            + ", ".join(vers))


def short(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:200].replace("|", "/")


@dataclass
class Row:
    size: tuple[int, ...]
    tool: str
    status: str | None = None        # why there is no time (missing, ERROR, skipped, ...)
    gmin: float = 0.0
    gmed: float = 0.0
    pmin: float = 0.0
    compile_s: float = 0.0
    grads: Grads | None = None
    note: str = ""


def build(w: Workload, name: str, args: tuple, row: Row):
    try:
        return w.make_tool(name, args)
    except ImportError:
        row.status = f"missing ({PIP.get(name, 'pip install ' + name)})"
    except Skipped as e:
        row.status = f"skipped: {e}"
    except NotImplementedError:
        row.status = "not implemented for this workload"
    except ValueError as e:
        row.status = f"ERROR: {e}"
    except Exception as e:  # noqa: BLE001 - a tool that fails is a row, not the end of the run
        row.status = f"ERROR: {short(e)}"
    return None


def measure(w: Workload, size: tuple[int, ...], tools: list[str], quick: bool,
            peer_cache: dict) -> list[Row]:
    """Rows of one size: build, compute every gradient, cross-check, and only then time."""
    args = w.make_args(size)
    rows = {t: Row(size, t) for t in tools}
    made = {}
    for t in tools:
        key = (w.peer_group, t, size)
        if t != "adcompile" and w.peer_group is not None and key in peer_cache:
            rows[t] = replace(peer_cache[key])
            continue
        tool = build(w, t, args, rows[t])
        if tool is not None:
            try:
                rows[t].grads = (tool.check or tool.grad)()
                made[t] = tool
                rows[t].compile_s = tool.compile_s
                rows[t].note = tool.note
            except Exception as e:  # noqa: BLE001
                rows[t].status = f"ERROR: {short(e)}"
    have = [t for t in tools if rows[t].grads is not None and rows[t].status is None]
    if have:
        ref = have[0]
        for t in have[1:]:
            e = rel_err(rows[ref].grads, rows[t].grads)
            if not e < TOL:
                rows[t].status = f"ERROR: gradient differs from {ref}'s by rel {e:.2e}"
        try:
            checks = w.checks(args)
        except Exception as e:  # noqa: BLE001
            checks = {}
            rows[ref].status = f"ERROR: check gradient failed: {short(e)}"
        for cname, cg in checks.items():
            e = rel_err(rows[ref].grads, cg)
            if not e < TOL:
                rows[ref].status = f"ERROR: gradient differs from {cname}'s by rel {e:.2e}"
    for t, tool in made.items():
        r = rows[t]
        if r.status is None:
            r.gmin, r.gmed = timeit(tool.grad, quick)
            r.pmin, _ = timeit(tool.primal, quick)
        if t != "adcompile" and w.peer_group is not None:
            peer_cache[(w.peer_group, t, size)] = r
    return [rows[t] for t in tools]


def render(w: Workload, rows: list[Row], tools: list[str]) -> list[str]:
    sz = " | ".join(w.size_names)
    lines = [f"## {w.title}", "",
             (f"| {sz} | tool | grad min ms | grad median ms | primal min ms | J/F "
              "| ratio to adcompile | ratio to jax | compile s |"),
             "|" + "---|" * (len(w.size_names) + 8)]
    by_size: dict[tuple, dict[str, Row]] = {}
    for r in rows:
        by_size.setdefault(r.size, {})[r.tool] = r
    for size, rs in by_size.items():
        cells = " | ".join(str(v) for v in size)

        bases = [rs[b].gmin if b in rs and rs[b].status is None else None
                 for b in ("adcompile", "jax")]
        for t in tools:
            r = rs[t]
            if r.status is not None:
                lines.append(f"| {cells} | {t} | {r.status} | | | | | | |")
                continue
            ratios = [f"{r.gmin / b:.2f}" if b else "-" for b in bases]
            lines.append(f"| {cells} | {t} | {r.gmin * 1e3:.3f} | {r.gmed * 1e3:.3f} | "
                         f"{r.pmin * 1e3:.3f} | {r.gmin / r.pmin:.1f} | {ratios[0]} | "
                         f"{ratios[1]} | {r.compile_s:.2f} |")
    size_notes = [f"- {', '.join(f'{n} {v}' for n, v in zip(w.size_names, r.size))}: {r.note}"
                  for r in rows if r.note]
    return lines + [""] + size_notes + ([""] if size_notes else []) + w.notes + [""]


def plot(w: Workload, rows: list[Row], tools: list[str], out: str) -> str | None:
    """One PNG per workload: gradient time and J/F against problem size (both log-log), one
    line per tool. None when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return None
    fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2))
    for t in tools:
        pts = sorted((w.cost(r.size), r.gmin, r.gmin / r.pmin) for r in rows
                     if r.tool == t and r.status is None)
        if not pts:
            continue
        x, tm, jf = zip(*pts)
        style = "o-" if w.plot_lines else "o"
        ax_t.loglog(x, np.array(tm) * 1e3, style, label=t, lw=1, ms=4, alpha=0.8)
        ax_r.loglog(x, jf, style, label=t, lw=1, ms=4, alpha=0.8)
    ax_t.set(xlabel=w.cost_label, ylabel="gradient time, ms (min)", title=w.title)
    ax_r.set(xlabel=w.cost_label, ylabel="J/F (gradient / primal time)", title="J/F per tool")
    ax_r.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax_r.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax in (ax_t, ax_r):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = Path(out, f"adbench_{w.key}.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def rows_from_markdown(text: str) -> list[tuple[Workload, list[Row], list[str]]]:
    """The (workload, rows, tools) of each table of an adbench.md written by run_suite, so the
    plots can be redrawn from the committed results (`python -m benchmarks plot`)."""
    titles = {w.title: w for w in all_workloads()}
    out: list[tuple[Workload, list[Row], list[str]]] = []
    for ln in text.splitlines():
        if ln.startswith("## ") and ln[3:] in titles:
            out.append((titles[ln[3:]], [], []))
        elif out and ln.startswith("| ") and ln[2].isdigit():
            w, rows, tools = out[-1]
            cells = [c.strip() for c in ln.split("|")[1:-1]]
            k = len(w.size_names)
            size, tool = tuple(int(v) for v in cells[:k]), cells[k]
            if tool not in tools:
                tools.append(tool)
            try:
                gmin, gmed, pmin = (float(c) / 1e3 for c in cells[k + 1:k + 4])
                rows.append(Row(size, tool, None, gmin, gmed, pmin, float(cells[k + 7])))
            except ValueError:
                rows.append(Row(size, tool, cells[k + 1]))
    return out


def replot(out: str) -> int:
    """Redraw the plots of adbench.md and of any adbench_*.md (a workload run on its own)."""
    tables = [t for md in [Path(out, "adbench.md"), *sorted(Path(out).glob("adbench_*.md"))]
              for t in rows_from_markdown(md.read_text())]
    for w, rows, tools in tables:
        png = plot(w, rows, tools, out)
        if png is None:
            print("plots skipped: matplotlib not installed")
            return 0
        print(Path(out, png))
    return 0


def select(workloads: str | None) -> list[Workload]:
    ws = all_workloads()
    if workloads is None:
        return ws
    keys = [k.strip() for k in workloads.split(",")]
    bad = [k for k in keys if k not in {w.key for w in ws}]
    if bad:
        raise SystemExit(f"unknown workloads {bad}; choose from "
                         + ", ".join(w.key for w in ws))
    return [w for w in ws if w.key in keys]


def run_suite(tools: list[str], quick: bool, out: str,
              sizes: list[tuple[int, int]] | None = None, workloads: str | None = None) -> int:
    """sizes: the GMM sizes (d, K) instead of the grid (both GMM workloads)."""
    budget = 0.05 if quick else 0.5
    wall0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    lines = ["# adbench suite" + (" (--quick)" if quick else ""), "", machine(), "",
             (f"Threads: {os.environ.get('OMP_NUM_THREADS', '?')} (OMP_NUM_THREADS, "
             f"NUMBA_NUM_THREADS, XLA intra-op). Gradients of all tools agree to rel. error "
             f"< {TOL:g} before any time is taken; times are the min / median of single calls "
             f"repeated for >= {budget:g} s; compile s = the first primal and gradient calls "
             "(adcompile: numba, from the disk cache when warm; the first size of a workload "
             "compiles, later sizes reuse it). J/F = gradient min / primal min of the same tool."),
             ""]
    os.makedirs(out, exist_ok=True)
    peer_cache: dict = {}
    plots, no_plot = [], False
    for w in select(workloads):
        wsizes = w.quick_sizes if quick else w.sizes
        if sizes is not None and w.peer_group == "gmm":
            wsizes = sizes
        rows: list[Row] = []
        for size in wsizes:
            t0 = time.perf_counter()
            rows += measure(w, size, tools, quick, peer_cache)
            print(f"  [{w.key} {size}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr,
                  flush=True)
        lines += render(w, rows, tools)
        png = plot(w, rows, tools, out)
        if png is None:
            no_plot = True
        else:
            plots.append(png)
    if no_plot:
        print("plots skipped: matplotlib not installed")
    else:
        lines += ["Plots: " + ", ".join(f"[{p}]({p})" for p in plots), ""]
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    lines += [(f"Run: {wall:.0f} s wall, {cpu:.0f} s CPU of this process (all threads); load "
               f"average {load0:.2f} at the start. Wall well above CPU means the cores were "
               "shared with other work during the run, and the times are noisier."), ""]
    lines += ["Not included:"] + [f"- {k}: {v}" for k, v in NOT_INCLUDED.items()]
    text = "\n".join(lines)
    print(text)
    Path(out, "adbench.md").write_text(text + "\n")
    return 0
