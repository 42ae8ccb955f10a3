"""Statement lowering: Python statements -> SSA IR with structured control flow.

The frontend is specialised per argument signature, so every value has a concrete type as it is
built. Invariants of what it emits:
- `break`, `continue` and `return` never appear in the IR: they set boolean flags (named
  `break`, `continue`, `return` -- Python keywords, so they cannot clash with user names), the
  statements after one that may have set a flag are guarded by `if not flag`, and a loop that can
  exit early becomes a `while` whose condition tests the flags. Flags known to be constant are
  folded while lowering, so straight-line code stays flat.
- Loop-carried values are the names whose binding changes in the body; their types are found by
  re-lowering the body until they are stable (int -> float promotion as Python does).
- Calls to user functions are inlined; mutations of array arguments flow back to the caller.
  Functions defined inside (nested `def`, `lambda`) are inlined too, with their captures
  bound at each call (`closures.py`).
"""
from __future__ import annotations

import sys
from typing import Any, Callable

import gast

from ..checkpointing import checkpointed, parse_memory
from ..errors import AdError, NestedTupleReturn, TypeInferenceError, UnsupportedSyntax
from ..ir.builder import Builder
from ..ir.core import Block, Function, Value
from ..ir.primitives import PRIMITIVES
from ..ir.types import BOOL, I64, ArrayType, ScalarType, Type, promote
from . import unbound
from . import aliasing, closures
from .env import Env, Global, LocalFunction, Poison, fresh_key
from .exprs import ExprLowerer
from .source import SourceInfo, get_source

RET = "return"
MAX_TYPE_ITERS = 4


class Context:
    """State shared by the lowering of one entry function and every helper inlined into it."""

    def __init__(self) -> None:
        self.weak: set[int] = set()          # ids of scalars with Python's "weak" literal type
        self.consts: dict[int, Any] = {}     # ids of values known at compile time -> value
        self.stack: list[Any] = []           # functions being lowered (recursion check)
        self.reads: dict = {}                # globals and closure cells read (frontend/reads)
        self.ident: dict[int, int] = {}      # ids of array values -> their object's key


class Lowerer(ExprLowerer):
    def __init__(self, src: SourceInfo, ctx: Context, block: Block, depth: int = 0):
        self.src = src
        self.ctx = ctx
        self.block = block
        self.loc = src.loc(src.node)
        self.env = Env(ident=ctx.ident)
        self.loops: list[tuple[str, str]] = []   # (break flag, continue flag) per enclosing loop
        self.depth = depth
        self.ret_types: list[Type] | None = None
        self.ret_tuple = False
        self.ret_tree = None   # nesting of a returned tuple of tuples (helpers only)
        self.sid = fresh_key()  # this lowering, as the scope of the functions it defines
        self.closure: LocalFunction | None = None   # the local function being lowered

    # -- emission helpers ---------------------------------------------------------------------
    def emit(self, prim: str, operands: list[Value], attrs: dict | None = None,
             name: str = "t", types: list[Type] | None = None, regions=None) -> Value | list:
        if types is None:
            types = PRIMITIVES[prim].rule([v.type for v in operands], attrs or {})
        op = Builder(self.block, self.loc).op(prim, operands, types, attrs, regions,
                                             [name] * len(types))
        return op.results[0] if len(op.results) == 1 else op.results

    def const(self, value: Any, type: ScalarType, weak: bool = True, name: str = "c") -> Value:
        if type.is_float:
            value = float(value)
        elif type.is_int:
            value = int(value)
        else:
            value = bool(value)
        v = self.emit("const", [], {"value": value, "type": type.name}, name=name)
        self.ctx.consts[v.id] = value
        if weak:
            self.ctx.weak.add(v.id)
        return v

    def known(self, v: Any) -> Any:
        """The compile-time value of `v`, or None."""
        return self.ctx.consts.get(v.id) if isinstance(v, Value) else None

    def error(self, node, message: str, hint: str = "", cls=UnsupportedSyntax):
        return cls(message, self.src.loc(node) if node is not None else self.loc, hint)

    # -- entry ----------------------------------------------------------------------------------
    def lower_function(self, arg_values: list[Value]) -> Function:
        node = self.src.node
        self._check_signature(node)
        params = [a.id for a in node.args.args]
        for p, v in zip(params, arg_values):
            self.env.bind(p, v)
        self.ctx.stack.append(self.src.func)
        self.env.bind(RET, self.const(False, BOOL, name="returned"))
        self.lower_body(node.body)
        self.ctx.stack.pop()
        results = self._final_results(node)
        self.loc = self.src.loc(node.body[-1])
        Builder(self.block, self.loc).op("return", results, [])
        fn = Function(node.name, list(arg_values), self.block,
                      [v.type for v in results], self.src.loc(node), self.ret_tuple)
        fn.python_scalars = [v.id in self.ctx.weak for v in results]
        return fn

    def _check_signature(self, node: gast.FunctionDef) -> None:
        a = node.args
        if a.vararg or a.kwarg:
            bad = a.vararg or a.kwarg
            raise self.error(bad, "*args and **kwargs are not supported",
                             "give every argument a name")
        if a.kwonlyargs or a.posonlyargs:
            raise self.error(node, "keyword-only and positional-only arguments are not "
                                   "supported", "use plain positional arguments")

    def _final_results(self, node) -> list[Value]:
        flag = self.env.vars.get(RET)
        state = self.known(flag) if flag is not None else False
        if flag is None or state is False:
            self.ret_types = []
            return []
        if state is not True:
            raise self.error(node.body[-1], f"function '{node.name}' can reach its end without "
                             "returning a value",
                             "add a 'return' at the end so every path returns the same kind "
                             "of value")
        out = []
        for i in range(len(self.ret_types)):
            v = self.env.vars[f"{RET}.{i}"]
            out.append(aliasing.materialize(self, v.key) if isinstance(v, aliasing.Stale) else v)
        return out

    # -- statement lists and flags --------------------------------------------------------------
    def _flags(self) -> list[str]:
        names = [RET] + (list(self.loops[-1]) if self.loops else [])
        return [n for n in names if n in self.env.vars]

    def _flag_state(self) -> str:
        """'dead' if some flag is surely set, 'maybe' if one may be, else 'clear'."""
        state = "clear"
        for n in self._flags():
            k = self.known(self.env.vars[n])
            if k is True:
                return "dead"
            if k is None:
                state = "maybe"
        return state

    def lower_body(self, stmts: list) -> None:
        for k, stmt in enumerate(stmts):
            state = self._flag_state()
            if state == "dead":
                return
            if state == "maybe":
                rest = stmts[k:]
                self.loc = self.src.loc(stmt)
                self.lower_if_value(self._not_any_flag(), lambda: self._guarded(rest),
                                    self._flag_was_set)
                return
            self.loc = self.src.loc(stmt)
            self.lower_stmt(stmt)

    def _guarded(self, rest: list) -> None:
        """Lower `rest` where no flag is set (it runs under `if not flag`)."""
        for n in self._flags():
            if self.known(self.env.vars[n]) is None:
                self.env.bind(n, self.const(False, BOOL, name=self.env.vars[n].name))
        self.lower_body(rest)

    def _flag_was_set(self) -> None:
        """The path where the guard failed: if only one flag was undecided, it is set."""
        maybe = [n for n in self._flags() if self.known(self.env.vars[n]) is None]
        if len(maybe) == 1:
            self.env.bind(maybe[0], self.const(True, BOOL, name=_hint(maybe[0])))

    def _not_any_flag(self) -> Value:
        acc = None
        for n in self._flags():
            v = self.env.vars[n]
            if self.known(v) is False:
                continue
            acc = v if acc is None else self.emit("or", [acc, v], name="exit")
        return self.emit("not", [acc], name="go")

    # -- statements -----------------------------------------------------------------------------
    def lower_stmt(self, s) -> None:
        meth = getattr(self, "stmt_" + type(s).__name__, None)
        if meth is None:
            raise self.error(s, f"'{_describe(s)}' is not supported in compiled functions",
                             _STMT_HINTS.get(type(s).__name__,
                                             "see the supported subset in docs/subset.md"))
        meth(s)

    def stmt_Expr(self, s) -> None:
        if isinstance(s.value, gast.Constant) and isinstance(s.value.value, str):
            return  # docstring
        if isinstance(s.value, gast.Call):
            self.lower_expr(s.value, discard=True)
            return
        raise self.error(s, "an expression statement with no effect",
                         "assign the value to a name or remove it")

    def stmt_Pass(self, s) -> None:
        pass

    def stmt_FunctionDef(self, s) -> None:
        closures.define_def(self, s)

    def stmt_Assign(self, s) -> None:
        if len(s.targets) != 1:
            value = self.lower_expr(s.value)
            for t in s.targets:
                self.assign(t, value, s.value)
            return
        value = self.lower_expr(s.value)
        self.assign(s.targets[0], value, s.value)

    def stmt_AnnAssign(self, s) -> None:
        if s.value is None:
            return
        self.assign(s.target, self.lower_expr(s.value), s.value)

    def stmt_AugAssign(self, s) -> None:
        t = s.target
        if isinstance(t, gast.Name):
            cur = self.lookup(t.id, t)
            res = self.binop(s.op, cur, self.lower_expr(s.value), s)
            if isinstance(cur, Value) and isinstance(cur.type, ArrayType):
                self.write_array(cur, self._in_place(cur, res, s), t)   # NumPy: in place
            else:
                self.assign(t, res, None)
        elif isinstance(t, gast.Subscript):
            load = gast.Subscript(value=t.value, slice=t.slice, ctx=gast.Load())
            gast.copy_location(load, t)
            cur = self.lower_expr(load)
            self.store_subscript(t, self.binop(s.op, cur, self.lower_expr(s.value), s))
        else:
            raise self.error(t, "augmented assignment to this target is not supported",
                             "assign to a name or an array element")

    def _in_place(self, cur: Value, res: Value, s) -> Value:
        """The result of `y op= v` stored into the array `y`, with NumPy's casting rules."""
        if not isinstance(res.type, ArrayType) or res.type.ndim != cur.type.ndim:
            raise self.error(s, f"'{s.target.id} {_OPS.get(type(s.op).__name__, '?')}= ...' "
                             "would change the shape of the array (NumPy writes in place, so "
                             "it raises)", "write the result to a new name: "
                             f"z = {s.target.id} {_OPS.get(type(s.op).__name__, '?')} ...",
                             TypeInferenceError)
        if res.type.dtype != cur.type.dtype:
            if not (res.type.dtype.is_float and cur.type.dtype.is_float):
                raise self.error(s, f"cannot store the {res.type.dtype} result of this "
                                 f"in-place operation into the {cur.type.dtype} array "
                                 f"'{s.target.id}' (NumPy raises a casting error)",
                                 f"write {s.target.id} = {s.target.id} "
                                 f"{_OPS.get(type(s.op).__name__, '?')} ... (a new array), "
                                 "or convert with .astype()", TypeInferenceError)
            res = self.coerce(res, cur.type)
        return res

    def assign(self, target, value: Any, value_node) -> None:
        if isinstance(target, gast.Name):
            unbound.assigned(self, target.id)
            self.env.bind(target.id, value)    # an array value keeps its object (aliasing)
        elif isinstance(target, (gast.Tuple, gast.List)):
            for e in target.elts:
                if isinstance(e, gast.Starred):
                    raise self.error(e, "starred assignment is not supported",
                                     "unpack into a fixed number of names")
            if not isinstance(value, tuple):
                raise self.error(target, "cannot unpack a non-tuple value",
                                 "only tuples (and .shape) can be unpacked", TypeInferenceError)
            if len(value) != len(target.elts):
                raise self.error(target, f"cannot unpack {len(value)} values into "
                                 f"{len(target.elts)} names",
                                 "use as many names as the tuple has values", TypeInferenceError)
            elts = value_node.elts if isinstance(value_node, gast.Tuple) and \
                len(value_node.elts) == len(value) else [None] * len(value)
            for t, v, n in zip(target.elts, value, elts):
                self.assign(t, v, n)
        elif isinstance(target, gast.Subscript):
            self.store_subscript(target, value)
        elif isinstance(target, gast.Starred):
            raise self.error(target, "starred assignment is not supported",
                             "unpack into a fixed number of names")
        else:
            raise self.error(target, f"cannot assign to '{_describe(target)}'",
                             "assign to names, tuples of names or array elements")

    def stmt_Return(self, s) -> None:
        if s.value is None:
            raise self.error(s, "a bare 'return' (returning None) is not supported",
                             "return a value, or end the function without 'return'")
        value = self.lower_expr(s.value)
        closures.check_escape(self, value, s.value, "returned")
        if isinstance(value, tuple) and any(isinstance(x, tuple) for x in value):
            tree = _treedef(value)
            if self.depth == 0 and not getattr(self, "flatten_returns", False):
                raise self.error(s.value, "a compiled function cannot return nested tuples",
                                 "return a flat tuple of numbers and arrays (the derivative "
                                 "API, jacfwd/jacrev/vjp/jvp/hessian, accepts nested ones)",
                                 NestedTupleReturn)
            if self.ret_tree is not None and self.ret_tree != tree:
                raise self.error(s, "this return gives a different tuple structure than an "
                                 "earlier one", "", TypeInferenceError)
            self.ret_tree = tree
            value = tuple(_flatten(value))
        items = list(value) if isinstance(value, tuple) else [value]
        as_tuple = isinstance(value, tuple)
        for v in items:
            if not isinstance(v, Value):
                raise self.error(s.value, "only numbers, arrays and tuples of them can be "
                                 "returned", "", TypeInferenceError)
        if self.ret_types is None:
            self.ret_types = [v.type for v in items]
            self.ret_tuple = as_tuple
        elif len(items) != len(self.ret_types) or as_tuple != self.ret_tuple:
            raise self.error(s, "this return gives a different number of values than an "
                             "earlier one", "return the same tuple shape everywhere",
                             TypeInferenceError)
        else:
            for v, t in zip(items, self.ret_types):
                if v.type != t and not (isinstance(v.type, ScalarType) and
                                        isinstance(t, ScalarType)):
                    raise self.error(s, f"this return gives a {_kind(v.type)} but an earlier "
                                     f"one gives a {_kind(t)}",
                                     "return the same kind of value on every path",
                                     TypeInferenceError)
        for i, v in enumerate(items):
            self.env.bind(f"{RET}.{i}", v)
        self.env.bind(RET, self.const(True, BOOL, name="returned"))

    def stmt_Break(self, s) -> None:
        if not self.loops:
            raise self.error(s, "'break' outside a loop")
        self.env.bind(self.loops[-1][0], self.const(True, BOOL, name="broke"))

    def stmt_Continue(self, s) -> None:
        if not self.loops:
            raise self.error(s, "'continue' outside a loop")
        self.env.bind(self.loops[-1][1], self.const(True, BOOL, name="skip"))

    def stmt_If(self, s) -> None:
        cond = self.lower_test(s.test)
        k = self.known(cond)
        if k is not None:  # a condition known at compile time: lower only the taken branch
            self.lower_body(s.body if k else s.orelse)
            return
        self.lower_if_value(cond, lambda: self.lower_body(s.body),
                            lambda: self.lower_body(s.orelse))

    # -- if: lower both branches, merge the environments ----------------------------------------
    def lower_if_value(self, cond: Value, then_fn: Callable, else_fn: Callable,
                       extra: bool = False) -> list[Value]:
        """Lower an `if` op whose branches run `then_fn`/`else_fn` on copies of the env.

        With `extra`, each branch function returns a list of values that the op also yields
        (the value of a conditional expression); those results are returned.
        """
        before = self.env
        outer_block, outer_loc = self.block, self.loc
        branches = []
        for fn in (then_fn, else_fn):
            self.env, self.block = before.copy(), Block()
            got = fn()
            aliasing.materialize_all(self, keep=lambda n, k: aliasing.is_lazy(
                before.views.get(k)) and before.keys.get(n) == k)
            branches.append((self.env, self.block, got if extra else None,
                             self.loc))
            self.loc = outer_loc
        self.block, self.env = outer_block, before
        names = self._changed_names(before, [b[0] for b in branches])
        tuples = self._explode_branch_tuples(names, before, [b[0] for b in branches])
        unbound.complete_flags(self, names, before, [b[0] for b in branches], self._dead)
        out = self._merge(names, branches, before, cond, outer_block)
        for n, slots in tuples.items():
            before.bind(n, tuple(before.vars[s] for s in slots))
        return out

    def _changed_names(self, before: Env, envs: list[Env]) -> list[str]:
        names: list[str] = []
        for env in envs:
            for n, v in env.vars.items():
                if before.vars.get(n, _MISSING) is not v and n not in names:
                    names.append(n)
        return names

    def _merge(self, names: list[str], branches, before: Env, cond: Value,
               outer_block: Block) -> list[Value]:
        vals = {n: [b[0].vars.get(n, before.vars.get(n, _MISSING)) for b in branches]
                for n in names}
        plan: list[tuple[str, Type]] = []   # names merged through the if op, with their type
        tuples: list[tuple] = []
        for n, (a, b) in vals.items():
            if a is b:
                before.vars[n] = a
                continue
            if isinstance(a, aliasing.Stale) or isinstance(b, aliasing.Stale):
                ks = [v.key if isinstance(v, aliasing.Stale) else br[0].keys.get(n)
                      for v, br in zip((a, b), branches)]
                if ks[0] == ks[1]:            # one view on both paths: re-read after the if
                    before.vars[n], before.keys[n] = aliasing.Stale(ks[0]), ks[0]
                    continue
                a, b = (self._materialized(br, n) if isinstance(v, aliasing.Stale) else v
                        for v, br in zip((a, b), branches))
                vals[n] = [a, b]
            if isinstance(a, Value) and isinstance(b, Value):
                kb = self.known(a), self.known(b)
                if kb[0] is not None and kb[0] == kb[1] and a.type == b.type and \
                        a.type == BOOL:
                    before.bind(n, self.const(kb[0], BOOL, name=a.name))
                    continue
                t = self.unify(a, b)
                if t is None:
                    before.vars[n] = Poison(
                        f"'{n}' is a {_kind(a.type)} on one branch and a {_kind(b.type)} on "
                        "the other", None, "give a variable one type on every path")
                    continue
                plan.append((n, t))
            elif isinstance(a, Value) or isinstance(b, Value):
                v = a if isinstance(a, Value) else b
                other = b if v is a else a
                missing_env = branches[0][0] if a is _MISSING else branches[1][0]
                if other is _MISSING and (not _is_user_name(n) or self._dead(missing_env)
                                          or unbound.flag_name(n) in vals):
                    plan.append((n, v.type))
                elif other is _MISSING:
                    before.vars[n] = Poison(
                        f"'{n}' may be used before it is assigned (it is assigned on only "
                        "one path)", None, f"assign '{n}' before the if, or on every path")
                else:
                    before.vars[n] = Poison(f"'{n}' has different kinds of value on the two "
                                            "branches", None, "")
            elif isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
                tuples.append((n, a, b))   # arrays written in a branch: merged with them
            elif (a is _MISSING) != (b is _MISSING) and isinstance(
                    a if b is _MISSING else b, LocalFunction) and _is_user_name(n) and \
                    not self._dead(branches[0][0] if a is _MISSING else branches[1][0]):
                before.vars[n] = Poison(
                    f"'{n}' may be used before it is assigned (the function is defined on "
                    "only one path)", None, f"define '{n}' before the if, or on every path")
            elif (a is _MISSING) != (b is _MISSING) and _has_values(a if b is _MISSING else b):
                # a tuple of this branch's values bound on only one path that goes on
                before.vars[n] = Poison(
                    f"'{n}' may be used before it is assigned (it is assigned on only "
                    "one path)", None, f"assign '{n}' before the if, or on every path")
            else:
                before.vars[n] = a if b is _MISSING else (b if a is _MISSING else Poison(
                    f"'{n}' is bound to different objects on the two branches", None))
        extras = [b[2] for b in branches]
        nextra = len(extras[0]) if extras[0] is not None else 0
        extra_types = []
        for i in range(nextra):
            t = self.unify(extras[0][i], extras[1][i])
            if t is None:
                raise TypeInferenceError(
                    "the two branches of a conditional expression have different types",
                    self.loc, "make both branches numbers or both arrays of one rank")
            extra_types.append(t)
        types = [t for _, t in plan] + extra_types
        regions = []
        for env, block, extra, loc in branches:
            self.block, saved = block, self.env
            self.env = env
            yields = [self.coerce(env.vars[n] if isinstance(env.vars.get(n), Value)
                                  else self.undef(t), t) for n, t in plan]
            yields += [self.coerce(v, t) for v, t in zip(extra or [], extra_types)]
            Builder(block, loc).op("yield", yields, [])
            regions.append(block)
            self.env = saved
        self.block = outer_block
        names_out = [_hint(n) for n, _ in plan] + ["v"] * nextra
        op = Builder(self.block, self.loc).op("if", [cond], types, {}, regions, names_out)
        for (n, t), r in zip(plan, op.results):
            before.bind(n, r)
            got = [b[0].vars[n] for b in branches if isinstance(b[0].vars.get(n), Value)]
            if got and all(v.id in self.ctx.weak for v in got):   # (a dead branch has none)
                self.ctx.weak.add(r.id)
        self._merge_objects(before, branches, plan, op.results, tuples, cond)
        return op.results[len(plan):]

    def _materialized(self, branch, name: str) -> Value:
        """Re-read a stale view at the end of a branch (its yield is built later)."""
        saved = self.env, self.block
        self.env, self.block = branch[0], branch[1]
        try:
            return aliasing.materialize(self, self.env.vars[name].key)
        finally:
            self.env, self.block = saved

    def _merge_objects(self, before: Env, branches, plan, results, tuples, cond) -> None:
        """Object identities after an `if`: a name (or a conditional expression) bound to
        different arrays on the two branches writes through to whichever it is at run time
        (aliasing.merge_key)."""
        envs = [b[0] for b in branches]
        for env in envs:
            before.may |= env.may
        for (n, _), r in zip(plan, results):
            if n in before.keys:
                key = aliasing.merge_key(self, before, n, envs, cond)
                if key is not None:
                    before.keys[n] = key
                    before.ident[r.id] = key
        for i, r in enumerate(results[len(plan):]):
            if isinstance(r.type, ArrayType):
                ks = [aliasing.ensure_key(env, b[2][i]) for env, b in zip(envs, branches)]
                key = aliasing.merge_key(self, before, None, envs, cond, ks)
                if key is not None:
                    before.ident[r.id] = key
        for n, a, b in tuples:
            ra, rb = aliasing.refreshed(before, a), aliasing.refreshed(before, b)
            before.vars[n] = ra if _same_leaves(ra, rb) else Poison(
                f"tuple variable '{n}' changes in a branch", None,
                "unpack the tuple into names before the if")

    def _dead(self, env: Env) -> bool:
        """Has this branch surely left (returned, broken, continued)?"""
        return any(self.known(env.vars.get(n)) is True for n in self._flags())

    def undef(self, t: Type) -> Value:
        return self.emit("undef", [], {"type": str(t)}, name="undef")

    def unify(self, a: Value, b: Value) -> Type | None:
        ta, tb = a.type, b.type
        if ta == tb:
            return ta
        if isinstance(ta, ScalarType) and isinstance(tb, ScalarType):
            return promote(ta, tb)
        return None

    # -- loops ----------------------------------------------------------------------------------
    def stmt_For(self, s) -> None:
        if s.orelse:
            raise self.error(s, "'for ... else' is not supported", "use a flag variable")
        it = s.iter
        attrs = {}
        if _is_checkpointed(self, it):
            it, attrs = self._checkpoint_attrs(it)
        if not self._is_builtin_call(it, range):
            s = self._for_over_items(s, it)
            if s is None:   # a tuple, unrolled
                return
            it = s.iter
        if not isinstance(s.target, gast.Name):
            raise self.error(s.target, "the loop variable must be a single name", "")
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.error(it, "range() takes 1 to 3 positional arguments", "")
        bounds = [self.to_int(self.lower_expr(a), a) for a in it.args]
        if len(bounds) == 1:
            lb, ub, step = self.const(0, I64), bounds[0], self.const(1, I64)
        else:
            lb, ub = bounds[0], bounds[1]
            step = bounds[2] if len(bounds) == 3 else self.const(1, I64)
        if self.known(step) == 0:
            raise self.error(it, "range() step must not be zero", "", TypeInferenceError)
        if _has_exit(s.body):
            self._for_as_while(s, lb, ub, step, attrs)
        else:
            self._lower_loop(s, "for", s.body, [lb, ub, step], attrs=attrs)

    def _is_builtin_call(self, it, fn) -> bool:
        return (isinstance(it, gast.Call) and isinstance(it.func, gast.Name)
                and isinstance(self.resolve(it.func.id, it.func), Global)
                and self.resolve(it.func.id, it.func).obj is fn)

    def _for_over_items(self, s, it):
        """`for v in x`, `for i, v in enumerate(x[, start])`, `for a, b in zip(x, y, ...)`
        as a loop over indices: the iterables are evaluated once, before the loop (as
        Python does), and each item is read at the top of the body (`v = x[k]`: a row view
        for an n-d array). Returns the `for ... in range(...)` statement to lower."""
        k = self._fresh_name("k")
        def name(n, ctx=gast.Load):
            return gast.copy_location(gast.Name(n, ctx(), None, None), it)

        def assign(target, value):
            return gast.copy_location(gast.Assign([target], value, None), it)

        def call(fn, *args):
            return gast.copy_location(gast.Call(name(fn), list(args), []), it)

        def item(src):
            return gast.copy_location(gast.Subscript(name(src), name(k), gast.Load()), it)

        pre, items, index_target = [], [], None
        if self._is_builtin_call(it, enumerate):
            if len(it.args) != 1 or any(kw.arg != "start" for kw in it.keywords) or \
                    len(it.keywords) > 1:
                raise self.error(it, "enumerate() takes one iterable and an optional start=",
                                 "for i, v in enumerate(x):")
            if not (isinstance(s.target, gast.Tuple) and len(s.target.elts) == 2):
                raise self.error(s.target, "unpack enumerate() into two names",
                                 "for i, v in enumerate(x):")
            sources = [it.args[0]]
            index_target, targets = s.target.elts[0], [s.target.elts[1]]
            start = it.keywords[0].value if it.keywords else None
        elif self._is_builtin_call(it, zip):
            if it.keywords or not it.args:
                raise self.error(it, "zip() takes one or more iterables", "")
            if not (isinstance(s.target, gast.Tuple) and len(s.target.elts) == len(it.args)):
                raise self.error(s.target, f"unpack zip() of {len(it.args)} iterables into "
                                 f"{len(it.args)} names", "for a, b in zip(x, y):")
            sources, targets = list(it.args), list(s.target.elts)
        else:
            sources, targets = [it], [s.target]
        for src in sources:
            held = self._fresh_name("it")
            pre.append(assign(name(held, gast.Store), src))
            items.append(held)
        # the loop bound: the shortest iterable (zip), else its length
        n = call("len", name(items[0]))
        for held in items[1:]:
            n = call("min", n, call("len", name(held)))
        for st, src in zip(pre, sources):
            self.lower_stmt(st)
            held = self.env.vars.get(st.targets[0].id)
            if isinstance(held, tuple) and len(sources) == 1 and index_target is None:
                return self._unroll_tuple(s, held, targets[0], items[0], assign, name)
            if isinstance(held, Value) and not isinstance(held.type, ArrayType):
                raise self.error(src, "a for loop iterates over range(), an array, a tuple, "
                                 "enumerate() or zip(); this is a scalar",
                                 "for i in range(n): ...", TypeInferenceError)
        body = [assign(t, item(h)) for t, h in zip(targets, items)]
        if index_target is not None:
            value = name(k) if start is None else gast.copy_location(
                gast.BinOp(name(k), gast.Add(), start), it)
            body.insert(0, assign(index_target, value))
        loop = gast.copy_location(gast.For(name(k, gast.Store), call("range", n),
                                           body + list(s.body), [], None), s)
        return loop

    def _unroll_tuple(self, s, held: tuple, target, src: str, assign, name):
        """`for a in (x, y, ...)`: the body once per entry (the entries may differ in type,
        so there is no loop to build)."""
        if _has_exit(s.body):
            raise self.error(s, "break/continue in a loop over a tuple is not supported",
                             "loop over range(len(t)) with entries of one type, or unroll "
                             "it by hand")
        for j in range(len(held)):
            const = gast.copy_location(gast.Constant(j, None), s.iter)
            self.lower_stmt(assign(target, gast.copy_location(
                gast.Subscript(name(src), const, gast.Load()), s.iter)))
            self.lower_body(s.body)
        return None

    def _fresh_name(self, what: str) -> str:
        self._fresh = getattr(self, "_fresh", 0) + 1
        return f"_{what}{self._fresh}"

    def _checkpoint_attrs(self, it) -> tuple:
        """`adcompile.checkpointed(range(...), every=k | snapshots=s[, levels=2] | binomial=s
        | memory="50MB")`."""
        if len(it.args) != 1:
            raise self.error(it, "checkpointed() takes one range(...) argument",
                             "for t in adcompile.checkpointed(range(n), binomial=64):")
        attrs = {}
        for kw in it.keywords:
            v = kw.value
            if kw.arg == "memory" and isinstance(v, gast.Constant):
                try:
                    attrs["checkpoint_memory"] = parse_memory(v.value)
                except AdError as err:
                    raise self.error(v, f"checkpointed(): {err.message}",
                                     'e.g. checkpointed(range(n), memory="50MB")') from None
                continue
            if kw.arg not in ("every", "snapshots", "levels", "binomial") or not (
                    isinstance(v, gast.Constant) and type(v.value) is int and v.value >= 1):
                raise self.error(kw.value if kw.arg else it, f"checkpointed(): '{kw.arg}' must "
                                 "be one of every=, snapshots=, levels=, binomial= with a "
                                 "positive int literal, or memory= with a size literal",
                                 "e.g. checkpointed(range(n), binomial=64)")
            attrs["checkpoint_" + kw.arg] = v.value
        kinds = [k for k in ("every", "snapshots", "binomial", "memory")
                 if "checkpoint_" + k in attrs]
        if len(kinds) > 1:
            raise self.error(it, f"checkpointed() takes one of every=, snapshots=, binomial=, "
                             f"memory=, not {' and '.join(k + '=' for k in kinds)}", "")
        if attrs.get("checkpoint_levels", 1) > 2 or ("checkpoint_levels" in attrs and
                                                     "checkpoint_snapshots" not in attrs):
            raise self.error(it, "checkpointed(): levels= (1 or 2) goes with snapshots=", "")
        if not kinds:
            attrs["checkpoint_sqrt"] = 1
        return it.args[0], attrs

    def stmt_While(self, s) -> None:
        if s.orelse:
            raise self.error(s, "'while ... else' is not supported", "use a flag variable")
        self._lower_loop(s, "while", s.body, [], test=s.test)

    def _for_as_while(self, s, lb, ub, step, attrs=None) -> None:
        """A `for` that can exit early becomes a `while` over an explicit counter."""
        counter = f"range.{fresh_key()}.{s.target.id}"   # the user's loop variable, last
        self.env.bind(counter, lb)
        self._lower_loop(s, "while", s.body, [], range_info=(counter, ub, step, s.target.id),
                         attrs=attrs)

    def _lower_loop(self, s, kind: str, body: list, bounds: list[Value], test=None,
                    range_info=None, attrs=None) -> None:
        brk, cont = f"break.{len(self.loops)}", f"continue.{len(self.loops)}"
        may_exit = _has_exit(body, include_continue=False)
        unbound.track(self, _assigned_names(body),
                      {s.target.id} if isinstance(s, gast.For) else set())
        if kind == "while" and any(isinstance(sub, gast.Break)
                                   for node in body for sub in _walk_no_loops(node)):
            self.env.bind(brk, self.const(False, BOOL, name="broke"))
        if range_info:
            self.env.bind(range_info[0], self.env.vars[range_info[0]])
        assigned = _assigned_names(body)
        assigned |= self._explode_tuples(assigned)
        aliasing.materialize_all(self, keep=lambda n, k: n not in assigned)
        if range_info:
            assigned.add(range_info[0])
        if may_exit:
            assigned |= {RET} | ({brk} if brk in self.env.vars else set()) | {n for n in self.env.vars if n.startswith(RET + ".")}
        carried = [n for n in self.env.vars if n in assigned and
                   isinstance(self.env.vars[n], Value)]
        types = {n: self.env.vars[n].type for n in carried}
        target = s.target.id if kind == "for" else None
        loc = self.loc
        objects = _LoopObjects()
        for _ in range(MAX_TYPE_ITERS + 2):
            attempt = self._loop_attempt(kind, carried, types, body, bounds, test, range_info,
                                         brk, cont, target, loc, objects)
            new_carried, new_types = attempt[1], attempt[2]
            new_objects = objects.join(attempt[5])
            if new_carried == carried and new_types == types and new_objects == objects:
                break
            carried, types, objects = new_carried, new_types, new_objects
        else:
            raise TypeInferenceError("the types of the loop's variables do not settle", loc,
                                     "give each variable one type before the loop")
        self._finish_loop(kind, attempt, carried, types, bounds, loc, target, brk, cont,
                          range_info, attrs or {})

    def _loop_attempt(self, kind, carried, types, body, bounds, test, range_info, brk, cont,
                      target, loc, objects):
        before, outer_block = self.env, self.block
        self.env = before.copy()
        args = [Value(_hint(n), types[n]) for n in carried]
        for n, a in zip(carried, args):
            self.env.bind(n, a, key=before.keys.get(n))
            self._inherit_weak(before.vars.get(n), a)
        self._rebuild_tuples(carried, self.env)
        objects.enter(self.env)
        start_env = self.env.copy()
        cond_block = None
        if kind == "while":
            cond_block = Block(list(args))
            self.block, self.loc = cond_block, loc
            conds = []
            if brk in self.env.vars:
                conds.append(("flag", brk))
            if RET in self.env.vars and self.known(self.env.vars[RET]) is not True:
                conds.append(("flag", RET))
            go = self._loop_condition(conds, test, range_info)
            Builder(cond_block, loc).op("condition", [go], [])
            body_args = [Value(_hint(n), types[n]) for n in carried]
            self.env = start_env.copy()
            for n, a in zip(carried, body_args):
                self.env.bind(n, a, key=before.keys.get(n))
                self._inherit_weak(before.vars.get(n), a)
            self._rebuild_tuples(carried, self.env)
            objects.enter(self.env)
            body_block = Block(body_args)
        else:
            iv = Value(target, I64)
            body_block = Block([iv] + args)
            self.env.bind(target, iv)
            unbound.assigned(self, target)
        self.block = body_block
        if kind == "while":
            # the condition just checked the exit flags: in the body they are clear
            for _, flag in conds:
                self.env.bind(flag, self.const(False, BOOL, name=self.env.vars[flag].name))
        body_start = self.env.copy()
        self.loops.append((brk, cont))
        self.env.bind(cont, self.const(False, BOOL, name="skip"))
        if range_info:
            counter, ub, step, user_var = range_info
            self.env.bind(user_var, self.env.vars[counter])
            unbound.assigned(self, user_var)
            self.lower_body(body)
            self.loops.pop()
            self.loc = loc
            self.env.vars.pop(cont, None)
            nxt = self.emit("add", [body_start.vars[counter], step], name=counter.split(".")[0])
            self.env.bind(counter, nxt)
        else:
            self.lower_body(body)
            self.loops.pop()
            self.env.vars.pop(cont, None)
        # views made in the body cannot be re-read after it: their names get values
        aliasing.materialize_all(self, keep=lambda n, k: aliasing.is_lazy(
            body_start.views.get(k)))
        self._split_tuples(carried, loc)
        end_env = self.env
        # Which names changed in the body, and what types did they end with?
        new_carried = list(carried)
        new_types = dict(types)
        for n, v in end_env.vars.items():
            if n in (target, cont) or (range_info and n == range_info[3]):
                continue
            if body_start.vars.get(n, _MISSING) is v or not isinstance(v, Value):
                continue
            if n.startswith(_TUPLE) and n not in new_types and n not in before.vars:
                continue    # an element name a branch merge left behind, not this loop's
            if n not in new_types:
                new_carried.append(n)
                new_types[n] = v.type
            else:
                init = before.vars.get(n)
                if isinstance(init, Value) and self.is_weak(init) and init.type == new_types[n] \
                        and isinstance(v.type, ScalarType) and not self.is_weak(v):
                    # NumPy 2: `s = 0.0; s += x32[i]` makes s a float32 after the first step
                    t = self.arith_dtype(init, v)
                else:
                    t = self.unify(Value(n, new_types[n]), v)
                if t is None:
                    raise TypeInferenceError(
                        f"'{n}' changes from a {_kind(new_types[n])} to a {_kind(v.type)} "
                        "inside the loop", loc, "give a variable one type in every iteration")
                new_types[n] = t
        self.env, self.block, self.loc = before, outer_block, loc
        return (end_env, new_carried, new_types, cond_block, body_block,
                _LoopObjects.seen(body_start, end_env, carried, before))

    # -- tuples rebound in a loop (`t = (t[1], t[0] + t[1])`) are carried element by element --
    def _explode_tuples(self, assigned: set[str]) -> set[str]:
        """Bind one hidden name per element of each tuple the body rebinds; returns them."""
        out = set()
        for n in sorted(assigned):
            t = self.env.vars.get(n)
            if not (isinstance(t, tuple) and t and all(isinstance(v, Value) for v in t)):
                continue
            for k, v in enumerate(t):
                self.env.bind(_tuple_slot(n, k), v)
                out.add(_tuple_slot(n, k))
        return out

    def _explode_branch_tuples(self, names: list[str], before: Env, envs: list[Env]
                               ) -> dict[str, list[str]]:
        """A tuple rebound on a branch (to one of the same length) is merged element by
        element: its elements take hidden names in `names`; returns tuple -> element names."""
        out = {}
        for n in list(names):
            ts = [e.vars.get(n, before.vars.get(n)) for e in envs]
            lone = [t for t in ts if t is not None]
            if len(lone) == 1 and n not in before.vars and any(
                    t is None and self._dead(e) for t, e in zip(ts, envs)):
                # bound only on the path that goes on: its elements leave the if (undef on
                # the path that left)
                if isinstance(lone[0], tuple) and lone[0] and all(
                        isinstance(v, Value) for v in lone[0]):
                    slots = [_tuple_slot(n, k) for k in range(len(lone[0]))]
                    for e in envs:
                        if n in e.vars:
                            for sl, v in zip(slots, lone[0]):
                                e.bind(sl, v)
                    names.remove(n)
                    names.extend(sl for sl in slots if sl not in names)
                    out[n] = slots
                continue
            if not all(isinstance(t, tuple) and t and len(t) == len(ts[0]) and
                       all(isinstance(v, Value) for v in t) for t in ts):
                continue
            slots = [_tuple_slot(n, k) for k in range(len(ts[0]))]
            for e, t in zip(envs, ts):
                for s, v in zip(slots, t):
                    e.bind(s, v)
            names.remove(n)
            names.extend(s for s in slots if s not in names)
            out[n] = slots
        return out

    def _rebuild_tuples(self, carried: list[str], env: Env) -> None:
        """Rebind each exploded tuple name to the tuple of its (carried) element names."""
        for n, slots in _tuple_slots(carried).items():
            env.bind(n, tuple(env.vars[s] for s in slots))

    def _split_tuples(self, carried: list[str], loc) -> None:
        """At the end of the body: the new tuple's elements become the carried values."""
        for n, slots in _tuple_slots(carried).items():
            t = self.env.vars.get(n)
            if not (isinstance(t, tuple) and len(t) == len(slots) and
                    all(isinstance(v, Value) for v in t)):
                raise TypeInferenceError(f"tuple variable '{n}' changes its length or kind "
                                         "inside the loop", loc,
                                         "keep a tuple's length the same in every iteration")
            for s, v in zip(slots, t):
                self.env.bind(s, v)

    def _inherit_weak(self, init, arg: Value) -> None:
        if isinstance(init, Value) and init.id in self.ctx.weak and init.type == arg.type:
            self.ctx.weak.add(arg.id)

    def _loop_condition(self, conds, test, range_info) -> Value:
        go = None
        for _, name in conds:
            v = self.emit("not", [self.env.vars[name]], name="go")
            go = v if go is None else self.emit("and", [go, v], name="go")
        if range_info:
            counter, ub, step, _ = range_info
            i = self.env.vars[counter]
            k = self.known(step)
            if k is not None:
                inrange = self.emit("lt" if k > 0 else "gt", [i, ub], name="inrange")
            else:
                zero = self.const(0, I64)
                up = self.emit("and", [self.emit("gt", [step, zero]),
                                       self.emit("lt", [i, ub])])
                down = self.emit("and", [self.emit("lt", [step, zero]),
                                         self.emit("gt", [i, ub])])
                inrange = self.emit("or", [up, down], name="inrange")
            go = inrange if go is None else self.emit("and", [go, inrange], name="go")
        if test is not None:
            if go is None:
                go = self.lower_test(test)
            else:
                go = self._and_then(go, lambda: self.lower_test(test))
        return go if go is not None else self.const(True, BOOL)

    def _and_then(self, first: Value, second: Callable[[], Value]) -> Value:
        """`first and second()`, evaluating second only when first holds."""
        res = self.lower_if_value(first, lambda: [second()],
                                  lambda: [self.const(False, BOOL)], extra=True)
        return res[0]

    def _finish_loop(self, kind, attempt, carried, types, bounds, loc, target, brk, cont,
                     range_info, attrs=None) -> None:
        end_env, _, _, cond_block, body_block, objects = attempt
        before = self.env
        inits = []
        for n in carried:
            v = before.vars.get(n)
            if isinstance(v, aliasing.Stale):
                v = aliasing.materialize(self, v.key)
            inits.append(self.coerce(v, types[n]) if isinstance(v, Value) else
                         self.undef(types[n]))
        saved_block = self.block
        self.block = body_block
        yields = [self.coerce(end_env.vars[n], types[n]) if isinstance(end_env.vars.get(n),
                  Value) else body_block.args[i + (kind == "for")]
                  for i, n in enumerate(carried)]
        Builder(body_block, loc).op("yield", yields, [])
        self.block = saved_block
        regions = [body_block] if kind == "for" else [cond_block, body_block]
        op = Builder(self.block, loc).op(kind, list(bounds) + inits, [types[n] for n in carried],
                                         attrs or {}, regions, [_hint(n) for n in carried])
        for n, r, init, y in zip(carried, op.results, inits, yields):
            before.bind(n, r, key=before.keys.get(n))
            if init.id in self.ctx.weak and y.id in self.ctx.weak:   # Python numbers only
                self.ctx.weak.add(r.id)
        self._rebuild_tuples(carried, before)
        closures.after_loop(before, end_env, loc)
        objects.leave(before, end_env, carried)
        before.vars.pop(brk, None)
        if range_info:
            before.vars.pop(range_info[0], None)
        if target:
            before.vars[target] = Poison(f"the loop variable '{target}' is used after its loop",
                                         loc, "copy it into another variable inside the loop")
        self.loc = loc


def _is_checkpointed(lowerer, it) -> bool:
    if not isinstance(it, gast.Call):
        return False
    f = it.func
    try:
        if isinstance(f, gast.Name):
            g = lowerer.resolve(f.id, f)
        elif isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name):
            base = lowerer.resolve(f.value.id, f.value)
            return isinstance(base, Global) and getattr(base.obj, f.attr, None) is checkpointed
        else:
            return False
    except Exception:
        return False
    return isinstance(g, Global) and g.obj is checkpointed


_MISSING = object()
_TUPLE = "tuple."


def _tuple_slot(name: str, k: int) -> str:
    return f"{_TUPLE}{k}.{name}"


def _tuple_slots(names: list[str]) -> dict[str, list[str]]:
    """Exploded tuple names among `names`: tuple name -> its element names in order."""
    out: dict[str, list[str]] = {}
    for s in names:
        if s.startswith(_TUPLE):
            out.setdefault(s[len(_TUPLE):].split(".", 1)[1], []).append(s)
    return {n: sorted(v, key=lambda s: int(s[len(_TUPLE):].split(".", 1)[0]))
            for n, v in out.items()}


class _LoopObjects:
    """How a loop changes which names share an array (aliasing.loop_partners): the names whose
    aliasing depends on the trip count, and the carried names a body leaves poisoned."""

    def __init__(self, groups=(), poisoned=frozenset(), adopt=None):
        self.groups = tuple(groups)
        self.poisoned = frozenset(poisoned)
        self.adopt = dict(adopt or {})

    def __eq__(self, other) -> bool:
        return set(self.groups) == set(other.groups) and self.poisoned == other.poisoned \
            and self.adopt == other.adopt

    @staticmethod
    def seen(start: Env, end: Env, carried, before: Env) -> "_LoopObjects":
        fresh = {n for n in end.keys if not isinstance(before.vars.get(n), Value)}
        groups, adopt = aliasing.loop_partners(start, end, fresh)
        return _LoopObjects(groups, {n for n in carried if isinstance(end.vars.get(n), Poison)},
                            adopt)

    def join(self, other: "_LoopObjects") -> "_LoopObjects":
        return _LoopObjects(set(self.groups) | set(other.groups), self.poisoned | other.poisoned,
                            other.adopt)

    def enter(self, env: Env) -> None:
        """At the start of a body (any iteration) and after the loop."""
        aliasing.separate(env, self.groups)
        aliasing.adopt_keys(env, self.adopt)
        for n, k in list(env.keys.items()):   # views re-read from their (carried) bases
            if aliasing.rereadable(env, k) and isinstance(env.vars.get(n), Value):
                env.vars[n] = aliasing.Stale(k)
        aliasing.refresh_tuples(env)
        for n in self.poisoned:
            env.vars[n] = Poison(f"'{n}' may be the same array as one written in the previous "
                                 "iteration of this loop", None,
                                 "give each array its own name, or take a copy")
            env.keys.pop(n, None)

    def leave(self, env: Env, end: Env, carried) -> None:
        self.enter(env)
        for n in carried:
            if isinstance(end.vars.get(n), Poison):
                env.vars[n] = end.vars[n]
                env.keys.pop(n, None)
_OPS = {"Add": "+", "Sub": "-", "Mult": "*", "Div": "/", "FloorDiv": "//", "Mod": "%",
        "Pow": "**", "MatMult": "@", "BitAnd": "&", "BitOr": "|", "BitXor": "^",
        "LShift": "<<", "RShift": ">>"}


def _hint(name: str) -> str:
    """The name generated code uses for an internal variable (flags, loop counters)."""
    if name.startswith("range."):
        return name.rsplit(".", 1)[1]
    if name.startswith("break."):
        return "broke"
    if name.startswith("continue."):
        return "skip"
    if name == RET:
        return "returned"
    if unbound.is_flag(name):
        return unbound.hint(name)
    if name.startswith(_TUPLE):
        return name.split(".", 2)[2]
    if name.startswith(closures.FREE):
        return name.rsplit(".", 1)[1]
    if name.startswith(RET + "."):
        return "result"
    return name


def _same_leaves(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_leaves(x, y) for x, y in zip(a, b))
    return a is b


def _treedef(t):
    return tuple(_treedef(x) if isinstance(x, tuple) else None for x in t)


def _flatten(t) -> list:
    out = []
    for x in t:
        out.extend(_flatten(x) if isinstance(x, tuple) else [x])
    return out


def _has_values(t) -> bool:
    """Does a bound object (a tuple, nested) hold IR values?"""
    return isinstance(t, tuple) and any(isinstance(v, Value) or _has_values(v) for v in t)


def _is_user_name(name: str) -> bool:
    return "." not in name and name != RET


def _kind(t: Type) -> str:
    return f"{t.ndim}-d array of {t.dtype}" if isinstance(t, ArrayType) else f"{t} scalar"


def _describe(node) -> str:
    names = {"ClassDef": "class definition", "FunctionDef": "nested function definition",
             "AsyncFunctionDef": "async function", "Try": "try statement",
             "With": "with statement", "Raise": "raise statement", "Global": "global statement",
             "Nonlocal": "nonlocal statement", "Delete": "del statement",
             "Import": "import statement", "ImportFrom": "import statement",
             "Assert": "assert statement", "AsyncFor": "async for", "AsyncWith": "async with",
             "Match": "match statement", "TryStar": "try statement"}
    return names.get(type(node).__name__, type(node).__name__)


_STMT_HINTS = {
    "ClassDef": "define classes outside the compiled function and pass numbers/arrays in",
    "Try": "compiled code cannot catch exceptions: check the condition with 'if' instead",
    "With": "context managers are not supported in compiled code",
    "Raise": "compiled code cannot raise: return a flag value instead",
    "Global": "compiled functions cannot write globals: return the value instead",
    "Nonlocal": "compiled functions cannot write enclosing variables: return the value",
    "Delete": "remove 'del'; names go out of use on their own",
    "Import": "import modules at the top of the file",
    "ImportFrom": "import modules at the top of the file",
    "Assert": "check inputs before calling the compiled function",
    "Match": "use if/elif chains",
}


def _has_exit(body: list, include_continue: bool = True) -> bool:
    """Does this loop body contain a break/return (or continue) for *this* loop?"""
    kinds = (gast.Break, gast.Return) + ((gast.Continue,) if include_continue else ())
    for node in body:
        for sub in _walk_no_loops(node):
            if isinstance(sub, kinds):
                return True
    return False


def _walk_no_loops(node):
    yield node
    for child in gast.iter_child_nodes(node):
        if isinstance(child, (gast.For, gast.While)):
            # returns inside inner loops still exit this loop
            for sub in gast.walk(child):
                if isinstance(sub, gast.Return):
                    yield sub
            continue
        yield from _walk_no_loops(child)


def _assigned_names(body: list) -> set[str]:
    out: set[str] = set()
    for node in body:
        for sub in gast.walk(node):
            if isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Store):
                out.add(sub.id)
            elif isinstance(sub, gast.Subscript) and isinstance(sub.ctx, gast.Store):
                base = sub.value
                while isinstance(base, gast.Subscript):
                    base = base.value
                if isinstance(base, gast.Name):
                    out.add(base.id)
            elif isinstance(sub, gast.Call):
                # a helper may write into array arguments passed by name
                for a in sub.args:
                    if isinstance(a, gast.Name):
                        out.add(a.id)
    return out


# The frontend walks expressions recursively (about a dozen frames per operator), so long
# generated expressions such as a 250-term sum need more room than Python's default 1000.
RECURSION_LIMIT = 20000


def lower(func, arg_types: list[Type], weak: list[bool], flatten_returns: bool = False,
          reads: list | None = None, tree_out: list | None = None) -> Function:
    """Lower a Python function for one argument signature into a verified-ready IR Function.
    `reads`, if given, receives the globals and closure cells the program depends on;
    `tree_out` (with `flatten_returns`) the nesting of a returned tuple of tuples (None for
    a flat tuple or one value)."""
    old = sys.getrecursionlimit()
    if old >= RECURSION_LIMIT:
        return _lower(func, arg_types, weak, flatten_returns, reads, tree_out)
    sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        return _lower(func, arg_types, weak, flatten_returns, reads, tree_out)
    finally:
        sys.setrecursionlimit(old)


def _lower(func, arg_types: list[Type], weak: list[bool], flatten_returns: bool,
           reads: list | None, tree_out: list | None = None) -> Function:
    src = get_source(func)
    ctx = Context()
    lw = Lowerer(src, ctx, Block())
    lw.flatten_returns = flatten_returns
    lw._check_signature(src.node)
    params = [a.id for a in src.node.args.args]
    if len(params) != len(arg_types):
        raise TypeInferenceError(
            f"'{src.node.name}' takes {len(params)} arguments but was called with "
            f"{len(arg_types)}", src.loc(src.node), "pass every argument positionally")
    args = [Value(p, t) for p, t in zip(params, arg_types)]
    for a, w in zip(args, weak):
        if w:
            ctx.weak.add(a.id)
    fn = lw.lower_function(args)
    if reads is not None:
        reads.extend(ctx.reads.values())
    if tree_out is not None:
        tree_out.append(lw.ret_tree)
    return fn


__all__ = ["lower", "Lowerer", "Context", "fresh_key", "Poison"]
