"""The emitted CUDA C, built for the host (nvcc when present, else g++ with the CUDA
qualifiers defined away) and run on the CPU through its batched host entry, equals the CPU
paths instance by instance on the whole program catalog: primal and reverse mode (a random
cotangent per float output), float64 to 1e-12, against the IR interpreter on every program
and against the LLVM backend on every sixth (every program with ADCOMPILE_FULL_CATALOG=1:
the LLVM compiles take a minute); plus shared-argument adjoint sums, a
runtime-length while loop in reverse mode, scratch exhaustion reported as an error, and PTX
for sm_80 and sm_90 (skipped without nvcc).

One host library holds every catalog kernel (one compile for the module)."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import adcompile as ad
from adcompile.backends import cuda_backend
from adcompile.backends.cuda_kernel import KernelLayout
from adcompile.derivatives import specialize
from adcompile.driver.compile import build_ir
from adcompile.driver.options import CompileOptions
from adcompile.driver.transforms import VJP
from adcompile.ir.interpreter import run_function
from adcompile.ir.types import ArrayType, scalar_of
from adcompile.signature import bind_defaults, signature_of

from ..ad._util import fresh, is_float_arg, load_sibling, parts

CUDA = CompileOptions.from_env(backend="cuda")
LLVM = CompileOptions.from_env(backend="llvm")
CATALOG = load_sibling("catalog").CATALOG
NB = 3   # instances per program
LLVM_NAMES = set(sorted(CATALOG)[::6]) if not os.environ.get("ADCOMPILE_FULL_CATALOG") \
    else set(CATALOG)


def _instances(case, rng):
    """NB argument tuples of one shape: the catalog's, float arguments scaled slightly."""
    base = bind_defaults(case.fn, case.args())
    out = []
    for k in range(NB):
        s = 1.0 + 0.01 * k
        out.append(tuple(a * a.dtype.type(s) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
                         else (a * s if isinstance(a, float) else a) for a in fresh(base)))
    return out


def _cotangents(fn_primal, args, rng):
    cots = []
    for t, o in zip(fn_primal.result_types, parts(run_function(fn_primal, list(fresh(args))))):
        if scalar_of(t).is_float:
            c = rng.standard_normal(np.shape(o)).astype(scalar_of(t).np_dtype)
            cots.append(c if isinstance(t, ArrayType) else scalar_of(t).np_dtype.type(c))
    return tuple(cots)


class Setup:
    def __init__(self):
        self.items, self.meta = [], []
        for name in sorted(CATALOG):
            case = CATALOG[name]
            rng = np.random.default_rng(sum(map(ord, name)))
            insts = _instances(case, rng)
            sig = signature_of(case.fn, insts[0])
            active = tuple(is_float_arg(a) for a in insts[0])
            for mode, transform in (("primal", None), ("vjp", VJP(active))):
                stages = build_ir(case.fn, sig, transform, CUDA)
                fn = stages["backend"]
                calls = insts
                if mode == "vjp":
                    cots = [_cotangents(stages["primal"], a, rng) for a in insts]
                    calls = [a + c for a, c in zip(insts, cots)]
                batched = tuple(not isinstance(x, (int, np.integer)) or isinstance(x, bool)
                                for x in calls[0])
                layout = KernelLayout(batched, (None,) * len(fn.result_types))
                self.items.append((fn, f"{name}_{mode}", layout))
                self.meta.append((name, mode, transform, calls, batched, len(insts[0]),
                                  stages["optimized" if transform else "primal"]))
        self.kernels = cuda_backend.host_kernels(self.items)


_SETUP: list[Setup] = []


@pytest.fixture(scope="module")
def setup() -> Setup:
    if not _SETUP:
        _SETUP.append(Setup())
    return _SETUP[0]


def _stack(calls, batched):
    return [np.stack([np.asarray(c[j]) for c in calls]) if bat else calls[0][j]
            for j, bat in enumerate(batched)]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_on_the_cuda_c_host_build(setup, name):
    case = CATALOG[name]
    rtol, atol = (1e-5, 1e-6) if case.f32 else (1e-12, 1e-13)
    for kernel, (nm, mode, transform, calls, batched, n, ref) in zip(setup.kernels,
                                                                      setup.meta):
        if nm != name:
            continue
        got = kernel.run(_stack(calls, batched), NB)
        for i, call in enumerate(calls):
            wants = [("interpreter", parts(run_function(ref, list(fresh(call)))))]
            if name in LLVM_NAMES:
                sp = specialize(case.fn, call[:n], transform, LLVM)
                wants.append(("llvm", parts(sp.call(*fresh(call)))))
            for what, want in wants:
                for k, w in enumerate(want):
                    scale = 1 + np.max(np.abs(w), initial=0)
                    np.testing.assert_allclose(got[k][i], w, rtol=rtol, atol=atol * scale,
                                               err_msg=f"{name} {mode} instance {i} result "
                                                       f"{k} vs {what}")


# -- the batch layout: shared arguments, sums, errors, PTX --------------------------------------
def _particle_batch():
    import batch_models as bm
    g = ad.grad(bm.particle, argnums=(0, 1), backend="llvm")
    return g, ad.batch(g, in_axes=(0, None))


_HOST: dict = {}


def _host_kernel(b, args):
    """The batch's CUDA C (shared k, its adjoint summed with adc_atomic_add) on the host."""
    from adcompile.batching.cuda import lowered
    if "k" not in _HOST:
        fn, layout, _, _ = lowered(b, args)
        _HOST["k"] = cuda_backend.host_kernels([(fn, "particle_grad_batch", layout)])[0]
    return _HOST["k"]


def test_shared_adjoints_are_summed_by_the_cuda_c_kernel():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 3))
    k = np.array([1.3, 0.2, 0.01])   # 100 steps of a while loop per instance
    g, b = _particle_batch()
    kern = _host_kernel(b, (X, k))
    assert kern.layout.reduce == (None, 1)
    gx, gk = kern.run([X, k], len(X))
    cx, ck = b(X, k)
    np.testing.assert_allclose(gx, cx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gk, ck, rtol=1e-12)


def test_a_scratch_slice_too_small_is_an_error_not_a_wrong_result(monkeypatch):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(2, 3))
    k = np.array([1.3, 0.2, 1e-4])   # 10^4 steps: tapes larger than the slice
    g, b = _particle_batch()
    kern = _host_kernel(b, (X, k))
    monkeypatch.setattr(cuda_backend, "HOST_SCRATCH_MAX", 1 << 16)
    monkeypatch.setattr(cuda_backend, "HOST_SCRATCH", 1 << 16)
    with pytest.raises(MemoryError, match="scratch_per_thread"):
        kern.run([X, k], len(X))
    monkeypatch.undo()
    gx, gk = kern.run([X, k], len(X))   # the host retries with larger slices
    np.testing.assert_allclose(gx[1], g(X[1], k)[0], rtol=1e-12)


def test_jit_on_the_cuda_backend_runs_the_host_build():
    import batch_models as bm
    x, k = np.array([0.3, -0.2, 0.5]), np.array([1.3, 0.2, 0.05])
    got = ad.grad(bm.particle, argnums=(0, 1), backend="cuda")(x, k)
    want = ad.grad(bm.particle, argnums=(0, 1), backend="llvm")(x, k)
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-13)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_the_kernel_compiles_to_ptx(arch):
    rng = np.random.default_rng(5)
    X, k = rng.normal(size=(4, 3)), np.array([1.3, 0.2, 0.01])
    from adcompile.batching.cuda import cuda_source
    src = cuda_source(_particle_batch()[1], (X, k), "particle_grad_batch")
    assert "__global__ void particle_grad_batch_kernel" in src.cu
    assert "particle_grad_batch_kernel(" in src.cuh and "scratch_per_thread" in src.cuh
    text = cuda_backend.ptx(src, arch)
    assert f".target {arch}" in text and ".entry particle_grad_batch_kernel" in text
    assert "atom.global.add.f64" in text   # the shared adjoint's sum


def test_cli_builds_cuda_kernels(tmp_path):
    from pathlib import Path

    from adcompile.cli import main
    model = Path(__file__).resolve().parents[2] / "benchmarks" / "batch_models.py"
    rc = main(["build", f"{model}:particle", "--mode", "primal,grad", "--signature",
               "f64[:], f64[:]", "--target", "cuda", "--shared", "k", "--out", str(tmp_path)])
    assert rc == 0
    cu = (tmp_path / "particle.cu").read_text()
    cuh = (tmp_path / "particle.cuh").read_text()
    assert "particle_grad_kernel" in cu and "adc_atomic_add(&out2[e]" in cu
    assert "the adjoint of shared argument 'k' summed over the batch" in cuh
    assert (tmp_path / "adcompile_device.cuh").exists()
    if shutil.which("nvcc"):
        for arch in ("sm_80", "sm_90"):
            assert f".target {arch}" in (tmp_path / f"particle.{arch}.ptx").read_text()
