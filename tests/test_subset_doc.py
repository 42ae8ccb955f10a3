"""docs/subset.md's function tables are generated (adcompile/subset.py) from the call table
and the primitive registry: this fails when they drift (a function added, its derivative
status or backends changed) until `python -m adcompile.subset` is rerun."""
from __future__ import annotations

from adcompile import subset


def test_function_tables_are_current():
    assert subset.update(check=True), \
        "docs/subset.md is out of date: run python -m adcompile.subset"


def test_every_call_table_entry_is_listed_and_probed():
    es = subset.entries()
    names = {e.name for e in es}
    for want in ("np.sum", "np.cumsum", "np.reshape", "np.logaddexp", "x.reshape()",
                 "math.sin", "abs"):
        assert want in names, want
    special = sorted(e.name for e in es if not e.call)
    assert special == ["range"], f"no probe pattern lowers {special}: add one to PATTERNS"
    statuses = {e.name: e.derivative for e in es}
    assert statuses["np.sin"] == "both modes" and statuses["np.argmax"] == "integer"
    assert statuses["math.lgamma"] == "no rule" and statuses["np.floor"] == "zero"
