"""The runner's classification, on cases whose outcome is known (no compiling)."""
from __future__ import annotations

import numpy as np

from adcompile import AdError, InternalError, TypeInferenceError
from tests.corpus.case import Case
from tests.corpus.runner import classify, run_group, same_value


def _raise(e):
    def run():
        raise e
    return run


F = __file__


def test_outcomes():
    ok = AdError("m", None, "a hint")
    assert classify(Case("a", _raise(ok), where="m"), F)[0] == "precise"
    assert classify(Case("a", _raise(ok), where="zz"), F)[0] == "vague"
    assert classify(Case("a", _raise(AdError("m")), where="m"), F)[0] == "vague"   # no hint
    assert classify(Case("a", _raise(ok), error=TypeInferenceError, where=None), F)[0] == "vague"
    assert classify(Case("a", _raise(InternalError("m")), where=None), F)[0] == "internal"
    assert classify(Case("a", _raise(KeyError("k")), where=None), F)[0] == "internal"
    assert classify(Case("a", lambda: 1.0, where=None), F)[0] == "wrong"
    py = {"expect": "python", "where": None}
    assert classify(Case("a", lambda: 1.0, python=lambda: 1.0, **py), F)[0] == "equal"
    assert classify(Case("a", lambda: 1.0, python=lambda: 2.0, **py), F)[0] == "wrong"
    assert classify(Case("a", _raise(IndexError()), python=_raise(IndexError()), **py),
                    F)[0] == "equal"
    assert classify(Case("a", _raise(ValueError()), python=_raise(IndexError()), **py),
                    F)[0] == "internal"
    assert classify(Case("a", lambda: 1.0, python=_raise(IndexError()), **py), F)[0] == "wrong"
    assert classify(Case("a", _raise(ok), python=lambda: 1.0, **py), F)[0] == "precise"


def test_same_value():
    assert same_value((1.0, np.ones(2)), (1.0, np.ones(2)))
    assert not same_value(np.ones(2), np.ones(3))
    assert not same_value(np.ones(2), np.ones(2, dtype=np.float32))
    assert not same_value(np.ones(1), 1.0)
    assert same_value(np.array([np.nan]), np.array([np.nan]))
    assert not same_value(1, 1.0)   # an int where CPython gives a float
    assert not same_value(np.int64(1), 1.0)


def test_crash_and_hang_are_pinned_to_their_cases():
    """The group dies at 'crashes'; the rerun one case per process finds 'hangs' too and
    still reports the good cases."""
    got = {r.case: r.outcome for r in run_group("tests.corpus.selftest.crashy", timeout=60,
                                                case_timeout=8)}
    assert got == {"fine": "equal", "crashes": "crash", "hangs": "hang", "fine_after": "equal"}
