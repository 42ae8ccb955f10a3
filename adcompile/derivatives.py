"""The derivative API, shaped like JAX's: grad, value_and_grad, jvp, vjp, jacfwd, jacrev,
hessian, hvp.

Every derivative is an IR transform of the primal (forward mode, reverse mode, or forward over
reverse), compiled by the numba backend once per argument signature and cached on disk.
`.source` on a returned function shows the generated derivative code.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .api import Compiled, resolve_options
from . import pickling
from .checkpointing import auto_policy, parse_policy
from .directions import direction
from .driver import programs
from .driver.compile import Specialization, call_specialization
from .driver.compile import specialize as _specialize
from .driver.options import CompileOptions
from .driver.transforms import HVP, JVP, VJP, Dependencies, SeedUnsupported
from .errors import (AdError, NestedTupleReturn, NonDifferentiable, SparsityWarning, TapeBudgetExceeded,
                     TypeInferenceError)
from .frontend.env import Global, unflatten
from .ad.dependencies import Unmapped
from .ir.core import Value
from .ir.printer import print_function
from .ir.types import ArrayType, scalar_of
from .jacobian import assemble, seeds
from . import trees
from .results import box, boxes
from .signature import ArgSpec, bind_defaults, require_function, signature_of, user_function


def specialize(func: Callable, args: tuple, transform, options: CompileOptions
               ) -> Specialization:
    """The compiled `transform` of `func` for these arguments' signature (cached)."""
    return _specialize(func, signature_of(func, args), transform, options)


_JVP_FAST: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()


def unwrap(f: Callable) -> Callable:
    """What a transform differentiates: the function behind a jit object, or a derivative
    object itself (its program is differentiated: transforms compose, `grad(grad(f))`)."""
    return f.py_func if isinstance(f, Compiled) else f


def _argnums_spec(argnums, what: str, single_only: bool = False) -> None:
    """`argnums` is an int or a non-empty tuple/list of distinct ints: checked when the
    derivative object is made, so the mistake is reported before any call."""
    def is_int(i):
        return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
    if is_int(argnums):
        return
    if single_only:
        raise AdError(f"{what}(argnums={argnums!r}): {what} takes one argument index (an int)",
                      hint=f"{what} differentiates with respect to one argument; for "
                      "products with the Hessian over several arguments use "
                      "hvp(f, (x, y), (u, v))")
    if not isinstance(argnums, (tuple, list)) or not argnums or \
            not all(is_int(i) for i in argnums):
        raise AdError(f"{what}(argnums={argnums!r}): argnums must be an int or a non-empty "
                      "tuple of ints",
                      hint="argnums counts positional arguments from 0: argnums=0 or "
                      "argnums=(0, 2)")
    if len({int(i) for i in argnums}) != len(argnums):
        raise AdError(f"{what}(argnums={argnums!r}) names an argument twice",
                      hint="list each argument index once")


def _argnums(argnums, nargs: int, func) -> tuple[int, ...]:
    _argnums_spec(argnums, "argnums")
    nums = (int(argnums),) if not isinstance(argnums, (tuple, list)) else \
        tuple(int(i) for i in argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            params = ", ".join(list(user_function(func).__code__.co_varnames[:nargs]))
            raise AdError(f"argnums {argnums!r} is out of range for '{func.__name__}', which "
                          f"takes {nargs} argument{'s' * (nargs != 1)} ({params})",
                          hint="argnums counts positional arguments from 0")
    nums = tuple(i % nargs for i in nums)
    if len(set(nums)) != len(nums):
        raise AdError(f"argnums {argnums!r} names an argument of '{func.__name__}' twice",
                      hint="list each argument index once")
    return nums


def _active_mask(func, args, nums) -> tuple[bool, ...]:
    return _active_of(func, signature_of(func, args), nums)


def _active_of(func, sig, nums) -> tuple[bool, ...]:
    for i in nums:
        t = sig[i].type
        if not scalar_of(t).is_float:
            name = list(inspect.signature(func).parameters)[i]
            raise NonDifferentiable(
                f"argument '{name}' (argnums {i}) is {'an integer' if scalar_of(t).is_int else 'a boolean'}"
                f" {'array' if isinstance(t, ArrayType) else 'value'}; it has no derivative",
                None, "differentiate with respect to float arguments only (pass 2.0, not 2, "
                "or an array of dtype float64/float32)")
    return tuple(i in nums for i in range(len(sig)))


_call = call_specialization


def _like(g, arg):
    """Match the gradient to its argument's kind: Python float for float, array dtype kept."""
    if isinstance(arg, np.ndarray):
        return np.asarray(g, dtype=arg.dtype).reshape(arg.shape)
    if isinstance(arg, np.floating):
        return type(arg)(g)
    return float(g)


class Derivative:
    """A compiled derivative of a user function; call it like `f` (see each factory)."""

    __adcompile__ = True

    def __init__(self, func: Callable, call: Callable, what: str, options: CompileOptions,
                 program: Callable | None = None):
        self.py_func = unwrap(func)   # what is differentiated: a function or a derivative
        self.options = options
        self._call = call
        self._program = program
        self._last: Specialization | None = None
        # argument kinds -> (specialization, argnums, cotangent seeds): repeated calls skip
        # signature building and spec lookups (they dominate small gradients)
        self._fast: dict[tuple, tuple] = {}
        self.what = what
        functools.update_wrapper(self, self.py_func, updated=())

    def __call__(self, *args, **kwargs):
        return self._call(self, bind_defaults(self.py_func, args, kwargs))

    def __reduce__(self):
        recipe = getattr(self, "_recipe", None)
        if recipe is None:
            raise AdError(f"adcompile.{self.what} objects do not pickle",
                          hint="pickle the function (or a grad/jacfwd/... of it) instead")
        return pickling.reduce(self, self.what, dict(recipe, options=self.options))

    def __adcompile_program__(self, sig) -> programs.Program:
        """This derivative for one signature as one IR program (for transforms of it)."""
        if self._program is None:
            raise AdError(f"adcompile.{self.what} of '{self.__name__}' assembles its result "
                          "from several compiled passes in Python, so it cannot be compiled, "
                          "differentiated again or called from compiled code",
                          hint="call it from Python, or use jacfwd (or hessian), which are "
                               "one program each")
        return self._program(self, sig)

    def __adcompile_call__(self, args, kw, is_weak, as_callable):
        """Called from compiled code: this derivative's program, inlined there."""
        if kw or not all(isinstance(a, Value) for a in args):
            raise TypeInferenceError(
                f"adcompile.{self.what} of '{self.__name__}' is called from compiled code: "
                "pass its arguments positionally, as numbers or arrays", None,
                "write the call as d(x, y) with every argument given")
        nparams = len(inspect.signature(self).parameters)
        if len(args) != nparams:
            raise TypeInferenceError(f"'{self.__name__}' takes {nparams} arguments but "
                                     f"{len(args)} were given", None,
                                     "pass every argument positionally")
        prog = self.__adcompile_program__(tuple(ArgSpec(a.type, is_weak(a)) for a in args))
        return prog.fn, args, lambda rs: _pack(prog.tree, rs)

    @property
    def source(self) -> str:
        if self._last is None:
            raise AdError(f"{self.what} of '{self.py_func.__name__}' has not been compiled yet",
                          hint="call it once before reading .source")
        return self._last.source

    @property
    def llvm_ir(self) -> str:
        """The LLVM IR (before optimisation) of the last specialisation (LLVM backend)."""
        self.source   # noqa: B018 - not compiled yet: its error
        return self._last.listing(
            "llvm_ir", f"{self.what} of '{self.py_func.__name__}'")

    def ir(self, stage: str) -> str:
        if self._last is None:
            raise AdError("not compiled yet", hint="call it once first")
        return print_function(self._last.ir[stage])

    def __repr__(self) -> str:
        return f"<adcompile.{self.what} of {self.py_func.__qualname__}>"


def _recorded(factory):
    """Let the factory's derivative objects pickle: remember how they were made."""
    @functools.wraps(factory)
    def make(func=None, argnums=0, **kw):
        made = factory(func, argnums, **kw)
        if isinstance(made, Derivative):
            kw.pop("backend", None)
            kw.pop("options", None)
            if "memory" in kw or "checkpoint" in kw:
                kw["checkpoint"] = parse_policy(kw.pop("checkpoint", None), kw.pop("memory", None))
            made._recipe = dict(kw, argnums=argnums)
        return made
    return pickling.register(factory.__name__, make)


def _pack(tree, results):
    return results[0] if tree is None else unflatten(tree, results)


# -- reverse mode --------------------------------------------------------------------------------
def _kinds(args) -> tuple:
    """What signature_of depends on, cheaply: Python/NumPy scalar types, array dtype/ndim."""
    return tuple((a.dtype.str, a.ndim) if type(a) is np.ndarray else type(a) for a in args)


def _grad_call(self, args, argnums, checkpoint, what):
    """(value, gradients as a tuple over argnums) of one reverse pass, through the fast path
    once this argument kind has been seen."""
    key = _kinds(args)
    hit = self._fast.get(key)
    if hit is not None and hit[0].stale():   # a global it read changed: compile anew
        del self._fast[key]
        hit = None
    if hit is not None:
        sp, nums, cots = hit
        try:
            res = _call(sp, tuple(args) + cots)
            self._last = sp
            return sp.boxes[0](res[0]), _in_order(res[1:], nums, args)
        except TapeBudgetExceeded:
            pass   # this call's loops are too long for store-all: the slow path retries
    f = self.py_func
    nums = _argnums(argnums, len(args), f)
    sp, outs, grads, _ = _vjp_run(f, args, nums, need_scalar=True, what=what,
                                  options=self.options, checkpoint=checkpoint)
    self._last = sp
    active = tuple(i in nums for i in range(len(args)))
    if sp is specialize(f, args, VJP(active, checkpoint=checkpoint), self.options):
        t = sp.primal.result_types[0]
        self._fast[key] = (sp, nums, (1.0 if t.name == "f64" else np.float32(1.0),))
    return sp.boxes[0](outs[0]), _in_order(grads, nums, args)


def _in_order(grads, nums, args) -> tuple:
    """The gradients of a reverse pass (one per active argument, in argument order) in the
    order of `nums` (argnums=(1, 0) asks for them backwards), each like its argument."""
    by_arg = dict(zip(sorted(nums), grads))
    return tuple(_like(by_arg[i], args[i]) for i in nums)


def _grad_tuple_call(self, args, argnums, checkpoint, what):
    """_grad_call for arguments that are tuples: the flat function's gradient, nested as each
    differentiated argument is (a tuple of gradients for a tuple argument)."""
    f = self.py_func
    nums = _argnums(argnums, len(args), f)
    fl = trees.flat_call(f, args)
    lnums = fl.leaf_nums(nums)
    sp, outs, grads, _ = _vjp_run(fl.g, fl.args, lnums, need_scalar=True, what=what,
                                  options=self.options, checkpoint=checkpoint)
    self._last = sp
    return sp.boxes[0](outs[0]), tuple(fl.nest_args(list(_in_order(grads, lnums, fl.args)),
                                                    nums))


def _has_tuples(args) -> bool:
    return any(isinstance(a, tuple) for a in args)


def _call_vjp(func, args, active, checkpoint, options, call_args):
    """(specialization, results) of a reverse-mode call. Without a policy, a loop whose tape
    would exceed ADCOMPILE_TAPE_LIMIT stops before recording it; the call is then redone with
    binomial checkpointing (a warning says so), and the caller keeps that specialization."""
    return _retry_checkpointed(
        lambda policy: specialize(func, args, VJP(active, checkpoint=policy), options),
        checkpoint, options, call_args, "grad", 5)


def _retry_checkpointed(spec_for, checkpoint, options: CompileOptions, call_args, what: str,
                        stacklevel: int):
    """(specialization, results) of `spec_for(checkpoint)`; above the tape limit without a
    policy, redone (with a warning) under binomial checkpointing in the limit's memory."""
    sp = spec_for(checkpoint)
    try:
        return sp, _call(sp, call_args)
    except TapeBudgetExceeded as err:
        if checkpoint is not None or options.tape_limit is None:
            raise
        policy = auto_policy(options.tape_limit)
        warnings.warn(f"{err.message}; adcompile recomputes it with binomial checkpointing "
                      f"in {policy.memory} bytes of snapshots (choose with {what}(..., "
                      f"checkpoint=...), or set ADCOMPILE_TAPE_LIMIT)", RuntimeWarning,
                      stacklevel=stacklevel)
        sp = spec_for(policy)
        return sp, _call(sp, call_args)


def _vjp_run(func, args, nums, cots=None, need_scalar=False, what="grad",
             options: CompileOptions | None = None, checkpoint=None):
    active = _active_mask(func, args, nums)
    fn = specialize(func, args, VJP(active, checkpoint=checkpoint), options).primal
    outs = fn.result_types
    float_outs = [i for i, t in enumerate(outs) if scalar_of(t).is_float]
    if need_scalar:
        if fn.returns_tuple or len(outs) != 1 or isinstance(outs[0], ArrayType) or \
                not scalar_of(outs[0]).is_float:
            shown = ", ".join(str(t) for t in outs) or "nothing"
            raise TypeInferenceError(
                f"{what} needs a function returning one float scalar; '{func.__name__}' "
                f"returns ({shown})", fn.loc,
                "use adcompile.vjp or adcompile.jacrev for non-scalar outputs")
        cots = [1.0 if scalar_of(outs[0]).name == "f64" else np.float32(1.0)]
    sp, res = _call_vjp(func, args, active, checkpoint, options, tuple(args) + tuple(cots))
    n = len(outs)
    out_vals, grads = res[:n], res[n:]
    return sp, out_vals, grads, float_outs


def _gradient_program(argnums, checkpoint, with_value: bool):
    def program(self, sig):
        f = self.py_func
        active = _active_of(f, sig, _argnums(argnums, len(sig), f))
        nums = _argnums(argnums, len(sig), f)
        return programs.gradient(f, sig, active, isinstance(argnums, int), with_value,
                                 checkpoint, self.options, self.what, nums)
    return program


@_recorded
def grad(func: Callable | None = None, argnums: int | Sequence[int] = 0, *,
         backend: str | None = None, checkpoint=None, memory=None,
         options: CompileOptions | None = None):
    """Gradient of a scalar-valued function (reverse mode). Bare decorator or call.
    `backend`: "numba" (default; `ADCOMPILE_BACKEND` changes it) or "llvm". `checkpoint`: a policy for the outermost loops
    ("binomial" with `memory="50MB"`, ("binomial", s), "sqrt", ("every", k),
    ("snapshots", s[, levels])); see docs/checkpointing.md."""
    _argnums_spec(argnums, "grad")
    checkpoint = parse_policy(checkpoint, memory)
    if func is None:
        return lambda f: grad(f, argnums, backend=backend, checkpoint=checkpoint, options=options)
    single = not isinstance(argnums, (tuple, list))

    def call(self, args):
        _, out = (_grad_tuple_call if _has_tuples(args) else _grad_call)(
            self, args, argnums, checkpoint, "grad")
        return out[0] if single else out
    return Derivative(func, call, "grad", resolve_options(backend, options),
                      _gradient_program(argnums, checkpoint, False))


@_recorded
def value_and_grad(func: Callable | None = None, argnums: int | Sequence[int] = 0, *,
                   backend: str | None = None, checkpoint=None, memory=None,
                   options: CompileOptions | None = None):
    """(value, gradient) in one reverse pass; `checkpoint`/`memory` as for `grad`."""
    _argnums_spec(argnums, "value_and_grad")
    checkpoint = parse_policy(checkpoint, memory)
    if func is None:
        return lambda f: value_and_grad(f, argnums, backend=backend, checkpoint=checkpoint,
                                        options=options)
    single = not isinstance(argnums, (tuple, list))

    def call(self, args):
        value, g = (_grad_tuple_call if _has_tuples(args) else _grad_call)(
            self, args, argnums, checkpoint, "value_and_grad")
        return value, (g[0] if single else g)
    return Derivative(func, call, "value_and_grad", resolve_options(backend, options),
                      _gradient_program(argnums, checkpoint, True))


def _out(fn_ir, vals):
    return tuple(vals) if fn_ir.returns_tuple else vals[0]


def _typed_out(fn_ir, vals):
    """Primal results (or their tangents) as the user sees them: typed as NumPy 2 would."""
    return _out(fn_ir, box(boxes(fn_ir), vals))


def vjp(func: Callable, *primals, backend: str | None = None, checkpoint=None, memory=None,
         options: CompileOptions | None = None):
    """Returns (f(*primals), f_vjp) where f_vjp(cotangent) gives one cotangent per primal
    (None for integer/boolean arguments). The cotangent matches f's output structure."""
    f = unwrap(func)
    given = len(primals)   # cotangents for these; arguments left to their defaults get none
    primals = bind_defaults(f, primals)
    plain = type(f) is types.FunctionType
    if plain and _has_tuples(primals):
        return _vjp_nested(trees.flat_call(f, primals), given, backend, checkpoint, memory,
                           options)
    sig = signature_of(f, primals)
    nums = tuple(i for i, s in enumerate(sig) if scalar_of(s.type).is_float)
    active = tuple(i in nums for i in range(len(primals)))
    policy = parse_policy(checkpoint, memory)
    opts = resolve_options(backend, options)
    try:
        held = [specialize(f, primals, VJP(active, checkpoint=policy), opts)]
    except NestedTupleReturn:
        if not plain:
            raise
        return _vjp_nested(trees.flat_call(f, primals, nested=True), given, backend,
                           checkpoint, memory, options)
    checkpoint = policy
    fn = held[0].primal

    def run(call_args):
        held[0], res = _call_vjp(f, primals, active, checkpoint, opts, call_args)
        return res

    outs = fn.result_types
    float_outs = [i for i, t in enumerate(outs) if scalar_of(t).is_float]
    zero_cots = [np.zeros(1, dtype=scalar_of(outs[i]).np_dtype)[0] if
                 not isinstance(outs[i], ArrayType) else None for i in float_outs]
    out_vals: list = []   # the primal outputs, once computed below: the cotangents' shapes

    def f_vjp(cotangent):
        if fn.returns_tuple and not isinstance(cotangent, (tuple, list)):
            raise AdError(f"'{f.__name__}' returns a tuple of {len(outs)} values, so the "
                          "cotangent must be a tuple too",
                          hint="pass one cotangent per output: f_vjp((g0, g1, ...))")
        cots = list(cotangent) if fn.returns_tuple else [cotangent]
        if len(cots) != len(outs):
            raise AdError(f"the cotangent must match the output structure ({len(outs)} values)",
                          hint="pass one cotangent per output, as a tuple if f returns one")
        args = [direction(cots[i], out_vals[i], scalar_of(outs[i]).np_dtype,
                          f"the cotangent of output {i}" if fn.returns_tuple else "the cotangent",
                          f"output {i} of '{f.__name__}'" if fn.returns_tuple else
                          f"the output of '{f.__name__}'") for i in float_outs]
        res = run(tuple(primals) + tuple(args))
        grads = iter(res[len(outs):])
        return tuple(_like(next(grads), p) if a else None
                     for p, a in zip(primals, active))[:given]

    # the primal output comes from the compiled derivative itself (one compile)
    if float_outs and all(z is not None for z in zero_cots):
        first = run(tuple(primals) + tuple(zero_cots))[:len(outs)]
    else:
        first = _compiled_primal(f, primals, opts)
        first = first if fn.returns_tuple else (first,)
    out_vals.extend(first)
    f_vjp.source = held[0].source
    if "llvm_ir" in held[0].listings:     # (.source above rebuilt a disk-cached program)
        f_vjp.llvm_ir = held[0].listings["llvm_ir"]
    return _typed_out(fn, list(first)), f_vjp


def _vjp_nested(fl: "trees.Flat", given: int, backend, checkpoint, memory, options):
    """vjp of a function taking tuples or returning nested tuples: the flat function's vjp,
    the output and the argument cotangents nested as the user's function has them (a None
    leaf for an integer or boolean leaf)."""
    out, flat_vjp = vjp(fl.g, *fl.args, backend=backend, checkpoint=checkpoint, memory=memory,
                        options=options)
    several = fl.out_tree is not None

    def f_vjp(cotangent):
        cots = fl.flatten_like_out(cotangent, "the cotangent")
        grads = flat_vjp(tuple(cots) if several else cots[0])
        return tuple(fl.nest_args(list(grads), range(len(fl.in_trees))))[:given]
    f_vjp.source = flat_vjp.source
    if hasattr(flat_vjp, "llvm_ir"):
        f_vjp.llvm_ir = flat_vjp.llvm_ir
    return fl.unflatten_out(list(out) if several else [out]), f_vjp


def _hessian_nested(self, fl: "trees.Flat", i: int, checkpoint):
    """hessian for a tuple argument or tuple/array outputs, as JAX nests it: per output leaf
    (nested as the outputs), per leaf a and leaf b of argument i (nested as it, twice),
    d2 out / d a d b of shape out.shape + a.shape + b.shape. Each output entry's Hessian is
    the Hessian of the flat function's weighted sum with one-hot weights, column by column
    with Hessian-vector products."""
    f = self.py_func
    leaves = fl.args
    lnums = list(fl.spans[i])
    _active_mask(fl.g, leaves, lnums)
    if fl.out_tree is None:   # one output: its weight is a constant one
        out_vals = [_compiled_primal(fl.g, leaves, self.options)]
    else:
        out_vals = list(_compiled_primal(fl.g, leaves, self.options))
    dts = [np.asarray(v).dtype if np.asarray(v).dtype.kind == "f" else np.dtype(np.float64)
           for v in out_vals]
    weighted = trees.generated(f, fl.in_trees, fl.out_tree, weights=True)
    blocks = []
    for o, v in enumerate(out_vals):
        per_entry = []   # per output entry: H[a][b] as a flat list over (a, b)
        for e in seeds.unit_vectors(np.shape(v), dts[o]):
            ws = tuple(e if q == o else _zero_like(out_vals[q], dts[q])
                       for q in range(len(out_vals)))
            hab = []
            cols = {b: [] for b in lnums}
            for b in lnums:
                dt = np.asarray(leaves[b]).dtype
                for u in seeds.unit_vectors(np.shape(leaves[b]), dt):
                    tangents = [None] * (len(leaves) + len(ws))
                    for a in lnums:
                        tangents[a] = u if a == b else _zero_like(leaves[a], dt)
                    _, hv = hvp(weighted, tuple(leaves) + ws, tuple(tangents),
                                checkpoint=checkpoint, options=self.options)
                    cols[b].append(hv if len(lnums) > 1 else (hv,))
            for ai, a in enumerate(lnums):
                for b in lnums:
                    c = [np.asarray(col[ai]).reshape(-1) for col in cols[b]]
                    shape = np.shape(leaves[a]) + np.shape(leaves[b])
                    hab.append(np.stack(c, axis=-1).reshape(shape) if c else
                               np.zeros(shape, np.asarray(leaves[a]).dtype))
            per_entry.append(hab)
        shape = np.shape(v)
        full = [np.stack([p[k] for p in per_entry]).reshape(shape + per_entry[0][k].shape)
                if per_entry else np.zeros(shape) for k in range(len(lnums) ** 2)]
        if not shape:
            full = [_like_hessian(h) for h in full]
        rows = iter(full)
        blocks.append(fl.nest_args([fl.nest_args([next(rows) for _ in lnums], [i])[0]
                                    for _ in lnums], [i])[0])
    active = tuple(j in lnums for j in range(len(leaves))) + (False,) * len(out_vals)
    self._last = specialize(weighted, tuple(leaves) + tuple(
        _zero_like(v, dt) for v, dt in zip(out_vals, dts)), HVP(active, checkpoint),
        self.options)
    return fl.unflatten_out(blocks)


def _like_hessian(h: np.ndarray):
    """A scalar output's second derivative in two scalars is a float, as hessian gives it."""
    return float(h) if h.ndim == 0 else h


def _jvp_nested(f, primals: tuple, tangents: tuple, backend, options):
    """jvp with tuple primals (tangents nested as they are, None for a whole argument or a
    leaf held fixed), or of a function returning nested tuples: the flat function's jvp."""
    fl = trees.flat_call(f, primals, nested=True)
    flat_t = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        tree = fl.in_trees[i]
        if t is None:
            flat_t += [None] * len(fl.spans[i])
            continue
        if tree is not None and not trees.fits(t, tree):
            raise AdError(f"jvp: the tangent of argument {i} must be nested as the argument, "
                          f"{trees.show(tree)}; got {trees.show(trees.treedef(t))}",
                          hint="pass one tangent per leaf of the tuple (None to hold one fixed)")
        flat_t += trees.leaves_as(t, tree)
    out, dot = jvp(fl.g, fl.args, tuple(flat_t), backend=backend, options=options)
    several = fl.out_tree is not None
    return (fl.unflatten_out(list(out) if several else [out]),
            fl.unflatten_out(list(dot) if several else [dot]))


def _zero_like(v, dt):
    return np.zeros(np.shape(v), dt) if isinstance(v, np.ndarray) else np.zeros(1, dt)[0]


def _outputs_of(fl: "trees.Flat", fn) -> None:
    """A call that needed no flat function: its outputs' nesting is the compiled primal's."""
    if fl.is_identity:
        fl.out_tree = tuple([None] * len(fn.result_types)) if fn.returns_tuple else None


def _compiled_primal(f, primals, options: CompileOptions):
    return _call(specialize(f, primals, None, options), tuple(primals))


def _primals_and_tangents(f, primals, tangents, what: str) -> tuple[tuple, tuple]:
    """Both as tuples of one entry per argument (defaults bound, their tangents None)."""
    require_function(f)
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        bad, got = (("primals", primals) if not isinstance(primals, (tuple, list))
                    else ("tangents", tangents))
        raise AdError(f"{what}: {bad} must be a tuple (one entry per argument of "
                      f"'{f.__name__}'), got {type(got).__name__}",
                      hint=f"{what}(f, (x,), (v,)) for one argument")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(tangents) != len(primals):
        raise AdError(f"{what} needs one tangent per primal: {len(primals)} primals, "
                      f"{len(tangents)} tangents", hint="use None for arguments you hold fixed")
    full = bind_defaults(f, primals)
    return full, tangents + (None,) * (len(full) - len(primals))


def _tangents(f, primals, tangents, dtypes) -> list:
    """The tangents of the active arguments, checked against their primals and converted."""
    names = user_function(f).__code__.co_varnames
    return [direction(t, p, dt, f"the tangent of argument '{names[i]}'", "the argument")
            for i, (p, t, dt) in enumerate(zip(primals, tangents, dtypes)) if t is not None]


# -- forward mode --------------------------------------------------------------------------------
def jvp(func: Callable, primals: Sequence, tangents: Sequence, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """(f(*primals), directional derivative along `tangents`); None tangents are zero."""
    f = unwrap(func)
    primals, tangents = _primals_and_tangents(f, primals, tangents, "jvp")
    plain = type(f) is types.FunctionType
    if plain and (_has_tuples(primals) or _has_tuples(tangents)):
        return _jvp_nested(f, primals, tangents, backend, options)
    active = tuple(t is not None for t in tangents)
    opts = resolve_options(backend, options)
    table = _JVP_FAST.setdefault(f, {})
    key = (_kinds(primals), active, opts.key)
    hit = table.get(key)
    if hit is not None and hit[0].stale():   # a global it read changed: compile anew
        hit = None
    if hit is None:   # first call with these argument kinds: check, specialize, remember
        sig = signature_of(f, primals)
        for i, (s, t) in enumerate(zip(sig, tangents)):
            if t is not None and not scalar_of(s.type).is_float:
                raise NonDifferentiable(f"argument {i} is not a float, so its tangent must be "
                                        "None", None,
                                        "integer and boolean arguments have no tangent")
        try:
            sp = specialize(f, primals, JVP(active), opts)
        except NestedTupleReturn:
            if not plain:
                raise
            return _jvp_nested(f, primals, tangents, backend, options)
        hit = table[key] = (sp, [scalar_of(s.type).np_dtype for s in sig])
    sp, dtypes = hit
    fn = sp.primal
    dots = _tangents(f, primals, tangents, dtypes)
    res = _call(sp, primals + tuple(dots))
    n = len(fn.result_types)
    return _typed_out(fn, list(res[:n])), _typed_out(fn, list(res[n:]))


@_recorded
def jacfwd(func: Callable, argnums: int | Sequence[int] = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Dense Jacobian by vector forward mode: all input directions in one pass per argument.
    Shape: output shape + argument shape; nested as JAX nests it (the outputs' nesting
    outside, a tuple over a tuple `argnums` inside, a tuple argument's nesting innermost)."""
    _argnums_spec(argnums, "jacfwd")
    single = not isinstance(argnums, (tuple, list))

    def call(self, args):
        f = self.py_func
        nums = _argnums(argnums, len(args), f)
        return trees.retrying(f, args, lambda fl: _jacfwd_flat(self, fl, nums, single))

    def program(self, sig):
        f = self.py_func
        nums = _argnums(argnums, len(sig), f)
        _active_of(f, sig, nums)
        return programs.jacobian_forward(f, sig, nums, single, self.options, "jacfwd")
    return Derivative(func, call, "jacfwd", resolve_options(backend, options), program)


def _jacfwd_flat(self, fl: "trees.Flat", nums, single: bool):
    """jacfwd of the flat call: per differentiated leaf one vector-forward pass."""
    g, leaves = fl.g, fl.args
    lnums = fl.leaf_nums(nums)
    _active_mask(g, leaves, lnums)
    cols = []     # per differentiated leaf: d out / d leaf for every output
    fn = None
    for i in lnums:
        active = tuple(j == i for j in range(len(leaves)))
        sp = specialize(g, leaves, JVP(active, lanes=True), self.options)
        self._last = sp
        res = _call(sp, tuple(leaves) + (seeds.identity_lanes(leaves[i]),))
        fn = sp.primal
        k = len(fn.result_types)
        cols.append([assemble.from_lanes(o, d, leaves[i])
                     for o, d in zip(res[:k], res[k:])])
    fn = fn if fn is not None else specialize(g, leaves, None, self.options).primal
    _outputs_of(fl, fn)
    table = [[c[o] for c in cols] for o in range(len(fn.result_types))]
    return fl.nest(table, nums, single)


@_recorded
def jacfwd_rows(func: Callable, argnums: int | Sequence[int] = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Row-wise Jacobians of a function whose row i of every output depends only on row i of
    the (n, m) arguments `argnums` (one residual per observation, one state per particle):
    J[i, ..., j] = d out[i, ...] / d x[i, j], shape output shape + (m,), for every row in one
    vector-forward pass with m lanes (summed widths for several arguments). The identity seed
    is computed where it is read, not passed as an (n, m, m) array. Rows must be independent:
    a function whose output row reads other rows is an AdError (use jacfwd for the full
    Jacobian)."""
    _argnums_spec(argnums, "jacfwd_rows")
    single = not isinstance(argnums, (tuple, list))

    def call(self, args):
        f = self.py_func
        nums = _argnums(argnums, len(args), f)
        active = _active_mask(f, args, nums)
        for i in nums:
            if np.ndim(args[i]) != 2:
                raise AdError(f"jacfwd_rows: argument {i} must be a 2-d (rows, columns) array, "
                              f"got shape {np.shape(args[i])}",
                              hint="use jacfwd for other shapes")
        widths = [np.shape(args[i])[1] for i in nums]
        try:
            sp = specialize(f, args, JVP(active, lanes=True, seed_rows=True),
                            self.options)
            _check_rows(self, sp, nums)
            res = _call(sp, tuple(args))
        except SeedUnsupported:   # whole-array use of an argument: pass the seed itself
            sp = specialize(f, args, JVP(active, lanes=True), self.options)
            _check_rows(self, sp, nums)
            res = _call(sp, tuple(args) + tuple(seeds.row_block_lanes(args, nums)))
        self._last = sp
        fn = sp.primal
        k = len(fn.result_types)
        per_out = []
        for o, d in zip(res[:k], res[k:]):
            d = np.asarray(d)
            if np.ndim(o) == 0 or np.shape(d)[0] != np.shape(args[nums[0]])[0]:
                raise AdError("jacfwd_rows needs outputs whose first axis is the rows of the "
                              "arguments", hint="return per-row results, shape (n, ...)")
            blocks = assemble.split_lanes(d, widths)
            per_out.append(blocks[0] if single else tuple(blocks))
        return _out(fn, per_out)

    def program(self, sig):
        f = self.py_func
        nums = _argnums(argnums, len(sig), f)
        _active_of(f, sig, nums)
        return programs.jacobian_rows(f, sig, nums, single, self.options, "jacfwd_rows")
    return Derivative(func, call, "jacfwd_rows", resolve_options(backend, options), program)


def _check_rows(self, sp: Specialization, nums) -> None:
    """Row independence, checked once per program (see programs.require_row_independence)."""
    done = self.__dict__.setdefault("_rows_checked", set())
    if id(sp) in done:
        return
    programs.require_row_independence(self.py_func, sp.ir["primal"], nums)
    done.add(id(sp))


@_recorded
def jacrev(func: Callable, argnums: int | Sequence[int] = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Dense Jacobian by reverse mode: one reverse pass per output element; nested as
    jacfwd's."""
    _argnums_spec(argnums, "jacrev")
    single = not isinstance(argnums, (tuple, list))

    def call(self, args):
        f = self.py_func
        nums = _argnums(argnums, len(args), f)
        return trees.retrying(f, args, lambda fl: _jacrev_flat(self, fl, nums, single))

    def program(self, sig):
        f = self.py_func
        nums = _argnums(argnums, len(sig), f)
        _active_of(f, sig, nums)
        return programs.jacobian_reverse(f, sig, nums, single, self.options, "jacrev")
    return Derivative(func, call, "jacrev", resolve_options(backend, options), program)


def _jacrev_flat(self, fl: "trees.Flat", nums, single: bool):
    """jacrev of the flat call: one reverse pass per output entry."""
    f = self.py_func
    g, leaves = fl.g, fl.args
    lnums = fl.leaf_nums(nums)
    active = _active_mask(g, leaves, lnums)
    sp = specialize(g, leaves, VJP(active), self.options)
    self._last = sp
    fn = sp.primal
    _outputs_of(fl, fn)
    outs = fn.result_types
    for o, t in enumerate(outs):
        if not scalar_of(t).is_float:
            kind = "an integer" if scalar_of(t).is_int else "a boolean"
            which = f"output {o}" if fn.returns_tuple else "the output"
            raise NonDifferentiable(
                f"jacrev: {which} of '{f.__name__}' is {kind} {t}; it has no derivative",
                fn.loc, "return float values, or leave that output out of the function "
                "you differentiate")
    dts = [scalar_of(t).np_dtype for t in outs]
    if all(not isinstance(t, ArrayType) for t in outs):   # one compile: the vjp itself
        zeros = tuple(np.zeros(1, dt)[0] for dt in dts)
        out_vals = list(_call(sp, tuple(leaves) + zeros)[:len(outs)])
    else:
        out_vals = _compiled_primal(g, leaves, self.options)
        out_vals = list(out_vals) if fn.returns_tuple else [out_vals]
    shapes = [np.shape(v) for v in out_vals]
    order = sorted(lnums)
    table = []
    for o in range(len(outs)):
        rows = {i: [] for i in lnums}
        for c in seeds.unit_vectors(shapes[o], dts[o]):
            cots = tuple(c if q == o else _zero_like(out_vals[q], dts[q])
                         for q in range(len(outs)))
            sp, res = _call_vjp(g, leaves, active, None, self.options,
                                tuple(leaves) + cots)
            for i, gr in zip(order, res[len(outs):]):
                rows[i].append(np.asarray(gr))
        table.append([assemble.from_rows(rows[i], shapes[o], leaves[i]) for i in lnums])
    return fl.nest(table, nums, single)


def hvp(func: Callable, primals: Sequence, tangents: Sequence, *, backend: str | None = None,
        checkpoint=None, memory=None, options: CompileOptions | None = None):
    """Hessian-vector product (forward over reverse) of a scalar function: returns
    (grad, H @ v) for each float argument with a tangent. `checkpoint`/`memory`: the reverse
    pass's policy, as for `grad`."""
    f = unwrap(func)
    primals, tangents = _primals_and_tangents(f, primals, tangents, "hvp")
    active = tuple(t is not None for t in tangents)
    nums = tuple(i for i, a in enumerate(active) if a)
    _active_mask(f, primals, nums)
    checkpoint = parse_policy(checkpoint, memory)
    options = resolve_options(backend, options)
    sp = specialize(f, primals, HVP(active, checkpoint), options)
    fn = sp.primal
    if fn.returns_tuple or isinstance(fn.result_types[0], ArrayType):
        shown = ", ".join(str(t) for t in fn.result_types)
        raise TypeInferenceError(f"hvp and hessian need a function returning one float "
                                 f"scalar; '{f.__name__}' returns ({shown})", fn.loc,
                                 "for vector outputs use jacfwd or jacrev")
    dots = _tangents(f, primals, tangents,
                     [np.asarray(p).dtype if isinstance(p, np.ndarray) else np.float64
                      for p in primals])
    _, res = _retry_checkpointed(
        lambda policy: specialize(f, primals, HVP(active, policy), options), checkpoint,
        options, primals + (1.0,) + tuple(dots), "hvp", 3)
    k = len(nums)
    # (out, *grads, out_dot, *grad_dots)
    grads = res[1:1 + k]
    hv = res[2 + k:2 + 2 * k]
    g = tuple(_like(v, primals[i]) for v, i in zip(grads, nums))
    h = tuple(_like(v, primals[i]) for v, i in zip(hv, nums))
    return (g[0], h[0]) if k == 1 else (g, h)


@_recorded
def hessian(func: Callable, argnums: int = 0, *, sparse: bool = False,
            backend: str | None = None, checkpoint=None, memory=None,
            options: CompileOptions | None = None):
    """Dense Hessian of a scalar function w.r.t. one argument: vector forward mode over the
    reverse program, every column in one pass (column by column with Hessian-vector products
    where that cannot run). Shape: arg shape + arg shape.
    sparse=True: a scipy.sparse.csr_matrix (flattened argument x flattened argument), the
    sparse Jacobian of the gradient: one forward-over-reverse pass with a lane per colour of
    the Hessian's pattern (`jacobian(grad(f), sparse=True)`; `.ncolors`, `.sparsity`).
    `checkpoint`/`memory`: the reverse pass's policy, as for `grad`."""
    checkpoint = parse_policy(checkpoint, memory)
    _argnums_spec(argnums, "hessian", single_only=True)
    if sparse:
        return _sparse_hessian(func, argnums, checkpoint, resolve_options(backend, options))

    def call(self, args):
        f = self.py_func
        (i,) = _argnums(argnums, len(args), f)
        if type(f) is types.FunctionType:
            if _has_tuples(args):
                return _hessian_nested(self, trees.flat_call(f, args, nested=True), i,
                                       checkpoint)
            active = tuple(j == i for j in range(len(args)))
            try:
                fn = specialize(f, args, HVP(active, checkpoint), self.options).primal
            except NestedTupleReturn:
                fn = None
            if fn is None or fn.returns_tuple or isinstance(fn.result_types[0], ArrayType):
                return _hessian_nested(self, trees.flat_call(f, args, nested=True), i,
                                       checkpoint)
        x = args[i]
        active = tuple(j == i for j in range(len(args)))
        if isinstance(x, np.ndarray) and x.size > 1:
            whole = _hessian_in_one_pass(self, f, args, i, checkpoint)
            if whole is not None:
                return whole
        dt = np.asarray(x).dtype if isinstance(x, np.ndarray) else np.float64
        cols = [hvp(f, args, seeds.basis_tangent(args, i, e), checkpoint=checkpoint,
                    options=self.options)[1]
                for e in seeds.unit_vectors(np.shape(x), dt)]
        self._last = specialize(f, args, HVP(active, checkpoint), self.options)
        return assemble.from_columns(cols, x)

    def program(self, sig):     # jacfwd(grad(f)) as one program
        f = self.py_func
        (i,) = _argnums(argnums, len(sig), f)
        inner = grad(f, i, checkpoint=checkpoint, options=self.options)
        return programs.jacobian_forward(inner, sig, (i,), True, self.options, "hessian")
    return Derivative(func, call, "hessian", resolve_options(backend, options), program)


def _sparse_hessian(func, argnums, checkpoint, options: CompileOptions):
    def call(self, args):
        if self._inner is None:
            g = grad(self.py_func, argnums, checkpoint=checkpoint, options=options)
            self._inner = jacobian(g, argnums, sparse=True, options=options)
        H = self._inner(*args)
        inner = self._inner
        self.ncolors, self.sparsity, self.coloring = inner.ncolors, inner.sparsity, inner.coloring
        self._last = inner._last
        return H
    d = Derivative(func, call, "hessian", options)
    d._inner = d.ncolors = d.sparsity = d.coloring = None
    return d


def _hessian_in_one_pass(self, f, args, i, checkpoint):
    """The Hessian by vector forward mode over the reverse program (forward over reverse
    with one tangent lane per entry of x: every column in one pass, where n Hessian-vector
    products cost n passes). None where vector forward mode cannot run over that reverse
    program (the columns are then taken one by one)."""
    x = args[i]
    active = tuple(j == i for j in range(len(args)))
    seed = np.eye(x.size, dtype=x.dtype).reshape(x.shape + (x.size,))
    try:
        sp, res = _retry_checkpointed(
            lambda policy: specialize(f, args, HVP(active, policy, lanes=True), self.options),
            checkpoint, self.options, tuple(args) + (1.0, seed), "hessian", 5)
    except NonDifferentiable:
        return None
    self._last = sp
    return np.asarray(res[3]).reshape(x.shape + x.shape)   # (out, grad, out_dot, grad_dots)


# -- jvp and vjp called from compiled code --------------------------------------------------------
def _in_program(what: str, msg: str) -> TypeInferenceError:
    return TypeInferenceError(f"adcompile.{what} in compiled code: {msg}", None,
                              f"write adcompile.{what}(f, (x, y), ...) with a function defined "
                              "in a .py file and tuples of numbers/arrays")


def _callee(what: str, g):
    f = getattr(g, "obj", None)
    if not callable(f):
        raise _in_program(what, "the first argument must be a function")
    return unwrap(f)


def _values(what: str, items, label: str, allow_none: bool = False) -> tuple:
    if not isinstance(items, (tuple, list)):
        raise _in_program(what, f"the {label} must be a tuple")
    for v in items:
        if not (isinstance(v, Value) or (allow_none and v is None)):
            raise _in_program(what, f"the {label} must be numbers or arrays"
                              + (" (or None)" if allow_none else ""))
    return tuple(items)


def _jvp_call(args, kw, is_weak, as_callable):
    """`adcompile.jvp(f, primals, tangents)` inside compiled code: f's forward program."""
    if kw or len(args) != 3:
        raise _in_program("jvp", "it takes (f, primals, tangents) positionally")
    f = _callee("jvp", args[0])
    primals = _values("jvp", args[1], "primals")
    tangents = _values("jvp", args[2], "tangents", allow_none=True)
    if len(tangents) != len(primals):
        raise _in_program("jvp", f"{len(primals)} primals but {len(tangents)} tangents")
    for i, (p, t) in enumerate(zip(primals, tangents)):
        if t is not None and t.type != p.type:
            raise _in_program("jvp", f"the tangent of argument {i} is {t.type} but the "
                              f"argument is {p.type}")
    sig = tuple(ArgSpec(p.type, is_weak(p)) for p in primals)
    active = tuple(t is not None for t in tangents)
    _active_of(f, sig, [i for i, a in enumerate(active) if a])
    prog = programs.forward(f, sig, active, CompileOptions.from_env())
    return prog.fn, primals + tuple(t for t in tangents if t is not None), \
        lambda rs: _pack(prog.tree, rs)


class _Pullback:
    """The pullback `adcompile.vjp` returns inside compiled code: calling it inlines f's
    reverse program at the primals."""

    def __init__(self, f, primals: tuple, sig, active, nout: int, returns_tuple: bool):
        self.f, self.primals, self.sig, self.active = f, primals, sig, active
        self.nout, self.returns_tuple = nout, returns_tuple
        self.__name__ = f"{f.__name__}_pullback"

    def __adcompile_call__(self, args, kw, is_weak, as_callable):
        if kw or len(args) != 1:
            raise _in_program("vjp", "the pullback takes one cotangent")
        cots = _values("vjp", args[0], "cotangent") if self.returns_tuple else args[0]
        cots = cots if self.returns_tuple else (cots,)
        if len(cots) != self.nout or not all(isinstance(c, Value) for c in cots):
            raise _in_program("vjp", f"the cotangent must match f's {self.nout} outputs")
        prog = programs.reverse(self.f, self.sig, self.active, CompileOptions.from_env())
        want = prog.fn.args[len(self.primals):]
        if [c.type for c in cots if scalar_of(c.type).is_float] != [w.type for w in want]:
            raise _in_program("vjp", f"cotangents of types {[str(c.type) for c in cots]} "
                              f"for outputs {[str(w.type) for w in want]}")
        grads = iter(range(sum(self.active)))

        def pack(rs):
            return tuple(rs[next(grads)] if a else None for a in self.active)
        return prog.fn, self.primals + tuple(c for c in cots if scalar_of(c.type).is_float), pack


def _vjp_call(args, kw, is_weak, as_callable):
    """`out, pullback = adcompile.vjp(f, *primals)` inside compiled code."""
    if kw or not args:
        raise _in_program("vjp", "it takes (f, *primals) positionally")
    f = _callee("vjp", args[0])
    primals = _values("vjp", args[1:], "primals")
    sig = tuple(ArgSpec(p.type, is_weak(p)) for p in primals)
    active = tuple(scalar_of(s.type).is_float for s in sig)
    prog = programs.primal(f, sig, CompileOptions.from_env())
    nout = len(prog.fn.result_types)
    back = _Pullback(f, primals, sig, active, nout, prog.tree is not None)
    return prog.fn, primals, lambda rs: (_pack(prog.tree, rs), as_callable(back))


jvp.__adcompile_call__ = _jvp_call
vjp.__adcompile_call__ = _vjp_call


# -- sparse Jacobians ----------------------------------------------------------------------------
def _pattern_key(args, i: int) -> tuple:
    """What decides a pattern: the signature kinds, every shape, and the content of integer
    (and boolean) arguments (BA's observation index arrays)."""
    key = [_kinds(args), i]
    for a in args:
        arr = np.asarray(a)
        if arr.dtype.kind in "iub":
            key.append((arr.shape, arr.dtype.str, arr.tobytes()))
        else:
            key.append((arr.shape,))
    return tuple(key)


def _lanes_pass(self, args, i):
    """run(seed) -> flattened output tangents of the vector-forward program for argument i."""
    f = self.py_func
    active = tuple(j == i for j in range(len(args)))
    sp = specialize(f, args, JVP(active, lanes=True), self.options)
    self._last = sp
    k = len(sp.primal.result_types)

    def run(seed):
        res = _call(sp, tuple(args) + (seed,))
        return [np.asarray(d) for d in res[k:]]
    return run


def _bits_pass(self, args, i):
    """run(seed) -> flattened output bitsets of the dependency program for argument i. The
    program is internal (its results are bitsets, whatever backend the user chose), so it is
    built by the LLVM backend, whose compiles are fast (BA: 0.6 s where numba takes 16 s),
    and, where that backend cannot build it, by the user's on the lowered (loop) form."""
    active = tuple(j == i for j in range(len(args)))
    try:
        sp = specialize(self.py_func, args, Dependencies(active),
                        dataclasses.replace(self.options, backend="llvm"))
    except Unmapped:
        raise
    except AdError:
        sp = specialize(self.py_func, args, Dependencies(active),
                        dataclasses.replace(self.options, lower_arrays=True))
    self._last = sp
    k = len(sp.primal.result_types)

    def run(seed):
        res = _call(sp, tuple(args) + (seed,))
        run.flags = tuple(int(v) for v in res[-3:])   # one-sided branches, trip counts, line
        return [np.asarray(d) for d in res[k:-3]]
    run.flags = (0, 0, 0)
    return run


def _pointwise_warning(f, flags) -> None:
    one_sided, trips, line = flags
    why = []
    if trips:
        why.append(f"{trips} loop{'s' if trips > 1 else ''} whose trip count float values "
                   "decide (while, break, return in a loop)")
    if one_sided:
        why.append(f"{one_sided} branch{'es' if one_sided > 1 else ''} on float values whose "
                   "sides read or write array elements at indices computed inside a side")
    warnings.warn(f"jacobian_sparsity of '{f.__name__}': {' and '.join(why)} (the first at "
                  f"line {line}): the pattern is this point's, so it is detected again at "
                  "each new point (slower, never stale)", SparsityWarning, stacklevel=5)


def _sparse_argnum(argnums, nargs, f, what) -> int:
    if not isinstance(argnums, (int, np.integer)):
        raise AdError(f"{what}: sparse Jacobians take one argument index (an int), got "
                      f"{argnums!r}", hint="call it once per argument")
    return _argnums(argnums, nargs, f)[0]


def _check_float_arg(x, i, what):
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise AdError(f"{what}: argument {i} must be a float array, got "
                      f"{type(x).__name__}{'' if not isinstance(x, np.ndarray) else ' ' + str(x.dtype)}",
                      hint="pass the differentiated argument as a float64 NumPy array")


@dataclass
class _PatternEntry:
    """One detected pattern, the program that found it (stale when a global it read
    changes: the pattern may change with it) and its colourings with their seeds."""
    pattern: object
    program: Specialization
    colorings: dict = field(default_factory=dict)   # (mode, dtype) -> (coloring, seed, unpack)


# per residual function: _pattern_key -> _PatternEntry, shared by every jacobian_sparsity and
# jacobian(sparse=True) of that function (a solver builds a new one per call), newest last
_PATTERNS: weakref.WeakKeyDictionary[Callable, dict] = weakref.WeakKeyDictionary()
_PATTERNS_PER_FUNCTION = 8   # distinct index arrays kept per function


_POINTWISE = object()   # cache marker: patterns of this key are kept per point


def _point_digest(args) -> bytes:
    """The float arguments' content, for patterns that are the point's only."""
    import hashlib
    h = hashlib.blake2b(digest_size=16)
    for a in args:
        arr = np.asarray(a)
        if arr.dtype.kind in "fc":
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.digest()


def _pattern(self, args, i, what) -> tuple[tuple, _PatternEntry]:
    """The cached pattern of `self.py_func` in argument i for these arguments, detected on a
    miss by bitset passes of the dependency program, or NaN-seeded vector-forward passes
    where that program has no bitset form (jacobian/sparsity.py)."""
    cache = _PATTERNS.setdefault(self.py_func, {})
    key = _pattern_key(args, i)
    if cache.get(key) is _POINTWISE:   # this program's patterns are per point
        key = key + (_point_digest(args),)
    hit = cache.get(key)
    if hit is not None and not hit.program.stale():
        cache[key] = cache.pop(key)   # most recently used last
        return key, hit
    from .jacobian import sparsity
    _check_float_arg(args[i], i, what)
    _active_mask(self.py_func, args, (i,))
    try:
        run = _bits_pass(self, args, i)
        pat = sparsity.bitset_pattern(run, np.shape(args[i]))
        if any(run.flags[:2]):
            if cache.get(key) is not _POINTWISE and len(key) == len(_pattern_key(args, i)):
                _pointwise_warning(self.py_func, run.flags)
                cache[key] = _POINTWISE
                key = key + (_point_digest(args),)
    except Unmapped:   # tangent code with no bitset form: float passes with NaN seeds
        pat = sparsity.nan_pattern(_lanes_pass(self, args, i), np.shape(args[i]))
    cache.pop(key, None)
    cache[key] = _PatternEntry(pat, self._last)
    while len(cache) > _PATTERNS_PER_FUNCTION:
        del cache[next(iter(cache))]
    return key, cache[key]


def jacobian_sparsity(func: Callable, argnums: int = 0, *, backend: str | None = None,
                      options: CompileOptions | None = None):
    """The Jacobian's sparsity pattern at the given arguments as a boolean
    scipy.sparse.csr_matrix (rows: the flattened outputs in order, columns: the flattened
    argument `argnums`), by compiled index-set propagation: every float value carries the
    bitset of the input entries it depends on, integer values and index arrays are the
    arguments' own (adcompile/jacobian/sparsity.py: structural; np.where/min/max and `if`
    on floats contribute both sides, except as docs/api.md says). Cached per function (shared by every jacobian_sparsity and
    jacobian(sparse=True) of it), signature and content of the integer arguments."""
    _argnums_spec(argnums, "jacobian_sparsity", single_only=True)

    def call(self, args):
        i = _sparse_argnum(argnums, len(args), self.py_func, "jacobian_sparsity")
        return _pattern(self, args, i, "jacobian_sparsity")[1].pattern.copy()
    return Derivative(func, call, "jacobian_sparsity", resolve_options(backend, options))


def jacobian(func: Callable, argnums: int = 0, *, sparse: bool = False,
             backend: str | None = None, options: CompileOptions | None = None):
    """The Jacobian of `func` in argument `argnums`. sparse=False: jacfwd's dense array.
    sparse=True: a scipy.sparse.csr_matrix (flattened outputs x flattened argument) from one
    vector-forward pass with one lane per colour of a distance-2 column colouring of the
    pattern (`jacobian_sparsity`), or one reverse pass per row colour where that is cheaper
    (`_sparse_coloring`); `.ncolors`, `.sparsity`, `.coloring` describe the last call. The
    pattern and colouring are cached per function (shared with jacobian_sparsity and every
    other sparse jacobian of it: a solver called again does not detect them again), per
    signature and per content of the integer arguments."""
    if not sparse:
        return jacfwd(func, argnums, backend=backend, options=options)
    _argnums_spec(argnums, "jacobian", single_only=True)

    def call(self, args):
        from .jacobian import coloring
        i = _sparse_argnum(argnums, len(args), self.py_func, "jacobian")
        _, entry = _pattern(self, args, i, "jacobian")
        pat, x = entry.pattern, args[i]
        ckey = ("best", x.dtype.str)
        if ckey not in entry.colorings:
            col = _sparse_coloring(pat)
            width = max(col.ncolors, 1)
            n = x.size if col.mode == "column" else pat.shape[0]
            seed = np.zeros((n, width), dtype=x.dtype)
            seed[:, :col.ncolors] = col.seed(x.dtype)
            if col.mode == "column":
                seed = seed.reshape(x.shape + (width,))
            entry.colorings[ckey] = (col, seed, coloring.decompression(pat, col))
        col, seed, unpack = entry.colorings[ckey]
        self.ncolors, self.sparsity, self.coloring = col.ncolors, pat, col
        if col.mode == "row":
            return unpack(_row_compressed(self, args, i, seed, col.ncolors))
        width = seed.shape[-1]
        outs = _lanes_pass(self, args, i)(seed)
        comp = (np.concatenate([o.reshape(-1, width) for o in outs], axis=0) if len(outs) > 1
                else outs[0].reshape(-1, width) if outs else np.zeros((0, width)))
        if col.ncolors == 0:
            comp = np.zeros((comp.shape[0], 0))
        return unpack(comp)
    d = Derivative(func, call, "jacobian", resolve_options(backend, options))
    d.ncolors = d.sparsity = d.coloring = None
    return d


REVERSE_PASS_COST = 3   # one reverse pass against one tangent lane of a forward pass


def _sparse_coloring(pat):
    """Column colouring (one vector-forward pass, a lane per colour) unless a row colouring
    (one reverse pass per colour) is cheaper by REVERSE_PASS_COST: few dense rows, as a sum of
    terms over all inputs."""
    from .jacobian import coloring
    col = coloring.column_coloring(pat)
    best = coloring.best_coloring(pat)
    if best.mode == "row" and REVERSE_PASS_COST * best.ncolors < col.ncolors:
        return best
    return col


def _row_compressed(self, args, i, seed, ncolors):
    """Sᵀ J for the row colouring's seed S (outputs x colours): one reverse pass per colour,
    the cotangent of each output its part of the colour's column of S."""
    f = self.py_func
    active = tuple(j == i for j in range(len(args)))
    fn = specialize(f, args, VJP(active), self.options).primal
    outs = _compiled_primal(f, args, self.options)
    outs = list(outs) if fn.returns_tuple else [outs]
    dts = [scalar_of(t).np_dtype for t in fn.result_types]
    sizes = np.cumsum([0] + [int(np.size(o)) for o in outs])
    rows = []
    for c in range(ncolors):
        cots = tuple(seed[sizes[q]:sizes[q + 1], c].astype(dts[q]).reshape(np.shape(o))
                     if isinstance(o, np.ndarray) else dts[q].type(seed[sizes[q], c])
                     for q, o in enumerate(outs))
        sp, res = _call_vjp(f, args, active, None, self.options, tuple(args) + cots)
        self._last = sp
        rows.append(np.asarray(res[len(outs)]).reshape(-1))
    return np.array(rows).reshape(ncolors, -1) if rows else np.zeros((0, args[i].size))


# -- derivative objects built inside compiled code -------------------------------------------
def _compile_time(lw, v, node, what: str):
    """The Python value of a lowered argument known at compile time (a function, a
    constant, a tuple of them), for building a derivative object while lowering."""
    if isinstance(v, Global):
        return v.obj
    if isinstance(v, tuple):
        return tuple(_compile_time(lw, x, node, what) for x in v)
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    known = lw.known(v) if isinstance(v, Value) else None
    if known is None:
        raise lw.error(node, f"adcompile.{what}() inside compiled code needs arguments known "
                       "at compile time (a function and constant options)",
                       f"build it outside: g = adcompile.{what}(f, ...) at module level, and "
                       "call g here", TypeInferenceError)
    return known


def _built_while_lowering(make: Callable) -> None:
    """Let compiled code call `make` (grad, jacfwd, ...): `adcompile.grad(h)(x)` builds the
    derivative object at compile time, and the call of it is lowered like any derivative
    object's (inlined)."""
    def lower(lw, args, kw, node):
        py_args = [_compile_time(lw, a, node, make.__name__) for a in args]
        py_kw = {k: _compile_time(lw, v, node, make.__name__) for k, v in kw.items()}
        try:
            return Global(make(*py_args, **py_kw))
        except AdError as e:
            raise e.located(lw.src.loc(node))
    make.__adcompile_lower__ = lower


for _make in (grad, value_and_grad, jacfwd, jacfwd_rows, jacrev, hessian, jacobian):
    _built_while_lowering(_make)
