"""adcompile: a source-to-source automatic-differentiation compiler for numeric Python."""
__version__ = "0.1.0"

from .errors import (AdError, InternalError, NonDifferentiable, TypeError,  # noqa: E402,F401
                     TypeInferenceError, UnsupportedSyntax)
from .api import Compiled, interpret, jit, show_ir  # noqa: E402,F401

__all__ = ["AdError", "UnsupportedSyntax", "TypeInferenceError", "TypeError",
           "NonDifferentiable", "InternalError", "jit", "interpret", "show_ir", "Compiled"]
