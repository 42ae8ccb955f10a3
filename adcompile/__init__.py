"""adcompile: a source-to-source automatic-differentiation compiler for numeric Python."""
from ._version import __version__
from .api import Compiled, interpret, jit, show_ir
from .batching import batch, pullback, pushforward
from .check import GradCheckReport, check_grad
from .checkpointing import checkpointed
from .custom import custom_jvp, custom_vjp
from .derivatives import (grad, hessian, hvp, jacfwd, jacfwd_rows, jacobian, jacobian_sparsity,
                          jacrev, jvp, value_and_grad, vjp)
from .driver.options import CompileOptions
from .errors import (AdError, ConvergenceError, ConvergenceWarning, InternalError, NonDifferentiable,
                     SparsityWarning, TypeInferenceError, UnsupportedSyntax)
from .implicit import custom_root, fixed_point

# `adcompile.TypeError` names type problems in user code; it is not in `__all__`, so that
# `from adcompile import *` leaves the builtin TypeError alone.
TypeError = TypeInferenceError

__all__ = ["__version__", "CompileOptions", "AdError", "UnsupportedSyntax", "TypeInferenceError",
           "NonDifferentiable", "InternalError", "ConvergenceError", "ConvergenceWarning", "SparsityWarning", "custom_root", "fixed_point", "jit", "interpret", "show_ir", "Compiled",
           "check_grad", "GradCheckReport", "checkpointed", "custom_jvp", "custom_vjp", "grad",
           "value_and_grad", "jvp", "vjp", "jacfwd", "jacfwd_rows", "jacrev", "hessian", "hvp",
           "jacobian", "jacobian_sparsity",
           # batches (adcompile/batching)
           "batch", "pushforward", "pullback"]
