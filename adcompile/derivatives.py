"""The derivative API, shaped like JAX's: grad, value_and_grad, jvp, vjp, jacfwd, jacrev,
hessian, hvp.

Every derivative is an IR transform of the primal (forward mode, reverse mode, or forward over
reverse), compiled by the numba backend once per argument signature and cached on disk.
`.source` on a returned function shows the generated derivative code.
"""
from __future__ import annotations

import functools
import inspect
import warnings
import weakref
from typing import Callable, Sequence

import numpy as np

from .api import Compiled, resolve_options
from .checkpointing import auto_policy, parse_policy
from .driver.compile import Specialization, call_specialization
from .driver.compile import specialize as _specialize
from .driver.options import CompileOptions
from .driver.transforms import HVP, JVP, VJP, SeedUnsupported
from .errors import AdError, NonDifferentiable, TapeBudgetExceeded, TypeInferenceError
from .ir.printer import print_function
from .ir.types import ArrayType, scalar_of
from .jacobian import assemble, row_check, seeds
from .results import box, boxes
from .signature import bind_defaults, signature_of


def specialize(func: Callable, args: tuple, transform, options: CompileOptions
               ) -> Specialization:
    """The compiled `transform` of `func` for these arguments' signature (cached)."""
    return _specialize(func, signature_of(func, args), transform, options)


_JVP_FAST: "weakref.WeakKeyDictionary[Callable, dict]" = weakref.WeakKeyDictionary()


def unwrap(f: Callable) -> Callable:
    """The user's Python function behind a jit or derivative object."""
    return f.py_func if isinstance(f, (Compiled, Derivative)) else f


def _argnums(argnums, nargs: int, func) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise AdError(f"argnums {argnums!r} is out of range for "
                          f"'{func.__name__}' with {nargs} arguments",
                          hint="argnums counts positional arguments from 0")
    return tuple(i % nargs for i in nums)


def _active_mask(func, args, nums) -> tuple[bool, ...]:
    sig = signature_of(func, args)
    for i in nums:
        t = sig[i].type
        if not scalar_of(t).is_float:
            name = list(inspect.signature(func).parameters)[i]
            raise NonDifferentiable(
                f"argument '{name}' (argnums {i}) is {'an integer' if scalar_of(t).is_int else 'a boolean'}"
                f" {'array' if isinstance(t, ArrayType) else 'value'}; it has no derivative",
                None, "differentiate with respect to float arguments only (pass 2.0, not 2, "
                "or an array of dtype float64/float32)")
    return tuple(i in nums for i in range(len(args)))


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

    def __init__(self, func: Callable, call: Callable, what: str, options: CompileOptions):
        self.py_func = unwrap(func)
        self.options = options
        self._call = call
        self._last: Specialization | None = None
        # argument kinds -> (specialization, argnums, cotangent seeds): repeated calls skip
        # signature building and spec lookups (they dominate small gradients)
        self._fast: dict[tuple, tuple] = {}
        self.what = what
        functools.update_wrapper(self, self.py_func)

    def __call__(self, *args):
        return self._call(self, bind_defaults(self.py_func, args))

    @property
    def source(self) -> str:
        if self._last is None:
            raise AdError(f"{self.what} of '{self.py_func.__name__}' has not been compiled yet",
                          hint="call it once before reading .source")
        return self._last.source

    def ir(self, stage: str) -> str:
        if self._last is None:
            raise AdError("not compiled yet", hint="call it once first")
        return print_function(self._last.ir[stage])

    def __repr__(self) -> str:
        return f"<adcompile.{self.what} of {self.py_func.__qualname__}>"


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
            return sp.boxes[0](res[0]), tuple(_like(g, args[i]) for g, i in zip(res[1:], nums))
        except TapeBudgetExceeded:
            pass   # this call's loops are too long for store-all: the slow path retries
    f = self.py_func
    nums = _argnums(argnums, len(args), f)
    sp, outs, grads, _ = _vjp_run(f, args, nums, need_scalar=True, what=what,
                                  options=self.options, checkpoint=checkpoint)
    self._last = sp
    active = tuple(i in nums for i in range(len(args)))
    if sp is specialize(f, args, VJP(active, checkpoint=checkpoint), self.options):
        t = sp.ir["primal"].result_types[0]
        self._fast[key] = (sp, nums, (1.0 if t.name == "f64" else np.float32(1.0),))
    return sp.boxes[0](outs[0]), tuple(_like(g, args[i]) for g, i in zip(grads, nums))


def _call_vjp(func, args, active, checkpoint, options, call_args):
    """(specialization, results) of a reverse-mode call. Without a policy, a loop whose tape
    would exceed ADCOMPILE_TAPE_LIMIT stops before recording it; the call is then redone with
    binomial checkpointing (a warning says so), and the caller keeps that specialization."""
    sp = specialize(func, args, VJP(active, checkpoint=checkpoint), options)
    try:
        return sp, _call(sp, call_args)
    except TapeBudgetExceeded as err:
        if checkpoint is not None or options.tape_limit is None:
            raise
        policy = auto_policy(options.tape_limit)
        warnings.warn(f"{err.message}; adcompile recomputes it with binomial checkpointing "
                      f"in {policy.memory} bytes of snapshots (choose with grad(..., "
                      f"checkpoint=...), or set ADCOMPILE_TAPE_LIMIT)", RuntimeWarning,
                      stacklevel=4)
        sp = specialize(func, args, VJP(active, checkpoint=policy), options)
        return sp, _call(sp, call_args)


def _vjp_run(func, args, nums, cots=None, need_scalar=False, what="grad",
             options: CompileOptions | None = None, checkpoint=None):
    active = _active_mask(func, args, nums)
    fn = specialize(func, args, VJP(active, checkpoint=checkpoint), options).ir["primal"]
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


def grad(func: Callable | None = None, argnums: int | Sequence[int] = 0, *,
         backend: str | None = None, checkpoint=None, memory=None,
         options: CompileOptions | None = None):
    """Gradient of a scalar-valued function (reverse mode). Bare decorator or call.
    `backend`: "numba" (default) or "llvm". `checkpoint`: a policy for the outermost loops
    ("binomial" with `memory="50MB"`, ("binomial", s), "sqrt", ("every", k),
    ("snapshots", s[, levels])); see docs/checkpointing.md."""
    checkpoint = parse_policy(checkpoint, memory)
    if func is None:
        return lambda f: grad(f, argnums, backend=backend, checkpoint=checkpoint, options=options)
    single = isinstance(argnums, int)

    def call(self, args):
        _, out = _grad_call(self, args, argnums, checkpoint, "grad")
        return out[0] if single else out
    return Derivative(func, call, "grad", resolve_options(backend, options))


def value_and_grad(func: Callable | None = None, argnums: int | Sequence[int] = 0, *,
                   backend: str | None = None, checkpoint=None, memory=None,
         options: CompileOptions | None = None):
    """(value, gradient) in one reverse pass; `checkpoint`/`memory` as for `grad`."""
    checkpoint = parse_policy(checkpoint, memory)
    if func is None:
        return lambda f: value_and_grad(f, argnums, backend=backend, checkpoint=checkpoint,
                                        options=options)
    single = isinstance(argnums, int)

    def call(self, args):
        value, g = _grad_call(self, args, argnums, checkpoint, "value_and_grad")
        return value, (g[0] if single else g)
    return Derivative(func, call, "value_and_grad", resolve_options(backend, options))


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
    primals = bind_defaults(f, primals)
    sig = signature_of(f, primals)
    nums = tuple(i for i, s in enumerate(sig) if scalar_of(s.type).is_float)
    active = tuple(i in nums for i in range(len(primals)))
    checkpoint = parse_policy(checkpoint, memory)
    opts = resolve_options(backend, options)
    held = [specialize(f, primals, VJP(active, checkpoint=checkpoint), opts)]
    fn = held[0].ir["primal"]

    def run(call_args):
        held[0], res = _call_vjp(f, primals, active, checkpoint, opts, call_args)
        return res

    outs = fn.result_types
    float_outs = [i for i, t in enumerate(outs) if scalar_of(t).is_float]
    zero_cots = [np.zeros(1, dtype=scalar_of(outs[i]).np_dtype)[0] if
                 not isinstance(outs[i], ArrayType) else None for i in float_outs]
    def f_vjp(cotangent):
        if fn.returns_tuple and not isinstance(cotangent, (tuple, list)):
            raise AdError(f"'{f.__name__}' returns a tuple of {len(outs)} values, so the "
                          "cotangent must be a tuple too",
                          hint="pass one cotangent per output: f_vjp((g0, g1, ...))")
        cots = list(cotangent) if fn.returns_tuple else [cotangent]
        if len(cots) != len(outs):
            raise AdError(f"the cotangent must match the output structure ({len(outs)} values)",
                          hint="pass one cotangent per output, as a tuple if f returns one")
        args = []
        for i in float_outs:
            c = cots[i]
            t = outs[i]
            if isinstance(t, ArrayType):
                c = np.ascontiguousarray(c, dtype=t.dtype.np_dtype)
            else:
                c = t.np_dtype.type(c) if t.name == "f32" else float(c)
            args.append(c)
        res = run(tuple(primals) + tuple(args))
        grads = iter(res[len(outs):])
        return tuple(_like(next(grads), p) if a else None for p, a in zip(primals, active))

    # the primal output comes from the compiled derivative itself (one compile)
    if float_outs and all(z is not None for z in zero_cots):
        first = run(tuple(primals) + tuple(zero_cots))[:len(outs)]
    else:
        first = _compiled_primal(f, primals, opts)
        first = first if fn.returns_tuple else (first,)
    f_vjp.source = held[0].source
    return _typed_out(fn, list(first)), f_vjp


def _compiled_primal(f, primals, options: CompileOptions):
    return _call(specialize(f, primals, None, options), tuple(primals))


# -- forward mode --------------------------------------------------------------------------------
def jvp(func: Callable, primals: Sequence, tangents: Sequence, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """(f(*primals), directional derivative along `tangents`); None tangents are zero."""
    f = unwrap(func)
    primals = tuple(primals)
    tangents = tuple(tangents)
    if len(tangents) != len(primals):
        raise AdError(f"jvp needs one tangent per primal ({len(primals)}), got "
                      f"{len(tangents)}", hint="use None for arguments you hold fixed")
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
        sp = specialize(f, primals, JVP(active), opts)
        hit = table[key] = (sp, [scalar_of(s.type).np_dtype for s in sig])
    sp, dtypes = hit
    fn = sp.ir["primal"]
    dots = []
    for i, (p, t, a, dt) in enumerate(zip(primals, tangents, active, dtypes)):
        if a and np.shape(t) != np.shape(p):
            raise AdError(f"the tangent of argument {i} has shape {np.shape(t)}, but the "
                          f"argument has shape {np.shape(p)}",
                          hint="each tangent must have the shape of its primal")
        if a:
            dots.append(np.ascontiguousarray(t, dtype=dt).reshape(np.shape(p))
                        if isinstance(p, np.ndarray) else dt.type(t) if dt != np.float64
                        else float(t))
    res = _call(sp, primals + tuple(dots))
    n = len(fn.result_types)
    return _typed_out(fn, list(res[:n])), _typed_out(fn, list(res[n:]))


def jacfwd(func: Callable, argnums: int | Sequence[int] = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Dense Jacobian by vector forward mode: all input directions in one pass per argument.
    Shape: output shape + argument shape (a tuple over outputs if f returns a tuple)."""
    single = isinstance(argnums, int)

    def call(self, args):
        f = self.py_func
        nums = _argnums(argnums, len(args), f)
        _active_mask(f, args, nums)
        jacs = []
        for i in nums:
            active = tuple(j == i for j in range(len(args)))
            sp = specialize(f, args, JVP(active, lanes=True), self.options)
            self._last = sp
            res = _call(sp, tuple(args) + (seeds.identity_lanes(args[i]),))
            fn = sp.ir["primal"]
            k = len(fn.result_types)
            jacs.append(_out(fn, [assemble.from_lanes(o, d, args[i])
                                  for o, d in zip(res[:k], res[k:])]))
        return jacs[0] if single else tuple(jacs)
    return Derivative(func, call, "jacfwd", resolve_options(backend, options))


def jacfwd_rows(func: Callable, argnums: int | Sequence[int] = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Row-wise Jacobians of a function whose row i of every output depends only on row i of
    the (n, m) arguments `argnums` (one residual per observation, one state per particle):
    J[i, ..., j] = d out[i, ...] / d x[i, j], shape output shape + (m,), for every row in one
    vector-forward pass with m lanes (summed widths for several arguments). The identity seed
    is computed where it is read, not passed as an (n, m, m) array. Rows must be independent:
    a function whose output row reads other rows is an AdError (use jacfwd for the full
    Jacobian)."""
    single = isinstance(argnums, int)

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
        fn = sp.ir["primal"]
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
    return Derivative(func, call, "jacfwd_rows", resolve_options(backend, options))


def _check_rows(self, sp: Specialization, nums) -> None:
    """Refuse a function whose output row i reads other rows of the arguments: the shared
    row seed would fold those terms into row i's own columns (checked once per program)."""
    done = self.__dict__.setdefault("_rows_checked", set())
    if id(sp) in done:
        return
    where = row_check.cross_row_use(sp.ir["primal"], list(nums))
    if where is not None:
        raise AdError(f"jacfwd_rows: an output row of '{self.py_func.__name__}' depends on "
                      "other rows of the differentiated arguments; the row-wise Jacobian "
                      "would add those terms into the row's own columns",
                      where if where is not True else sp.ir["primal"].loc,
                      "use adcompile.jacfwd for the full Jacobian, or make output row i read "
                      "only row i (x[i, j] with i the loop index) and carry nothing from one "
                      "row to the next")
    done.add(id(sp))


def jacrev(func: Callable, argnums: int | Sequence[int] = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Dense Jacobian by reverse mode: one reverse pass per output element."""
    single = isinstance(argnums, int)

    def call(self, args):
        f = self.py_func
        nums = _argnums(argnums, len(args), f)
        active = _active_mask(f, args, nums)
        sp = specialize(f, args, VJP(active), self.options)
        self._last = sp
        fn = sp.ir["primal"]
        outs = fn.result_types
        if fn.returns_tuple or not scalar_of(outs[0]).is_float:
            raise TypeInferenceError("jacrev needs a function returning one float scalar or "
                                     "array", fn.loc, "use jacfwd, or split the outputs")
        t = outs[0]
        probe = _call(sp, tuple(args) + (np.zeros(1, scalar_of(t).np_dtype)[0] if
                                         not isinstance(t, ArrayType) else None,)) \
            if not isinstance(t, ArrayType) else None
        out_val = probe[0] if probe is not None else _compiled_primal(f, args, self.options)
        out_shape = np.shape(out_val)
        rows = [[] for _ in nums]
        for c in seeds.unit_vectors(out_shape, scalar_of(t).np_dtype):
            sp, res = _call_vjp(f, args, active, None, self.options,
                                tuple(args) + (c,))
            for r, g in zip(rows, res[1:]):
                r.append(np.asarray(g))
        jacs = [assemble.from_rows(r, out_shape, args[i]) for r, i in zip(rows, nums)]
        return jacs[0] if single else tuple(jacs)
    return Derivative(func, call, "jacrev", resolve_options(backend, options))


def hvp(func: Callable, primals: Sequence, tangents: Sequence, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Hessian-vector product (forward over reverse) of a scalar function: returns
    (grad, H @ v) for each float argument with a tangent."""
    f = unwrap(func)
    primals = tuple(primals)
    active = tuple(t is not None for t in tangents)
    nums = tuple(i for i, a in enumerate(active) if a)
    _active_mask(f, primals, nums)
    sp = specialize(f, primals, HVP(active), resolve_options(backend, options))
    fn = sp.ir["primal"]
    if fn.returns_tuple or isinstance(fn.result_types[0], ArrayType):
        raise TypeInferenceError("hvp needs a scalar-valued function", fn.loc,
                                 "use jvp of a vjp for vector outputs")
    dots = [np.ascontiguousarray(t, dtype=np.asarray(p).dtype) if isinstance(p, np.ndarray)
            else float(t) for p, t in zip(primals, tangents) if t is not None]
    res = _call(sp, primals + (1.0,) + tuple(dots))
    k = len(nums)
    # (out, *grads, out_dot, *grad_dots)
    grads = res[1:1 + k]
    hv = res[2 + k:2 + 2 * k]
    g = tuple(_like(v, primals[i]) for v, i in zip(grads, nums))
    h = tuple(_like(v, primals[i]) for v, i in zip(hv, nums))
    return (g[0], h[0]) if k == 1 else (g, h)


def hessian(func: Callable, argnums: int = 0, *, backend: str | None = None,
           options: CompileOptions | None = None):
    """Dense Hessian of a scalar function w.r.t. one argument, column by column with
    Hessian-vector products (forward over reverse). Shape: arg shape + arg shape."""
    def call(self, args):
        f = self.py_func
        (i,) = _argnums(argnums, len(args), f)
        x = args[i]
        dt = np.asarray(x).dtype if isinstance(x, np.ndarray) else np.float64
        cols = [hvp(f, args, seeds.basis_tangent(args, i, e), options=self.options)[1]
                for e in seeds.unit_vectors(np.shape(x), dt)]
        active = tuple(j == i for j in range(len(args)))
        self._last = specialize(f, args, HVP(active), self.options)
        return assemble.from_columns(cols, x)
    return Derivative(func, call, "hessian", resolve_options(backend, options))
