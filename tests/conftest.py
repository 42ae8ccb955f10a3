"""Hypothesis profiles for the whole suite.

The suite (and CI) runs the `repeatable` profile: every property test draws the same examples
on every machine, so a red run is a regression, reproducible by rerunning it, and not a new
draw of the random-program generator. New draws are the on-demand hunts' job:
`python -m pytest tests --hypothesis-profile=explore` (fresh examples each run) or the fuzzer
`python -m tests.fuzz` (docs/testing.md).
"""
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("repeatable")
