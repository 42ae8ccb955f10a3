"""A group for the runner's own test: one good case, one that kills its interpreter, one
that never returns. Not part of the corpus (it lives outside groups/)."""
import os
import time

from tests.corpus.case import Case


def _crash():
    os.abort()


def _hang():
    time.sleep(600)


CASES = [
    Case("fine", run=lambda: 1.0, expect="python", python=lambda: 1.0, category="selftest"),
    Case("crashes", run=_crash, category="selftest", where=None),
    Case("hangs", run=_hang, category="selftest", where=None),
    Case("fine_after", run=lambda: 2.0, expect="python", python=lambda: 2.0,
         category="selftest"),
]
