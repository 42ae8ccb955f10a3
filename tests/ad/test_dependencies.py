"""Dependency mode (ad/dependencies.py): the bitset patterns of `jacobian_sparsity` against the
float passes with NaN seeds (an independent route through vector forward mode), against dense
`jacfwd` nonzeros, and against patterns written down by hand; passes split over words and
bitset passes; the fallback for derivative code that has no bitset form."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings

pytest.importorskip("scipy.sparse")

import adcompile as ad  # noqa: E402
from adcompile.ad.dependencies import Unmapped  # noqa: E402
from adcompile.derivatives import _bits_pass, _lanes_pass  # noqa: E402
from adcompile.jacobian import sparsity  # noqa: E402

from . import catalog  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import programs as progs  # noqa: E402


def _patterns(f, args, i, backend="llvm", words=1, lanes=5):
    """(bitset pattern, NaN pattern): small words/lanes so that several passes run."""
    d = ad.jacobian_sparsity(f, argnums=i, backend=backend)
    shape = np.shape(args[i])
    bits = sparsity.bitset_pattern(_bits_pass(d, args, i), shape, words=words)
    nan = sparsity.nan_pattern(_lanes_pass(d, args, i), shape, lanes=lanes)
    return bits, nan


def _dense_nonzeros(f, args, i):
    J = ad.jacfwd(f, argnums=i, backend="llvm")(*args)
    parts = J if isinstance(J, tuple) else (J,)
    n = np.size(args[i])
    return np.concatenate([np.asarray(p).reshape(-1, n) for p in parts], axis=0) != 0


_ARRAY_CASES = [c for c in catalog.CATALOG.values()
                if isinstance(c.args()[c.argnums[0]], np.ndarray)
                and c.args()[c.argnums[0]].dtype.kind == "f"]


def test_catalog_has_array_cases():
    assert len(_ARRAY_CASES) >= 60


# programs with a branch on a float whose other side (not taken at the catalog's point) reads
# inputs the taken side does not: the bitsets hold those entries too, the NaN passes do not
BOTH_SIDES = {"break_on_sum", "continue_negatives",
              "while_break_continue", "helper_early_return"}


@pytest.mark.parametrize("name", [c.name for c in _ARRAY_CASES])
def test_catalog_bitsets_equal_float_passes(name):
    c = catalog.CATALOG[name]
    args = c.args()
    i = c.argnums[0]
    bits, nan = _patterns(c.fn, args, i)
    assert bits.shape == nan.shape
    assert (nan > bits).nnz == 0, f"{name}: a dependency the NaN passes find is missing"
    if name in BOTH_SIDES:
        assert (bits > nan).nnz > 0, f"{name}: no entry of the side not taken"
    else:
        assert (bits != nan).nnz == 0, f"{name}: bitsets and NaN passes disagree"
    if c.jac:
        nz = _dense_nonzeros(c.fn, args, i)
        assert not (nz & ~bits.toarray()).any(), f"{name}: a nonzero outside the pattern"


def offsets(x, idx):
    """Residual k reads x[3*idx[k]], x[3*idx[k]+1] and the mirrored entry: crosses words."""
    n = x.shape[0]
    r = np.empty(idx.shape[0])
    for k in range(idx.shape[0]):
        j = 3 * idx[k]
        r[k] = x[j] * x[j + 1] - np.sin(x[n - 1 - j])
    return r


def test_words_and_passes_cover_every_bit():
    n = 300
    x = np.linspace(0.1, 2.0, n)
    idx = np.arange(n // 3, dtype=np.int64)[::-1].copy()
    truth = np.zeros((idx.size, n), bool)
    for k, i in enumerate(idx):
        truth[k, [3 * i, 3 * i + 1, n - 1 - 3 * i]] = True
    d = ad.jacobian_sparsity(offsets, backend="llvm")
    run = _bits_pass(d, (x, idx), 0)
    for words in (1, 2, 3, 64):   # 5, 3, 2 and 1 passes; bit 63 of a word is set by entry 63
        pat = sparsity.bitset_pattern(run, x.shape, words=words)
        assert (pat.toarray() == truth).all(), words
    assert (d(x, idx).toarray() == truth).all()


def unions(x):
    a = np.where(x[:3] > 0.0, x[3:6], x[6:9])
    b = max(x[9], x[10])
    c = min(x[11] * 2.0, 1.0)    # the constant side: the value still depends on x[11]
    return np.concatenate((a, np.array([b, c, abs(x[12]), x[13] - x[13], 0.0 * x[14]])))


def test_bitsets_take_both_sides_of_where_min_max():
    x = np.linspace(0.5, 1.9, 15)
    bits, nan = _patterns(unions, (x,), 0)
    rows = [sorted(bits[k].indices) for k in range(8)]
    # the condition x[:3] > 0 has no derivative: no entry for it
    assert rows == [[3, 6], [4, 7], [5, 8], [9, 10], [11], [12], [13], [14]]
    # the float passes see the side taken (x > 0 picks x[3:6]; max picks x[10])
    assert sorted(nan[0].indices) == [3] and sorted(nan[3].indices) == [10]
    assert (nan > bits).nnz == 0


def matmuls(x, A, B):
    X = x[:6].reshape(2, 3)
    v = x[6:9]
    return np.concatenate(((A @ X).ravel(), (X @ B).ravel(), A @ v[:2], v @ B,
                           np.array([v @ v])))


def test_matmul_contractions_on_either_side():
    rng = np.random.default_rng(1)
    x, A, B = rng.random(9), rng.random((4, 2)), rng.random((3, 5))
    A[0, 0] = 0.0   # a zero entry removes no dependency (the pattern is structural)
    bits, nan = _patterns(matmuls, (x, A, B), 0)
    assert (bits != nan).nnz == 0
    X = np.arange(6).reshape(2, 3)
    assert sorted(bits[0].indices) == sorted(X[:, 0])            # (A @ X)[0, 0]
    assert sorted(bits[12].indices) == sorted(X[0])              # (X @ B)[0, 0]
    assert sorted(bits[22].indices) == [6, 7]                    # (A @ v[:2])[0]
    assert sorted(bits[26].indices) == [6, 7, 8]                 # (v @ B)[0]
    assert sorted(bits[31].indices) == [6, 7, 8]                 # v @ v


def reductions(x, m):
    X = x.reshape(m, -1)
    return np.concatenate((np.sum(X, axis=0), np.mean(X, axis=1), np.max(X, axis=0),
                           np.prod(X, axis=1), np.array([np.sum(X * X)])))


def test_reductions_along_axes():
    x = np.linspace(0.2, 1.3, 12)
    bits, nan = _patterns(reductions, (x, 3), 0)
    X = np.arange(12).reshape(3, 4)
    assert sorted(bits[0].indices) == sorted(X[:, 0])
    assert sorted(bits[4].indices) == sorted(X[0])
    assert sorted(bits[7].indices) == sorted(X[:, 0])     # max: every element (ties, NaN)
    assert sorted(bits[11].indices) == sorted(X[0])
    assert bits[14].nnz == 12
    assert (nan > bits).nnz == 0


@ad.custom_jvp
def softplus(x):
    return np.log1p(np.exp(x))


@softplus.defjvp
def softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return np.log1p(np.exp(x)), t / (1.0 + np.exp(-x))


def with_rule(x):
    y = np.empty(x.shape[0] - 1)
    for i in range(x.shape[0] - 1):
        y[i] = softplus(x[i]) * x[i + 1]
    return y


def test_custom_rules_are_differentiated_as_written():
    """A custom JVP rule computes float tangents: dependency mode inlines the function body
    (its dependencies are the body's), as vector forward mode does."""
    x = np.linspace(-1.0, 1.0, 6)
    pat = ad.jacobian_sparsity(with_rule, backend="llvm")(x)
    assert [sorted(pat[k].indices) for k in range(5)] == [[k, k + 1] for k in range(5)]


def test_unmapped_tangent_code_falls_back_to_float_passes(monkeypatch):
    from adcompile.ad import dependencies
    real = dependencies.DependencyEmitter._semiring

    def refuse(self, prim, *a, **k):
        if prim == "mul":
            raise Unmapped("test: no bitset form of mul")
        return real(self, prim, *a, **k)
    monkeypatch.setattr(dependencies.DependencyEmitter, "_semiring", refuse)
    calls = []
    monkeypatch.setattr(sparsity, "nan_pattern", lambda *a, real=sparsity.nan_pattern, **k:
                        calls.append(1) or real(*a, **k))
    x = np.linspace(0.1, 1.0, 150)
    idx = np.arange(40, dtype=np.int64)

    def fresh(x, idx):   # a function not compiled before in this process
        return offsets(x, idx) * 2.0
    pat = ad.jacobian_sparsity(fresh, backend="llvm")(x, idx)
    assert calls == [1]
    assert sorted(pat[0].indices) == [0, 1, 149]


_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
             HealthCheck.filter_too_much]


@settings(max_examples=15, deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
@given(progs.float_programs())
def test_random_programs_bitsets_contain_float_passes(p):
    """Every dependency the NaN passes find (and every nonzero of the dense Jacobian) is in
    the bitset pattern; they agree but for both sides of min/max/where and of branches."""
    arrays = [i for i, k in enumerate(p.arg_kinds) if k == "a"]
    if not arrays:
        event("no array argument")
        return
    note(p.repro())
    f = p.load()
    i = arrays[0]
    bits, nan = _patterns(f, p.fresh_args(), i)
    assert (nan > bits).nnz == 0
    nz = _dense_nonzeros(f, p.fresh_args(), i)
    assert not (nz & ~nan.toarray()).any()
    event("equal" if (bits != nan).nnz == 0 else "bitsets larger (both sides)")


def branches(x):
    r = np.zeros(4)
    for i in range(3):
        if x[i] > 0.5:
            a = x[3] * 2.0
            r[i] = x[i + 3]
        else:
            a = np.sin(x[4]) + x[5]
            r[i] = x[i + 6]
        r[3] += a
    y = x[6] if x[7] > 0.5 else x[8]
    return np.concatenate((r, np.array([y])))


def test_float_branches_take_both_sides():
    low = np.linspace(0.1, 0.45, 9)      # every condition false: the else sides run
    high = np.linspace(0.6, 0.9, 9)      # every condition true
    truth = [[3, 6], [4, 7], [5, 8], [3, 4, 5], [6, 8]]
    for x in (low, high):
        bits, nan = _patterns(branches, (x,), 0)
        assert [sorted(bits[k].indices) for k in range(5)] == truth
        assert (nan > bits).nnz == 0 and (bits > nan).nnz > 0   # NaN: one side only


def side_index(x, idx):
    r = np.zeros(idx.shape[0])
    for i in range(idx.shape[0]):
        if x[i] > 0.5:
            r[i] = x[idx[i]]   # an index read inside the side: known only when it runs
        else:
            r[i] = x[i]
    return r


def test_branch_with_an_index_computed_in_a_side_warns():
    x = np.linspace(0.1, 0.9, 6)
    idx = np.array([5, 4, 3, 2, 1, 0], dtype=np.int64)
    with pytest.warns(ad.SparsityWarning, match="detected again at each new point"):
        pat = ad.jacobian_sparsity(side_index, backend="llvm")(x, idx)
    # the point's sides: x[i] <= 0.5 for i < 3 reads x[i], the others x[idx[i]]
    assert [sorted(pat[k].indices) for k in range(6)] == [[0], [1], [2], [2], [1], [0]]


def scalar_sides(x):
    a = x[0]
    b = x[1]
    c = x[2]
    if c > 0.5:
        y = a * 2.0
        z = np.floor(b) + a   # floor has no derivative: b is the other side's alone
    else:
        y = np.floor(a) + b * c
        z = b
    return np.array([y, z])


def test_scalars_of_the_side_not_taken_join_inside_the_taken_side():
    for c in (0.2, 0.8):
        x = np.array([0.3, 0.6, c])
        bits, nan = _patterns(scalar_sides, (x,), 0)
        assert [sorted(bits[k].indices) for k in range(2)] == [[0, 1, 2], [0, 1]], c
        assert (nan > bits).nnz == 0


def stop_early(x):
    t = 0.0
    for i in range(x.shape[0]):
        t = t + x[i] * x[i]
        if t > 1.0:
            break
    return np.array([t, x[0]])


def test_float_decided_trip_counts_give_patterns_per_point():
    """A loop that floats stop: its pattern is the point's, so it is detected again at a new
    point (never reused from another), and the sparse Jacobian stays right there."""
    early, late = np.array([0.8, 0.8, 0.1, 0.1]), np.full(4, 0.1)
    pat_of = ad.jacobian_sparsity(stop_early, backend="llvm")
    with pytest.warns(ad.SparsityWarning, match="trip count"):
        assert sorted(pat_of(early)[0].indices) == [0, 1]
    assert sorted(pat_of(late)[0].indices) == [0, 1, 2, 3]
    assert sorted(pat_of(early)[0].indices) == [0, 1]
    jac = ad.jacobian(stop_early, sparse=True, backend="llvm")
    for x in (late, early):
        np.testing.assert_allclose(jac(x).toarray(), ad.jacfwd(stop_early, backend="llvm")(x),
                                   rtol=1e-14)
