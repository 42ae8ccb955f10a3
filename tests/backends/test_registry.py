"""Every registered backend lowers every primitive that can reach it: what its module writes
(`LOWERS`) plus what its pipeline removes first (`Pass.removes`) covers the primitive set."""
from __future__ import annotations

import pytest

from adcompile.backends import BACKENDS, get_backend
from adcompile.driver.options import CompileOptions
from adcompile.errors import AdError
from adcompile.ir.primitives import PRIMITIVES
from adcompile.transforms.pipeline import PASSES, backend_pipeline


@pytest.mark.parametrize("name", sorted(BACKENDS))
@pytest.mark.parametrize("lowered", [None, True, False])
def test_backend_lowers_every_primitive(name, lowered):
    spec = get_backend(name)
    module = spec.load()
    lowers = set(module.LOWERS)
    assert lowers <= set(PRIMITIVES), f"{name}: stale entries {sorted(lowers - set(PRIMITIVES))}"
    options = CompileOptions(backend=name, lower_arrays=lowered)
    removed = set().union(*(PASSES[p].removes for p in backend_pipeline(options)))
    missing = set(PRIMITIVES) - lowers - removed
    assert not missing, f"{name} (lowered={options.lowered}) cannot lower {sorted(missing)}"


def test_unknown_backends_are_rejected_at_the_api():
    with pytest.raises(AdError, match="unknown backend 'cuda2'"):
        CompileOptions(backend="cuda2")


def test_the_default_backend_comes_from_ADCOMPILE_BACKEND():
    assert CompileOptions.from_env({}).backend == CompileOptions.backend
    for name in BACKENDS:
        assert CompileOptions.from_env({"ADCOMPILE_BACKEND": name}).backend == name
        # a keyword of the API wins over the environment
        other = next(b for b in BACKENDS if b != name)
        assert CompileOptions.from_env({"ADCOMPILE_BACKEND": name},
                                       backend=other).backend == other


def test_an_unknown_ADCOMPILE_BACKEND_is_named():
    with pytest.raises(AdError, match="ADCOMPILE_BACKEND='cuda2' is not a backend") as e:
        CompileOptions.from_env({"ADCOMPILE_BACKEND": "cuda2"})
    assert "numba" in e.value.hint and "llvm" in e.value.hint
