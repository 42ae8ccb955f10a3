"""Tuple arguments and nested-tuple outputs through every derivative API, nested as JAX nests
them (outputs outside, argnums inside, each argument's own nesting innermost).

Every Jacobian is checked against central finite differences of the plain Python function,
forward against reverse (jacfwd == jacrev, and the dot-product test <J v, w> = <v, J^T w>
between jvp and vjp), and tuple-output Jacobians against the Jacobian of each output alone.
Most checks run on the LLVM backend (fast to compile); one runs the same on numba.
"""
from __future__ import annotations

import numpy as np
import pytest

import adcompile as ad

RNG = np.random.default_rng(7)
X = RNG.normal(size=3)
Y = 0.7
W = RNG.normal(size=(2, 3))
B = RNG.normal(size=2)
C = 1.3


def nested_out(x, y):
    return x * y, (np.sin(x) + y, np.sum(x) * y)


def first_out(x, y):
    return x * y


def last_out(x, y):
    return np.sum(x) * y


def tuple_in(p, x):
    w, (b, c) = p
    return np.tanh(w @ x + b) * c, np.sum(x * x) * c


def tuple_loss(p, x):
    w, (b, c) = p
    return np.sum(np.tanh(w @ x + b) ** 2) * c


def scaled(x, k=2.0):
    return np.sum(x ** 2) * k


def int_out(x):
    return np.sum(x), 3


P = (W, (B, C))


# -- tree helpers for the references --------------------------------------------------------
def _leaves(v):
    return [leaf for x in v for leaf in _leaves(x)] if isinstance(v, tuple) else [v]


def _rebuild(tree, it):
    if isinstance(tree, tuple):
        return tuple(_rebuild(t, it) for t in tree)
    return next(it)


def _perturbed(args, leaf, k, h):
    """args with entry k of flat leaf number `leaf` moved by h."""
    flat = [np.array(v, dtype=float) for v in _leaves(tuple(args))]
    flat[leaf].reshape(-1)[k] += h
    flat = [float(v) if v.ndim == 0 else v for v in flat]
    return _rebuild(tuple(args), iter(flat))


def fd_jacobian(f, args, leaf, h=1e-6):
    """d out_leaf / d arg_leaf for every output leaf, by central differences (shapes: out
    leaf shape + arg leaf shape)."""
    x = np.asarray(_leaves(tuple(args))[leaf], dtype=float)
    cols = []
    for k in range(x.size):
        up = _leaves(f(*_perturbed(args, leaf, k, h)))
        dn = _leaves(f(*_perturbed(args, leaf, k, -h)))
        cols.append([(np.asarray(u) - np.asarray(d)) / (2 * h) for u, d in zip(up, dn)])
    return [np.stack([c[o] for c in cols], axis=-1).reshape(np.shape(cols[0][o]) + x.shape)
            for o in range(len(cols[0]))]


def close(a, b, tol=1e-6):
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb), (a, b)
    for u, v in zip(la, lb):
        np.testing.assert_allclose(np.asarray(u, dtype=float), np.asarray(v, dtype=float),
                                   rtol=tol, atol=tol)


def same_nesting(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b), (a, b)
        for u, v in zip(a, b):
            same_nesting(u, v)


_JACS = {}


def jac(kind, f, argnums, backend="llvm"):
    """One derivative object per (kind, f, argnums, backend) for the whole module."""
    key = (kind, f, argnums, backend)
    if key not in _JACS:
        _JACS[key] = getattr(ad, kind)(f, argnums=argnums, backend=backend)
    return _JACS[key]


# -- jacfwd / jacrev ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["jacfwd", "jacrev"])
def test_nested_output_jacobian_against_fd(kind):
    J = jac(kind, nested_out, (0, 1))(X, Y)
    # JAX's nesting: the outputs' (x, (x, x)) outside, a pair over argnums inside
    assert len(J) == 2 and len(J[1]) == 2 and all(len(j) == 2 for j in (J[0], *J[1]))
    fx = fd_jacobian(nested_out, (X, Y), 0)
    fy = fd_jacobian(nested_out, (X, Y), 1)
    want = (( fx[0], fy[0]), ((fx[1], fy[1]), (fx[2], fy[2])))
    close(J, want)


def test_forward_equals_reverse_and_per_output():
    for nums in (0, (0, 1), (1, 0)):
        jf = jac("jacfwd", nested_out, nums)(X, Y)
        jr = jac("jacrev", nested_out, nums)(X, Y)
        same_nesting(jf, jr)
        close(jf, jr)
    jf = jac("jacfwd", nested_out, 0)(X, Y)
    close(jf[0], jac("jacrev", first_out, 0)(X, Y))
    close(jf[1][1], jac("jacrev", last_out, 0)(X, Y))
    # argnums=(1, 0): the pair inside each output in that order
    j10 = jac("jacrev", nested_out, (1, 0))(X, Y)
    close(j10[0][1], jf[0])


@pytest.mark.parametrize("kind", ["jacfwd", "jacrev"])
def test_tuple_argument_jacobian(kind):
    J = jac(kind, tuple_in, 0)(P, X)
    # per output: the Jacobian nested as the argument (w, (b, c))
    assert len(J) == 2 and len(J[0]) == 2 and len(J[0][1]) == 2
    assert J[0][0].shape == (2, 2, 3) and J[0][1][0].shape == (2, 2) and J[0][1][1].shape == (2,)
    assert J[1][0].shape == (2, 3) and np.shape(J[1][1][1]) == ()
    for leaf in range(3):
        ref = fd_jacobian(tuple_in, (P, X), leaf)
        got = [J[o] if leaf == 0 else J[o] for o in range(2)]
        got = [g[0] if leaf == 0 else g[1][leaf - 1] for g in got]
        close(tuple(got), tuple(ref), 1e-5)
    Jx = jac(kind, tuple_in, (0, 1))(P, X)
    close(Jx[0][1], fd_jacobian(tuple_in, (P, X), 3)[0], 1e-5)


# -- jvp / vjp ------------------------------------------------------------------------------
def test_dot_product_jvp_vjp_nested():
    v = (RNG.normal(size=(2, 3)), (RNG.normal(size=2), 0.4))
    vx = RNG.normal(size=3)
    out, dot = ad.jvp(tuple_in, (P, X), (v, vx), backend="llvm")
    close(out, tuple_in(P, X))
    w = (RNG.normal(size=2), 0.9)
    out2, pullback = ad.vjp(tuple_in, P, X, backend="llvm")
    close(out2, out)
    gp, gx = pullback(w)
    same_nesting(gp, P)
    lhs = sum(float(np.sum(a * b)) for a, b in zip(_leaves(dot), _leaves(w)))
    rhs = sum(float(np.sum(a * b)) for a, b in zip(_leaves((v, vx)), _leaves((gp, gx))))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))
    # vjp of a nested output, cotangent nested the same way (lists accepted as tuples)
    out3, pb = ad.vjp(nested_out, X, Y, backend="llvm")
    same_nesting(out3, nested_out(X, Y))
    g = pb([np.ones(3), (np.ones(3), 1.0)])
    fx = fd_jacobian(nested_out, (X, Y), 0)
    close(g[0], fx[0].sum(0) + fx[1].sum(0) + fx[2])


def test_vjp_cotangent_nesting_is_checked():
    _, pb = ad.vjp(nested_out, X, Y, backend="llvm")
    with pytest.raises(ad.AdError, match=r"nesting of the output of 'nested_out', \(x, \(x, x\)\)"):
        pb((np.ones(3), np.ones(3), 1.0))


# -- grad / hessian -------------------------------------------------------------------------
def test_grad_of_tuple_argument():
    g = ad.grad(tuple_loss, backend="llvm")(P, X)
    same_nesting(g, P)
    for leaf in range(3):
        ref = fd_jacobian(tuple_loss, (P, X), leaf)[0]
        close(_leaves(g)[leaf], ref, 1e-5)
    v, (gx, gp) = ad.value_and_grad(tuple_loss, argnums=(1, 0), backend="llvm")(P, X)
    assert np.isclose(v, tuple_loss(P, X))
    close(gp, g)
    close(gx, fd_jacobian(tuple_loss, (P, X), 3)[0], 1e-5)


def test_hessian_nested():
    H = ad.hessian(tuple_loss, backend="llvm")(P, X)
    # H[a][b] for leaves a, b of p = (w, (b, c)): nested as p, twice
    assert H[0][0].shape == (2, 3, 2, 3) and H[1][0][1][0].shape == (2, 2)
    assert H[1][1][0].shape == (2, 3) and isinstance(H[1][1][1][1], float)
    g = ad.grad(tuple_loss, backend="llvm")
    for b_leaf in range(3):
        cols = []
        x = np.asarray(_leaves(P)[b_leaf], dtype=float)
        for k in range(x.size):
            up = _leaves(g(_perturbed((P, X), b_leaf, k, 1e-5)[0], X))
            dn = _leaves(g(_perturbed((P, X), b_leaf, k, -1e-5)[0], X))
            cols.append([(np.asarray(u) - np.asarray(d)) / 2e-5 for u, d in zip(up, dn)])
        for a_leaf in range(3):
            ref = np.stack([c[a_leaf] for c in cols], axis=-1).reshape(
                np.shape(_leaves(P)[a_leaf]) + x.shape)
            row = H[0] if a_leaf == 0 else H[1][a_leaf - 1]
            got = row[0] if b_leaf == 0 else row[1][b_leaf - 1]
            close(got, ref, 1e-5)
    # tuple outputs: one Hessian per output leaf (zero where the output is linear)
    Hn = ad.hessian(nested_out, backend="llvm")(X, Y)
    assert Hn[0].shape == (3, 3, 3) and not Hn[0].any()
    close(Hn[1][0], np.stack([np.diag(-np.sin(X) * (i == np.arange(3))) for i in range(3)]))
    assert Hn[1][1].shape == (3, 3) and not Hn[1][1].any()


# -- keyword arguments and argnums order ---------------------------------------------------
def test_keyword_arguments_bind_like_python():
    g = ad.grad(scaled, backend="llvm")
    close(g(X, k=3.0), 6.0 * X)
    close(g(x=X), 4.0 * X)
    assert np.isclose(ad.grad(scaled, argnums=1, backend="llvm")(X, k=3.0), np.sum(X ** 2))
    assert np.isclose(ad.jit(scaled, backend="llvm")(k=1.0, x=X), np.sum(X ** 2))
    for call, msg in [(lambda: g(X, kk=1.0), "unexpected keyword argument 'kk'"),
                      (lambda: g(X, x=X), "multiple values for argument 'x'"),
                      (lambda: g(k=1.0), "missing the argument 'x'")]:
        with pytest.raises(ad.TypeInferenceError, match=msg) as info:
            call()
        assert "'scaled'" in str(info.value) and info.value.hint


def test_argnums_in_given_order_compiled_too():
    g = ad.grad(scaled, argnums=(1, 0), backend="llvm")
    gk, gx = g(X, 3.0)
    assert np.isclose(gk, np.sum(X ** 2))
    close(gx, 6.0 * X)
    gk2, gx2 = ad.jit(g, backend="llvm")(X, 3.0)
    assert np.isclose(gk2, gk)
    close(gx2, gx)


def test_compiled_jacobian_programs_nest_like_python():
    for kind in ("jacfwd", "jacrev"):
        d = jac(kind, last_pair, (0, 1))
        want = d(X, Y)
        got = ad.jit(d, backend="llvm")(X, Y)
        same_nesting(got, want)
        close(got, want)


def last_pair(x, y):
    return x * y, np.sum(np.sin(x)) * y


def test_jacrev_of_integer_output_is_named():
    with pytest.raises(ad.NonDifferentiable, match="output 1 of 'int_out' is an integer"):
        ad.jacrev(int_out, backend="llvm")(X)


# -- numba ------------------------------------------------------------------------------------
def scalar_pair(p, x):
    w, (b, c) = p
    return np.sum(np.tanh(w @ x + b)) * c, (np.sum(x * x) * c,)


def test_numba_nested_output_and_tuple_argument():
    """jacrev over every argument and vjp share one reverse program (scalar outputs: no
    separate primal compile)."""
    jr = ad.jacrev(scalar_pair, argnums=(0, 1), backend="numba")(P, X)
    same_nesting(jr, ((P, X), ((P, X),)))
    for leaf in range(4):
        ref = fd_jacobian(scalar_pair, (P, X), leaf)
        got = [jr[0], jr[1][0]]
        got = [_leaves(g)[leaf] for g in got]
        close(tuple(got), tuple(ref), 1e-5)
    out, pb = ad.vjp(scalar_pair, P, X, backend="numba")
    close(out, scalar_pair(P, X))
    gp, gx = pb((1.0, (0.0,)))
    close((gp, gx), jr[0])
