"""Checkpointed reverse mode gives the store-all gradient.

Every catalog program with a loop is differentiated under each policy and compared with the
store-all vjp, on the IR interpreter (no compile: the whole catalog is cheap) to 1e-12; then a
few programs run compiled on both backends, the per-loop `adcompile.checkpointed(...)` marker
is checked, and the LLVM runtime's byte counter shows the tape shrinking.
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad
from adcompile.driver.compile import build_ir
from adcompile.driver.transforms import VJP
from adcompile.ir.interpreter import run_function
from adcompile.ir.types import ArrayType, scalar_of
from adcompile.signature import bind_defaults, signature_of
from adcompile.checkpointing import Binomial, Every, Snapshots, Sqrt, parse_policy

from adcompile.driver.options import CompileOptions

from ._util import assert_close, fresh, is_float_arg, load_sibling, parts

LLVM = CompileOptions.from_env(backend="llvm")

CATALOG = load_sibling("catalog").CATALOG
POLICIES = [Every(1), Every(2), Sqrt(), Snapshots(3), Snapshots(2, levels=2), Binomial(1),
            Binomial(3), Binomial(memory=200)]


def _checkpointed(fn) -> bool:
    return any(op.attrs.get("recompute") or "revolve_snapshots" in op.attrs
               or "revolve_memory" in op.attrs for op in fn.walk())


def _has_top_loop(fn) -> bool:
    return any(op.prim in ("for", "while") for op in fn.body.ops)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_policies_match_store_all(name):
    case = CATALOG[name]
    f = case.fn
    args = bind_defaults(f, case.args())
    sig = signature_of(f, args)
    active = tuple(is_float_arg(a) for a in args)
    base = build_ir(f, sig, VJP(active))
    if not _has_top_loop(base["primal"]):
        pytest.skip("no top-level loop")
    rng = np.random.default_rng(5)
    outs = base["primal"].result_types
    first = parts(run_function(base["primal"], list(fresh(args))))
    cots = []
    for t, o in zip(outs, first):
        if scalar_of(t).is_float:
            c = rng.standard_normal(o.shape).astype(scalar_of(t).np_dtype)
            cots.append(c if isinstance(t, ArrayType) else scalar_of(t).np_dtype.type(c))
    want = parts(run_function(base["optimized"], list(fresh(args) + tuple(cots))))
    tol = 1e-5 if case.f32 else 1e-12
    for pol in POLICIES:
        st = build_ir(f, sig, VJP(active, checkpoint=pol))
        assert _checkpointed(st["vjp"]), pol
        got = parts(run_function(st["optimized"], list(fresh(args) + tuple(cots))))
        for g, w in zip(got, want):
            assert_close(g, w, tol, tol, f"{name}: {pol} vs store-all")


def _sim(u0, alpha, steps):
    u = u0.copy()
    n = u.shape[0]
    for t in range(steps):
        v = u.copy()
        for i in range(1, n - 1):
            v[i] = u[i] + alpha * np.tanh(u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = v
    return np.sum(u * u)


def _marked(u0, alpha, steps):
    u = u0.copy()
    n = u.shape[0]
    s = 0.0
    for t in ad.checkpointed(range(steps), snapshots=4):
        for i in range(1, n - 1):
            u[i] = u[i] + alpha * np.tanh(u[i - 1] - 2.0 * u[i] + u[i + 1])
        s += u[n // 2] * alpha
    return np.sum(u * u) + s


def _unmarked(u0, alpha, steps):
    u = u0.copy()
    n = u.shape[0]
    s = 0.0
    for t in range(steps):
        for i in range(1, n - 1):
            u[i] = u[i] + alpha * np.tanh(u[i - 1] - 2.0 * u[i] + u[i + 1])
        s += u[n // 2] * alpha
    return np.sum(u * u) + s


U0 = np.linspace(0.0, 1.0, 16) ** 2


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_compiled_checkpointing_matches_store_all(backend):
    want = ad.grad(_sim, argnums=(0, 1), backend=backend)(U0, 0.1, 41)
    for pol in ("sqrt", ("snapshots", 3, 2)) if backend == "llvm" else (("snapshots", 3, 2),):
        got = ad.grad(_sim, argnums=(0, 1), backend=backend, checkpoint=pol)(U0, 0.1, 41)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13, atol=1e-15)
        assert got[1] == pytest.approx(want[1], rel=1e-13)
    # the per-loop marker: same numbers as the unmarked loop, recomputed
    g1 = ad.grad(_marked, argnums=(0, 1), backend=backend)(U0, 0.1, 23)
    g2 = ad.grad(_unmarked, argnums=(0, 1), backend=backend)(U0, 0.1, 23)
    np.testing.assert_allclose(g1[0], g2[0], rtol=1e-13, atol=1e-15)
    assert g1[1] == pytest.approx(g2[1], rel=1e-13)
    eps = 1e-6
    fd = (_unmarked(U0, 0.1 + eps, 23) - _unmarked(U0, 0.1 - eps, 23)) / (2 * eps)
    assert g1[1] == pytest.approx(fd, rel=1e-6)


def test_checkpointing_bounds_tape_memory():
    """The LLVM runtime counts bytes per call: the peak shrinks from O(n) to O(sqrt(n)).
    (An in-place loop: arrays a loop allocates stay in the call's arena until it returns.)"""
    from adcompile.derivatives import specialize
    args = (U0, 0.1, 400)
    peaks = {}
    for pol in (None, "sqrt"):
        sp = specialize(_unmarked, args, VJP((True, True, False),
                                             checkpoint=parse_policy(pol)), LLVM)
        sp.call(*args, 1.0)
        peaks[pol] = sp.call.peak_bytes
    assert peaks["sqrt"] < peaks[None] / 5, peaks


def test_bad_policies_are_rejected():
    with pytest.raises(ad.AdError, match="unknown checkpoint policy"):
        ad.grad(_sim, checkpoint="binomial-ish")
    with pytest.raises(ad.AdError, match="positive int"):
        ad.grad(_sim, checkpoint=("every", 0))


def _observe(a, x, steps):
    obs = np.zeros(steps)
    s = 0.0
    for t in range(steps):
        s = s + a * x[0]
        if t % 2 == 0:
            obs[t] = s
    return np.sum(obs)


def test_conditionally_written_array_is_not_taped():
    """An array written under a branch in a loop: the adjoint needs only its shape, so reverse
    mode must neither tape nor copy it per step (that made the gradient O(n^2))."""
    for backend in ("numba", "llvm"):
        g = ad.grad(_observe, backend=backend)
        n = 50
        assert g(0.5, np.ones(3), n) == pytest.approx(sum(t + 1 for t in range(0, n, 2)))
        assert "obs_tape" not in g.source
        # no copy inside a loop (the function body is indented 4: a loop body deeper)
        in_loops = [ln for ln in g.source.splitlines()
                    if ".copy()" in ln and len(ln) - len(ln.lstrip()) > 4]
        assert not in_loops, (backend, in_loops)


def _newton_like(x, tol):
    y = x
    s = 0.0
    it = 0
    while abs(y) > tol and it < 1000:
        y = y - 0.3 * np.sin(y) * (1.0 + 0.1 * x)
        s += y * y
        it += 1
    return s + y


def _first_passage(x, a):
    s = 0.0
    for i in ad.checkpointed(range(x.shape[0]), every=4):
        s += np.tanh(a * x[i])
        if s > 3.0:
            break
    return s


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_while_loops_checkpoint_online(backend):
    """Unknown trip counts: segments are placed as the loop runs (fixed k, or growing by one
    per segment for O(sqrt(n)) memory), and the gradient equals store-all's."""
    want = ad.grad(_newton_like, backend=backend)(1.3, 1e-9)
    for pol in ("sqrt", ("every", 3)):
        assert ad.grad(_newton_like, backend=backend, checkpoint=pol)(1.3, 1e-9) == \
            pytest.approx(want, rel=1e-13)
    x = np.linspace(0.1, 1.0, 40)
    got = ad.grad(_first_passage, argnums=(0, 1), backend=backend)(x, 0.7)
    assert got[1] == pytest.approx(4.1470470891518225, rel=1e-12)
    eps = 1e-6
    fd = (_first_passage(x, 0.7 + eps) - _first_passage(x, 0.7 - eps)) / (2 * eps)
    assert got[1] == pytest.approx(fd, rel=1e-6)


def _marked_binomial(u0, alpha, steps):
    u = u0.copy()
    n = u.shape[0]
    s = 0.0
    for t in ad.checkpointed(range(steps), binomial=3):
        for i in range(1, n - 1):
            u[i] = u[i] + alpha * np.tanh(u[i - 1] - 2.0 * u[i] + u[i + 1])
        s += u[n // 2] * alpha
    return np.sum(u * u) + s


def _marked_memory(u0, alpha, steps):
    u = u0.copy()
    n = u.shape[0]
    s = 0.0
    for t in ad.checkpointed(range(steps), memory="1KB"):
        for i in range(1, n - 1):
            u[i] = u[i] + alpha * np.tanh(u[i - 1] - 2.0 * u[i] + u[i + 1])
        s += u[n // 2] * alpha
    return np.sum(u * u) + s


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_binomial_matches_store_all(backend):
    """The revolve schedule: snapshots pushed and popped as the reverse sweep goes, each
    restored state advanced in a private copy; gradients equal store-all's bit for bit."""
    # every schedule on LLVM; numba (compiles ~10x slower) runs one of each kind
    full = backend == "llvm"
    for fn, steps in ((_sim, 41), (_unmarked, 23)) if full else ((_sim, 41),):
        want = ad.grad(fn, argnums=(0, 1), backend=backend)(U0, 0.1, steps)
        for pol in (("binomial", 1), ("binomial", 3), ("binomial", "1KB")) if full else \
                (("binomial", 3),):
            got = ad.grad(fn, argnums=(0, 1), backend=backend, checkpoint=pol)(U0, 0.1, steps)
            np.testing.assert_array_equal(got[0], want[0])
            assert got[1] == want[1], pol
    want = ad.grad(_unmarked, argnums=(0, 1), backend=backend)(U0, 0.1, 23)
    for fn in (_marked_binomial, _marked_memory) if full else (_marked_binomial,):
        got = ad.grad(fn, argnums=(0, 1), backend=backend)(U0, 0.1, 23)
        np.testing.assert_array_equal(got[0], want[0])
        assert got[1] == want[1]
    # no steps, one step
    for steps in (0, 1):
        assert ad.grad(_unmarked, argnums=1, backend=backend, checkpoint=("binomial", 2))(
            U0, 0.1, steps) == ad.grad(_unmarked, argnums=1, backend=backend)(U0, 0.1, steps)


def test_binomial_memory_does_not_grow_with_steps():
    """LLVM byte counter: 8 snapshots of a 16-element state hold the same few KB over 400 or
    4000 steps, where store-all tapes every overwritten element of every step."""
    from adcompile.derivatives import specialize
    peaks = {}
    for pol in ("store-all", ("binomial", 8)):
        for steps in (400, 4000):
            args = (U0, 0.1, steps)
            sp = specialize(_unmarked, args, VJP((True, True, False),
                                                 checkpoint=parse_policy(pol)), LLVM)
            sp.call(*args, 1.0)
            peaks[pol, steps] = sp.call.peak_bytes
    assert peaks[("binomial", 8), 4000] == peaks[("binomial", 8), 400], peaks
    assert peaks[("binomial", 8), 400] < 8 * 1024, peaks
    assert peaks["store-all", 4000] > 9 * peaks["store-all", 400] > 80 * 1024, peaks


def _long_loop(x, n):
    s = 0.0
    y = x
    for t in range(n):
        y = np.sin(y) + 0.1 * t
        s += y * y
    return s


def _long_loop_off(x, n):
    s = 0.0
    y = x
    for t in range(n):
        y = np.sin(y) + 0.1 * t
        s += y * y
    return s


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_automatic_checkpointing_above_the_tape_limit(backend, monkeypatch):
    """Without a policy, a loop whose tape estimate exceeds ADCOMPILE_TAPE_LIMIT stops before
    taping; the API warns and recomputes with binomial checkpointing: same gradient."""
    import warnings
    monkeypatch.setenv("ADCOMPILE_TAPE_LIMIT", "20KB")
    g = ad.grad(_long_loop, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = g(0.3, 100)            # 100 steps fit: no warning
    with pytest.warns(RuntimeWarning, match="binomial checkpointing"):
        big = g(0.3, 5000)
    ref = ad.grad(_long_loop, backend=backend, checkpoint="store-all")
    assert small == ref(0.3, 100)
    assert big == ref(0.3, 5000)
    with pytest.warns(RuntimeWarning, match="binomial"):
        _, f_vjp = ad.vjp(_long_loop, 0.3, 5000)
        assert f_vjp(1.0)[0] == big


def test_tape_limit_off_and_explicit_policies_emit_no_check(monkeypatch):
    from adcompile.driver.compile import build_ir
    from adcompile.signature import signature_of
    monkeypatch.setenv("ADCOMPILE_TAPE_LIMIT", "off")
    sig = signature_of(_long_loop_off, (0.3, 10))
    ops = {op.prim for op in build_ir(_long_loop_off, sig, VJP((True, False)))["vjp"].walk()}
    assert "tape_budget" not in ops
    monkeypatch.setenv("ADCOMPILE_TAPE_LIMIT", "1GB")
    ops = {op.prim for op in build_ir(_long_loop_off, sig, VJP((True, False)))["vjp"].walk()}
    assert "tape_budget" in ops
    st = build_ir(_long_loop_off, sig, VJP((True, False), checkpoint=parse_policy("store-all")))
    assert "tape_budget" not in {op.prim for op in st["vjp"].walk()}


def test_bad_binomial_budgets_are_rejected():
    with pytest.raises(ad.AdError, match="needs a budget"):
        ad.grad(_sim, checkpoint="binomial")
    with pytest.raises(ad.AdError, match="memory='lots'"):
        ad.grad(_sim, checkpoint="binomial", memory="lots")
    with pytest.raises(ad.AdError, match="memory= goes with"):
        ad.grad(_sim, checkpoint="sqrt", memory="1MB")
    assert parse_policy("binomial", memory="1.5 KiB").memory == 1536
    assert parse_policy(("binomial", "2MB")).memory == 2_000_000


def _bad_memory(x, n):
    s = 0.0
    for t in ad.checkpointed(range(n), memory="lots"):
        s += x
    return s


def _two_kinds(x, n):
    s = 0.0
    for t in ad.checkpointed(range(n), binomial=4, every=2):
        s += x
    return s


def test_bad_loop_markers_name_the_line():
    with pytest.raises(ad.UnsupportedSyntax, match=r"test_checkpoint.py:\d+.*memory='lots'"):
        ad.grad(_bad_memory)(1.0, 3)
    with pytest.raises(ad.UnsupportedSyntax, match="not binomial= and every=|not every= and "
                       "binomial="):
        ad.grad(_two_kinds)(1.0, 3)


def _inner_binomial(x, a, n, m):
    s = 0.0
    for k in range(m):
        y = x * (1.0 + 0.1 * k)
        for t in ad.checkpointed(range(n), binomial=3):
            y = np.sin(y) * a + 0.1 * t
            s += y * y
    return s


def _inner_plain(x, a, n, m):
    s = 0.0
    for k in range(m):
        y = x * (1.0 + 0.1 * k)
        for t in range(n):
            y = np.sin(y) * a + 0.1 * t
            s += y * y
    return s


def _down_binomial(x, n):
    y = x
    for t in ad.checkpointed(range(n, 2, -3), binomial=2):
        y = np.cos(y) + 0.01 * t
    return y


def _down_plain(x, n):
    y = x
    for t in range(n, 2, -3):
        y = np.cos(y) + 0.01 * t
    return y


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_binomial_loop_nested_in_a_loop_and_counting_down(backend):
    """A marked loop inside an outer loop reads the outer iteration's values through the
    outer tapes; a negative step range is scheduled by its trip count."""
    got = ad.grad(_inner_binomial, argnums=(0, 1), backend=backend)(0.3, 0.9, 7, 3)
    assert got == ad.grad(_inner_plain, argnums=(0, 1), backend=backend)(0.3, 0.9, 7, 3)
    assert ad.grad(_down_binomial, backend=backend)(0.4, 20) == \
        ad.grad(_down_plain, backend=backend)(0.4, 20)
