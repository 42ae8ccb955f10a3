"""The checks the fuzzer runs on one program, as named, independent outcomes.

A check is named ``<engine>.<what>``: ``cpython`` (the program itself runs: a failure is a
generator bug), ``interpret``, ``<b>.primal``, and for differentiable programs (float inputs,
float outputs) ``<b>.jvp.primal``, ``<b>.jvp.fd`` (tangent vs central finite differences),
``<b>.vjp.primal``, ``<b>.dot`` (``<J v, w> == <v, J^T w>``), ``<b>.grad.fd`` (scalar
outputs: the whole gradient vs finite differences, coordinate by coordinate) and
``<b>.checkpoint`` (the vjp under a checkpoint policy equals store-all; LLVM only by default, as
it costs one more compile), for each backend ``b`` in numba/llvm.  Each derivative is compiled once per program and backend (the jvp, vjp
and grad objects are reused by every check of that backend).

Finite-difference checks are skipped where the point sits on a kink or a jump of the program
(one-sided differences disagree) or where the derivative itself jumps next to the point (a tie
decided exactly at the point); the dot-product test holds at kinks too and always runs.

Checks work on a function and its arguments, not on a `Program`, so a reproducer file can run
them on the function it defines (`rerun`).
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import time
import traceback
from collections.abc import Callable, Iterable

import numpy as np

from tests.ad._util import abs_inner, assert_close, assert_dot, fd_directional, inner, parts, shift
from tests.programs import assert_results_close

BACKENDS = ("numba", "llvm")
POLICIES = (("every", 2), ("binomial", 2), "sqrt", ("snapshots", 2), ("snapshots", 2, 2),
            ("every", 1), ("binomial", 1))
ENGINES = ("interpret",) + BACKENDS


@dataclasses.dataclass
class Outcome:
    """What one check gave: status "pass", "fail" or "skip"; a failure's `kind` is
    "mismatch" or "raised <ExceptionType>" (the shrinker keeps that kind fixed)."""

    check: str
    status: str
    kind: str = ""
    detail: str = ""
    seconds: float = 0.0


class _Skip(Exception):
    """A check that does not apply here (a kink at the point, a prerequisite failed)."""


def _fresh(args) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _is_float(a) -> bool:
    if isinstance(a, np.ndarray):
        return a.dtype.kind == "f"
    return isinstance(a, (float, np.floating)) and not isinstance(a, bool)


def _float_outputs(out) -> bool:
    outs = out if isinstance(out, tuple) else (out,)
    return bool(outs) and all(_is_float(o) for o in outs)


def _flat(out) -> np.ndarray:
    return np.concatenate([p.ravel() for p in parts(out)])


def _args_unchanged(what: str, args, original) -> None:
    for a, o in zip(args, original):
        if isinstance(o, np.ndarray) and not np.array_equal(a, o, equal_nan=True):
            raise AssertionError(f"{what} modified an argument array: {o!r} -> {a!r}")


@dataclasses.dataclass
class ProgramChecks:
    """Runs the checks of one function on its arguments; `only` restricts them to a set of
    names (the shrinker and reproducers rerun a single check)."""

    func: Callable
    args: tuple
    engines: tuple = ENGINES
    only: frozenset | None = None
    checkpoint_backends: tuple = ("llvm",)   # where `<b>.checkpoint` runs (a compile more)
    on_start: Callable[[str], None] | None = None   # told each check's name (hang reports)
    outcomes: list = dataclasses.field(default_factory=list)

    def wants(self, name: str, also_for: Iterable[str] = ()) -> bool:
        return self.only is None or name in self.only or any(n in self.only for n in also_for)

    def run(self, name: str, body: Callable[[], object], also_for: Iterable[str] = ()):
        """Run one named check (or a prerequisite of the checks `also_for`); record its
        outcome; return the body's value (None if it did not pass)."""
        if not self.wants(name, also_for):
            return None
        if self.on_start is not None:
            self.on_start(name)
        t0 = time.perf_counter()
        try:
            value = body()
        except _Skip as e:
            self.outcomes.append(Outcome(name, "skip", detail=str(e)))
            return None
        except AssertionError as e:
            self.outcomes.append(Outcome(name, "fail", "mismatch", str(e),
                                         time.perf_counter() - t0))
            return None
        except Exception as e:  # noqa: BLE001 - any exception of adcompile is a finding
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-4))
            self.outcomes.append(Outcome(name, "fail", f"raised {type(e).__name__}",
                                         f"{type(e).__name__}: {e}\n{tb}",
                                         time.perf_counter() - t0))
            return None
        self.outcomes.append(Outcome(name, "pass", seconds=time.perf_counter() - t0))
        return value

    def skip_all(self, names: Iterable[str], why: str) -> None:
        for n in names:
            if self.wants(n):
                self.outcomes.append(Outcome(n, "skip", detail=why))

    # -- the program in CPython and the primal engines -------------------------------------
    def all(self) -> list[Outcome]:
        import adcompile as ad

        expected = self.run("cpython", lambda: self.func(*_fresh(self.args)))
        if self.outcomes and self.outcomes[-1].status == "fail":
            return self.outcomes
        if expected is None:  # `only` left cpython out: still needed as the reference
            expected = self.func(*_fresh(self.args))
        for engine in self.engines:
            if engine == "interpret":
                self.run("interpret", functools.partial(
                    self._primal, "interpret", functools.partial(ad.interpret, self.func),
                    expected))
                continue
            self.run(f"{engine}.primal", functools.partial(
                self._primal, engine, ad.jit(self.func, backend=engine), expected))
            if _float_outputs(expected) and any(_is_float(a) for a in self.args):
                _DerivativeChecks(self, engine, expected).all()
        return self.outcomes

    def _primal(self, what: str, fn: Callable, expected) -> None:
        args = _fresh(self.args)
        got = fn(*args)
        _args_unchanged(what, args, self.args)
        assert_results_close(expected, got, f"CPython vs {what}")


def _smooth_here(f, args, nums, dirs, h=1e-6) -> bool:
    """One-sided differences agree: no kink or jump within h of the point along dirs."""
    f0 = parts(f(*_fresh(args)))
    fp = parts(f(*shift(args, nums, dirs, h)))
    fm = parts(f(*shift(args, nums, dirs, -h)))
    for a, b, c in zip(fm, f0, fp):
        fwd, bwd = (c - b) / h, (b - a) / h
        if np.any(np.abs(fwd - bwd) > 1e-3 * (1.0 + np.abs(fwd) + np.abs(bwd))):
            return False
    return True


def _confirm_fd(compare: Callable[[], None], f, args, nums, dirs, k: int, ad_value) -> None:
    """Run `compare` (AD vs central differences); on a mismatch, skip instead when the AD value
    equals one of the one-sided differences with a 100x smaller step: a kink whose slope jump
    is too small for `_smooth_here` but sits within the central step (AD takes one side of it,
    central differences average both); a wrong derivative matches neither side."""
    try:
        compare()
    except AssertionError:
        h = 1e-8
        f0 = parts(f(*_fresh(args)))[k]
        fwd = (parts(f(*shift(args, nums, dirs, h)))[k] - f0) / h
        bwd = (f0 - parts(f(*shift(args, nums, dirs, -h)))[k]) / h
        g = np.asarray(ad_value, dtype=np.float64)
        slack = 1e-6 * (1.0 + np.abs(g)) + 1e-7 * np.abs(f0)   # O(h f'') and rounding
        if np.all(np.minimum(np.abs(g - fwd), np.abs(g - bwd)) <= slack + 1e-5 * np.abs(g)):
            raise _Skip("a kink within the central step: AD matches a one-sided difference")
        raise


def jittered(args, nums) -> tuple:
    """The float arguments moved by up to 0.1 (a fixed draw): a generic point next to the
    drawn one, off the ties and round numbers hypothesis favours."""
    rng = np.random.default_rng(13)
    out = list(_fresh(args))
    for i in nums:
        if isinstance(out[i], np.ndarray):
            out[i] = out[i] + rng.uniform(-0.1, 0.1, out[i].shape)
        else:
            out[i] = float(out[i] + rng.uniform(-0.1, 0.1))
    return tuple(out)


def _direction(rng: np.random.Generator, shape: tuple):
    d = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    return d if shape else float(d)


@dataclasses.dataclass
class _DerivativeChecks:
    """jvp, vjp and grad of one backend, each compiled once, and the checks between them."""

    pc: ProgramChecks
    backend: str
    expected: object

    def __post_init__(self):
        args = self.pc.args
        self.nums = tuple(i for i, a in enumerate(args) if _is_float(a))
        rng = np.random.default_rng(7)
        # entries of size 0.5..1.5 with random signs: a tiny one would hide its errors under
        # the absolute tolerances (the first normal draw of this seed is 0.0012)
        self.tangents = [_direction(rng, np.shape(a)) if i in self.nums else None
                         for i, a in enumerate(args)]
        self.dirs = [self.tangents[i] for i in self.nums]
        self.ws = [rng.standard_normal(p.shape) if p.ndim else float(rng.standard_normal())
                   for p in parts(self.expected)]
        self.scalar_out = not isinstance(self.expected, tuple) and np.ndim(self.expected) == 0

    def name(self, what: str) -> str:
        return f"{self.backend}.{what}"

    def jvp(self, args):
        import adcompile as ad
        return ad.jvp(self.pc.func, _fresh(args), self.tangents, backend=self.backend)

    def all(self) -> None:
        pc = self.pc
        jv = pc.run(self.name("jvp.primal"), self.jvp_primal,
                    also_for=(self.name("jvp.fd"), self.name("dot")))
        if jv is None:
            pc.skip_all([self.name("jvp.fd"), self.name("dot")], "jvp failed")
        else:
            pc.run(self.name("jvp.fd"), lambda: self.jvp_fd(jv))
        vj = pc.run(self.name("vjp.primal"), self.vjp_primal,
                    also_for=(self.name("dot"), self.name("checkpoint")))
        if jv is not None and vj is not None:
            pc.run(self.name("dot"), lambda: self.dot(jv, vj))
        elif vj is None:
            pc.skip_all([self.name("dot")], "vjp failed")
        if self.scalar_out:
            pc.run(self.name("grad.fd"), self.grad_fd)
        name = self.name("checkpoint")
        if self.backend in pc.checkpoint_backends or (pc.only and name in pc.only):
            if vj is None:
                pc.skip_all([name], "vjp failed")
            else:
                pc.run(name, lambda: self.checkpointed(vj))

    # -- forward mode ----------------------------------------------------------------------
    def jvp_primal(self):
        args = _fresh(self.pc.args)
        out, dot = self.jvp(args)
        _args_unchanged("jvp", args, self.pc.args)
        assert_close(_flat(out), _flat(self.expected), 1e-9, 1e-12, "jvp primal output vs CPython")
        return dot

    def jvp_fd(self, dot):
        """At the drawn point, or where that is a kink (hypothesis draws ties such as 0.0
        often), at a generic point next to it (`jittered`)."""
        try:
            self._jvp_fd_at(self.pc.args, dot)
        except _Skip as why:
            args = jittered(self.pc.args, self.nums)
            try:
                self._jvp_fd_at(args, self.jvp(args)[1], f" at the jittered point {args!r}")
            except _Skip as again:
                raise _Skip(f"{why}; at the jittered point: {again}") from None

    def _jvp_fd_at(self, args, dot, where: str = ""):
        f = self.pc.func
        if not _smooth_here(f, args, self.nums, self.dirs):
            raise _Skip("kink or jump at the point")
        here = _flat(dot)
        for sgn in (1.0, -1.0):  # a tie decided at the point: AD takes the branch there
            near = _flat(self.jvp(shift(args, self.nums, self.dirs, sgn * 1e-5))[1])
            if np.any(np.abs(near - here) > 1e-3 * (1.0 + np.abs(here))):
                raise _Skip("the derivative jumps next to the point")
        fd = fd_directional(f, args, self.nums, self.dirs)
        for k, (g, w) in enumerate(zip(parts(dot), fd)):
            _confirm_fd(functools.partial(assert_close, g, w, 1e-5, 1e-6,
                                          f"jvp output {k} vs finite differences{where}"),
                        f, args, self.nums, self.dirs, k, g)

    # -- reverse mode ----------------------------------------------------------------------
    def vjp_primal(self):
        import adcompile as ad
        args = _fresh(self.pc.args)
        out, f_vjp = ad.vjp(self.pc.func, *args, backend=self.backend)
        _args_unchanged("vjp", args, self.pc.args)
        assert_close(_flat(out), _flat(self.expected), 1e-9, 1e-12, "vjp primal output vs CPython")
        cts = f_vjp(tuple(self.ws) if isinstance(self.expected, tuple) else self.ws[0])
        if len(cts) != len(self.pc.args):
            raise AssertionError(f"vjp gave {len(cts)} cotangents for {len(self.pc.args)} args")
        for i, c in enumerate(cts):
            if (c is None) != (i not in self.nums):
                raise AssertionError(f"cotangent {i} is {c!r} for argument {self.pc.args[i]!r}")
        return cts

    def dot(self, dot, cts):
        t = self.tangents
        lhs = sum(inner(d, w) for d, w in zip(parts(dot), self.ws))
        rhs = sum(inner(t[i], cts[i]) for i in self.nums)
        scale = (sum(abs_inner(d, w) for d, w in zip(parts(dot), self.ws))
                 + sum(abs_inner(t[i], cts[i]) for i in self.nums))
        nv = np.sqrt(sum(inner(t[i], t[i]) for i in self.nums))
        nw = np.sqrt(sum(inner(w, w) for w in self.ws))
        assert_dot(lhs, rhs, scale, 1e-8, "dot-product test jvp/vjp", atol=1e-12 * nv * nw)

    def checkpointed(self, cts):
        """vjp under a checkpoint policy (one per program, from its source) gives the store-all
        cotangents: the same operations run in the same order (docs/checkpointing.md)."""
        import adcompile as ad
        src = inspect.getsource(self.pc.func)
        if "for " not in src and "while " not in src:
            raise _Skip("no loop to checkpoint")
        policy = POLICIES[len(src) % len(POLICIES)]
        _, f_vjp = ad.vjp(self.pc.func, *_fresh(self.pc.args), backend=self.backend,
                          checkpoint=policy)
        got = f_vjp(tuple(self.ws) if isinstance(self.expected, tuple) else self.ws[0])
        for i in self.nums:
            assert_close(got[i], cts[i], 1e-12, 1e-12,
                         f"cotangent {i} with checkpoint={policy!r} vs store-all")

    def grad_fd(self):
        """The gradient w.r.t. every float argument, coordinate by coordinate, at the drawn
        point, or at a jittered one next to it where every coordinate has a kink."""
        import adcompile as ad
        g = ad.grad(self.pc.func, argnums=self.nums, backend=self.backend)
        if not self._grad_fd_at(g, self.pc.args):
            args = jittered(self.pc.args, self.nums)
            if not self._grad_fd_at(g, args, f" at the jittered point {args!r}"):
                raise _Skip("every coordinate has a kink at the point and next to it")

    def _grad_fd_at(self, g, args, where: str = "") -> int:
        f, nums = self.pc.func, self.nums
        grads = g(*_fresh(args))
        checked = 0
        for j, i in enumerate(nums):
            shape = np.shape(args[i])
            for k in range(int(np.prod(shape)) if shape else 1):
                e = np.zeros(shape)
                e.flat[k] = 1.0
                d = e if shape else 1.0
                if not _smooth_here(f, args, (i,), (d,)):
                    continue
                here = np.ravel(grads[j])[k]
                near = [np.ravel(g(*shift(args, (i,), (d,), s))[j])[k] for s in (1e-5, -1e-5)]
                if any(abs(n - here) > 1e-3 * (1.0 + abs(here)) for n in near):
                    continue
                fd = fd_directional(f, args, (i,), (d,))[0]
                try:
                    _confirm_fd(functools.partial(
                        assert_close, here, fd, 1e-5, 1e-6,
                        f"grad of argument {i}, element {k} vs finite differences{where}"),
                        f, args, (i,), (d,), 0, here)
                except _Skip:
                    continue
                checked += 1
        return checked


def check_function(func: Callable, args: tuple, engines=ENGINES,
                   only: Iterable[str] | None = None,
                   on_start: Callable[[str], None] | None = None,
                   checkpoint_backends: tuple = ("llvm",)) -> list[Outcome]:
    """Every check (or those named in `only`) of `func(*args)`."""
    return ProgramChecks(func, tuple(args), tuple(engines),
                         frozenset(only) if only is not None else None,
                         tuple(checkpoint_backends), on_start).all()


def engines_of(check: str) -> tuple:
    """The engines a single check needs (none for `cpython`)."""
    engine = check.split(".")[0]
    return (engine,) if engine in ENGINES else ()


def rerun(func: Callable, args: tuple, check: str) -> int:
    """A reproducer's entry point: run one check, print what it gave, 1 if it fails."""
    outcomes = check_function(func, args, engines_of(check), only={check})
    for o in outcomes:
        print(f"{o.check}: {o.status} {o.kind}\n{o.detail}".rstrip())
    if not outcomes:
        print(f"{check}: did not run (not a check of this program)")
    return 1 if any(o.status == "fail" for o in outcomes) else 0
