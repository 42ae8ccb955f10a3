"""Derivatives of every program of `catalog.py`, checked several independent ways.

One test per program, running all checks on it, so that each (program, transform) pair is
compiled once per worker (numba compiles dominate the runtime).  The checks, by name:

* `jvp_fd`: jvp's primal output == CPython, and its tangent along a random direction (all float
  arguments at once) == central finite differences (h = 1e-6, rtol 1e-5);
* `vjp`: vjp's primal output == CPython, one cotangent per argument with the argument's
  shape and dtype (None for ints), arguments left unmodified;
* `dot`: the dot-product test between jvp and vjp, <J v, w> == <v, J^T w> (rtol 1e-8);
* `grad_fd` (scalar outputs): grad == finite-difference gradient, vjp == w * grad, and
  value_and_grad's value == f(*args) and its gradient == grad;
* `jacfwd` (small programs; one float argument, the first array one): shape out + arg and
  == finite-difference Jacobian;
* `jacrev` (small programs, non-tuple outputs): == finite differences for every float
  argument, and == jacfwd (rtol 1e-8);
* `hessian` (scalar programs twice differentiable at the point; first float argument):
  symmetric, == finite differences of grad, hvp == H @ v with hvp's gradient == grad, and
  (several float arguments) hvp with all of them active == finite differences of grad;
* `autograd` (numpy-style programs, when autograd is installed): vjp == autograd's vjp.

float32 programs use looser tolerances; their finite-difference reference runs the same code on
float64 copies of the inputs.  grad, value_and_grad, jacrev and vjp (all float arguments
active) share one reverse-mode compile, and hessian / hvp one forward-over-reverse compile.

jvp, vjp and grad run on the default backend (numba); jacfwd, jacrev, hessian and hvp on
LLVM (`DENSE`), whose compiles are ~10x faster: they are IR transforms shared by both
backends, and numba's lane and forward-over-reverse code is covered by test_compose.py and
test_forward_inplace.py.

A check that fails because of an open adcompile bug is listed in `KNOWN_BUGS` (strict: the
test fails once the check passes, so that the entry gets removed); the other checks of that
program still run and must pass.
"""
from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

import adcompile as ad

try:
    import autograd
    import autograd.numpy as anp
except ImportError:  # optional oracle (the `test` extra installs it)
    autograd = anp = None

from ._util import (Checks, abs_inner, assert_close, assert_dot, fd_directional, fd_gradient,
                    fd_jacobian, fresh, inner, is_float_arg, load_sibling, parts, random_like,
                    shift, to64)

catalog = load_sibling("catalog")
CATALOG = catalog.CATALOG
DENSE = "llvm"   # backend of the dense-Jacobian and Hessian checks (see the module)

# rtol / atol-scale per dtype and check
TOL = {
    False: dict(fd=(1e-5, 1e-7), dot=1e-8, exact=(1e-12, 1e-13), jac=(1e-8, 1e-12),
                hess_fd=(1e-4, 1e-6), sym=(1e-8, 1e-12)),
    True: dict(fd=(2e-3, 1e-3), dot=1e-4, exact=(1e-5, 1e-6), jac=(1e-4, 1e-5),
               hess_fd=(5e-2, 1e-2), sym=(1e-4, 1e-5)),
}

# Known adcompile bugs: {(program, check): reason}.  Expected strictly: a listed check that
# passes fails the test (remove the entry when the bug is fixed).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _known(name: str) -> dict[str, str]:
    return {check: why for (prog, check), why in KNOWN_BUGS.items() if prog == name}


def _autograd_version(fn):
    """`fn` with `np` rebound to autograd.numpy (helpers of its module rebound too)."""
    g = dict(fn.__globals__)
    g["np"] = anp
    for k, v in list(g.items()):
        if isinstance(v, types.FunctionType) and v.__module__ == fn.__module__:
            g[k] = types.FunctionType(v.__code__, g, v.__name__, v.__defaults__, v.__closure__)
    return g[fn.__name__] if fn.__name__ in g else types.FunctionType(fn.__code__, g)


def _check_shape_dtype(got, like, what):
    if isinstance(like, np.ndarray):
        assert isinstance(got, np.ndarray), f"{what}: expected an array, got {type(got)}"
        assert got.shape == like.shape and got.dtype == like.dtype, \
            f"{what}: {got.shape} {got.dtype} != argument {like.shape} {like.dtype}"
    else:
        assert np.ndim(got) == 0, f"{what}: expected a scalar, got {got!r}"


def run_case(c) -> None:
    f = c.fn
    tol = TOL[c.f32]
    rng = np.random.default_rng(zlib.crc32(c.name.encode()))
    args = c.args()
    floats = c.argnums
    checks = Checks(c.name, _known(c.name))

    # the catalog entry itself
    for i, a in enumerate(args):
        assert is_float_arg(a) == (i in floats), f"{c.name}: argnums {floats} vs arg {i} {a!r}"
    ref = f(*fresh(args))
    ref64 = f(*to64(args))
    ref_parts = parts(ref)
    for p in parts(ref64):
        assert np.all(np.isfinite(p)), f"{c.name}: non-finite output {ref64!r}"
    scalar_out = not isinstance(ref, tuple) and np.ndim(ref) == 0
    tuple_out = isinstance(ref, tuple)

    # -- forward mode vs finite differences -------------------------------------------------
    tangents = [random_like(rng, args[i]) if i in floats else None for i in range(len(args))]
    dirs = [tangents[i] for i in floats]
    state = {}

    def jvp_fd():
        a = fresh(args)
        out, out_dot = ad.jvp(f, a, tangents)
        for x, orig in zip(a, args):   # arguments are never modified
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, orig), "jvp modified an argument"
        assert isinstance(out, tuple) == tuple_out and isinstance(out_dot, tuple) == tuple_out
        state["out_dot"] = out_dot
        rt, at = tol["exact"]
        for k, (g, w) in enumerate(zip(parts(out), ref_parts)):
            assert_close(g, w, rt, at, f"jvp primal output {k}")
        fd = fd_directional(f, args, floats, dirs)
        rt, at = tol["fd"]
        for k, (g, w) in enumerate(zip(parts(out_dot), fd)):
            assert_close(g, w, rt, at, f"jvp tangent of output {k} vs finite differences")
    checks.run("jvp_fd", jvp_fd)

    # -- reverse mode: vjp and the dot-product test --------------------------------------------
    cot = [random_like(rng, o) if np.asarray(o).dtype.kind == "f" else 0
           for o in (ref if tuple_out else (ref,))]
    cot = [np.float64(x) if isinstance(x, float) else x for x in cot]

    def vjp():
        a = fresh(args)
        out, f_vjp = ad.vjp(f, *a)
        rt, at = tol["exact"]
        for k, (g, w) in enumerate(zip(parts(out), ref_parts)):
            assert_close(g, w, rt, at, f"vjp primal output {k}")
        cts = f_vjp(tuple(cot) if tuple_out else cot[0])
        for x, orig in zip(a, args):
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, orig), "vjp modified an argument"
        assert isinstance(cts, tuple) and len(cts) == len(args), cts
        for i, (ct, x) in enumerate(zip(cts, args)):
            if i in floats:
                _check_shape_dtype(ct, x, f"vjp cotangent {i}")
            else:
                assert ct is None, f"vjp cotangent of int argument {i} is {ct!r}, not None"
        state["cts"] = cts
    checks.run("vjp", vjp)

    def dot():
        lhs = sum(inner(d, w) for d, w in zip(parts(state["out_dot"]), cot))
        rhs = sum(inner(tangents[i], state["cts"][i]) for i in floats)
        scale = (sum(abs_inner(d, w) for d, w in zip(parts(state["out_dot"]), cot))
                 + sum(abs_inner(tangents[i], state["cts"][i]) for i in floats))
        assert_dot(lhs, rhs, scale, tol["dot"], "dot-product test jvp/vjp")
    if "out_dot" in state and "cts" in state:
        checks.run("dot", dot)

    # -- grad / value_and_grad for scalar outputs ----------------------------------------------
    def grad_fd():
        a = fresh(args)
        gs = ad.grad(f, argnums=floats)(*a)
        assert isinstance(gs, tuple) and len(gs) == len(floats)
        rt, at = tol["fd"]
        for i, g in zip(floats, gs):
            _check_shape_dtype(g, args[i], f"grad {i}")
            assert_close(g, fd_gradient(f, args, i), rt, at, f"grad w.r.t. argument {i} vs FD")
        if "cts" in state:   # vjp with cotangent w is w * grad
            rt, at = tol["exact"]
            for i, g in zip(floats, gs):
                assert_close(np.asarray(state["cts"][i], np.float64),
                             float(cot[0]) * np.asarray(g, np.float64), rt * 10, at,
                             f"vjp vs grad, argument {i}")
        v, gs2 = ad.value_and_grad(f, argnums=floats)(*fresh(args))
        rt, at = tol["exact"]
        assert_close(v, ref_parts[0], rt, at, "value_and_grad value")
        for i, g, g2 in zip(floats, gs, gs2):
            assert_close(g2, g, 1e-14, 0.0, f"value_and_grad grad {i} vs grad")
        if len(floats) == 1:   # an int argnums gives a bare gradient (same compile)
            g0 = ad.grad(f, argnums=floats[0])(*fresh(args))
            assert not isinstance(g0, tuple)
            assert_close(g0, gs[0], 1e-14, 0.0, "grad with int argnums")
        state["grads"] = gs
    if scalar_out:
        checks.run("grad_fd", grad_fd)

    # -- dense Jacobians --------------------------------------------------------------------
    out_shapes = [np.shape(p) for p in ref_parts]

    def jacfwd():
        # one argument only: vector forward mode compiles are the slowest of all, and the
        # jvp check above already runs every float argument active at once
        i = jac_arg
        J = ad.jacfwd(f, argnums=i, backend=DENSE)(*fresh(args))
        Js = list(J) if tuple_out else [J]
        assert len(Js) == len(out_shapes)
        rtf, atf = tol["fd"]
        for k, (Jk, Fk) in enumerate(zip(Js, fd_jacobian(f, args, i))):
            assert np.shape(Jk) == out_shapes[k] + np.shape(args[i]), \
                f"jacfwd {i} output {k} shape {np.shape(Jk)}"
            assert_close(Jk, Fk, rtf, atf, f"jacfwd {i} output {k} vs FD")
        state["jacfwd"] = J

    def jacrev():
        jr = ad.jacrev(f, argnums=floats, backend=DENSE)(*fresh(args))
        assert isinstance(jr, tuple) and len(jr) == len(floats)
        rtf, atf = tol["fd"]
        for i, Jr in zip(floats, jr):
            assert_close(Jr, fd_jacobian(f, args, i)[0], rtf, atf, f"jacrev {i} vs FD")
        if "jacfwd" in state:
            rt, at = tol["jac"]
            assert_close(jr[floats.index(jac_arg)], state["jacfwd"], rt, at,
                         f"jacrev vs jacfwd, argument {jac_arg}")
    if c.jac:
        # the first array argument (else the first float one)
        jac_arg = next((i for i in floats if isinstance(args[i], np.ndarray)), floats[0])
        checks.run("jacfwd", jacfwd)
        if not tuple_out:
            checks.run("jacrev", jacrev)

    # -- Hessian (forward over reverse) ------------------------------------------------------
    def hessian():
        i = floats[0]
        x = args[i]
        H = ad.hessian(f, argnums=i, backend=DENSE)(*fresh(args))
        shape = np.shape(x)
        assert np.shape(H) == shape + shape, np.shape(H)
        n = int(np.prod(shape)) if shape else 1
        Hm = np.asarray(H, np.float64).reshape(n, n)
        rt, at = tol["sym"]
        assert_close(Hm, Hm.T, rt, at, "Hessian symmetry")
        # finite differences of the compiled gradient
        h = 1e-5
        gfun = ad.grad(f, argnums=floats, backend=DENSE)
        cols = []
        for k in range(n):
            e = np.zeros(n)
            e[k] = 1.0
            e = e.reshape(shape) if shape else 1.0
            plus, minus = list(fresh(args)), list(fresh(args))
            plus[i] = (x + h * e).astype(x.dtype) if shape else x + h
            minus[i] = (x - h * e).astype(x.dtype) if shape else x - h
            gp = gfun(*plus)[floats.index(i)]
            gm = gfun(*minus)[floats.index(i)]
            cols.append((np.asarray(gp, np.float64) - np.asarray(gm, np.float64)).reshape(-1)
                        / (2 * h))
        rt, at = tol["hess_fd"]
        assert_close(Hm, np.stack(cols, axis=1), rt, at, "Hessian vs FD of grad")
        # hvp == H v, and its gradient == grad
        v = random_like(rng, x)
        t = [None] * len(args)
        t[i] = v
        g, hv = ad.hvp(f, fresh(args), t, backend=DENSE)
        rt, at = tol["jac"]
        assert_close(np.asarray(hv, np.float64).reshape(-1),
                     Hm @ np.asarray(v, np.float64).reshape(-1), rt * 100, at, "hvp vs H @ v")
        if "grads" in state:
            assert_close(g, state["grads"][floats.index(i)], rt, at, "hvp gradient vs grad")
        if len(floats) > 1:
            # all float arguments active: tuples of gradients and of H v blocks, == the
            # finite difference of grad along all directions at once
            vs = [random_like(rng, args[j]) for j in floats]
            t = [None] * len(args)
            for j, v in zip(floats, vs):
                t[j] = v
            gs, hvs = ad.hvp(f, fresh(args), t, backend=DENSE)
            assert isinstance(gs, tuple) and isinstance(hvs, tuple)
            assert len(gs) == len(hvs) == len(floats)
            gp = gfun(*shift(args, floats, vs, h))
            gm = gfun(*shift(args, floats, vs, -h))
            for k, j in enumerate(floats):
                _check_shape_dtype(hvs[k], args[j], f"hvp block {j}")
                want = (np.asarray(gp[k], np.float64) - np.asarray(gm[k], np.float64)) / (2 * h)
                rtf, atf = tol["hess_fd"]
                assert_close(hvs[k], want, rtf, atf, f"hvp (all arguments) block {j} vs FD")
                if "grads" in state:
                    assert_close(gs[k], state["grads"][k], rt, at, f"hvp gradient {j} vs grad")
    if c.hessian:
        assert scalar_out and not c.f32, f"{c.name}: hessian needs a scalar output"
        checks.run("hessian", hessian)

    # -- autograd as a second oracle ------------------------------------------------------------
    def against_autograd():
        fa = _autograd_version(f)
        for i in floats:
            vjp_fn, ans = autograd.make_vjp(fa, i)(*to64(args))
            w = cot[0] if not tuple_out else tuple(cot)
            want = vjp_fn(np.asarray(w, np.float64) if not tuple_out else w)
            rt, at = tol["jac"]
            assert_close(state["cts"][i], want, rt * 100, at, f"vjp vs autograd, argument {i}")
    if c.autograd and autograd is not None and "cts" in state:
        checks.run("autograd", against_autograd)

    checks.finish()


@pytest.mark.parametrize("name", list(CATALOG))
def test_program(name):
    run_case(CATALOG[name])


def test_catalog_is_broad():
    """The catalog covers what the brief lists; a check that it stays that way."""
    cases = list(CATALOG.values())
    assert len(cases) >= 45
    assert sum(c.f32 for c in cases) >= 5
    assert sum(c.hessian for c in cases) >= 8
    assert sum(c.autograd for c in cases) >= 10
    outs = [c.fn(*c.args()) for c in cases]
    assert sum(isinstance(o, tuple) for o in outs) >= 3
    assert sum(isinstance(o, np.ndarray) for o in outs) >= 8
    assert sum(any(isinstance(a, int) for a in c.args()) for c in cases) >= 8


def test_autograd_oracle_installed():
    if autograd is None:
        pytest.skip("autograd is not installed: the autograd cross-checks of test_program are off")
    assert sum(c.autograd for c in CATALOG.values()) >= 10


def test_known_failures_are_strict():
    """The per-check collector: unexpected failures fail, known ones xfail, fixed ones fail."""
    def boom():
        raise AssertionError("wrong")

    c = Checks("p", {"b": "bug 1"})
    c.run("a", lambda: None)
    c.run("b", boom)
    with pytest.raises(pytest.xfail.Exception, match="b: bug 1"):
        c.finish()
    c = Checks("p", {"b": "bug 1"})
    c.run("a", boom)
    c.run("b", boom)
    with pytest.raises(pytest.fail.Exception, match="check 'a' failed"):
        c.finish()
    c = Checks("p", {"b": "bug 1"})
    c.run("b", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="passed: remove it"):
        c.finish()
    c = Checks("p", {"b": "bug 1"})   # a known check that did not run is neither
    c.run("a", lambda: None)
    c.finish()
    for (prog, check) in KNOWN_BUGS:
        assert prog in CATALOG, f"KNOWN_BUGS names an unknown program {prog!r}"
        assert check in ("jvp_fd", "vjp", "dot", "grad_fd", "jacfwd", "jacrev", "hessian",
                         "autograd"), check
