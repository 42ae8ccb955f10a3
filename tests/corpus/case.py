"""One case of the bad-input corpus: what to run, and what a good outcome is.

A group module (`tests/corpus/groups/<name>.py`) is a real Python file (adcompile compiles
source) that defines the user functions its cases call and a list `CASES` of `Case`s. The
runner (`tests/corpus/runner.py`) runs each group in its own subprocess with a timeout and
classifies every case's outcome as one of `OUTCOMES`; the test fails on anything but
"precise" and "equal".

Two kinds of expectation:

* `expect="error"`: the input is misuse. Good outcome ("precise"): `run()` raises an
  `adcompile.AdError` (not `InternalError`) that is an instance of `error`, carries a hint,
  and names where the mistake is: `where="line"` means the error's `filename` is this group's
  file and its `lineno` is a line of it marked `# ERR`; any other string must occur in
  `str(err)` (an argument's name, a path, both shapes...).
* `expect="python"`: the input is valid (or CPython itself raises): good outcome ("equal"):
  `run()` and `python()` both return equal values (same shape and kind, `np.allclose` with
  NaNs equal), or both raise the same exception class. Rejecting a valid input with a
  precise `AdError` (as for `expect="error"`, `where` permitting) counts as "precise".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

OUTCOMES = ("precise", "equal", "vague", "internal", "wrong", "crash", "hang")
GOOD = ("precise", "equal")


@dataclass
class Case:
    name: str                              # unique in its group
    run: Callable[[], object]              # calls adcompile; returns a value or raises
    expect: str = "error"                  # "error" | "python"
    error: type | tuple = Exception        # "error": the adcompile error class(es) wanted
    where: str | None = "line"             # "line", a substring of str(err), or None
    python: Callable[[], object] | None = None   # "python": the CPython reference
    category: str = ""                     # syntax, types, library, api, runtime, cli, abi...
