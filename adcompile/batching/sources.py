"""Per-instance programs for a batch: what one instance computes, as one IR program, and
which of its results are adjoints of shared arguments (summed over the batch).

A plain function (or a `jit` object) gives its primal; a derivative object (`grad`,
`value_and_grad`, `jacfwd`, `jacrev`, `hessian`) its own program; `pushforward(f)` and
`pullback(f)` name the `jvp` and `vjp` programs as objects (the API's `jvp`/`vjp` are calls
that take the primals, not objects a batch can hold).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..api import Compiled, resolve_options
from ..derivatives import Derivative, unwrap
from ..driver import programs
from ..driver.compile import call_specialization, specialize
from ..driver.options import CompileOptions
from ..frontend.env import unflatten
from ..errors import AdError
from ..ir.types import scalar_of
from ..signature import ArgSpec, arg_spec, user_function


def _nparams(f) -> int:
    return user_function(f).__code__.co_argcount


def _nums(argnums, n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    return tuple(i % n for i in nums)


class _ProgramObject:
    """Callable from Python (one instance, through the compile driver) and from a batch."""

    __adcompile__ = True

    def program(self, sig) -> tuple[programs.Program, tuple[int | None, ...]]:
        raise NotImplementedError

    def __adcompile_program__(self, sig) -> programs.Program:
        return self.program(sig)[0]

    def __call__(self, *args):
        sig = tuple(arg_spec(self.py_func, i, a) for i, a in enumerate(args))
        sp = specialize(self, sig, None, self.options)
        tree = self.program(sig)[0].tree
        res = call_specialization(sp, args)
        res = list(res) if isinstance(res, tuple) else [res]
        return res[0] if tree is None else unflatten(tree, res)


class pushforward(_ProgramObject):   # noqa: N801 - named like the API's transforms
    """`pushforward(f, argnums)(*primals, *tangents) -> (f(*primals), tangents of f)`: the
    program of `jvp(f, primals, tangents)` with tangents for the float arguments `argnums`
    (default: every float argument), as an object `batch` can hold."""

    def __init__(self, f: Callable, argnums: int | Sequence[int] | None = None, *,
                 backend: str | None = None, options: CompileOptions | None = None):
        self.py_func = unwrap(f)
        self.argnums = argnums
        self.options = resolve_options(backend, options)
        self.__name__ = f"{self.py_func.__name__}_pushforward"

    def active(self, sig) -> tuple[bool, ...]:
        n = _nparams(self.py_func)
        floats = [scalar_of(s.type).is_float for s in sig[:n]]
        if self.argnums is None:
            return tuple(floats)
        nums = _nums(self.argnums, n)
        return tuple(i in nums and floats[i] for i in range(n))

    def program(self, sig) -> tuple[programs.Program, tuple[int | None, ...]]:
        n = _nparams(self.py_func)
        prog = programs.forward(self.py_func, sig[:n], self.active(sig[:n]), self.options)
        return prog, (None,) * len(prog.fn.result_types)


class pullback(_ProgramObject):   # noqa: N801 - named like the API's transforms
    """`pullback(f, argnums)(*primals, *cotangents) -> cotangents of argnums`: the program of
    `vjp(f, *primals)[1](cotangents)`, one cotangent per float output of f, as an object
    `batch` can hold. Batched, the cotangents of shared arguments are summed."""

    def __init__(self, f: Callable, argnums: int | Sequence[int] | None = None, *,
                 backend: str | None = None, options: CompileOptions | None = None):
        self.py_func = unwrap(f)
        self.argnums = argnums
        self.options = resolve_options(backend, options)
        self.__name__ = f"{self.py_func.__name__}_pullback"

    def program(self, sig) -> tuple[programs.Program, tuple[int | None, ...]]:
        n = _nparams(self.py_func)
        floats = [scalar_of(s.type).is_float for s in sig[:n]]
        nums = range(n) if self.argnums is None else _nums(self.argnums, n)
        active = tuple(i in nums and floats[i] for i in range(n))
        prog = programs.reverse(self.py_func, sig[:n], active, self.options)
        return prog, tuple(i for i in range(n) if active[i])


def instance_program(fn, sig: tuple[ArgSpec, ...], options: CompileOptions
                     ) -> tuple[programs.Program, tuple[int | None, ...]]:
    """(the per-instance program of `fn` for `sig`, per result: the argument whose adjoint
    it is, or None)."""
    if isinstance(fn, (pushforward, pullback)):
        return fn.program(sig)
    if isinstance(fn, Derivative):
        prog = fn.__adcompile_program__(sig)
        if fn.what in ("grad", "value_and_grad"):
            nums = _nums(getattr(fn, "_recipe", {}).get("argnums", 0), len(sig))
            adj = tuple(nums)
            return prog, ((None,) + adj if fn.what == "value_and_grad" else adj)
        return prog, (None,) * len(prog.fn.result_types)
    f = fn.py_func if isinstance(fn, Compiled) else fn
    if getattr(f, "__adcompile_program__", None) is not None or callable(f):
        prog = programs.primal(f, sig, options)
        return prog, (None,) * len(prog.fn.result_types)
    raise AdError(f"batch: {fn!r} is not a function or a derivative object",
                  hint="pass a function, adcompile.grad(f), jacfwd(f), pushforward(f), ...")


@dataclass(frozen=True)
class Reductions:
    """Which results of a batch are summed: result k sums over the batch when the argument
    `adjoint_of[k]` is shared."""

    adjoint_of: tuple[int | None, ...]

    def layout(self, batched: tuple[bool, ...]) -> tuple[int | None, ...]:
        return tuple(None if a is None or batched[a] else a for a in self.adjoint_of)
