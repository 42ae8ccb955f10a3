"""adcompile: a source-to-source automatic-differentiation compiler for numeric Python."""
__version__ = "0.1.0"

from .errors import (AdError, InternalError, NonDifferentiable, TypeError,  # noqa: E402,F401
                     TypeInferenceError, UnsupportedSyntax)
from .api import Compiled, interpret, jit, show_ir  # noqa: E402,F401
from .ad.custom import custom_jvp, custom_vjp  # noqa: E402,F401
from .check import GradCheckReport, check_grad  # noqa: E402,F401
from .transforms.checkpoint import checkpointed  # noqa: E402,F401
from .derivatives import (grad, hessian, hvp, jacfwd, jacfwd_rows, jacrev, jvp,  # noqa: E402,F401
                          value_and_grad, vjp)

__all__ = ["AdError", "UnsupportedSyntax", "TypeInferenceError", "TypeError",
           "NonDifferentiable", "InternalError", "jit", "interpret", "show_ir", "Compiled",
           "check_grad", "GradCheckReport", "checkpointed", "custom_jvp", "custom_vjp", "grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacfwd_rows", "jacrev", "hessian", "hvp"]
