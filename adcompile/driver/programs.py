"""Derivative programs as IR: what a derivative object computes for one signature, as one
`Function` with flat results and the nesting (`tree`) they have in Python.

This is what makes transforms compose. `grad(grad(f))`, `jacfwd(grad(f))`, `jit(grad(f))`
and a `grad` object called from compiled code all start from the inner derivative's program
instead of from `f`'s source: the compile driver lowers a derivative object through
`__adcompile_program__`, and the frontend inlines the program where compiled code calls one
(`__adcompile_call__`). The outer transform then differentiates the inner one's IR (tapes
included, see `ad/rules/tapes.py`), and the whole composition is compiled as one program.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import AdError, TypeInferenceError
from ..ir.builder import Builder
from ..ir.core import Block, Function, Value
from ..ir.types import I64, ArrayType, scalar_of
from ..ir.walk import inline_function
from ..jacobian import row_check
from .compile import build_ir
from .options import CompileOptions
from .transforms import JVP, VJP, SeedUnsupported


@dataclass(frozen=True)
class Program:
    fn: Function
    tree: tuple | None     # the results' nesting (frontend.env.unflatten); None: one value


def _wrap(name: str, inner: Function, nargs: int, extra, pick, tree) -> Program:
    """A program calling `inner` with its first `nargs` arguments and the values `extra(b)`
    makes, returning `pick(results)` nested as `tree`."""
    args = [Value(a.name, a.type) for a in inner.args[:nargs]]
    body = Block([])
    b = Builder(body, inner.loc)
    results = inline_function(inner, body, args + list(extra(b)))
    outs = pick(results)
    b.op("return", outs, [])
    fn = Function(name, args, body, [v.type for v in outs], inner.loc, tree is not None)
    return Program(fn, tree)


def _scalar_output(primal: Function, what: str, name: str):
    outs = primal.result_types
    if primal.returns_tuple or len(outs) != 1 or isinstance(outs[0], ArrayType) or \
            not scalar_of(outs[0]).is_float:
        shown = ", ".join(str(t) for t in outs) or "nothing"
        raise TypeInferenceError(
            f"{what} needs a function returning one float scalar; '{name}' returns ({shown})",
            primal.loc, "use adcompile.vjp or adcompile.jacrev for non-scalar outputs")
    return outs[0]


def gradient(f, sig, active: tuple[bool, ...], single: bool, with_value: bool,
             checkpoint, options: CompileOptions, what: str,
             order: tuple[int, ...] | None = None) -> Program:
    """`grad` (or `value_and_grad`) of scalar `f`: the reverse program with a unit cotangent.
    `order`: the argnums as given (the reverse pass returns the gradients in argument order;
    argnums=(1, 0) asks for them backwards)."""
    stages = build_ir(f, sig, VJP(active, checkpoint=checkpoint), options)
    t = _scalar_output(stages["primal"], what, f.__name__)
    grads = None if single else (None,) * sum(active)
    tree = (None, grads) if with_value else grads
    pos = {i: k for k, i in enumerate(sorted(order))} if order is not None else None

    def pick(r):
        gs = r[1:] if pos is None else [r[1 + pos[i]] for i in order]
        return [r[0]] + list(gs) if with_value else list(gs)
    return _wrap(f"{f.__name__}_{what}", stages["optimized"], len(sig),
                 lambda b: [b.const(1.0, t, name="one")], pick, tree)


def forward(f, sig, active: tuple[bool, ...], options: CompileOptions) -> Program:
    """`jvp(f, primals, tangents)`: arguments are the primals then the active tangents;
    results (outputs, output tangents), each nested as f returns them."""
    stages = build_ir(f, sig, JVP(active), options)
    fn = stages["optimized"]
    n = len(stages["primal"].result_types)
    half = tuple([None] * n) if stages["primal"].returns_tuple else None
    return _wrap(f"{f.__name__}_jvp", fn, len(fn.args), lambda b: [], lambda r: r,
                 (half, half))


def reverse(f, sig, active: tuple[bool, ...], options: CompileOptions) -> Program:
    """A pullback: arguments are the primals then one cotangent per float output; results
    the cotangents of the active arguments (a tuple over them)."""
    stages = build_ir(f, sig, VJP(active), options)
    fn = stages["optimized"]
    n = len(stages["primal"].result_types)
    return _wrap(f"{f.__name__}_pullback", fn, len(fn.args), lambda b: [],
                 lambda r: r[n:], (None,) * sum(active))


def primal(f, sig, options: CompileOptions) -> Program:
    stages = build_ir(f, sig, None, options)
    fn = stages["primal"]
    tree = tuple([None] * len(fn.result_types)) if fn.returns_tuple else None
    return _wrap(fn.name, fn, len(fn.args), lambda b: [], lambda r: r, tree)


def _identity_seed(b: Builder, x: Value) -> Value:
    """The lane seed of `x`: ones((1,)) for a scalar, the identity for a vector."""
    dt = scalar_of(x.type)
    one = b.const(1.0, dt, name="one")
    if not isinstance(x.type, ArrayType):
        n1 = b.const(1, I64, name="n")
        return b("full", n1, one, dtype=dt.name, name=f"{x.name}_seed")
    n = b("dim", x, axis=0, name="n")
    eye = b("zeros", n, n, dtype=dt.name, name=f"{x.name}_seed")
    j = Value("j", I64)
    cur = Value(eye.name, eye.type)
    loop = Block([j, cur])
    lb = Builder(loop, b.loc)
    lb.op("yield", [lb("setitem", cur, one, j, j, name=eye.name)], [])
    return b.op("for", [b.const(0, I64), n, b.const(1, I64), eye], [eye.type], {}, [loop],
                [eye.name]).results[0]


def jacobian_forward(f, sig, nums: tuple[int, ...], single: bool, options: CompileOptions,
                     what: str) -> Program:
    """`jacfwd` as one program: per argument in `nums`, vector forward mode seeded with the
    identity (built in the program), each output's lanes are d out / d x."""
    args = [Value(f"a{i}", s.type) for i, s in enumerate(sig)]
    body = Block([])
    b = Builder(body, None)
    per_arg, k, returns_tuple = [], 0, False
    for i in nums:
        t = sig[i].type
        if isinstance(t, ArrayType) and t.ndim != 1:
            raise AdError(f"a compiled {what} differentiates with respect to scalars and "
                          f"1-d arrays; argument {i} is {t}",
                          hint=f"call {what} from Python for arrays of more dimensions")
        stages = build_ir(f, sig, JVP(tuple(j == i for j in range(len(sig))), lanes=True),
                          options)
        inner, primal = stages["optimized"], stages["primal"]
        b.loc = inner.loc
        for a, arg in zip(args, inner.args):
            a.name = arg.name
        res = inline_function(inner, body, args + [_identity_seed(b, args[i])])
        k = len(primal.result_types)
        jac = []
        for lanes in res[k:]:
            if not isinstance(t, ArrayType):    # one lane: drop the lane axis
                lanes = b("sum", lanes, axis=lanes.type.ndim - 1, name=lanes.name) \
                    if lanes.type.ndim > 1 else b("getitem", lanes, b.const(0, I64),
                                                  name=lanes.name)
            jac.append(lanes)
        per_arg.append(jac)
        returns_tuple = primal.returns_tuple
    # JAX's nesting: the outputs outside, a tuple over argnums inside each
    flat = [per_arg[a][o] for o in range(k) for a in range(len(nums))]
    inner = None if single else (None,) * len(nums)
    tree = tuple([inner] * k) if returns_tuple else inner
    b.op("return", flat, [])
    fn = Function(f"{f.__name__}_{what}", args, body, [v.type for v in flat], b.loc,
                  tree is not None)
    return Program(fn, tree)


def _counted(b: Builder, n: Value, inits: list[Value], body) -> list[Value]:
    """`for i in range(n)` carrying `inits`; `body(builder, i, carried) -> next values`."""
    i = Value("r", I64)
    carried = [Value(v.name, v.type) for v in inits]
    blk = Block([i] + carried)
    lb = Builder(blk, b.loc)
    lb.op("yield", body(lb, i, carried), [])
    return b.op("for", [b.const(0, I64), n, b.const(1, I64)] + inits, [v.type for v in inits],
                {}, [blk], [v.name for v in inits]).results


def jacobian_reverse(f, sig, nums: tuple[int, ...], single: bool, options: CompileOptions,
                     what: str) -> Program:
    """`jacrev` as one program: the pullback run once per output element with a unit
    cotangent (zero on the other outputs), each run's argument cotangents one row of the
    Jacobian (shape: output shape + argument shape, as from Python). A tuple output gives a
    tuple over outputs, each a tuple over argnums when `nums` is a tuple (JAX's nesting)."""
    active = tuple(j in nums for j in range(len(sig)))
    for i in nums:
        t = sig[i].type
        if isinstance(t, ArrayType) and t.ndim != 1:
            raise AdError(f"a compiled {what} differentiates with respect to scalars and "
                          f"1-d arrays; argument {i} is {t}",
                          hint=f"call {what} from Python for arrays of more dimensions")
    stages = build_ir(f, sig, VJP(active), options)
    inner, primal_fn = stages["optimized"], stages["primal"]
    outs = primal_fn.result_types
    if not outs or any(not scalar_of(t).is_float or (isinstance(t, ArrayType) and t.ndim != 1)
                       for t in outs):
        shown = ", ".join(str(t) for t in outs) or "nothing"
        raise TypeInferenceError(
            f"a compiled {what} needs a function returning float scalars or 1-d arrays (or a "
            f"tuple of them); '{f.__name__}' returns ({shown})", primal_fn.loc,
            f"call {what} from Python, or use jacfwd")
    args = [Value(a.name, a.type) for a in inner.args[:len(sig)]]
    body = Block([])
    b = Builder(body, inner.loc)
    ys = inline_function(primal_fn, body, args) if any(isinstance(t, ArrayType)
                                                        for t in outs) else []
    pos = {i: k for k, i in enumerate(sorted(nums))}
    k = len(outs)

    def cotangents(cb: Builder, o: int, seed: Value) -> list[Value]:
        """The pullback's cotangents: `seed` for output o, zeros for the others."""
        cots = []
        for q, t in enumerate(outs):
            dt = scalar_of(t)
            if q == o:
                cots.append(seed)
            elif isinstance(t, ArrayType):
                cots.append(cb("zeros", cb("dim", ys[q], axis=0, name="m"), dtype=dt.name,
                               name="zero_bar"))
            else:
                cots.append(cb.const(0.0, dt, name="zero_bar"))
        return cots

    flat = []
    for o, t in enumerate(outs):
        dt = scalar_of(t)
        if not isinstance(t, ArrayType):      # a scalar output: one pass gives its gradient
            seed = b.const(1.0, dt, name="one")
            grads = inline_function(inner, body, args + cotangents(b, o, seed))[k:]
            flat += [grads[pos[i]] for i in nums]
            continue
        y = ys[o]
        m = b("dim", y, axis=0, name="m")
        starts = []
        for i in nums:
            x = sig[i].type
            shape = [m] + ([b("dim", args[i], axis=0, name="n")] if isinstance(x, ArrayType)
                           else [])
            starts.append(b("zeros", *shape, dtype=scalar_of(x).name, name="jac"))

        def row(lb: Builder, r: Value, jacs: list[Value], o=o, m=m, dt=dt, y=y) -> list[Value]:
            seed = lb("zeros", m, dtype=dt.name, name=f"{y.name}_bar")
            seed = lb("setitem", seed, lb.const(1.0, dt, name="one"), r, name=seed.name)
            grads = inline_function(inner, lb.block, args + cotangents(lb, o, seed))[k:]
            grads = [grads[pos[i]] for i in nums]
            # the pullback's tapes are empty again after each run: made once, before the loop
            # (reverse mode over this program shadows tapes made at its top level)
            made = [op for op in lb.block.ops if op.prim == "tape_new" and not op.operands]
            lb.block.ops[:] = [op for op in lb.block.ops if op not in made]
            body.ops.extend(made)
            out = []
            for jac, g in zip(jacs, grads):
                if not isinstance(g.type, ArrayType):
                    out.append(lb("setitem", jac, g, r, name=jac.name))
                    continue
                n = lb("dim", g, axis=0, name="n")
                out += _counted(lb, n, [jac], lambda cb, j, cur, g=g, jac=jac: [cb(
                    "setitem", cur[0], cb("getitem", g, j, name=g.name), r, j,
                    name=jac.name)])
            return out
        flat += _counted(b, m, starts, row)
    b.op("return", list(flat), [])
    inner_tree = None if single else (None,) * len(nums)
    tree = tuple([inner_tree] * k) if primal_fn.returns_tuple else inner_tree
    fn = Function(f"{f.__name__}_{what}", args, body, [v.type for v in flat], inner.loc,
                  tree is not None)
    return Program(fn, tree)


def require_row_independence(f, primal: Function, nums) -> None:
    """Refuse a function whose output row i reads other rows of the arguments: the shared
    row seed would fold those terms into row i's own columns."""
    where = row_check.cross_row_use(primal, list(nums))
    if where is not None:
        raise AdError(f"jacfwd_rows: an output row of '{f.__name__}' depends on "
                      "other rows of the differentiated arguments; the row-wise Jacobian "
                      "would add those terms into the row's own columns",
                      where if where is not True else primal.loc,
                      "use adcompile.jacfwd for the full Jacobian, or make output row i read "
                      "only row i (x[i, j] with i the loop index) and carry nothing from one "
                      "row to the next")


def _row_seeds(b: Builder, args: list[Value], nums) -> list[Value]:
    """The row-block seeds in the program (the array form of `seeds.row_block_lanes`):
    argument k's entry (r, j) drives lane offset_k + j in every row r."""
    widths = [b("dim", args[i], axis=1, name="m") for i in nums]
    total = widths[0]
    for w in widths[1:]:
        total = b("add", total, w, name="lanes")
    seeds_, off = [], b.const(0, I64, name="off")
    for i, w in zip(nums, widths):
        x = args[i]
        dt = scalar_of(x.type)
        n = b("dim", x, axis=0, name="n")
        s = b("zeros", n, w, total, dtype=dt.name, name=f"{x.name}_seed")
        one = b.const(1.0, dt, name="one")

        def row(rb: Builder, r: Value, cur: list[Value], w=w, off=off, one=one):
            return _counted(rb, w, cur, lambda cb, j, c: [cb(
                "setitem", c[0], one, r, j, cb("add", off, j, name="lane"),
                name=c[0].name)])
        seeds_.append(_counted(b, n, [s], row)[0])
        off = b("add", off, w, name="off")
    return seeds_


def jacobian_rows(f, sig, nums: tuple[int, ...], single: bool, options: CompileOptions,
                  what: str) -> Program:
    """`jacfwd_rows` as one program: vector forward mode with the row-wise identity seed
    (computed where it is read when the function reads its arguments by element, else built
    in the program), each output's lanes split per argument."""
    active = tuple(j in nums for j in range(len(sig)))
    for i in nums:
        t = sig[i].type
        if not isinstance(t, ArrayType) or t.ndim != 2:
            raise AdError(f"{what}: argument {i} must be a 2-d (rows, columns) array, got "
                          f"{t}", hint="use jacfwd for other shapes")
    try:
        stages = build_ir(f, sig, JVP(active, lanes=True, seed_rows=True), options)
        seeded = True
    except SeedUnsupported:   # whole-array use of an argument: the seed as an array
        stages = build_ir(f, sig, JVP(active, lanes=True), options)
        seeded = False
    inner, primal_fn = stages["optimized"], stages["primal"]
    require_row_independence(f, primal_fn, nums)
    args = [Value(a.name, a.type) for a in inner.args[:len(sig)]]
    body = Block([])
    b = Builder(body, inner.loc)
    extra = [] if seeded else _row_seeds(b, args, nums)
    res = inline_function(inner, body, args + extra)
    k = len(primal_fn.result_types)
    rows = b("dim", args[nums[0]], axis=0, name="n")
    flat, trees = [], []
    for lanes in res[k:]:
        if lanes.type.ndim < 2:
            raise AdError(f"{what} needs outputs whose first axis is the rows of the "
                          "arguments", primal_fn.loc, "return per-row results, shape (n, ...)")
        same = b("eq", b("dim", lanes, axis=0, name="n_out"), rows, name="same_rows")
        b.op("check", [same], [], {"message": f"{what} needs outputs whose first axis is the "
                                   "rows of the arguments", "kind": "shape"})
        if single:
            flat.append(lanes)
            continue
        off = b.const(0, I64, name="off")
        full = ",".join(["s000"] * (lanes.type.ndim - 1))
        for i in nums:
            w = b("dim", args[i], axis=1, name="m")
            end = b("add", off, w, name="end")
            block = b("getslice", lanes, off, end, spec=f"{full},s110", name=lanes.name)
            flat.append(b("copy", block, name=lanes.name))
            off = end
        trees.append((None,) * len(nums))
    b.op("return", flat, [])
    if single:
        tree = tuple([None] * k) if primal_fn.returns_tuple else None
    else:
        tree = tuple(trees) if primal_fn.returns_tuple else trees[0]
    fn = Function(f"{f.__name__}_{what}", args, body, [v.type for v in flat], inner.loc,
                  tree is not None)
    return Program(fn, tree)
