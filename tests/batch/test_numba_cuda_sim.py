"""batch(..., target="cuda") as numba-cuda kernels under the CUDA simulator (tiny grids: every
simulated thread is a Python thread) agrees with the CPU batch: shared-argument adjoint sums,
a runtime-length while loop in reverse mode (its tapes grown in the thread's scratch slice,
also past the first slice size), the BA per-observation Jacobian, and the whole program
catalog in reverse mode (vs the interpreter); without a GPU or the simulator the error names what is missing.

The simulator is switched on before numba-cuda is first imported (skipped when it was
imported without it)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

if "numba.cuda" in sys.modules:
    from numba import config as _config
    if not getattr(_config, "ENABLE_CUDASIM", 0):
        pytest.skip("numba.cuda was imported without the simulator", allow_module_level=True)
else:
    pytest.importorskip("numba_cuda")
    import numba
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    numba.core.config.reload_config()
    from numba import cuda  # noqa: F401  (imported now: the simulator)
    del os.environ["NUMBA_ENABLE_CUDASIM"]

import adcompile as ad  # noqa: E402
import batch_models as bm  # noqa: E402
from adcompile.backends import numba_cuda_backend  # noqa: E402
from adcompile.backends.cuda_kernel import KernelLayout  # noqa: E402
from adcompile.driver.compile import build_ir  # noqa: E402
from adcompile.driver.options import CompileOptions  # noqa: E402
from adcompile.driver.transforms import VJP  # noqa: E402
from adcompile.ir.interpreter import run_function  # noqa: E402
from adcompile.signature import signature_of  # noqa: E402

from ..ad._util import fresh, is_float_arg, load_sibling, parts  # noqa: E402
from .test_cuda_c_host import NB, _cotangents, _instances, _stack  # noqa: E402

RNG = np.random.default_rng(11)
X = RNG.normal(size=(6, 3))
K = np.array([1.3, 0.2, 0.1])
G = ad.grad(bm.particle, argnums=(0, 1), backend="llvm")
CATALOG = load_sibling("catalog").CATALOG


def test_batched_grad_of_a_while_loop_with_shared_sums():
    gx, gk = ad.batch(G, in_axes=(0, None), target="cuda")(X, K)
    cx, ck = ad.batch(G, in_axes=(0, None))(X, K)
    np.testing.assert_allclose(gx, cx, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gk, ck, rtol=1e-12)


def test_long_while_loops_grow_past_the_first_scratch_slice():
    k = np.array([1.3, 0.2, 1.0 / 700])   # 700 steps x 7 taped values > 2048 per thread
    gx, gk = ad.batch(G, in_axes=(0, None), target="cuda")(X[:2], k)
    cx, ck = ad.batch(G, in_axes=(0, None))(X[:2], k)
    np.testing.assert_allclose(gx, cx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gk, ck, rtol=1e-12)


def test_ba_jacobian_per_observation():
    cams = RNG.normal(size=(4, 11)) * 0.1
    cams[:, 5] -= 5.0
    cams[:, 6] += 1.0
    pts, w = RNG.normal(size=(4, 3)), RNG.uniform(0.5, 1.5, size=4)
    jf = ad.jacfwd(bm.reprojection, argnums=(0, 1), backend="llvm")
    b = ad.batch(jf, target="cuda")
    jc, jx = b(cams, pts, w)
    rc, rx = ad.batch(jf)(cams, pts, w)
    np.testing.assert_allclose(jc, rc, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(jx, rx, rtol=1e-13, atol=1e-15)
    assert "@cuda.jit" in b.source and "cuda.grid(1)" in b.source


CUDA = CompileOptions.from_env(backend="numba_cuda")


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_reverse_mode_in_the_simulator(name):
    case = CATALOG[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    insts = _instances(case, rng)
    active = tuple(is_float_arg(a) for a in insts[0])
    stages = build_ir(case.fn, signature_of(case.fn, insts[0]), VJP(active), CUDA)
    calls = [a + _cotangents(stages["primal"], a, rng) for a in insts]
    batched = tuple(not isinstance(x, (int, np.integer)) or isinstance(x, bool)
                    for x in calls[0])
    fn = stages["backend"]
    kernel = numba_cuda_backend.Kernel(fn, KernelLayout(batched, (None,) * len(
        fn.result_types)), f"cat_{name}")
    wants = [parts(run_function(stages["optimized"], list(fresh(c)))) for c in calls]
    dims = [np.shape(w) for w in wants[0]]
    got = kernel.launch(_stack(calls, batched), NB, dims)
    rtol = 1e-5 if case.f32 else 1e-12
    for i, want in enumerate(wants):
        for k, w in enumerate(want):
            np.testing.assert_allclose(got[k][i], w, rtol=rtol,
                                       atol=rtol * (1 + np.max(np.abs(w), initial=0)),
                                       err_msg=f"{name} instance {i} result {k}")


def test_without_a_gpu_the_error_names_what_is_missing(monkeypatch):
    from numba import cuda
    monkeypatch.setattr(numba_cuda_backend, "simulated", lambda: False)
    monkeypatch.setattr(cuda, "is_available", lambda: False, raising=False)
    with pytest.raises(ad.AdError, match="no CUDA GPU or driver was found") as e:
        ad.batch(G, in_axes=(0, None), target="cuda")(X, K)
    assert "NUMBA_ENABLE_CUDASIM=1" in e.value.hint
