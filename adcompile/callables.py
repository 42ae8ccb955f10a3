"""What a callable that is not a `def` function is, in words, with what to write instead:
shared by the API (`jit(np.sin)`) and the frontend (a call to such an object inside compiled
code), so both say the same."""
from __future__ import annotations

import functools
import types

import numpy as np

from .custom.functions import CustomFunction


def describe_callable(func) -> tuple[str, str]:
    """(what it is, what to write instead) for a callable that is not a `def` function."""
    name = getattr(func, "__name__", None) or type(func).__name__
    module = getattr(func, "__module__", None) or type(func).__module__
    if not callable(func):
        return (f"{func!r} (a {type(func).__name__}) is not callable",
                "pass the function itself: jit(f), grad(f)")
    if isinstance(func, CustomFunction):
        return (f"'{name}' is a {func.kind} function object",
                f"differentiate a 'def' function that calls it: def g(x): return {name}(x)")
    if isinstance(func, functools.partial):
        inner = getattr(func.func, "__name__", "f")
        return (f"functools.partial of '{inner}' is not a function",
                f"write a 'def' function that calls {inner} with the fixed arguments")
    if isinstance(func, (np.ufunc, types.BuiltinFunctionType)) or (
            module and module.split(".")[0] in ("numpy", "math", "builtins")):
        short = {"builtins": "", "numpy": "np."}.get(module, f"{module}.")
        return (f"'{short}{name}' is a library function, not Python source",
                f"wrap it in a function of your own: def f(x): return {short}{name}(x)")
    if isinstance(func, type):
        return (f"'{name}' is a class",
                "write a plain function taking the object's fields as arguments")
    if isinstance(func, types.MethodType):
        return (f"'{name}' is a bound method",
                "write a plain function taking the object's fields as arguments")
    return (f"an object of class '{type(func).__name__}' is not a function",
            "write a plain 'def' function instead of a callable object")
