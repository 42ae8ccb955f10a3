"""The bad-input corpus: every case of every group must end "precise" or "equal".

The groups run in subprocesses (two at a time, see runner.py); the failure lists every case
that did not, with what happened. `python -m tests.corpus.runner` prints the same as a table.
"""
from __future__ import annotations

import importlib

from tests.corpus import runner
from tests.corpus.case import Case


def test_every_case_is_good():
    results = runner.run_all(jobs=2)
    bad = runner.bad(results)
    assert not bad, runner.report(results)


def test_groups_are_well_formed():
    """Unique names, known expectations, and a marker for each case that wants one."""
    total = 0
    for name in runner.group_names():
        mod = importlib.import_module(f"tests.corpus.groups.{name}")
        names = [c.name for c in mod.CASES]
        assert len(names) == len(set(names)), f"{name}: duplicate case names"
        assert runner.marked_lines(mod.__file__) or all(
            c.where != "line" for c in mod.CASES), f"{name}: no '# ERR' markers"
        for c in mod.CASES:
            assert isinstance(c, Case) and c.expect in ("error", "python"), (name, c.name)
            assert c.category, f"{name}.{c.name}: no category"
            assert c.expect == "error" or c.python is not None, (name, c.name)
        total += len(mod.CASES)
    assert total >= 150
