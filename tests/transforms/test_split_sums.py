"""split_sums: an adjoint loop's scatter-adds move to loops of their own only when no read in
the loop could see the move; the IR interpreter gives the same arrays before and after."""
from __future__ import annotations

import numpy as np
import pytest

import adcompile
from adcompile.ir.interpreter import run_function
from adcompile.ir.parser import parse_function
from adcompile.ir.printer import print_function
from adcompile.ir.verifier import verify
from adcompile.transforms.split_sums import split_sums

from ..stencils import heat

HEAD = """func @f(%a: f64[:], %b: f64[:], %k: f64) -> (f64[:], f64[:]) {
  %c1: i64 = const() {type='i64', value=1}
  %z: f64 = const() {type='f64', value=0.0}
  %n: i64 = dim(%a) {axis=0}
  %m: i64 = sub(%n, %c1)
  %x: f64[:], %y: f64[:] = for(%c1, %m, %c1, %a, %b) {ATTRS} {
  ^(%i: i64, %p: f64[:], %q: f64[:]):
"""
TAIL = """  }
  return(%x, %y)
}
"""

# a stencil's adjoint: q is read at i then cleared at i; p receives q[i] at i + 1 and i - 1
STENCIL = """    %v: f64 = getitem(%q, %i)
    %q1: f64[:] = setitem(%q, %z, %i)
    %e: f64 = mul(%k, %v)
    %j: i64 = add(%i, %c1)
    %r: f64 = getitem(%p, %j)
    %s: f64 = add(%r, %e)
    %p1: f64[:] = setitem(%p, %s, %j)
    %j2: i64 = sub(%i, %c1)
    %r2: f64 = getitem(%p1, %j2)
    %s2: f64 = add(%r2, %v)
    %p2: f64[:] = setitem(%p1, %s2, %j2)
    yield(%p2, %q1)
"""
# p is also read outside its updates: moving the updates would change what that read sees
READS_ACC = STENCIL.replace("%e: f64 = mul(%k, %v)", "%w: f64 = getitem(%p, %i)\n"
                            "    %e: f64 = mul(%w, %v)")
# q is read at i + 1 but written at i: an earlier iteration's write is visible
OTHER_INDEX = STENCIL.replace("%v: f64 = getitem(%q, %i)",
                              "%i1: i64 = add(%i, %c1)\n    %v: f64 = getitem(%q, %i1)")


def _fn(body: str, attrs: str = "adjoint=True"):
    return parse_function(HEAD.replace("ATTRS", attrs) + body + TAIL)


def _loops(fn) -> int:
    return sum(op.prim == "for" for op in fn.walk())


def _run(fn, a, b, k):
    return [np.asarray(r) for r in run_function(fn, [a.copy(), b.copy(), k])]


@pytest.mark.parametrize("body,split", [(STENCIL, True), (READS_ACC, False),
                                        (OTHER_INDEX, False)],
                         ids=["stencil", "reads-accumulator", "other-index"])
@pytest.mark.parametrize("seed", range(3))
def test_same_arrays_and_splits_only_when_unseen(body, split, seed):
    rng = np.random.default_rng(seed)
    a, b, k = rng.normal(size=7), rng.normal(size=7), float(rng.normal())
    before = _fn(body)
    want = _run(before, a, b, k)
    after = split_sums(_fn(body))
    verify(after)
    assert (_loops(after) > 1) == split, print_function(after)
    for w, g in zip(want, _run(after, a, b, k)):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


def test_user_loops_keep_their_order():
    """Only adjoint loops: the primal's own sums keep CPython's order of additions."""
    fn = split_sums(_fn(STENCIL, attrs="checkpoint_sqrt=True"))
    assert _loops(fn) == 1


@pytest.mark.parametrize("backend", ["numba", "llvm"])
def test_heat_gradient_with_split_adjoint(backend):
    n, steps = 12, 5
    x = np.linspace(0.0, 1.0, n)
    u0, data = np.exp(-10 * (x - 0.4) ** 2), np.sin(3 * x)
    g_u, g_a = adcompile.grad(heat, argnums=(0, 1), backend=backend)(u0, 0.2, data, steps)
    eps = 1e-6
    fd_a = (heat(u0, 0.2 + eps, data, steps) - heat(u0, 0.2 - eps, data, steps)) / (2 * eps)
    assert g_a == pytest.approx(fd_a, rel=1e-7)
    # forward mode along a random direction: the dot-product test against reverse mode
    v = np.cos(np.arange(n) * 1.3)
    _, jv = adcompile.jvp(heat, (u0, 0.2, data, steps), (v, 0.5, None, None), backend=backend)
    assert jv == pytest.approx(float(g_u @ v) + 0.5 * g_a, rel=1e-12)
    g = adcompile.grad(heat, argnums=(0, 1), backend=backend)
    g(u0, 0.2, data, steps)
    # the stencil's three scatter-adds into u_bar become one gathered loop (versioned by
    # bounds: two copies) plus six remainder loops for the ends, on both backends
    ir = g.ir("backend")
    assert ir.count("remainder=True") == 6, ir
    assert ir.count("adjoint=True") >= 8


# ranges the gather must cover exactly: empty, shorter than the offsets' spread, long; both
# directions of the counter (reverse mode's loops count down)
RANGES = [("%c1", "%m", "%c1"), ("%m1", "%c0", "%cm1")]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize("bounds", RANGES, ids=["up", "down"])
def test_gathered_updates_cover_every_iteration(n, bounds):
    lb, ub, step = bounds
    text = (HEAD.replace("ATTRS", "adjoint=True")
            .replace("for(%c1, %m, %c1,", f"for({lb}, {ub}, {step},")
            .replace("  %m: i64 = sub(%n, %c1)\n",
                     "  %m: i64 = sub(%n, %c1)\n  %m1: i64 = sub(%m, %c1)\n"
                     "  %c0: i64 = const() {type='i64', value=0}\n"
                     "  %cm1: i64 = const() {type='i64', value=-1}\n")
            + STENCIL + TAIL)
    rng = np.random.default_rng(n)
    a, b, k = rng.normal(size=n), rng.normal(size=n), float(rng.normal())
    want = _run(parse_function(text), a, b, k)
    after = split_sums(parse_function(text))
    verify(after)
    printed = print_function(after)
    # p's two updates (at i + 1 and i - 1) share one loop over the range both cover, with
    # one read and one write of p per element; each has two remainder loops for the ends
    assert printed.count("remainder=True") == 4, printed
    for w, g in zip(want, _run(after, a, b, k)):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)
