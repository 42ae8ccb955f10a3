"""Misuse of the derivative API: argnums, arity, output kinds, options."""
# ruff: noqa
import numpy as np

import adcompile as ad
from adcompile import AdError, NonDifferentiable, TypeInferenceError, UnsupportedSyntax
from tests.corpus.make import rejects, same_as_python


# a call with the wrong argument count names the function's 'def' line
def two(x, y):  # ERR
    return x * y + np.sin(x)


def vec(x):  # ERR
    return x * 2.0


def scal(x):  # ERR
    return np.sum(x * x)


def ints(k):  # ERR
    return k * 2


def pair(x):  # ERR
    return x * 2.0, x * 3.0


def mixed(x, k):
    return x * k


def cube(x):
    return x * x * x


JIT_GRAD_CUBE = ad.jit(ad.grad(cube))


def calls_jit_of_grad(x):
    return JIT_GRAD_CUBE(x) + 1.0


def with_default(x, y=2.0):
    return x * y


G_TWO = ad.grad(two)
G_TWO_1 = ad.grad(two, argnums=1)
G_SCAL = ad.grad(scal)
X3 = lambda: np.array([1.0, 2.0, 3.0])


def _make(factory, *a, **k):
    return lambda: factory(*a, **k)


A = "api"
CASES = [
    rejects("grad_missing_argument", lambda: G_TWO_1(1.0), TypeInferenceError, A),
    rejects("grad_too_many_arguments", lambda: G_TWO(1.0, 2.0, 3.0), TypeInferenceError, A),
    rejects("jit_missing_argument", lambda: ad.jit(two)(1.0), TypeInferenceError, A),
    rejects("argnums_out_of_range", lambda: ad.grad(two, argnums=2)(1.0, 2.0), AdError, A,
            "out of range"),
    rejects("argnums_negative_out_of_range", lambda: ad.grad(two, argnums=-3)(1.0, 2.0),
            AdError, A, "out of range"),
    rejects("argnums_float", _make(ad.grad, two, argnums=1.5), AdError, A, "argnums=1.5"),
    rejects("argnums_none", _make(ad.grad, two, argnums=None), AdError, A, "argnums=None"),
    rejects("argnums_string", _make(ad.grad, two, argnums="x"), AdError, A, "argnums='x'"),
    rejects("argnums_empty_tuple", _make(ad.grad, two, argnums=()), AdError, A, "argnums=()"),
    rejects("argnums_duplicate", _make(ad.grad, two, argnums=(0, 0)), AdError, A, "twice"),
    rejects("argnums_duplicate_negative", lambda: ad.grad(two, argnums=(0, -2))(1.0, 2.0),
            AdError, A, "twice"),
    rejects("argnums_float_in_tuple", _make(ad.value_and_grad, two, argnums=(0, 1.0)),
            AdError, A, "argnums=(0, 1.0)"),
    rejects("jacfwd_argnums_none", _make(ad.jacfwd, vec, argnums=None), AdError, A,
            "argnums=None"),
    rejects("jacrev_argnums_float", _make(ad.jacrev, vec, argnums=0.0), AdError, A,
            "argnums=0.0"),
    rejects("hessian_argnums_tuple", _make(ad.hessian, two, argnums=(0, 1)), AdError, A,
            "hessian"),
    rejects("argnums_names_int_argument", lambda: ad.grad(mixed, argnums=1)(1.0, 3),
            NonDifferentiable, A, "'k'"),
    rejects("grad_of_int_argument", lambda: ad.grad(ints)(3), NonDifferentiable, A, "'k'"),
    rejects("grad_of_vector_function", lambda: ad.grad(vec)(X3()), TypeInferenceError, A),
    rejects("grad_of_tuple_function", lambda: ad.grad(pair)(1.0), TypeInferenceError, A),
    # the Hessian of an array output (one per entry, as JAX): a linear function's is zero
    same_as_python("hessian_of_vector_function", lambda: ad.hessian(vec)(X3()),
                   lambda: np.zeros((3, 3, 3)), lambda: (), A),
    rejects("hvp_of_vector_function", lambda: ad.hvp(vec, (X3(),), (X3(),)),
            TypeInferenceError, A),
    same_as_python("jacrev_of_tuple_function", lambda: ad.jacrev(pair)(1.0),
                   lambda: (np.array(2.0), np.array(3.0)), lambda: (), A),
    rejects("jvp_tangent_count", lambda: ad.jvp(two, (1.0, 2.0), (1.0,)), AdError, A,
            "2 primals, 1 tangents"),
    rejects("jvp_primals_not_tuple", lambda: ad.jvp(scal, X3(), (X3(),)), AdError, A,
            "primals must be a tuple"),
    rejects("jvp_tangent_for_int", lambda: ad.jvp(mixed, (1.0, 3), (1.0, 1)),
            NonDifferentiable, A, "argument 1"),
    rejects("hvp_tangent_count", lambda: ad.hvp(scal, (X3(),), (X3(), X3())), AdError, A,
            "1 primals, 2 tangents"),
    rejects("jacfwd_rows_1d", lambda: ad.jacfwd_rows(vec)(X3()), AdError, A, "2-d"),
    rejects("source_before_call", lambda: ad.grad(scal).source, AdError, A, "not been compiled"),
    rejects("show_ir_unknown_stage", lambda: ad.show_ir(scal, X3(), stage="nope"), AdError, A,
            "unknown stage"),
    rejects("unknown_backend", lambda: ad.jit(scal, backend="cuda9")(X3()), AdError, A,
            "cuda9"),
    rejects("unknown_checkpoint_policy", _make(ad.grad, scal, checkpoint="bogus"), AdError, A,
            "bogus"),
    # keyword arguments bind as in Python; an unknown one is named
    same_as_python("jit_keyword_arguments", lambda x, y: ad.jit(two)(x, y=y), two,
                   lambda: (1.0, 2.0), A),
    same_as_python("grad_keyword_arguments", lambda: G_TWO(x=1.0, y=2.0),
                   lambda: 2.0 + np.cos(1.0), lambda: (), A),
    rejects("grad_unknown_keyword", lambda: G_TWO(1.0, z=2.0), TypeInferenceError, A),
    rejects("checkpoint_every_zero", _make(ad.grad, scal, checkpoint=("every", 0)), AdError, A,
            "every=0"),
    rejects("checkpoint_snapshots_levels", _make(ad.grad, scal, checkpoint=("snapshots", 4, 3)),
            AdError, A, "levels=3"),
    rejects("checkpoint_memory_unparsable", _make(ad.grad, scal, checkpoint="binomial",
                                                   memory="lots"), AdError, A, "memory='lots'"),
    rejects("checkpoint_binomial_without_budget", _make(ad.grad, scal, checkpoint="binomial"),
            AdError, A, "budget"),
    rejects("options_not_compile_options", lambda: ad.jit(scal, options="fast")(X3()), AdError,
            A, "options='fast'"),
    rejects("grad_of_a_number", lambda: ad.grad(3)(1.0), UnsupportedSyntax, A, "not callable"),
    rejects("jvp_of_a_number", lambda: ad.jvp(3, (1.0,), (1.0,)), UnsupportedSyntax, A,
            "not callable"),
    same_as_python("grad_of_grad", ad.grad(ad.grad(cube)), lambda x: 6.0 * x, lambda: (2.0,),
                   A),
    same_as_python("jit_of_grad", ad.jit(ad.grad(cube)), lambda x: 3.0 * x * x,
                   lambda: (2.0,), A),
    same_as_python("compiled_code_calls_jit_of_grad", ad.jit(calls_jit_of_grad),
                   lambda x: 3.0 * x * x + 1.0, lambda: (2.0,), A),
    # jacrev of a scalar function is its gradient, an array: grad of it is refused precisely
    rejects("grad_of_jacrev", lambda: ad.grad(ad.jacrev(scal))(X3()), TypeInferenceError, A,
            "one float scalar"),
    same_as_python("jit_of_jacrev", ad.jit(ad.jacrev(scal)), lambda x: ad.grad(scal)(x),
                   lambda: (X3(),), A),
    rejects("jit_of_jacfwd_rows_1d", lambda: ad.jit(ad.jacfwd_rows(scal))(X3()), AdError, A,
            "2-d"),
    rejects("grad_of_grad_missing_argument", lambda: ad.grad(ad.grad(two))(1.0),
            TypeInferenceError, A),
    rejects("grad_of_grad_argnums_out_of_range",
            lambda: ad.grad(ad.grad(two), argnums=2)(1.0, 2.0), AdError, A, "out of range"),
    rejects("check_grad_without_float_arguments",
            lambda: ad.check_grad(scal, np.ones(3, dtype=np.int64)), NonDifferentiable, A,
            "no float arguments"),
    same_as_python("grad_default_argument_bound", ad.grad(with_default), lambda x: 2.0,
                   lambda: (3.0,), A),
    same_as_python("vjp_default_argument_bound",
                   lambda x: ad.vjp(with_default, x)[1](1.0), lambda x: (2.0,),
                   lambda: (3.0,), A),
]
