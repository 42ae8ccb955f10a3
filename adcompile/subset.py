"""The function tables of docs/subset.md, generated from the frontend's call table and the
primitive registry: `python -m adcompile.subset` rewrites them in place (between the
`<!-- BEGIN GENERATED ... -->` / `<!-- END GENERATED ... -->` markers; the prose outside stays
as written), `python -m adcompile.subset --check` fails when they are out of date (what
`tests/test_subset_doc.py` runs).

Nothing here is a hand-kept list of statuses: each function of the call table (and each
array method) is *probed* by lowering a one-call program through the frontend with the
first argument pattern that it accepts. The primitives of that IR then say
- the derivative status: "both modes" (every primitive on a path from a float argument to
  the result has forward and reverse rules), "zero" (every such path goes through a
  piecewise-constant primitive: floor, sign, ...), "no rule" (it reaches a primitive marked
  NO_RULE: a `NonDifferentiable` error if a derivative flows through it), or "integer" /
  "bool" (the result has no float part, so no derivative);
- the backends: each backend that writes every primitive of the program or whose pipeline
  removes it first (the rule `tests/backends/test_registry.py` checks for the whole set).
A function that no pattern accepts is listed with "(special form)": it is usable only in the
forms docs/subset.md describes (e.g. `range` as a loop iterable).
"""
from __future__ import annotations

import builtins
import hashlib
import math
import os
import tempfile
import importlib.util
from dataclasses import dataclass

import numpy as np

from . import docfiles
from .ad import rules
from .backends import BACKENDS, get_backend
from .driver.options import CompileOptions
from .frontend import calls, reductions, shapes
from .frontend.lower import lower
from .ir.types import F64, I64, ArrayType, ScalarType, scalar_of
from .transforms.pipeline import PASSES, backend_pipeline

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "subset.md")
BEGIN = "<!-- BEGIN GENERATED: function tables (python -m adcompile.subset) -->"
END = "<!-- END GENERATED: function tables -->"

# probe arguments: x, y, z: float64 vectors; m: a float64 matrix; s, t, u: Python floats;
# i: a Python int
PARAMS = "x, y, z, m, s, t, u, i"
_ARG_TYPES = [ArrayType(F64, 1)] * 3 + [ArrayType(F64, 2)] + [F64] * 3 + [I64]
_WEAK = [False] * 4 + [True] * 4
PATTERNS = ("{f}(x)", "{f}(s)", "{f}(x, y)", "{f}(s, t)", "{f}(m)", "{f}(x, 1)", "{f}(m, 1)",
            "{f}(x, y, z)", "{f}(s, t, u)", "{f}((x, y))", "{f}([x > 0.0], [x])", "{f}(3)",
            "{f}(s, t, 5)", "{f}(m, m)", "{f}(x, s)", "{f}(m, 0, 1)", "{f}(x, (2,))",
            "{f}(i)", "{f}(x > 0.0, x, y)", "{f}((2, 3), s)", "{f}(x, 2)", "{f}('i,i->', x, y)")
METHOD_PATTERNS = ("m.{f}()", "x.{f}()", "m.{f}(0)", "m.{f}(x)", "m.{f}(-1)",
                   "m.{f}(1, 0)", "x.{f}(np.float32)", "x.{f}(2)")
MODULES = (("numpy", np), ("numpy.linalg", np.linalg), ("math", math), ("builtins", builtins))


@dataclass(frozen=True)
class Entry:
    name: str            # as users write it: np.sum, math.sin, abs, x.sum()
    call: str            # the probe that lowered, or "" (special form)
    result: str          # the result type of the probe
    derivative: str      # both modes | zero | no rule | integer | bool | ""
    backends: tuple[str, ...]


def _names() -> list[tuple[str, str]]:
    """(group, name as written) for every callable of the call table."""
    out = []
    for obj in list(calls.CALLS):
        for prefix, mod in MODULES:
            for attr in sorted(dir(mod)):
                if attr.startswith("_"):
                    continue
                try:
                    if getattr(mod, attr) is obj:
                        short = {"numpy": "np", "numpy.linalg": "np.linalg"}.get(prefix, prefix)
                        out.append((prefix, attr if prefix == "builtins" else f"{short}.{attr}"))
                except Exception:
                    continue
    return sorted(set(out))


def _methods() -> list[str]:
    names = set(calls.METHOD_NAMES) | set(reductions.METHODS) | set(shapes.METHODS)
    return sorted(names)


def _module(probes: list[tuple[str, str]]) -> object:
    lines = ["import math", "import numpy as np", ""]
    for k, (_, expr) in enumerate(probes):
        lines += [f"def p{k}({PARAMS}):", f"    return {expr}", ""]
    text = "\n".join(lines) + "\n"
    d = os.path.join(tempfile.gettempdir(), "adcompile_subset_" +
                     hashlib.sha256(text.encode()).hexdigest()[:16])
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "subset_probes.py")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(f"_adcompile_subset_{d[-16:]}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _removed(name: str) -> set[str]:
    return set().union(*(PASSES[p].removes for p in backend_pipeline(CompileOptions(
        backend=name))))


def _active(fn) -> tuple[bool, set[str]]:
    """Whether a result depends on a float argument through differentiable primitives, and
    the primitives met on such paths."""
    act = {a.id for a in fn.args[:4] + fn.args[4:7]}
    met: set[str] = set()
    dead = rules.NON_DIFFERENTIABLE | rules.ZERO_DERIVATIVE

    def block(b) -> None:
        for op in b.ops:
            hot = any(v.id in act for v in op.operands)
            if op.regions:
                for r in op.regions:
                    if hot:
                        act.update(a.id for a in r.args)
                    block(r)
                    term = r.ops[-1] if r.ops else None
                    if term is not None and any(v.id in act for v in term.operands):
                        hot = True
            if hot and op.prim not in dead and op.results and \
                    any(scalar_of(r.type).is_float for r in op.results
                        if isinstance(r.type, (ScalarType, ArrayType))):
                met.add(op.prim)
                act.update(r.id for r in op.results)
            elif hot and op.prim in dead:
                met.add(op.prim)
    block(fn.body)
    ret = fn.body.ops[-1]
    return any(v.id in act for v in ret.operands), met


def probe(name: str, patterns, mod_cache: dict) -> Entry:
    mod, index = mod_cache[name]
    for k, expr in index:
        try:
            fn = lower(getattr(mod, f"p{k}"), list(_ARG_TYPES), list(_WEAK))
        except Exception:   # not this pattern (np.arange(x) of an array even fails inside)
            continue
        return _entry(name, expr, fn)
    return Entry(name, "", "", "", ())


def _entry(name: str, expr: str, fn) -> Entry:
    prims = {op.prim for op in fn.walk()}
    ts = fn.result_types
    result = ", ".join(str(t) for t in ts) or "None"
    floats = [t for t in ts if scalar_of(t).is_float]
    if not floats:
        deriv = "bool" if all(scalar_of(t).is_bool for t in ts) else "integer"
    else:
        active, met = _active(fn)
        if met & rules.NO_RULE:
            deriv = "no rule"
        elif not active:
            deriv = "zero" if met & rules.ZERO_DERIVATIVE else "none (constant)"
        else:
            deriv = "both modes"
    backends = tuple(b for b in sorted(BACKENDS) if
                     prims <= set(get_backend(b).load().LOWERS) | _removed(b) |
                     {"return", "yield", "condition", "for", "while", "if"})
    return Entry(name, expr, result, deriv, backends)


def entries() -> list[Entry]:
    probes: list[tuple[str, str]] = []
    index: dict[str, list[tuple[int, str]]] = {}
    names = _names()
    for _, name in names:
        for p in PATTERNS:
            index.setdefault(name, []).append((len(probes), p.format(f=name)))
            probes.append((name, p.format(f=name)))
    methods = _methods()
    for m in methods:
        key = f"x.{m}()"
        for p in METHOD_PATTERNS:
            index.setdefault(key, []).append((len(probes), p.format(f=m)))
            probes.append((key, p.format(f=m)))
    mod = _module(probes)
    cache = {n: (mod, idx) for n, idx in index.items()}
    out = [probe(name, PATTERNS, cache) for _, name in names]
    out += [probe(f"x.{m}()", METHOD_PATTERNS, cache) for m in methods]
    return out


def _table(rows: list[Entry]) -> list[str]:
    lines = ["| function | probe | result | derivatives | backends |", "|---|---|---|---|---|"]
    for e in rows:
        if not e.call:
            lines.append(f"| `{e.name}` | (special form) | | | |")
            continue
        lines.append(f"| `{e.name}` | `{e.call}` | `{e.result}` | {e.derivative} | "
                     f"{', '.join(e.backends)} |")
    return lines


def render() -> str:
    es = entries()
    groups = [("NumPy", [e for e in es if e.name.startswith("np.")]),
              ("math", [e for e in es if e.name.startswith("math.")]),
              ("builtins", [e for e in es if not e.name.startswith(("np.", "math.", "x."))]),
              ("array methods", [e for e in es if e.name.startswith("x.")])]
    lines = [BEGIN, "",
             f"Generated from the call table and the primitive registry by "
             f"`python -m adcompile.subset` ({sum(len(g) for _, g in groups)} functions: "
             f"{len(groups[0][1])} NumPy, {len(groups[1][1])} math, {len(groups[2][1])} "
             f"builtins, {len(groups[3][1])} array methods). Probe arguments: `x`, `y`, `z` "
             "float64 vectors, `m` a float64 matrix, `s`, `t`, `u` Python floats, `i` a Python "
             "int; the probe is the first form that compiles, other forms are in the sections "
             "above. Derivatives: *both modes* (forward and reverse), *zero* (piecewise "
             "constant), *no rule* (`NonDifferentiable` if a derivative flows through it), "
             "*integer*/*bool* (no float result, no derivative).", ""]
    for title, rows in groups:
        lines += [f"#### {title}", ""] + _table(rows) + [""]
    lines.append(END)
    return "\n".join(lines)


def update(path: str = DOC, check: bool = False) -> bool:
    """Rewrite the generated part of docs/subset.md; with `check`, only say whether it is
    current. Returns True when the file is (or now is) up to date."""
    def replaced(text: str) -> str:
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{path}: the markers {BEGIN!r} ... {END!r} are missing")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + render() + tail
    return docfiles.rewrite(path, replaced, check)


def main(argv: list[str] | None = None) -> int:
    return docfiles.main(update, "docs/subset.md", "adcompile.subset", argv)


if __name__ == "__main__":
    raise SystemExit(main())
